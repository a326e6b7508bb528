"""Which tile is under a map click: tile footprints from an index, read as columns.

Opening an index must stay fast at a million tiles. The four columns a lookup needs (row, col,
center_x, center_y) come from the index's ``tiles_grid.npy`` cache (30 ms at 1M tiles, checked
against a sample of the tile layer's features), else from the tile layer at once through GDAL's
Arrow stream (2 s at 1M tiles), after which the cache is written when the folder is writable. When
the tiles form one grid (the usual case), a click finds its tile by arithmetic on the grid and a
footprint is read from the GeoPackage by its feature id only when a tile is shown (query, results,
proposals). Tiles that form no grid are read whole, footprints included, into an R-tree.

Tile id -> position uses the index's :class:`~..core.index.RowLookup`, so opening builds no
1M-entry dict: a click knows its position from the grid, a search result its rows.
"""

import numpy as np
from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsSpatialIndex
from qgis.PyQt.QtCore import QCoreApplication

GRID_FIELDS = ("row", "col", "center_x", "center_y")


class TileGeometries:
    """A read-only mapping tile id -> QgsGeometry, made on demand: from WKB read with the columns,
    or from the GeoPackage by feature id (fid = position + 1), a few tiles at a time."""

    def __init__(self, position, wkb=None, tiles_path=None, layer_name="tiles"):
        self._position = position
        self._wkb = wkb
        self._tiles_path = tiles_path
        self._layer_name = layer_name
        self._ds = None
        self._cache = {}

    def __getitem__(self, tile_id):
        return self.at(self._position[tile_id])

    def at(self, position):
        """The footprint of the tile at ``position`` (its row in the lookup)."""
        if self._wkb is not None:
            wkb = bytes(self._wkb[position])
        else:
            wkb = self._cache.get(position)
            if wkb is None:
                wkb = self._read(position)
        geom = QgsGeometry()
        geom.fromWkb(wkb)
        return geom

    def _read(self, position):
        from osgeo import ogr

        if self._ds is None:  # opened by the thread that asks (the UI thread), not the one that built us
            self._ds = ogr.Open(self._tiles_path)
        layer = self._ds.GetLayerByName(self._layer_name) or self._ds.GetLayer(0)
        feature = layer.GetFeature(position + 1)
        if feature is None or feature.GetGeometryRef() is None:
            raise KeyError(f"tile {position + 1} has no footprint in {self._tiles_path}")
        wkb = bytes(feature.GetGeometryRef().ExportToIsoWkb())
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[position] = wkb
        return wkb

    def close(self):
        """Close the GeoPackage opened for footprints (reopened if asked again). Done when the
        dock lets the index go: a GDAL dataset left for QGIS's exit to destroy can crash it."""
        self._ds = None
        self._cache.clear()

    def __contains__(self, tile_id):
        return tile_id in self._position

    def __len__(self):
        return len(self._position)

    def __iter__(self):
        return iter(self._position)

    def get(self, tile_id, default=None):
        return self[tile_id] if tile_id in self._position else default


