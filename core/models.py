"""CNN feature extractors: a torchvision backbone by name, or a local TorchScript encoder.

An extractor maps a batch of normalised RGB images to pooled penultimate features (the layer
before the classifier), which is what a tile embedding is. Weights come from torchvision's cache
(``$TORCH_HOME/hub/checkpoints``, provisioned offline; nothing is downloaded here) or from a local
file: a state dict loaded with ``torch.load(weights_only=True)`` (never pickle), or a TorchScript
archive for custom or remote-sensing encoders. torch and torchvision are imported inside the
functions so that the engine imports without them.
"""

import hashlib
import importlib.util
import os
import threading
import zipfile

from .errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: names offered in the user interface; any torchvision classification model name also works
SUGGESTED_MODELS = (
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "convnext_tiny",
)

INSTALL_HINT = (
    "Debian/Ubuntu: apt install python3-torch python3-torchvision python3-faiss; "
    "OSGeo4W shell or macOS: pip install torch torchvision faiss-cpu"
)


def missing_modules(names=("torch", "torchvision")):
    """Names of the Python modules in ``names`` that cannot be imported here."""
    return [n for n in names if importlib.util.find_spec(n) is None]


def require(names=("torch", "torchvision"), parameter=None):
    missing = missing_modules(names)
    if missing:
        raise InputError(
            f"missing Python package(s): {', '.join(missing)}. "
            f"Install them in QGIS's Python ({INSTALL_HINT}).",
            parameter=parameter,
        )


# -- devices ------------------------------------------------------------------------------------
def select_device(device="auto"):
    """``"auto"``: CUDA when present, else the CPU with every core (``torch.set_num_threads``)."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            "CUDA was requested but torch sees no CUDA device; use 'auto' or 'cpu'.", parameter="DEVICE"
        )
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise InputError(f"unknown device {device!r}: use auto, cpu or cuda.", parameter="DEVICE")
    if device == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if torch.get_num_threads() != cores:
            torch.set_num_threads(cores)
    return device


# -- weights files ------------------------------------------------------------------------------
_sha_cache = {}
_sha_lock = threading.Lock()


def file_sha256(path):
    """SHA-256 of a file, cached by (path, size, mtime): recorded in every index's metadata."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    with _sha_lock:
        if key in _sha_cache:
            return _sha_cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _sha_lock:
        _sha_cache[key] = digest
    return digest


