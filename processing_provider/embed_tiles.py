"""tile_embeddings:embedtiles: CNN embeddings of every tile, stored as a similarity index."""

import os

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsFillSymbol,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from ..core.model_input import ROTATIONS
from ..core.models import FEATURES, NO_RUNTIME_MESSAGE, RUNTIMES, SUPPORTED_MODELS, available_runtimes
from .base import TileEmbeddingsAlgorithm

GROUP = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Embeddings and search")
GROUP_ID = "embeddings"
STRETCHES = ("global", "per_tile", "none")
DEVICES = ("auto", "cpu", "cuda")
EDGES = ("drop", "pad", "keep")


def _layer_file(layer, label, expect):
    """The file behind a layer: the engine reads files with GDAL/OGR, not QGIS layers."""
    if layer is None:
        return ""
    if layer.providerType() not in expect:
        raise QgsProcessingException(
            QCoreApplication.translate(
                "TileEmbeddingsAlgorithm", "{}: '{}' is not file-based ({}); save it to a file first."
            ).format(label, layer.name(), layer.providerType())
        )
    return layer.source()


class OutlineTiles(QgsProcessingLayerPostProcessorInterface):
    """Draws the loaded tile grid as outlines, so the imagery under it stays visible.

    The context that loads the layer owns the C++ side and deletes it; Python must keep the
    Python side alive until then, or QGIS finds only the base class and the style is lost.
    """

    _alive = []

    @classmethod
    def create(cls):
        cls._alive = [p for p in cls._alive if not sip.isdeleted(p)]  # contexts gone: forget them
        processor = cls()
        cls._alive.append(processor)
        return processor

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if isinstance(layer, QgsVectorLayer):
            symbol = QgsFillSymbol.createSimple(
                {"style": "no", "outline_color": "#ffd400", "outline_width": "0.3", "outline_width_unit": "MM"}
            )
            layer.setRenderer(QgsSingleSymbolRenderer(symbol))
            layer.triggerRepaint()


def _is_temporary(path):
    """Whether ``path`` lies in QGIS's Processing temporary folder (removed when QGIS exits)."""
    temp = os.path.realpath(QgsProcessingUtils.tempFolder())
    try:
        return os.path.commonpath([temp, os.path.realpath(path)]) == temp
    except ValueError:  # another drive (Windows)
        return False


class EmbedTilesAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "embedtiles"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Embed tiles (build a similarity index)")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    TILE_SIZE = "TILE_SIZE"
    TILE_INDEX = "TILE_INDEX"
    OVERLAP = "OVERLAP"
    EDGE = "EDGE"
    MODEL = "MODEL"
    WEIGHTS = "WEIGHTS"
    INPUT_SIZE = "INPUT_SIZE"
    BANDS = "BANDS"
    STRETCH = "STRETCH"
    LOWER = "LOWER"
    UPPER = "UPPER"
    ROTATION_INVARIANT = "ROTATION_INVARIANT"
    FEATURES = "FEATURES"
    ROTATION = "ROTATION"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    BATCH_SIZE = "BATCH_SIZE"
    DEVICE = "DEVICE"
    RUNTIME = "RUNTIME"
    RESUME = "RESUME"
    INPUTS = "INPUTS"
    INDEX_CRS = "INDEX_CRS"
    SCHEDULER = "SCHEDULER"
    OUTPUT = "OUTPUT"
    NPY_OUTPUT = "NPY_OUTPUT"
    TILES = "TILES"
    COUNT = "COUNT"
    DIMS = "DIMS"

    def initAlgorithm(self, config=None):
        integer = Qgis.ProcessingNumberParameterType.Integer
        double = Qgis.ProcessingNumberParameterType.Double
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.INPUT, self.tr("Raster to tile on the fly (fast path, no tile files)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TILE_SIZE, self.tr("Tile size (pixels, with a raster)"), integer, 256, minValue=8
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorLayer(
                self.TILE_INDEX,
                self.tr("…or a tile index from 'Split raster into tiles'"),
                [Qgis.ProcessingSourceType.VectorPolygon],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.INPUTS,
                self.tr("…or several rasters, in any CRSs, in one index (tiled on the fly)"),
                Qgis.ProcessingSourceType.Raster,
                optional=True,
            )
        )
        # static strings: scripts and qgis_process say MODEL=resnet50, and saved models keep the name
        self.addParameter(
            QgsProcessingParameterEnum(
                self.MODEL,
                self.tr("Model (ImageNet weights are downloaded once into torchvision's cache)"),
                list(SUPPORTED_MODELS),
                defaultValue="mobilenet_v2",
                usesStaticStrings=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.WEIGHTS,
                self.tr(
                    "Weights file (empty: the model's ImageNet weights; or a state dict for the model, "
                    "or a TorchScript or ONNX encoder, which replaces the model)"
                ),
                optional=True,
                fileFilter=self.tr("Weights and models (*.pth *.pt *.pth.tar *.ckpt *.onnx);;All files (*)"),
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.INPUT_SIZE,
                self.tr("Model input size (pixels)"),
                integer,
                224,
                minValue=16,
                maxValue=2048,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.BANDS, self.tr("Band order (R,G,B band numbers, or one band for grey)"), "1,2,3"
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.STRETCH,
                self.tr("Stretch to 8-bit"),
                [
                    self.tr("Global percentiles (same colours for every tile)"),
                    self.tr("Per-tile percentiles"),
                    self.tr("None (input is already 8-bit RGB)"),
                ],
                defaultValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.ROTATION_INVARIANT,
                self.tr("Rotation invariant (average over the 8 rotations/flips; 8x slower)"),
                False,
            )
        )
        # static strings: scripts say FEATURES=final; auto is mid+final, final for a model file of one's own
        self.addParameter(
            QgsProcessingParameterEnum(
                self.FEATURES,
                self.tr(
                    "Features (auto: mid+final, the mid block and the final layer pooled; final: the final "
                    "layer only; mid: the mid block only, cheaper; a TorchScript or ONNX file: final)"
                ),
                ["auto", *FEATURES],
                defaultValue="auto",
                usesStaticStrings=True,
            )
        )
        advanced = [
            QgsProcessingParameterNumber(
                self.OVERLAP, self.tr("Tile overlap (pixels, with a raster)"), integer, 0, minValue=0
            ),
            QgsProcessingParameterEnum(
                self.EDGE,
                self.tr("Partial edge tiles (with a raster)"),
                [self.tr("Drop"), self.tr("Pad with nodata"), self.tr("Keep partial")],
                defaultValue=0,
            ),
            QgsProcessingParameterNumber(
                self.LOWER, self.tr("Lower percentile"), double, 0.5, minValue=0, maxValue=100
            ),
            QgsProcessingParameterNumber(
                self.UPPER, self.tr("Upper percentile"), double, 99.5, minValue=0, maxValue=100
            ),
            # static strings: ROTATION=rot2; "default" follows ROTATION_INVARIANT (rot8 when ticked)
            QgsProcessingParameterEnum(
                self.ROTATION,
                self.tr(
                    "Rotation views (default: as the box above; rot2: the tile and its 90° turn, 2x slower, "
                    "finds tiles turned by 90°; rot8: the 8 rotations/flips, 8x)"
                ),
                ["default", *ROTATIONS],
                defaultValue="default",
                usesStaticStrings=True,
            ),
            QgsProcessingParameterNumber(
                self.MIN_VALID_FRACTION,
                self.tr("Minimum share of valid (not nodata) pixels to embed a tile (0: skip only tiles with none)"),
                double,
                0.0,
                minValue=0.0,
                maxValue=1.0,
            ),
            QgsProcessingParameterNumber(self.BATCH_SIZE, self.tr("Batch size"), integer, 32, minValue=1),
            QgsProcessingParameterEnum(
                self.DEVICE,
                self.tr("Device"),
                [self.tr("Auto (CUDA when the runtime has it, else the CPU)"), "CPU", "CUDA"],
                defaultValue=0,
            ),
            # static strings: scripts say RUNTIME=torch; "auto" is onnxruntime when installed
            QgsProcessingParameterEnum(
                self.RUNTIME,
                self.tr("Runtime (auto: onnxruntime when installed, else torch)"),
                list(RUNTIMES),
                defaultValue="auto",
                usesStaticStrings=True,
            ),
            QgsProcessingParameterBoolean(
                self.RESUME, self.tr("Resume an interrupted run with the same settings"), True
            ),
            QgsProcessingParameterCrs(
                self.INDEX_CRS, self.tr("CRS of the tile footprints (empty: the first raster's)"), optional=True
            ),
            # connects to a running cluster: no worker process is started from QGIS
            QgsProcessingParameterString(
                self.SCHEDULER,
                self.tr("Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty: this computer)"),
                "",
                optional=True,
            ),
        ]
        for p in advanced:
            p.setFlags(p.flags() | Qgis.ProcessingParameterFlag.Advanced)
            self.addParameter(p)
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT, self.tr("Similarity index (folder, e.g. scene.teindex)")
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.NPY_OUTPUT,
                self.tr("Also export embeddings as .npy (+ _ids.txt)"),
                self.tr("NumPy array (*.npy)"),
                optional=True,
                createByDefault=False,
            )
        )
        self.addOutput(
            QgsProcessingOutputVectorLayer(
                self.TILES, self.tr("Index tiles"), Qgis.ProcessingSourceType.VectorPolygon
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr("Number of tiles embedded")))
        self.addOutput(QgsProcessingOutputNumber(self.DIMS, self.tr("Embedding dimensions")))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """An unknown MODEL gets the list of choices, not just "Incorrect parameter value"."""
        model = parameters.get(self.MODEL)
        if model not in (None, "") and not self.parameterDefinition(self.MODEL).checkValueIsAcceptable(
            model, context
        ):
            return False, self.tr(
                "{}: unknown model {!r}. Choose one of {}, or give a TorchScript or ONNX encoder as {}."
            ).format(
                self.describe_parameter(self.MODEL),
                model,
                ", ".join(SUPPORTED_MODELS),
                self.describe_parameter(self.WEIGHTS),
            )
        return super().checkParameterValues(parameters, context)

    def _rotation(self, parameters, context):
        """ROTATION, or ROTATION_INVARIANT (rot8) when ROTATION is left at its default."""
        rotation = self.parameterAsEnumString(parameters, self.ROTATION, context) or "default"
        invariant = self.parameterAsBoolean(parameters, self.ROTATION_INVARIANT, context)
        if rotation == "default":
            return "rot8" if invariant else "none"
        if invariant and rotation != "rot8":
            raise QgsProcessingException(
                self.tr("{} is ticked but {} is {}: untick the first, or set the second to rot8.").format(
                    self.describe_parameter(self.ROTATION_INVARIANT), self.describe_parameter(self.ROTATION), rotation
                )
            )
        return rotation

    def canExecute(self):  # noqa: N802
        # onnxruntime alone suffices once the model file is there (the run says how to get it)
        if not available_runtimes():
            return False, self.tr(NO_RUNTIME_MESSAGE)
        return True, ""

    def _rasters(self, raster, parameters, context, with_tile_index):
        """INPUT and INPUTS together: one path (the one-raster index of old), or a list of them."""
        from .append_to_index import raster_files

        more = raster_files(self, parameters, self.INPUTS, context)
        if more and with_tile_index:
            raise QgsProcessingException(
                self.tr("{}: give rasters or a tile index, not both.").format(self.describe_parameter(self.INPUTS))
            )
        if not more:
            return raster
        return ([raster] if raster else []) + [p for p in more if p != raster]

    def _index_crs(self, parameters, context):
        crs = self.parameterAsCrs(parameters, self.INDEX_CRS, context)
        if crs is None or not crs.isValid():
            return None
        return crs.authid() if crs.authid().startswith("EPSG:") else crs.toWkt()

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.embedding import embed_tiles

        raster_layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        tiles_layer = self.parameterAsVectorLayer(parameters, self.TILE_INDEX, context)
        raster = _layer_file(raster_layer, self.describe_parameter(self.INPUT), ("gdal",)).split("|", 1)[0]
        tile_index = _layer_file(tiles_layer, self.describe_parameter(self.TILE_INDEX), ("ogr",))
        raster = self._rasters(raster, parameters, context, bool(tile_index))
        if raster and tile_index:
            raise QgsProcessingException(self.tr("Give either a raster or a tile index, not both."))
        if not raster and not tile_index:
            raise QgsProcessingException(self.tr("Give a raster (tiled on the fly) or a tile index layer."))
        output = self.parameterAsString(parameters, self.OUTPUT, context)
        npy = self.parameterAsFileOutput(parameters, self.NPY_OUTPUT, context) or None
        path = self.run_core(
            embed_tiles,
            output,
            raster=raster or None,
            index_crs=self._index_crs(parameters, context),
            tile_size=self.parameterAsInt(parameters, self.TILE_SIZE, context),
            tile_index=tile_index or None,
            overlap=self.parameterAsInt(parameters, self.OVERLAP, context),
            edge=EDGES[self.parameterAsEnum(parameters, self.EDGE, context)],
            model=self.parameterAsEnumString(parameters, self.MODEL, context) or "mobilenet_v2",
            weights=self.parameterAsFile(parameters, self.WEIGHTS, context) or None,
            bands=self.parameterAsString(parameters, self.BANDS, context),
            stretch=STRETCHES[self.parameterAsEnum(parameters, self.STRETCH, context)],
            lower=self.parameterAsDouble(parameters, self.LOWER, context),
            upper=self.parameterAsDouble(parameters, self.UPPER, context),
            input_size=self.parameterAsInt(parameters, self.INPUT_SIZE, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            rotation_invariant=self._rotation(parameters, context),
            resume=self.parameterAsBoolean(parameters, self.RESUME, context),
            npy_output=npy,
            progress=self.progress(feedback),
            runtime=self.parameterAsEnumString(parameters, self.RUNTIME, context) or "auto",
            # the cores QGIS may use (Settings > Options > Processing or Rendering: max threads)
            threads=QgsApplication.maxThreads() if QgsApplication.maxThreads() > 0 else None,
            scheduler=(self.parameterAsString(parameters, self.SCHEDULER, context) or "").strip() or None,
            features=self.parameterAsEnumString(parameters, self.FEATURES, context) or "auto",
            min_valid_fraction=self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context),
        )
        from ..core.index import TILES_LAYER, open_index

        index = self.run_core(open_index, path)
        m = index.meta
        feedback.pushInfo(
            self.tr("{} tiles, {} dimensions, model {} ({}), {} on {}, {:.1f} s").format(
                len(index), index.dims, m["model"], m["weights"], m.get("runtime", "torch"), m["device"], m["seconds"]
            )
        )
        if m.get("skipped_tiles") or m.get("constant_tiles"):
            feedback.pushInfo(
                self.tr(
                    "{} tiles skipped (valid pixels: none, or a share below {}); {} constant tiles flagged "
                    "(search leaves them out of results)"
                ).format(m.get("skipped_tiles", 0), m.get("min_valid_fraction", 0), m.get("constant_tiles", 0))
            )
        tiles = f"{index.tiles_path}|layername={TILES_LAYER}"
        temporary = _is_temporary(path)
        # the dialog and runAndLoadResults load this when the run ends (qgis_process ignores it)
        name = self.tr("Index tiles (temporary)") if temporary else self.tr("{} tiles").format(os.path.basename(path))
        details = QgsProcessingContext.LayerDetails(
            name, context.project(), self.TILES, QgsProcessingUtils.LayerHint.Vector
        )
        details.setPostProcessor(OutlineTiles.create())
        context.addLayerToLoadOnCompletion(tiles, details)
        if temporary:
            feedback.pushWarning(
                self.tr(
                    "The index is in a temporary folder ({}) that is deleted when QGIS exits. To keep it, "
                    "copy that folder elsewhere now, or run again with a folder of your own as {}."
                ).format(path, self.describe_parameter(self.OUTPUT))
            )
        results = {
            self.OUTPUT: path,
            self.TILES: tiles,
            self.COUNT: len(index),
            self.DIMS: index.dims,
        }
        if npy:
            results[self.NPY_OUTPUT] = npy
        return results
