"""Model registry and loading on torch: torchvision backbones from a weights file, TorchScript encoders;
the runtime choice, threads, and where the weights cache is."""

import hashlib
import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from tile_embeddings.core import models, runtimes  # noqa: E402
from tile_embeddings.core.errors import InputError  # noqa: E402
from tile_embeddings.core.progress import Progress  # noqa: E402


@pytest.fixture(scope="module")
def random_mobilenet(tmp_path_factory):
    """A randomly initialised MobileNetV2 saved as a state dict: the real loading path."""
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v2(weights=None).eval()
    path = tmp_path_factory.mktemp("weights") / "random_mobilenet_v2.pth"
    torch.save(net.state_dict(), path)
    return path, net


def reference_features(net, x):
    with torch.inference_mode():
        f = net.features(x)
        return torch.nn.functional.adaptive_avg_pool2d(f, 1).flatten(1)


def test_state_dict_file_gives_pooled_penultimate_features(random_mobilenet):
    path, net = random_mobilenet
    ext = runtimes.load_extractor("mobilenet_v2", str(path), "cpu", input_size=32, runtime="torch", features="final")
    assert ext.dims == 1280 and ext.features == "final" and ext.describe()["features"] == "final"
    assert ext.kind == "torchvision"
    assert ext.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ext.runtime == "torch" and ext.describe()["runtime"] == "torch"
    x = torch.rand(2, 3, 32, 32)
    out = ext(x.numpy())
    assert out.shape == (2, 1280) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_features(net, x).numpy(), rtol=1e-4, atol=1e-5)


def test_wrapped_prefixed_and_headless_checkpoints_load(random_mobilenet, tmp_path):
    path, net = random_mobilenet
    state = net.state_dict()
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, wrapped)
    headless = tmp_path / "headless.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("classifier.")}, headless)
    x = torch.rand(1, 3, 32, 32)
    ref = reference_features(net, x).numpy()
    for p in (wrapped, headless):
        ext = runtimes.load_extractor("mobilenet_v2", str(p), "cpu", input_size=32, runtime="torch", features="final")
        np.testing.assert_allclose(ext(x.numpy()), ref, rtol=1e-4, atol=1e-5)


def hooked_parts(net, x, block):
    """Independently of the plugin: block ``block`` of ``net.features`` and the final layer,
    average-pooled, from one forward pass with a forward hook."""
    kept = {}
    handle = net.features[block].register_forward_hook(lambda m, i, o: kept.update(mid=o))
    try:
        final = reference_features(net, x)
    finally:
        handle.remove()
    return kept["mid"].mean(dim=(2, 3)).numpy(), final.numpy()


