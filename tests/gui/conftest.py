"""Real QGIS desktop tests: they start the qgis binary under Xvfb with a fresh profile."""

from qgis_fixtures import fresh_plugin, te_provider  # noqa: F401
