"""Generate the shipped graphical-modeler workflows (resources/models/*.model3).

The models are built with QGIS's own model API, so they are exactly what the modeler would save;
re-run this after changing an algorithm's parameters (`make models`):

    scripts/qgis-env run python3 scripts/build_models.py

The provider lists every resources/models/*.model3 in the Processing toolbox as
``tile_embeddings:<file name>``:

- build_similarity_index: study area + raster -> bboxmask -> splitraster -> rgbstretch -> embedtiles
- find_similar_places: similarity index + a layer of example places -> similaritysearch
- study_area_segmentation: study area + raster -> bboxmask -> tiledsegmentation

Searching is a model of its own so that the places to look for are chosen on the map after the
index exists, not guessed as tile ids before any tile does.

Layout: the modeler draws each box centred on its position. Every workflow is a grid of three
columns, inputs | algorithms | outputs; each algorithm has a band of rows tall enough for its
inputs (on its left) and its outputs (on its right), so no arrow crosses a box and no box
overlaps another. Boxes are wide enough for their labels at the modeler's font.
"""

import os
import sys

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt.QtCore import QPointF, QSizeF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "resources", "models")
GROUP = "Workflows"

Src = QgsProcessingModelChildParameterSource

# the grid: column centres, row pitch, box size (the modeler keeps 25 px + a button for the text)
COLUMNS = (200.0, 600.0, 1000.0)
TOP = 80.0
ROW = 100.0
BOX = QSizeF(300.0, 50.0)
INTEGER = Qgis.ProcessingNumberParameterType.Integer


class Layout:
    """Hands out grid rows to the algorithms of a model, top to bottom."""

    def __init__(self, model):
        self.model = model
        self.row = 0

    def _place(self, component, column, row):
        component.setPosition(QPointF(COLUMNS[column], TOP + ROW * row))
        component.setSize(BOX)

    def step(self, child_id, alg_id, description, inputs, sources, outputs):
        """One algorithm with its new model inputs (definition, help) on its left and its model
        outputs {name: (child output, label)} on its right."""
        band = self.row
        for i, (definition, help_text) in enumerate(inputs):
            # the tooltip, and the model's help panel (QGIS 3.40 reads no tooltip back for layer inputs)
            definition.setHelp(help_text)
            self.model.setHelpContent({**self.model.helpContent(), definition.name(): help_text})
            self.model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
            component = self.model.parameterComponent(definition.name())
            self._place(component, 0, band + i)
            self.model.setParameterComponent(component)
        child = QgsProcessingModelChildAlgorithm(alg_id)
        child.setChildId(child_id)
        child.setDescription(description)
        rows = max(len(inputs), len(outputs), 1)
        self._place(child, 1, band + (rows - 1) / 2.0)
        for name, source in sources.items():
            child.addParameterSources(name, [source])
        model_outputs = {}
        for i, (out_name, (child_output, label)) in enumerate(outputs.items()):
            out = QgsProcessingModelOutput(out_name, label)
            out.setChildId(child_id)
            out.setChildOutputName(child_output)
            self._place(out, 2, band + i)
            model_outputs[out_name] = out
        child.setModelOutputs(model_outputs)
        self.model.addChildAlgorithm(child)
        self.row = band + rows
        return child_id


def new_model(title, description, short_description):
    m = QgsProcessingModelAlgorithm(title, GROUP)
    # one line each: the algorithm dialog turns every line break into a new paragraph
    m.setHelpContent({"ALG_DESC": description, "SHORT_DESCRIPTION": short_description})
    return m


def study_area_inputs():
    return [
        (QgsProcessingParameterRasterLayer("raster", "Raster (aerial or satellite image)"),
         "The image to work on; it needs a CRS."),
        (QgsProcessingParameterVectorLayer("study_area", "Study area (any CRS)",
                                           [Qgis.ProcessingSourceType.VectorAnyGeometry]),
         "A layer whose features outline the area of interest; the raster is clipped to their bounding box."),
    ]


