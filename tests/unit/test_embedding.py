"""Embedding runs: preprocessing, geometry of the tiles layer, rotation invariance, resume, and the
two runtimes giving the same index and answering each other's queries."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from osgeo import gdal, osr  # noqa: E402

from tile_embeddings.core import embedding  # noqa: E402
from tile_embeddings.core import index as tindex  # noqa: E402
from tile_embeddings.core.errors import Canceled, InputError  # noqa: E402
from tile_embeddings.core.progress import Progress  # noqa: E402

GT = (400000.0, 0.5, 0.0, 3280000.0, 0.0, -0.5)


@pytest.fixture(scope="module", autouse=True)
def private_weights_cache(tmp_path_factory):
    """The ONNX exports of this module's random weights go to a cache of its own, not the shared one."""
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


@pytest.fixture(scope="module")
def raster(tmp_path_factory):
    """128 x 96 px, 3-band uint16 with smooth patterns: 4 x 3 tiles of 32 px."""
    path = str(tmp_path_factory.mktemp("r") / "scene.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 128, 96, 3, gdal.GDT_UInt16)
    ds.SetGeoTransform(GT)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32617)
    ds.SetProjection(srs.ExportToWkt())
    yy, xx = np.mgrid[0:96, 0:128]
    rng = np.random.default_rng(0)
    for b in range(3):
        a = 1000 + 800 * np.sin(xx / (5 + 3 * b)) * np.cos(yy / (7 + b)) + rng.normal(0, 40, (96, 128))
        ds.GetRasterBand(b + 1).WriteArray(a.astype(np.uint16))
    ds = None
    return path


def run(out, raster_path, weights, **kw):
    args = dict(
        raster=raster_path,
        tile_size=32,
        model="mobilenet_v2",
        weights=weights,
        input_size=32,
        batch_size=4,
        device="cpu",
    )
    args.update(kw)
    return embedding.embed_tiles(str(out), **args)


@pytest.fixture(scope="module")
def built(tmp_path_factory, raster, weights):
    out = tmp_path_factory.mktemp("ix") / "scene.teindex"
    npy = tmp_path_factory.mktemp("npy") / "seed.npy"
    return tindex.open_index(run(out, raster, weights, npy_output=str(npy))), npy


def test_index_holds_unit_embeddings_ids_and_metadata(built, weights):
    ix, _ = built
    assert len(ix) == 12 and ix.dims == 96 + 1280  # FEATURES mid+final, the default
    assert ix.ids[:5] == ["scene_r0_c0", "scene_r0_c1", "scene_r0_c2", "scene_r0_c3", "scene_r1_c0"]
    np.testing.assert_allclose(np.linalg.norm(ix.embeddings, axis=1), 1.0, rtol=1e-5)
    m = ix.meta
    import hashlib

    assert m["weights_sha256"] == hashlib.sha256(open(weights, "rb").read()).hexdigest()
    assert m["model"] == "mobilenet_v2" and m["dims"] == 1376 and m["count"] == 12
    assert m["features"] == "mid+final" and m["mid_block"] == "features.13" and m["skipped_tiles"] == 0
    p = m["preprocessing"]
    assert p["bands"] == [1, 2, 3] and p["stretch"] == "global" and p["input_size"] == 32
    assert len(p["cuts"]) == 3 and all(lo < hi for lo, hi in p["cuts"])
    assert m["tile_size"] == 32 and m["device"] == "cpu"
    assert m["runtime"] == "onnxruntime" and m["threads"] >= 1  # the default when it is installed
    assert os.path.basename(m["onnx_file"]) == f"mobilenet_v2-{m['weights_sha256'][:8]}.mid-final.onnx"
    assert "32617" in ix.crs_wkt
    assert not os.path.exists(ix.path + ".partial")


def test_tiles_layer_matches_the_pixel_grid(built):
    from osgeo import ogr

    ix, _ = built
    ds = ogr.Open(ix.tiles_path)
    layer = ds.GetLayerByName("tiles")
    f = layer.GetFeature(ix.row_of("scene_r2_c1") + 1)
    assert (f.GetField("row"), f.GetField("col")) == (2, 1)
    xmin, xmax, ymin, ymax = f.GetGeometryRef().GetEnvelope()
    assert (xmin, xmax) == (400000 + 32 * 0.5, 400000 + 64 * 0.5)
    assert (ymin, ymax) == (3280000 - 96 * 0.5, 3280000 - 64 * 0.5)
    assert f.GetField("center_x") == pytest.approx(400024.0)
    assert f.GetField("valid_fraction") == 1.0


