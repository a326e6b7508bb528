"""Which tile is under a map click: tile footprints from an index, in a spatial index."""

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsSpatialIndex


class TileLookup:
    """Footprints of every tile of a similarity index, keyed by tile id.

    Built with OGR (no QgsVectorLayer) so it can be made in a worker thread: opening a 1M-tile
    index must not freeze QGIS.
    """

    def __init__(self, tiles_path, layer_name="tiles", is_canceled=None):
        from osgeo import ogr

        ds = ogr.Open(tiles_path)
        if ds is None:
            raise OSError(f"cannot open the tile layer {tiles_path}")
        layer = ds.GetLayerByName(layer_name) or ds.GetLayer(0)
        self.ids = []
        self.geometries = {}
        self.spatial = QgsSpatialIndex()
        names = {layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(layer.GetLayerDefn().GetFieldCount())}
        with_grid = {"row", "col", "center_x", "center_y"} <= names
        grid_fields = []  # (row, col, center_x, center_y) per tile, for the heatmap's tile grid
        for n, feature in enumerate(layer):
            if is_canceled is not None and n % 5000 == 0 and is_canceled():
                raise InterruptedError("canceled")
            tile_id = feature.GetField("tile_id")
            geom = QgsGeometry()
            geom.fromWkb(bytes(feature.GetGeometryRef().ExportToIsoWkb()))
            fid = len(self.ids)
            self.ids.append(tile_id)
            self.geometries[tile_id] = geom
            self.spatial.addFeature(fid, geom.boundingBox())
            if with_grid:
                grid_fields.append((feature.GetField("row"), feature.GetField("col"),
                                    feature.GetField("center_x"), feature.GetField("center_y")))
        ds = None
        self.grid_fields = grid_fields if with_grid and None not in (v for t in grid_fields for v in t) else None

    def tile_grid(self, ids):
        """The tiles' grid (core.tile_grid.TileGrid) with cells in the order of ``ids``, or None when
        the tiles do not form one regular grid."""
        from ..core.tile_grid import fit_tile_grid

        if not self.grid_fields or len(ids) != len(self.ids):
            return None
        if list(ids) != self.ids:
            position = {t: i for i, t in enumerate(self.ids)}
            try:
                fields = [self.grid_fields[position[t]] for t in ids]
            except KeyError:
                return None
        else:
            fields = self.grid_fields
        rows, cols, cx, cy = zip(*fields)
        return fit_tile_grid(rows, cols, cx, cy)

    def __len__(self):
        return len(self.ids)

    def tile_at(self, point):
        """Tile id whose footprint holds ``point`` (index CRS); with overlapping tiles, the one whose
        centre is nearest. None outside every tile."""
        rect = QgsRectangle(point.x(), point.y(), point.x(), point.y())
        best, best_d = None, None
        target = QgsGeometry.fromPointXY(QgsPointXY(point))
        for fid in self.spatial.intersects(rect):
            tile_id = self.ids[fid]
            geom = self.geometries[tile_id]
            if not geom.contains(target) and not geom.touches(target):
                continue
            d = geom.centroid().asPoint().sqrDist(point)
            if best_d is None or d < best_d:
                best, best_d = tile_id, d
        return best

    def extent(self):
        rect = QgsRectangle()
        rect.setNull()
        for geom in self.geometries.values():
            rect.combineExtentWith(geom.boundingBox())
        return rect
