"""onnxruntime as the runtime: every backbone's export equals torch, the cache beside the weights,
the checks a file carries, models of one's own, and the whole path on a machine without torch."""

import hashlib
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from no_torch import run_without_torch  # noqa: E402

from tile_embeddings.core import models, onnx_runtime, runtimes  # noqa: E402
from tile_embeddings.core.errors import InputError  # noqa: E402
from tile_embeddings.core.model_input import model_input  # noqa: E402
from tile_embeddings.core.onnx_export import export_onnx, tiles_from_raster  # noqa: E402
from tile_embeddings.core.progress import Progress  # noqa: E402

MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory, mobilenet_weights):
    """A weights cache holding only the provisioned MobileNetV2 checkpoint: exports land here, not
    in the shared cache."""
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / mobilenet_weights.name).symlink_to(mobilenet_weights)
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    yield checkpoints
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old


@pytest.fixture(scope="module")
def real_tiles(neon_osbs):
    """16 real 100 px tiles spread over the NEON OSBS image, each stretched to 8-bit RGB."""
    tiles = tiles_from_raster(str(neon_osbs), "1,2,3", tile_size=100, count=16)
    assert tiles.shape == (16, 3, 100, 100) and tiles.dtype == np.uint8
    return tiles


@pytest.fixture(scope="module")
def imagenet_export(torch_home, real_tiles):
    texts = []
    path, report = export_onnx("mobilenet_v2", check_tiles=real_tiles, progress=Progress(on_text=texts.append))
    return path, report, texts


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


