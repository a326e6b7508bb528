"""tile_embeddings:tiledsegmentation: Shepherd segmentation, tiled across cores (or a Dask cluster)."""

import importlib.util
import os

from qgis.core import (
    Qgis,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.seg_kmeans import KMEANS_ITERATIONS, KMEANS_RESTARTS, KMEANS_SEED
from .base import TileEmbeddingsAlgorithm

GROUP = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Segmentation")
GROUP_ID = "segmentation"
NEEDED = ("numba",)


class TiledSegmentationAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "tiledsegmentation"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Tiled Shepherd segmentation")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    BANDS = "BANDS"
    NUM_CLUSTERS = "NUM_CLUSTERS"
    MIN_PIXELS = "MIN_PIXELS"
    MAX_SPECTRAL_DISTANCE = "MAX_SPECTRAL_DISTANCE"
    MERGE_SMALL = "MERGE_SMALL"
    STANDARDISE = "STANDARDISE"
    SEED = "SEED"
    KMEANS_ITERATIONS = "KMEANS_ITERATIONS"
    KMEANS_RESTARTS = "KMEANS_RESTARTS"
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
        clusters = QgsProcessingParameterNumber(
            self.NUM_CLUSTERS, self.tr("Number of spectral clusters"), integer, 60, minValue=2, maxValue=65535
        )
        clusters.setHelp(self.tr("k-means clusters; each 4-connected patch of one cluster starts as a "
                                 "segment (numClusters in RSGISLib and pyshepseg)."))
        self.addParameter(clusters)
        min_pixels = QgsProcessingParameterNumber(
            self.MIN_PIXELS, self.tr("Minimum segment size (pixels)"), integer, 100, minValue=1
        )
        min_pixels.setHelp(self.tr("Segments smaller than this merge into their spectrally nearest "
                                   "larger neighbour, within the maximum spectral distance "
                                   "(minPxls in RSGISLib, minSegmentSize in pyshepseg)."))
        self.addParameter(min_pixels)
        distance = QgsProcessingParameterNumber(
            self.MAX_SPECTRAL_DISTANCE,
            self.tr("Maximum spectral distance for merging (0 = auto)"),
            double, 0.0, minValue=0.0,
        )
        distance.setHelp(self.tr("In standard deviations when bands are standardised, in raw band units "
                                 "otherwise. 0: the median distance between the k-means centres."))
        self.addParameter(distance)
        merge = QgsProcessingParameterBoolean(
            self.MERGE_SMALL,
            self.tr("Merge every segment still under the minimum size (ignore the spectral distance)"),
            False, optional=True,
        )
        merge.setHelp(self.tr("A final pass merging each segment left under the minimum size into its "
                              "nearest neighbour, however different. Off: the published method, which "
                              "keeps small segments that differ from all their neighbours."))
        self.addParameter(merge)
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
            QgsProcessingParameterBoolean(
                self.STANDARDISE,
                self.tr("Standardise bands for k-means (off: raw band units, as RSGISLib and pyshepseg)"),
                True, optional=True,
            ),
            QgsProcessingParameterNumber(
                self.SEED, self.tr("K-means random seed"), integer, KMEANS_SEED, optional=True, minValue=0
            ),
            QgsProcessingParameterNumber(
                self.KMEANS_ITERATIONS, self.tr("Maximum k-means iterations"), integer,
                KMEANS_ITERATIONS, optional=True, minValue=1,
            ),
            QgsProcessingParameterNumber(
                self.KMEANS_RESTARTS, self.tr("K-means runs (the closest fit is kept)"), integer,
                KMEANS_RESTARTS, optional=True, minValue=1, maxValue=100,
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
                "Needs the Python package(s) {} (Debian/Ubuntu: apt install python3-numba; "
                "elsewhere: pip install numba)."
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

    def _int(self, parameters, name, context, default):
        """An optional integer parameter (absent from older models: its default)."""
        if parameters.get(name) is None:
            return default
        return self.parameterAsInt(parameters, name, context)

    def _bool(self, parameters, name, context, default):
        if parameters.get(name) is None:
            return default
        return self.parameterAsBoolean(parameters, name, context)

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.seg_kmeans import KMeansOptions
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
        kmeans = KMeansOptions(
            seed=self._int(parameters, self.SEED, context, KMEANS_SEED),
            iterations=self._int(parameters, self.KMEANS_ITERATIONS, context, KMEANS_ITERATIONS),
            restarts=self._int(parameters, self.KMEANS_RESTARTS, context, KMEANS_RESTARTS),
            standardise=self._bool(parameters, self.STANDARDISE, context, True),
        )
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
            kmeans=kmeans,
            cleanup=self._bool(parameters, self.MERGE_SMALL, context, False),
        )
        if summary["clusters"] < summary["requested_clusters"]:
            feedback.pushWarning(
                self.tr("{}: {} asked for, but the k-means sample has only {} distinct pixel values; "
                        "used {} clusters.").format(
                    self.describe_parameter(self.NUM_CLUSTERS), summary["requested_clusters"],
                    summary["clusters"], summary["clusters"],
                )
            )
        feedback.pushInfo(
            self.tr("{} segments from {} tile(s), {} clusters, max spectral distance {:.4g} {}, "
                    "{:.1f} s").format(
                summary["segments"], summary["tiles"], summary["clusters"], summary["max_distance"],
                self.tr("sd") if summary["standardised"] else self.tr("raw units"), summary["seconds"],
            )
        )
        results = {self.OUTPUT: output, self.SEGMENTS: summary["segments"], self.TILES: summary["tiles"]}
        if mean_output:
            results[self.OUTPUT_MEAN] = mean_output
        if polygons:
            results[self.OUTPUT_POLYGONS] = polygons
        return results