def test_rows_are_the_stretched_tiles_through_the_model(built, raster):
    """Row i == the model applied to tile i stretched with the stored global cuts."""
    from tile_embeddings.core.runtimes import load_extractor
    from tile_embeddings.core.stretch import apply_cuts

    ix, _ = built
    ds = gdal.Open(raster)
    arr = ds.ReadAsArray(64, 32, 32, 32)  # r1_c2
    rgb = apply_cuts(arr, ix.meta["preprocessing"]["cuts"])
    prep = embedding.Preprocessing.from_meta(ix.meta["preprocessing"])
    ext = load_extractor("mobilenet_v2", ix.meta["weights_file"], "cpu", 32)
    vec = embedding.embed_arrays(ext, rgb[None], prep)[0]
    np.testing.assert_allclose(vec, ix.embeddings[ix.row_of("scene_r1_c2")], atol=1e-5)
    # the external-image path gives the same vector for the same window
    img = embedding.embed_image(ix, raster, window=(64, 32, 32, 32), device="cpu")
    np.testing.assert_allclose(img, ix.embeddings[ix.row_of("scene_r1_c2")], atol=1e-5)
    box = embedding.embed_image(ix, raster, bbox=(400032.0, 3279968.0, 400048.0, 3279984.0), device="cpu")
    np.testing.assert_allclose(box, img, atol=1e-6)


def test_numpy_export(built):
    ix, npy = built
    np.testing.assert_array_equal(np.load(npy), ix.embeddings)
    assert open(str(npy)[:-4] + "_ids.txt").read().split() == ix.ids


@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_rotation_invariant_embedding_ignores_rotation_and_flips(weights, runtime):
    from tile_embeddings.core.runtimes import load_extractor

    ext = load_extractor("mobilenet_v2", weights, "cpu", 32, runtime=runtime)
    rng = np.random.default_rng(1)
    tile = rng.integers(0, 255, (3, 40, 40), dtype=np.uint8)
    variants = np.stack(
        [tile, np.rot90(tile, 1, axes=(1, 2)), tile[:, :, ::-1], np.rot90(tile, 3, axes=(1, 2))]
    )
    inv = embedding.embed_arrays(
        ext, np.ascontiguousarray(variants), embedding.Preprocessing(input_size=32, rotation_invariant=True)
    )
    np.testing.assert_allclose(inv[1:], np.repeat(inv[:1], 3, axis=0), atol=1e-5)
    plain = embedding.embed_arrays(
        ext, np.ascontiguousarray(variants), embedding.Preprocessing(input_size=32)
    )
    assert float(plain[0] @ plain[1]) < 0.9999  # without TTA a rotated tile differs


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, raster, weights, built):
    full, _ = built
    out = tmp_path / "resumed.teindex"
    calls = {"n": 0}

    def stop_after_two_batches():
        calls["n"] += 1
        return (
            os.path.exists(str(out) + ".partial/state.json")
            and __import__("json").load(open(str(out) + ".partial/state.json"))["done"] >= 8
        )

    with pytest.raises(Canceled):
        run(out, raster, weights, progress=Progress(is_canceled=stop_after_two_batches))
    assert not out.exists()
    state = __import__("json").load(open(str(out) + ".partial/state.json"))
    assert state["done"] == 8
    texts = []
    path = run(out, raster, weights, progress=Progress(on_text=texts.append))
    assert any("resuming after 8 of 12" in t for t in texts)
    ix = tindex.open_index(path)
    np.testing.assert_array_equal(ix.embeddings, full.embeddings)
    assert ix.ids == full.ids


def test_changed_settings_restart_instead_of_resuming(tmp_path, raster, weights):
    out = tmp_path / "x.teindex"
    with pytest.raises(Canceled):
        run(
            out,
            raster,
            weights,
            progress=Progress(
                is_canceled=lambda: os.path.exists(str(out) + ".partial/state.json")
                and '"done": 4' in open(str(out) + ".partial/state.json").read()
            ),
        )
    texts = []
    run(out, raster, weights, stretch="per_tile", progress=Progress(on_text=texts.append))
    assert not any("resuming" in t for t in texts)
    ix = tindex.open_index(out)
    assert ix.meta["preprocessing"]["stretch"] == "per_tile" and ix.meta["preprocessing"]["cuts"] is None


