"""Indexes of several rasters in different CRSs, grown and shrunk without embedding their tiles again."""

import hashlib
import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from osgeo import gdal, ogr, osr  # noqa: E402

from tile_embeddings.core import embedding  # noqa: E402
from tile_embeddings.core import index as tindex  # noqa: E402
from tile_embeddings.core.errors import Canceled, InputError  # noqa: E402
from tile_embeddings.core.grid import TileWindows, tile_windows  # noqa: E402
from tile_embeddings.core.index_edit import append_to_index, remove_from_index  # noqa: E402
from tile_embeddings.core.progress import Progress  # noqa: E402
from tile_embeddings.core.tile_sources import MultiRasterTiles  # noqa: E402

GT = (400000.0, 0.5, 0.0, 3280000.0, 0.0, -0.5)


@pytest.fixture(scope="module", autouse=True)
def private_weights_cache(tmp_path_factory):
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(tmp_path_factory.mktemp("torch_home"))
    yield
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "random_mobilenet_v2.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    return str(path)


def _scene(path, seed, epsg=32617, gt=GT):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 128, 96, 3, gdal.GDT_UInt16)
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    yy, xx = np.mgrid[0:96, 0:128]
    rng = np.random.default_rng(seed)
    for b in range(3):
        wave = np.sin(xx / (5 + 3 * b + seed)) * np.cos(yy / (7 + b))
        a = 1000 + (800 + 100 * seed) * wave + rng.normal(0, 40, (96, 128))
        ds.GetRasterBand(b + 1).WriteArray(a.astype(np.uint16))
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    """a.tif (UTM 17N, 4 x 3 tiles of 32 px) and b.tif: another scene warped to WGS 84 (degrees)."""
    folder = tmp_path_factory.mktemp("r")
    a = _scene(folder / "a.tif", 0)
    b_utm = _scene(folder / "b_utm.tif", 1, gt=(400064.0, 0.5, 0.0, 3279900.0, 0.0, -0.5))
    b = str(folder / "b.tif")
    gdal.Warp(b, b_utm, dstSRS="EPSG:4326", resampleAlg="bilinear")
    return a, b


def run(out, raster, weights, **kw):
    args = dict(raster=raster, tile_size=32, model="mobilenet_v2", weights=weights, input_size=32, batch_size=4,
                device="cpu", runtime="torch")
    args.update(kw)
    return embedding.embed_tiles(str(out), **args)


@pytest.fixture(scope="module")
def single_a(tmp_path_factory, rasters, weights):
    return run(tmp_path_factory.mktemp("ia") / "a.teindex", rasters[0], weights)


@pytest.fixture(scope="module")
def both(tmp_path_factory, rasters, weights):
    return run(tmp_path_factory.mktemp("iab") / "ab.teindex", list(rasters), weights)


def _layer(index):
    ds = ogr.Open(index.tiles_path)
    layer = ds.GetLayerByName("tiles")
    rows = [(f.GetFID(), f.GetField("tile_id"), f.GetField("source"), f.GetField("center_x"), f.GetField("center_y"),
             f.GetGeometryRef().Centroid().GetX(), f.GetGeometryRef().Centroid().GetY()) for f in layer]
    wkt = layer.GetSpatialRef().ExportToWkt()
    return rows, wkt


