"""QGIS GUI side: plugin entry point, dock, map tool, tasks. No algorithmic code here."""
