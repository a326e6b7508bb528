"""Which runtime runs a model, and the extractor for it: onnxruntime (:mod:`.onnx_runtime`) or
torch (:mod:`.models`).

The one place that knows both: :func:`load_extractor` picks the runtime (:func:`choose_runtime`)
and, for onnxruntime, finds the model's ONNX file or has it exported once (:mod:`.onnx_export`,
needs torch); without torch and without the file it says how to get one. The runtime modules below
it know nothing of each other's choice.
"""

import os
import threading

from .errors import InputError
from .models import (
    CHECKPOINTS,
    EXPORT_INSTALL,
    NO_RUNTIME_MESSAGE,
    ONNXRUNTIME_INSTALL,
    RUNTIMES,
    TORCH_INSTALL,
    TORCH_PACKAGES,
    have_onnxruntime,
    have_torch,
    is_onnx,
    is_torchscript,
    load_torch_extractor,
    missing_modules,
    resolve_features,
    torch_hub_checkpoints,
)
from .onnx_export import export_onnx
from .onnx_runtime import (
    EXPORT_PACKAGES,
    OnnxExtractor,
    export_candidates,
    features_suffix,
    imagenet_onnx_candidates,
    is_imagenet_weights,
)
from .progress import ensure


def _onnxruntime_has_cuda():
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def choose_runtime(runtime="auto", weights=None, device="auto"):
    """``"onnxruntime"`` or ``"torch"`` for these weights, or an :class:`InputError` naming RUNTIME
    that says what to install.

    ``"auto"``: onnxruntime when it is installed; torch for a TorchScript file (onnxruntime cannot
    read it; it can be exported with 'Export model to ONNX'), and for an explicit CUDA device when
    onnxruntime has no CUDA provider; onnxruntime for an ONNX file.
    """
    runtime = (runtime or "auto").lower()
    if runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}: use {', '.join(RUNTIMES)}.", parameter="RUNTIME")
    w = str(weights).strip() if weights else ""
    onnx_file = is_onnx(w)
    if runtime == "auto":
        ort, torch = have_onnxruntime(), have_torch()
        if not ort and not torch:
            raise InputError(NO_RUNTIME_MESSAGE, parameter="RUNTIME")
        runtime = "onnxruntime" if ort else "torch"
        if torch and not onnx_file:
            wants_cuda = str(device or "auto").lower().startswith("cuda")
            if (wants_cuda and ort and not _onnxruntime_has_cuda()) or (os.path.isfile(w) and is_torchscript(w)):
                runtime = "torch"
    if runtime == "onnxruntime" and not have_onnxruntime():
        raise InputError(
            f"the onnxruntime runtime is not installed: install onnxruntime ({ONNXRUNTIME_INSTALL}), "
            "or choose the torch runtime.",
            parameter="RUNTIME",
        )
    if runtime == "torch":
        if onnx_file:
            raise InputError(
                f"{w} is an ONNX model: it runs on onnxruntime, not torch. Choose the runtime "
                "onnxruntime (or auto).",
                parameter="RUNTIME",
            )
        missing = missing_modules(TORCH_PACKAGES)
        if missing:
            raise InputError(
                f"the torch runtime needs {', '.join(missing)}: install {' and '.join(missing)} "
                f"({TORCH_INSTALL}), or choose the runtime onnxruntime.",
                parameter="RUNTIME",
            )
    return runtime


def load_extractor(
    model="mobilenet_v2",
    weights=None,
    device="auto",
    input_size=224,
    progress=None,
    runtime="auto",
    threads=None,
    sample_tiles=None,
    features=None,
):
    """The feature extractor for ``model`` with ``weights`` on ``runtime``.

    ``weights``: None/""/"imagenet" -> the model's ImageNet weights (torchvision's cache, downloaded
    there first when missing; onnxruntime: their ONNX export beside them, made once here when torch
    is installed); ``"torchvision:<weights name>"`` -> that checkpoint (how an index records it);
    a path -> a state dict for ``model``, a TorchScript archive or an ONNX file (then ``model`` is
    only a label, and the file name labels it when ``model`` is a torchvision name).
    ``runtime``: see :func:`choose_runtime`. ``threads``: intra-op threads (default
    :func:`.models.model_threads`). ``sample_tiles``: a callable giving uint8 RGB tiles of the data
    at hand, to check an ONNX export against torch when one is made. ``features``: what the
    vector is made of (:data:`.models.FEATURES`; None or "auto": :func:`.models.resolve_features`).
    Raises :class:`InputError` naming MODEL, WEIGHTS, RUNTIME, DEVICE or FEATURES when unusable.
    """
    if choose_runtime(runtime, weights, device) == "onnxruntime":
        return load_onnx_extractor(model, weights, device, input_size, progress, threads, sample_tiles, features)
    return load_torch_extractor(model, weights, device, input_size, progress, threads, features)


