"""QGIS fixtures shared by tests/qgis and tests/gui: the plugin as QGIS loads it (classFactory)."""

import pytest
from qgis.core import QgsApplication

PROVIDER_ID = "tile_embeddings"
# Python must keep its provider objects alive: once the wrapper is garbage-collected, QGIS can no
# longer call the algorithms' Python createInstance() ("Error creating algorithm from createInstance()").
_KEEP_ALIVE = []


def ensure_provider():
    """Register the plugin's Processing provider (as qgis_process does) if it is not already."""
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById(PROVIDER_ID)
    if provider is None:
        from tile_embeddings.processing_provider.provider import TileEmbeddingsProvider

        provider = TileEmbeddingsProvider()
        _KEEP_ALIVE.append(provider)
        registry.addProvider(provider)
    return provider


@pytest.fixture
def te_provider(qgis_app, qgis_processing):
    """The plugin's Processing provider, registered if it is not already."""
    return ensure_provider()


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
        ensure_provider()
