"""Plugin entry point: registers the Processing provider and the GUI entries, and removes them."""

import os

from qgis.core import QgsApplication
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QMessageBox

from ..processing_provider.i18n import install_translator, remove_translator
from ..processing_provider.provider import TileEmbeddingsProvider

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MENU = "&Tile Embeddings"  # the plugin's name, as QGIS lists it: not translated


def read_metadata(key):
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(PLUGIN_DIR, "metadata.txt"), encoding="utf-8")
    return parser.get("general", key, fallback="")


class TileEmbeddingsPlugin:
    def __init__(self, iface):
        self.iface = iface
        # QGIS's interface language, before any text is made; qgis_process also runs this (it calls
        # classFactory and initProcessing, never initGui)
        self.translator = install_translator()
        self.provider = None
        self.actions = []
        self.toolbar = None
        self.dock = None
        self.dock_action = None

    @staticmethod
    def tr(text):
        return QCoreApplication.translate("TileEmbeddingsPlugin", text)

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
        dock_icon = QIcon(os.path.join(PLUGIN_DIR, "resources", "icons", "similarity_dock.svg"))
        self.dock_action = QAction(dock_icon, self.tr("Similar Tiles"), self.iface.mainWindow())
        self.dock_action.setObjectName("TileEmbeddingsDockAction")
        self.dock_action.setCheckable(True)
        self.dock_action.setToolTip(self.tr("Click a tile on the map and see the tiles that look like it"))
        self.dock_action.toggled.connect(self.toggle_dock)
        self.toolbar.addAction(self.dock_action)
        self.iface.addPluginToMenu(MENU, self.dock_action)
        self.actions.append(self.dock_action)
        about = QAction(icon, self.tr("About Tile Embeddings…"), self.iface.mainWindow())
        about.setObjectName("TileEmbeddingsAbout")
        about.triggered.connect(self.show_about)
        self.iface.addPluginToMenu(MENU, about)
        self.actions.append(about)

    def ensure_dock(self):
        """Create the dock on first use; registered with the main window it is also listed
        under View > Panels."""
        if self.dock is None:
            from .dock import SimilarityDock

            self.dock = SimilarityDock(self.iface, self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            self.dock.visibilityChanged.connect(self._dock_visibility)
        return self.dock

    def toggle_dock(self, checked):
        if checked:
            self.ensure_dock().show()
            self.dock.raise_()
        elif self.dock is not None:
            self.dock.hide()

    def _dock_visibility(self, visible):
        if self.dock_action is not None and self.dock_action.isChecked() != visible:
            self.dock_action.blockSignals(True)
            self.dock_action.setChecked(visible)
            self.dock_action.blockSignals(False)

    def show_about(self):
        QMessageBox.information(
            self.iface.mainWindow(),
            "Tile Embeddings",
            self.tr("Tile Embeddings {version}\n\n{description}\n\n"
                    "The algorithms are in the Processing Toolbox under 'Tile Embeddings'.").format(
                version=read_metadata("version"), description=read_metadata("description")
            ),
        )

    def unload(self):
        if self.dock is not None:
            self.dock.shutdown()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        self.dock_action = None
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
            self.iface.removeToolBarIcon(action)
            action.deleteLater()
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            if not sip.isdeleted(self.provider):
                QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        remove_translator(self.translator)
        self.translator = None
