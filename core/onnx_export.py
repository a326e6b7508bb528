"""Export a backbone to ONNX once, on any machine with torch, for onnxruntime to run without it.

The network is the one torch runs (:func:`.models.load_torch_extractor`: classifier removed, a
feature map average-pooled), exported by torch's TorchScript-based exporter at opset 17 with a
dynamic batch and image size, so one file serves every input size. The file carries in its
metadata what it was exported from and torch's embeddings of two check images
(:func:`.onnx_runtime.check_images`), which every load compares; when onnxruntime is installed
here too, the export is also checked on real tiles (``check_tiles``) before it is kept. Written
atomically: a failed or refused export leaves nothing behind.

Command line (the plugin folder's parent on ``PYTHONPATH``)::

    python3 -m tile_embeddings.core.onnx_export mobilenet_v2 [--weights FILE] [--output FILE]
        [--check-raster RASTER] [--bands 3,2,1]
"""

import json
import os
import sys
import uuid

import numpy as np

from .errors import InputError
from .model_input import model_input
from .models import (
    DEFAULT_FEATURES,
    EXPORT_INSTALL,
    FEATURES,
    SUPPORTED_MODELS,
    have_onnxruntime,
    load_torch_extractor,
    require,
    torch_hub_checkpoints,
)
from .onnx_runtime import (
    CHECK_MIN_COSINE,
    CHECK_SIZE,
    FORMAT,
    FORMAT_VERSION,
    INPUT_NAME,
    META_PREFIX,
    OUTPUT_NAME,
    OnnxExtractor,
    check_images,
    cosines,
    encode_array,
    onnx_name,
)
from .progress import ensure

OPSET = 17


def default_output(ext):
    """Where the export of ``ext``'s network is cached (see :mod:`.onnx_runtime`)."""
    checkpoint = ext.weights_path if str(ext.weights_label).startswith("torchvision:") else None
    return os.path.join(
        torch_hub_checkpoints(), onnx_name(ext.model, ext.weights_sha256, checkpoint, ext.features)
    )


