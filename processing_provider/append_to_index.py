"""tile_embeddings:appendtoindex: add rasters to a similarity index without embedding it again."""

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProcessingException,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.models import NO_RUNTIME_MESSAGE, RUNTIMES, available_runtimes
from .base import TileEmbeddingsAlgorithm

DEVICES = ("auto", "cpu", "cuda")


def raster_files(alg, parameters, name, context):
    """The files behind the raster layers of a multiple-layers parameter (GDAL reads files, not layers)."""
    paths = []
    for layer in alg.parameterAsLayerList(parameters, name, context) or []:
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                alg.tr("{}: '{}' is not file-based ({}); save it to a file first.").format(
                    alg.describe_parameter(name), layer.name(), layer.providerType()
                )
            )
        path = layer.source().split("|", 1)[0]
        if path not in paths:
            paths.append(path)
    return paths


class AppendToIndexAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "appendtoindex"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Add rasters to a similarity index")
    GROUP = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Embeddings and search")
    GROUP_ID = "embeddings"

    INDEX = "INDEX"
    INPUT = "INPUT"
    BATCH_SIZE = "BATCH_SIZE"
    DEVICE = "DEVICE"
    RUNTIME = "RUNTIME"
    RESUME = "RESUME"
    OUTPUT = "OUTPUT"
    TILES = "TILES"
    COUNT = "COUNT"
    ADDED = "ADDED"

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFile(
                self.INDEX, self.tr("Similarity index (folder from 'Embed tiles')"),
                Qgis.ProcessingFileParameterBehavior.Folder,
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.INPUT, self.tr("Rasters to add (tiled and embedded with the index's settings)"),
                Qgis.ProcessingSourceType.Raster,
            )
        )
        advanced = [
            QgsProcessingParameterNumber(
                self.BATCH_SIZE, self.tr("Batch size"), Qgis.ProcessingNumberParameterType.Integer, 32, minValue=1
            ),
            QgsProcessingParameterEnum(
                self.DEVICE,
                self.tr("Device"),
                [self.tr("Auto (CUDA when the runtime has it, else the CPU)"), "CPU", "CUDA"],
                defaultValue=0,
            ),
            QgsProcessingParameterEnum(
                self.RUNTIME,
                self.tr("Runtime (auto: onnxruntime when installed, else torch)"),
                list(RUNTIMES),
                defaultValue="auto",
                usesStaticStrings=True,
            ),
            QgsProcessingParameterBoolean(
                self.RESUME, self.tr("Resume an interrupted run with the same rasters"), True
            ),
        ]
        for p in advanced:
            p.setFlags(p.flags() | Qgis.ProcessingParameterFlag.Advanced)
            self.addParameter(p)
        self.addOutput(QgsProcessingOutputFolder(self.OUTPUT, self.tr("Similarity index")))
        self.addOutput(
            QgsProcessingOutputVectorLayer(self.TILES, self.tr("Index tiles"), Qgis.ProcessingSourceType.VectorPolygon)
        )
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr("Tiles in the index")))
        self.addOutput(QgsProcessingOutputNumber(self.ADDED, self.tr("Tiles added")))

    def canExecute(self):  # noqa: N802
        if not available_runtimes():
            return False, self.tr(NO_RUNTIME_MESSAGE)
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.index import TILES_LAYER, open_index
        from ..core.index_edit import append_to_index

        index_path = self.parameterAsFile(parameters, self.INDEX, context)
        before = len(self.run_core(open_index, index_path))
        rasters = raster_files(self, parameters, self.INPUT, context)
        if not rasters:
            raise QgsProcessingException(
                self.tr("{}: give at least one raster to add.").format(self.describe_parameter(self.INPUT))
            )
        path = self.run_core(
            append_to_index,
            index_path,
            rasters,
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            runtime=self.parameterAsEnumString(parameters, self.RUNTIME, context) or "auto",
            threads=QgsApplication.maxThreads() if QgsApplication.maxThreads() > 0 else None,
            resume=self.parameterAsBoolean(parameters, self.RESUME, context),
            progress=self.progress(feedback),
        )
        index = self.run_core(open_index, path)
        feedback.pushInfo(self.tr("{} tiles added, {} in the index").format(len(index) - before, len(index)))
        return {
            self.OUTPUT: path,
            self.TILES: f"{index.tiles_path}|layername={TILES_LAYER}",
            self.COUNT: len(index),
            self.ADDED: len(index) - before,
        }