def _hashes(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_lazy_tile_windows_equal_the_list(tmp_path):
    for edge in ("drop", "pad", "keep"):
        lazy = TileWindows(130, 70, 32, 8, edge)
        assert list(lazy) == tile_windows(130, 70, 32, 8, edge)
        assert lazy[-1] == tile_windows(130, 70, 32, 8, edge)[-1]
    with pytest.raises(InputError) as e:
        TileWindows(10, 10, 32)
    assert e.value.parameter == "TILE_SIZE"


def test_two_crs_index_keeps_ids_readable_and_footprints_in_the_index_crs(both, single_a, rasters):
    ix, one = tindex.open_index(both), tindex.open_index(single_a)
    src_b = embedding.RasterTiles(rasters[1], 32)
    n_a = len(one)
    assert n_a == 12 and len(ix) == n_a + len(src_b) and len(src_b) > 0
    assert len(set(ix.ids)) == len(ix.ids)
    assert ix.ids[:n_a] == one.ids and all(t.startswith("b_r") for t in ix.ids[n_a:])
    # the first raster's rows are the ones its own index holds: same tiles, same stretch (its own cuts)
    np.testing.assert_allclose(ix.embeddings[:n_a], one.embeddings, atol=1e-6)
    m = ix.meta
    assert m["source_kind"] == "rasters" and m["sources"] == list(rasters)
    assert [d["first_row"] for d in m["source_details"]] == [0, n_a]
    assert [d["prefix"] for d in m["source_details"]] == ["a", "b"]
    assert "4326" in osr.SpatialReference(m["source_details"][1]["crs_wkt"]).GetAuthorityCode(None)
    assert m["source_details"][0]["cuts"] == m["preprocessing"]["cuts"] == one.meta["preprocessing"]["cuts"]
    assert m["source_details"][1]["cuts"] != m["source_details"][0]["cuts"]  # each raster its own stretch
    rows, wkt = _layer(ix)
    assert osr.SpatialReference(wkt).GetAuthorityCode(None) == "32617"
    assert [r[0] for r in rows] == list(range(1, len(ix) + 1)) and [r[1] for r in rows] == ix.ids
    assert {r[2] for r in rows[:n_a]} == {rasters[0]} and {r[2] for r in rows[n_a:]} == {rasters[1]}
    # b's footprints went from degrees to metres, next to a's (b lies 64 m east, 100 m south)
    for _, _, _, cx, cy, gx, gy in rows:
        assert 400000 < cx < 400200 and 3279800 < cy < 3280000
        assert abs(gx - cx) < 0.5 and abs(gy - cy) < 0.5
    first_b = src_b.record(0)
    crs = [osr.SpatialReference(m["source_details"][1]["crs_wkt"]), osr.SpatialReference(wkt)]
    for s in crs:
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(*crs)
    x, y, _ = ct.TransformPoint(first_b["center_x"], first_b["center_y"])
    assert abs(rows[n_a][3] - x) < 1e-6 and abs(rows[n_a][4] - y) < 1e-6


def test_index_crs_parameter_and_equal_stems(tmp_path, rasters):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(rasters[0], other / "a.tif")
    src = MultiRasterTiles([rasters[0], str(other / "a.tif")], 32, index_crs="EPSG:4326")
    assert src.ids[0] == "a_r0_c0" and src.ids[12] == "a_2_r0_c0" and len(set(src.ids)) == 24
    rec = src.record(0)
    assert -83 < rec["center_x"] < -81 and 29 < rec["center_y"] < 30  # degrees, lon/lat order
    with pytest.raises(InputError) as e:
        MultiRasterTiles([rasters[0]], 32, index_crs="EPSG:nonsense")
    assert e.value.parameter == "INDEX_CRS"
    with pytest.raises(InputError) as e:
        MultiRasterTiles([rasters[0], rasters[0]], 32)
    assert e.value.parameter == "INPUT" and "twice" in str(e.value)


def test_append_equals_building_at_once_and_embeds_only_the_new_tiles(tmp_path, single_a, both, rasters, weights):
    grown = tmp_path / "a.teindex"
    shutil.copytree(single_a, grown)
    (grown / "search_codes.npy").write_bytes(b"stale")  # derived from the old rows: must not survive
    texts = []
    path = append_to_index(str(grown), [rasters[1]], device="cpu", runtime="torch", batch_size=4,
                           progress=Progress(on_text=texts.append))
    ix, ref = tindex.open_index(path), tindex.open_index(both)
    assert ix.ids == ref.ids
    np.testing.assert_allclose(ix.embeddings, ref.embeddings, atol=1e-6)
    assert ix.meta["timing"]["tiles"] == len(ref) - 12  # only b's tiles went through the model
    assert any("copying the 12 tiles" in t for t in texts)
    assert ix.meta["source_details"] == ref.meta["source_details"]
    assert not (grown / "search_codes.npy").exists() and not os.path.exists(str(grown) + ".partial")
    rows, _ = _layer(ix)
    assert [r[1] for r in rows] == ref.ids


def test_a_canceled_append_leaves_the_index_as_it_was_and_resumes(tmp_path, single_a, both, rasters, weights):
    grown = tmp_path / "a.teindex"
    shutil.copytree(single_a, grown)
    before = _hashes(grown)
    partial = str(grown) + ".partial"

    def after_first_new_batch():
        try:
            with open(os.path.join(partial, "state.json")) as f:
                return json.load(f)["done"] >= 16
        except OSError:
            return False

    with pytest.raises(Canceled):
        append_to_index(str(grown), [rasters[1]], device="cpu", runtime="torch", batch_size=4,
                        progress=Progress(is_canceled=after_first_new_batch))
    assert _hashes(grown) == before  # every file of the index, byte for byte
    assert json.load(open(os.path.join(partial, "state.json")))["done"] == 16
    texts = []
    append_to_index(str(grown), [rasters[1]], device="cpu", runtime="torch", batch_size=4,
                    progress=Progress(on_text=texts.append))
    assert any("resuming after 16 of" in t for t in texts)
    ix, ref = tindex.open_index(str(grown)), tindex.open_index(both)
    assert ix.ids == ref.ids
    np.testing.assert_allclose(ix.embeddings, ref.embeddings, atol=1e-6)


def test_append_refuses_other_settings_and_sources_already_there(tmp_path, single_a, rasters, weights):
    before = _hashes(single_a)
    for expect, parameter in (({"TILE_SIZE": 64}, "TILE_SIZE"), ({"MODEL": "resnet50"}, "MODEL"),
                              ({"BANDS": "3,2,1"}, "BANDS"), ({"STRETCH": "per_tile"}, "STRETCH"),
                              ({"INPUT_SIZE": 224}, "INPUT_SIZE")):
        with pytest.raises(InputError) as e:
            append_to_index(single_a, [rasters[1]], expect=expect, device="cpu")
        assert e.value.parameter == parameter and "the index was built with" in str(e.value)
    with pytest.raises(InputError) as e:
        append_to_index(single_a, [rasters[0]], device="cpu")
    assert e.value.parameter == "INPUT" and "already in the index" in str(e.value)
    assert _hashes(single_a) == before and not os.path.exists(single_a + ".partial")


def test_remove_a_source_gives_the_index_of_the_others(tmp_path, both, single_a, rasters):
    ab = tmp_path / "ab.teindex"
    shutil.copytree(both, ab)
    path, removed = remove_from_index(str(ab), "b")
    ix, one = tindex.open_index(path), tindex.open_index(single_a)
    assert removed == len(tindex.open_index(both)) - 12
    assert ix.ids == one.ids and ix.meta["sources"] == [rasters[0]]
    np.testing.assert_array_equal(ix.embeddings, one.embeddings)
    assert ix.meta["geotransform"] == list(GT)
    rows, _ = _layer(ix)
    assert [r[0] for r in rows] == list(range(1, 13)) and [r[1] for r in rows] == one.ids
    # removing the first one renumbers the rest from row 0
    shutil.rmtree(ab)
    shutil.copytree(both, ab)
    path, removed = remove_from_index(str(ab), rasters[0])
    ix, ref = tindex.open_index(path), tindex.open_index(both)
    assert removed == 12 and ix.ids == ref.ids[12:]
    np.testing.assert_array_equal(ix.embeddings, ref.embeddings[12:])
    assert ix.meta["source_details"][0]["first_row"] == 0 and ix.meta["geotransform"] == []
    rows, _ = _layer(ix)
    assert [r[1] for r in rows] == ref.ids[12:] and rows[0][0] == 1
    with pytest.raises(InputError) as e:
        remove_from_index(path, "a")
    assert e.value.parameter == "SOURCE"
    with pytest.raises(InputError) as e:
        remove_from_index(path, "b")
    assert e.value.parameter == "SOURCE" and "only raster" in str(e.value)


def test_search_codes_are_built_when_the_index_is_written_above_the_exact_threshold(
        tmp_path, monkeypatch, both, rasters, weights):
    """Above TE_EXACT_THRESHOLD, 'Embed tiles' and remove leave search codes that a search opens as
    they are (no lazy build); below it, none are written. Every index gets its grid-columns cache."""
    pytest.importorskip("numba")
    from tile_embeddings.core import search, search_codes

    below = tindex.open_index(both)
    assert not os.path.exists(os.path.join(both, search_codes.CODES))
    cached = np.load(os.path.join(both, tindex.GRID_COLUMNS))
    rows, _ = _layer(below)
    np.testing.assert_allclose(cached[:, 2:], [(r[3], r[4]) for r in rows])

    monkeypatch.setenv("TE_EXACT_THRESHOLD", "10")
    monkeypatch.setenv("TE_IVF_THRESHOLD", "100000")
    path = run(tmp_path / "ab.teindex", list(rasters), weights)
    ix = tindex.open_index(path)
    assert len(ix) > 10 and search.choose_kind(len(ix)) == "codes"
    codes = search_codes.load(path, ix.embeddings)  # complete, and for these embeddings
    assert codes.codes.shape[0] == len(ix)
    searcher = search.get_searcher(ix)
    assert searcher.note == ""  # opened, not rebuilt
    hit = search.search(ix, [ix.ids[5]], k=3)
    assert hit.ids[0] == ix.ids[5]

    path, removed = remove_from_index(path, "b")
    ix = tindex.open_index(path)
    assert len(ix) == 12 and search_codes.load(path, ix.embeddings).codes.shape[0] == 12
    np.testing.assert_allclose(np.load(os.path.join(path, tindex.GRID_COLUMNS))[:, 2:],
                               [(r[3], r[4]) for r in _layer(ix)[0]])


def test_reading_tiles_keeps_the_gdal_block_cache_a_few_block_rows_high(tmp_path):
    """The GDAL block cache would grow with the raster up to GDAL_CACHEMAX (5 % of RAM): reading
    tiles top to bottom drops the block rows already passed (issue 12, flat memory)."""
    from tile_embeddings.core.embedding import RasterTiles

    path = str(tmp_path / "big.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 2048, 2048, 3, gdal.GDT_Byte,
                                              ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"])
    ds.SetGeoTransform(GT)
    for b in range(3):
        ds.GetRasterBand(b + 1).Fill(10 + b)
    ds = None
    tiles = RasterTiles(path, tile_size=32)
    gdal.SetCacheMax(256 * 2**20)
    base = gdal.GetCacheUsed()
    peak = 0
    for i in range(len(tiles)):
        arr, _ = tiles.read(i, (1, 2, 3))
        peak = max(peak, gdal.GetCacheUsed() - base)
    assert arr.shape == (3, 32, 32) and int(arr[2, 0, 0]) == 12
    raster_bytes = 2048 * 2048 * 3
    block_row = 256 * 2048 * 3
    assert peak <= 3 * block_row < raster_bytes / 2
