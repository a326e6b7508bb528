"""The provider's algorithms, listed explicitly (one module per algorithm).

Each entry is imported lazily by the provider so that a broken optional dependency of one
algorithm never hides the others: algorithms always register and explain themselves in
``canExecute()``.
"""

# (module, class) pairs, in toolbox order
ALGORITHMS = [
    ("bbox_mask", "BboxMaskAlgorithm"),
    ("split_raster", "SplitRasterAlgorithm"),
    ("centroid_layer", "CentroidLayerAlgorithm"),
    ("rgb_stretch", "RgbStretchAlgorithm"),
    ("embed_tiles", "EmbedTilesAlgorithm"),
    ("similarity_search", "SimilaritySearchAlgorithm"),
    ("tiled_segmentation", "TiledSegmentationAlgorithm"),
]
