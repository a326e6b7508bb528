"""onnxruntime as the inference runtime: a model file in, embeddings out, torch never imported.

Where the model file comes from:

- a supported backbone with ImageNet weights: ``<checkpoint name>.onnx`` beside torchvision's
  checkpoint in ``$TORCH_HOME/hub/checkpoints`` (``mobilenet_v2-b0353104.onnx``: the weights' hash
  is in the name); a state dict or TorchScript file of one's own: ``<model>-<sha256[:8]>.onnx`` in
  the same folder. When it is missing and torch is installed, :mod:`.runtimes` has it exported
  there once (:mod:`.onnx_export`); without torch the error says how to get it;
- an ``.onnx`` file given as the weights: used as it is.

A file exported by :mod:`.onnx_export` carries, in its metadata, what it was exported from
(model, weights label and SHA-256, dims, normalisation) and torch's embeddings of two check images:
every load runs them through onnxruntime and refuses a file that does not reproduce torch (cosine
< 0.9999), so a damaged or foreign file is caught on a machine that has no torch to compare with.
An index built on one runtime records the source weights' SHA-256, which both runtimes share, so it
is searched with queries embedded by the other.
"""

import base64
import json
import os

import numpy as np

from .errors import InputError
from .model_input import model_input
from .models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    checkpoint_names,
    custom_model_label,
    describe_extractor,
    file_sha256,
    hash_prefix,
    model_threads,
    resolve_features,
    torch_hub_checkpoints,
)

FORMAT = "tile-embeddings-onnx"
FORMAT_VERSION = 1
META_PREFIX = "tile_embeddings."
INPUT_NAME = "input"
OUTPUT_NAME = "embedding"
CHECK_SIZE = 96
CHECK_MIN_COSINE = 0.9999
EXPORT_PACKAGES = ("torch", "torchvision", "onnx")


# -- where the files are ------------------------------------------------------------------------
def features_suffix(features="final"):
    """What the cache name of an export says of its FEATURES: nothing for ``final`` (the names of
    the exports made before FEATURES existed), else ``.mid`` or ``.mid-final``."""
    f = features or "final"
    return "" if f == "final" else "." + f.replace("+", "-")


def onnx_name(model, weights_sha256, checkpoint=None, features="final"):
    """The cache name of an export: the checkpoint's name with ``.onnx``, else ``<model>-<sha8>.onnx``
    (``mobilenet_v2-b0353104.mid-final.onnx`` for the features ``mid+final``)."""
    stem = os.path.splitext(os.path.basename(checkpoint))[0] if checkpoint else f"{model}-{weights_sha256[:8]}"
    return stem + features_suffix(features) + ".onnx"


def imagenet_onnx_candidates(model, name=None, features="final"):
    """``(weights name, path)`` of the ImageNet exports that may be cached for ``model``, best first."""
    folder = torch_hub_checkpoints()
    return [
        (w, os.path.join(folder, onnx_name(model, None, f, features))) for w, f in checkpoint_names(model, name)
    ]


# -- the check images ---------------------------------------------------------------------------
def check_images(size=CHECK_SIZE):
    """Two deterministic uint8 RGB images ``(2, 3, size, size)`` with edges, gradients and texture:
    torch's embeddings of them travel in an exported file, to check it wherever it is loaded."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    a = np.stack(
        [
            128 + 100 * np.sin(2 * np.pi * (3 * x + 2 * y)),
            128 + 90 * np.cos(2 * np.pi * 7 * x * y),
            255 * x * (1 - y),
        ]
    )
    checker = ((np.floor(x * 8) + np.floor(y * 8)) % 2) * 160 + 40
    b = np.stack([checker, 255 * (x > 0.6) * (y < 0.4) + 30, 200 - 150 * np.hypot(x - 0.3, y - 0.6)])
    return np.clip(np.stack([a, b]), 0, 255).round().astype(np.uint8)


def cosines(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-300)


def encode_array(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"shape": list(a.shape), "float32_le_base64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d):
    return np.frombuffer(base64.b64decode(d["float32_le_base64"]), dtype="<f4").reshape(d["shape"])


# -- sessions -----------------------------------------------------------------------------------
def _providers(ort, device):
    available = ort.get_available_providers()
    device = (device or "auto").lower()
    if device == "auto":
        device = "cuda" if "CUDAExecutionProvider" in available else "cpu"
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise InputError(
                "CUDA was requested but this onnxruntime has no CUDA provider: install onnxruntime-gpu, "
                "choose the torch runtime, or use the CPU.",
                parameter="DEVICE",
            )
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return device, [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    if device != "cpu":
        raise InputError(f"unknown device {device!r}: use auto, cpu or cuda.", parameter="DEVICE")
    # only the default CPU provider: others a build may add (DNNL, XNNPACK) fail on dynamic batches
    return device, ["CPUExecutionProvider"]


def session_options(ort, threads):
    """One model, ``threads`` intra-op threads that sleep when idle (spinning threads would take
    the core from the tile reader), operators in sequence, every graph optimisation."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3  # errors only: no warnings about unused initialisers in the QGIS log
    return so


