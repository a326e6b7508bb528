"""The map side of a similarity session: query, results and heatmap layers and their styles."""

import numpy as np
from qgis.core import (
    Qgis,
    QgsCategorizedSymbolRenderer,
    QgsClassificationQuantile,
    QgsColorRampLegendNodeSettings,
    QgsColorRampShader,
    QgsCoordinateReferenceSystem,
    QgsDataProvider,
    QgsFeature,
    QgsField,
    QgsFillSymbol,
    QgsGeometry,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsPalLayerSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRendererCategory,
    QgsRendererRange,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
    QgsTextFormat,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import QCoreApplication, QMetaType
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QApplication

from ..core.tile_grid import NODATA

# layer and legend names, in QGIS's interface language (this module is imported after the plugin
# has installed its translator)
translate = QCoreApplication.translate
GROUP_NAME = "Tile Embeddings"  # the plugin's name, as in the Plugins menu
RESULTS_NAME = translate("ResultLayers", "Similar tiles")
QUERY_NAME = translate("ResultLayers", "Query tiles")
HEATMAP_NAME = translate("ResultLayers", "Similarity heatmap")
PROBABILITY_NAME = translate("ResultLayers", "Find all: probability")
DETECTIONS_NAME = translate("ResultLayers", "Find all: detections")


def memory_layer(name, crs_wkt, fields):
    """An empty polygon memory layer in ``crs_wkt`` with ``fields`` ((name, QMetaType.Type) pairs)."""
    layer = QgsVectorLayer("Polygon", name, "memory")
    layer.setCrs(QgsCoordinateReferenceSystem.fromWkt(crs_wkt))
    provider = layer.dataProvider()
    provider.addAttributes([QgsField(n, t) for n, t in fields])
    layer.updateFields()
    return layer


def write_gpkg(layer, path, layer_name, transform_context):
    """Write ``layer`` to the GeoPackage ``path`` atomically: under a temporary name, renamed when
    complete, so a failed write leaves neither a half file nor a damaged older one."""
    import os

    from qgis.core import QgsVectorFileWriter

    tmp = path + ".part.gpkg"
    if os.path.exists(tmp):
        os.remove(tmp)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = layer_name
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, tmp, transform_context, options)
    if error != QgsVectorFileWriter.WriterError.NoError:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OSError(message)
    os.replace(tmp, path)
    return path


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
        QgsRendererCategory("positive", _outline("#00e5ff", 1.2, 40), translate("ResultLayers", "Query (positive)")),
        QgsRendererCategory("negative", _outline("#ff1744", 1.2, 40), translate("ResultLayers", "Negative example")),
    ]
    layer.setRenderer(QgsCategorizedSymbolRenderer("role", categories))


RANK_BOUNDS = [(1, 1), (2, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 1000)]
MORE_SIMILAR, LESS_SIMILAR = translate("ResultLayers", "more similar"), translate("ResultLayers", "less similar")


def rank_classes(k):
    """Rank classes for ``k`` results: the legend lists no class beyond rank k."""
    classes = []
    for lo, hi in RANK_BOUNDS:
        if lo > k:
            break
        classes.append((lo, min(hi, k)))
    return classes


def style_results(layer, ramp_name="Viridis", k=10):
    """Results coloured by rank (field ``rank``) and labelled ``rank: score``, every label shown."""
    ramp = QgsStyle.defaultStyle().colorRamp(ramp_name) or QgsGradientColorRamp(
        QColor("#fde725"), QColor("#440154"))
    classes = rank_classes(max(1, int(k)))
    ranges = []
    for i, (lo, hi) in enumerate(classes):
        color = ramp.color(i / max(1, len(classes) - 1))
        if lo == hi:
            label = translate("ResultLayers", "rank {}").format(lo)
        else:
            label = translate("ResultLayers", "rank {}-{}").format(lo, hi)
        ranges.append(QgsRendererRange(lo - 0.5, hi + 0.5, _outline(color.name(), 0.9, 70), label))
    layer.setRenderer(QgsGraduatedSymbolRenderer("rank", ranges))
    settings = QgsPalLayerSettings()
    settings.isExpression = True
    settings.fieldName = "concat(rank, ': ', format_number(score, 3))"
    settings.placement = Qgis.LabelPlacement.OverPoint
    # neighbouring result tiles are small on screen: their labels must not hide each other
    settings.placementSettings().setOverlapHandling(Qgis.LabelOverlapHandling.AllowOverlapAtNoCost)
    settings.placementSettings().setAllowDegradedPlacement(True)
    settings.priority = 10
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


