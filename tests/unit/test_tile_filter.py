"""Tiles with no content (issue 16): tiles without valid pixels are not embedded, constant tiles are
flagged and left out of search results; and the index's FEATURES are honoured when it is queried,
including an index built before FEATURES existed (``final``). Real imagery: NEON OSBS."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from osgeo import gdal  # noqa: E402

from tile_embeddings.core import embedding, search, tile_filter  # noqa: E402
from tile_embeddings.core import index as tindex  # noqa: E402
from tile_embeddings.core.errors import InputError  # noqa: E402

TILE = 100


@pytest.fixture(scope="module", autouse=True)
def private_weights_cache(tmp_path_factory, mobilenet_weights):
    """The provisioned MobileNetV2 checkpoint in a cache of this module's own (exports land here)."""
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / mobilenet_weights.name).symlink_to(mobilenet_weights)
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    yield
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old


def _framed(src, path, margin, nodata, fill):
    """OSBS_029 (400 x 400) in a frame ``margin`` px wide filled with ``fill``; ``nodata`` declared
    or not."""
    ds = gdal.Open(str(src))
    data = ds.ReadAsArray()
    gt = list(ds.GetGeoTransform())
    bands, h, w = data.shape
    out = gdal.GetDriverByName("GTiff").Create(str(path), w + 2 * margin, h + 2 * margin, bands, gdal.GDT_Byte)
    out.SetGeoTransform([gt[0] - margin * gt[1], gt[1], 0.0, gt[3] - margin * gt[5], 0.0, gt[5]])
    out.SetProjection(ds.GetProjection())
    for b in range(bands):
        a = np.full((h + 2 * margin, w + 2 * margin), fill[b], dtype=np.uint8)
        # real pixels that happen to equal the nodata value would be nodata too: keep them off it
        inner = data[b].astype(np.uint8)
        if nodata is not None:
            inner = np.where(inner == nodata, nodata + 1, inner).astype(np.uint8)
        a[margin : margin + h, margin : margin + w] = inner
        band = out.GetRasterBand(b + 1)
        band.WriteArray(a)
        if nodata is not None:
            band.SetNoDataValue(nodata)
    out = None
    return str(path)


@pytest.fixture(scope="module")
def nodata_border(tmp_path_factory, neon_osbs):
    """600 x 600 px: OSBS_029 inside a 100 px nodata (0) margin: 36 tiles, 20 of them empty."""
    return _framed(neon_osbs, tmp_path_factory.mktemp("r") / "osbs_nodata.tif", TILE, 0, (0, 0, 0))


@pytest.fixture(scope="module")
def constant_fill(tmp_path_factory, neon_osbs):
    """The same frame filled with one colour (12, 200, 7) and no nodata declared: 20 constant tiles."""
    return _framed(neon_osbs, tmp_path_factory.mktemp("r") / "osbs_fill.tif", TILE, None, (12, 200, 7))


def build(out, raster, **kw):
    kw.setdefault("input_size", 64)
    kw.setdefault("batch_size", 8)
    kw.setdefault("runtime", "torch")
    return tindex.open_index(embedding.embed_tiles(str(out), raster=raster, tile_size=TILE, **kw))


def inner(tile_id):
    r, c = (int(p[1:]) for p in tile_id.rsplit("_", 2)[1:])
    return 1 <= r <= 4 and 1 <= c <= 4


def test_tiles_without_valid_pixels_are_not_embedded(tmp_path, nodata_border):
    ix = build(tmp_path / "a.teindex", nodata_border)
    assert len(ix) == 16 and all(inner(t) for t in ix.ids)  # the 20 frame tiles left out
    assert ix.embeddings.shape == (16, 1376) and ix.meta["features"] == "mid+final"
    assert ix.meta["skipped_tiles"] == 20 and ix.meta["min_valid_fraction"] == 0.0
    assert ix.meta["constant_tiles"] == 0 and not ix.constant.any()
    from osgeo import ogr

    ds = ogr.Open(ix.tiles_path)
    rows = [(f.GetField("tile_id"), f.GetField("valid_fraction")) for f in ds.GetLayer(0)]
    ds = None
    assert [t for t, _ in rows] == ix.ids and all(v == 1.0 for _, v in rows)


