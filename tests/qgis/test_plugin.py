from qgis.core import QgsApplication
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QEvent

PROVIDER_ID = "tile_embeddings"


def test_class_factory_init_processing_registers_provider(fresh_plugin):
    registry = QgsApplication.processingRegistry()
    assert registry.providerById(PROVIDER_ID) is None
    fresh_plugin.initProcessing()
    provider = registry.providerById(PROVIDER_ID)
    assert provider is not None
    assert provider.name() == "Tile Embeddings"
    assert provider.svgIconPath().endswith(".svg")
    assert not provider.icon().isNull()
    fresh_plugin.initProcessing()  # idempotent: no second provider, no error
    assert [p.id() for p in registry.providers()].count(PROVIDER_ID) == 1


def test_init_gui_and_unload_leave_nothing_behind(fresh_plugin, qgis_iface):
    registry = QgsApplication.processingRegistry()
    fresh_plugin.initGui()
    assert registry.providerById(PROVIDER_ID) is not None
    assert fresh_plugin.actions, "initGui adds at least one action"
    actions = list(fresh_plugin.actions)
    toolbar = fresh_plugin.toolbar
    fresh_plugin.unload()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert registry.providerById(PROVIDER_ID) is None
    assert fresh_plugin.actions == []
    assert fresh_plugin.toolbar is None
    assert fresh_plugin.provider is None
    # actions and toolbar are destroyed, not just hidden
    assert all(sip.isdeleted(a) for a in actions)
    assert sip.isdeleted(toolbar)


def test_session_provider_is_available_to_processing(te_provider):
    assert te_provider.id() == PROVIDER_ID
    assert QgsApplication.processingRegistry().providerById(PROVIDER_ID) is te_provider


def test_dock_opens_from_its_action_and_unload_removes_it(fresh_plugin, qgis_iface):
    fresh_plugin.initGui()
    action = fresh_plugin.dock_action
    assert action is not None and action.isCheckable()
    action.trigger()
    dock = fresh_plugin.dock
    assert dock is not None and dock.objectName() == "TileEmbeddingsSimilarityDock"
    assert action.isChecked()
    tool = dock.tool
    dock.pick.setChecked(True)
    assert qgis_iface.mapCanvas().mapTool() is tool
    fresh_plugin.unload()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert fresh_plugin.dock is None
    assert sip.isdeleted(dock)
    assert qgis_iface.mapCanvas().mapTool() is not tool
