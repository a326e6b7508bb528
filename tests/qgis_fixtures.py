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


def install_packaged_plugin(folder):
    """Build the plugin zip (`make package`) and unpack it into a fresh QGIS profile under
    ``folder``, as "Install from ZIP" does. Returns (profiles path, plugins folder)."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    folder = Path(folder)
    repo = Path(__file__).resolve().parents[1]
    dist = folder / "dist"
    subprocess.run([sys.executable, str(repo / "scripts" / "package.py"), str(dist)], check=True)
    (zpath,) = dist.glob("tile_embeddings-*.zip")
    profiles = folder / "profiles"
    plugins = profiles / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    zipfile.ZipFile(zpath).extractall(plugins)
    return profiles, plugins


def run_qgis_desktop(profiles, script, env, timeout):
    """Start the real QGIS desktop on ``profiles`` running ``script`` (qgis --code), with no
    plugins but those the script loads; ``env`` adds variables for the script."""
    import os
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QT_QPA_PLATFORM")}
    full_env["QT_QPA_PLATFORM"] = "xcb" if os.environ.get("DISPLAY") else "offscreen"
    full_env.update(env)
    return subprocess.run(
        ["qgis", "--profiles-path", str(profiles), "--profile", "default", "--nologo", "--noversioncheck",
         "--noplugins", "--code", str(script)],
        env=full_env, capture_output=True, text=True, timeout=timeout)
