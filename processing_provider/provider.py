"""The ``tile_embeddings`` Processing provider."""

import importlib

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .base import icon_path

PROVIDER_ID = "tile_embeddings"


class TileEmbeddingsProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Tile Embeddings"

    def longName(self):  # noqa: N802
        return "Tile Embeddings: tiles, CNN embeddings, similarity search, tiled segmentation"

    def icon(self):
        return QIcon(self.svgIconPath())

    def svgIconPath(self):  # noqa: N802
        return icon_path("tile_embeddings.svg")

    def loadAlgorithms(self):  # noqa: N802
        for module_name, class_name in ALGORITHMS:
            try:
                module = importlib.import_module(f"{__package__}.{module_name}")
                self.addAlgorithm(getattr(module, class_name)())
            except Exception as e:  # one broken algorithm must not hide the others
                QgsMessageLog.logMessage(
                    f"Could not load algorithm {module_name}.{class_name}: {e}",
                    "Tile Embeddings",
                    Qgis.MessageLevel.Critical,
                )
