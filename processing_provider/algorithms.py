"""The provider's algorithms, listed explicitly (one module per algorithm).

Each entry is imported lazily by the provider so that a broken optional dependency of one
algorithm never hides the others: algorithms always register and explain themselves in
``canExecute()``. The workflows (graphical models) are not listed here: the provider adds every
``resources/models/*.model3`` as ``tile_embeddings:<file name>``.
"""

# (module, class) pairs, in toolbox order
ALGORITHMS = [
    ("bbox_mask", "BboxMaskAlgorithm"),
    ("split_raster", "SplitRasterAlgorithm"),
    ("centroid_layer", "CentroidLayerAlgorithm"),
    ("rgb_stretch", "RgbStretchAlgorithm"),
    ("embed_tiles", "EmbedTilesAlgorithm"),
    ("append_to_index", "AppendToIndexAlgorithm"),
    ("remove_from_index", "RemoveFromIndexAlgorithm"),
    ("export_onnx", "ExportOnnxAlgorithm"),
    ("similarity_search", "SimilaritySearchAlgorithm"),
    ("classify_tiles", "ClassifyTilesAlgorithm"),
    ("tiled_segmentation", "TiledSegmentationAlgorithm"),
]