def test_input_errors_name_their_parameter(tmp_path, raster, weights):
    cases = [
        (dict(bands="3,2"), "BANDS"),
        (dict(bands="1,2,7"), "BANDS"),
        (dict(tile_size=500), "TILE_SIZE"),
        (dict(stretch="fancy"), "STRETCH"),
        (dict(batch_size=0), "BATCH_SIZE"),
        (dict(raster=None), "INPUT"),
    ]
    for kw, param in cases:
        with pytest.raises(InputError) as e:
            run(tmp_path / "e.teindex", raster, weights, **kw)
        assert e.value.parameter == param, (kw, e.value.message)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(InputError) as e:
        run(busy, raster, weights)
    assert e.value.parameter == "OUTPUT" and (busy / "keep.txt").exists()


def test_grey_single_band_and_no_stretch(tmp_path, raster, weights):
    ix = tindex.open_index(run(tmp_path / "g.teindex", raster, weights, bands="2", stretch="none"))
    assert ix.meta["preprocessing"]["bands"] == [2] and len(ix) == 12
    np.testing.assert_allclose(np.linalg.norm(ix.embeddings, axis=1), 1.0, rtol=1e-5)


def _write_like(path, source, bands):
    """A copy of ``source`` with the given list of its bands (repeats allowed)."""
    src = gdal.Open(source)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), src.RasterXSize, src.RasterYSize, len(bands), gdal.GDT_UInt16)
    ds.SetGeoTransform(src.GetGeoTransform())
    ds.SetProjection(src.GetProjection())
    for i, b in enumerate(bands, 1):
        ds.GetRasterBand(i).WriteArray(src.GetRasterBand(b).ReadAsArray())
    ds = None
    return str(path)


def test_one_band_raster_gives_grey_with_the_default_band_order(tmp_path, raster, weights):
    """As in 'Stretch to 8-bit RGB': one band -> grey RGB, whatever the (default) band order."""
    grey = _write_like(tmp_path / "grey.tif", raster, [2])
    ix = tindex.open_index(run(tmp_path / "grey.teindex", grey, weights))  # bands default 1,2,3
    assert ix.meta["preprocessing"]["bands"] == [1] and len(ix) == 12
    # the same as a 3-band raster whose bands are all that band: band 1 replicated into R, G and B
    rgb = _write_like(tmp_path / "grey3.tif", raster, [2, 2, 2])
    ref = tindex.open_index(run(tmp_path / "grey3.teindex", rgb, weights, bands="1,2,3"))
    np.testing.assert_allclose(ix.embeddings, ref.embeddings, atol=1e-5)
    # and a query image embedded with the index's settings reads that band too
    vec = embedding.embed_image(ix, grey, window=(0, 0, 32, 32), device="cpu")
    np.testing.assert_allclose(vec, ix.embeddings[0], atol=1e-5)
    # a band order that does not exist in a raster of three bands is still refused
    with pytest.raises(InputError) as e:
        run(tmp_path / "bad.teindex", rgb, weights, bands="4")
    assert e.value.parameter == "BANDS" and "band 4" in e.value.message


def test_output_is_checked_before_the_model_loads(tmp_path, raster, weights, monkeypatch):
    from tile_embeddings.core import runtimes

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(runtimes, "load_extractor", no_model)
    afile = tmp_path / "a_file.txt"
    afile.write_text("keep me")
    cases = [
        (dict(out=afile / "x.teindex"), "OUTPUT", "is a file"),
        (dict(out=afile), "OUTPUT", "not a similarity index"),
        (dict(out=tmp_path / "ok.teindex", npy_output=str(afile / "e.npy")), "NPY_OUTPUT", "is a file"),
    ]
    for kw, param, words in cases:
        out = kw.pop("out")
        with pytest.raises(InputError) as e:
            run(out, raster, weights, **kw)
        assert e.value.parameter == param and words in e.value.message, e.value.message
        assert "Choose" in e.value.message or "choose" in e.value.message
    assert afile.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file.txt"]  # nothing created
    # a missing parent folder is fine (created when the index is written), and not created early
    with pytest.raises(AssertionError):
        run(tmp_path / "new" / "deeper" / "x.teindex", raster, weights)
    assert not (tmp_path / "new").exists()