def is_torchscript(path):
    """TorchScript archives hold ``code/`` and ``constants.pkl``; plain ``torch.save`` files do not."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def torch_hub_checkpoints():
    import torch

    return os.path.join(torch.hub.get_dir(), "checkpoints")


def cached_torchvision_weights(model):
    """``(path, label)`` of a cached ImageNet checkpoint for ``model`` (DEFAULT first), else None."""
    from torchvision.models import get_model_weights

    try:
        enum = get_model_weights(model)
    except (ValueError, KeyError):
        return None
    candidates = [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]
    folder = torch_hub_checkpoints()
    for w in candidates:
        path = os.path.join(folder, os.path.basename(w.url))
        if os.path.exists(path):
            return path, f"torchvision:{w.name}"
    return None


def _load_state_dict(path):
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, pickle with custom classes, not a torch file...
        raise InputError(
            f"cannot read weights file {path}: {e}. It must be a state dict saved with torch.save "
            "(loadable with weights_only=True) or a TorchScript file.",
            parameter="WEIGHTS",
        ) from e
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise InputError(f"weights file {path} holds no state dict.", parameter="WEIGHTS")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in obj.items()}


def _last_linear(module):
    import torch

    name = None
    for n, m in module.named_modules():
        if isinstance(m, torch.nn.Linear):
            name = n
    return name


def _replace(module, dotted, new):
    parent = module
    *path, last = dotted.split(".")
    for p in path:
        parent = getattr(parent, p)
    setattr(parent, last, new)


# -- extractors ---------------------------------------------------------------------------------
class Extractor:
    """A feature extractor ready for inference.

    ``__call__(batch)`` takes a float tensor (b, 3, s, s), already normalised with ``mean``/``std``,
    on ``device``, and returns a float32 tensor (b, dims) on the CPU.
    """

    def __init__(
        self, module, model, weights_label, weights_path, weights_sha256, device, kind, probe_size=64
    ):
        import torch

        self.module = module.eval().to(device)
        self.model = model
        self.weights_label = weights_label
        self.weights_path = weights_path
        self.weights_sha256 = weights_sha256
        self.device = device
        self.kind = kind  # "torchvision" or "torchscript"
        self.mean = IMAGENET_MEAN
        self.std = IMAGENET_STD
        self._torch = torch
        self.dims = int(self(torch.zeros(1, 3, probe_size, probe_size, device=device)).shape[1])

    def __call__(self, batch):
        torch = self._torch
        with torch.inference_mode():
            out = self.module(batch)
            if isinstance(out, (tuple, list)):
                out = out[0]
            if out.ndim == 4:  # a TorchScript encoder returning a feature map: global average pool
                out = out.mean(dim=(2, 3))
            out = out.reshape(out.shape[0], -1)
        return out.float().cpu()

    def describe(self):
        return {
            "model": self.model,
            "model_kind": self.kind,
            "weights": self.weights_label,
            "weights_file": self.weights_path,
            "weights_sha256": self.weights_sha256,
            "dims": self.dims,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def load_extractor(model="mobilenet_v2", weights=None, device="auto", input_size=224):
    """Build the feature extractor for ``model`` with ``weights``.

    ``weights``: None/""/"imagenet" -> torchvision's ImageNet checkpoint from the local cache;
    a path -> a state dict (``weights_only=True``) for ``model``, or a TorchScript archive (then
    ``model`` is only a label). Raises :class:`InputError` naming MODEL or WEIGHTS when unusable.
    """
    require()
    import torch

    device = select_device(device)
    weights = (str(weights).strip() if weights else "") or "imagenet"
    if weights.lower() != "imagenet":
        if not os.path.isfile(weights):
            raise InputError(f"weights file not found: {weights}", parameter="WEIGHTS")
        if is_torchscript(weights):
            try:
                module = torch.jit.load(weights, map_location=device)
            except Exception as e:
                raise InputError(f"cannot load TorchScript file {weights}: {e}", parameter="WEIGHTS") from e
            label = (
                model if model and model != "mobilenet_v2" else os.path.splitext(os.path.basename(weights))[0]
            )
            return Extractor(
                module,
                label,
                os.path.abspath(weights),
                os.path.abspath(weights),
                file_sha256(weights),
                device,
                "torchscript",
                input_size,
            )
        weights_path, label = os.path.abspath(weights), os.path.abspath(weights)
    else:
        found = cached_torchvision_weights(model) if _is_torchvision_model(model) else None
        if found is None:
            if not _is_torchvision_model(model):
                raise InputError(_unknown_model_message(model), parameter="MODEL")
            raise InputError(
                f"no ImageNet weights for {model} in torchvision's cache ({torch_hub_checkpoints()}). "
                "Download them once with torchvision on a connected machine and copy the .pth file there, "
                "or give a local weights file.",
                parameter="WEIGHTS",
            )
        weights_path, label = found

    module = _torchvision_model(model)
    state = _load_state_dict(weights_path)
    head = _last_linear(module)
    if head is None:
        raise InputError(
            f"{model} has no final linear classifier to remove; export it as a TorchScript encoder instead.",
            parameter="MODEL",
        )
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatch: weights of another architecture
        raise InputError(
            f"weights file {weights_path} does not fit model {model}: {str(e)[:300]}", parameter="WEIGHTS"
        ) from e
    # a checkpoint without its classifier is fine (the head is removed anyway); anything else is not
    missing = [k for k in result.missing_keys if not k.startswith(head + ".")]
    unexpected = [k for k in result.unexpected_keys if not k.startswith(head + ".")]
    if missing or unexpected:
        raise InputError(
            f"weights file {weights_path} does not fit model {model}: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}).",
            parameter="WEIGHTS",
        )
    _replace(module, head, torch.nn.Identity())
    return Extractor(
        module, model, label, weights_path, file_sha256(weights_path), device, "torchvision", input_size
    )


def _is_torchvision_model(name):
    import torchvision
    from torchvision.models import list_models

    return name in list_models(module=torchvision.models)


def _unknown_model_message(name):
    return (
        f"unknown model {name!r}: use a torchvision classification model name "
        f"(e.g. {', '.join(SUGGESTED_MODELS)}) or give a TorchScript file as weights."
    )


def _torchvision_model(name):
    from torchvision.models import get_model

    if not _is_torchvision_model(name):
        raise InputError(_unknown_model_message(name), parameter="MODEL")
    return get_model(name, weights=None)


_extractor_cache = {}
_extractor_lock = threading.Lock()


def cached_extractor(model, weights=None, device="auto", input_size=224):
    """The same extractor for the same (model, weights, device): external-image queries reuse it."""
    key = (model, str(weights or ""), device, input_size)
    with _extractor_lock:
        ext = _extractor_cache.get(key)
    if ext is None:
        ext = load_extractor(model, weights, device, input_size)
        with _extractor_lock:
            _extractor_cache.clear()  # keep one model in memory
            _extractor_cache[key] = ext
    return ext