def l2(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_default_features_are_the_mid_block_and_the_final_layer_each_normalised(random_mobilenet):
    path, net = random_mobilenet
    x = torch.rand(3, 3, 64, 64)
    mid, final = hooked_parts(net, x, 13)
    assert mid.shape == (3, 96) and final.shape == (3, 1280)
    ext = runtimes.load_extractor("mobilenet_v2", str(path), "cpu", input_size=64, runtime="torch")
    assert models.DEFAULT_FEATURES == "mid+final"
    assert ext.features == "mid+final" and ext.mid_block == "features.13" and ext.dims == 96 + 1280
    d = ext.describe()
    assert d["features"] == "mid+final" and d["mid_block"] == "features.13"
    out = ext(x.numpy())
    np.testing.assert_allclose(out, np.concatenate([l2(mid), l2(final)], axis=1), rtol=1e-4, atol=1e-5)
    # mid alone: the block pooled, without running the later blocks
    only = runtimes.load_extractor("mobilenet_v2", str(path), "cpu", input_size=64, runtime="torch", features="mid")
    assert only.dims == 96 and only.module.truncated
    np.testing.assert_allclose(only(x.numpy()), mid, rtol=1e-4, atol=1e-5)


def test_rotation_invariance_holds_with_the_default_features(random_mobilenet):
    from tile_embeddings.core.embedding import embed_inputs

    path, _ = random_mobilenet
    ext = runtimes.load_extractor("mobilenet_v2", str(path), "cpu", input_size=64, runtime="torch")
    x = torch.rand(2, 3, 64, 64).numpy()
    turned = np.ascontiguousarray(np.rot90(x, 1, axes=(2, 3)))
    a, b = embed_inputs(ext, x, True), embed_inputs(ext, turned, True)
    assert a.shape == (2, 1376)
    np.testing.assert_allclose(a, b, atol=1e-5)  # the average of the 8 views of the combined vector
    assert (embed_inputs(ext, x) * embed_inputs(ext, turned)).sum(1).min() < 0.9999  # not invariant alone


@pytest.mark.parametrize("name", list(models.SUPPORTED_MODELS) + ["mobilenet_v3_large", "mobilenet_v3_small"])
def test_every_backbones_mid_block_is_its_last_block_at_stride_16(name):
    net = torchvision.models.get_model(name, weights=None).eval()
    block = models.mid_block(name, net)
    assert block == models._stride16_probe(net)  # the table agrees with the shapes of a forward pass
    kept = {}
    net.get_submodule(block).register_forward_hook(lambda m, i, o: kept.update(side=o.shape[-1], c=o.shape[1]))
    with torch.inference_mode():
        net(torch.zeros(1, 3, 224, 224))
    assert kept["side"] == 224 // 16


def test_features_of_a_model_file_of_ones_own_are_the_final_ones(tmp_path, random_mobilenet):
    torch.manual_seed(1)
    script = tmp_path / "encoder.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.ReLU())).save(str(script))
    ext = runtimes.load_extractor("mobilenet_v2", str(script), "cpu", input_size=32, runtime="torch")
    assert ext.features == "final" and ext.dims == 5  # auto: final
    for asked in ("mid", "mid+final"):
        with pytest.raises(InputError) as e:
            runtimes.load_extractor("mobilenet_v2", str(script), "cpu", input_size=32, runtime="torch", features=asked)
        assert e.value.parameter == "FEATURES" and "Set FEATURES to final" in e.value.message
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", str(random_mobilenet[0]), "cpu", 32, runtime="torch", features="gem")
    assert e.value.parameter == "FEATURES" and "mid+final, final, mid" in e.value.message


def test_weights_of_another_architecture_are_refused(random_mobilenet):
    path, _ = random_mobilenet
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("resnet18", str(path), "cpu", input_size=32, runtime="torch")
    assert e.value.parameter == "WEIGHTS"
    assert "does not fit model resnet18" in e.value.message


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_unsafe_or_broken_weights_files_are_refused(tmp_path):
    pickled = tmp_path / "evil.pth"
    with open(pickled, "wb") as f:
        pickle.dump({"x": Evil()}, f)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    for p in (pickled, garbage):
        with pytest.raises(InputError) as e:
            runtimes.load_extractor("mobilenet_v2", str(p), "cpu", input_size=32, runtime="torch")
        assert e.value.parameter == "WEIGHTS"
        assert "weights_only" in e.value.message
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", str(tmp_path / "missing.pth"), "cpu", runtime="torch")
    assert e.value.parameter == "WEIGHTS" and "not found" in e.value.message


class TinyEncoder(torch.nn.Module):
    """A custom encoder returning a feature map: the extractor pools it."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 7, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


def test_torchscript_encoder_is_loaded_and_pooled(tmp_path):
    torch.manual_seed(1)
    net = TinyEncoder().eval()
    path = tmp_path / "encoder.pt"
    torch.jit.script(net).save(str(path))
    assert models.is_torchscript(str(path))
    ext = runtimes.load_extractor("my_encoder", str(path), "cpu", input_size=32, runtime="torch")
    assert ext.kind == "torchscript" and ext.dims == 7 and ext.model == "my_encoder"
    x = torch.rand(3, 3, 32, 32)
    with torch.inference_mode():
        ref = net(x).mean(dim=(2, 3))
    np.testing.assert_allclose(ext(x.numpy()), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_model_name_names_the_parameter():
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("no_such_net", None, "cpu", runtime="torch")
    assert e.value.parameter == "MODEL"
    assert "mobilenet_v2" in e.value.message


def test_auto_device_is_the_cpu_and_the_model_gets_the_cores_the_readers_leave(random_mobilenet):
    assert not torch.cuda.is_available()
    assert models.select_device("auto") == "cpu"
    with pytest.raises(InputError) as e:
        models.select_device("cuda")
    assert e.value.parameter == "DEVICE"
    cores = len(os.sched_getaffinity(0))
    assert models.usable_cores() == cores
    assert models.reader_threads(2) == 1 and models.reader_threads(16) == 2 and models.reader_threads(256) == 4
    assert models.model_threads() == max(1, cores - models.reader_threads(cores))
    assert models.model_threads(3) == 3
    # torch's process-wide setting follows the extractor that runs
    path, _ = random_mobilenet
    torch.set_num_threads(cores + 1)
    ext = runtimes.load_extractor("mobilenet_v2", str(path), "auto", input_size=32, runtime="torch", threads=1)
    assert ext.device == "cpu" and ext.threads == 1 and torch.get_num_threads() == 1


def test_provisioned_imagenet_weights_are_found_in_torchvision_cache(mobilenet_weights):
    path, label = models.cached_torchvision_weights("mobilenet_v2")
    assert os.path.samefile(path, mobilenet_weights)
    assert label == "torchvision:IMAGENET1K_V1"
    assert models.cached_torchvision_weights("resnet152") is None


# -- downloading into torchvision's cache, from a real HTTP server on 127.0.0.1 --------------------
MOBILENET = "mobilenet_v2-b0353104.pth"
OFFICIAL_URL = "https://download.pytorch.org/models/" + MOBILENET


class WeightsServer:
    """``http.server`` on a free loopback port serving ``folder``; ``mode`` "cut" sends half of
    each file under its full Content-Length, then hangs up (a broken connection)."""

    def __init__(self, folder, mode="serve"):
        import functools
        import http.server
        import threading

        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                if mode != "cut":
                    return super().do_GET()
                data = open(os.path.join(folder, self.path.lstrip("/")), "rb").read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/weights/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh TORCH_HOME: torchvision's cache as on a new machine."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    checkpoints = home / "hub" / "checkpoints"
    assert models.torch_hub_checkpoints() == str(checkpoints)
    assert models.cached_torchvision_weights("mobilenet_v2") is None
    return checkpoints


def serving_folder(tmp_path, content):
    folder = tmp_path / "served" / "weights"
    folder.mkdir(parents=True)
    (folder / MOBILENET).write_bytes(content)
    return folder.parent


def recording_progress():
    log = {"fractions": [], "texts": []}
    return log, Progress(on_progress=log["fractions"].append, on_text=log["texts"].append)


def test_missing_weights_are_downloaded_checked_and_cached(empty_cache, tmp_path, monkeypatch, mobilenet_weights):
    real = mobilenet_weights.read_bytes()
    with WeightsServer(serving_folder(tmp_path, real)) as server:
        monkeypatch.setenv(models.WEIGHTS_BASE_URL_ENV, server.url)
        log, progress = recording_progress()
        ext = runtimes.load_extractor("mobilenet_v2", None, "cpu", input_size=32, progress=progress, runtime="torch")
        assert server.requests == ["/weights/" + MOBILENET]
        # the second run finds the file in the cache: no second download
        runtimes.load_extractor("mobilenet_v2", None, "cpu", input_size=32, runtime="torch")
        assert len(server.requests) == 1
    cached = empty_cache / MOBILENET
    assert os.listdir(empty_cache) == [MOBILENET]  # no temporary file left beside it
    assert cached.read_bytes() == real
    assert ext.weights_path == str(cached) and ext.weights_label == "torchvision:IMAGENET1K_V1"
    assert ext.weights_sha256 == hashlib.sha256(real).hexdigest() and ext.dims == 1376  # mid+final
    # progress: a rising fraction up to 1, and lines for the log saying what, from where, how big
    assert log["fractions"] == sorted(log["fractions"]) and log["fractions"][-1] == 1.0
    assert len(log["fractions"]) > 10
    assert any(server.url + MOBILENET in t for t in log["texts"])
    assert any(f"{len(real) / 1e6:.1f} MB" in t for t in log["texts"])
    assert "SHA-256 checked" in log["texts"][-1] and str(empty_cache) in log["texts"][-1]


def test_a_corrupt_download_is_refused_and_nothing_is_cached(empty_cache, tmp_path, monkeypatch, mobilenet_weights):
    bad = bytearray(mobilenet_weights.read_bytes())
    bad[1000] ^= 0xFF  # same size, one byte wrong
    with WeightsServer(serving_folder(tmp_path, bytes(bad))) as server:
        monkeypatch.setenv(models.WEIGHTS_BASE_URL_ENV, server.url)
        with pytest.raises(InputError) as e:
            runtimes.load_extractor("mobilenet_v2", None, "cpu", input_size=32, runtime="torch")
    assert e.value.parameter == "WEIGHTS"
    assert "SHA-256" in e.value.message and "expected b0353104" in e.value.message
    assert "Nothing was saved" in e.value.message
    assert os.listdir(empty_cache) == []


def test_a_cut_connection_leaves_nothing(empty_cache, tmp_path, monkeypatch, mobilenet_weights):
    with WeightsServer(serving_folder(tmp_path, mobilenet_weights.read_bytes()), mode="cut") as server:
        monkeypatch.setenv(models.WEIGHTS_BASE_URL_ENV, server.url)
        with pytest.raises(InputError) as e:
            runtimes.load_extractor("mobilenet_v2", None, "cpu", input_size=32, runtime="torch")
    assert e.value.parameter == "WEIGHTS" and "download" in e.value.message and "stopped" in e.value.message
    assert os.listdir(empty_cache) == []


def test_a_canceled_download_leaves_nothing(empty_cache, tmp_path, monkeypatch, mobilenet_weights):
    from tile_embeddings.core.errors import Canceled

    with WeightsServer(serving_folder(tmp_path, mobilenet_weights.read_bytes())) as server:
        monkeypatch.setenv(models.WEIGHTS_BASE_URL_ENV, server.url)
        fractions = []
        progress = Progress(on_progress=fractions.append, is_canceled=lambda: len(fractions) >= 3)
        with pytest.raises(Canceled):
            runtimes.load_extractor("mobilenet_v2", None, "cpu", input_size=32, progress=progress, runtime="torch")
    assert 0 < fractions[-1] < 1
    assert os.listdir(empty_cache) == []


def test_offline_says_which_file_to_put_where(empty_cache, monkeypatch):
    import socket

    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(models.WEIGHTS_BASE_URL_ENV, f"http://127.0.0.1:{port}")
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", None, "cpu", runtime="torch")
    msg = e.value.message
    assert e.value.parameter == "WEIGHTS"
    assert "no ImageNet weights for mobilenet_v2" in msg and "refused" in msg.lower()
    assert OFFICIAL_URL in msg  # where to get it on a connected machine
    assert str(empty_cache / MOBILENET) in msg  # and where to put it
    assert not empty_cache.exists() or os.listdir(empty_cache) == []


def test_a_damaged_cached_checkpoint_is_reported(empty_cache, mobilenet_weights):
    empty_cache.mkdir(parents=True)
    (empty_cache / MOBILENET).write_bytes(mobilenet_weights.read_bytes()[:-10])
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", None, "cpu", runtime="torch")
    assert e.value.parameter == "WEIGHTS" and "is damaged" in e.value.message and "Delete it" in e.value.message


def test_download_url_and_hash_prefix(monkeypatch):
    assert models.hash_prefix(MOBILENET) == "b0353104"
    assert models.hash_prefix("/x/efficientnet_b0_rwightman-7f5810bc.pth") == "7f5810bc"
    assert models.hash_prefix("encoder.pt") is None
    monkeypatch.delenv(models.WEIGHTS_BASE_URL_ENV, raising=False)
    assert models.download_url(OFFICIAL_URL) == OFFICIAL_URL
    monkeypatch.setenv(models.WEIGHTS_BASE_URL_ENV, "file:///srv/weights")
    assert models.download_url(OFFICIAL_URL) == "file:///srv/weights/" + MOBILENET
    # every model offered in the dialog has a checkpoint name with a hash to check
    from torchvision.models import get_model_weights

    for name in models.SUPPORTED_MODELS:
        assert models.hash_prefix(get_model_weights(name).DEFAULT.url), name


def test_missing_modules_names_what_to_install():
    assert models.missing_modules(("torch", "surely_not_installed_pkg")) == ["surely_not_installed_pkg"]
    with pytest.raises(InputError) as e:
        models.require(("surely_not_installed_pkg",))
    assert "apt install python3-torch" in e.value.message


def test_checkpoint_table_is_torchvisions():
    """The names that find an ONNX export without torchvision are torchvision's own, in its order."""
    from torchvision.models import get_model_weights

    assert set(models.CHECKPOINTS) == set(models.SUPPORTED_MODELS)
    for name in models.SUPPORTED_MODELS:
        expected = [(w.name, os.path.basename(w.url)) for w in models._weights_choices(get_model_weights(name))]
        assert [tuple(c) for c in models.CHECKPOINTS[name]] == expected, name
    assert models.checkpoint_names("mobilenet_v2", "IMAGENET1K_V2") == [("IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth")]
    assert models.checkpoint_names("vit_b_16") == []


def test_the_weights_cache_is_found_as_torch_finds_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert models.torch_hub_checkpoints() == os.path.join(torch.hub.get_dir(), "checkpoints")
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.torch_hub_checkpoints() == os.path.join(torch.hub.get_dir(), "checkpoints")
    assert models.torch_hub_checkpoints().startswith(str(tmp_path / "xdg"))


# -- which runtime --------------------------------------------------------------------------------
def test_auto_runtime_is_onnxruntime_when_installed_and_torch_for_torchscript(tmp_path):
    pytest.importorskip("onnxruntime")
    assert models.available_runtimes() == ["onnxruntime", "torch"]
    assert runtimes.choose_runtime("auto") == "onnxruntime"
    assert runtimes.choose_runtime(None, "torchvision:IMAGENET1K_V1") == "onnxruntime"
    assert runtimes.choose_runtime("torch") == "torch"
    script = tmp_path / "enc.pt"
    torch.jit.script(TinyEncoder()).save(str(script))
    assert runtimes.choose_runtime("auto", str(script)) == "torch"  # onnxruntime cannot read TorchScript
    # this onnxruntime has no CUDA provider: a CUDA request goes to torch (which then says it has none)
    assert runtimes.choose_runtime("auto", None, "cuda") == "torch"
    with pytest.raises(InputError) as e:
        runtimes.choose_runtime("torch", str(tmp_path / "mine.onnx"))
    assert e.value.parameter == "RUNTIME" and "onnxruntime" in e.value.message
    with pytest.raises(InputError) as e:
        runtimes.choose_runtime("tensorflow")
    assert e.value.parameter == "RUNTIME" and "auto, onnxruntime, torch" in e.value.message


def test_with_neither_runtime_the_message_says_what_to_install(monkeypatch):
    real = models.missing_modules
    hidden = {"torch", "torchvision", "onnxruntime"}
    def missing(names=models.TORCH_PACKAGES):
        return [n for n in names if n in hidden or n in real((n,))]

    monkeypatch.setattr(models, "missing_modules", missing)
    monkeypatch.setattr(runtimes, "missing_modules", missing)
    assert models.available_runtimes() == []
    for runtime in ("auto", None):
        with pytest.raises(InputError) as e:
            runtimes.load_extractor("mobilenet_v2", None, "cpu", runtime=runtime)
        msg = e.value.message
        assert e.value.parameter == "RUNTIME"
        assert "pip install onnxruntime" in msg and "apt install python3-onnxruntime" in msg
        assert "pip install torch torchvision" in msg and "Export model to ONNX" in msg
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", None, "cpu", runtime="onnxruntime")
    assert e.value.parameter == "RUNTIME" and "install onnxruntime" in e.value.message
    with pytest.raises(InputError) as e:
        runtimes.load_extractor("mobilenet_v2", None, "cpu", runtime="torch")
    assert "needs torch, torchvision" in e.value.message and "pip install torch torchvision" in e.value.message


def test_rot2_averages_the_tile_and_its_quarter_turn(random_mobilenet):
    from tile_embeddings.core.embedding import Preprocessing, embed_inputs
    from tile_embeddings.core.model_input import canonical_rotation, rotation_name

    path, _ = random_mobilenet
    ext = runtimes.load_extractor("mobilenet_v2", str(path), "cpu", input_size=64, runtime="torch")
    x = torch.rand(2, 3, 64, 64).numpy()
    quarter = np.ascontiguousarray(np.rot90(x, 1, axes=(2, 3)))
    expected = l2((ext(x) + ext(quarter)) / 2)
    np.testing.assert_allclose(embed_inputs(ext, x, "rot2"), expected, rtol=1e-4, atol=1e-5)
    # how the settings are recorded: the old booleans unchanged, rot2 by name
    assert [canonical_rotation(v) for v in (False, True, "none", "rot8", "rot2")] == [False, True, False, True, "rot2"]
    assert [rotation_name(v) for v in (False, True, "rot2")] == ["none", "rot8", "rot2"]
    prep = Preprocessing(rotation_invariant="rot2")
    assert prep.to_meta()["rotation_invariant"] == "rot2"
    assert Preprocessing.from_meta(prep.to_meta()).rotation_invariant == "rot2"
    with pytest.raises(InputError) as e:
        Preprocessing(rotation_invariant="rot3")
    assert e.value.parameter == "ROTATION"


def test_rotation_settings_are_not_confused_with_numbers():
    from tile_embeddings.core.model_input import canonical_rotation, rotation_views

    x = np.zeros((1, 3, 8, 8), np.float32)
    assert canonical_rotation(True) is True and canonical_rotation(False) is False  # True == 1, False == 0
    assert canonical_rotation(np.bool_(True)) is True
    assert [len(rotation_views(x, v)) for v in (False, True, "rot2", "rot8", "none")] == [1, 8, 2, 8, 1]
