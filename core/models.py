"""CNN feature extractors: a torchvision backbone by name, or a model file of your own.

An extractor maps a batch of normalised RGB images to pooled features, which is what a tile
embedding is: by default (:data:`FEATURES` ``mid+final``) the last block at stride 16 and the
penultimate layer (the layer before the classifier), each average-pooled and L2-normalised, side by
side (:func:`feature_network`); ``final`` is the penultimate layer alone. Two runtimes run them with the same
numbers: onnxruntime (:mod:`.onnx_runtime`, the default when installed: several times faster on a
CPU, a small package, and no torch needed once a model file exists) and torch. Both take and
return numpy arrays; :func:`.runtimes.load_extractor` picks the runtime.

ImageNet weights come from torchvision's cache (``$TORCH_HOME/hub/checkpoints``); when a
checkpoint is missing it is downloaded there once, as torchvision itself would, but with progress
through :class:`~.progress.Progress`, the SHA-256 prefix in the file name checked, and an atomic
write, so an offline or failed download leaves nothing behind and says which file to put where.
``TE_WEIGHTS_BASE_URL`` points the download at a mirror (an intranet server,
``file:///shared/weights/``). The ONNX export of a checkpoint is kept beside it, under the
checkpoint's name (``mobilenet_v2-b0353104.onnx``). Other weights come from a local file: a state
dict loaded with ``torch.load(weights_only=True)`` (never pickle), a TorchScript archive or an ONNX
file for custom or remote-sensing encoders. torch, torchvision and onnxruntime are imported inside
the functions so that the engine imports without them.
"""

import hashlib
import importlib.util
import os
import re
import threading
import time
import uuid
import zipfile

import numpy as np

