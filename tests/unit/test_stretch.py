"""Percentile cuts (streamed and in-memory) and the 8-bit stretch."""

import numpy as np
import pytest
from osgeo import gdal

from tile_embeddings.core.errors import InputError
from tile_embeddings.core.stretch import apply_cuts, compute_cuts, percentile_cuts_array

gdal.UseExceptions()


def write(path, array, nodata=None, block=64):
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    gtype = gdal.GetDataTypeByName(
        {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float32": "Float32"}[array.dtype.name]
    )
    nb, h, w = array.shape
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), w, h, nb, gtype, ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}"]
    )
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    for i in range(array.shape[0]):
        b = ds.GetRasterBand(i + 1)
        if nodata is not None:
            b.SetNoDataValue(nodata)
        b.WriteArray(array[i])
    ds = None
    return str(path)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
def test_streamed_integer_cuts_equal_numpy_percentile(tmp_path, dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    a = rng.integers(max(info.min, -3000), min(info.max, 3000), size=(3, 300, 257)).astype(dtype)
    path = write(tmp_path / "a.tif", a)
    cuts = compute_cuts(path, [3, 1], lower=2, upper=98, max_pixels=10_000)
    for i, b in enumerate([3, 1]):
        assert cuts[i] == pytest.approx(np.percentile(a[b - 1], [2, 98]), abs=1e-9)


def test_nodata_is_excluded(tmp_path):
    a = np.full((1, 100, 100), 7, dtype=np.uint16)
    a[0, :50] = np.arange(50 * 100).reshape(50, 100) + 100
    with_nd = compute_cuts(write(tmp_path / "nd.tif", a, nodata=7), [1], 0, 100)
    assert tuple(with_nd[0]) == (100, 100 + 50 * 100 - 1)
    explicit = compute_cuts(write(tmp_path / "plain.tif", a), [1], 0, 100, nodata=7)
    assert tuple(explicit[0]) == (100, 5099)


def test_float_cuts_close_to_numpy_and_ignore_nan(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.normal(0.3, 0.1, size=(1, 256, 256)).astype(np.float32)
    a[0, :10] = np.nan
    a[0, 10:20] = -9999
    path = write(tmp_path / "f.tif", a, nodata=-9999)
    cuts = compute_cuts(path, [1], 0.5, 99.5)
    v = a[0][(~np.isnan(a[0])) & (a[0] != -9999)]
    want = np.percentile(v, [0.5, 99.5])
    span = v.max() - v.min()
    assert cuts[0] == pytest.approx(want, abs=span / 65536 * 2)


def test_tile_set_cuts_equal_cuts_of_the_mosaic(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 255, size=(3, 128, 128)).astype(np.uint8)
    a[:, :64, :64] //= 4  # a dark tile: per-tile cuts would differ from the global ones
    paths = [
        write(tmp_path / f"t{r}{c}.tif", a[:, r * 64 : (r + 1) * 64, c * 64 : (c + 1) * 64])
        for r in range(2)
        for c in range(2)
    ]
    cuts = compute_cuts(paths, [1, 2, 3], threads=2)
    for i in range(3):
        assert cuts[i] == pytest.approx(np.percentile(a[i], [0.5, 99.5]))
    dark = percentile_cuts_array(a[:, :64, :64])
    assert dark[0, 1] < cuts[0, 1]


def test_all_nodata_gives_zero_cuts(tmp_path):
    a = np.zeros((1, 32, 32), dtype=np.uint8)
    assert compute_cuts(write(tmp_path / "e.tif", a, nodata=0), [1]).tolist() == [[0.0, 0.0]]


def test_bad_percentiles_and_bands(tmp_path):
    path = write(tmp_path / "a.tif", np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(InputError) as e:
        compute_cuts(path, [1], 60, 40)
    assert e.value.parameter == "LOWER"
    with pytest.raises(InputError) as e:
        compute_cuts(path, [2], 1, 99)
    assert e.value.parameter == "BANDS" and "1 band" in str(e.value)


def test_apply_cuts_maps_low_high_and_clips():
    a = np.array([[[10, 20, 30, 40]]], dtype=np.uint16).repeat(3, axis=0)
    out = apply_cuts(a, [[20, 30]] * 3)
    assert out.dtype == np.uint8 and out.shape == (3, 1, 4)
    assert out[0, 0].tolist() == [0, 0, 255, 255]
    f = a.astype(np.float32)
    assert apply_cuts(f, [[20, 30]] * 3)[0, 0].tolist() == [0, 0, 255, 255]


def test_apply_cuts_mask_reserves_zero_for_nodata():
    a = np.array([[[10, 20, 25, 30]]], dtype=np.uint8)
    mask = np.array([[False, True, True, True]])
    out = apply_cuts(a, [[20, 30]], valid_mask=mask)
    assert out.shape == (3, 1, 4)
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()  # one band -> grey
    assert out[0, 0].tolist() == [0, 1, 128, 255]


def test_apply_cuts_float_and_int16_match():
    rng = np.random.default_rng(4)
    a = rng.integers(-500, 500, size=(3, 20, 20)).astype(np.int16)
    cuts = percentile_cuts_array(a)
    assert (apply_cuts(a, cuts) == apply_cuts(a.astype(np.float32), cuts)).all()


def test_per_tile_cuts_match_numpy():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 4000, size=(3, 50, 50)).astype(np.uint16)
    mask = rng.random((50, 50)) > 0.3
    cuts = percentile_cuts_array(a, 1, 99, valid_mask=mask)
    for i in range(3):
        assert cuts[i] == pytest.approx(np.percentile(a[i][mask], [1, 99]))
