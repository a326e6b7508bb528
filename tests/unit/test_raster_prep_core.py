"""Raster-preparation engine without QGIS: split, clip, index, centroids, cancel and atomicity."""

import os

import numpy as np
import pytest
from osgeo import gdal

from tile_embeddings.core.bbox import bbox_mask
from tile_embeddings.core.centroids import centroids_from_folder, centroids_from_records, write_centroids
from tile_embeddings.core.errors import Canceled, InputError
from tile_embeddings.core.grid import window_center
from tile_embeddings.core.progress import Progress
from tile_embeddings.core.rgb_export import parse_bands, stretch_tiles, world_file_text
from tile_embeddings.core.thread_pool import ordered_map
from tile_embeddings.core.tile_index import read_tile_index, tile_index_crs, write_tile_index
from tile_embeddings.core.tiling import split_raster
from tile_embeddings.tests.raster_prep_data import NORTH_UP, gradient, rotated_gt, write_raster

gdal.UseExceptions()


def cancel_after(n):
    """A progress that asks to stop after ``n`` reports."""
    calls = []
    return Progress(on_progress=lambda f: calls.append(f), is_canceled=lambda: len(calls) > n)


def listing(folder):
    return sorted(os.listdir(folder)) if os.path.exists(folder) else []


def test_split_is_deterministic_across_thread_counts(tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=3, h=200, w=260), block=64)
    one = split_raster(src, tmp_path / "a", 50, threads=1)
    two = split_raster(src, tmp_path / "b", 50, threads=2)
    assert [r["tile_id"] for r in one["tiles"]] == [r["tile_id"] for r in two["tiles"]]
    assert len(one["tiles"]) == 4 * 5
    for r in one["tiles"]:
        other = tmp_path / "b" / os.path.basename(r["path"])
        np.testing.assert_array_equal(gdal.Open(r["path"]).ReadAsArray(), gdal.Open(str(other)).ReadAsArray())


def test_canceled_split_leaves_the_folder_as_it_was(tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=256, w=256))
    out = tmp_path / "tiles"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(Canceled):
        split_raster(src, out, 16, index_path=tmp_path / "i.gpkg", threads=2, progress=cancel_after(5))
    assert listing(out) == ["keep.txt"]
    assert not (tmp_path / "i.gpkg").exists()


def test_pad_without_source_nodata_records_zero_on_padded_tiles(tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=50, w=70))
    res = split_raster(src, tmp_path / "t", 32, edge="pad")
    by_id = {r["tile_id"]: r for r in res["tiles"]}
    assert gdal.Open(by_id["s_r0_c0"]["path"]).GetRasterBand(1).GetNoDataValue() is None
    padded = gdal.Open(by_id["s_r1_c2"]["path"])
    assert padded.GetRasterBand(1).GetNoDataValue() == 0
    assert by_id["s_r1_c2"]["valid_fraction"] == pytest.approx((50 - 32) * (70 - 64) / 32**2)


def test_bad_prefix_and_fraction_name_their_parameter(tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=50, w=70))
    with pytest.raises(InputError) as e:
        split_raster(src, tmp_path / "t", 16, prefix="a/b")
    assert e.value.parameter == "PREFIX"
    with pytest.raises(InputError) as e:
        split_raster(src, tmp_path / "t", 16, min_valid_fraction=2)
    assert e.value.parameter == "MIN_VALID_FRACTION"


def test_bbox_mask_streams_small_windows_exactly(tmp_path):
    a = gradient(nb=3, h=300, w=300)
    src = write_raster(tmp_path / "s.tif", a)
    res = bbox_mask(src, tmp_path / "o.tif", (500010.0, 3999750.0, 500290.0, 3999990.0), max_pixels=5000)
    assert res["window"] == (10, 10, 280, 240)
    np.testing.assert_array_equal(gdal.Open(str(tmp_path / "o.tif")).ReadAsArray(), a[:, 10:250, 10:290])


