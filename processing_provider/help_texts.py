"""What the toolbox and the algorithm dialog say about each algorithm and parameter.

Kept apart from the algorithm modules so that writers can change the words without touching
code. ``SHORT_DESCRIPTIONS`` is the toolbox tooltip (one sentence); ``PARAMETER_HELP`` is the
tooltip of each parameter, keyed by algorithm name, then parameter name. The base algorithm
applies both (translated) when a parameter is added, unless the module set the parameter's help
itself; a parameter with neither gets no tooltip and the tests fail on it, so a new parameter must
come with its help.
Longer help, shown in the dialog's side panel, is in ``resources/help/<name>.html``.
"""

SHORT_DESCRIPTIONS = {
    "bboxmask": "Clips a raster to the bounding box of a study-area layer, keeping the source pixels as they are.",
    "splitraster": "Cuts a raster into square GeoTIFF tiles and writes a tile index layer for the other algorithms.",
    "centroidlayer": "Makes a point layer (and an optional CSV table) of tile centres from a tile index or a "
                     "folder of tiles.",
    "rgbstretch": "Stretches a raster or a tile set to 8-bit RGB images between two percentiles.",
    "embedtiles": "Describes every tile with a CNN embedding and stores them in a similarity index folder.",
    "appendtoindex": "Adds the tiles of more rasters to a similarity index, embedding only the new tiles.",
    "removefromindex": "Removes the tiles of one raster from a similarity index, keeping the other embeddings.",
    "exportonnx": "Exports a model once to an ONNX file that onnxruntime runs, also on computers without torch.",
    "similaritysearch": "Finds the tiles of a similarity index that look most like example tiles, places or an "
                        "image.",
    "classifytiles": "Finds every tile of a kind in a similarity index from a few labelled examples, with a "
                     "classifier trained on their embeddings.",
    "tiledsegmentation": "Segments a raster into regions of similar colour (Shepherd k-means and elimination), "
                         "tiled across CPU cores without seams.",
}

_THREADS = "Tiles processed in parallel; 0 uses one thread per CPU core, at most 8."

