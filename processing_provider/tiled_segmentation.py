"""tile_embeddings:tiledsegmentation: Shepherd segmentation, tiled across cores (or a Dask cluster)."""

import importlib.util
import os

from qgis.core import (
    Qgis,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from .base import TileEmbeddingsAlgorithm

GROUP = "Segmentation"
GROUP_ID = "segmentation"
NEEDED = ("numba", "faiss")


class TiledSegmentationAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "tiledsegmentation"
    DISPLAY_NAME = "Tiled Shepherd segmentation"
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    BANDS = "BANDS"
    NUM_CLUSTERS = "NUM_CLUSTERS"
    MIN_PIXELS = "MIN_PIXELS"
    MAX_SPECTRAL_DISTANCE = "MAX_SPECTRAL_DISTANCE"
    TILE_WIDTH = "TILE_WIDTH"
    TILE_HEIGHT = "TILE_HEIGHT"
    OVERLAP = "OVERLAP"
    VALID_DATA_THRESHOLD = "VALID_DATA_THRESHOLD"
    SAMPLE_SIZE = "SAMPLE_SIZE"
    WORKERS = "WORKERS"
    SCHEDULER = "SCHEDULER"
    OUTPUT = "OUTPUT"
    OUTPUT_MEAN = "OUTPUT_MEAN"
    OUTPUT_POLYGONS = "OUTPUT_POLYGONS"
    SEGMENTS = "SEGMENTS"
    TILES = "TILES"

    def initAlgorithm(self, config=None):
        integer = Qgis.ProcessingNumberParameterType.Integer
        double = Qgis.ProcessingNumberParameterType.Double
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(
            QgsProcessingParameterBand(
                self.BANDS, self.tr("Bands (none selected: all bands)"), None, self.INPUT,
                optional=True, allowMultiple=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.NUM_CLUSTERS, self.tr("Number of k-means clusters (numClusters)"), integer, 60,
                minValue=2, maxValue=65535,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MIN_PIXELS, self.tr("Minimum segment size in pixels (minPxls)"), integer, 100, minValue=1
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MAX_SPECTRAL_DISTANCE,
                self.tr("Maximum spectral distance for merging (standard deviations; 0 = auto)"),
                double, 0.0, minValue=0.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TILE_WIDTH, self.tr("Tile width (pixels)"), integer, 2048, minValue=16
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TILE_HEIGHT, self.tr("Tile height (pixels)"), integer, 2048, minValue=16
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.WORKERS, self.tr("Worker threads (0 = all cores)"), integer, 0, minValue=0
            )
        )
        advanced = [
            QgsProcessingParameterNumber(
                self.OVERLAP, self.tr("Tile overlap (pixels; keep it at least the minimum segment size)"),
                integer, 100, minValue=0,
            ),
            QgsProcessingParameterNumber(
                self.VALID_DATA_THRESHOLD,
                self.tr("Valid data threshold (tiles with less valid data join a neighbour; 0-1)"),
                double, 0.05, minValue=0.0, maxValue=1.0,
            ),
            QgsProcessingParameterNumber(
                self.SAMPLE_SIZE, self.tr("K-means sample size (pixels)"), integer, 100000, minValue=100
            ),
            QgsProcessingParameterString(
                self.SCHEDULER,
                self.tr("Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty: local threads)"),
                "", optional=True,
            ),
        ]
        for p in advanced:
            p.setFlags(p.flags() | Qgis.ProcessingParameterFlag.Advanced)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Segments")))
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT_MEAN, self.tr("Segment mean image"), optional=True, createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT_POLYGONS, self.tr("Segment polygons"), Qgis.ProcessingSourceType.VectorPolygon,
                optional=True, createByDefault=False,
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.SEGMENTS, self.tr("Number of segments")))
        self.addOutput(QgsProcessingOutputNumber(self.TILES, self.tr("Number of tiles")))

    def canExecute(self):  # noqa: N802
        missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
        if missing:
            return False, self.tr(
                "Needs the Python package(s) {} (Debian/Ubuntu: apt install python3-numba python3-faiss; "
                "elsewhere: pip install numba faiss-cpu)."
            ).format(", ".join(missing))
        return True, ""

    def _destination(self, parameters, name, context, extensions):
        path = self.parameterAsOutputLayer(parameters, name, context)
        if not path:
            return None
        if os.path.splitext(path)[1].lower() not in extensions:
            raise QgsProcessingException(
                self.tr("{}: only {} is supported, got {}").format(
                    self.describe_parameter(name), " / ".join(extensions), path
                )
            )
        return path

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.tiled_segmentation import segment_raster

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(
                self.tr("{}: no raster given").format(self.describe_parameter(self.INPUT))
            )
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                self.tr("{}: '{}' is not a file-based raster; save it as a GeoTIFF first.").format(
                    self.describe_parameter(self.INPUT), layer.name()
                )
            )
        source = layer.source().split("|")[0]
        bands = self.parameterAsInts(parameters, self.BANDS, context) or None
        output = self._destination(parameters, self.OUTPUT, context, (".tif", ".tiff"))
        mean_output = self._destination(parameters, self.OUTPUT_MEAN, context, (".tif", ".tiff"))
        polygons = self._destination(parameters, self.OUTPUT_POLYGONS, context, (".gpkg",))
        scheduler = (self.parameterAsString(parameters, self.SCHEDULER, context) or "").strip() or None
        summary = self.run_core(
            segment_raster,
            source,
            output,
            bands=bands,
            num_clusters=self.parameterAsInt(parameters, self.NUM_CLUSTERS, context),
            min_pixels=self.parameterAsInt(parameters, self.MIN_PIXELS, context),
            max_distance=self.parameterAsDouble(parameters, self.MAX_SPECTRAL_DISTANCE, context),
            tile_width=self.parameterAsInt(parameters, self.TILE_WIDTH, context),
            tile_height=self.parameterAsInt(parameters, self.TILE_HEIGHT, context),
            overlap=self.parameterAsInt(parameters, self.OVERLAP, context),
            valid_data_threshold=self.parameterAsDouble(parameters, self.VALID_DATA_THRESHOLD, context),
            sample_size=self.parameterAsInt(parameters, self.SAMPLE_SIZE, context),
            workers=self.parameterAsInt(parameters, self.WORKERS, context),
            scheduler=scheduler,
            mean_output=mean_output,
            polygons_output=polygons,
            progress=self.progress(feedback),
        )
        feedback.pushInfo(
            self.tr("{} segments from {} tile(s), {} clusters, max spectral distance {:.3f} sd, "
                    "{:.1f} s").format(
                summary["segments"], summary["tiles"], summary["clusters"], summary["max_distance"],
                summary["seconds"],
            )
        )
        results = {self.OUTPUT: output, self.SEGMENTS: summary["segments"], self.TILES: summary["tiles"]}
        if mean_output:
            results[self.OUTPUT_MEAN] = mean_output
        if polygons:
            results[self.OUTPUT_POLYGONS] = polygons
        return results
