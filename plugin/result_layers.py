"""The map side of a similarity session: query, results and heatmap layers and their styles."""

from qgis.core import (
    Qgis,
    QgsCategorizedSymbolRenderer,
    QgsClassificationQuantile,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsField,
    QgsFillSymbol,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsPalLayerSettings,
    QgsProject,
    QgsRendererCategory,
    QgsRendererRange,
    QgsStyle,
    QgsTextFormat,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import QMetaType
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QApplication

GROUP_NAME = "Tile Embeddings"
RESULTS_NAME = "Similar tiles"
QUERY_NAME = "Query tiles"
HEATMAP_NAME = "Similarity heatmap"


def memory_layer(name, crs_wkt, fields):
    """An empty polygon memory layer in ``crs_wkt`` with ``fields`` ((name, QMetaType.Type) pairs)."""
    layer = QgsVectorLayer("Polygon", name, "memory")
    layer.setCrs(QgsCoordinateReferenceSystem.fromWkt(crs_wkt))
    provider = layer.dataProvider()
    provider.addAttributes([QgsField(n, t) for n, t in fields])
    layer.updateFields()
    return layer


def _outline(color, width, fill_alpha=0):
    fill = QColor(color)
    fill.setAlpha(fill_alpha)
    return QgsFillSymbol.createSimple({
        "color": fill.name(QColor.NameFormat.HexArgb),
        "outline_color": QColor(color).name(),
        "outline_width": str(width),
        "outline_width_unit": "MM",
    })


def style_query(layer):
    """Query tiles: cyan outline for positives, red for negatives (field ``role``)."""
    categories = [
        QgsRendererCategory("positive", _outline("#00e5ff", 1.2, 40), "Query (positive)"),
        QgsRendererCategory("negative", _outline("#ff1744", 1.2, 40), "Negative example"),
    ]
    layer.setRenderer(QgsCategorizedSymbolRenderer("role", categories))


def style_results(layer, ramp_name="Viridis"):
    """Results coloured by rank (field ``rank``) and labelled ``rank: score``."""
    ramp = QgsStyle.defaultStyle().colorRamp(ramp_name) or QgsGradientColorRamp(
        QColor("#fde725"), QColor("#440154"))
    ranges = []
    bounds = [(1, 1), (2, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, 1_000_000)]
    for i, (lo, hi) in enumerate(bounds):
        color = ramp.color(i / (len(bounds) - 1))
        if lo == hi:
            label = f"rank {lo}"
        else:
            label = f"rank {lo}-{hi}" if hi < 1_000_000 else f"rank > {lo - 1}"
        ranges.append(QgsRendererRange(lo - 0.5, hi + 0.5, _outline(color.name(), 0.9, 70), label))
    layer.setRenderer(QgsGraduatedSymbolRenderer("rank", ranges))
    settings = QgsPalLayerSettings()
    settings.isExpression = True
    settings.fieldName = "concat(rank, ': ', format_number(score, 3))"
    settings.placement = Qgis.LabelPlacement.OverPoint
    text = QgsTextFormat()
    text.setFont(QApplication.font())  # an installed font: QGIS would try to download Open Sans
    text.setSize(8)
    text.setColor(QColor("#ffffff"))
    buffer = text.buffer()
    buffer.setEnabled(True)
    buffer.setColor(QColor("#000000"))
    buffer.setSize(0.8)
    text.setBuffer(buffer)
    settings.setFormat(text)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


def style_heatmap(layer):
    """Every tile filled by its ``score``: 10 quantile classes, blue (low) to red (high)."""
    ramp = QgsStyle.defaultStyle().colorRamp("Spectral")
    if ramp is not None:
        ramp.invert()
    symbol = QgsFillSymbol.createSimple({"outline_style": "no"})
    renderer = QgsGraduatedSymbolRenderer("score")
    renderer.setSourceSymbol(symbol)
    if ramp is not None:
        renderer.setSourceColorRamp(ramp)
    renderer.setClassificationMethod(QgsClassificationQuantile())
    renderer.updateClasses(layer, 10)
    layer.setRenderer(renderer)
    layer.setOpacity(0.6)


class ResultLayers:
    """Creates the session's layers on demand (re-creating any the user removed) and fills them."""

    def __init__(self, project=None, ramp_name="Viridis"):
        self.project = project or QgsProject.instance()
        self.ramp_name = ramp_name
        self._ids = {}

    # -- bookkeeping --------------------------------------------------------------------------
    def layer(self, name):
        layer_id = self._ids.get(name)
        return self.project.mapLayer(layer_id) if layer_id else None

    def _group(self):
        root = self.project.layerTreeRoot()
        group = root.findGroup(GROUP_NAME)
        if group is None:
            group = root.insertGroup(0, GROUP_NAME)
        return group

    def _ensure(self, name, crs_wkt, fields, style):
        layer = self.layer(name)
        if layer is None:
            layer = memory_layer(name, crs_wkt, fields)
            style(layer)
            self.project.addMapLayer(layer, False)
            self._group().insertLayer(0, layer)
            self._ids[name] = layer.id()
        return layer

    @staticmethod
    def _replace_features(layer, features):
        provider = layer.dataProvider()
        provider.truncate()
        provider.addFeatures(features)
        layer.updateExtents()
        layer.triggerRepaint()

    def remove_all(self):
        for name in list(self._ids):
            layer = self.layer(name)
            if layer is not None:
                self.project.removeMapLayer(layer.id())
        self._ids = {}
        root = self.project.layerTreeRoot()
        group = root.findGroup(GROUP_NAME)
        if group is not None and not group.children():
            root.removeChildNode(group)

    # -- query tiles --------------------------------------------------------------------------
    def show_query(self, crs_wkt, geometries, positives, negatives):
        layer = self._ensure(QUERY_NAME, crs_wkt,
                             [("tile_id", QMetaType.Type.QString), ("role", QMetaType.Type.QString)],
                             style_query)
        features = []
        for role, ids in (("positive", positives), ("negative", negatives)):
            for tile_id in ids:
                f = QgsFeature(layer.fields())
                f.setGeometry(geometries[tile_id])
                f.setAttributes([tile_id, role])
                features.append(f)
        self._replace_features(layer, features)
        return layer

    # -- results ------------------------------------------------------------------------------
    def show_results(self, crs_wkt, geometries, ids, scores):
        layer = self._ensure(RESULTS_NAME, crs_wkt,
                             [("rank", QMetaType.Type.Int), ("score", QMetaType.Type.Double),
                              ("tile_id", QMetaType.Type.QString)],
                             lambda lyr: style_results(lyr, self.ramp_name))
        features = []
        for rank, (tile_id, score) in enumerate(zip(ids, scores), 1):
            f = QgsFeature(layer.fields())
            f.setGeometry(geometries[tile_id])
            f.setAttributes([rank, float(score), tile_id])
            features.append(f)
        self._replace_features(layer, features)
        return layer

    # -- heatmap ------------------------------------------------------------------------------
    def show_heatmap(self, crs_wkt, geometries, ids, scores):
        layer = self._ensure(HEATMAP_NAME, crs_wkt,
                             [("tile_id", QMetaType.Type.QString), ("score", QMetaType.Type.Double)],
                             lambda lyr: None)
        features = []
        for tile_id, score in zip(ids, scores):
            f = QgsFeature(layer.fields())
            f.setGeometry(geometries[tile_id])
            f.setAttributes([tile_id, float(score)])
            features.append(f)
        self._replace_features(layer, features)
        style_heatmap(layer)
        layer.triggerRepaint()
        return layer

    def hide_heatmap(self):
        layer = self.layer(HEATMAP_NAME)
        if layer is not None:
            self.project.removeMapLayer(layer.id())
        self._ids.pop(HEATMAP_NAME, None)
