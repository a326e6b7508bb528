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
        defn = layer.GetLayerDefn()
        names = {defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())}
        with_grid = {"row", "col", "center_x", "center_y"} <= names
        self.ids = []
        self.geometries = {}
        grid_fields = []  # (row, col, center_x, center_y) per tile, for the heatmap's tile grid
        for n, (tile_id, wkb, grid) in enumerate(_read_tiles(layer, with_grid)):
            if is_canceled is not None and n % 5000 == 0 and is_canceled():
                raise InterruptedError("canceled")
            geom = QgsGeometry()
            geom.fromWkb(wkb)
            self.ids.append(tile_id)
            self.geometries[tile_id] = geom
            if with_grid:
                grid_fields.append(grid)
        ds = None
        self.grid_fields = grid_fields if with_grid and None not in (v for t in grid_fields for v in t) else None
        # a click finds its tile by arithmetic on the tile grid; tiles off any grid need an R-tree
        self._grid = self.tile_grid(self.ids)
        self.spatial = None
        if self._grid is None:
            self.spatial = QgsSpatialIndex()
            for n, tile_id in enumerate(self.ids):
                if is_canceled is not None and n % 5000 == 0 and is_canceled():
                    raise InterruptedError("canceled")
                self.spatial.addFeature(n, self.geometries[tile_id].boundingBox())
        else:
            import numpy as np

            g = self._grid
            self._cell_tile = np.full(g.width * g.height, -1, dtype=np.int64)
            self._cell_tile[g.cell_row * g.width + g.cell_col] = np.arange(len(self.ids))
            a, b, d, e = g.geotransform[1], g.geotransform[2], g.geotransform[4], g.geotransform[5]
            det = a * e - b * d
            self._inverse = (e / det, -b / det, -d / det, a / det)

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
        for fid in self._candidates(point, rect):
            tile_id = self.ids[fid]
            geom = self.geometries[tile_id]
            if not geom.contains(target) and not geom.touches(target):
                continue
            d = geom.centroid().asPoint().sqrDist(point)
            if best_d is None or d < best_d:
                best, best_d = tile_id, d
        return best

    def _candidates(self, point, rect):
        """Positions of the tiles that may hold ``point``: the grid cell under it and its
        neighbours (overlapping tiles reach into them), or the R-tree's answer off a grid."""
        if self._grid is None:
            return self.spatial.intersects(rect)
        import math

        g = self._grid
        gt, inv = g.geotransform, self._inverse
        dx, dy = point.x() - gt[0], point.y() - gt[3]
        col = math.floor(inv[0] * dx + inv[1] * dy)
        row = math.floor(inv[2] * dx + inv[3] * dy)
        found = []
        for r in (row - 1, row, row + 1):
            for c in (col - 1, col, col + 1):
                if 0 <= r < g.height and 0 <= c < g.width:
                    position = int(self._cell_tile[r * g.width + c])
                    if position >= 0:
                        found.append(position)
        return found

    def extent(self):
        rect = QgsRectangle()
        rect.setNull()
        for geom in self.geometries.values():
            rect.combineExtentWith(geom.boundingBox())
        return rect


def _read_tiles(layer, with_grid):
    """(tile_id, WKB bytes, (row, col, center_x, center_y) or None) per feature, in layer order.

    GDAL's Arrow stream reads whole columns at once (several times faster than a feature loop with
    field look-ups by name, which dominated opening a 100k-tile index)."""
    grid_names = ("row", "col", "center_x", "center_y")
    if hasattr(layer, "GetArrowStreamAsNumPy"):
        geometry_column = layer.GetGeometryColumn() or "wkb_geometry"
        stream = layer.GetArrowStreamAsNumPy(options=["INCLUDE_FID=NO", "USE_MASKED_ARRAYS=NO"])
        for batch in stream:
            ids = batch["tile_id"]
            wkbs = batch[geometry_column]
            grids = zip(*(batch[k].tolist() for k in grid_names)) if with_grid else (None for _ in ids)
            for tile_id, wkb, grid in zip(ids, wkbs, grids):
                yield (tile_id.decode() if isinstance(tile_id, bytes) else str(tile_id)), bytes(wkb), grid
        return
    defn = layer.GetLayerDefn()
    id_field = defn.GetFieldIndex("tile_id")
    grid_fields = [defn.GetFieldIndex(k) for k in grid_names]
    for feature in layer:
        grid = None
        if with_grid:
            grid = (feature.GetFieldAsInteger(grid_fields[0]), feature.GetFieldAsInteger(grid_fields[1]),
                    feature.GetFieldAsDouble(grid_fields[2]), feature.GetFieldAsDouble(grid_fields[3]))
        yield feature.GetFieldAsString(id_field), bytes(feature.GetGeometryRef().ExportToIsoWkb()), grid