def index_model():
    tips = {
        "tile_size": "Width and height of each tile in pixels (tiles that do not fit at the right and bottom "
                     "edges are dropped).",
        "prefix": "Tile ids are the prefix, then _r and the row, then _c and the column, counted from the "
                  "top-left tile (tile_r0_c0).",
        "bands": "Band numbers for red, green and blue, for example 3,2,1 for a 4-band scene.",
    }
    m = new_model(
        "Build a similarity index for a study area",
        "Prepares a study area for similarity search: clips the raster to the bounding box of the study "
        "area, splits it into tiles, stretches every tile to 8-bit RGB with the same colours for all tiles "
        "(0.5-99.5 % of the whole area), and describes each tile with MobileNetV2 embeddings in a similarity "
        "index. Open the index in the Similar Tiles dock and click a tile, or run 'Find tiles that look like "
        "example places' with a layer of places.",
        "Clips a raster to a study area, cuts it into tiles and builds their similarity index.",
    )
    grid = Layout(m)
    grid.step("bboxmask", "tile_embeddings:bboxmask", "Clip raster to study-area extent", study_area_inputs(),
              {"INPUT": Src.fromModelParameter("raster"), "STUDY_AREA": Src.fromModelParameter("study_area"),
               "BUFFER": Src.fromStaticValue(0)}, {})
    grid.step("splitraster", "tile_embeddings:splitraster", "Split raster into tiles",
              [(QgsProcessingParameterNumber("tile_size", "Tile size (pixels)", INTEGER, 256, minValue=16),
                tips["tile_size"]),
               (QgsProcessingParameterString("prefix", "Tile name prefix", "tile"), tips["prefix"])],
              {"INPUT": Src.fromChildOutput("bboxmask", "OUTPUT"), "TILE_SIZE": Src.fromModelParameter("tile_size"),
               "PREFIX": Src.fromModelParameter("prefix")},
              {"tile_folder": ("OUTPUT_FOLDER", "Tile folder"), "tile_index": ("OUTPUT", "Tile index")})
    grid.step("rgbstretch", "tile_embeddings:rgbstretch", "Stretch tiles to 8-bit RGB",
              [(QgsProcessingParameterString("bands", "Band order (R,G,B)", "1,2,3"), tips["bands"])],
              {"TILE_INDEX": Src.fromChildOutput("splitraster", "OUTPUT"), "BANDS": Src.fromModelParameter("bands")},
              {"rgb_tile_folder": ("OUTPUT_FOLDER", "RGB tile folder"),
               "rgb_tile_index": ("OUTPUT_INDEX", "RGB tile index")})
    grid.step("embedtiles", "tile_embeddings:embedtiles", "Embed tiles (MobileNetV2)", [],
              {"TILE_INDEX": Src.fromChildOutput("rgbstretch", "OUTPUT_INDEX"), "STRETCH": Src.fromStaticValue(2),
               "BANDS": Src.fromStaticValue("1,2,3")},
              {"similarity_index": ("OUTPUT", "Similarity index")})
    return m


