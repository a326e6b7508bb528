"""tile_embeddings:tiledsegmentation in real QGIS: NEON imagery, a 6-band Landsat-like scene,
the optional outputs, errors, cancel, and once through qgis_process."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterLayer,
    QgsVectorLayer,
)

from tile_embeddings.core.seg_io import GdalSource
from tile_embeddings.core.seg_tiling import segment

ALG = "tile_embeddings:tiledsegmentation"


def run(feedback=None, **params):
    import processing

    return processing.run(ALG, params, feedback=feedback)


def read(path):
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds


def landsat_like(path, size=240, seed=8):
    """6-band uint16 reflectance-like scene, 30 m, EPSG:32633, nodata 0 outside a tilted footprint
    (as the corners of a Landsat scene), with fields, water and a town."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    fields = ((yy // 40) * 7 + (xx // 50)) % 5
    base = np.array([[600, 900, 800, 3000, 2000, 1200],  # vegetation
                     [900, 1200, 1400, 2200, 2800, 2200],  # bare soil
                     [500, 700, 500, 300, 150, 100],  # water
                     [1200, 1300, 1400, 1600, 1900, 1800],  # urban
                     [700, 1000, 900, 3600, 2300, 1300]])  # crops
    img = base[fields].transpose(2, 0, 1).astype(np.float32)
    img += rng.normal(0, 40, img.shape)
    footprint = (np.abs((xx - size / 2) + 0.3 * (yy - size / 2)) < size * 0.42) & \
                (np.abs((yy - size / 2) - 0.3 * (xx - size / 2)) < size * 0.42)
    img = np.clip(img, 1, 10000).astype(np.uint16)
    img[:, ~footprint] = 0
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 6, gdal.GDT_UInt16)
    ds.SetGeoTransform((400000.0, 30.0, 0.0, 5600000.0, 0.0, -30.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(6):
        ds.GetRasterBand(b + 1).SetNoDataValue(0)
        ds.GetRasterBand(b + 1).WriteArray(img[b])
    ds = None
    return path, img, footprint


def test_algorithm_is_registered_with_help_icon_and_advanced_scheduler(te_provider):
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    assert alg is not None
    assert alg.groupId() == "segmentation" and alg.group() == "Segmentation"
    assert alg.svgIconPath().endswith("tiledsegmentation.svg") and os.path.exists(alg.svgIconPath())
    assert "Shepherd" in alg.shortHelpString()
    params = {p.name(): p for p in alg.parameterDefinitions()}
    assert params["SCHEDULER"].flags() & Qgis.ProcessingParameterFlag.Advanced
    assert params["NUM_CLUSTERS"].defaultValue() == 60 and params["MIN_PIXELS"].defaultValue() == 100
    assert params["TILE_WIDTH"].defaultValue() == 2048 == params["TILE_HEIGHT"].defaultValue()
    assert params["OUTPUT"].type() == "rasterDestination"
    assert params["OUTPUT_POLYGONS"].type() == "vectorDestination"
    assert {o.name() for o in alg.outputDefinitions()} >= {"OUTPUT", "OUTPUT_MEAN", "OUTPUT_POLYGONS",
                                                          "SEGMENTS", "TILES"}


def test_neon_osbs_tiled_with_all_outputs(te_provider, neon_osbs, tmp_path):
    out, mean, poly = tmp_path / "seg.tif", tmp_path / "mean.tif", tmp_path / "seg.gpkg"
    res = run(INPUT=str(neon_osbs), NUM_CLUSTERS=30, MIN_PIXELS=50, TILE_WIDTH=128, TILE_HEIGHT=128,
              OVERLAP=50, OUTPUT=str(out), OUTPUT_MEAN=str(mean), OUTPUT_POLYGONS=str(poly))
    assert res["TILES"] == 9 and res["OUTPUT"] == str(out)
    seg, ds = read(out)
    img, src = read(neon_osbs)
    assert ds.GetGeoTransform() == src.GetGeoTransform()
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32617"
    assert ds.GetRasterBand(1).DataType == gdal.GDT_UInt32 and ds.GetRasterBand(1).GetNoDataValue() == 0
    nodata = (img == 255).any(axis=0)  # OSBS declares 255 as nodata in every band
    assert ((seg == 0) == nodata).all()  # no unlabelled pixel in the valid area, nodata kept
    assert seg.max() == res["SEGMENTS"] == len(np.unique(seg[seg > 0]))
    sizes = np.bincount(seg.ravel())[1:]
    assert np.median(sizes) >= 50
    layer = QgsRasterLayer(str(out), "seg")
    assert layer.isValid() and layer.crs().authid() == "EPSG:32617"
    m, _ = read(mean)
    sid = seg[200, 200]
    assert np.allclose(m[:, 200, 200], img[:, seg == sid].mean(axis=1), atol=1e-3)
    vl = QgsVectorLayer(f"{poly}|layername=segments", "segments", "ogr")
    assert vl.isValid() and vl.crs().authid() == "EPSG:32617"
    assert {"segment_id", "pixels", "mean_b1", "mean_b3", "std_b2"} <= set(vl.fields().names())
    assert len({f["segment_id"] for f in vl.getFeatures()}) == res["SEGMENTS"]
    assert sum(f["pixels"] for f in vl.getFeatures() if f["segment_id"] == sid) == (seg == sid).sum()
    # the same image without tiling: segment count within 3 %
    st, _, _, close = segment(GdalSource(neon_osbs), num_clusters=30, min_pixels=50, tile_width=4096,
                              tile_height=4096, workers=1)
    close.close()
    assert abs(res["SEGMENTS"] - st.segments) <= 0.03 * st.segments


def test_neon_yell_large_image_tiled(te_provider, neon_yell, tmp_path):
    out = tmp_path / "yell.tif"
    res = run(INPUT=str(neon_yell), NUM_CLUSTERS=30, MIN_PIXELS=100, TILE_WIDTH=1024, TILE_HEIGHT=1024,
              OUTPUT=str(out))
    assert res["TILES"] == 6  # 2299 x 2472 px: 2 columns (the 251-px sliver joins) x 3 rows
    seg, ds = read(out)
    src = gdal.Open(str(neon_yell))
    assert ds.GetGeoTransform() == src.GetGeoTransform()
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32612"
    assert (seg > 0).all()
    sizes = np.bincount(seg.ravel())[1:]
    assert len(sizes) == res["SEGMENTS"] and (sizes > 0).all()
    assert (sizes >= 100).mean() > 0.8  # the rest: too distant from every neighbour to merge
    assert (sizes > 1).all()  # single pixels always join their nearest larger neighbour
    # a segment crossing the tile edge at x=1024 keeps one id on both sides somewhere
    assert len(np.intersect1d(seg[:, 1023], seg[:, 1024])) > 10


def test_landsat_like_six_bands_with_irregular_footprint(te_provider, tmp_path):
    path, img, footprint = landsat_like(tmp_path / "ls.tif")
    out, mean = tmp_path / "ls_seg.tif", tmp_path / "ls_mean.tif"
    res = run(INPUT=str(path), NUM_CLUSTERS=20, MIN_PIXELS=20, TILE_WIDTH=64, TILE_HEIGHT=64, OVERLAP=20,
              OUTPUT=str(out), OUTPUT_MEAN=str(mean))
    seg, ds = read(out)
    assert ((seg > 0) == footprint).all()
    assert ds.GetGeoTransform() == (400000.0, 30.0, 0.0, 5600000.0, 0.0, -30.0)
    m, mds = read(mean)
    assert m.shape == (6, 240, 240) and mds.GetRasterBand(1).GetNoDataValue() == 0
    assert (m[:, ~footprint] == 0).all()
    # the field pattern is recovered: most segments sit inside one field
    sid = seg[120, 120]
    assert np.allclose(m[:, 120, 120], img[:, seg == sid].mean(axis=1), rtol=1e-5)
    # a band subset: 4 bands in the mean image
    res2 = run(INPUT=str(path), BANDS=[3, 4, 5, 6], NUM_CLUSTERS=20, MIN_PIXELS=20, TILE_WIDTH=64,
               TILE_HEIGHT=64, OVERLAP=20, OUTPUT=str(tmp_path / "s.tif"),
               OUTPUT_MEAN=str(tmp_path / "m4.tif"))
    assert gdal.Open(str(tmp_path / "m4.tif")).RasterCount == 4
    assert abs(res2["SEGMENTS"] - res["SEGMENTS"]) <= 0.5 * res["SEGMENTS"]


def test_wrong_polygon_format_names_the_parameter(te_provider, neon_osbs, tmp_path):
    with pytest.raises(QgsProcessingException) as e:
        run(INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "s.tif"), OUTPUT_POLYGONS=str(tmp_path / "p.shp"))
    assert "Segment polygons" in str(e.value) and ".gpkg" in str(e.value)
    assert not (tmp_path / "s.tif").exists()


def test_cancel_writes_nothing(te_provider, neon_osbs, tmp_path):
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException) as e:
        run(feedback, INPUT=str(neon_osbs), TILE_WIDTH=128, TILE_HEIGHT=128, OUTPUT=str(tmp_path / "s.tif"))
    assert "Canceled" in str(e.value)
    assert os.listdir(tmp_path) == []


