"""Shared base for every Tile Embeddings Processing algorithm.

Subclasses declare NAME / DISPLAY_NAME / GROUP / GROUP_ID class attributes, define their
parameters and call ``self.run_core(...)`` around exactly one engine call. The base turns engine
errors into ``QgsProcessingException`` messages that name the parameter, and bridges
``QgsProcessingFeedback`` to the engine's progress/cancel protocol.
"""

import os

from qgis.core import QgsProcessingAlgorithm, QgsProcessingException
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import Canceled, InputError
from ..core.progress import Progress

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICONS_DIR = os.path.join(PLUGIN_DIR, "resources", "icons")
HELP_DIR = os.path.join(PLUGIN_DIR, "resources", "help")


def icon_path(name):
    return os.path.join(ICONS_DIR, name)


class TileEmbeddingsAlgorithm(QgsProcessingAlgorithm):
    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    ICON = "tile_embeddings.svg"

    # -- identity -------------------------------------------------------------------------
    def name(self):
        return self.NAME

    def displayName(self):  # noqa: N802
        return self.tr(self.DISPLAY_NAME)

    def group(self):
        return self.tr(self.GROUP)

    def groupId(self):  # noqa: N802
        return self.GROUP_ID

    def tr(self, text):
        return QCoreApplication.translate("TileEmbeddings", text)

    def createInstance(self):  # noqa: N802
        return type(self)()

    def icon(self):
        return QIcon(self.svgIconPath())

    def svgIconPath(self):  # noqa: N802
        path = icon_path(f"{self.NAME}.svg")
        return path if os.path.exists(path) else icon_path(self.ICON)

    def shortHelpString(self):  # noqa: N802
        """Help text lives in resources/help/<name>.html so writers need not touch code."""
        path = os.path.join(HELP_DIR, f"{self.NAME}.html")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
        return ""

    def helpUrl(self):  # noqa: N802
        return f"https://github.com/tile-embeddings/tile-embeddings#{self.NAME}"

    # -- running --------------------------------------------------------------------------
    @staticmethod
    def progress(feedback):
        """The engine's progress object, reporting to ``feedback`` (which may be None)."""
        if feedback is None:
            return Progress()
        return Progress(
            on_progress=lambda f: feedback.setProgress(100.0 * f),
            on_text=feedback.setProgressText,
            is_canceled=feedback.isCanceled,
        )

    def describe_parameter(self, name):
        definition = self.parameterDefinition(name) if name else None
        if definition is None:
            return name or ""
        return f"{definition.description()} ({name})"

    def run_core(self, fn, *args, **kwargs):
        """Call one engine function and translate its errors for the person at the keyboard."""
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            if e.parameter:
                raise QgsProcessingException(f"{self.describe_parameter(e.parameter)}: {e.message}") from e
            raise QgsProcessingException(e.message) from e
        except Canceled as e:
            raise QgsProcessingException(self.tr("Canceled: no output was written.")) from e
        except MemoryError as e:
            raise QgsProcessingException(
                self.tr("Out of memory. Use smaller tiles or batches, or fewer workers.")
            ) from e
