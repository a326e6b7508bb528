"""tile_embeddings:bboxmask: clip a raster to the bounding box of a study area."""

from qgis.core import (
    Qgis,
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingParameterDistance,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..core.bbox import bbox_mask
from .base import TileEmbeddingsAlgorithm
from .tile_sets import GROUP, GROUP_ID, crs_wkt, raster_path


class BboxMaskAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "bboxmask"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Clip raster to study-area extent")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INPUT = "INPUT"
    STUDY_AREA = "STUDY_AREA"
    BUFFER = "BUFFER"
    OUTPUT = "OUTPUT"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.STUDY_AREA, self.tr("Study area"), [Qgis.ProcessingSourceType.VectorAnyGeometry]
            )
        )
        self.addParameter(
            QgsProcessingParameterDistance(
                self.BUFFER, self.tr("Buffer around the study-area extent"), 0.0, self.INPUT
            )
        )
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Clipped raster")))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        src = raster_path(layer, self.describe_parameter(self.INPUT))
        source = self.parameterAsSource(parameters, self.STUDY_AREA, context)
        if source is None:
            raise QgsProcessingException(
                self.tr("{}: no layer given").format(self.describe_parameter(self.STUDY_AREA))
            )
        extent = QgsRectangle()
        extent.setNull()
        request = QgsFeatureRequest().setNoAttributes()
        for feature in source.getFeatures(request):  # honours "selected features only"
            if feature.hasGeometry():
                extent.combineExtentWith(feature.geometry().boundingBox())
        if extent.isNull():
            raise QgsProcessingException(
                self.tr("{}: the layer has no geometry to take an extent from").format(
                    self.describe_parameter(self.STUDY_AREA)
                )
            )
        buffer = self.parameterAsDouble(parameters, self.BUFFER, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = self.run_core(
            bbox_mask,
            src,
            out,
            (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()),
            bbox_crs=crs_wkt(source.sourceCrs()) or None,
            buffer=buffer,
            progress=self.progress(feedback),
        )
        xoff, yoff, xs, ys = result["window"]
        feedback.pushInfo(self.tr("Clipped window: {} x {} px at pixel ({}, {})").format(xs, ys, xoff, yoff))
        return {self.OUTPUT: out}