def search_model():
    tips = {
        "index": "A similarity index folder, from 'Build a similarity index for a study area' or 'Embed tiles'.",
        "places": "Points or polygons on what you are looking for: a point picks the tile under it, a polygon "
                  "the tiles whose centres it contains. Any CRS.",
        "k": "How many similar tiles to return.",
    }
    m = new_model(
        "Find tiles that look like example places",
        "Finds the tiles of a similarity index that look most like the places of a layer: draw or pick a "
        "few points or polygons on examples of what you are looking for. The results are ranked by "
        "similarity (score 1 = identical); the heatmap output scores every tile.",
        "Finds the tiles of a similarity index that look like the places of a point or polygon layer.",
    )
    grid = Layout(m)
    grid.step("similaritysearch", "tile_embeddings:similaritysearch", "Find similar tiles",
              [(QgsProcessingParameterFile("index", "Similarity index (folder)",
                                           Qgis.ProcessingFileParameterBehavior.Folder), tips["index"]),
               (QgsProcessingParameterFeatureSource("places", "Example places (points or polygons)",
                                                    [Qgis.ProcessingSourceType.VectorPoint,
                                                     Qgis.ProcessingSourceType.VectorPolygon]), tips["places"]),
               (QgsProcessingParameterNumber("k", "Number of similar tiles", INTEGER, 10, minValue=1), tips["k"])],
              {"INDEX": Src.fromModelParameter("index"), "QUERY_LAYER": Src.fromModelParameter("places"),
               "K": Src.fromModelParameter("k")},
              {"similar_tiles": ("OUTPUT", "Similar tiles"), "heatmap_scores": ("SCORES", "Heatmap scores")})
    return m


def segmentation_model():
    tips = {
        "num_clusters": "How many spectral classes k-means finds before regions are formed; more give more, "
                        "smaller segments.",
        "min_pixels": "Segments smaller than this merge into their most similar neighbour.",
    }
    m = new_model(
        "Segment a study area",
        "Clips the raster to the bounding box of the study area, then segments it into regions of similar "
        "colour with the tiled Shepherd algorithm (k-means, then iterative elimination of small regions) on "
        "every CPU core; outputs the segment raster and segment polygons with statistics.",
        "Clips a raster to a study area and segments it into regions of similar colour.",
    )
    grid = Layout(m)
    grid.step("bboxmask", "tile_embeddings:bboxmask", "Clip raster to study-area extent", study_area_inputs(),
              {"INPUT": Src.fromModelParameter("raster"), "STUDY_AREA": Src.fromModelParameter("study_area"),
               "BUFFER": Src.fromStaticValue(0)},
              {"clipped_raster": ("OUTPUT", "Clipped raster")})
    grid.step("tiledsegmentation", "tile_embeddings:tiledsegmentation", "Tiled Shepherd segmentation",
              [(QgsProcessingParameterNumber("num_clusters", "Number of k-means clusters", INTEGER, 60, minValue=2),
                tips["num_clusters"]),
               (QgsProcessingParameterNumber("min_pixels", "Minimum segment size (pixels)", INTEGER, 100,
                                             minValue=1), tips["min_pixels"])],
              {"INPUT": Src.fromChildOutput("bboxmask", "OUTPUT"),
               "NUM_CLUSTERS": Src.fromModelParameter("num_clusters"),
               "MIN_PIXELS": Src.fromModelParameter("min_pixels")},
              {"segments": ("OUTPUT", "Segments"), "segment_polygons": ("OUTPUT_POLYGONS", "Segment polygons")})
    return m


# file name (= id after "tile_embeddings:") -> builder
BUILDERS = {
    "build_similarity_index": index_model,
    "find_similar_places": search_model,
    "study_area_segmentation": segmentation_model,
}


def main():
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    from tile_embeddings.processing_provider.provider import TileEmbeddingsProvider

    provider = TileEmbeddingsProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    os.makedirs(MODELS, exist_ok=True)
    stale = {f for f in os.listdir(MODELS) if f.endswith(".model3")} - {f"{n}.model3" for n in BUILDERS}
    for name in sorted(stale):
        print(f"{os.path.join(MODELS, name)}: not built by this script (remove it if it is obsolete)")
    ok = True
    # (model output names are what QGIS derives from their descriptions: keep them in step)
    for name, build in BUILDERS.items():
        model = build()
        valid, errors = model.validate()
        path = os.path.join(MODELS, f"{name}.model3")
        if not model.toFile(path):
            print(f"could not write {path}")
            ok = False
        print(f"{path}: {'valid' if valid else 'INVALID ' + '; '.join(errors)}")
        print("   parameters:", ", ".join(p.name() for p in model.parameterDefinitions()))
        ok = ok and valid
    app.exitQgis()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
