"""tile_embeddings:exportonnx: a backbone exported once to ONNX, for onnxruntime (no torch needed)."""

from qgis.core import (
    Qgis,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.models import EXPORT_INSTALL, FEATURES, SUPPORTED_MODELS, missing_modules
from .base import TileEmbeddingsAlgorithm
from .embed_tiles import GROUP, GROUP_ID, _layer_file


class ExportOnnxAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "exportonnx"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Export model to ONNX")
    GROUP = GROUP
    GROUP_ID = GROUP_ID
    ICON = "embedtiles.svg"

    MODEL = "MODEL"
    WEIGHTS = "WEIGHTS"
    FEATURES = "FEATURES"
    CHECK_RASTER = "CHECK_RASTER"
    BANDS = "BANDS"
    OUTPUT = "OUTPUT"
    MIN_COSINE = "MIN_COSINE"

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterEnum(
                self.MODEL,
                self.tr("Model"),
                list(SUPPORTED_MODELS),
                defaultValue="mobilenet_v2",
                usesStaticStrings=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.WEIGHTS,
                self.tr("Weights file (empty: the model's ImageNet weights; or a state dict or TorchScript file)"),
                optional=True,
                fileFilter=self.tr("PyTorch (*.pth *.pt *.pth.tar *.ckpt);;All files (*)"),
            )
        )
        # the export computes one FEATURES value: an index is searched with the export of its own
        self.addParameter(
            QgsProcessingParameterEnum(
                self.FEATURES,
                self.tr("Features (as 'Embed tiles' computes them; auto: mid+final, final for a TorchScript file)"),
                ["auto", *FEATURES],
                defaultValue="auto",
                usesStaticStrings=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.CHECK_RASTER, self.tr("Check the export on tiles of this raster"), optional=True
            )
        )
        bands = QgsProcessingParameterString(self.BANDS, self.tr("Band order of that raster"), "1,2,3")
        bands.setFlags(bands.flags() | Qgis.ProcessingParameterFlag.Advanced)
        self.addParameter(bands)
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT,
                self.tr("ONNX file (empty: beside torchvision's weights, where 'Embed tiles' finds it)"),
                "ONNX (*.onnx)",
                optional=True,
                createByDefault=False,
            )
        )
        self.addOutput(
            QgsProcessingOutputNumber(self.MIN_COSINE, self.tr("Lowest cosine, onnxruntime vs torch, on the tiles"))
        )

    def canExecute(self):  # noqa: N802
        missing = missing_modules(("torch", "torchvision", "onnx"))
        if missing:
            return False, self.tr("Exporting needs the Python package(s) {} ({}).").format(
                ", ".join(missing), EXPORT_INSTALL
            )
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.onnx_export import export_onnx, tiles_from_raster

        progress = self.progress(feedback)
        raster = _layer_file(
            self.parameterAsRasterLayer(parameters, self.CHECK_RASTER, context),
            self.describe_parameter(self.CHECK_RASTER),
            ("gdal",),
        ).split("|", 1)[0]
        tiles = None
        if raster:
            bands = self.parameterAsString(parameters, self.BANDS, context)
            tiles = self.run_core(tiles_from_raster, raster, bands)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context) or None
        path, report = self.run_core(
            export_onnx,
            self.parameterAsEnumString(parameters, self.MODEL, context) or "mobilenet_v2",
            self.parameterAsFile(parameters, self.WEIGHTS, context) or None,
            output,
            check_tiles=tiles,
            progress=progress,
            features=self.parameterAsEnumString(parameters, self.FEATURES, context) or "auto",
        )
        feedback.pushInfo(report["text"])
        results = {self.OUTPUT: path}
        if "min_cosine" in report:
            results[self.MIN_COSINE] = report["min_cosine"]
        return results
