"""QGIS fixtures: the plugin loaded the way QGIS loads it (through classFactory)."""

from qgis_fixtures import fresh_plugin, te_provider  # noqa: F401
