"""tile_embeddings:removefromindex: take one raster's tiles out of a similarity index."""

from qgis.core import (
    Qgis,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from .base import TileEmbeddingsAlgorithm


class RemoveFromIndexAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "removefromindex"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Remove a raster from a similarity index")
    GROUP = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Embeddings and search")
    GROUP_ID = "embeddings"

    INDEX = "INDEX"
    SOURCE = "SOURCE"
    OUTPUT = "OUTPUT"
    TILES = "TILES"
    COUNT = "COUNT"
    REMOVED = "REMOVED"

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFile(
                self.INDEX, self.tr("Similarity index (folder from 'Embed tiles')"),
                Qgis.ProcessingFileParameterBehavior.Folder,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(self.SOURCE, self.tr("Raster to remove (its path, file name or id prefix)"))
        )
        self.addOutput(QgsProcessingOutputFolder(self.OUTPUT, self.tr("Similarity index")))
        self.addOutput(
            QgsProcessingOutputVectorLayer(self.TILES, self.tr("Index tiles"), Qgis.ProcessingSourceType.VectorPolygon)
        )
        self.addOutput(QgsProcessingOutputNumber(self.COUNT, self.tr("Tiles in the index")))
        self.addOutput(QgsProcessingOutputNumber(self.REMOVED, self.tr("Tiles removed")))

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.index import TILES_LAYER, open_index
        from ..core.index_edit import remove_from_index

        path, removed = self.run_core(
            remove_from_index,
            self.parameterAsFile(parameters, self.INDEX, context),
            self.parameterAsString(parameters, self.SOURCE, context),
            progress=self.progress(feedback),
        )
        index = self.run_core(open_index, path)
        feedback.pushInfo(self.tr("{} tiles removed, {} left in the index").format(removed, len(index)))
        return {
            self.OUTPUT: path,
            self.TILES: f"{index.tiles_path}|layername={TILES_LAYER}",
            self.COUNT: len(index),
            self.REMOVED: removed,
        }
