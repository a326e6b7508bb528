"""Shared base for every Tile Embeddings Processing algorithm.

Subclasses declare NAME / DISPLAY_NAME / GROUP / GROUP_ID class attributes, define their
parameters and call ``self.run_core(...)`` around exactly one engine call. The base turns engine
errors into ``QgsProcessingException`` messages that name the parameter, and bridges
``QgsProcessingFeedback`` to the engine's progress/cancel protocol. The words people read
(toolbox tooltip, parameter tooltips, help panel and page) come from help_texts.py and
resources/help/<name>.html, not from the algorithm modules.
"""

import os
import re

from qgis.core import QgsProcessingAlgorithm, QgsProcessingException
from qgis.PyQt.QtCore import QCoreApplication, QUrl
from qgis.PyQt.QtGui import QIcon

from ..core.errors import Canceled, InputError
from ..core.progress import Progress
from .help_texts import PARAMETER_HELP, SHORT_DESCRIPTIONS
from .i18n import localized_file

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICONS_DIR = os.path.join(PLUGIN_DIR, "resources", "icons")
HELP_DIR = os.path.join(PLUGIN_DIR, "resources", "help")
# the translation context of help_texts.py (scripts/update_translations.py files its strings there)
HELP_CONTEXT = "Help"


def icon_path(name):
    return os.path.join(ICONS_DIR, name)


def help_path(name):
    """The stand-alone help page of an algorithm (the dialog's Help button opens it), in QGIS's
    interface language when resources/help/<locale>/ has it."""
    return localized_file(HELP_DIR, f"{name}.html")


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def panel_help(path):
    """The body of a help page as one line of HTML for the dialog's side panel.

    QGIS turns every line of shortHelpString() into a paragraph of its own and puts the
    algorithm's name above it, so the page is given without its head and without line breaks.
    """
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    body = _BODY.search(text)
    return _SPACE.sub(" ", body.group(1) if body else text).strip()


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
        """Translate ``text`` in the context of the class that says it.

        pylupdate6 files ``self.tr("...")`` under the name of the class whose body holds the call
        (``EmbedTilesAlgorithm``), and DISPLAY_NAME / GROUP under ``TileEmbeddingsAlgorithm``
        (QT_TRANSLATE_NOOP): the classes of this algorithm are tried from the most derived up.
        """
        for cls in type(self).__mro__:
            if cls is TileEmbeddingsAlgorithm.__base__:
                break
            translated = QCoreApplication.translate(cls.__name__, text)
            if translated != text:
                return translated
        return text

    def createInstance(self):  # noqa: N802
        return type(self)()

    def icon(self):
        return QIcon(self.svgIconPath())

    def svgIconPath(self):  # noqa: N802
        path = icon_path(f"{self.NAME}.svg")
        return path if os.path.exists(path) else icon_path(self.ICON)

    def shortDescription(self):  # noqa: N802
        """The toolbox tooltip: one sentence from help_texts.SHORT_DESCRIPTIONS."""
        text = SHORT_DESCRIPTIONS.get(self.NAME, "")
        return QCoreApplication.translate(HELP_CONTEXT, text) if text else ""

    def shortHelpString(self):  # noqa: N802
        """Help text lives in resources/help/<name>.html so writers need not touch code."""
        return panel_help(help_path(self.NAME))

    def helpUrl(self):  # noqa: N802
        """The same page, opened whole in a browser; empty (QGIS hides the button) without one."""
        path = help_path(self.NAME)
        return QUrl.fromLocalFile(path).toString() if os.path.exists(path) else ""

    def addParameter(self, definition, createOutput=True):  # noqa: N802, N803
        """Every parameter gets its tooltip from help_texts.PARAMETER_HELP unless it has one."""
        if not definition.help():
            text = PARAMETER_HELP.get(self.NAME, {}).get(definition.name())
            if text:
                definition.setHelp(QCoreApplication.translate(HELP_CONTEXT, text))
        return super().addParameter(definition, createOutput)

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
                raise QgsProcessingException(
                    self.tr("{parameter}: {message}").format(
                        parameter=self.describe_parameter(e.parameter), message=e.message
                    )
                ) from e
            raise QgsProcessingException(e.message) from e
        except Canceled as e:
            raise QgsProcessingException(self.tr("Canceled: no output was written.")) from e
        except MemoryError as e:
            raise QgsProcessingException(
                self.tr("Out of memory. Use smaller tiles or batches, or fewer workers.")
            ) from e