def test_tiles_of_a_tile_index_without_valid_pixels_are_not_embedded(tmp_path, nodata_border, constant_fill):
    from tile_embeddings.core.tiling import split_raster

    for raster, name in ((nodata_border, "nodata"), (constant_fill, "fill")):
        gpkg = str(tmp_path / f"{name}.gpkg")
        split_raster(raster, str(tmp_path / name), tile_size=TILE, index_path=gpkg)  # keeps every tile
        ix = tindex.open_index(embedding.embed_tiles(str(tmp_path / f"{name}.teindex"), tile_index=gpkg,
                                                     input_size=32, runtime="torch", features="mid"))
        if name == "nodata":
            assert len(ix) == 16 and ix.meta["skipped_tiles"] == 20 and all(inner(t) for t in ix.ids)
        else:
            assert len(ix) == 36 and ix.meta["skipped_tiles"] == 0
            assert {t for t, c in zip(ix.ids, ix.constant) if c} == {t for t in ix.ids if not inner(t)}


def test_a_minimum_valid_fraction_keeps_the_tiles_valid_enough(tmp_path, nodata_border):
    # 150 px tiles over a 600 px raster with a 100 px nodata frame: valid shares 1/9 (corners), 1/3, 1
    out = embedding.embed_tiles(str(tmp_path / "c.teindex"), raster=nodata_border, tile_size=150, input_size=32,
                                runtime="torch", features="mid", min_valid_fraction=0.3)
    ix = tindex.open_index(out)
    assert len(ix) == 4 + 8  # the 4 inner tiles and the 8 edge-middle ones; the 4 corners out
    assert ix.meta["skipped_tiles"] == 4 and ix.dims == 96 and ix.meta["features"] == "mid"
    assert not any(t.endswith(("_r0_c0", "_r0_c3", "_r3_c0", "_r3_c3")) for t in ix.ids)
    with pytest.raises(InputError) as e:
        embedding.embed_tiles(str(tmp_path / "d.teindex"), raster=nodata_border, tile_size=150, input_size=32,
                              runtime="torch", min_valid_fraction=1.5)
    assert e.value.parameter == "MIN_VALID_FRACTION"