class TileLookup:
    """Footprints of every tile of a similarity index, keyed by tile id.

    Built with OGR (no QgsVectorLayer) so it can be made in a worker thread: opening a 1M-tile
    index must not freeze QGIS.
    """

    def __init__(self, tiles_path, layer_name="tiles", is_canceled=None, index=None):
        """``index``: the TileIndex the layer belongs to; its id -> row mapping is shared when the
        layer lists the same ids in the same order (as Embed tiles writes it: fid = row + 1)."""
        from osgeo import ogr

        ds = ogr.Open(tiles_path)
        if ds is None:
            raise OSError(QCoreApplication.translate("TileLookup", "cannot open the tile layer {}").format(tiles_path))
        layer = ds.GetLayerByName(layer_name) or ds.GetLayer(0)
        defn = layer.GetLayerDefn()
        names = {defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())}
        grid_fields = [f for f in GRID_FIELDS if f in names]
        xmin, xmax, ymin, ymax = layer.GetExtent()
        self._extent = (xmin, ymin, xmax, ymax)
        columns = None
        self.cached = False  # whether the grid columns came from tiles_grid.npy
        if index is not None and _same_ids(layer, index.ids):
            # the layer lists the index's tiles in row order (fid = row + 1): its ids need no reading
            columns = _cached_columns(index, layer) if len(grid_fields) == len(GRID_FIELDS) else None
            self.cached = columns is not None
            if columns is None:
                layer.SetIgnoredFields(["OGR_GEOMETRY"] + [n for n in names if n not in grid_fields])
                layer.ResetReading()
                columns = _read_columns(layer, grid_fields, is_canceled, with_geometry=False)
                _save_columns(index, columns)
            self.ids = index.ids
            self._position = index.rows  # no 1M-entry dict at open: see core.index.RowLookup
        else:
            layer.SetIgnoredFields(["OGR_GEOMETRY"] + [n for n in names if n not in grid_fields + ["tile_id"]])
            layer.ResetReading()
            columns = _read_columns(layer, ["tile_id"] + grid_fields, is_canceled, with_geometry=False)
            self.ids = columns["tile_id"]
            self._position = {t: i for i, t in enumerate(self.ids)}
        grid_columns = [columns.get(f) for f in GRID_FIELDS]
        self.grid_columns = None  # row, col, center_x, center_y arrays in lookup order
        if all(c is not None and np.isfinite(c).all() for c in grid_columns):
            self.grid_columns = grid_columns
        # a click finds its tile by arithmetic on the tile grid; tiles off any grid need an R-tree
        self._grid = self.tile_grid(self.ids)
        self.spatial = None
        if self._grid is not None:  # footprints read when shown, by feature id
            self.geometries = TileGeometries(self._position, tiles_path=tiles_path,
                                             layer_name=layer.GetName())
        else:
            layer.SetIgnoredFields([n for n in names if n != "tile_id"])
            layer.ResetReading()
            wkb = _read_columns(layer, ["tile_id"], is_canceled, with_geometry=True)["geometry"]
            self.geometries = TileGeometries(self._position, wkb=wkb)
        ds = None
        if self._grid is None:
            self.spatial = QgsSpatialIndex()
            for n in range(len(self.ids)):
                if is_canceled is not None and n % 5000 == 0 and is_canceled():
                    raise InterruptedError("canceled")
                self.spatial.addFeature(n, self.geometries.at(n).boundingBox())
        else:
            g = self._grid
            self._cell_tile = np.full(g.width * g.height, -1, dtype=np.int64)
            self._cell_tile[g.cell_row * g.width + g.cell_col] = np.arange(len(self.ids))
            a, b, d, e = g.geotransform[1], g.geotransform[2], g.geotransform[4], g.geotransform[5]
            det = a * e - b * d
            self._inverse = (e / det, -b / det, -d / det, a / det)

    def __len__(self):
        return len(self.ids)

    def close(self):
        """Let go of the tile layer's open GeoPackage (see :meth:`TileGeometries.close`)."""
        self.geometries.close()

    def centers(self, ids):
        """(n, 2) tile centres in the order of ``ids``, or None when the tile layer has none."""
        order = self._order(ids)
        if self.grid_columns is None or order is None:
            return None
        return np.column_stack([self.grid_columns[2][order], self.grid_columns[3][order]])

    def _order(self, ids):
        """Positions in this lookup of ``ids`` (None when some are missing)."""
        if ids is self.ids or (len(ids) == len(self.ids) and list(ids) == self.ids):
            return np.arange(len(self.ids))
        position = self._position
        if len(ids) > 8 and hasattr(position, "mapping"):
            position = position.mapping()  # many ids: one dict rather than a scan for each
        try:
            return np.fromiter((position[t] for t in ids), dtype=np.int64, count=len(ids))
        except KeyError:
            return None

    def tile_grid(self, ids):
        """The tiles' grid (core.tile_grid.TileGrid) with cells in the order of ``ids``, or None when
        the tiles do not form one regular grid."""
        from ..core.tile_grid import fit_tile_grid

        if self.grid_columns is None or len(ids) != len(self.ids):
            return None
        if ids is self.ids and getattr(self, "_grid", None) is not None:
            return self._grid
        order = self._order(ids)
        if order is None:
            return None
        rows, cols, cx, cy = (column[order] for column in self.grid_columns)
        return fit_tile_grid(rows, cols, cx, cy)

    def tile_at(self, point):
        """Tile id whose footprint holds ``point`` (index CRS); with overlapping tiles, the one whose
        centre is nearest. None outside every tile."""
        rect = QgsRectangle(point.x(), point.y(), point.x(), point.y())
        best, best_d = None, None
        target = QgsGeometry.fromPointXY(QgsPointXY(point))
        for fid in self._candidates(point, rect):
            geom = self.geometries.at(fid)
            if not geom.contains(target) and not geom.touches(target):
                continue
            d = geom.centroid().asPoint().sqrDist(point)
            if best_d is None or d < best_d:
                best, best_d = fid, d
        if best is None:
            return None
        if hasattr(self._position, "note"):  # the search and the query layer find it without a scan
            self._position.note((self.ids[best],), (best,))
        return self.ids[best]

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
        return QgsRectangle(*self._extent)


