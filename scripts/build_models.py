"""Generate the shipped graphical-modeler workflows (resources/models/*.model3).

The models are built with QGIS's own model API, so they are exactly what the modeler would save;
re-run this after changing an algorithm's parameters:

    scripts/qgis-env run python3 scripts/build_models.py
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
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt.QtCore import QPointF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "resources", "models")

Src = QgsProcessingModelChildParameterSource


def add_param(model, definition, x, y):
    model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
    component = model.parameterComponent(definition.name())
    component.setPosition(QPointF(x, y))
    model.setParameterComponent(component)


def add_child(model, child_id, alg_id, description, sources, outputs, x, y):
    child = QgsProcessingModelChildAlgorithm(alg_id)
    child.setChildId(child_id)
    child.setDescription(description)
    child.setPosition(QPointF(x, y))
    for name, source in sources.items():
        child.addParameterSources(name, [source])
    model_outputs = {}
    for out_name, (child_output, label) in outputs.items():
        out = QgsProcessingModelOutput(out_name, label)
        out.setChildId(child_id)
        out.setChildOutputName(child_output)
        out.setPosition(QPointF(x + 220, y + 40 * (len(model_outputs) + 1)))
        model_outputs[out_name] = out
    child.setModelOutputs(model_outputs)
    model.addChildAlgorithm(child)
    return child_id


def study_area_inputs(model):
    add_param(model, QgsProcessingParameterRasterLayer("raster", "Raster (aerial or satellite image)"), 80, 60)
    add_param(model, QgsProcessingParameterVectorLayer(
        "study_area", "Study area (any CRS)", [Qgis.ProcessingSourceType.VectorAnyGeometry]), 320, 60)


def workflow_model():
    m = QgsProcessingModelAlgorithm("Tile similarity workflow", "Tile Embeddings")
    m.setHelpContent({
        "ALG_DESC": "The whole tile-similarity workflow: clip the raster to the study area's bounding box, "
                    "split it into tiles (partial edge tiles dropped), stretch each tile to 8-bit RGB with "
                    "global 0.5-99.5 % percentiles, compute MobileNetV2 embeddings into a similarity index, "
                    "and find the tiles most similar to the given query tiles.",
        "query_ids": "Comma-separated tile ids: <prefix>_r<row>_c<col>, counted from the top-left tile of "
                     "the clipped raster (e.g. tile_r4_c1).",
    })
    study_area_inputs(m)
    add_param(m, QgsProcessingParameterNumber("tile_size", "Tile size (pixels)",
                                              Qgis.ProcessingNumberParameterType.Integer, 256, minValue=16), 560, 60)
    add_param(m, QgsProcessingParameterString("prefix", "Tile name prefix", "tile"), 800, 60)
    add_param(m, QgsProcessingParameterString("bands", "Band order (R,G,B)", "1,2,3"), 1040, 60)
    add_param(m, QgsProcessingParameterString("query_ids", "Query tile ids (comma-separated)", "tile_r0_c0"),
              1280, 60)
    add_param(m, QgsProcessingParameterNumber("k", "Number of similar tiles",
                                              Qgis.ProcessingNumberParameterType.Integer, 10, minValue=1), 1520, 60)

    add_child(m, "bboxmask", "tile_embeddings:bboxmask", "Clip raster to study-area extent",
              {"INPUT": Src.fromModelParameter("raster"), "STUDY_AREA": Src.fromModelParameter("study_area"),
               "BUFFER": Src.fromStaticValue(0)},
              {}, 200, 200)
    add_child(m, "splitraster", "tile_embeddings:splitraster", "Split raster into tiles",
              {"INPUT": Src.fromChildOutput("bboxmask", "OUTPUT"), "TILE_SIZE": Src.fromModelParameter("tile_size"),
               "PREFIX": Src.fromModelParameter("prefix")},
              {"tile_folder": ("OUTPUT_FOLDER", "Tile folder"), "tile_index": ("OUTPUT", "Tile index")}, 400, 320)
    add_child(m, "rgbstretch", "tile_embeddings:rgbstretch", "Stretch tiles to 8-bit RGB",
              {"TILE_INDEX": Src.fromChildOutput("splitraster", "OUTPUT"), "BANDS": Src.fromModelParameter("bands")},
              {"rgb_tile_folder": ("OUTPUT_FOLDER", "RGB tile folder"),
               "rgb_tile_index": ("OUTPUT_INDEX", "RGB tile index")},
              600, 440)
    add_child(m, "embedtiles", "tile_embeddings:embedtiles", "Embed tiles (MobileNetV2)",
              {"TILE_INDEX": Src.fromChildOutput("rgbstretch", "OUTPUT_INDEX"), "STRETCH": Src.fromStaticValue(2),
               "BANDS": Src.fromStaticValue("1,2,3")},
              {"similarity_index": ("OUTPUT", "Similarity index")}, 800, 560)
    add_child(m, "similaritysearch", "tile_embeddings:similaritysearch", "Find similar tiles",
              {"INDEX": Src.fromChildOutput("embedtiles", "OUTPUT"), "QUERY_IDS": Src.fromModelParameter("query_ids"),
               "K": Src.fromModelParameter("k")},
              {"similar_tiles": ("OUTPUT", "Similar tiles"), "heatmap_scores": ("SCORES", "Heatmap scores")},
              1000, 680)
    return m


def segmentation_model():
    m = QgsProcessingModelAlgorithm("Study-area segmentation", "Tile Embeddings")
    m.setHelpContent({"ALG_DESC": "Clip the raster to the study area's bounding box, then segment it with the "
                                  "tiled Shepherd algorithm (k-means + iterative elimination) across all CPU "
                                  "cores; outputs the segment raster and segment polygons with statistics."})
    study_area_inputs(m)
    add_param(m, QgsProcessingParameterNumber("num_clusters", "Number of k-means clusters",
                                              Qgis.ProcessingNumberParameterType.Integer, 60, minValue=2), 560, 60)
    add_param(m, QgsProcessingParameterNumber("min_pixels", "Minimum segment size (pixels)",
                                              Qgis.ProcessingNumberParameterType.Integer, 100, minValue=1), 800, 60)
    add_child(m, "bboxmask", "tile_embeddings:bboxmask", "Clip raster to study-area extent",
              {"INPUT": Src.fromModelParameter("raster"), "STUDY_AREA": Src.fromModelParameter("study_area"),
               "BUFFER": Src.fromStaticValue(0)},
              {"clipped_raster": ("OUTPUT", "Clipped raster")}, 200, 200)
    add_child(m, "tiledsegmentation", "tile_embeddings:tiledsegmentation", "Tiled Shepherd segmentation",
              {"INPUT": Src.fromChildOutput("bboxmask", "OUTPUT"),
               "NUM_CLUSTERS": Src.fromModelParameter("num_clusters"),
               "MIN_PIXELS": Src.fromModelParameter("min_pixels")},
              {"segments": ("OUTPUT", "Segments"), "segment_polygons": ("OUTPUT_POLYGONS", "Segment polygons")},
              450, 330)
    return m


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
    ok = True
    # (model output names are what QGIS derives from their descriptions: keep them in step)
    for name, build in (("tile_similarity_workflow", workflow_model), ("study_area_segmentation", segmentation_model)):
        model = build()
        model.setName(model.name())
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