from .errors import InputError
from .progress import ensure

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: the backbones offered in the user interface (their ImageNet checkpoints are downloaded on first
#: use); the engine takes any torchvision classification model name, and a TorchScript file any model
SUPPORTED_MODELS = (
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "convnext_tiny",
)
SUGGESTED_MODELS = SUPPORTED_MODELS
#: the ImageNet checkpoint downloaded for a model (torchvision's DEFAULT when a model lacks it)
PREFERRED_WEIGHTS = "IMAGENET1K_V1"

#: environment variable: base URL (http, https or file) of a mirror of torchvision's checkpoints
WEIGHTS_BASE_URL_ENV = "TE_WEIGHTS_BASE_URL"
DOWNLOAD_TIMEOUT_S = 30
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")

#: the ImageNet checkpoints of :data:`SUPPORTED_MODELS`, best first (as :func:`_weights_choices`
#: orders them): their file names say, without torchvision, where a model's ONNX export is cached
CHECKPOINTS = {
    "mobilenet_v2": (("IMAGENET1K_V1", "mobilenet_v2-b0353104.pth"), ("IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth")),
    "resnet18": (("IMAGENET1K_V1", "resnet18-f37072fd.pth"),),
    "resnet50": (("IMAGENET1K_V1", "resnet50-0676ba61.pth"), ("IMAGENET1K_V2", "resnet50-11ad3fa6.pth")),
    "efficientnet_b0": (("IMAGENET1K_V1", "efficientnet_b0_rwightman-7f5810bc.pth"),),
    "efficientnet_b1": (
        ("IMAGENET1K_V1", "efficientnet_b1_rwightman-bac287d4.pth"),
        ("IMAGENET1K_V2", "efficientnet_b1-c27df63c.pth"),
    ),
    "efficientnet_b2": (("IMAGENET1K_V1", "efficientnet_b2_rwightman-c35c1473.pth"),),
    "efficientnet_b3": (("IMAGENET1K_V1", "efficientnet_b3_rwightman-b3899882.pth"),),
    "convnext_tiny": (("IMAGENET1K_V1", "convnext_tiny-983f1562.pth"),),
}

#: what a tile's vector is made of (FEATURES): ``final`` the final layer average-pooled (the
#: network's penultimate features, the only choice before issue 16); ``mid`` the last block at
#: stride 16 average-pooled (MobileNetV2: ``features[13]``, 96-d: texture more than objects, 0.70x
#: the cost); ``mid+final`` both, each L2-normalised, concatenated (the index L2-normalises the
#: whole). Measured on hand-labelled NEON tiles (``bench/eval_labelled.py``, README) ``mid+final``
#: is the default: P@10 0.94 / 0.93 against 0.90 / 0.84 for ``final``, at the same cost.
FEATURES = ("mid+final", "final", "mid")
DEFAULT_FEATURES = "mid+final"
#: the last block at stride 16 of each backbone family (a dotted module path), first match wins;
#: any other torchvision model: found by :func:`mid_block` from the shapes of a forward pass
MID_BLOCKS = (
    ("mobilenet_v2", "features.13"),
    ("mobilenet_v3_large", "features.12"),
    ("mobilenet_v3_small", "features.8"),
    ("resnet", "layer3"),
    ("resnext", "layer3"),
    ("wide_resnet", "layer3"),
    ("efficientnet_b", "features.5"),
    ("efficientnet_v2", "features.5"),
    ("convnext", "features.5"),
)

RUNTIMES = ("auto", "onnxruntime", "torch")
TORCH_PACKAGES = ("torch", "torchvision")
ONNXRUNTIME_INSTALL = "Debian/Ubuntu: apt install python3-onnxruntime; OSGeo4W shell or macOS: pip install onnxruntime"
TORCH_INSTALL = (
    "Debian/Ubuntu: apt install python3-torch python3-torchvision; "
    "OSGeo4W shell or macOS: pip install torch torchvision"
)
EXPORT_INSTALL = (
    "Debian/Ubuntu: apt install python3-torch python3-torchvision python3-onnx; "
    "OSGeo4W shell or macOS: pip install torch torchvision onnx"
)
INSTALL_HINT = (
    "Debian/Ubuntu: apt install python3-onnxruntime python3-faiss (and python3-torch python3-torchvision "
    "python3-onnx to export models); OSGeo4W shell or macOS: pip install onnxruntime faiss-cpu "
    "(and torch torchvision onnx)"
)
#: what to install when neither runtime is there: said by canExecute() and by the engine
NO_RUNTIME_MESSAGE = (
    "Embedding needs onnxruntime or torch, and neither is installed in QGIS's Python. Install "
    f"onnxruntime ({ONNXRUNTIME_INSTALL}): it runs the models exported to ONNX, and needs torch only "
    "once, on any machine, to export them ('Export model to ONNX'). Or install torch and torchvision "
    f"({TORCH_INSTALL})."
)


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # an import hook refusing it, a broken installation
        return False


def missing_modules(names=TORCH_PACKAGES):
    """Names of the Python modules in ``names`` that cannot be imported here."""
    return [n for n in names if not _importable(n)]


def require(names=TORCH_PACKAGES, parameter=None, hint=None):
    missing = missing_modules(names)
    if missing:
        raise InputError(
            f"missing Python package(s): {', '.join(missing)}. "
            f"Install them in QGIS's Python ({hint or TORCH_INSTALL}).",
            parameter=parameter,
        )


def have_onnxruntime():
    return not missing_modules(("onnxruntime",))


def have_torch():
    return not missing_modules(TORCH_PACKAGES)


def available_runtimes():
    """The runtimes installed here, preferred first."""
    return [r for r, ok in (("onnxruntime", have_onnxruntime()), ("torch", have_torch())) if ok]


# -- threads and devices ------------------------------------------------------------------------
def usable_cores():
    """The CPUs this process may run on (its affinity mask, which containers and ``taskset`` set)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def reader_threads(cores=None):
    """Threads that read and prepare tiles while the model runs: one per 8 cores, at least one."""
    return max(1, min(4, (cores or usable_cores()) // 8))


def model_threads(threads=None):
    """Intra-op threads for the model: ``threads`` when given (> 0), else the cores left once the
    tile readers have theirs (:func:`reader_threads`), at least one.

    On a 2-core machine the model gets one core and reading the other: two intra-op threads sharing
    both cores with the reader were slower (the straggler thread of each operator waits).
    """
    if threads and int(threads) > 0:
        return int(threads)
    cores = usable_cores()
    return max(1, cores - reader_threads(cores))


def select_device(device="auto"):
    """torch's device: ``"auto"`` is CUDA when present, else the CPU."""
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
    """torchvision's weights cache, found as ``torch.hub.get_dir()`` finds it, without torch:
    ``$TORCH_HOME/hub/checkpoints``, else ``$XDG_CACHE_HOME/torch/...``, else ``~/.cache/torch/...``."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch"
    )
    return os.path.join(os.path.expanduser(home), "hub", "checkpoints")


def checkpoint_names(model, name=None):
    """``[(weights name, checkpoint file name), ...]`` of a supported model, best first (only
    ``name`` when given); empty for a model outside :data:`CHECKPOINTS`."""
    return [(w, f) for w, f in CHECKPOINTS.get(model, ()) if name in (None, w)]


def _weights_enum(model):
    from torchvision.models import get_model_weights

    try:
        return get_model_weights(model)
    except (ValueError, KeyError):
        return None


def _weights_choices(enum, name=None):
    """The checkpoints to look for, best first: ``name`` only when given; else IMAGENET1K_V1 (the
    classic weights, the same file on every machine), then torchvision's DEFAULT, then the rest."""
    if name:
        try:
            return [enum[name]]
        except KeyError:
            raise InputError(
                f"torchvision has no weights {name!r} for this model (it has {', '.join(w.name for w in enum)}).",
                parameter="WEIGHTS",
            ) from None
    order = [w for w in enum if w.name == PREFERRED_WEIGHTS] + [enum.DEFAULT] + list(enum)
    return list(dict.fromkeys(order))


def cached_torchvision_weights(model, name=None):
    """``(path, label)`` of a cached ImageNet checkpoint for ``model``, else None.

    ``name`` (e.g. ``"IMAGENET1K_V1"``) asks for that checkpoint only; otherwise the first cached
    of :func:`_weights_choices`.
    """
    enum = _weights_enum(model)
    if enum is None:
        return None
    folder = torch_hub_checkpoints()
    for w in _weights_choices(enum, name):
        path = os.path.join(folder, os.path.basename(w.url))
        if os.path.exists(path):
            return path, f"torchvision:{w.name}"
    return None


# -- downloading ImageNet checkpoints ------------------------------------------------------------
def hash_prefix(filename):
    """The SHA-256 prefix torchvision puts in checkpoint names (``mobilenet_v2-b0353104.pth``)."""
    m = _HASH_IN_NAME.search(os.path.basename(filename))
    return m.group(1) if m else None


def download_url(url):
    """Where to fetch ``url`` from: the mirror in ``$TE_WEIGHTS_BASE_URL`` when set, else ``url``."""
    base = os.environ.get(WEIGHTS_BASE_URL_ENV, "").strip()
    if not base:
        return url
    return base.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def check_hash(path, parameter="WEIGHTS"):
    """Raise when ``path``'s SHA-256 does not start with the prefix in its name (a damaged file)."""
    prefix = hash_prefix(path)
    digest = file_sha256(path)
    if prefix and not digest.startswith(prefix):
        raise InputError(
            f"{path} is damaged: its SHA-256 starts with {digest[:len(prefix)]}, its name says {prefix}. "
            "Delete it (it is downloaded again on the next run) or replace it with a good copy.",
            parameter=parameter,
        )
    return digest


def download_checkpoint(url, dest, progress=None, timeout=DOWNLOAD_TIMEOUT_S):
    """Download ``url`` to ``dest`` atomically, checking the SHA-256 prefix in ``dest``'s name.

    The bytes go to a hidden temporary file next to ``dest`` that is renamed only once complete and
    verified; on any failure (network, hash, cancel) it is removed and the error propagates:
    ``OSError`` (incl. ``urllib.error.URLError``) when unreachable, :class:`InputError` on a hash
    mismatch, :class:`~.errors.Canceled` when asked to stop.
    """
    import http.client
    import urllib.request

    progress = ensure(progress)
    name = os.path.basename(dest)
    prefix = hash_prefix(name)
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")
    t0 = time.perf_counter()
    progress.text(f"{name} is not in torchvision's cache: downloading it from {url}")
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("https", "http", "file"):  # file:// is a documented mirror (TE_WEIGHTS_BASE_URL)
        raise InputError(f"cannot download {url}: only https, http and file URLs are fetched", parameter="WEIGHTS")
    try:
        # nosec B310: the scheme is one of the three above (B310 is about file:/custom schemes being
        # unexpected; file:// is the documented mirror), and the bytes are kept only if their
        # SHA-256 matches the prefix in the checkpoint's name
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:  # nosec B310
            total = int(response.headers.get("Content-Length") or 0)
            progress.text(f"downloading {name}: {total / 1e6:.1f} MB" if total else f"downloading {name}")
            h = hashlib.sha256()
            done, next_report = 0, 0.25
            while True:
                progress.check()
                try:
                    chunk = response.read(1 << 16)
                except http.client.HTTPException as e:  # IncompleteRead: the server closed early
                    raise OSError(f"the download stopped after {done} bytes ({e!r})") from e
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if total:
                    progress.set(done / total)
                    if done / total >= next_report and done < total:
                        progress.text(f"downloading {name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
                        next_report += 0.25
        if total and done != total:
            raise OSError(f"the download stopped after {done} of {total} bytes")
        digest = h.hexdigest()
        if prefix and not digest.startswith(prefix):
            mirror = f" (the mirror set in {WEIGHTS_BASE_URL_ENV})" if os.environ.get(WEIGHTS_BASE_URL_ENV) else ""
            raise InputError(
                f"the file downloaded from {url}{mirror} is not {name}: its SHA-256 starts with "
                f"{digest[:len(prefix)]}, expected {prefix}. Nothing was saved. Run again, or put a good "
                f"copy of {name} in {folder}.",
                parameter="WEIGHTS",
            )
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    progress.set(1.0)
    progress.text(
        f"saved {name} ({done / 1e6:.1f} MB, SHA-256 checked) to {folder} in {time.perf_counter() - t0:.1f} s"
    )
    return dest


def imagenet_weights(model, name=None, progress=None):
    """``(path, label)`` of ``model``'s ImageNet checkpoint: from the cache, else downloaded into it.

    ``name``: a torchvision weights name (``"IMAGENET1K_V1"``), as recorded in an index; by default
    any cached checkpoint, else :data:`PREFERRED_WEIGHTS`. Raises :class:`InputError` naming
    WEIGHTS, and saying which file to put where, when the checkpoint is neither cached nor
    downloadable (offline machine, proxy, unwritable cache).
    """
    import http.client
    import urllib.error

    enum = _weights_enum(model)
    if enum is None:
        raise InputError(
            f"torchvision has no ImageNet weights for {model}; give a weights file.", parameter="WEIGHTS"
        )
    found = cached_torchvision_weights(model, name)
    if found is not None:
        check_hash(found[0])
        return found
    w = _weights_choices(enum, name)[0]
    folder = torch_hub_checkpoints()
    name = os.path.basename(w.url)
    url = download_url(w.url)
    try:
        download_checkpoint(url, os.path.join(folder, name), progress)
    except (OSError, http.client.HTTPException) as e:  # URLError, HTTPError, timeouts, refused, read-only
        reason = e.reason if type(e) is urllib.error.URLError else e
        raise InputError(
            f"no ImageNet weights for {model} in torchvision's cache ({folder}) and the download from "
            f"{url} failed ({reason}). Without internet here: download {w.url} on a connected machine "
            f"and copy it to {os.path.join(folder, name)} (set TORCH_HOME to move the cache), or give a "
            "local weights file.",
            parameter="WEIGHTS",
        ) from e
    return os.path.join(folder, name), f"torchvision:{w.name}"


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


# -- which features -----------------------------------------------------------------------------
def resolve_features(features=None, kind="torchvision", model=None):
    """The FEATURES value for a network of ``kind``: None/""/"auto" -> :data:`DEFAULT_FEATURES`
    for a torchvision backbone, ``final`` for a model file of one's own (TorchScript, ONNX), whose
    inner blocks are unknown; a value outside :data:`FEATURES`, or ``mid``/``mid+final`` asked of
    a model file of one's own, raises an :class:`InputError` naming FEATURES."""
    f = str(features or "").strip().lower() or "auto"
    if f == "auto":
        return DEFAULT_FEATURES if kind == "torchvision" else "final"
    if f not in FEATURES:
        raise InputError(f"unknown features {features!r}: use {', '.join(FEATURES)} (or auto).", parameter="FEATURES")
    if f != "final" and kind != "torchvision":
        raise InputError(
            f"the model file {model or ''} is a {kind} network of one's own: only its final features can be "
            f"pooled, not {f!r}. Set FEATURES to final (or auto).",
            parameter="FEATURES",
        )
    return f


def _stride16_probe(module, size=224):
    """The dotted path of the last top-level block (or block of ``features``) whose output is at
    stride 16, by the shapes of one forward pass; None when there is none."""
    import torch

    names = []
    for name, child in module.named_children():
        if name == "features" and isinstance(child, torch.nn.Sequential):
            names += [f"features.{i}" for i in range(len(child))]
        else:
            names.append(name)
    sides, hooks = {}, []
    for name in names:
        def keep(m, inputs, output, name=name):
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                sides[name] = int(output.shape[-1])

        hooks.append(module.get_submodule(name).register_forward_hook(keep))
    try:
        with torch.inference_mode():
            module.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
    found = [n for n in names if sides.get(n) == size // 16]
    return found[-1] if found else None


def mid_block(model, module):
    """The dotted path of ``model``'s last block at stride 16 (:data:`MID_BLOCKS`, else found from a
    forward pass), or an :class:`InputError` naming FEATURES when the network has none."""
    for prefix, path in MID_BLOCKS:
        if str(model).startswith(prefix):
            return path
    path = _stride16_probe(module)
    if path is None:
        raise InputError(
            f"{model} has no block at stride 16 to pool as the mid features: set FEATURES to final.",
            parameter="FEATURES",
        )
    return path


def _trunk(module, path):
    """The network cut after block ``path`` (for ``mid`` alone: the later blocks are not run), or
    None when it is not a plain chain of top-level blocks (then the whole network runs)."""
    import torch

    if path.startswith("features.") and isinstance(getattr(module, "features", None), torch.nn.Sequential):
        return torch.nn.Sequential(*list(module.features)[: int(path.split(".")[1]) + 1])
    if path.startswith("layer") and hasattr(module, "conv1") and hasattr(module, "maxpool"):  # a ResNet
        last = int(path[5:])
        blocks = [module.conv1, module.bn1, module.relu, module.maxpool]
        return torch.nn.Sequential(*blocks, *[getattr(module, f"layer{i}") for i in range(1, last + 1)])
    return None


def feature_network(module, features, path):
    """``module`` (its classifier removed) made to return ``features`` as a ``(b, d)`` tensor:
    ``final`` unchanged; ``mid`` block ``path`` average-pooled; ``mid+final`` both, each
    L2-normalised, concatenated. One module, so the ONNX export is the same network."""
    import torch

    class FeatureNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = features
            trunk = _trunk(module, path) if features == "mid" else None
            self.net = trunk if trunk is not None else module
            self.truncated = trunk is not None
            # the hook keeps the block's output per thread: one extractor may serve several threads
            self._kept = threading.local()
            if not self.truncated:
                self.net.get_submodule(path).register_forward_hook(self._keep)

        def _keep(self, m, inputs, output):
            self._kept.mid = output

        def forward(self, x):
            out = self.net(x)
            if self.truncated:
                return out.mean(dim=(2, 3))
            mid = self._kept.mid
            self._kept.mid = None
            mid = mid.mean(dim=(2, 3))
            if self.features == "mid":
                return mid
            if isinstance(out, (tuple, list)):
                out = out[0]
            if out.dim() == 4:
                out = out.mean(dim=(2, 3))
            out = out.reshape(out.shape[0], -1)
            normalize = torch.nn.functional.normalize
            return torch.cat([normalize(mid, dim=1, eps=1e-12), normalize(out, dim=1, eps=1e-12)], dim=1)

    return FeatureNet().eval()


# -- extractors ---------------------------------------------------------------------------------
class Extractor:
    """A torch feature extractor ready for inference.

    ``__call__(batch)`` takes float32 numpy ``(b, 3, s, s)``, already normalised with
    ``mean``/``std``, and returns float32 numpy ``(b, dims)``: the same contract as
    :class:`.onnx_runtime.OnnxExtractor`, so the pipeline does not care which runtime it holds.
    """

    runtime = "torch"

    def __init__(
        self,
        module,
        model,
        weights_label,
        weights_path,
        weights_sha256,
        device,
        kind,
        probe_size=64,
        threads=None,
        features="final",
        mid_block=None,
    ):
        import torch

        self.module = module.eval().to(device)
        self.model = model
        self.weights_label = weights_label
        self.weights_path = weights_path
        self.weights_sha256 = weights_sha256
        self.device = device
        self.kind = kind  # "torchvision" or "torchscript"
        self.features = features  # see FEATURES
        self.mid_block = mid_block  # the module pooled as the mid features, when used
        self.mean = IMAGENET_MEAN
        self.std = IMAGENET_STD
        self.threads = model_threads(threads) if device == "cpu" else None
        self._torch = torch
        self.dims = int(self(np.zeros((1, 3, probe_size, probe_size), dtype=np.float32)).shape[1])

    def __call__(self, batch):
        torch = self._torch
        if self.threads and torch.get_num_threads() != self.threads:  # a process-wide setting
            torch.set_num_threads(self.threads)
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            out = self.module(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            if out.ndim == 4:  # a TorchScript encoder returning a feature map: global average pool
                out = out.mean(dim=(2, 3))
            out = out.reshape(out.shape[0], -1)
        return out.float().cpu().numpy()

    def describe(self):
        return describe_extractor(self, self._torch.__version__)


def describe_extractor(ex, runtime_version, **extra):
    """What an index records of the extractor ``ex`` that embedded it (either runtime)."""
    return {
        "model": ex.model,
        "model_kind": ex.kind,
        "weights": ex.weights_label,
        "weights_file": ex.weights_path,
        "weights_sha256": ex.weights_sha256,
        "dims": ex.dims,
        "features": ex.features,
        "mid_block": ex.mid_block,
        "mean": list(ex.mean),
        "std": list(ex.std),
        "runtime": ex.runtime,
        "runtime_version": runtime_version,
        "threads": ex.threads,
        **extra,
    }


def is_onnx(path):
    """An ONNX model file, by its extension (the format has no magic number)."""
    return bool(path) and str(path).lower().endswith(".onnx")


def load_torch_extractor(
    model="mobilenet_v2", weights=None, device="auto", input_size=224, progress=None, threads=None, features=None
):
    """The torch extractor (see :func:`.runtimes.load_extractor`); ``features``: see
    :func:`resolve_features` (None: the default for the kind of network)."""
    require()
    import torch

    device = select_device(device)
    weights = (str(weights).strip() if weights else "") or "imagenet"
    if weights.lower() == "imagenet" or weights.startswith("torchvision:"):
        if not _is_torchvision_model(model):
            raise InputError(_unknown_model_message(model), parameter="MODEL")
        # "torchvision:IMAGENET1K_V1" (as an index records it) asks for exactly that checkpoint
        name = weights.split(":", 1)[1] if weights.startswith("torchvision:") else None
        weights_path, label = imagenet_weights(model, name, progress)
    else:
        if not os.path.isfile(weights):
            raise InputError(f"weights file not found: {weights}", parameter="WEIGHTS")
        if is_torchscript(weights):
            resolve_features(features, "torchscript", weights)
            try:
                module = torch.jit.load(weights, map_location=device)
            except Exception as e:
                raise InputError(f"cannot load TorchScript file {weights}: {e}", parameter="WEIGHTS") from e
            return Extractor(
                module,
                custom_model_label(model, weights),
                os.path.abspath(weights),
                os.path.abspath(weights),
                file_sha256(weights),
                device,
                "torchscript",
                input_size,
                threads,
            )
        weights_path, label = os.path.abspath(weights), os.path.abspath(weights)

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
    asked = resolve_features(features, "torchvision", model)
    block = None
    if asked != "final":
        try:
            block = mid_block(model, module)
        except InputError:
            if str(features or "auto").strip().lower() != "auto":
                raise
            asked = "final"  # auto, on a network without a block at stride 16: its final features
    features = asked
    if features != "final":
        module = feature_network(module, features, block)
    return Extractor(
        module,
        model,
        label,
        weights_path,
        file_sha256(weights_path),
        device,
        "torchvision",
        input_size,
        threads,
        features,
        block,
    )


def custom_model_label(model, path):
    """How a model file of one's own is named: ``model`` unless it is a backbone chosen in a list,
    which says nothing about a custom encoder; then the file's name."""
    if model and model not in CHECKPOINTS and not (have_torch() and _is_torchvision_model(model)):
        return model
    return os.path.splitext(os.path.basename(path))[0]


def _is_torchvision_model(name):
    import torchvision
    from torchvision.models import list_models

    return name in list_models(module=torchvision.models)


def _unknown_model_message(name):
    return (
        f"unknown model {name!r}: use a torchvision classification model name "
        f"(e.g. {', '.join(SUGGESTED_MODELS)}) or give a TorchScript or ONNX file as weights."
    )


def _torchvision_model(name):
    from torchvision.models import get_model

    if not _is_torchvision_model(name):
        raise InputError(_unknown_model_message(name), parameter="MODEL")
    return get_model(name, weights=None)
