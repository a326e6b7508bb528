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
def clean_dock_settings():
    """Dock settings start empty: a remembered index would make a new dock open it."""
    from qgis.core import QgsSettings

    QgsSettings().remove("tile_embeddings/dock")
    yield
    QgsSettings().remove("tile_embeddings/dock")


@pytest.fixture
def fresh_plugin(qgis_app, qgis_processing, qgis_iface, clean_dock_settings):
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


@pytest.fixture(scope="session", autouse=True)
def collect_garbage_before_qgis_exits(qgis_app):
    """Set up after ``qgis_app``, so torn down before it: the session's last garbage (GDAL datasets
    among it) is freed while QGIS and GDAL are still alive, not during pytest's final report."""
    import gc

    yield
    gc.collect()
