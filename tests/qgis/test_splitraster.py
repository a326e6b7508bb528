"""tile_embeddings:splitraster through processing.run (and once through qgis_process)."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from tile_embeddings.core.grid import shifted_geotransform, window_center, window_corners
from tile_embeddings.core.tile_index import read_tile_index
from tile_embeddings.tests.raster_prep_data import (
    gradient,
    read,
    read_only_folder,
    rotated_gt,
    write_raster,
)

ALG = "tile_embeddings:splitraster"


def run(feedback=None, **params):
    import processing

    return processing.run(ALG, params, feedback=feedback)


def test_neon_tiles_match_source_grid_and_index(te_provider, neon_osbs, tmp_path):
    out = tmp_path / "北京 五环" / "tiles"
    index = tmp_path / "北京 五环" / "tile index.gpkg"
    res = run(INPUT=str(neon_osbs), TILE_SIZE=128, OUTPUT_FOLDER=str(out), OUTPUT=str(index))
    assert res["TILE_COUNT"] == 9 and res["SKIPPED"] == 0  # 400 px -> 3 whole tiles a side, edges dropped
    src = gdal.Open(str(neon_osbs))
    gt, full = src.GetGeoTransform(), src.ReadAsArray()
    names = sorted(os.listdir(out))
    assert names == sorted(f"OSBS_029_r{r}_c{c}.tif" for r in range(3) for c in range(3))
    for r in range(3):
        for c in range(3):
            arr, tgt, ds = read(out / f"OSBS_029_r{r}_c{c}.tif")
            np.testing.assert_array_equal(arr, full[:, r * 128 : (r + 1) * 128, c * 128 : (c + 1) * 128])
            assert tgt == pytest.approx(shifted_geotransform(gt, c * 128, r * 128), abs=1e-9)
            assert ds.GetSpatialRef().GetAuthorityCode(None) == "32617"
    layer = QgsVectorLayer(f"{index}|layername=tiles", "tiles", "ogr")
    assert layer.isValid() and layer.featureCount() == 9
    assert layer.crs().authid() == "EPSG:32617"
    assert set(layer.fields().names()) >= {
        "tile_id",
        "row",
        "col",
        "path",
        "valid_fraction",
        "center_x",
        "center_y",
    }
    records = {r["tile_id"]: r for r in read_tile_index(index)}
    rec = records["OSBS_029_r1_c2"]
    # OSBS_029 declares 255 as nodata: a pixel is valid when no band holds it
    valid = (full[:, 128:256, 256:384] != 255).all(axis=0).mean()
    assert (rec["row"], rec["col"]) == (1, 2) and rec["valid_fraction"] == pytest.approx(valid)
    assert 0.5 < valid < 1.0
    assert rec["path"] == str(out / "OSBS_029_r1_c2.tif") and os.path.isabs(rec["path"])
    assert (rec["center_x"], rec["center_y"]) == pytest.approx(window_center(gt, 256, 128, 128, 128))
    feature = next(f for f in layer.getFeatures() if f["tile_id"] == "OSBS_029_r1_c2")
    ring = feature.geometry().asPolygon()[0]
    expected = window_corners(gt, 256, 128, 128, 128)
    assert [(p.x(), p.y()) for p in ring[:4]] == [pytest.approx(e, abs=1e-6) for e in expected]
    assert not [n for n in os.listdir(out) if n.startswith(".")]


@pytest.mark.parametrize("edge, count, last_shape", [(1, 12, (128, 128)), (2, 12, (300 - 256, 400 - 384))])
def test_pad_and_keep_edge_policies(te_provider, tmp_path, edge, count, last_shape):
    a = gradient(nb=2, h=300, w=400, dtype="uint16")
    src = write_raster(tmp_path / "s.tif", a, nodata=0)
    out = tmp_path / "t"
    res = run(INPUT=src, TILE_SIZE=128, EDGE=edge, OUTPUT_FOLDER=str(out), OUTPUT=str(tmp_path / "i.gpkg"))
    assert res["TILE_COUNT"] == count
    arr, _, ds = read(out / "s_r2_c3.tif")
    assert arr.shape[1:] == last_shape
    inside = a[:, 256:, 384:]
    np.testing.assert_array_equal(arr[:, : inside.shape[1], : inside.shape[2]], inside)
    if edge == 1:  # padded with nodata, and the padding counts as invalid
        assert (arr[:, 44:, :] == 0).all() and (arr[:, :, 16:] == 0).all()
        rec = {r["tile_id"]: r for r in read_tile_index(tmp_path / "i.gpkg")}["s_r2_c3"]
        assert rec["valid_fraction"] == pytest.approx(44 * 16 / 128**2)
    assert ds.GetRasterBand(1).GetNoDataValue() == 0
    assert ds.GetRasterBand(1).DataType == gdal.GDT_UInt16


def test_irregular_valid_area_threshold_and_empty_tiles(te_provider, tmp_path):
    a = gradient(nb=1, h=256, w=256, dtype="float32")[0]
    yy, xx = np.mgrid[0:256, 0:256]
    a[(yy - 40) ** 2 + (xx - 40) ** 2 > 60**2] = -9999.0  # a disc of data in the upper-left corner
    src = write_raster(tmp_path / "f.tif", a, nodata=-9999.0)
    valid = a != -9999.0
    expected = {
        (r, c): valid[r * 64 : (r + 1) * 64, c * 64 : (c + 1) * 64].mean() for r in range(4) for c in range(4)
    }
    res = run(
        INPUT=src,
        TILE_SIZE=64,
        MIN_VALID_FRACTION=0.0,
        OUTPUT_FOLDER=str(tmp_path / "all"),
        OUTPUT=str(tmp_path / "all.gpkg"),
    )
    assert res["TILE_COUNT"] == 16  # empty tiles are written too at threshold 0
    for rec in read_tile_index(tmp_path / "all.gpkg"):
        assert rec["valid_fraction"] == pytest.approx(expected[(rec["row"], rec["col"])])
    assert min(expected.values()) == 0.0
    res = run(
        INPUT=src,
        TILE_SIZE=64,
        MIN_VALID_FRACTION=0.5,
        OUTPUT_FOLDER=str(tmp_path / "half"),
        OUTPUT=str(tmp_path / "half.gpkg"),
    )
    keep = {k for k, v in expected.items() if v >= 0.5}
    assert res["TILE_COUNT"] == len(keep) and res["SKIPPED"] == 16 - len(keep)
    assert {(r["row"], r["col"]) for r in read_tile_index(tmp_path / "half.gpkg")} == keep
    arr, _, ds = read(tmp_path / "half" / "f_r0_c0.tif")
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Float32
    np.testing.assert_array_equal(arr, a[:64, :64])


def test_rotated_grid_tiles_and_footprints(te_provider, tmp_path):
    gt = rotated_gt(30.0, res=2.0)
    a = gradient(nb=3, h=100, w=100)
    src = write_raster(tmp_path / "r.tif", a, gt=gt)
    res = run(
        INPUT=src,
        TILE_SIZE=50,
        OVERLAP=10,
        OUTPUT_FOLDER=str(tmp_path / "t"),
        OUTPUT=str(tmp_path / "i.gpkg"),
    )
    assert res["TILE_COUNT"] == 4  # starts 0 and 40 on each axis
    recs = {(r["row"], r["col"]): r for r in read_tile_index(tmp_path / "i.gpkg")}
    arr, tgt, _ = read(tmp_path / "t" / "r_r1_c1.tif")
    np.testing.assert_array_equal(arr, a[:, 40:90, 40:90])
    assert tgt == pytest.approx(shifted_geotransform(gt, 40, 40))
    assert (recs[1, 1]["center_x"], recs[1, 1]["center_y"]) == pytest.approx(
        window_center(gt, 40, 40, 50, 50)
    )
    from osgeo import ogr

    ring = ogr.CreateGeometryFromWkt(recs[1, 1]["wkt"]).GetGeometryRef(0)
    got = [ring.GetPoint_2D(i) for i in range(4)]
    assert got == [pytest.approx(p) for p in window_corners(gt, 40, 40, 50, 50)]


def test_tile_larger_than_raster_is_a_clear_error(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=100, w=120))
    with pytest.raises(QgsProcessingException, match=r"TILE_SIZE.*larger than the raster"):
        run(INPUT=src, TILE_SIZE=256, OUTPUT_FOLDER=str(tmp_path / "t"), OUTPUT=str(tmp_path / "i.gpkg"))
    assert not (tmp_path / "i.gpkg").exists()


def test_read_only_output_folder_is_a_clear_error(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=100, w=120))
    with read_only_folder(str(tmp_path / "ro")) as ro:
        if ro is None:
            pytest.skip("cannot make a read-only folder here")
        with pytest.raises(QgsProcessingException, match=r"OUTPUT_FOLDER.*not writable"):
            run(INPUT=src, TILE_SIZE=32, OUTPUT_FOLDER=ro, OUTPUT=str(tmp_path / "i.gpkg"))
        with pytest.raises(QgsProcessingException, match=r"OUTPUT_FOLDER.*cannot create the output folder"):
            run(
                INPUT=src,
                TILE_SIZE=32,
                OUTPUT_FOLDER=os.path.join(ro, "sub"),
                OUTPUT=str(tmp_path / "i.gpkg"),
            )
        assert os.listdir(ro) == []
    assert not (tmp_path / "i.gpkg").exists()


class CancelAfter(QgsProcessingFeedback):
    """A feedback whose user presses Cancel once progress passes ``percent``."""

    def __init__(self, percent):
        super().__init__()
        self.percent = percent

    def setProgress(self, value):  # noqa: N802
        super().setProgress(value)
        if value >= self.percent:
            self.cancel()


@pytest.mark.parametrize("existing", [False, True])
def test_cancel_removes_the_tile_folder_it_created_and_keeps_an_existing_one(te_provider, tmp_path, existing):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=256, w=256))
    out = tmp_path / "new" / "tiles"
    if existing:
        out.mkdir(parents=True)
        (out / "mine.txt").write_text("keep me")
    with pytest.raises(QgsProcessingException, match="Canceled"):
        run(
            CancelAfter(30),
            INPUT=src,
            TILE_SIZE=16,
            THREADS=1,
            OUTPUT_FOLDER=str(out),
            OUTPUT=str(tmp_path / "i.gpkg"),
        )
    if existing:
        assert os.listdir(out) == ["mine.txt"]
    else:
        assert not (tmp_path / "new").exists()  # the folder and the parent it created are gone
    assert sorted(os.listdir(tmp_path)) == sorted(["s.tif"] + (["new"] if existing else []))


def test_unwritable_index_location_writes_no_tile_and_leaves_no_folder(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=100, w=120))
    out = tmp_path / "tiles"
    with read_only_folder(str(tmp_path / "ro")) as ro:
        if ro is None:
            pytest.skip("cannot make a read-only folder here")
        with pytest.raises(QgsProcessingException, match=r"OUTPUT"):
            run(INPUT=src, TILE_SIZE=32, OUTPUT_FOLDER=str(out), OUTPUT=os.path.join(ro, "i.gpkg"))
        assert os.listdir(ro) == []
    assert not out.exists()
    # an index "folder" below a regular file: a clear error, and again no tile folder
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(QgsProcessingException, match=r"OUTPUT.*cannot create"):
        run(INPUT=src, TILE_SIZE=32, OUTPUT_FOLDER=str(out), OUTPUT=str(blocker / "i.gpkg"))
    assert not out.exists()
    # an index path that is a folder
    (tmp_path / "dir.gpkg").mkdir()
    with pytest.raises(QgsProcessingException, match=r"OUTPUT.*is a folder"):
        run(INPUT=src, TILE_SIZE=32, OUTPUT_FOLDER=str(out), OUTPUT=str(tmp_path / "dir.gpkg"))
    assert not out.exists()


def test_qgis_process_runs_splitraster(neon_osbs, tmp_path):
    exe = shutil.which("qgis_process")
    if exe is None:
        pytest.skip("qgis_process not installed")
    pypath = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH="/tmp/te-pypath")
    env["HOME"] = str(tmp_path / "home")  # a private QGIS profile
    subprocess.run([exe, "plugins", "enable", "tile_embeddings"], env=env, capture_output=True, timeout=120)
    out = tmp_path / "tiles"
    r = subprocess.run(
        [
            exe,
            "run",
            "tile_embeddings:splitraster",
            "--",
            f"INPUT={neon_osbs}",
            "TILE_SIZE=200",
            f"OUTPUT_FOLDER={out}",
            f"OUTPUT={tmp_path / 'i.gpkg'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TILE_COUNT:\t4" in r.stdout or "TILE_COUNT: 4" in r.stdout.replace("\t", " ")
    assert sorted(os.listdir(out)) == [f"OSBS_029_r{r}_c{c}.tif" for r in range(2) for c in range(2)]
    del pypath
