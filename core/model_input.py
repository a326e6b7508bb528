"""8-bit RGB tiles -> the model's input: resize, ImageNet normalisation, the 8 dihedral views.

In numpy (and Pillow when present), never torch, so that both runtimes (torch and onnxruntime)
see the very same numbers and the onnxruntime path imports no torch. The resize is the
antialiased bilinear filter of ``torch.nn.functional.interpolate(mode="bilinear",
antialias=True, align_corners=False)``, itself Pillow's ``BILINEAR``: a triangle filter widened
by the scale when shrinking. Pillow runs it in C with the GIL released (~1 ms per 256 px tile);
without Pillow the same weights are applied with numpy. Both agree with torch within 0.005 grey
levels of 255.
"""

import numpy as np


def _weights(n_in, n_out):
    """Source indices and weights ``(n_out, taps)`` of the antialiased bilinear filter (1-D)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    centers = scale * (np.arange(n_out) + 0.5)
    lo = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    hi = np.minimum((centers + support + 0.5).astype(np.int64), n_in)
    taps = int((hi - lo).max())
    idx = lo[:, None] + np.arange(taps)[None, :]
    w = np.maximum(0.0, 1.0 - np.abs((idx - centers[:, None] + 0.5) * inv))
    w[idx >= hi[:, None]] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    return np.minimum(idx, n_in - 1), w.astype(np.float32)


def _resize_numpy(x, size):
    """``x`` float32 (b, c, h, w) -> (b, c, size, size), separable, one tap at a time."""
    iy, wy = _weights(x.shape[2], size)
    ix, wx = _weights(x.shape[3], size)
    t = x[..., ix[:, 0]] * wx[:, 0]
    for k in range(1, ix.shape[1]):
        t += x[..., ix[:, k]] * wx[:, k]
    out = t[:, :, iy[:, 0], :] * wy[:, 0, None]
    for k in range(1, iy.shape[1]):
        out += t[:, :, iy[:, k], :] * wy[:, k, None]
    return out


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - QGIS builds without Pillow
        return None
    return Image


def resize(x, size, use_pil=True):
    """Antialiased bilinear resize of float32 ``(b, c, h, w)`` to ``(b, c, size, size)``."""
    b, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    image = _pil() if use_pil else None
    if image is None:
        return _resize_numpy(x, size)
    out = np.empty((b, c, size, size), dtype=np.float32)
    for i in range(b):
        for j in range(c):
            band = np.ascontiguousarray(x[i, j])
            out[i, j] = np.asarray(
                image.fromarray(band).resize((size, size), image.Resampling.BILINEAR)
            )
    return out


def model_input(tiles_u8, size, mean, std, use_pil=True):
    """uint8 RGB tiles, an array ``(b, 3, h, w)`` or a list of differently sized ``(3, h, w)``,
    -> float32 ``(b, 3, size, size)``, resized and normalised with ``mean``/``std`` (0..1 scale).

    With Pillow each band goes uint8 -> float -> resized in C, and is normalised in place while
    it is still in the cache: half the time of converting the whole batch first.
    """
    tiles = list(tiles_u8) if not isinstance(tiles_u8, np.ndarray) else tiles_u8
    scale = [np.float32(1.0 / (255.0 * s)) for s in std]
    shift = [np.float32(-m / s) for m, s in zip(mean, std)]
    out = np.empty((len(tiles), 3, size, size), dtype=np.float32)
    if isinstance(tiles, np.ndarray) and tiles.shape[2:] == (size, size):
        # tiles already at the input size (small tiles): one pass per band over the whole batch, the
        # same float32 operations as below without a Pillow image per tile and band
        for j in range(3):
            np.multiply(tiles[:, j], scale[j], out=out[:, j], dtype=np.float32)
            out[:, j] += shift[j]
        return out
    image = _pil() if use_pil else None
    for i, tile in enumerate(tiles):
        if image is None:
            out[i] = resize(np.asarray(tile, dtype=np.float32)[None], size, use_pil=False)[0]
        for j in range(3):
            band = out[i, j]
            if image is not None:
                src = image.fromarray(np.ascontiguousarray(tile[j], dtype=np.uint8)).convert("F")
                if src.size != (size, size):
                    src = src.resize((size, size), image.Resampling.BILINEAR)
                np.multiply(np.asarray(src), scale[j], out=band)
            else:
                band *= scale[j]
            band += shift[j]
    return out


def dihedral_views(x):
    """The 8 rotations/flips of a (b, c, h, w) batch, contiguous: aerial tiles have no canonical
    orientation."""
    views = []
    for flipped in (x, x[..., ::-1]):
        for k in range(4):
            views.append(np.ascontiguousarray(np.rot90(flipped, k, axes=(2, 3))))
    return views


#: ROTATION: the views whose embeddings are averaged. ``rot8``: the 8 rotations and flips (8x the
#: cost; invariant to every right-angle rotation and flip); ``rot2``: the tile and its 90 degree
#: rotation (2x; a tile turned by 90 degrees shares one of its two views, so it is still found:
#: rot90 top-1 1.00 on both labelled NEON scenes, P@10 0.95 / 0.92, README), not invariant to
#: 180 degrees or flips; ``none``: the tile as it is.
ROTATIONS = ("none", "rot2", "rot8")


def canonical_rotation(value):
    """How a rotation setting is recorded (``Preprocessing.rotation_invariant``, meta.json): False
    (none), True (the 8 views, as before ROTATION existed) or ``"rot2"``; raises ValueError."""
    if isinstance(value, (bool, np.bool_)) or value is None:  # True == 1 in Python: bools first
        return bool(value)
    if value in ("", "none", 1):
        return False
    if value in ("rot8", 8):
        return True
    if value in ("rot2", 2):
        return "rot2"
    raise ValueError(f"unknown rotation {value!r}: use {', '.join(ROTATIONS)}")


def rotation_name(value):
    """``none``, ``rot2`` or ``rot8`` for a rotation setting (see :func:`canonical_rotation`)."""
    v = canonical_rotation(value)
    return "rot8" if v is True else (v or "none")


def rotation_views(x, value):
    """The views of a (b, c, h, w) batch whose embeddings a rotation setting averages."""
    v = canonical_rotation(value)
    if v is False:
        return [x]
    if v == "rot2":
        return [x, np.ascontiguousarray(np.rot90(x, 1, axes=(2, 3)))]
    return dihedral_views(x)