def _heatmap_ramp():
    ramp = QgsStyle.defaultStyle().colorRamp("Spectral")
    if ramp is None:
        return QgsGradientColorRamp(QColor("#2b83ba"), QColor("#d7191c"))
    ramp.invert()  # blue = less similar, red = more similar
    return ramp


def heatmap_stops(scores, classes=10):
    """Score values at equal-count steps (quantiles): every colour covers about as many tiles."""
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if scores.size == 0:
        return [0.0, 1.0]
    stops = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, classes + 1)))
    if stops.size == 1:
        stops = np.array([stops[0] - 1e-6, stops[0] + 1e-6])
    return [float(v) for v in stops]


def style_heatmap_raster(layer, scores):
    """One cell per tile, continuous ramp with quantile stops; legend reads more / less similar."""
    stops = heatmap_stops(scores)
    ramp = _heatmap_ramp()
    function = QgsColorRampShader(stops[0], stops[-1], ramp.clone(), Qgis.ShaderInterpolationMethod.Linear)
    items = [QgsColorRampShader.ColorRampItem(v, ramp.color(i / (len(stops) - 1)), f"{v:.3f}")
             for i, v in enumerate(stops)]
    function.setColorRampItemList(items)
    legend = QgsColorRampLegendNodeSettings()
    legend.setUseContinuousLegend(True)
    legend.setMinimumLabel(LESS_SIMILAR)
    legend.setMaximumLabel(MORE_SIMILAR)
    legend.setDirection(QgsColorRampLegendNodeSettings.Direction.MaximumToMinimum)
    function.setLegendSettings(legend)
    shader = QgsRasterShader(stops[0], stops[-1])
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(stops[0])
    renderer.setClassificationMax(stops[-1])
    layer.setRenderer(renderer)
    layer.setOpacity(0.65)


def style_probability_raster(layer, threshold=0.5):
    """Probability 0..1: clear where unlikely, deep red where the classifier is sure."""
    function = QgsColorRampShader(0.0, 1.0, None, Qgis.ShaderInterpolationMethod.Linear)
    stops = [(0.0, QColor(255, 255, 178, 0)), (max(0.01, threshold - 0.2), QColor(254, 204, 92, 90)),
             (threshold, QColor(253, 141, 60, 170)), (1.0, QColor(189, 0, 38, 230))]
    function.setColorRampItemList([QgsColorRampShader.ColorRampItem(v, c, f"{v:.2f}") for v, c in stops])
    function.setSourceColorRamp(QgsGradientColorRamp(stops[0][1], stops[-1][1]))
    legend = QgsColorRampLegendNodeSettings()
    legend.setUseContinuousLegend(True)
    legend.setMinimumLabel(translate("ResultLayers", "unlikely (0)"))
    legend.setMaximumLabel(translate("ResultLayers", "likely (1)"))
    legend.setDirection(QgsColorRampLegendNodeSettings.Direction.MaximumToMinimum)
    function.setLegendSettings(legend)
    shader = QgsRasterShader(0.0, 1.0)
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(0.0)
    renderer.setClassificationMax(1.0)
    layer.setRenderer(renderer)


def style_probability_polygons(layer, threshold=0.5):
    ranges = []
    low = max(0.01, threshold - 0.2)
    bounds = [(0.0, low, QColor(255, 255, 178, 0), translate("ResultLayers", "unlikely")),
              (low, threshold, QColor(254, 204, 92, 110), translate("ResultLayers", "uncertain")),
              (threshold, 1.0, QColor(189, 0, 38, 200), translate("ResultLayers", "likely"))]
    for lo, hi, color, label in bounds:
        symbol = QgsFillSymbol.createSimple({"color": color.name(QColor.NameFormat.HexArgb), "outline_style": "no"})
        ranges.append(QgsRendererRange(lo, hi, symbol, f"{label} ({lo:.2f}-{hi:.2f})"))
    layer.setRenderer(QgsGraduatedSymbolRenderer("probability", ranges))


def style_detections(layer, threshold=0.5):
    symbol = _outline("#ff6d00", 0.8, 0)
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    layer.setName(f"{DETECTIONS_NAME} (p ≥ {threshold:.2f})")


def style_detection_cells(layer, threshold=0.5):
    """Detected cells filled orange: many scattered detections, drawn at raster speed."""
    function = QgsColorRampShader(0.0, 1.0, None, Qgis.ShaderInterpolationMethod.Discrete)
    color = QColor(255, 109, 0, 200)
    label = translate("ResultLayers", "detected (p ≥ {:.2f})").format(threshold)
    function.setColorRampItemList([QgsColorRampShader.ColorRampItem(1.0, color, label)])
    shader = QgsRasterShader(0.0, 1.0)
    shader.setRasterShaderFunction(function)
    layer.setRenderer(QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader))
    layer.setName(f"{DETECTIONS_NAME} (p ≥ {threshold:.2f})")