def _pooled(module):
    import torch

    class Pooled(torch.nn.Module):
        """The extractor's network with its output made (batch, dims), as the runtimes use it."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            out = self.net(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            if out.dim() == 4:
                out = out.mean(dim=(2, 3))
            return out.reshape(out.shape[0], -1)

    return Pooled(module).eval()


def export_onnx(
    model="mobilenet_v2",
    weights=None,
    output=None,
    check_tiles=None,
    check_size=224,
    progress=None,
    opset=OPSET,
    features=None,
):
    """Export ``model`` with ``weights`` (as :func:`.runtimes.load_extractor` takes them) to ONNX.

    ``features``: the FEATURES the file computes (:func:`.models.resolve_features`; None: the
    default for the kind of network), recorded in it and in its cache name.
    ``output``: default the cache name beside torchvision's checkpoints. ``check_tiles``: uint8 RGB
    tiles (an array ``(b, 3, h, w)`` or a list) of real imagery, resized to ``check_size``, on which
    onnxruntime must agree with torch (cosine >= 0.9999) for the file to be kept. Returns
    ``(path, report)``; ``report`` holds the cosines and a line of text for the log.
    """
    require(("torch", "torchvision", "onnx"), parameter="RUNTIME", hint=EXPORT_INSTALL)
    import onnx
    import torch

    progress = ensure(progress)
    ext = load_torch_extractor(model, weights, "cpu", CHECK_SIZE, progress.sub(0.0, 0.3), features=features)
    output = os.path.abspath(os.fspath(output or default_output(ext)))
    folder = os.path.dirname(output)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {folder} for the ONNX file ({e.strerror}).", parameter="OUTPUT") from e
    tmp = os.path.join(folder, f".{os.path.basename(output)}.{uuid.uuid4().hex[:8]}.part")
    progress.text(f"exporting {ext.model} ({ext.weights_label}) to ONNX: {output}")
    report = {
        "output": output,
        "model": ext.model,
        "weights": ext.weights_label,
        "features": ext.features,
        "check_tiles": 0,
    }
    try:
        # a TorchScript module is exported as it is (a trace cannot call it): onnxruntime pools a
        # feature map it returns, as torch does
        net = ext.module if isinstance(ext.module, torch.jit.ScriptModule) else _pooled(ext.module)
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                net,
                (torch.zeros(1, 3, 224, 224),),
                tmp,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch"}},
                do_constant_folding=True,
                dynamo=False,
            )
        progress.set(0.7)
        reference = ext(model_input(check_images(CHECK_SIZE), CHECK_SIZE, ext.mean, ext.std))
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": ext.model,
            "model_kind": ext.kind,
            "weights": ext.weights_label,
            "weights_file": ext.weights_path,
            "weights_sha256": ext.weights_sha256,
            "dims": ext.dims,
            "features": ext.features,
            "mid_block": ext.mid_block,
            "mean": list(ext.mean),
            "std": list(ext.std),
            "opset": opset,
            "exported_with": f"torch {torch.__version__}",
            "check": {"size": CHECK_SIZE, "reference": encode_array(reference)},
        }
        proto = onnx.load(tmp)
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = META_PREFIX + key, json.dumps(value)
        proto.doc_string = (
            f"{ext.model} ({ext.weights_label}) without its classifier, features {ext.features}, for Tile Embeddings"
        )
        onnx.save(proto, tmp)
        progress.set(0.8)
        if have_onnxruntime():
            # loading checks the stored check images; then real tiles, when given
            runtime = OnnxExtractor(tmp, "cpu", None, check_size, features=ext.features)
            report["check_cosine"] = runtime.check_cosine
            if check_tiles is not None and len(check_tiles):
                x = model_input(check_tiles, int(check_size), ext.mean, ext.std)
                c = cosines(runtime(x), ext(x))
                report.update(check_tiles=len(x), min_cosine=float(c.min()), mean_cosine=float(c.mean()))
                if c.min() < CHECK_MIN_COSINE:
                    raise InputError(
                        f"the ONNX export of {ext.model} does not agree with torch on {len(x)} tiles (minimum "
                        f"cosine {c.min():.6f} < {CHECK_MIN_COSINE}); nothing was saved. Use the torch runtime.",
                        parameter="RUNTIME",
                    )
            del runtime
        os.replace(tmp, output)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    progress.set(1.0)
    if report["check_tiles"]:
        checked = (
            f"onnxruntime agrees with torch on {report['check_tiles']} tiles "
            f"(minimum cosine {report['min_cosine']:.6f})"
        )
    elif "check_cosine" in report:
        checked = f"onnxruntime agrees with torch on the check images (cosine {report['check_cosine']:.6f})"
    else:
        checked = "onnxruntime is not installed here: the file is checked where it is loaded"
    report["text"] = f"saved {output} ({os.path.getsize(output) / 1e6:.1f} MB); {checked}"
    return output, report


def tiles_from_raster(path, bands=(1, 2, 3), tile_size=224, count=16):
    """Up to ``count`` tiles spread over a raster, each stretched on its own to 8-bit RGB (0.5-99.5 %,
    as 'Stretch to 8-bit RGB' per tile): real imagery to check an export on."""
    from .grid import tile_windows
    from .raster_io import open_raster, read_window
    from .rgb_export import bands_for, parse_bands
    from .stretch import apply_cuts, percentile_cuts_array

    ds = open_raster(os.fspath(path), parameter="CHECK_RASTER")
    try:
        bands = bands_for(ds, parse_bands(bands or "1,2,3"), os.fspath(path))
        windows = tile_windows(ds.RasterXSize, ds.RasterYSize, int(tile_size))
        if not windows:
            raise InputError(f"{path} is smaller than one {tile_size} px tile", parameter="CHECK_RASTER")
        picks = np.unique(np.linspace(0, len(windows) - 1, min(count, len(windows))).round().astype(int))
        tiles = []
        for i in picks:
            t = windows[int(i)]
            arr, ok = read_window(ds, t.xoff, t.yoff, t.xsize, t.ysize, bands)
            mask = None if ok is None or ok.all() else ok
            tiles.append(apply_cuts(arr, percentile_cuts_array(arr, 0.5, 99.5, mask), mask, reserve_zero=False))
    finally:
        ds = None
    return np.stack(tiles)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(
        prog="python3 -m tile_embeddings.core.onnx_export",
        description="Export a backbone to ONNX once (needs torch, torchvision and onnx), so that Tile "
        "Embeddings runs it with onnxruntime, also on machines without torch.",
    )
    ap.add_argument("model", nargs="?", default="mobilenet_v2", help=f"one of {', '.join(SUPPORTED_MODELS)}")
    ap.add_argument("--weights", help="a state dict or TorchScript file (default: the ImageNet weights)")
    ap.add_argument("--output", help="the .onnx file (default: beside torchvision's checkpoints)")
    ap.add_argument("--check-raster", help="a raster whose tiles the export is checked on")
    ap.add_argument("--bands", default="1,2,3", help="band order of the check raster")
    ap.add_argument(
        "--features",
        default="auto",
        help=f"{', '.join(FEATURES)} or auto (default: {DEFAULT_FEATURES} for a torchvision backbone, final "
        "for a TorchScript file); an index is searched with the export of its own features",
    )
    args = ap.parse_args(argv)

    def say(text):
        print(text, flush=True)

    from .progress import Progress

    try:
        tiles = tiles_from_raster(args.check_raster, args.bands) if args.check_raster else None
        path, report = export_onnx(
            args.model,
            args.weights,
            args.output,
            check_tiles=tiles,
            progress=Progress(on_text=say),
            features=args.features,
        )
    except InputError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    say(report["text"])
    say(f"copy {path} to {os.path.dirname(path)} on a machine without torch (or give it as the weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
