"""Real QGIS desktop tests: they start the qgis binary under Xvfb with a fresh profile."""

from qgis_fixtures import (  # noqa: F401
    collect_garbage_before_qgis_exits,
    fresh_plugin,
    te_provider,
)
