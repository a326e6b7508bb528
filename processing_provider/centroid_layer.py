"""tile_embeddings:centroidlayer: one point per tile at its centre (rs_stem, centralx, centraly)."""

from qgis.core import (
    Qgis,
    QgsProcessingException,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterVectorDestination,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.centroids import centroids_from_folder, centroids_from_records, write_centroids
from .base import TileEmbeddingsAlgorithm
from .tile_sets import GROUP, GROUP_ID, crs_wkt, records_from_source


class CentroidLayerAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "centroidlayer"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Tile centroid layer")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    INPUT_FOLDER = "INPUT_FOLDER"
    OUTPUT = "OUTPUT"
    OUTPUT_CSV = "OUTPUT_CSV"

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.INPUT,
                self.tr("Tile index (or leave empty and give a folder)"),
                [Qgis.ProcessingSourceType.VectorPolygon],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.INPUT_FOLDER,
                self.tr("Folder of georeferenced tiles (instead of a tile index)"),
                behavior=Qgis.ProcessingFileParameterBehavior.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                self.OUTPUT, self.tr("Tile centroids"), Qgis.ProcessingSourceType.VectorPoint
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_CSV,
                self.tr("Centroid table (CSV)"),
                self.tr("CSV files (*.csv)"),
                optional=True,
                createByDefault=False,
            )
        )

    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.INPUT, context)
        folder = self.parameterAsFile(parameters, self.INPUT_FOLDER, context)
        if (source is None) == (not folder):
            raise QgsProcessingException(
                self.tr(
                    "Give either a tile index ({}) or a folder of tiles ({}), not both and not neither."
                ).format(self.describe_parameter(self.INPUT), self.describe_parameter(self.INPUT_FOLDER))
            )
        progress = self.progress(feedback)
        if source is not None:
            records = self.run_core(
                centroids_from_records,
                records_from_source(source, self.describe_parameter(self.INPUT), feedback),
            )
            crs = crs_wkt(source.sourceCrs())
        else:
            records, crs, skipped = self.run_core(
                centroids_from_folder, folder, progress=progress.sub(0, 0.8)
            )
            for path in skipped:
                feedback.pushWarning(self.tr("Skipped (no georeferencing): {}").format(path))
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        csv_path = self.parameterAsFileOutput(parameters, self.OUTPUT_CSV, context)
        self.run_core(write_centroids, records, crs, out, csv_path or None, progress=progress.sub(0.8, 1.0))
        feedback.pushInfo(self.tr("{} tile centres written").format(len(records)))
        results = {self.OUTPUT: out}
        if csv_path:
            results[self.OUTPUT_CSV] = csv_path
        return results
