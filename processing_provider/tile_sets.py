"""Adapter helpers shared by the raster-preparation algorithms: reading a tile-index layer.

The tile index may be any vector layer QGIS can read (the GeoPackage written by *Split raster
into tiles*, a copy in another format, a selection of it): its features become plain dicts for
the engine, which never sees a QGIS object.
"""

from qgis.core import Qgis, QgsFeatureRequest, QgsProcessingException
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

INDEX_FIELDS = ("tile_id", "row", "col", "path", "valid_fraction", "center_x", "center_y")

GROUP = QT_TRANSLATE_NOOP("TileEmbeddingsAlgorithm", "Raster preparation")
GROUP_ID = "rasterprep"


# module-level messages, under the base algorithm's context (pylupdate6 reads translate("context", ...))
translate = QCoreApplication.translate


def records_from_source(source, parameter_label, feedback=None):
    """Records (dicts with the index fields and ``wkt``) from a tile-index feature source."""
    names = source.fields().names()
    if "path" not in names:
        raise QgsProcessingException(
            translate(
                "TileEmbeddingsAlgorithm",
                "{}: the layer has no 'path' field, so it is not a tile index. Make one with "
                "'Split raster into tiles', or give a folder of tiles instead."
            ).format(parameter_label)
        )
    wanted = [n for n in INDEX_FIELDS if n in names]
    records = []
    for feature in source.getFeatures(QgsFeatureRequest()):
        if feedback is not None and feedback.isCanceled():
            break
        rec = {}
        for name in wanted:
            value = feature[name]
            rec[name] = None if value is None or value == "" or _is_null(value) else value
        geom = feature.geometry()
        rec["wkt"] = geom.asWkt(17) if geom is not None and not geom.isNull() else None
        if rec.get("path"):
            records.append(rec)
    return records


def _is_null(value):
    try:
        from qgis.PyQt.QtCore import QVariant

        return isinstance(value, QVariant) and value.isNull()
    except ImportError:  # pragma: no cover
        return False


def crs_wkt(crs):
    """A QgsCoordinateReferenceSystem as WKT for GDAL ('' when invalid)."""
    return crs.toWkt(Qgis.CrsWktVariant.Wkt2_2019) if crs is not None and crs.isValid() else ""


def raster_path(layer, parameter_label):
    """The file behind a raster layer (GDAL layers only)."""
    if layer is None:
        raise QgsProcessingException(
            translate("TileEmbeddingsAlgorithm", "{}: no raster layer given").format(parameter_label)
        )
    if layer.providerType() != "gdal":
        raise QgsProcessingException(
            translate(
                "TileEmbeddingsAlgorithm", "{}: '{}' is served by '{}'; save it as a GeoTIFF first (Export > Save As)."
            ).format(
                parameter_label, layer.name(), layer.providerType()
            )
        )
    return layer.source().split("|", 1)[0]
