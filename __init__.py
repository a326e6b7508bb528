"""Tile Embeddings QGIS plugin.

QGIS imports this package at start-up for every enabled plugin, so it must stay cheap: the
plugin class (and with it qgis.gui) is imported only when QGIS calls classFactory.
"""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin.main import TileEmbeddingsPlugin

    return TileEmbeddingsPlugin(iface)