def test_bbox_mask_reprojects_the_bbox(tmp_path):
    src = write_raster(
        tmp_path / "s.tif", gradient(nb=1, h=100, w=100), gt=(500000.0, 10, 0, 4000000.0, 0, -10)
    )
    from osgeo import osr

    utm, wgs = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32617)
    wgs.ImportFromEPSG(4326)
    for s in (utm, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon0, lat0, _ = osr.CoordinateTransformation(utm, wgs).TransformPoint(500205.0, 3999795.0)
    lon1, lat1, _ = osr.CoordinateTransformation(utm, wgs).TransformPoint(500395.0, 3999605.0)
    res = bbox_mask(src, tmp_path / "o.tif", (lon0, lat1, lon1, lat0), bbox_crs="EPSG:4326")
    x0, y0, xs, ys = res["window"]
    assert x0 == 20 and y0 == 20 and 19 <= xs <= 21 and 19 <= ys <= 21


def test_canceled_bbox_mask_keeps_the_old_output(tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=300, w=300))
    out = tmp_path / "o.tif"
    out.write_bytes(b"old")
    with pytest.raises(Canceled):
        bbox_mask(
            src, out, (500000.0, 3999700.0, 500300.0, 4000000.0), max_pixels=3000, progress=cancel_after(3)
        )
    assert out.read_bytes() == b"old"
    assert listing(tmp_path) == ["o.tif", "s.tif"]


def test_tile_index_round_trip_and_relative_paths(tmp_path):
    gt = rotated_gt(10.0)
    recs = [
        {
            "tile_id": "t_r0_c0",
            "row": 0,
            "col": 0,
            "path": "tiles/t_r0_c0.tif",
            "valid_fraction": 0.5,
            "center_x": 1.0,
            "center_y": 2.0,
            "corners": [(0, 0), (1, 0), (1, -1), (0, -1)],
            "extra": "x",
        }
    ]
    path = write_tile_index(tmp_path / "i.gpkg", recs, "EPSG:32617")
    back = read_tile_index(path)
    assert back[0]["path"] == str(tmp_path / "tiles" / "t_r0_c0.tif")
    assert back[0]["extra"] == "x" and back[0]["valid_fraction"] == 0.5
    assert back[0]["wkt"].startswith("POLYGON ((0 0,1 0,1 -1,0 -1,0 0")
    assert "32617" in tile_index_crs(path)
    with pytest.raises(InputError) as e:
        write_tile_index(tmp_path / "i.xyz", recs, "")
    assert e.value.parameter == "OUTPUT"
    del gt


def test_centroids_from_rotated_tiles_folder_and_records(tmp_path):
    gt = rotated_gt(40.0, res=3.0)
    src = write_raster(tmp_path / "r.tif", gradient(nb=1, h=90, w=60), gt=gt)
    res = split_raster(src, tmp_path / "t", 30)
    recs, crs, skipped = centroids_from_folder(tmp_path / "t")
    assert skipped == [] and "32617" in crs and len(recs) == 6
    by = {r["rs_stem"]: r for r in recs}
    assert (by["r_r2_c1"]["centralx"], by["r_r2_c1"]["centraly"]) == pytest.approx(
        window_center(gt, 30, 60, 30, 30)
    )
    from_index = {r["rs_stem"]: r for r in centroids_from_records(res["tiles"])}
    assert from_index["r_r2_c1"]["centralx"] == pytest.approx(by["r_r2_c1"]["centralx"])
    out = write_centroids(recs, crs, tmp_path / "c.gpkg", tmp_path / "c.csv")
    assert open(out["csv"], encoding="utf-8").readline().strip() == "rs_stem,centralx,centraly"


def test_stretch_tiles_canceled_leaves_no_output(tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=3, h=128, w=128))
    res = split_raster(src, tmp_path / "t", 16)
    with pytest.raises(Canceled):
        stretch_tiles(res["tiles"], tmp_path / "rgb", progress=cancel_after(20), threads=2)
    assert listing(tmp_path / "rgb") == []


def test_parse_bands_and_world_file():
    assert parse_bands("3, 2,1") == [3, 2, 1] and parse_bands("4") == [4]
    for bad in ("", "0,1,2", "1,2", "a,b,c"):
        with pytest.raises(InputError):
            parse_bands(bad)
    lines = world_file_text(NORTH_UP).split()
    assert [float(v) for v in lines] == [1.0, 0.0, 0.0, -1.0, 500000.5, 3999999.5]


def test_ordered_map_keeps_order_and_stops_on_error():
    assert ordered_map(lambda x: x * x, range(50), threads=3) == [x * x for x in range(50)]
    seen = []

    def boom(x):
        seen.append(x)
        if x == 5:
            raise ValueError("boom")
        return x

    with pytest.raises(ValueError):
        ordered_map(boom, range(1000), threads=2)
    assert len(seen) < 1000