PARAMETER_HELP = {
    "appendtoindex": {
        "INDEX": "The similarity index to grow, from 'Embed tiles' (rasters tiled on the fly). It keeps its "
                 "model, features, preprocessing and tile size; the new tiles are embedded with them.",
        "INPUT": "The rasters to add, in any CRSs; their footprints go to the index's CRS. A raster already "
                 "in the index is refused: remove it first to embed it again.",
        "BATCH_SIZE": "Tiles sent to the model at once; lower it if memory runs out.",
        "DEVICE": "Auto uses a CUDA GPU when the runtime has one, otherwise the CPU cores QGIS may use.",
        "RUNTIME": "What runs the model: onnxruntime or torch. Both give the same embeddings.",
        "RESUME": "Continue an interrupted or canceled addition from its last finished batch. Until the "
                  "addition finishes, the index stays exactly as it was.",
    },
    "removefromindex": {
        "INDEX": "The similarity index to shrink, from 'Embed tiles'.",
        "SOURCE": "The raster whose tiles are removed: its path, its file name, or the id prefix of its tiles "
                  "(the part of the tile ids before _r<row>_c<col>).",
    },
    "bboxmask": {
        "INPUT": "The raster to clip. It needs a CRS.",
        "STUDY_AREA": "Any vector layer, in any CRS: the bounding box of its features (or of the selected "
                      "ones) is the area kept.",
        "BUFFER": "Grows the area on every side by this distance, in the raster CRS's units; a negative "
                  "value shrinks it.",
        "OUTPUT": "A tiled, compressed GeoTIFF on the source pixel grid (no resampling).",
    },
    "splitraster": {
        "INPUT": "The raster to cut into tiles.",
        "TILE_SIZE": "Width and height of each tile, in pixels.",
        "OVERLAP": "Pixels shared by neighbouring tiles: tiles start every tile size minus overlap pixels.",
        "EDGE": "What to do with the tiles at the right and bottom edges that are smaller than the tile size.",
        "MIN_VALID_FRACTION": "Tiles with a smaller share of valid (not nodata) pixels are not written; "
                              "0 keeps every tile.",
        "PREFIX": "Tile names start with this prefix, as in prefix_r2_c5 (row 2, column 5); when empty, the "
                  "raster's file name is the prefix.",
        "COMPRESS": "Compression of the tile GeoTIFFs.",
        "THREADS": _THREADS,
        "OUTPUT_FOLDER": "The folder that receives the tile GeoTIFFs.",
        "OUTPUT": "A polygon layer with the footprint of each tile and its tile_id, row, col, path, "
                  "valid_fraction and centre.",
    },
    "centroidlayer": {
        "INPUT": "A tile index from 'Split raster into tiles' or 'Stretch to 8-bit RGB'; leave it empty to "
                 "read a folder of tiles instead.",
        "INPUT_FOLDER": "A folder of georeferenced tiles (GeoTIFF, or JPEG/PNG with a world file or .aux.xml), "
                        "used when no tile index is given.",
        "OUTPUT": "One point per tile at its centre, with the fields rs_stem, centralx and centraly.",
        "OUTPUT_CSV": "The same columns as a CSV table (UTF-8), if you need one.",
    },
    "rgbstretch": {
        "INPUT": "A single raster to stretch to one 8-bit image; leave it empty to stretch a tile set.",
        "TILE_INDEX": "A tile set, given by its tile index layer.",
        "INPUT_FOLDER": "A tile set, given as a folder of raster tiles.",
        "BANDS": "Band numbers for red, green and blue, for example 3,2,1; a single number gives a grey image.",
        "LOWER": "Values at or below this percentile become black.",
        "UPPER": "Values at or above this percentile become white.",
        "SCOPE": "Global: one set of cut values for the whole raster or tile set, so neighbouring tiles get "
                 "the same colours. Per tile: each tile is stretched on its own.",
        "FORMAT": "File format of the stretched tiles; a single raster's format follows its file extension.",
        "NODATA": "Treat this value as nodata instead of the raster's own nodata value.",
        "QUALITY": "JPEG quality from 1 (smallest files) to 100 (best images).",
        "THREADS": _THREADS,
        "WORLD_FILE": "Also writes a .wld file next to each JPEG or PNG, for software that does not read "
                      "GDAL's .aux.xml.",
        "OUTPUT": "The stretched image when the input is a single raster; its extension (.jpg, .png, .tif) "
                  "sets the format.",
        "OUTPUT_FOLDER": "The folder for the stretched tiles when the input is a tile set.",
        "OUTPUT_INDEX": "A tile index that points to the stretched tiles (tile-set input).",
    },
    "embedtiles": {
        "INPUT": "A raster to cut into tiles while embedding, without writing tile files (the fast path).",
        "TILE_SIZE": "Width and height of each tile in pixels, when a raster is given.",
        "TILE_INDEX": "Instead of a raster: a tile index from 'Split raster into tiles', whose tiles and ids "
                      "are used.",
        "MODEL": "The network that describes each tile; MobileNetV2 is fast and a good default.",
        "WEIGHTS": "Empty: the ImageNet weights of the chosen model. Or a local file: a state dict for the "
                   "model, or a TorchScript or ONNX encoder of your own.",
        "INPUT_SIZE": "Tiles are resized to this many pixels before they enter the model.",
        "BANDS": "Band numbers for red, green and blue, for example 3,2,1; a single number gives a grey image.",
        "STRETCH": "How pixel values become 8-bit colours: global percentiles give every tile the same "
                   "colours; choose none when the input is already 8-bit RGB.",
        "ROTATION_INVARIANT": "Averages the embedding over the 8 rotations and flips of each tile, so a "
                              "turned tile still matches; 8 times slower.",
        "FEATURES": "What a tile's vector is made of. auto: mid+final for a backbone of the list (its last "
                    "block at 1/16 of the input size and its final layer, each pooled and normalised: the best "
                    "match to hand-labelled land cover, at the cost of final), final for a model file of your "
                    "own. final: the final layer alone (indexes made before this option). mid: the mid block "
                    "alone, 30 % cheaper. Queries of the index are embedded the same way.",
        "ROTATION": "rot2 averages the tile and its 90-degree turn: twice the time, and a tile turned by 90 "
                    "degrees is still found (measured on labelled NEON scenes), not one turned by 180 degrees "
                    "or flipped. rot8 averages the 8 rotations and flips (8 times the time), like the box "
                    "above. default: as the box above.",
        "MIN_VALID_FRACTION": "Tiles whose share of valid pixels (not nodata, not masked, inside the raster) is "
                              "below this are left out of the index; 0 leaves out only tiles with no valid pixel. "
                              "Tiles whose valid pixels all have one value are kept but left out of search "
                              "results.",
        "OVERLAP": "Pixels shared by neighbouring tiles, when a raster is given.",
        "EDGE": "What to do with the partial tiles at the right and bottom edges, when a raster is given.",
        "LOWER": "Values at or below this percentile become black.",
        "UPPER": "Values at or above this percentile become white.",
        "BATCH_SIZE": "Tiles sent to the model at once; lower it if memory runs out.",
        "DEVICE": "Auto uses a CUDA GPU when the runtime has one (onnxruntime needs onnxruntime-gpu for it), "
                  "otherwise the CPU cores QGIS may use.",
        "RUNTIME": "What runs the model: onnxruntime (auto picks it when installed; several times faster on a "
                   "CPU, and needs no torch once the model's ONNX file exists) or torch. Both give the same "
                   "embeddings.",
        "RESUME": "Continue an interrupted or canceled run from its last finished batch, when the inputs "
                  "and settings are the same.",
        "INPUTS": "Several rasters, in any CRSs, in one index: each is tiled on its own pixel grid, with ids "
                  "<file name>_r<row>_c<col> (a second file of the same name gets _2). Add a whole folder with "
                  "the dialog's Add Directory button. Each raster keeps its own stretch. A VRT is one raster "
                  "(its mosaic).",
        "INDEX_CRS": "The CRS of the tile footprints in the index, for rasters in several CRSs; empty: the first "
                     "raster's. The pixels are not resampled, only the footprints are reprojected.",
        "SCHEDULER": "Address of a running Dask cluster to embed the tiles on, for example tcp://10.0.0.5:8786; "
                     "empty embeds on this computer. Every worker needs the plugin's code, the runtime and "
                     "weights used here, and the rasters at the same paths (see the README).",
        "OUTPUT": "The similarity index: one folder to keep, move or zip as a unit, which 'Similarity search' "
                  "and the Similar Tiles dock open.",
        "NPY_OUTPUT": "Also writes the embeddings as a NumPy .npy file with a matching _ids.txt, for use "
                      "outside QGIS.",
    },
    "exportonnx": {
        "MODEL": "The network to export, as 'Embed tiles' offers it.",
        "WEIGHTS": "Empty: the model's ImageNet weights. Or a state dict for the model, or a TorchScript "
                   "encoder of your own.",
        "FEATURES": "What the exported network computes, as 'Embed tiles' FEATURES: an index is searched with "
                    "the export of its own features (auto: mid+final, final for a TorchScript file).",
        "CHECK_RASTER": "Tiles of this raster are embedded with torch and with onnxruntime, and the file is "
                        "kept only when they agree; empty checks on built-in test images only.",
        "BANDS": "Band numbers for red, green and blue in the check raster, for example 3,2,1.",
        "OUTPUT": "Empty: beside torchvision's weights, where 'Embed tiles' looks for it. Copy the file to "
                  "the same folder on a computer without torch, or give it there as the weights.",
    },
    "similaritysearch": {
        "INDEX": "The similarity index folder written by 'Embed tiles'.",
        "QUERY_IDS": "Ids of the tiles to look for, separated by commas, for example scene_r12_c40.",
        "NEGATIVE_IDS": "Ids of tiles the results should not look like, separated by commas.",
        "QUERY_LAYER": "Example places: a point picks the tile under it, a polygon the tiles whose centres it "
                       "contains. Any CRS.",
        "QUERY_IMAGE": "An image that is not in the index, such as a photo of the target; it is embedded with "
                       "the index's own model and settings.",
        "QUERY_EXTENT": "Uses only this part of the query image; empty uses the whole image.",
        "K": "How many similar tiles to return.",
        "NEGATIVE_WEIGHT": "How strongly the negative tiles push the results away; 0 ignores them.",
        "EXCLUDE_QUERY": "Leaves the query tiles themselves out of the results.",
        "INCLUDE_CONSTANT": "Constant tiles (every valid pixel the same value: a fill, a blank scan) all look "
                            "alike and are left out of the results and the heatmap; tick to include them.",
        "OUTPUT": "The k most similar tiles as polygons, with rank (1 = most similar) and score (1 = identical).",
        "SCORES": "Every tile with its score, for a heatmap of similarity.",
    },
    "classifytiles": {
        "INDEX": "The similarity index folder written by 'Embed tiles'.",
        "LABELS": "Labelled examples: a point labels the tile under it, a polygon the tiles whose centres it "
                  "contains. Any CRS; the labels layer saved by the Similar Tiles dock works too.",
        "LABEL_FIELD": "The field holding each place's label: 1/0, yes/no, true/false, or class names "
                       "(then set the positive class).",
        "POSITIVE_CLASS": "When the labels are class names: the class to find. Every other class is a "
                          "negative example.",
        "POSITIVE_IDS": "Ids of tiles that show what you are looking for, separated by commas, for example "
                        "scene_r12_c40.",
        "NEGATIVE_IDS": "Ids of tiles that do not, separated by commas. Without any negatives, random tiles of "
                        "the index serve as negatives.",
        "MODEL_INPUT": "A classifier saved by an earlier run (.json), applied to this index instead of training "
                       "one; the index must be built with the same model and settings.",
        "THRESHOLD": "Tiles whose probability is at least this value are detections; raise it for fewer, "
                     "surer detections.",
        "BACKGROUND": "With positives only, this many random tiles of the index are taken as negatives; 0 "
                      "requires labelled negatives.",
        "INCLUDE_CONSTANT": "Constant tiles (every valid pixel the same value: a fill, a blank scan) all look "
                            "alike, so they get no probability (NULL) and are never detected; tick to include "
                            "them. A constant tile can still be a labelled example.",
        "OUTPUT": "Every tile of the index with its probability (0 to 1) of being what you are looking for.",
        "DETECTIONS": "Touching tiles at or above the threshold merged into areas, with their area, number of "
                      "tiles, and highest and mean probability.",
        "PROBABILITY_RASTER": "The probabilities as a raster with one cell per tile, quick to draw for large "
                              "indexes.",
        "MODEL_OUTPUT": "Where to save the trained classifier (.json plus a .npy beside it); empty saves it in "
                        "the index folder, under classifiers.",
    },
    "tiledsegmentation": {
        # NUM_CLUSTERS, MIN_PIXELS, MAX_SPECTRAL_DISTANCE and MERGE_SMALL set their help in the module
        "INPUT": "The raster to segment.",
        "BANDS": "The bands to use; none selected uses every band.",
        "TILE_WIDTH": "Width of the tiles processed one at a time; memory grows with tile size times workers.",
        "TILE_HEIGHT": "Height of the tiles processed one at a time.",
        "WORKERS": "Tiles segmented in parallel; 0 uses every CPU core.",
        "OVERLAP": "Each tile also looks this many pixels beyond its edges so that segments join without "
                   "seams; keep it at least the minimum segment size.",
        "VALID_DATA_THRESHOLD": "A tile with less than this share of valid pixels is joined to its neighbour.",
        "SAMPLE_SIZE": "Pixels sampled from the whole raster to train k-means.",
        "STANDARDISE": "Scales every band to zero mean and unit standard deviation before k-means, so no band "
                       "dominates by its range; off clusters the raw band values, as RSGISLib and pyshepseg do.",
        "SEED": "The random seed of k-means: the same seed and inputs give the same segments.",
        "KMEANS_ITERATIONS": "The most iterations of each k-means run; more may fit the clusters better and take "
                             "longer.",
        "KMEANS_RESTARTS": "How many times k-means starts from different random centres; the run that fits the "
                           "sample best is kept.",
        "SCHEDULER": "Address of a Dask cluster to run the tiles on, for example tcp://10.0.0.5:8786; empty "
                     "runs on this computer.",
        "OUTPUT": "The segment raster: one number per segment, 0 where there is no data.",
        "OUTPUT_MEAN": "An image where each pixel has the mean colour of its segment.",
        "OUTPUT_POLYGONS": "The segments as polygons with their size and the mean and standard deviation of "
                           "each band.",
    },
}