def test_an_all_nodata_input_is_refused_before_the_model_loads(tmp_path):
    path = str(tmp_path / "empty.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 200, 200, 3, gdal.GDT_Byte)
    ds.SetGeoTransform([0, 1, 0, 200, 0, -1])
    for b in range(3):
        ds.GetRasterBand(b + 1).SetNoDataValue(0)
        ds.GetRasterBand(b + 1).Fill(0)
    ds = None
    with pytest.raises(InputError) as e:
        embedding.embed_tiles(str(tmp_path / "e.teindex"), raster=path, tile_size=TILE, model="not_a_model")
    assert e.value.parameter == "MIN_VALID_FRACTION" and "all 4 tiles have no valid pixel" in e.value.message
    assert not os.path.exists(tmp_path / "e.teindex") and not os.path.exists(tmp_path / "e.teindex.partial")


def test_constant_tiles_are_flagged_and_left_out_of_results(tmp_path, constant_fill):
    ix = build(tmp_path / "f.teindex", constant_fill)
    assert len(ix) == 36 and ix.meta["skipped_tiles"] == 0 and ix.meta["constant_tiles"] == 20
    flagged = {t for t, c in zip(ix.ids, ix.constant) if c}
    assert flagged == {t for t in ix.ids if not inner(t)}
    # the constant tiles are each other's look-alikes (the same vector), and out of the results
    query = "osbs_fill_r2_c2"
    everything = search.search(ix, [query], k=36, include_constant=True)
    assert set(everything.ids) == set(ix.ids)
    res = search.search(ix, [query], k=36)
    assert len(res) == 16 and not set(res.ids) & flagged and res.ids[0] == query
    scores = search.score_all(ix, [query])
    assert np.isnan(scores[ix.constant]).all() and np.isfinite(scores[~ix.constant]).all()
    assert np.isfinite(search.score_all(ix, [query], include_constant=True)).all()
    # a constant tile as the query: its look-alikes, without the constant tiles
    blank = "osbs_fill_r0_c0"
    res = search.search(ix, [blank], k=5)
    assert len(res) == 5 and not set(res.ids) & flagged
    assert search.search(ix, [blank], k=1, include_constant=True).ids == [blank]
    # the flags are read on demand, and an index without them knows of no constant tile
    os.remove(os.path.join(ix.path, tindex.CONSTANT))
    again = tindex.open_index(ix.path)
    assert again.constant is None and len(search.search(again, [query], k=36)) == 36


def test_tile_flags_and_their_sign_encoding():
    a = np.full((3, 4, 4), 9, dtype=np.uint16)
    assert tile_filter.tile_flags(None, a) == (1.0, True)
    ok = np.ones((3, 4, 4), dtype=bool)
    ok[:, :2] = False
    a[:, :2] = 0
    assert tile_filter.tile_flags(ok, a) == (0.5, True)  # only the valid pixels count
    a[1, 3, 3] = 10
    assert tile_filter.tile_flags(ok, a) == (0.5, False)
    assert tile_filter.tile_flags(np.zeros_like(ok), a) == (0.0, False)
    values = [tile_filter.status(0.5, True), tile_filter.status(1.0, False), tile_filter.status(0.25, True)]
    fractions, constant = tile_filter.split_status(values)
    assert fractions.tolist() == [0.5, 1.0, 0.25] and constant.tolist() == [True, False, True]


def test_resume_is_consistent_with_the_threshold(tmp_path, nodata_border):
    from tile_embeddings.core.errors import Canceled
    from tile_embeddings.core.progress import Progress

    out = tmp_path / "g.teindex"
    state_path = os.path.join(str(out) + ".partial", "state.json")

    def stop_at(done):
        return lambda: os.path.exists(state_path) and json.load(open(state_path))["done"] >= done

    def interrupted(stop, texts=None):
        said = [] if texts is None else texts
        with pytest.raises(Canceled):
            embedding.embed_tiles(str(out), raster=nodata_border, tile_size=150, input_size=32, runtime="torch",
                                  batch_size=2, features="mid", min_valid_fraction=0.3,
                                  progress=Progress(is_canceled=stop, on_text=said.append))
        return json.load(open(state_path))

    state = interrupted(stop_at(4))
    assert state["count"] == 12 and state["done"] == 4
    # the same threshold: the same tiles, resumed
    texts = []
    assert interrupted(stop_at(8), texts)["done"] == 8 and any("resuming after 4 of 12" in t for t in texts)
    # another threshold: another set of tiles, so a fresh run, not a resume of the other's rows
    texts = []
    ix = tindex.open_index(embedding.embed_tiles(str(out), raster=nodata_border, tile_size=150, input_size=32,
                                                 runtime="torch", batch_size=2, features="mid",
                                                 progress=Progress(on_text=texts.append)))
    assert len(ix) == 16 and not any("resuming" in t for t in texts)
    ref = tindex.open_index(embedding.embed_tiles(str(tmp_path / "h.teindex"), raster=nodata_border,
                                                  tile_size=150, input_size=32, runtime="torch", features="mid"))
    assert ix.ids == ref.ids
    np.testing.assert_allclose(ix.embeddings, ref.embeddings, atol=1e-5)


def test_an_index_built_with_final_features_is_queried_with_them(tmp_path, neon_osbs):
    """An index from before FEATURES (no key in meta.json) is a ``final`` one: its query images are
    embedded with the final layer, on either runtime, and it still searches."""
    out = embedding.embed_tiles(str(tmp_path / "old.teindex"), raster=str(neon_osbs), tile_size=TILE,
                                input_size=64, runtime="torch", features="final")
    meta_path = os.path.join(out, tindex.META)
    meta = json.load(open(meta_path))
    assert meta["features"] == "final" and meta["dims"] == 1280
    for key in ("features", "mid_block", "min_valid_fraction", "skipped_tiles", "constant_tiles"):
        meta.pop(key, None)
    json.dump(meta, open(meta_path, "w"))
    os.remove(os.path.join(out, tindex.CONSTANT))
    ix = tindex.open_index(out)
    assert embedding.index_features(ix.meta) == "final" and ix.constant is None
    query = str(tmp_path / "crop.tif")
    gdal.Translate(query, str(neon_osbs), srcWin=[200, 100, TILE, TILE])  # tile r1_c2
    for runtime in ("torch", "onnxruntime"):
        ext = embedding.extractor_for_index(ix, "cpu", runtime=runtime)
        assert ext.features == "final" and ext.dims == 1280 and ext.runtime == runtime
        vec = embedding.embed_image(ix, query, runtime=runtime)
        assert vec.shape == (1280,)
        res = search.search(ix, [], k=3, extra_vectors=[vec])
        assert res.ids[0] == "OSBS_029_r1_c2" and res.scores[0] >= 0.9999
    # the default index (mid+final) embeds its queries with mid+final
    new = tindex.open_index(embedding.embed_tiles(str(tmp_path / "new.teindex"), raster=str(neon_osbs),
                                                  tile_size=TILE, input_size=64, runtime="torch"))
    assert new.meta["features"] == "mid+final" and new.meta["mid_block"] == "features.13"
    vec = embedding.embed_image(new, query, runtime="onnxruntime")
    assert vec.shape == (1376,) and search.search(new, [], k=1, extra_vectors=[vec]).ids == ["OSBS_029_r1_c2"]