_extractor_cache = {}
_extractor_lock = threading.Lock()


def cached_extractor(
    model,
    weights=None,
    device="auto",
    input_size=224,
    progress=None,
    runtime="auto",
    threads=None,
    sample_tiles=None,
    features=None,
):
    """The same extractor for the same (model, weights, device, runtime, features): external-image
    queries reuse it."""
    key = (model, str(weights or ""), device, input_size, runtime, threads, str(features or "auto"))
    with _extractor_lock:
        ext = _extractor_cache.get(key)
    if ext is None:
        ext = load_extractor(model, weights, device, input_size, progress, runtime, threads, sample_tiles, features)
        with _extractor_lock:
            _extractor_cache.clear()  # keep one model in memory
            _extractor_cache[key] = ext
    return ext


def _no_export_message(model, w, missing, stale=(), features="final"):
    folder = torch_hub_checkpoints()
    option = "" if features == "final" else f" --features {features}"
    if is_imagenet_weights(w):
        names = imagenet_onnx_candidates(model, w.split(":", 1)[1] if ":" in w else None, features)
        want = os.path.basename(names[0][1]) if names else f"{model}-<hash>{features_suffix(features)}.onnx"
        what = f"{model} with ImageNet weights"
        command = f"python3 -m tile_embeddings.core.onnx_export {model}{option}"
    else:
        want = f"{model}-<first 8 characters of the weights' SHA-256>{features_suffix(features)}.onnx"
        what = f"{model} with the weights {w}"
        command = f"python3 -m tile_embeddings.core.onnx_export {model} --weights {w}{option}"
    what += f" (features {features})"
    found = f" ({', '.join(stale)} holds other weights)" if stale else ""
    return (
        f"no ONNX file of {what} in {folder}{found}, and this machine cannot make one "
        f"({', '.join(missing)} not installed). On any machine with torch, run 'Export model to ONNX' (or "
        f"`{command}`) once and copy {want} into {folder}, or give the .onnx file as the weights; or "
        f"install {' '.join(missing)} here ({EXPORT_INSTALL})."
    )


def load_onnx_extractor(
    model="mobilenet_v2",
    weights=None,
    device="auto",
    input_size=224,
    progress=None,
    threads=None,
    sample_tiles=None,
    features=None,
):
    """The onnxruntime extractor for ``model`` with ``weights`` (see :func:`load_extractor`):
    the ONNX file itself, else the cached export of these ``features``, else an export made here
    once (needs torch)."""
    progress = ensure(progress)
    w = (str(weights).strip() if weights else "") or "imagenet"
    if is_onnx(w):
        if not os.path.isfile(w):
            raise InputError(f"ONNX model file not found: {w}", parameter="WEIGHTS")
        return OnnxExtractor(w, device, threads, input_size, model, features)
    kind = "torchscript" if os.path.isfile(w) and is_torchscript(w) else "torchvision"
    features = resolve_features(features, kind, w)
    imagenet = is_imagenet_weights(w)
    if imagenet and model not in CHECKPOINTS and missing_modules(("torchvision",)):
        raise InputError(
            f"unknown model {model!r}: choose one of {', '.join(CHECKPOINTS)}, or give an ONNX file as weights.",
            parameter="MODEL",
        )
    stale = []
    for path, expect in export_candidates(model, w, features=features):
        ext = OnnxExtractor(path, device, threads, input_size, model)
        if expect and ext.exported and str(ext.weights_sha256).startswith(expect) and ext.features == features:
            return ext
        stale.append(os.path.basename(path))
    if not imagenet and not os.path.isfile(w):
        raise InputError(f"weights file not found: {w}", parameter="WEIGHTS")
    missing = missing_modules(EXPORT_PACKAGES)
    if missing:
        raise InputError(_no_export_message(model, w, missing, stale, features), parameter="WEIGHTS")
    tiles = sample_tiles() if sample_tiles is not None else None
    path, report = export_onnx(
        model,
        None if w.lower() == "imagenet" else w,
        check_tiles=tiles,
        check_size=input_size,
        progress=progress,
        features=features,
    )
    progress.text(report["text"])
    return OnnxExtractor(path, device, threads, input_size, model, features)
