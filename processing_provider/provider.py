"""The ``tile_embeddings`` Processing provider: the algorithms and the shipped workflows."""

import glob
import importlib
import os

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .base import PLUGIN_DIR, icon_path

PROVIDER_ID = "tile_embeddings"
MODELS_DIR = os.path.join(PLUGIN_DIR, "resources", "models")


# the words of the shipped workflows come from their .model3 files: scripts/update_translations.py
# puts them in the translation file under this context
MODEL_CONTEXT = "ShippedModel"
# QGIS's own entries of a model's help, not text for people
_HELP_KEYS_KEPT = ("ALG_CREATOR", "ALG_HELP_CREATOR", "ALG_VERSION")


def _tr(text):
    return QCoreApplication.translate(MODEL_CONTEXT, text) if text else text


class ShippedModel(QgsProcessingModelAlgorithm):
    """A graphical-modeler workflow from resources/models, listed in the toolbox as
    ``tile_embeddings:<file name>`` under *Workflows*.

    A plain model's id is its title, spaces included; this keeps the title for people and gives
    scripts a stable id. The workflow itself is the .model3 file, as the modeler saved it.
    """

    GROUP = QT_TRANSLATE_NOOP("ShippedModel", "Workflows")
    GROUP_ID = "workflows"

    def __init__(self, path):
        super().__init__()
        self._path = path
        self._name = os.path.splitext(os.path.basename(path))[0]
        if not self.fromFile(path):
            raise ValueError(QCoreApplication.translate("ShippedModel", "cannot read the model {}").format(path))
        # QGIS 3.40 reads no tooltip back for layer inputs: the model's help has them all
        texts = self.helpContent()
        for definition in self.parameterDefinitions():
            if not definition.help() and texts.get(definition.name()):
                definition.setHelp(texts[definition.name()])
            # in QGIS's interface language, as the algorithms' own parameters are
            definition.setDescription(_tr(definition.description()))
            definition.setHelp(_tr(definition.help()))
        for definition in self.outputDefinitions():
            definition.setDescription(_tr(definition.description()))
        self.setHelpContent({key: value if key in _HELP_KEYS_KEPT or not isinstance(value, str) else _tr(value)
                             for key, value in texts.items()})

    def name(self):
        return self._name

    def displayName(self):  # noqa: N802
        return _tr(super().displayName())

    def shortDescription(self):  # noqa: N802
        text = super().shortDescription()
        return _tr(text) if text else ""

    def shortHelpString(self):  # noqa: N802
        # QGIS writes the model's help as HTML over several lines, and the algorithm dialog makes
        # every line a paragraph of its own: one line, as for the other algorithms
        return " ".join(super().shortHelpString().split())

    def group(self):
        return _tr(self.GROUP)

    def groupId(self):  # noqa: N802
        return self.GROUP_ID

    def createInstance(self):  # noqa: N802
        return ShippedModel(self._path)


def shipped_model_paths():
    return sorted(glob.glob(os.path.join(MODELS_DIR, "*.model3")))


class TileEmbeddingsProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Tile Embeddings"

    def longName(self):  # noqa: N802
        return self.tr("Tile Embeddings: tiles, CNN embeddings, similarity search, tiled segmentation")

    def icon(self):
        return QIcon(self.svgIconPath())

    def svgIconPath(self):  # noqa: N802
        return icon_path("tile_embeddings.svg")

    def load(self):
        # A model finds its steps in the processing registry, which lists this provider only
        # after load() returns: the workflows are loaded again once it does.
        QgsApplication.processingRegistry().providerAdded.connect(self._registered)
        return super().load()

    def unload(self):
        self._disconnect()
        super().unload()

    def _disconnect(self):
        registry = QgsApplication.processingRegistry()
        if registry is None:  # QGIS 3.44 unloads the providers while it destroys the registry
            return
        try:
            registry.providerAdded.disconnect(self._registered)
        except TypeError:  # not connected
            pass

    def _registered(self, provider_id):
        if provider_id == self.id():
            self._disconnect()
            self.refreshAlgorithms()

    def _models_can_load(self):
        return QgsApplication.processingRegistry().providerById(self.id()) is self

    def loadAlgorithms(self):  # noqa: N802
        for module_name, class_name in ALGORITHMS:
            try:
                module = importlib.import_module(f"{__package__}.{module_name}")
                self.addAlgorithm(getattr(module, class_name)())
            except Exception as e:  # one broken algorithm must not hide the others
                self._log(self.tr("Could not load algorithm {}.{}: {}").format(module_name, class_name, e))
        if not self._models_can_load():
            return
        for path in shipped_model_paths():
            try:
                self.addAlgorithm(ShippedModel(path))
            except Exception as e:
                self._log(self.tr("Could not load the workflow {}: {}").format(os.path.basename(path), e))

    @staticmethod
    def _log(message):
        QgsMessageLog.logMessage(message, "Tile Embeddings", Qgis.MessageLevel.Critical)
