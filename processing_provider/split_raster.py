"""tile_embeddings:splitraster: cut a raster into square GeoTIFF tiles plus a tile index."""

from qgis.core import (
    Qgis,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.tiling import COMPRESSIONS, split_raster
from .base import TileEmbeddingsAlgorithm
from .tile_sets import GROUP, GROUP_ID, raster_path

EDGES = ("drop", "pad", "keep")


class SplitRasterAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "splitraster"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Split raster into tiles")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    TILE_SIZE = "TILE_SIZE"
    OVERLAP = "OVERLAP"
    EDGE = "EDGE"
    MIN_VALID_FRACTION = "MIN_VALID_FRACTION"
    PREFIX = "PREFIX"
    COMPRESS = "COMPRESS"
    THREADS = "THREADS"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT = "OUTPUT"
    TILE_COUNT = "TILE_COUNT"
    SKIPPED = "SKIPPED"

    def initAlgorithm(self, config=None):
        advanced = Qgis.ProcessingParameterFlag.Advanced
        integer = Qgis.ProcessingNumberParameterType.Integer
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TILE_SIZE, self.tr("Tile size (pixels)"), integer, 256, minValue=1
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.OVERLAP, self.tr("Overlap between neighbouring tiles (pixels)"), integer, 0, minValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.EDGE,
                self.tr("Partial tiles at the right and bottom edges"),
                [
                    self.tr("Drop them"),
                    self.tr("Pad them to full size with nodata"),
                    self.tr("Keep them partial"),
                ],
                defaultValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MIN_VALID_FRACTION,
                self.tr("Skip tiles with a valid-pixel fraction below"),
                Qgis.ProcessingNumberParameterType.Double,
                0.0,
                minValue=0.0,
                maxValue=1.0,
            )
        )
        prefix = QgsProcessingParameterString(
            self.PREFIX, self.tr("Tile name prefix (default: raster file name)"), optional=True
        )
        compress = QgsProcessingParameterEnum(
            self.COMPRESS, self.tr("Tile compression"), list(COMPRESSIONS), defaultValue=0
        )
        threads = QgsProcessingParameterNumber(
            self.THREADS, self.tr("Threads (0 = one per CPU core, at most 8)"), integer, 0, minValue=0
        )
        for p in (prefix, compress, threads):
            p.setFlags(p.flags() | advanced)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, self.tr("Tile folder")))
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT, self.tr("Tile index"), Qgis.ProcessingSourceType.VectorPolygon
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.TILE_COUNT, self.tr("Number of tiles written")))
        self.addOutput(QgsProcessingOutputNumber(self.SKIPPED, self.tr("Number of tiles skipped")))

    def processAlgorithm(self, parameters, context, feedback):
        src = raster_path(
            self.parameterAsRasterLayer(parameters, self.INPUT, context), self.describe_parameter(self.INPUT)
        )
        folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        index = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = self.run_core(
            split_raster,
            src,
            folder,
            tile_size=self.parameterAsInt(parameters, self.TILE_SIZE, context),
            overlap=self.parameterAsInt(parameters, self.OVERLAP, context),
            edge=EDGES[self.parameterAsEnum(parameters, self.EDGE, context)],
            min_valid_fraction=self.parameterAsDouble(parameters, self.MIN_VALID_FRACTION, context),
            prefix=self.parameterAsString(parameters, self.PREFIX, context).strip() or None,
            index_path=index,
            compress=COMPRESSIONS[self.parameterAsEnum(parameters, self.COMPRESS, context)],
            threads=self.parameterAsInt(parameters, self.THREADS, context) or None,
            progress=self.progress(feedback),
        )
        feedback.pushInfo(
            self.tr("{} tiles written, {} skipped (valid fraction below the threshold)").format(
                len(result["tiles"]), result["skipped"]
            )
        )
        return {
            self.OUTPUT_FOLDER: folder,
            self.OUTPUT: index,
            self.TILE_COUNT: len(result["tiles"]),
            self.SKIPPED: result["skipped"],
        }