class TinyEncoder(torch.nn.Module):
    """An encoder of one's own returning a feature map (the runtimes pool it)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 7, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


def test_imagenet_export_is_kept_beside_its_checkpoint_and_equals_torch_on_real_tiles(
    imagenet_export, torch_home, mobilenet_weights, real_tiles
):
    path, report, texts = imagenet_export
    # the weights' hash and the default features in its name
    assert path == str(torch_home / "mobilenet_v2-b0353104.mid-final.onnx")
    assert "mobilenet_v2-b0353104.mid-final.onnx" in os.listdir(torch_home)
    assert report["check_tiles"] == 16 and report["min_cosine"] >= MIN_COSINE
    assert "agrees with torch on 16 tiles" in texts[-1] or "agrees with torch on 16 tiles" in report["text"]
    meta = onnx_runtime.read_metadata(path)
    assert meta["model"] == "mobilenet_v2" and meta["weights"] == "torchvision:IMAGENET1K_V1"
    assert meta["weights_sha256"] == sha256(mobilenet_weights) and meta["dims"] == 96 + 1280
    assert meta["features"] == "mid+final" and meta["mid_block"] == "features.13" and report["features"] == "mid+final"
    assert meta["opset"] == 17 and meta["model_kind"] == "torchvision"
    # found by load_extractor (no second export), and compared here on its own with torch
    texts = []
    ort = runtimes.load_extractor("mobilenet_v2", None, "cpu", 224, Progress(on_text=texts.append))
    assert ort.runtime == "onnxruntime" and ort.path == path and not any("export" in t for t in texts)
    assert ort.weights_label == "torchvision:IMAGENET1K_V1" and ort.weights_sha256 == meta["weights_sha256"]
    ref = runtimes.load_extractor("mobilenet_v2", None, "cpu", 224, runtime="torch")
    for size in (224, 160):  # one file for every input size
        x = model_input(real_tiles, size, ref.mean, ref.std)
        a, b = ort(x), ref(x)
        assert a.shape == b.shape == (16, 1376) and ort.features == ref.features == "mid+final"
        assert onnx_runtime.cosines(a, b).min() >= MIN_COSINE
        np.testing.assert_allclose(a, b, atol=1e-3 * np.abs(b).max())
    # a dynamic batch: one tile or five give the same rows as sixteen
    np.testing.assert_allclose(ort(x[:1]), a[:1], atol=1e-5)
    np.testing.assert_allclose(ort(x[3:8]), a[3:8], atol=1e-5)


def test_the_final_features_export_is_another_file_and_a_mismatch_is_refused(imagenet_export, torch_home, real_tiles):
    final, report = export_onnx("mobilenet_v2", check_tiles=real_tiles[:4], features="final")
    assert final == str(torch_home / "mobilenet_v2-b0353104.onnx") and report["min_cosine"] >= MIN_COSINE
    assert onnx_runtime.read_metadata(final)["features"] == "final"
    ort = runtimes.load_extractor("mobilenet_v2", None, "cpu", 224, features="final")
    assert ort.path == final and ort.dims == 1280 and ort.features == "final"
    default = runtimes.load_extractor("mobilenet_v2", None, "cpu", 224)
    assert default.path == imagenet_export[0] and default.dims == 1376
    # a file asked for features it does not compute is refused, naming FEATURES
    for path, asked in ((final, "mid+final"), (imagenet_export[0], "final"), (imagenet_export[0], "mid")):
        with pytest.raises(InputError) as e:
            onnx_runtime.OnnxExtractor(path, "cpu", None, 224, features=asked)
        assert e.value.parameter == "FEATURES" and "export the model with FEATURES" in e.value.message
        with pytest.raises(InputError) as e:
            runtimes.load_extractor("mobilenet_v2", path, "cpu", 224, features=asked)
        assert e.value.parameter == "FEATURES"
    # given as the weights, an export runs with its own features
    assert runtimes.load_extractor("mobilenet_v2", final, "cpu", 224).features == "final"


@pytest.mark.parametrize("name", models.SUPPORTED_MODELS)
def test_every_supported_backbone_exports_and_equals_torch(name, tmp_path, real_tiles, torch_home):
    torch.manual_seed(0)
    weights = tmp_path / f"{name}_random.pth"
    torch.save(torchvision.models.get_model(name, weights=None).state_dict(), weights)
    out = tmp_path / f"{name}.onnx"
    path, report = export_onnx(name, str(weights), str(out), check_tiles=real_tiles[:4], check_size=128)
    assert path == str(out) and report["min_cosine"] >= MIN_COSINE
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    ort = onnx_runtime.OnnxExtractor(path, "cpu", None, 128)
    ref = runtimes.load_extractor(name, str(weights), "cpu", 128, runtime="torch")
    assert ort.dims == ref.dims and ort.weights_sha256 == sha256(weights) and ort.model == name
    assert ort.features == ref.features == "mid+final" and ort.mid_block == ref.mid_block
    x = model_input(real_tiles[4:8], 128, ref.mean, ref.std)
    assert onnx_runtime.cosines(ort(x), ref(x)).min() >= MIN_COSINE


def test_weights_of_ones_own_are_exported_once_under_their_hash(tmp_path, torch_home, real_tiles):
    torch.manual_seed(3)
    weights = tmp_path / "finetuned.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), weights)
    texts = []
    ort = runtimes.load_extractor(
        "mobilenet_v2", str(weights), "cpu", 64, Progress(on_text=texts.append), sample_tiles=lambda: real_tiles[:4]
    )
    cached = torch_home / f"mobilenet_v2-{sha256(weights)[:8]}.mid-final.onnx"
    assert ort.path == str(cached) and any("agrees with torch on 4 tiles" in t for t in texts)
    assert ort.weights_label == str(weights)
    d = ort.describe()
    assert d["runtime"] == "onnxruntime" and d["weights_file"] == str(weights) and d["onnx_file"] == str(cached)
    texts = []
    again = runtimes.load_extractor("mobilenet_v2", str(weights), "cpu", 64, Progress(on_text=texts.append))
    assert again.path == str(cached) and not any("export" in t for t in texts)
    # a TorchScript encoder is exported too when onnxruntime is asked for
    torch.manual_seed(1)
    net = TinyEncoder().eval()
    script = tmp_path / "rs_encoder.pt"
    torch.jit.script(net).save(str(script))
    ort = runtimes.load_extractor("mobilenet_v2", str(script), "cpu", 32, runtime="onnxruntime")
    assert ort.model == "rs_encoder" and ort.kind == "torchscript" and ort.dims == 7
    assert os.path.basename(ort.path) == f"rs_encoder-{sha256(script)[:8]}.onnx"
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with torch.inference_mode():
        np.testing.assert_allclose(ort(x), net(torch.from_numpy(x)).mean(dim=(2, 3)).numpy(), atol=1e-5)


def test_an_onnx_file_of_ones_own_is_a_model(tmp_path):
    torch.manual_seed(2)
    net = TinyEncoder().eval()
    path = tmp_path / "sentinel_encoder.onnx"
    # exported by someone else: no metadata, a fixed batch of 1 and a fixed size of 32 px
    torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(path), opset_version=17, dynamo=False)
    ext = runtimes.load_extractor("mobilenet_v2", str(path), "cpu", 32)
    assert ext.runtime == "onnxruntime" and ext.kind == "onnx" and ext.model == "sentinel_encoder"
    assert ext.dims == 7 and ext.weights_sha256 == sha256(path) and ext.weights_label == str(path)
    x = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with torch.inference_mode():  # three tiles through a batch of one; the feature map pooled
        np.testing.assert_allclose(ext(x), net(torch.from_numpy(x)).mean(dim=(2, 3)).numpy(), atol=1e-5)
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", str(path), "cpu", 64)
    assert e.value.parameter == "INPUT_SIZE" and "set the model input size to 32" in e.value.message
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", str(path), "cpu", 32, runtime="torch")
    assert e.value.parameter == "RUNTIME"


def test_a_damaged_or_altered_export_is_refused(imagenet_export, tmp_path):
    import json

    import onnx

    path, _, _ = imagenet_export
    proto = onnx.load(path)
    for entry in proto.metadata_props:
        if entry.key == "tile_embeddings.check":
            check = json.loads(entry.value)
            reference = onnx_runtime.decode_array(check["reference"])
            check["reference"] = onnx_runtime.encode_array(reference[::-1])  # the two images swapped
            entry.value = json.dumps(check)
    altered = tmp_path / "altered.onnx"
    onnx.save(proto, str(altered))
    with pytest.raises(InputError) as e:
        onnx_runtime.OnnxExtractor(str(altered))
    assert e.value.parameter == "WEIGHTS" and "does not reproduce" in e.value.message
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(open(path, "rb").read()[:100000])
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", str(truncated), "cpu")
    assert e.value.parameter == "WEIGHTS" and "cannot load the ONNX model" in e.value.message


def test_a_cached_file_of_other_weights_is_replaced_by_a_fresh_export(tmp_path, monkeypatch, mobilenet_weights):
    home = tmp_path / "th"
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / mobilenet_weights.name).symlink_to(mobilenet_weights)
    monkeypatch.setenv("TORCH_HOME", str(home))
    torch.manual_seed(4)
    other = tmp_path / "other.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), other)
    export_onnx("mobilenet_v2", str(other), str(checkpoints / "mobilenet_v2-b0353104.mid-final.onnx"))
    ext = runtimes.load_extractor("mobilenet_v2", None, "cpu", 64)
    assert ext.weights_sha256 == sha256(mobilenet_weights)  # exported again from the real checkpoint
    assert onnx_runtime.read_metadata(ext.path)["weights_sha256"] == sha256(mobilenet_weights)


# -- a machine without torch ---------------------------------------------------------------------
EMBED_AND_SEARCH = r"""
import os
from tile_embeddings.core import models
from tile_embeddings.core.embedding import embed_tiles
from tile_embeddings.core.index import open_index
from tile_embeddings.core.search import run_query

