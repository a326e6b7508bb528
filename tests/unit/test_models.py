"""Model registry and loading: torchvision backbones from a weights file, TorchScript encoders."""

import hashlib
import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from tile_embeddings.core import models  # noqa: E402
from tile_embeddings.core.errors import InputError  # noqa: E402


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
    ext = models.load_extractor("mobilenet_v2", str(path), "cpu", input_size=32)
    assert ext.dims == 1280
    assert ext.kind == "torchvision"
    assert ext.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    x = torch.rand(2, 3, 32, 32)
    out = ext(x)
    assert out.shape == (2, 1280)
    np.testing.assert_allclose(out.numpy(), reference_features(net, x).numpy(), rtol=1e-4, atol=1e-5)


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
        ext = models.load_extractor("mobilenet_v2", str(p), "cpu", input_size=32)
        np.testing.assert_allclose(ext(x).numpy(), ref, rtol=1e-4, atol=1e-5)


def test_weights_of_another_architecture_are_refused(random_mobilenet):
    path, _ = random_mobilenet
    with pytest.raises(InputError) as e:
        models.load_extractor("resnet18", str(path), "cpu", input_size=32)
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
            models.load_extractor("mobilenet_v2", str(p), "cpu", input_size=32)
        assert e.value.parameter == "WEIGHTS"
        assert "weights_only" in e.value.message
    with pytest.raises(InputError) as e:
        models.load_extractor("mobilenet_v2", str(tmp_path / "missing.pth"), "cpu")
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
    ext = models.load_extractor("my_encoder", str(path), "cpu", input_size=32)
    assert ext.kind == "torchscript" and ext.dims == 7 and ext.model == "my_encoder"
    x = torch.rand(3, 3, 32, 32)
    with torch.inference_mode():
        ref = net(x).mean(dim=(2, 3))
    np.testing.assert_allclose(ext(x).numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_model_name_names_the_parameter():
    with pytest.raises(InputError) as e:
        models.load_extractor("no_such_net", None, "cpu")
    assert e.value.parameter == "MODEL"
    assert "mobilenet_v2" in e.value.message


def test_auto_device_is_cpu_with_every_core():
    assert not torch.cuda.is_available()
    torch.set_num_threads(1)
    assert models.select_device("auto") == "cpu"
    assert torch.get_num_threads() == len(os.sched_getaffinity(0))
    with pytest.raises(InputError) as e:
        models.select_device("cuda")
    assert e.value.parameter == "DEVICE"


def test_provisioned_imagenet_weights_are_found_in_torchvision_cache(mobilenet_weights):
    path, label = models.cached_torchvision_weights("mobilenet_v2")
    assert os.path.samefile(path, mobilenet_weights)
    assert label == "torchvision:IMAGENET1K_V1"
    assert models.cached_torchvision_weights("resnet152") is None
    with pytest.raises(InputError) as e:
        models.load_extractor("resnet152", None, "cpu")
    assert e.value.parameter == "WEIGHTS" and "cache" in e.value.message


def test_missing_modules_names_what_to_install():
    assert models.missing_modules(("torch", "surely_not_installed_pkg")) == ["surely_not_installed_pkg"]
    with pytest.raises(InputError) as e:
        models.require(("surely_not_installed_pkg",))
    assert "apt install python3-torch" in e.value.message