def read_metadata(path_or_session):
    """The tile_embeddings.* metadata of an ONNX file (JSON values decoded); {} for a foreign file."""
    session = path_or_session
    if isinstance(path_or_session, (str, os.PathLike)):
        import onnxruntime as ort

        session = ort.InferenceSession(os.fspath(path_or_session), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map or {}
    meta = {}
    for k, v in props.items():
        if k.startswith(META_PREFIX):
            try:
                meta[k[len(META_PREFIX) :]] = json.loads(v)
            except ValueError:
                meta[k[len(META_PREFIX) :]] = v
    return meta if meta.get("format") == FORMAT else {}


class OnnxExtractor:
    """An ONNX model on onnxruntime, with :class:`.models.Extractor`'s contract: float32 numpy
    ``(b, 3, s, s)`` normalised images in, float32 numpy ``(b, dims)`` out."""

    runtime = "onnxruntime"

    def __init__(self, path, device="auto", threads=None, input_size=224, model=None, features=None):
        import onnxruntime as ort

        self.path = os.path.abspath(os.fspath(path))
        self.device, providers = _providers(ort, device)
        self.threads = model_threads(threads)
        try:
            self.session = ort.InferenceSession(
                self.path, session_options(ort, self.threads), providers=providers
            )
        except Exception as e:  # not ONNX, truncated, an operator this onnxruntime lacks...
            raise InputError(f"cannot load the ONNX model {self.path}: {e}", parameter="WEIGHTS") from e
        self.runtime_version = ort.__version__
        self.file_sha256 = file_sha256(self.path)
        meta = read_metadata(self.session)
        self.exported = meta
        if meta:
            self.model = meta["model"]
            self.kind = meta["model_kind"]
            self.weights_label = meta["weights"]
            self.weights_path = meta.get("weights_file") or self.path
            self.weights_sha256 = meta["weights_sha256"]
        else:  # a model of one's own, exported by other tools
            self.model = custom_model_label(model, self.path)
            self.kind = "onnx"
            self.weights_label = self.path
            self.weights_path = self.path
            self.weights_sha256 = self.file_sha256
        # what the file computes (recorded at export; a file without the key, or of other tools,
        # pools the final layer); a different request is refused, never silently served
        self.features = meta.get("features", "final") if meta else "final"
        self.mid_block = meta.get("mid_block") if meta else None
        asked = str(features or "").strip().lower()
        if asked and asked != "auto" and asked != self.features:
            if self.features == "final" and not (meta and meta.get("model_kind") == "torchvision"):
                resolve_features(asked, self.kind, self.path)  # a model of one's own: final only
            raise InputError(
                f"the ONNX file {self.path} computes the features {self.features!r}, not {asked!r}: set FEATURES "
                f"to {self.features}, or export the model with FEATURES {asked} ('Export model to ONNX').",
                parameter="FEATURES",
            )
        self.mean = tuple(meta.get("mean") or IMAGENET_MEAN)
        self.std = tuple(meta.get("std") or IMAGENET_STD)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._output = self.session.get_outputs()[0].name
        shape = list(inp.shape) + [None] * (4 - len(inp.shape))
        self._fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        if len(inp.shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise InputError(
                f"the ONNX model {self.path} takes input {inp.shape}: it must take (batch, 3, height, width) "
                "RGB images.",
                parameter="WEIGHTS",
            )
        fixed = [d for d in shape[2:] if isinstance(d, int) and d > 0]
        if fixed and any(d != int(input_size) for d in fixed):
            raise InputError(
                f"the ONNX model {self.path} takes {shape[2]} x {shape[3]} pixel images: set the model input "
                f"size to {fixed[0]}.",
                parameter="INPUT_SIZE",
            )
        probe = fixed[0] if fixed else min(int(input_size), 64)
        self.dims = int(self(np.zeros((1, 3, probe, probe), dtype=np.float32)).shape[1])
        if meta.get("check"):
            self._verify(meta["check"])

    def __call__(self, batch):
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if self._fixed_batch and x.shape[0] != self._fixed_batch:
            step = self._fixed_batch
            parts = [self(x[s : s + step]) for s in range(0, x.shape[0], step)]
            return np.concatenate(parts) if parts else np.zeros((0, self.dims), np.float32)
        out = self.session.run([self._output], {self._input: x})[0]
        if out.ndim == 4:  # an encoder returning a feature map: global average pool
            out = out.mean(axis=(2, 3))
        return np.ascontiguousarray(out.reshape(out.shape[0], -1), dtype=np.float32)

    def _verify(self, check):
        """Refuse a file whose embeddings of the check images are not torch's (stored at export)."""
        size = int(check.get("size", CHECK_SIZE))
        reference = decode_array(check["reference"])
        got = self(model_input(check_images(size), size, self.mean, self.std))
        worst = float(cosines(got, reference).min()) if got.shape == reference.shape else -1.0
        if worst < CHECK_MIN_COSINE:
            raise InputError(
                f"the ONNX file {self.path} does not reproduce the network it was exported from (cosine "
                f"{worst:.6f} < {CHECK_MIN_COSINE} on its check images): delete it and export it again.",
                parameter="WEIGHTS",
            )
        self.check_cosine = worst

    def describe(self):
        return describe_extractor(self, self.runtime_version, onnx_file=self.path, onnx_sha256=self.file_sha256)


# -- finding (or making) the model file ---------------------------------------------------------
def is_imagenet_weights(w):
    """Whether a weights argument means torchvision's ImageNet checkpoint (None, "imagenet", "torchvision:...")."""
    w = (str(w).strip() if w else "") or "imagenet"
    return w.lower() == "imagenet" or w.startswith("torchvision:")


def export_candidates(model, weights=None, weights_sha256=None, onnx_file=None, features="final"):
    """``[(path, expected weights SHA-256 or its prefix)]``: the cached exports of ``model`` with
    ``weights`` that exist here, best first; the loader checks each file's recorded hash.

    ``weights``: None/"imagenet"/"torchvision:<name>" or the path of the source weights;
    ``weights_sha256``: the source weights' hash when known (an index records it: it finds the
    export of a state dict whose file is not on this machine); ``onnx_file``: a path tried first;
    ``features``: the FEATURES the export computes (it is in the name, and checked when loaded).
    """
    w = (str(weights).strip() if weights else "") or "imagenet"
    out = []
    if onnx_file:
        out.append((onnx_file, weights_sha256))
    if is_imagenet_weights(w):
        name = w.split(":", 1)[1] if w.startswith("torchvision:") else None
        for _, path in imagenet_onnx_candidates(model, name, features):
            out.append((path, weights_sha256 or hash_prefix(path)))
    else:
        sha = weights_sha256 or (file_sha256(w) if os.path.isfile(w) else None)
        if sha:
            folder = torch_hub_checkpoints()
            stems = [model] + ([custom_model_label(model, w)] if os.path.isfile(w) else [])
            out += [(os.path.join(folder, onnx_name(stem, sha, None, features)), sha) for stem in dict.fromkeys(stems)]
    seen, found = set(), []
    for path, expect in out:
        if path and os.path.isfile(path) and os.path.abspath(path) not in seen:
            seen.add(os.path.abspath(path))
            found.append((os.path.abspath(path), expect))
    return found