def _cached_columns(index, layer):
    """The grid columns from the index's ``tiles_grid.npy`` when it matches ``layer``, else None."""
    from ..core.index import grid_columns_match, read_grid_columns

    cached = read_grid_columns(index.path, len(index.ids))
    if cached is None or not grid_columns_match(layer, cached):
        return None
    return {f: (cached[:, i].astype(np.int64) if f in ("row", "col") else np.ascontiguousarray(cached[:, i]))
            for i, f in enumerate(GRID_FIELDS)}


def _save_columns(index, columns):
    """Write ``tiles_grid.npy`` for the next open (skipped when the folder is read-only)."""
    import os

    from ..core.index import write_grid_columns

    if not all(f in columns for f in GRID_FIELDS) or not os.access(index.path, os.W_OK):
        return
    table = np.column_stack([columns[f].astype(np.float64) for f in GRID_FIELDS])
    if len(table) == len(index.ids) and np.isfinite(table).all():
        write_grid_columns(index.path, table)


def _same_ids(layer, ids, samples=64):
    """Whether feature fid k of ``layer`` is tile ``ids[k - 1]`` for every k (checked on the first,
    the last and ``samples`` spread between, plus the count): how Embed tiles writes its layer."""
    n = len(ids)
    if n == 0 or layer.GetFeatureCount() != n:
        return False
    for k in sorted({1, n, *np.linspace(1, n, samples).astype(int).tolist()}):
        feature = layer.GetFeature(int(k))
        if feature is None or feature.GetField("tile_id") != ids[k - 1]:
            return False
    return True


def _read_columns(layer, fields, is_canceled=None, with_geometry=True):
    """Columns of ``layer``: ``fields`` as numpy arrays (tile_id as a list of str) and, with
    ``with_geometry``, the footprints as WKB (``geometry``, an object array of bytes), in layer order.

    GDAL's Arrow stream reads whole columns at once, many times faster than a feature loop."""
    wanted = {f: [] for f in fields}
    wkb = []
    if hasattr(layer, "GetArrowStreamAsNumPy"):
        geometry_column = layer.GetGeometryColumn() or "wkb_geometry"
        stream = layer.GetArrowStreamAsNumPy(options=["INCLUDE_FID=NO", "USE_MASKED_ARRAYS=NO",
                                                      "MAX_FEATURES_IN_BATCH=262144"])
        for batch in stream:
            if is_canceled is not None and is_canceled():
                raise InterruptedError("canceled")
            for f in fields:
                wanted[f].append(batch[f])
            if with_geometry:
                wkb.append(batch[geometry_column])
        columns = {f: (np.concatenate(v) if v else np.array([])) for f, v in wanted.items()}
        columns["geometry"] = np.concatenate(wkb) if wkb else np.array([], dtype=object)
    else:
        defn = layer.GetLayerDefn()
        index = {f: defn.GetFieldIndex(f) for f in fields}
        for feature in layer:
            for f in fields:
                wanted[f].append(feature.GetField(index[f]))
            if with_geometry:
                wkb.append(bytes(feature.GetGeometryRef().ExportToIsoWkb()))
        columns = {f: np.asarray(v) for f, v in wanted.items()}
        columns["geometry"] = np.asarray(wkb + [None], dtype=object)[:-1]
    if "tile_id" in columns:
        ids = columns["tile_id"]
        columns["tile_id"] = [t.decode() if isinstance(t, bytes) else str(t) for t in ids]
    for f in GRID_FIELDS:
        if f in columns:
            columns[f] = columns[f].astype(np.int64 if f in ("row", "col") else np.float64)
    return columns