_report = {"missing": models.missing_modules(("torch", "torchvision", "onnx", "onnxruntime")),
           "runtimes": models.available_runtimes()}
out = embed_tiles(os.environ["OUT"], raster=os.environ["RASTER"], tile_size=100, batch_size=4)
ix = open_index(out)
_report.update(meta={k: ix.meta.get(k) for k in ("runtime", "model", "weights", "weights_sha256", "onnx_file",
                                                 "model_kind", "threads", "features")})
_, res, _ = run_query(ix, images=[(os.environ["QUERY"], None, "crop")], k=3)
_report.update(ids=list(res.ids), scores=[float(s) for s in res.scores])
"""


def test_without_torch_the_whole_path_runs_from_the_model_file(imagenet_export, torch_home, neon_osbs, tmp_path):
    from osgeo import gdal

    from tile_embeddings.core.embedding import embed_tiles
    from tile_embeddings.core.index import open_index

    query = str(tmp_path / "crop.tif")
    gdal.Translate(query, str(neon_osbs), srcWin=[200, 100, 100, 100])  # tile r1_c2 of 100 px tiles
    out = tmp_path / "no_torch.teindex"
    env = {"TORCH_HOME": str(torch_home.parent.parent), "OUT": str(out), "RASTER": str(neon_osbs), "QUERY": query}
    report = run_without_torch(EMBED_AND_SEARCH, env)
    assert report["missing"] == ["torch", "torchvision", "onnx"] and report["runtimes"] == ["onnxruntime"]
    assert report["torch_imported"] == []  # not even indirectly
    m = report["meta"]
    assert m["runtime"] == "onnxruntime" and m["model_kind"] == "torchvision" and m["threads"] >= 1
    assert m["onnx_file"] == imagenet_export[0] and m["weights"] == "torchvision:IMAGENET1K_V1"
    assert m["features"] == "mid+final"
    assert report["ids"][0] == "OSBS_029_r1_c2" and report["scores"][0] >= MIN_COSINE
    # the same numbers as torch: an index built here with torch from the same weights
    ref = open_index(embed_tiles(str(tmp_path / "torch.teindex"), raster=str(neon_osbs), tile_size=100,
                                 batch_size=4, runtime="torch"))
    ix = open_index(out)
    assert ix.ids == ref.ids and ref.meta["runtime"] == "torch"
    assert ix.meta["weights_sha256"] == ref.meta["weights_sha256"]
    assert (ix.embeddings * ref.embeddings).sum(1).min() >= MIN_COSINE


def test_without_torch_a_missing_model_file_says_how_to_get_it(tmp_path, neon_osbs):
    env = {"TORCH_HOME": str(tmp_path / "empty_home"), "OUT": str(tmp_path / "x.teindex"), "RASTER": str(neon_osbs),
           "QUERY": str(neon_osbs)}
    script = """
