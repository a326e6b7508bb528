"""tile_embeddings:rgbstretch: cut values, pixel values, georeferencing, scopes, input types."""

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsRasterLayer

from tile_embeddings.core.tile_index import read_tile_index
from tile_embeddings.core.tiling import split_raster
from tile_embeddings.tests.raster_prep_data import gradient, read, write_raster

ALG = "tile_embeddings:rgbstretch"


def run(**params):
    import processing

    return processing.run(ALG, params)


def expected_stretch(values, lo, hi, reserve_zero):
    base = 1.0 if reserve_zero else 0.0
    return np.clip(np.rint(base + (values.astype(np.float64) - lo) * (255.0 - base) / (hi - lo)), base, 255)


def cuts_of(path):
    text = gdal.Open(str(path)).GetMetadataItem("TE_STRETCH_CUTS")
    return [tuple(float(v) for v in pair.split(",")) for pair in text.split(";")]


def test_neon_raster_to_png_exact_values_and_georeferencing(te_provider, neon_osbs, tmp_path):
    out = tmp_path / "北京 五环" / "osbs.png"
    run(INPUT=str(neon_osbs), BANDS="3,2,1", OUTPUT=str(out))
    src = gdal.Open(str(neon_osbs))
    a = src.ReadAsArray()
    valid = (a != 255).all(axis=0)  # OSBS_029 declares 255 as nodata
    rgb, gt, ds = read(out)
    assert gt == pytest.approx(src.GetGeoTransform())
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32617"
    # georeferenced by the .aux.xml alone: no world file unless asked for
    assert not os.path.exists(str(out)[:-4] + ".wld") and os.path.exists(str(out) + ".aux.xml")
    for i, b in enumerate((3, 2, 1)):
        band = a[b - 1]
        lo, hi = np.percentile(band[band != 255], [0.5, 99.5])
        assert cuts_of(out)[i] == pytest.approx((lo, hi))
        want = expected_stretch(band, lo, hi, reserve_zero=True)
        np.testing.assert_array_equal(rgb[i][valid], want[valid])
    assert (rgb[:, ~valid] == 0).all() and rgb[:, valid].min() >= 1
    layer = QgsRasterLayer(str(out), "osbs")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32617"
    assert layer.extent().xMinimum() == pytest.approx(gt[0])


def test_neon_raster_to_jpeg_is_georeferenced(te_provider, neon_yell, tmp_path):
    out = tmp_path / "yell.jpg"
    run(INPUT=str(neon_yell), OUTPUT=str(out), WORLD_FILE=True)
    wld = [float(v) for v in open(str(out)[:-4] + ".wld").read().split()]
    rgb, gt, ds = read(out)
    assert wld[:4] == pytest.approx([gt[1], gt[4], gt[2], gt[5]])
    assert wld[4:] == pytest.approx([gt[0] + gt[1] / 2, gt[3] + gt[5] / 2])
    src = gdal.Open(str(neon_yell))
    assert ds.GetDriver().ShortName == "JPEG" and rgb.shape == (3, src.RasterYSize, src.RasterXSize)
    assert gt == pytest.approx(src.GetGeoTransform())
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32612"
    assert rgb.mean() > 40  # not the black image of a naive conversion


@pytest.fixture
def two_tone(tmp_path):
    """A 3-band uint8 scene whose left half is dark: per-tile cuts differ, global cuts do not."""
    a = gradient(nb=3, h=128, w=256)
    a[:, :, :128] = a[:, :, :128] // 4
    src = write_raster(tmp_path / "scene.tif", a)
    res = split_raster(src, tmp_path / "tiles", 64, index_path=tmp_path / "tiles.gpkg")
    return a, res


def test_global_scope_gives_identical_cuts_in_every_tile(te_provider, two_tone, tmp_path):
    a, res = two_tone
    out = tmp_path / "rgb"
    result = run(
        TILE_INDEX=str(res["index"]),
        SCOPE=0,
        FORMAT=2,
        OUTPUT_FOLDER=str(out),
        OUTPUT_INDEX=str(tmp_path / "rgb.gpkg"),
    )
    records = read_tile_index(result["OUTPUT_INDEX"])
    assert len(records) == 8
    cuts = {tuple(cuts_of(r["path"])) for r in records}
    assert len(cuts) == 1
    want = [tuple(np.percentile(a[i], [0.5, 99.5])) for i in range(3)]
    assert list(cuts.pop()) == [pytest.approx(w) for w in want]
    for r in records:
        assert r["path"].startswith(str(out)) and os.path.exists(r["path"])
        assert r["source_path"] == str(tmp_path / "tiles" / (r["tile_id"] + ".tif"))
        rgb, gt, _ = read(r["path"])
        src, sgt, _ = read(r["source_path"])
        assert gt == pytest.approx(sgt)
        np.testing.assert_array_equal(rgb[0], expected_stretch(src[0], *want[0], reserve_zero=False))


