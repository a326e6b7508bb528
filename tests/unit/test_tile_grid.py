"""One raster cell per tile: the grid recovered from tile rows, cols and centres."""

import numpy as np
import pytest

from tile_embeddings.core.tile_grid import NODATA, fit_tile_grid, write_grid_raster


def grid_tiles(rows, cols, size=25.6, stride=None, origin=(404000.0, 3285000.0), angle_deg=0.0, order=None):
    stride = size if stride is None else stride
    a = np.deg2rad(angle_deg)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    r, c = r.ravel(), c.ravel()
    # tile centre in the grid's own frame, then rotated about the origin
    u, v = c * stride + size / 2, -(r * stride + size / 2)
    x = origin[0] + u * np.cos(a) - v * np.sin(a)
    y = origin[1] + u * np.sin(a) + v * np.cos(a)
    if order is not None:
        r, c, x, y = r[order], c[order], x[order], y[order]
    return r, c, x, y


def cell_centre(gt, col, row):
    return gt[0] + (col + 0.5) * gt[1] + (row + 0.5) * gt[2], gt[3] + (col + 0.5) * gt[4] + (row + 0.5) * gt[5]


def test_north_up_grid_puts_every_tile_in_its_own_cell():
    r, c, x, y = grid_tiles(4, 6)
    grid = fit_tile_grid(r, c, x, y)
    assert grid is not None and (grid.width, grid.height) == (6, 4)
    assert grid.geotransform[1] == pytest.approx(25.6) and grid.geotransform[5] == pytest.approx(-25.6)
    for i in range(len(r)):
        assert cell_centre(grid.geotransform, grid.cell_col[i], grid.cell_row[i]) == pytest.approx((x[i], y[i]))
    values = np.arange(len(r), dtype=np.float32)
    raster = grid.raster(values)
    assert raster[2, 5] == values[2 * 6 + 5]


def test_overlapping_tiles_get_stride_sized_cells_and_missing_tiles_nodata():
    r, c, x, y = grid_tiles(5, 5, size=256, stride=192)
    keep = np.ones(25, bool)
    keep[[3, 17]] = False  # tiles skipped (nodata) leave holes
    grid = fit_tile_grid(r[keep], c[keep], x[keep], y[keep])
    assert grid is not None and grid.geotransform[1] == pytest.approx(192)
    raster = grid.raster(np.ones(keep.sum(), np.float32))
    assert (raster == NODATA).sum() == 2 and raster[0, 3] == NODATA


def test_rotated_and_shuffled_grids_are_fitted():
    order = np.random.default_rng(0).permutation(30)
    r, c, x, y = grid_tiles(5, 6, angle_deg=17.0, order=order)
    grid = fit_tile_grid(r, c, x, y)
    assert grid is not None
    assert grid.geotransform[2] != pytest.approx(0.0)
    for i in range(len(r)):
        assert cell_centre(grid.geotransform, grid.cell_col[i], grid.cell_row[i]) == pytest.approx((x[i], y[i]))


def test_tiles_that_are_not_one_grid_have_none():
    r, c, x, y = grid_tiles(4, 4)
    assert fit_tile_grid(np.r_[r, r], np.r_[c, c], np.r_[x, x + 1000], np.r_[y, y]) is None  # two sources
    x2 = x.copy()
    x2[5] += 7.0  # a tile out of place
    assert fit_tile_grid(r, c, x2, y) is None
    assert fit_tile_grid(r[:4], c[:4], x[:4], y[:4]) is None  # one row: no step along the other axis
    assert fit_tile_grid([], [], [], []) is None


def test_written_raster_is_georeferenced(tmp_path):
    from osgeo import gdal, osr

    r, c, x, y = grid_tiles(3, 4)
    grid = fit_tile_grid(r, c, x, y)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32617)
    values = np.linspace(-1, 1, len(r)).astype(np.float32)
    path = write_grid_raster(str(tmp_path / "h.tif"), grid, values, srs.ExportToWkt())
    ds = gdal.Open(path)
    assert (ds.RasterXSize, ds.RasterYSize) == (4, 3)
    assert ds.GetGeoTransform() == pytest.approx(grid.geotransform)
    assert ds.GetRasterBand(1).GetNoDataValue() == NODATA
    np.testing.assert_allclose(ds.ReadAsArray().ravel(), values)


@pytest.mark.parametrize("plain", [False, True])
def test_grid_regions_dissolve_touching_cells_with_their_statistics(plain, monkeypatch):
    import builtins

    if plain:  # no scipy: the plain union-find labels the same regions
        real_import = builtins.__import__

        def no_scipy(name, *args, **kwargs):
            if name.startswith("scipy"):
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_scipy)
    from tile_embeddings.core.tile_grid import grid_regions

    r, c, x, y = grid_tiles(6, 8)  # 25.6 m cells
    values = np.zeros(48)
    mask = np.zeros(48, bool)
    block = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 2)]  # 5 touching cells
    single = [(5, 7)]
    for k, (rr, cc) in enumerate(block + single):
        mask[rr * 8 + cc] = True
        values[rr * 8 + cc] = 0.5 + 0.1 * k
    regions = grid_regions(fit_tile_grid(r, c, x, y), values, mask)
    assert [reg["cells"] for reg in regions] == [5, 1]
    assert regions[0]["area"] == pytest.approx(5 * 25.6 ** 2)
    assert regions[0]["max"] == pytest.approx(0.9) and regions[0]["mean"] == pytest.approx(0.7)
    assert regions[1]["max"] == pytest.approx(1.0)
    from osgeo import ogr

    geom = ogr.CreateGeometryFromWkb(regions[1]["wkb"])
    cx, cy = tile_centre_xy = x[5 * 8 + 7], y[5 * 8 + 7]
    assert geom.Contains(ogr.CreateGeometryFromWkt(f"POINT ({cx} {cy})")), tile_centre_xy
    assert grid_regions(fit_tile_grid(r, c, x, y), values, np.zeros(48, bool)) == []
