"""QGIS fixtures: the plugin loaded the way QGIS loads it (through classFactory)."""

import pytest
from qgis.core import QgsApplication

PROVIDER_ID = "tile_embeddings"


@pytest.fixture(scope="session")
def te_provider(qgis_app, qgis_processing):
    """The plugin's Processing provider registered once per session, as qgis_process does."""
    import tile_embeddings

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById(PROVIDER_ID)
    if existing is not None:
        yield existing
        return
    from qgis.utils import iface

    plugin = tile_embeddings.classFactory(iface)
    plugin.initProcessing()
    yield registry.providerById(PROVIDER_ID)
    plugin.unload()


@pytest.fixture
def fresh_plugin(qgis_app, qgis_processing, qgis_iface):
    """A plugin instance with the provider slot free (re-registers the session provider after)."""
    import tile_embeddings

    registry = QgsApplication.processingRegistry()
    previous = registry.providerById(PROVIDER_ID)
    if previous is not None:
        registry.removeProvider(previous)
    plugin = tile_embeddings.classFactory(qgis_iface)
    yield plugin
    plugin.unload()
    if previous is not None:
        from tile_embeddings.processing_provider.provider import TileEmbeddingsProvider

        registry.addProvider(TileEmbeddingsProvider())