class CancelAtStage(QgsProcessingFeedback):
    """A feedback whose user presses Cancel when the progress text reaches a given stage."""

    def __init__(self, stage):
        super().__init__()
        self.stage = stage
        self.texts = []

    def setProgressText(self, text):  # noqa: N802
        self.texts.append(text)
        super().setProgressText(text)
        if self.stage in text:
            self.cancel()


@pytest.mark.parametrize("stage", ["Polygonising", "Writing the segment raster", "tile 1/"])
def test_cancel_at_any_stage_is_a_clean_cancel(te_provider, neon_osbs, tmp_path, stage):
    feedback = CancelAtStage(stage)
    with pytest.raises(QgsProcessingException) as e:
        run(feedback, INPUT=str(neon_osbs), NUM_CLUSTERS=20, MIN_PIXELS=20, TILE_WIDTH=200, TILE_HEIGHT=200,
            OVERLAP=20, OUTPUT=str(tmp_path / "s.tif"), OUTPUT_MEAN=str(tmp_path / "m.tif"),
            OUTPUT_POLYGONS=str(tmp_path / "p.gpkg"))
    assert any(stage in t for t in feedback.texts)
    assert "Canceled" in str(e.value) and "User terminated" not in str(e.value)
    assert os.listdir(tmp_path) == []  # no output, no hidden partial file


