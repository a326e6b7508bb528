"""tile_embeddings:classifytiles: find every tile of a kind from a few labelled examples.

Parameters in, one call of :func:`core.classifier.classify_tiles`, outputs out. The trained
classifier is saved to MODEL_OUTPUT, or when that is left empty beside the index as
``<index>/classifiers/classifier-<date>-<time>.json`` (+ ``.npy``), so that MODEL_INPUT can apply
it to another index built with the same model and preprocessing.
"""

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from .base import TileEmbeddingsAlgorithm
from .embed_tiles import GROUP, GROUP_ID

INSTALL = "Debian/Ubuntu: apt install python3-sklearn; OSGeo4W shell or macOS: pip install scikit-learn"


class ClassifyTilesAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "classifytiles"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Classify tiles (find all)")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INDEX = "INDEX"
    LABELS = "LABELS"
    LABEL_FIELD = "LABEL_FIELD"
    POSITIVE_CLASS = "POSITIVE_CLASS"
    POSITIVE_IDS = "POSITIVE_IDS"
    NEGATIVE_IDS = "NEGATIVE_IDS"
    MODEL_INPUT = "MODEL_INPUT"
    THRESHOLD = "THRESHOLD"
    BACKGROUND = "BACKGROUND"
    INCLUDE_CONSTANT = "INCLUDE_CONSTANT"
    OUTPUT = "OUTPUT"
    DETECTIONS = "DETECTIONS"
    PROBABILITY_RASTER = "PROBABILITY_RASTER"
    MODEL_OUTPUT = "MODEL_OUTPUT"
    DETECTION_COUNT = "DETECTION_COUNT"
    DETECTED_TILES = "DETECTED_TILES"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(
            self.INDEX, self.tr("Similarity index (folder from 'Embed tiles')"),
            Qgis.ProcessingFileParameterBehavior.Folder))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.LABELS, self.tr("Labelled places (points or polygons)"),
            [Qgis.ProcessingSourceType.VectorPoint, Qgis.ProcessingSourceType.VectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.LABEL_FIELD, self.tr("Label field"), "label", self.LABELS, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.POSITIVE_CLASS, self.tr("Positive class (when the labels are class names)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.POSITIVE_IDS, self.tr("…or positive tile ids (comma-separated)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.NEGATIVE_IDS, self.tr("Negative tile ids (comma-separated)"), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL_INPUT, self.tr("…or apply a saved classifier instead of training"),
            Qgis.ProcessingFileParameterBehavior.File, "json", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.THRESHOLD, self.tr("Detection threshold (probability)"), Qgis.ProcessingNumberParameterType.Double,
            0.5, minValue=0.0, maxValue=1.0))
        background = QgsProcessingParameterNumber(
            self.BACKGROUND, self.tr("Background tiles used as negatives when none are labelled"),
            Qgis.ProcessingNumberParameterType.Integer, 2000, minValue=0)
        background.setFlags(background.flags() | Qgis.ProcessingParameterFlag.Advanced)
        self.addParameter(background)
        constant = QgsProcessingParameterBoolean(
            self.INCLUDE_CONSTANT,
            self.tr("Include constant tiles (every valid pixel the same value: fill, blank) in the results"),
            False)
        constant.setFlags(constant.flags() | Qgis.ProcessingParameterFlag.Advanced)
        self.addParameter(constant)
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Probability of every tile"), Qgis.ProcessingSourceType.VectorPolygon))
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.DETECTIONS, self.tr("Detections"), Qgis.ProcessingSourceType.VectorPolygon))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.PROBABILITY_RASTER, self.tr("Probability raster (one cell per tile)"), optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.MODEL_OUTPUT, self.tr("Trained classifier (default: beside the index)"),
            self.tr("Tile Embeddings classifier (*.json)"), optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.DETECTION_COUNT, self.tr("Number of detections")))
        self.addOutput(QgsProcessingOutputNumber(self.DETECTED_TILES, self.tr("Number of tiles detected")))

    def canExecute(self):  # noqa: N802
        from ..core.models import missing_modules

        if missing_modules(("sklearn",)):
            return False, self.tr("Needs the Python package scikit-learn ({}).").format(INSTALL)
        return True, ""

    # -- helpers --------------------------------------------------------------------------------
    def _labelled_geometries(self, source, field, index_crs, context, feedback):
        """``(wkt in the index CRS, label value)`` for every feature of the labels layer."""
        label = self.describe_parameter(self.LABELS)
        if not field:
            raise QgsProcessingException(
                self.tr("{}: choose the field that holds the labels.").format(
                    self.describe_parameter(self.LABEL_FIELD)))
        if source.fields().lookupField(field) < 0:
            raise QgsProcessingException(
                self.tr("{}: the layer has no field '{}' (fields: {}).").format(
                    self.describe_parameter(self.LABEL_FIELD), field, ", ".join(source.fields().names())))
        src_crs = source.sourceCrs()
        if not src_crs.isValid() or not index_crs.isValid():
            raise QgsProcessingException(
                self.tr("{}: the layer or the index has no CRS, so the places cannot be put on the tiles; "
                        "set the layer's CRS, or give tile ids instead.").format(label))
        transform = QgsCoordinateTransform(src_crs, index_crs, context.transformContext())
        pairs = []
        request = QgsFeatureRequest().setSubsetOfAttributes([field], source.fields())
        for feature in source.getFeatures(request):
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr("Canceled: no output was written."))
            geom = feature.geometry()
            if geom is None or geom.isNull():
                continue
            if src_crs != index_crs:
                try:
                    geom.transform(transform)
                except QgsCsException as e:
                    raise QgsProcessingException(
                        self.tr("{}: cannot transform the places from {} to the index CRS {} ({}); "
                                "reproject the layer.").format(label, src_crs.userFriendlyIdentifier(),
                                                               index_crs.userFriendlyIdentifier(), e)) from e
            value = feature[field]
            pairs.append((geom.asWkt(17), None if value is None or str(value) == "NULL" else value))
        if not pairs:
            raise QgsProcessingException(self.tr("{}: the layer has no features with a geometry.").format(label))
        return pairs

    # -- run ------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        from ..core.classifier import classify_tiles
        from ..core.index import open_index

        index = self.run_core(open_index, self.parameterAsFile(parameters, self.INDEX, context))
        index_crs = (QgsCoordinateReferenceSystem.fromWkt(index.crs_wkt) if index.crs_wkt
                     else QgsCoordinateReferenceSystem())
        model_input = self.parameterAsFile(parameters, self.MODEL_INPUT, context)
        geometries = []
        source = self.parameterAsSource(parameters, self.LABELS, context)
        if source is not None and not model_input:
            field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
            geometries = self._labelled_geometries(source, field, index_crs, context, feedback)
        raster = self.parameterAsOutputLayer(parameters, self.PROBABILITY_RASTER, context)
        result = self.run_core(
            classify_tiles,
            index,
            positive_ids=self.parameterAsString(parameters, self.POSITIVE_IDS, context),
            negative_ids=self.parameterAsString(parameters, self.NEGATIVE_IDS, context),
            labelled_geometries=geometries,
            positive_class=self.parameterAsString(parameters, self.POSITIVE_CLASS, context) or None,
            model_input=model_input or None,
            threshold=self.parameterAsDouble(parameters, self.THRESHOLD, context),
            background=self.parameterAsInt(parameters, self.BACKGROUND, context),
            probabilities_path=self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
            detections_path=self.parameterAsOutputLayer(parameters, self.DETECTIONS, context),
            raster_path=raster or None,
            model_output=self.parameterAsFileOutput(parameters, self.MODEL_OUTPUT, context) or None,
            include_constant=self.parameterAsBoolean(parameters, self.INCLUDE_CONSTANT, context),
            progress=self.progress(feedback),
        )
        for line in result.log:
            feedback.pushInfo(line)
        if result.labels is not None and result.labels.outside:
            feedback.pushWarning(self.tr("{} labelled places fall outside the index's tiles and were ignored.")
                                 .format(result.labels.outside))
        if result.constant_hidden:
            feedback.pushInfo(self.tr("{} constant tiles (fill, blank) were left out: no probability, never "
                                      "detected ({} keeps them).").format(
                result.constant_hidden, self.describe_parameter(self.INCLUDE_CONSTANT)))
        if result.trained and result.classifier.quality.get("balanced_accuracy") is None:
            feedback.pushWarning(result.classifier.quality.get("text", ""))
        out = result.outputs
        results = {
            self.OUTPUT: out["probabilities"],
            self.DETECTIONS: out["detections"],
            self.DETECTION_COUNT: len(result.detections),
            self.DETECTED_TILES: int(sum(d.tile_count for d in result.detections)),
        }
        if "raster" in out:
            results[self.PROBABILITY_RASTER] = out["raster"]
        results[self.MODEL_OUTPUT] = out.get("model", model_input)
        return results
