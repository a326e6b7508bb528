"""Plugin entry point: registers the Processing provider and the GUI entries, and removes them."""

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QMessageBox

from ..processing_provider.provider import TileEmbeddingsProvider

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MENU = "&Tile Embeddings"


def read_metadata(key):
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8")
    return parser.get("general", key, fallback="")


class TileEmbeddingsPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.actions = []
        self.toolbar = None

    # -- Processing (also called by qgis_process, which never calls initGui) ---------------------
    def initProcessing(self):  # noqa: N802
        if self.provider is None:
            self.provider = TileEmbeddingsProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    # -- GUI --------------------------------------------------------------------------------------
    def initGui(self):  # noqa: N802
        self.initProcessing()
        self.toolbar = self.iface.addToolBar("Tile Embeddings")
        self.toolbar.setObjectName("TileEmbeddingsToolbar")
        icon = QIcon(os.path.join(PLUGIN_DIR, "resources", "icons", "tile_embeddings.svg"))
        about = QAction(icon, "About Tile Embeddings…", self.iface.mainWindow())
        about.setObjectName("TileEmbeddingsAbout")
        about.triggered.connect(self.show_about)
        self.iface.addPluginToMenu(MENU, about)
        self.actions.append(about)

    def show_about(self):
        QMessageBox.information(
            self.iface.mainWindow(),
            "Tile Embeddings",
            f"Tile Embeddings {read_metadata('version')}\n\n{read_metadata('description')}\n\n"
            "The algorithms are in the Processing Toolbox under 'Tile Embeddings'.",
        )

    def unload(self):
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
            self.iface.removeToolBarIcon(action)
            action.deleteLater()
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