# -- the same numbers on both runtimes ------------------------------------------------------------
def test_resize_is_torchs_antialiased_bilinear():
    """Preprocessing runs in numpy/Pillow for both runtimes; it is the resize the torch path used."""
    from torch.nn.functional import interpolate

    from tile_embeddings.core.model_input import resize

    rng = np.random.default_rng(0)
    for h, w, size in ((256, 256, 224), (100, 100, 224), (300, 260, 224), (40, 40, 32), (64, 64, 64)):
        x = rng.integers(0, 256, (2, 3, h, w)).astype(np.float32)
        ref = interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False).numpy()
        for use_pil in (True, False):
            out = resize(x, size, use_pil=use_pil)
            assert out.shape == (2, 3, size, size)
            np.testing.assert_allclose(out, ref, atol=0.01, err_msg=f"{h}x{w}->{size} pil={use_pil}")
    # the model input: uint8 tiles (one batch, or a list of sizes) resized, then ImageNet-normalised
    from tile_embeddings.core.model_input import model_input
    from tile_embeddings.core.models import IMAGENET_MEAN, IMAGENET_STD

    mean = np.array(IMAGENET_MEAN, dtype=np.float32).reshape(1, 3, 1, 1) * 255
    std = np.array(IMAGENET_STD, dtype=np.float32).reshape(1, 3, 1, 1) * 255
    tiles = [rng.integers(0, 256, (3, s, s)).astype(np.uint8) for s in (100, 256, 224)]
    ref = np.concatenate([
        (interpolate(torch.from_numpy(t[None].astype(np.float32)), size=(224, 224), mode="bilinear",
                     antialias=True, align_corners=False).numpy() - mean) / std
        for t in tiles
    ])
    for use_pil in (True, False):
        got = model_input(tiles, 224, IMAGENET_MEAN, IMAGENET_STD, use_pil=use_pil)
        assert got.dtype == np.float32 and got.shape == (3, 3, 224, 224)
        np.testing.assert_allclose(got, ref, atol=1e-4)
        np.testing.assert_allclose(
            model_input(np.stack([tiles[1]] * 2), 224, IMAGENET_MEAN, IMAGENET_STD, use_pil), ref[[1, 1]], atol=1e-4
        )


def test_both_runtimes_build_the_same_index_and_answer_each_others_queries(tmp_path, raster, weights, built):
    onnx_index, _ = built
    torch_index = tindex.open_index(run(tmp_path / "torch.teindex", raster, weights, runtime="torch"))
    assert onnx_index.meta["runtime"] == "onnxruntime" and torch_index.meta["runtime"] == "torch"
    assert onnx_index.meta["weights_sha256"] == torch_index.meta["weights_sha256"]
    assert onnx_index.ids == torch_index.ids
    assert (onnx_index.embeddings * torch_index.embeddings).sum(1).min() >= 0.9999
    np.testing.assert_allclose(onnx_index.embeddings, torch_index.embeddings, atol=2e-4)
    # a query image embedded on the other runtime finds its own tile at score 1
    window = (64, 32, 32, 32)  # tile r1_c2
    for ix, other in ((onnx_index, "torch"), (torch_index, "onnxruntime")):
        vec = embedding.embed_image(ix, raster, window=window, device="cpu", runtime=other)
        row = ix.embeddings[ix.row_of("scene_r1_c2")]
        assert float(vec @ row) >= 0.9999, (ix.meta["runtime"], other)
        assert int(np.argmax(ix.embeddings @ vec)) == ix.row_of("scene_r1_c2")


def test_rotation_invariant_runs_agree_across_runtimes(tmp_path, raster, weights):
    a = tindex.open_index(run(tmp_path / "a.teindex", raster, weights, rotation_invariant=True, bands="3,2,1"))
    b = tindex.open_index(
        run(tmp_path / "b.teindex", raster, weights, rotation_invariant=True, bands="3,2,1", runtime="torch")
    )
    assert a.meta["preprocessing"]["rotation_invariant"] and a.meta["runtime"] != b.meta["runtime"]
    assert (a.embeddings * b.embeddings).sum(1).min() >= 0.9999