from tile_embeddings.core.embedding import embed_tiles
from tile_embeddings.core.errors import InputError
try:
    embed_tiles(os.environ["OUT"], raster=os.environ["RASTER"], tile_size=100)
    _report = {"error": None}
except InputError as e:
    _report = {"error": e.message, "parameter": e.parameter}
"""
    report = run_without_torch("import os\n" + script, env)
    msg = report["error"]
    folder = os.path.join(str(tmp_path / "empty_home"), "hub", "checkpoints")
    assert report["parameter"] == "WEIGHTS" and report["torch_imported"] == []
    assert f"copy mobilenet_v2-b0353104.mid-final.onnx into {folder}" in msg
    assert "Export model to ONNX" in msg
    assert "python3 -m tile_embeddings.core.onnx_export mobilenet_v2 --features mid+final" in msg
    assert "pip install torch torchvision onnx" in msg
    assert not (tmp_path / "x.teindex").exists()


def test_export_command_line(tmp_path, torch_home, neon_yell, capsys):
    from tile_embeddings.core.onnx_export import main

    out = tmp_path / "cli.onnx"
    assert main(["mobilenet_v2", "--output", str(out), "--check-raster", str(neon_yell)]) == 0
    said = capsys.readouterr().out
    assert out.exists() and "agrees with torch on 16 tiles" in said
    assert onnx_runtime.read_metadata(str(out))["weights"] == "torchvision:IMAGENET1K_V1"
    assert main(["not_a_net", "--output", str(tmp_path / "x.onnx")]) == 2
    assert "unknown model 'not_a_net'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.onnx"]
