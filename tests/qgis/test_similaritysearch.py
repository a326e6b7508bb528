"""tile_embeddings:similaritysearch on an index of real NEON imagery (provisioned MobileNetV2)."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsVectorLayer,
)

pytest.importorskip("torch")

from tile_embeddings.core import search  # noqa: E402
from tile_embeddings.core.index import open_index  # noqa: E402

MARS = (
    'GEOGCRS["Mars 2000",DATUM["D_Mars_2000",ELLIPSOID["Mars_2000_IAU_IAG",3396190,169.894447223612,'
    'LENGTHUNIT["metre",1]]],PRIMEM["Reference_Meridian",0],CS[ellipsoidal,2],AXIS["lat",north],'
    'AXIS["lon",east],ANGLEUNIT["degree",0.0174532925199433]]'
)


@pytest.fixture
def processing(te_provider):
    import processing

    return processing


@pytest.fixture(scope="module")
def index_path(neon_osbs, tmp_path_factory):
    """OSBS_029 in 6 x 6 tiles of 64 px (6.4 m), default model and preprocessing, input 96 px
    (built by the engine that embedtiles calls; the algorithm itself is tested in test_embedtiles)."""
    from tile_embeddings.core.embedding import embed_tiles

    out = tmp_path_factory.mktemp("search") / "osbs.teindex"
    return embed_tiles(str(out), raster=str(neon_osbs), tile_size=64, input_size=96)


def features(path):
    layer = QgsVectorLayer(path, "r", "ogr")
    assert layer.isValid(), path
    return sorted(layer.getFeatures(), key=lambda f: f["rank"] if "rank" in f.fields().names() else f.id())


def run(processing, tmp_path, **params):
    params.setdefault("OUTPUT", str(tmp_path / "results.gpkg"))
    res = processing.run("tile_embeddings:similaritysearch", params)
    return res, features(res["OUTPUT"])


def test_nearest_neighbour_of_a_tile_is_itself(processing, index_path, tmp_path):
    res, feats = run(processing, tmp_path, INDEX=index_path, QUERY_IDS="OSBS_029_r2_c3", K=5)
    assert [f["rank"] for f in feats] == [1, 2, 3, 4, 5]
    assert feats[0]["tile_id"] == "OSBS_029_r2_c3"
    assert feats[0]["score"] == pytest.approx(1.0, abs=1e-4)
    scores = [f["score"] for f in feats]
    assert scores == sorted(scores, reverse=True) and scores[-1] < 0.99
    assert (feats[0]["row"], feats[0]["col"]) == (2, 3)
    assert "positives: OSBS_029_r2_c3" in feats[0]["query"]
    # geometry is the tile's footprint in the index CRS
    ix = open_index(index_path)
    gt = ix.meta["geotransform"]
    bb = feats[0].geometry().boundingBox()
    assert bb.xMinimum() == pytest.approx(gt[0] + 3 * 64 * gt[1], abs=1e-6)
    assert bb.yMaximum() == pytest.approx(gt[3] + 2 * 64 * gt[5], abs=1e-6)
    assert QgsVectorLayer(res["OUTPUT"], "r", "ogr").crs().authid() == "EPSG:32617"
    # same answer as the core search (the dock calls the core)
    core = search.search(ix, ["OSBS_029_r2_c3"], k=5)
    assert [f["tile_id"] for f in feats] == core.ids


def transformed_copy(neon_osbs, tile_row, tile_col, path):
    """The tile rotated 90 degrees, flipped and brightened 10 %, as a plain PNG (no georeferencing)."""
    ds = gdal.Open(str(neon_osbs))
    a = ds.ReadAsArray(tile_col * 64, tile_row * 64, 64, 64).astype(np.float32)
    a = np.rot90(a, 1, axes=(1, 2))[:, :, ::-1]
    a = np.clip(a * 1.1, 0, 255).astype(np.uint8)
    out = gdal.GetDriverByName("MEM").Create("", 64, 64, 3, gdal.GDT_Byte)
    for b in range(3):
        out.GetRasterBand(b + 1).WriteArray(np.ascontiguousarray(a[b]))
    gdal.GetDriverByName("PNG").CreateCopy(str(path), out)
    return str(path)


@pytest.fixture(scope="module")
def invariant_index_path(neon_osbs, tmp_path_factory):
    from tile_embeddings.core.embedding import embed_tiles

    out = tmp_path_factory.mktemp("search_inv") / "osbs_rot.teindex"
    return embed_tiles(str(out), raster=str(neon_osbs), tile_size=64, input_size=64, rotation_invariant=True)


def test_transformed_external_copy_retrieves_its_original(
    processing, invariant_index_path, neon_osbs, tmp_path
):
    """A rotated, flipped, 10 % brighter copy (a PNG outside the index) finds its tile first."""
    assert open_index(invariant_index_path).meta["preprocessing"]["rotation_invariant"] is True
    for r, c in [(1, 1), (2, 4), (4, 2)]:
        png = transformed_copy(neon_osbs, r, c, tmp_path / f"copy_{r}_{c}.png")
        _, feats = run(
            processing,
            tmp_path,
            INDEX=invariant_index_path,
            QUERY_IMAGE=png,
            K=3,
            OUTPUT=str(tmp_path / f"r{r}{c}.gpkg"),
        )
        assert f"images: copy_{r}_{c}" in feats[0]["query"]
        assert feats[0]["tile_id"] == f"OSBS_029_r{r}_c{c}", [f["tile_id"] for f in feats]
        assert feats[0]["score"] > 0.9


def test_external_raster_area_query_matches_the_tile(processing, index_path, neon_osbs, tmp_path):
    ix = open_index(index_path)
    gt = ix.meta["geotransform"]
    x0, y1 = gt[0] + 4 * 64 * gt[1], gt[3] + 1 * 64 * gt[5]  # tile r1_c4
    x1, y0 = x0 + 64 * gt[1], y1 + 64 * gt[5]
    extent = f"{x0 + 0.01},{x1 - 0.01},{y0 + 0.01},{y1 - 0.01} [EPSG:32617]"
    _, feats = run(
        processing, tmp_path, INDEX=index_path, QUERY_IMAGE=str(neon_osbs), QUERY_EXTENT=extent, K=2
    )
    assert feats[0]["tile_id"] == "OSBS_029_r1_c4"
    assert feats[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_negatives_move_results_away(processing, index_path, tmp_path):
    ix = open_index(index_path)
    q = "OSBS_029_r3_c3"
    plain = search.search(ix, [q], k=36)
    negative = plain.ids[1]  # the closest other tile
    _, base = run(processing, tmp_path, INDEX=index_path, QUERY_IDS=q, K=36, OUTPUT=str(tmp_path / "a.gpkg"))
    _, pushed = run(
        processing,
        tmp_path,
        INDEX=index_path,
        QUERY_IDS=q,
        NEGATIVE_IDS=negative,
        K=36,
        OUTPUT=str(tmp_path / "b.gpkg"),
    )
    rank = {f["tile_id"]: f["rank"] for f in pushed}
    assert {f["tile_id"]: f["rank"] for f in base}[negative] == 2
    assert rank[negative] > 2 * 4, rank[negative]  # far down the list now
    # and tiles like the negative lose score on average
    e = ix.embeddings
    sim_to_neg = e @ e[ix.row_of(negative)]
    near = [ix.ids[i] for i in np.argsort(-sim_to_neg)[1:6]]
    before = {f["tile_id"]: f["score"] for f in base}
    after = {f["tile_id"]: f["score"] for f in pushed}
    assert np.mean([after[t] - before[t] for t in near]) < 0
    assert "negatives: " + negative in pushed[0]["query"]


def point_layer(crs, points):
    layer = QgsVectorLayer("Point", "q", "memory")
    layer.setCrs(crs)
    feats = []
    for x, y in points:
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_query_layer_in_another_crs_picks_the_right_tile(processing, index_path, tmp_path):
    from qgis.core import QgsCoordinateTransform, QgsProject

    ix = open_index(index_path)
    gt = ix.meta["geotransform"]
    x, y = gt[0] + (2 * 64 + 30) * gt[1], gt[3] + (5 * 64 + 30) * gt[5]  # inside r5_c2
    utm, wgs = QgsCoordinateReferenceSystem("EPSG:32617"), QgsCoordinateReferenceSystem("EPSG:4326")
    p = QgsCoordinateTransform(utm, wgs, QgsProject.instance()).transform(QgsPointXY(x, y))
    layer = point_layer(wgs, [(p.x(), p.y())])
    _, feats = run(processing, tmp_path, INDEX=index_path, QUERY_LAYER=layer, K=1)
    assert feats[0]["tile_id"] == "OSBS_029_r5_c2"


def test_query_layer_in_an_untransformable_crs_is_refused(processing, index_path, tmp_path):
    mars = QgsCoordinateReferenceSystem.fromWkt(MARS)
    assert mars.isValid()
    layer = point_layer(mars, [(10.0, 10.0)])
    with pytest.raises(QgsProcessingException) as e:
        run(processing, tmp_path, INDEX=index_path, QUERY_LAYER=layer, K=1)
    msg = str(e.value)
    assert "(QUERY_LAYER)" in msg and "cannot transform the query features" in msg
    assert "Mars" in msg and "EPSG:32617" in msg
    assert not (tmp_path / "results.gpkg").exists()
    nocrs = point_layer(QgsCoordinateReferenceSystem(), [(10.0, 10.0)])
    with pytest.raises(QgsProcessingException) as e:
        run(processing, tmp_path, INDEX=index_path, QUERY_LAYER=nocrs, K=1)
    assert "has no CRS" in str(e.value)


@pytest.mark.parametrize(
    "damage, words",
    [
        ("truncate", "embeddings.npy is truncated or corrupt"),
        ("meta", "meta.json is unreadable"),
        ("gpkg", "tiles.gpkg is not a GeoPackage"),
    ],
)
def test_corrupt_or_truncated_index_gives_a_clear_error(processing, index_path, tmp_path, damage, words):
    broken = tmp_path / "broken.teindex"
    shutil.copytree(index_path, broken)
    if damage == "truncate":
        p = broken / "embeddings.npy"
        with open(p, "r+b") as f:
            f.truncate(os.path.getsize(p) - 5000)
    elif damage == "meta":
        (broken / "meta.json").write_text('{"format": "tile-embeddings-index", "cou')
    else:
        (broken / "tiles.gpkg").write_bytes(b"garbage" * 10)
    with pytest.raises(QgsProcessingException) as e:
        run(processing, tmp_path, INDEX=str(broken), QUERY_IDS="OSBS_029_r0_c0")
    msg = str(e.value)
    assert "(INDEX)" in msg and words in msg and "Rebuild it with 'Embed tiles'" in msg


def test_unknown_tile_id_and_empty_query(processing, index_path, tmp_path):
    with pytest.raises(QgsProcessingException) as e:
        run(processing, tmp_path, INDEX=index_path, QUERY_IDS="OSBS_029_r9_c9")
    assert "(QUERY_IDS)" in str(e.value) and "not in this index" in str(e.value)
    with pytest.raises(QgsProcessingException) as e:
        run(processing, tmp_path, INDEX=index_path)
    assert "no query" in str(e.value)


def test_heatmap_scores_every_tile(processing, index_path, tmp_path):
    res = processing.run(
        "tile_embeddings:similaritysearch",
        {
            "INDEX": index_path,
            "QUERY_IDS": "OSBS_029_r0_c0",
            "NEGATIVE_IDS": "OSBS_029_r5_c5",
            "K": 3,
            "EXCLUDE_QUERY": True,
            "OUTPUT": str(tmp_path / "r.gpkg"),
            "SCORES": str(tmp_path / "heat.gpkg"),
        },
    )
    ix = open_index(index_path)
    heat = QgsVectorLayer(res["SCORES"], "h", "ogr")
    assert heat.featureCount() == 36
    got = {f["tile_id"]: f["score"] for f in heat.getFeatures()}
    expected = search.score_all(ix, ["OSBS_029_r0_c0"], ["OSBS_029_r5_c5"])
    np.testing.assert_allclose([got[t] for t in ix.ids], expected, rtol=1e-5, atol=1e-6)
    top = [f["tile_id"] for f in features(res["OUTPUT"])]
    assert "OSBS_029_r0_c0" not in top and len(top) == 3


def test_qgis_process_runs_the_search(index_path, tmp_path):
    """The command line: qgis_process with the plugin enabled in a throwaway profile."""
    env = dict(
        os.environ,
        HOME=str(tmp_path / "home"),
        QGIS_PLUGINPATH=os.environ.get("PYTHONPATH", "/tmp/te-pypath"),
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(tmp_path),
    )
    os.makedirs(env["HOME"])
    enable = subprocess.run(
        ["qgis_process", "plugins", "enable", "tile_embeddings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enable.returncode == 0 or "already enabled" in enable.stderr, enable.stderr
    out = tmp_path / "cli.gpkg"
    r = subprocess.run(
        [
            "qgis_process",
            "--json",
            "run",
            "tile_embeddings:similaritysearch",
            "--",
            f"INDEX={index_path}",
            "QUERY_IDS=OSBS_029_r2_c2",
            "K=4",
            f"OUTPUT={out}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    payload = json.loads(r.stdout[r.stdout.index("{") :])
    assert payload["results"]["OUTPUT"] == str(out)
    feats = features(str(out))
    assert len(feats) == 4 and feats[0]["tile_id"] == "OSBS_029_r2_c2"


def test_algorithm_metadata(te_provider):
    alg = te_provider.algorithm("similaritysearch")
    assert alg.group() == "Embeddings and search" and alg.svgIconPath().endswith("similaritysearch.svg")
    assert "negatives" in alg.shortHelpString()
    assert alg.canExecute()[0]


def test_empty_tiles_are_skipped_and_constant_tiles_left_out_unless_asked(processing, neon_osbs, tmp_path):
    """OSBS_029 framed by 64 px of nodata on the left and a constant fill on the right (no nodata
    declared for the fill: a fill value is not nodata): embedtiles leaves the nodata tiles out and
    flags the fill; similaritysearch leaves the fill out of results unless INCLUDE_CONSTANT."""
    src = gdal.Open(str(neon_osbs))
    data = src.ReadAsArray()[:3].astype(np.uint16) + 1  # 0 is the nodata value below
    path = str(tmp_path / "framed.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 512, 400, 3, gdal.GDT_UInt16)
    gt = list(src.GetGeoTransform())
    ds.SetGeoTransform([gt[0] - 64 * gt[1]] + gt[1:])
    ds.SetProjection(src.GetProjection())
    for b in range(3):
        a = np.zeros((400, 512), np.uint16)  # columns of 64 px tiles: 0 nodata, 1-6 the image, 7 the fill
        a[:, 64:448] = data[b][:, :384]
        a[:, 448:] = 4000  # the constant fill, a valid value
        ds.GetRasterBand(b + 1).WriteArray(a)
        ds.GetRasterBand(b + 1).SetNoDataValue(0)
    ds = None
    out = tmp_path / "framed.teindex"
    res = processing.run("tile_embeddings:embedtiles", {
        "INPUT": path, "TILE_SIZE": 64, "INPUT_SIZE": 64, "FEATURES": "final", "OUTPUT": str(out)})
    ix = open_index(res["OUTPUT"])
    # 8 x 6 = 48 tiles: column 0 nodata (6 skipped), column 7 the fill (6 constant)
    assert res["COUNT"] == 42 and res["DIMS"] == 1280 and ix.meta["features"] == "final"
    assert ix.meta["skipped_tiles"] == 6 and not any(t.endswith("_c0") for t in ix.ids)
    fill = {t for t, c in zip(ix.ids, ix.constant) if c}
    assert fill == {f"framed_r{r}_c7" for r in range(6)}
    _, rows = run(processing, tmp_path, INDEX=str(out), QUERY_IDS="framed_r0_c7", K=42)
    assert len(rows) == 36 and not {f["tile_id"] for f in rows} & fill  # a constant query still works
    _, rows = run(processing, tmp_path, INDEX=str(out), QUERY_IDS="framed_r0_c7", K=42, INCLUDE_CONSTANT=True,
                  OUTPUT=str(tmp_path / "all.gpkg"))
    assert len(rows) == 42 and {f["tile_id"] for f in rows[:6]} == fill