def style_heatmap(layer):
    """Polygons (tiles off any regular grid) filled by ``score``: 10 quantile classes, blue (low)
    to red (high), the extreme classes labelled less / more similar."""
    symbol = QgsFillSymbol.createSimple({"outline_style": "no"})
    renderer = QgsGraduatedSymbolRenderer("score")
    renderer.setSourceSymbol(symbol)
    renderer.setSourceColorRamp(_heatmap_ramp())
    renderer.setClassificationMethod(QgsClassificationQuantile())
    renderer.updateClasses(layer, 10)
    ranges = renderer.ranges()
    if ranges:
        renderer.updateRangeLabel(0, f"{ranges[0].label()} ({LESS_SIMILAR})")
        renderer.updateRangeLabel(len(ranges) - 1, f"{ranges[-1].label()} ({MORE_SIMILAR})")
    layer.setRenderer(renderer)
    layer.setOpacity(0.65)


class ResultLayers:
    """Creates the session's layers on demand (re-creating any the user removed) and fills them.

    Outlines (query, results) sit at the top of the group; the heatmap at its bottom, so it never
    hides them.
    """

    def __init__(self, project=None, ramp_name="Viridis"):
        self.project = project or QgsProject.instance()
        self.ramp_name = ramp_name
        self._ids = {}
        self._styled_k = None
        self._heatmap_dir = None
        self._heatmap_files = []

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

    def _add(self, name, layer, bottom=False):
        self.project.addMapLayer(layer, False)
        group = self._group()
        node = group.insertLayer(len(group.children()) if bottom else 0, layer)
        node.setExpanded(True)
        self._ids[name] = layer.id()

    def _ensure(self, name, crs_wkt, fields, style):
        layer = self.layer(name)
        if layer is None:
            layer = memory_layer(name, crs_wkt, fields)
            style(layer)
            self._add(name, layer)
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
            self._remove(name)
        root = self.project.layerTreeRoot()
        group = root.findGroup(GROUP_NAME)
        if group is not None and not group.children():
            root.removeChildNode(group)
        self._styled_k = None

    def _remove(self, name):
        layer = self.layer(name)
        if layer is not None:
            self.project.removeMapLayer(layer.id())
        self._ids.pop(name, None)

    def shutdown(self):
        """Remove the layers and the heatmap's temporary rasters."""
        self.remove_all()
        if self._heatmap_dir is not None:
            import shutil

            shutil.rmtree(self._heatmap_dir, ignore_errors=True)
            self._heatmap_dir = None
            self._heatmap_files = []

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
    def show_results(self, crs_wkt, geometries, ids, scores, k=10):
        layer = self._ensure(RESULTS_NAME, crs_wkt,
                             [("rank", QMetaType.Type.Int), ("score", QMetaType.Type.Double),
                              ("tile_id", QMetaType.Type.QString)],
                             lambda lyr: None)
        if self._styled_k != k:  # the legend lists the rank classes up to k, no more
            style_results(layer, self.ramp_name, k)
            self._styled_k = k
            self.project.layerTreeRoot().findLayer(layer.id()).setExpanded(True)
        features = []
        for rank, (tile_id, score) in enumerate(zip(ids, scores), 1):
            f = QgsFeature(layer.fields())
            f.setGeometry(geometries[tile_id])
            f.setAttributes([rank, float(score), tile_id])
            features.append(f)
        self._replace_features(layer, features)
        return layer

    def hide_results(self):
        self._remove(RESULTS_NAME)
        self._styled_k = None

    # -- heatmap ------------------------------------------------------------------------------
    def show_heatmap(self, crs_wkt, geometries, ids, scores, grid=None):
        """Every tile's score: a raster with one cell per tile when the tiles form a grid (draws in
        milliseconds at any size), else one polygon per tile."""
        if grid is not None:
            return self._show_heatmap_raster(crs_wkt, grid, scores)
        layer = self.layer(HEATMAP_NAME)
        if layer is not None and not isinstance(layer, QgsVectorLayer):
            self.hide_heatmap()
            layer = None
        if layer is None:
            layer = memory_layer(HEATMAP_NAME, crs_wkt,
                                 [("tile_id", QMetaType.Type.QString), ("score", QMetaType.Type.Double)])
            self._add(HEATMAP_NAME, layer, bottom=True)
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

    def _next_heatmap_file(self):
        import os
        import tempfile

        if self._heatmap_dir is None:
            self._heatmap_dir = tempfile.mkdtemp(prefix="tile-embeddings-heatmap-")
        path = os.path.join(self._heatmap_dir, f"grid_{len(self._heatmap_files)}.tif")
        self._heatmap_files.append(path)
        # each layer reads its newest file (the heatmap's and the probability's); older ones are closed
        for old in self._heatmap_files[:-4]:
            try:
                os.remove(old)
            except OSError:
                pass
        return path

    def _show_heatmap_raster(self, crs_wkt, grid, scores):
        return self._show_grid_raster(HEATMAP_NAME, crs_wkt, grid, scores,
                                      lambda lyr: style_heatmap_raster(lyr, scores))

    def _show_grid_raster(self, name, crs_wkt, grid, values, style):
        """A one-cell-per-tile raster layer ``name`` showing ``values``, reusing the layer (and its
        place in the legend) when it is there already."""
        from ..core.tile_grid import write_grid_raster

        path = write_grid_raster(self._next_heatmap_file(), grid, values, crs_wkt)
        layer = self.layer(name)
        if layer is not None and not isinstance(layer, QgsRasterLayer):
            self._remove(name)
            layer = None
        if layer is None:
            layer = QgsRasterLayer(path, name, "gdal")
            style(layer)
            self._add(name, layer, bottom=True)
        else:
            layer.setDataSource(path, name, "gdal", QgsDataProvider.ProviderOptions())
            style(layer)
            layer.triggerRepaint()
        return layer

    def hide_heatmap(self):
        self._remove(HEATMAP_NAME)

    # -- find all -----------------------------------------------------------------------------
    def show_find_all(self, crs_wkt, geometries, ids, probabilities, detected, grid=None, threshold=0.5):
        """Every tile's probability (a raster on a tile grid, else polygons) and the detections
        outlined above it: ``detected`` holds regions of touching tiles (dicts from
        ``core.tile_grid.grid_regions``) or (tile id, probability) pairs, one per tile."""
        if grid is not None:
            self._show_grid_raster(PROBABILITY_NAME, crs_wkt, grid, probabilities,
                                   lambda lyr: style_probability_raster(lyr, threshold))
        else:
            layer = self.layer(PROBABILITY_NAME)
            if layer is not None and not isinstance(layer, QgsVectorLayer):
                self._remove(PROBABILITY_NAME)
                layer = None
            if layer is None:
                layer = memory_layer(PROBABILITY_NAME, crs_wkt, [("tile_id", QMetaType.Type.QString),
                                                                 ("probability", QMetaType.Type.Double)])
                self._add(PROBABILITY_NAME, layer, bottom=True)
            style_probability_polygons(layer, threshold)
            features = []
            for tile_id, p in zip(ids, probabilities):
                f = QgsFeature(layer.fields())
                f.setGeometry(geometries[tile_id])
                f.setAttributes([tile_id, float(p)])
                features.append(f)
            self._replace_features(layer, features)
        if detected is None:  # as cells of the tile grid
            mask = np.where(np.asarray(probabilities) >= threshold, 1.0, NODATA).astype(np.float32)
            self._show_grid_raster(DETECTIONS_NAME, crs_wkt, grid, mask,
                                   lambda lyr: style_detection_cells(lyr, threshold))
            self._move_to_top(DETECTIONS_NAME)
            return
        layer = self.layer(DETECTIONS_NAME)
        if layer is not None and not isinstance(layer, QgsVectorLayer):
            self._remove(DETECTIONS_NAME)
            layer = None
        fields = [("tile_id", QMetaType.Type.QString), ("probability", QMetaType.Type.Double),
                  ("tile_count", QMetaType.Type.Int), ("mean_probability", QMetaType.Type.Double),
                  ("area", QMetaType.Type.Double)]
        if layer is None:
            layer = memory_layer(DETECTIONS_NAME, crs_wkt, fields)
            self._add(DETECTIONS_NAME, layer)
        style_detections(layer, threshold)
        features = []
        for item in detected:
            f = QgsFeature(layer.fields())
            if isinstance(item, dict):  # a region of touching tiles, dissolved on the tile grid
                geom = QgsGeometry()
                geom.fromWkb(item["wkb"])
                f.setGeometry(geom)
                f.setAttributes([None, item["max"], item["cells"], item["mean"], item["area"]])
            else:
                tile_id, p = item
                geom = geometries[tile_id]
                f.setGeometry(geom)
                f.setAttributes([tile_id, float(p), 1, float(p), geom.area()])
            features.append(f)
        self._replace_features(layer, features)

    def _move_to_top(self, name):
        layer = self.layer(name)
        group = self._group()
        node = group.findLayer(layer.id())
        if node is not None and group.children() and group.children()[0] is not node:
            clone = node.clone()
            group.insertChildNode(0, clone)
            group.removeChildNode(node)

    def hide_find_all(self):
        self._remove(PROBABILITY_NAME)
        self._remove(DETECTIONS_NAME)
