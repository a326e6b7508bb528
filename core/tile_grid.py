"""One raster cell per tile: the tile grid of an index as a GDAL geotransform.

The dock's heatmap draws a score for every tile. One polygon per tile in a memory layer costs
seconds at 100k tiles; a raster with one cell per tile draws in milliseconds at any size. The grid
is recovered from the tiles themselves (their ``row``/``col`` and centres), so it works for a
raster tiled on the fly, for splitraster's tiles (with overlap: cells are one stride wide, centred
on the tile) and for rotated source grids. Tiles that do not form one regular grid (several sources,
hand-made tile sets) have no grid: the caller falls back to polygons.
"""

import numpy as np

NODATA = -9999.0


class TileGrid:
    """``geotransform`` maps cell (col, row) of a ``width`` x ``height`` raster; ``cell_row`` and
    ``cell_col`` give, for every tile in index order, its cell."""

    def __init__(self, geotransform, width, height, cell_row, cell_col):
        self.geotransform = tuple(float(v) for v in geotransform)
        self.width = int(width)
        self.height = int(height)
        self.cell_row = cell_row
        self.cell_col = cell_col

    def raster(self, values, dtype=np.float32):
        """A (height, width) array holding ``values`` (index order) in their cells, NODATA elsewhere."""
        out = np.full((self.height, self.width), NODATA, dtype=dtype)
        out[self.cell_row, self.cell_col] = values
        return out


