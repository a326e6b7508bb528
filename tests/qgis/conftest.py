"""QGIS fixtures: the plugin loaded the way QGIS loads it (through classFactory)."""

from qgis_fixtures import (  # noqa: F401
    clean_dock_settings,
    collect_garbage_before_qgis_exits,
    fresh_plugin,
    te_provider,
)