def test_per_tile_scope_gives_each_tile_its_own_cuts(te_provider, two_tone, tmp_path):
    a, res = two_tone
    out = tmp_path / "rgb"
    run(TILE_INDEX=str(res["index"]), SCOPE=1, FORMAT=2, OUTPUT_FOLDER=str(out))
    dark, bright = out / "scene_r0_c0.tif", out / "scene_r0_c3.tif"
    assert cuts_of(dark)[0] == pytest.approx(tuple(np.percentile(a[0, :64, :64], [0.5, 99.5])))
    assert cuts_of(dark) != cuts_of(bright)


def test_one_band_uint16_becomes_grey(te_provider, tmp_path):
    a = gradient(nb=1, h=70, w=90, dtype="uint16")
    src = write_raster(tmp_path / "u16.tif", a)
    out = tmp_path / "grey.tif"
    run(INPUT=src, BANDS="1,2,3", OUTPUT=str(out))  # band order is ignored for one band
    rgb, _, ds = read(out)
    assert ds.RasterCount == 3 and ds.GetRasterBand(1).DataType == gdal.GDT_Byte
    assert (rgb[0] == rgb[1]).all() and (rgb[1] == rgb[2]).all()
    lo, hi = np.percentile(a[0], [0.5, 99.5])
    np.testing.assert_array_equal(rgb[0], expected_stretch(a[0], lo, hi, reserve_zero=False))


def test_float32_with_nodata_and_nan_as_png_tiles(te_provider, tmp_path):
    a = gradient(nb=3, h=64, w=64, dtype="float32")
    a[:, :10, :] = -1.0
    a[1, 20, 20] = np.nan
    src = write_raster(tmp_path / "f.tif", a, nodata=-1.0)
    folder = tmp_path / "in"
    split_raster(src, folder, 32)
    out = tmp_path / "png"
    run(INPUT_FOLDER=str(folder), FORMAT=1, OUTPUT_FOLDER=str(out))
    rgb, gt, ds = read(out / "f_r0_c0.png")
    assert (rgb[:, :10, :] == 0).all() and (rgb[:, 20, 20] == 0).all()
    valid = np.ones((32, 32), bool)
    valid[:10] = False
    valid[20, 20] = False
    assert rgb[:, valid].min() >= 1
    assert ds.GetRasterBand(1).GetNoDataValue() == 0
    assert gt == pytest.approx(gdal.Open(str(folder / "f_r0_c0.tif")).GetGeoTransform())


def test_band_order_on_four_band_int16(te_provider, tmp_path):
    a = gradient(nb=4, h=40, w=50, dtype="uint16").astype(np.int16) - 3000
    src = write_raster(tmp_path / "gf2.tif", a)
    out = tmp_path / "o.tif"
    run(INPUT=src, BANDS="3,2,1", LOWER=2.0, UPPER=98.0, OUTPUT=str(out))
    rgb, _, _ = read(out)
    for i, b in enumerate((3, 2, 1)):
        lo, hi = np.percentile(a[b - 1], [2, 98])
        np.testing.assert_array_equal(rgb[i], expected_stretch(a[b - 1], lo, hi, reserve_zero=False))


def test_missing_band_is_a_clear_error(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=3, h=20, w=20))
    with pytest.raises(QgsProcessingException, match=r"BANDS.*band 5 does not exist"):
        run(INPUT=src, BANDS="5,2,1", OUTPUT=str(tmp_path / "o.jpg"))
    with pytest.raises(QgsProcessingException, match=r"BANDS.*one \(grey\) or three"):
        run(INPUT=src, BANDS="1,2", OUTPUT=str(tmp_path / "o.jpg"))
    assert not (tmp_path / "o.jpg").exists()


def test_empty_tiles_do_not_fail(te_provider, tmp_path):
    a = gradient(nb=3, h=64, w=128)
    a[:, :, 64:] = 0
    src = write_raster(tmp_path / "half.tif", a, nodata=0)
    res = split_raster(src, tmp_path / "tiles", 64, index_path=tmp_path / "tiles.gpkg")
    assert [r["valid_fraction"] for r in res["tiles"]] == [1.0, 0.0]
    run(TILE_INDEX=str(res["index"]), FORMAT=2, OUTPUT_FOLDER=str(tmp_path / "rgb"))
    empty, _, _ = read(tmp_path / "rgb" / "half_r0_c1.tif")
    assert (empty == 0).all()


def test_needs_exactly_one_input(te_provider, neon_osbs, tmp_path):
    with pytest.raises(QgsProcessingException, match="exactly one input"):
        run(INPUT=str(neon_osbs), INPUT_FOLDER=str(tmp_path), OUTPUT=str(tmp_path / "o.jpg"))