def fit_tile_grid(rows, cols, center_x, center_y, tolerance=1e-3):
    """The affine grid through the tile centres, or None when the tiles are not one regular grid.

    ``rows``/``cols`` are the tiles' grid positions and ``center_x``/``center_y`` their centres,
    in index order. Cell (c, r) of the result is centred on the tile at row r, col c. ``tolerance``
    is the largest misfit allowed, as a fraction of a cell.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    cx = np.asarray(center_x, dtype=np.float64)
    cy = np.asarray(center_y, dtype=np.float64)
    n = len(rows)
    if n < 2 or not (len(cols) == len(cx) == len(cy) == n):
        return None
    if not (np.isfinite(cx).all() and np.isfinite(cy).all()):
        return None
    r0, c0 = int(rows.min()), int(cols.min())
    cell_row, cell_col = rows - r0, cols - c0
    height, width = int(cell_row.max()) + 1, int(cell_col.max()) + 1
    if height == 1 or width == 1:  # one row or column: the other axis' step is unknown
        return None
    if height * width > 16 * n + 1024:  # a sparse scatter of tiles, not a grid worth a raster
        return None
    flat = cell_row * width + cell_col
    if len(np.unique(flat)) != n:  # two tiles in one cell: several sources or sets
        return None
    # x = gt0 + (c + .5) gt1 + (r + .5) gt2 ; y = gt3 + (c + .5) gt4 + (r + .5) gt5
    design = np.column_stack([np.ones(n), cell_col + 0.5, cell_row + 0.5])
    # least squares by the normal equations (3 x 3): a million tiles in milliseconds
    gram = design.T @ design
    try:
        gt0, gt1, gt2 = np.linalg.solve(gram, design.T @ cx)
        gt3, gt4, gt5 = np.linalg.solve(gram, design.T @ cy)
    except np.linalg.LinAlgError:
        return None
    cell = min(np.hypot(gt1, gt4), np.hypot(gt2, gt5))
    if not cell > 0:
        return None
    misfit = max(np.abs(design @ (gt0, gt1, gt2) - cx).max(), np.abs(design @ (gt3, gt4, gt5) - cy).max())
    if misfit > tolerance * cell:
        return None
    return TileGrid((gt0, gt1, gt2, gt3, gt4, gt5), width, height, cell_row, cell_col)


def write_grid_raster(path, grid, values, crs_wkt):
    """Write ``values`` (one per tile, index order) as a one-band Float32 GeoTIFF, one cell per tile."""
    from osgeo import gdal

    data = grid.raster(np.asarray(values, dtype=np.float32))
    driver = gdal.GetDriverByName("GTiff")
    ds = driver.Create(path, grid.width, grid.height, 1, gdal.GDT_Float32)
    if ds is None:
        raise OSError(f"cannot create {path}")
    ds.SetGeoTransform(grid.geotransform)
    if crs_wkt:
        ds.SetProjection(crs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(NODATA)
    band.WriteArray(data)
    band.FlushCache()
    ds = None
    return path


def label_cells(mask):
    """Connected regions (4-neighbours) of a boolean grid: (labels int32 array, count); 0 = none."""
    mask = np.asarray(mask, dtype=bool)
    try:
        from scipy import ndimage
    except ImportError:  # QGIS without scipy: union-find over the cells
        return _label_cells_plain(mask)
    labels, count = ndimage.label(mask)
    return labels.astype(np.int32), int(count)


def _label_cells_plain(mask):
    h, w = mask.shape
    parent = np.arange(h * w)

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cells = np.flatnonzero(mask.ravel())
    for i in cells:
        r, c = divmod(int(i), w)
        for j in ((i - 1) if c and mask[r, c - 1] else -1, (i - w) if r and mask[r - 1, c] else -1):
            if j >= 0:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    labels = np.zeros(h * w, dtype=np.int32)
    roots = {}
    for i in cells:
        labels[i] = roots.setdefault(root(int(i)), len(roots) + 1)
    return labels.reshape(h, w), len(roots)


def grid_regions(grid, values, mask, crs_wkt="", max_regions=None):
    """Touching cells of ``grid`` where ``mask`` (one bool per tile, index order) is set, dissolved.

    Returns a list of dicts ``{"wkb", "cells", "max", "mean", "area"}`` (polygon WKB in the grid's
    CRS; statistics of ``values`` over the region's tiles), largest region first. One polygonize
    call on the grid: milliseconds for 100k tiles, where dissolving tile polygons takes seconds.
    With more than ``max_regions`` regions (a scatter of single tiles) it returns None at once:
    the caller shows the cells instead of polygons.
    """
    from osgeo import gdal, ogr, osr

    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    cells = np.zeros((grid.height, grid.width), dtype=bool)
    cells[grid.cell_row[mask], grid.cell_col[mask]] = True
    labels, count = label_cells(cells)
    if count == 0:
        return []
    if max_regions is not None and count > max_regions:
        return None
    tile_labels = labels[grid.cell_row, grid.cell_col]
    sel = tile_labels > 0
    n = np.bincount(tile_labels[sel], minlength=count + 1)
    total = np.bincount(tile_labels[sel], weights=values[sel], minlength=count + 1)
    peak = np.full(count + 1, -np.inf)
    np.maximum.at(peak, tile_labels[sel], values[sel])
    mem = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Int32)
    mem.SetGeoTransform(grid.geotransform)
    band = mem.GetRasterBand(1)
    band.WriteArray(labels)
    srs = None
    if crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
    vector = ogr.GetDriverByName("Memory").CreateDataSource("")
    layer = vector.CreateLayer("regions", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("region", ogr.OFTInteger))
    gdal.Polygonize(band, band, layer, 0, [], callback=None)  # the band is its own mask: 0 = none
    parts = {}
    for feature in layer:
        parts.setdefault(feature.GetField(0), []).append(feature.GetGeometryRef().Clone())
    regions = []
    for region, geoms in parts.items():
        if len(geoms) == 1:
            geom = geoms[0]
        else:  # a region that touches itself only at a corner comes back in pieces
            geom = ogr.Geometry(ogr.wkbMultiPolygon)
            for g in geoms:
                geom.AddGeometry(g)
        regions.append({"wkb": bytes(geom.ExportToIsoWkb()), "cells": int(n[region]),
                        "max": float(peak[region]), "mean": float(total[region] / n[region]),
                        "area": float(geom.GetArea())})
    regions.sort(key=lambda r: -r["cells"])
    return regions
