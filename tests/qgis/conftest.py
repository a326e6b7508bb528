"""QGIS fixtures: the plugin loaded the way QGIS loads it (through classFactory)."""

import pytest
from qgis_fixtures import (  # noqa: F401
    clean_dock_settings,
    collect_garbage_before_qgis_exits,
    fresh_plugin,
    te_provider,
)


@pytest.fixture(autouse=True, scope="session")
def iface_layer_tree_view(qgis_iface):
    """A real layer tree view behind pytest-qgis's iface, whose layerTreeView() is otherwise a
    MagicMock: QGIS 3.44's Processing hands it to C++ (QgsProcessingGuiUtils.addResultLayers) when
    runAndLoadResults loads a result, which rejects a mock."""
    from qgis.core import QgsLayerTreeModel, QgsProject
    from qgis.gui import QgsLayerTreeView

    view = QgsLayerTreeView()
    view.setModel(QgsLayerTreeModel(QgsProject.instance().layerTreeRoot(), view))
    qgis_iface.layerTreeView = lambda: view
    yield view
    view.deleteLater()
