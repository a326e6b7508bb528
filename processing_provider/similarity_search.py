"""tile_embeddings:similaritysearch: the k tiles of an index most similar to a query."""

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QMetaType

from ..core.models import INSTALL_HINT, available_runtimes, missing_modules
from .base import TileEmbeddingsAlgorithm
from .embed_tiles import GROUP, GROUP_ID


class SimilaritySearchAlgorithm(TileEmbeddingsAlgorithm):
    NAME = "similaritysearch"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Similarity search")
    GROUP = GROUP
    GROUP_ID = GROUP_ID

    INDEX = "INDEX"
    QUERY_IDS = "QUERY_IDS"
    NEGATIVE_IDS = "NEGATIVE_IDS"
    QUERY_LAYER = "QUERY_LAYER"
    QUERY_IMAGE = "QUERY_IMAGE"
    QUERY_EXTENT = "QUERY_EXTENT"
    K = "K"
    NEGATIVE_WEIGHT = "NEGATIVE_WEIGHT"
    EXCLUDE_QUERY = "EXCLUDE_QUERY"
    INCLUDE_CONSTANT = "INCLUDE_CONSTANT"
    OUTPUT = "OUTPUT"
    SCORES = "SCORES"

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFile(
                self.INDEX,
                self.tr("Similarity index (folder from 'Embed tiles')"),
                Qgis.ProcessingFileParameterBehavior.Folder,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.QUERY_IDS, self.tr("Query tile ids (positives, comma-separated)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.NEGATIVE_IDS, self.tr("Negative tile ids (comma-separated)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.QUERY_LAYER,
                self.tr("…or query features (points/polygons pick the tiles under them)"),
                [Qgis.ProcessingSourceType.VectorPoint, Qgis.ProcessingSourceType.VectorPolygon],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.QUERY_IMAGE,
                self.tr("…or an image not in the index (embedded with the index's model)"),
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterExtent(
                self.QUERY_EXTENT,
                self.tr("Area of the query image (default: the whole image)"),
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.K,
                self.tr("Number of results (k)"),
                Qgis.ProcessingNumberParameterType.Integer,
                10,
                minValue=1,
            )
        )
        weight = QgsProcessingParameterNumber(
            self.NEGATIVE_WEIGHT,
            self.tr("Weight of the negatives"),
            Qgis.ProcessingNumberParameterType.Double,
            1.0,
            minValue=0.0,
        )
        weight.setFlags(weight.flags() | Qgis.ProcessingParameterFlag.Advanced)
        self.addParameter(weight)
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.EXCLUDE_QUERY, self.tr("Leave the query tiles out of the results"), False
            )
        )
        constant = QgsProcessingParameterBoolean(
            self.INCLUDE_CONSTANT,
            self.tr("Include constant tiles (every valid pixel the same value: fill, blank) in the results"),
            False,
        )
        constant.setFlags(constant.flags() | Qgis.ProcessingParameterFlag.Advanced)
        self.addParameter(constant)
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, self.tr("Similar tiles"), Qgis.ProcessingSourceType.VectorPolygon
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.SCORES,
                self.tr("Score of every tile (heatmap)"),
                Qgis.ProcessingSourceType.VectorPolygon,
                optional=True,
                createByDefault=False,
            )
        )

    def canExecute(self):  # noqa: N802
        missing = missing_modules(("faiss",))
        if not available_runtimes():
            missing.append(self.tr("onnxruntime or torch"))
        if missing:
            # still runs: numpy exact search without faiss; a runtime only for query images
            return True, self.tr("Optional package(s) {} missing ({}).").format(
                ", ".join(missing), INSTALL_HINT
            )
        return True, ""

    # -- helpers --------------------------------------------------------------------------------
    def _query_geometries(self, source, index_crs, context, feedback):
        """The query features' geometries as WKT in the index CRS, or a message saying why not."""
        label = self.describe_parameter(self.QUERY_LAYER)
        src_crs = source.sourceCrs()
        if not src_crs.isValid():
            raise QgsProcessingException(
                self.tr(
                    "{}: the layer has no CRS, so its features cannot be placed on the "
                    "index's tiles. Set the layer's CRS."
                ).format(label)
            )
        if not index_crs.isValid():
            raise QgsProcessingException(
                self.tr(
                    "{}: the index has no CRS, so query features cannot be placed on "
                    "its tiles; give tile ids instead."
                ).format(label)
            )
        transform = QgsCoordinateTransform(src_crs, index_crs, context.transformContext())
        if src_crs != index_crs and not transform.isValid():
            raise QgsProcessingException(
                self._cannot_transform(label, src_crs, index_crs, self.tr("no transformation exists"))
            )
        wkts = []
        for feature in source.getFeatures(QgsFeatureRequest()):
            if feedback.isCanceled():
                break
            geom = feature.geometry()
            if geom is None or geom.isNull():
                continue
            if src_crs != index_crs:
                try:
                    geom.transform(transform)
                except QgsCsException as e:
                    raise QgsProcessingException(
                        self._cannot_transform(label, src_crs, index_crs, str(e))
                    ) from e
            wkts.append(geom.asWkt(17))
        if not wkts:
            raise QgsProcessingException(self.tr("{}: the layer has no features with a geometry.").format(label))
        return wkts

    @staticmethod
    def _cannot_transform(label, src, dst, why):
        return QCoreApplication.translate(
            "SimilaritySearchAlgorithm",
            "{}: cannot transform the query features from {} to the index CRS {} ({}). "
            "Reproject the query layer to the index CRS, or give tile ids instead.",
        ).format(label, src.userFriendlyIdentifier(), dst.userFriendlyIdentifier(), why)

    def _fields(self):
        fields = QgsFields()
        fields.append(QgsField("rank", QMetaType.Type.Int))
        fields.append(QgsField("score", QMetaType.Type.Double))
        fields.append(QgsField("tile_id", QMetaType.Type.QString))
        fields.append(QgsField("row", QMetaType.Type.Int))
        fields.append(QgsField("col", QMetaType.Type.Int))
        fields.append(QgsField("query", QMetaType.Type.QString))
        return fields

    # -- run ------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):
        from ..core.index import open_index
        from ..core.search import have_faiss, run_query

        index = self.run_core(open_index, self.parameterAsFile(parameters, self.INDEX, context))
        index_crs = (
            QgsCoordinateReferenceSystem.fromWkt(index.crs_wkt)
            if index.crs_wkt
            else QgsCoordinateReferenceSystem()
        )
        geometries = []
        source = self.parameterAsSource(parameters, self.QUERY_LAYER, context)
        if source is not None:
            geometries = self._query_geometries(source, index_crs, context, feedback)
        images = []
        image = self.parameterAsRasterLayer(parameters, self.QUERY_IMAGE, context)
        if image is not None:
            if image.providerType() != "gdal":
                raise QgsProcessingException(
                    self.tr("{}: save the image to a file.").format(self.describe_parameter(self.QUERY_IMAGE))
                )
            bbox = None
            if parameters.get(self.QUERY_EXTENT):
                r = self.parameterAsExtent(parameters, self.QUERY_EXTENT, context, image.crs())
                bbox = (r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum())
            images.append((image.source().split("|", 1)[0], bbox, image.name()))
        if not have_faiss():
            feedback.pushWarning(
                self.tr("faiss is not installed: using exact numpy search ({}).").format(INSTALL_HINT)
            )
        index, result, scores = self.run_core(
            run_query,
            index,
            positive_ids=self.parameterAsString(parameters, self.QUERY_IDS, context),
            negative_ids=self.parameterAsString(parameters, self.NEGATIVE_IDS, context),
            k=self.parameterAsInt(parameters, self.K, context),
            negative_weight=self.parameterAsDouble(parameters, self.NEGATIVE_WEIGHT, context),
            exclude_query=self.parameterAsBoolean(parameters, self.EXCLUDE_QUERY, context),
            query_geometries=geometries,
            images=images,
            with_scores=self.SCORES in parameters and parameters[self.SCORES] is not None,
            progress=self.progress(feedback),
            include_constant=self.parameterAsBoolean(parameters, self.INCLUDE_CONSTANT, context),
        )
        feedback.pushInfo(self.tr("query: {}").format(result.description))

        tiles = QgsVectorLayer(f"{index.tiles_path}|layername=tiles", "tiles", "ogr")
        if not tiles.isValid():
            raise QgsProcessingException(
                self.tr("{}: cannot read {}").format(self.describe_parameter(self.INDEX), index.tiles_path)
            )
        fields = self._fields()
        sink, dest = self.parameterAsSink(
            parameters, self.OUTPUT, context, fields, Qgis.WkbType.Polygon, index_crs
        )
        by_fid = {
            int(r) + 1: (rank, float(s)) for rank, (r, s) in enumerate(zip(result.rows, result.scores), 1)
        }
        found = {}
        for f in tiles.getFeatures(QgsFeatureRequest().setFilterFids(list(by_fid))):
            found[f.id()] = f
        for fid, (rank, score) in sorted(by_fid.items(), key=lambda kv: kv[1][0]):
            src = found.get(fid)
            if src is None or src["tile_id"] != index.ids[fid - 1]:
                raise QgsProcessingException(
                    self.tr("{}: tiles.gpkg does not match the embeddings (rebuild the index).").format(
                        self.describe_parameter(self.INDEX)
                    )
                )
            out = QgsFeature(fields)
            out.setGeometry(src.geometry())
            out.setAttributes([rank, score, src["tile_id"], src["row"], src["col"], result.description])
            sink.addFeature(out, QgsFeatureSink.Flag.FastInsert)
        results = {self.OUTPUT: dest}

        if scores is not None:
            score_fields = QgsFields()
            for f in ("score", "tile_id"):
                score_fields.append(self._fields().field(f))
            ssink, sdest = self.parameterAsSink(
                parameters, self.SCORES, context, score_fields, Qgis.WkbType.Polygon, index_crs
            )
            if ssink is not None:
                total = max(len(index), 1)
                for i, f in enumerate(tiles.getFeatures()):
                    if i % 1000 == 0:
                        if feedback.isCanceled():
                            raise QgsProcessingException(self.tr("Canceled: no output was written."))
                        feedback.setProgress(100.0 * i / total)
                    out = QgsFeature(score_fields)
                    out.setGeometry(f.geometry())
                    score = float(scores[f.id() - 1])  # NaN: a constant tile, left out (NULL)
                    out.setAttributes([score if score == score else None, f["tile_id"]])
                    ssink.addFeature(out, QgsFeatureSink.Flag.FastInsert)
                results[self.SCORES] = sdest
        return results