def test_more_clusters_than_pixels_is_clamped_with_a_warning(te_provider, tmp_path):
    rng = np.random.default_rng(3)
    img = rng.permutation(np.arange(3 * 10 * 12)).reshape(3, 10, 12).astype(np.uint16) + 1  # all distinct
    path = tmp_path / "tiny.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 12, 10, 3, gdal.GDT_UInt16)
    ds.SetGeoTransform((0.0, 1.0, 0.0, 10.0, 0.0, -1.0))
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(img[b])
    ds = None

    class Log(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.warnings = []

        def pushWarning(self, text):  # noqa: N802
            self.warnings.append(text)
            super().pushWarning(text)

    log = Log()
    res = run(log, INPUT=str(path), NUM_CLUSTERS=500, MIN_PIXELS=8, OUTPUT=str(tmp_path / "s.tif"))
    assert any("500" in w and "120" in w and "NUM_CLUSTERS" in w for w in log.warnings)
    seg, _ = read(tmp_path / "s.tif")
    sizes = np.bincount(seg.ravel())[1:]
    assert res["SEGMENTS"] == len(sizes) and (sizes >= 2).all()  # single pixels always merge
    res = run(INPUT=str(path), NUM_CLUSTERS=500, MIN_PIXELS=8, MERGE_SMALL=True, OUTPUT=str(tmp_path / "c.tif"))
    seg, _ = read(tmp_path / "c.tif")
    assert (np.bincount(seg.ravel())[1:] >= 8).all()  # the clean-up: nothing under the minimum size


def test_labels_are_plain_words_and_new_parameters_are_optional_and_advanced(te_provider):
    alg = QgsApplication.processingRegistry().algorithmById(ALG)
    params = {p.name(): p for p in alg.parameterDefinitions()}
    for p in params.values():
        assert not any(j in p.description() for j in ("numClusters", "minPxls", "minSegmentSize")), p.name()
    for name in ("STANDARDISE", "SEED", "KMEANS_ITERATIONS", "KMEANS_RESTARTS", "SAMPLE_SIZE"):
        assert params[name].flags() & Qgis.ProcessingParameterFlag.Advanced, name
    for name in ("STANDARDISE", "SEED", "KMEANS_ITERATIONS", "KMEANS_RESTARTS", "MERGE_SMALL"):
        assert params[name].flags() & Qgis.ProcessingParameterFlag.Optional, name
    assert params["MERGE_SMALL"].defaultValue() is False and params["STANDARDISE"].defaultValue() is True
    help_text = alg.shortHelpString()
    assert "numClusters" in help_text and "minPxls" in help_text  # the peers' names, in the help only


def test_raw_units_and_seed_reach_the_engine(te_provider, neon_osbs, tmp_path):
    kw = dict(INPUT=str(neon_osbs), NUM_CLUSTERS=20, MIN_PIXELS=30, TILE_WIDTH=4096, TILE_HEIGHT=4096)
    a = run(SEED=5, OUTPUT=str(tmp_path / "a.tif"), **kw)
    b = run(SEED=5, OUTPUT=str(tmp_path / "b.tif"), **kw)
    assert np.array_equal(read(tmp_path / "a.tif")[0], read(tmp_path / "b.tif")[0])  # deterministic
    # raw units: a distance of 0.5 (digital numbers) forbids almost every merge beyond single pixels
    raw = run(STANDARDISE=False, MAX_SPECTRAL_DISTANCE=0.5, OUTPUT=str(tmp_path / "r.tif"), **kw)
    assert raw["SEGMENTS"] > 2 * a["SEGMENTS"]
    del b


def test_qgis_process_runs_tiledsegmentation(neon_osbs, tmp_path):
    exe = shutil.which("qgis_process")
    if exe is None:
        pytest.skip("qgis_process not installed")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH="/tmp/te-pypath")
    env["HOME"] = str(tmp_path / "home")  # a private QGIS profile
    subprocess.run([exe, "plugins", "enable", "tile_embeddings"], env=env, capture_output=True, timeout=120)
    out = tmp_path / "seg.tif"
    r = subprocess.run(
        [exe, "run", ALG, "--", f"INPUT={neon_osbs}", "NUM_CLUSTERS=20", "MIN_PIXELS=40", "TILE_WIDTH=200",
         "TILE_HEIGHT=200", "OVERLAP=40", f"OUTPUT={out}"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TILES:\t4" in r.stdout or "TILES: 4" in r.stdout.replace("\t", " ")
    seg, _ = read(out)
    assert seg.max() > 10 and seg.dtype == np.uint32
