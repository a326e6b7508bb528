"""Percentile cut values and the linear stretch to 8-bit RGB.

Cut values come from histograms accumulated window by window, so memory does not depend on the
raster size and one set of cuts can cover a whole tile set (``global`` scope: neighbouring tiles
get the same colours). 8- and 16-bit integer bands get exact histograms, and the percentiles match
``numpy.percentile`` (linear interpolation) exactly; other types get a 65,536-bin histogram
between the band's minimum and maximum (error below 1/65,536 of the value range).
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import InputError
from .grid import block_windows
from .progress import ensure
from .raster_io import band_dtype, no_dir_scan, open_raster, read_window
from .thread_pool import default_threads

FLOAT_BINS = 1 << 16


def _exact_range(dtype):
    """(offset, nbins) of an exact histogram for small integer types, else None."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui" and dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        return int(info.min), int(info.max) - int(info.min) + 1
    return None


def _percentile_from_counts(counts, q, value_of_bin, inside_bin=None):
    """``numpy.percentile``-style (linear) percentile from a histogram of order statistics."""
    n = int(counts.sum())
    if n == 0:
        return np.nan
    cum = np.cumsum(counts)
    rank = q / 100.0 * (n - 1)
    k0 = int(np.floor(rank))
    k1 = min(k0 + 1, n - 1)

    def order_stat(k):
        i = int(np.searchsorted(cum, k, side="right"))
        if inside_bin is None:
            return value_of_bin(i)
        before = cum[i - 1] if i > 0 else 0
        return inside_bin(i, (k - before + 0.5) / counts[i])

    v0, v1 = order_stat(k0), order_stat(k1)
    return v0 + (rank - k0) * (v1 - v0)


def _uint8_histograms(array):
    """256-bin counts of each band of a ``(nbands, h, w)`` uint8 array with Pillow's C histogram
    (about twice as fast as ``np.bincount``, which first widens every value to 64 bits); None
    without Pillow."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is optional
        return None
    h, w = array.shape[1:]
    out = np.empty((array.shape[0], 256), dtype=np.int64)
    for i in range(array.shape[0]):
        band = np.ascontiguousarray(array[i])
        out[i] = Image.frombuffer("L", (w, h), band, "raw", "L", 0, 1).histogram()
    return out


class _Histograms:
    """Per-band histograms for one set of bands, exact or binned over a known range."""

    def __init__(self, nbands, dtype, ranges=None):
        exact = _exact_range(dtype)
        self.ranges = None
        if exact is not None:
            self.offset, self.nbins = exact
        else:
            self.offset, self.nbins = None, FLOAT_BINS
            self.ranges = ranges
        self.counts = np.zeros((nbands, self.nbins), dtype=np.int64)

    def add(self, array, valid):
        if valid is None and array.dtype == np.uint8 and self.offset == 0:
            counts = _uint8_histograms(array)
            if counts is not None:
                self.counts += counts
                return
        for i in range(array.shape[0]):
            values = array[i].ravel() if valid is None else array[i][valid[i]]
            if values.size == 0:
                continue
            if self.offset is not None:
                idx = values.astype(np.int64) - self.offset if self.offset else values
                self.counts[i] += np.bincount(idx, minlength=self.nbins)
            else:
                lo, hi = self.ranges[i]
                if not np.isfinite(lo):
                    continue
                width = (hi - lo) / self.nbins if hi > lo else 1.0
                idx = np.clip(((values.astype(np.float64) - lo) / width).astype(np.int64), 0, self.nbins - 1)
                self.counts[i] += np.bincount(idx, minlength=self.nbins)

    def merge(self, other):
        self.counts += other.counts

    def percentile(self, i, q):
        if self.offset is not None:
            return _percentile_from_counts(self.counts[i], q, lambda b: float(b + self.offset))
        lo, hi = self.ranges[i]
        width = (hi - lo) / self.nbins if hi > lo else 0.0
        return _percentile_from_counts(
            self.counts[i], q, None, lambda b, f: lo + (b + f) * width if hi > lo else lo
        )


def _as_sources(sources):
    if isinstance(sources, (str, os.PathLike)):
        return [os.fspath(sources)]
    return [os.fspath(s) for s in sources]


def check_bands(ds, bands, parameter="BANDS", path=""):
    for b in bands:
        if not 1 <= int(b) <= ds.RasterCount:
            raise InputError(
                f"band {b} does not exist: {path or 'the raster'} has {ds.RasterCount} band(s)",
                parameter=parameter,
            )


def _check_percentiles(lower, upper):
    if not (0.0 <= lower < upper <= 100.0):
        raise InputError(
            f"percentiles must satisfy 0 <= lower < upper <= 100 (got {lower}, {upper})", parameter="LOWER"
        )


def _scan(path, bands, nodata, fn, max_pixels):
    """Call ``fn(array, valid)`` on every memory-bounded window of one raster."""
    with no_dir_scan():
        ds = open_raster(path)
    check_bands(ds, bands, path=path)
    bx, by = ds.GetRasterBand(bands[0]).GetBlockSize()
    for xoff, yoff, xs, ys in block_windows(ds.RasterXSize, ds.RasterYSize, bx, by, max_pixels):
        array, valid = read_window(ds, xoff, yoff, xs, ys, bands=bands, nodata=nodata, lazy_valid=True)
        fn(array, valid)
        ds.FlushCache()  # drop the blocks just read: the GDAL cache must not grow with the raster
    ds = None


def compute_cuts(
    sources, bands, lower=0.5, upper=99.5, nodata=None, progress=None, threads=None, max_pixels=1 << 22
):
    """(low, high) cut values per band over one raster or a whole tile set.

    ``sources``: a raster path or a list of raster paths; ``bands``: 1-based band numbers.
    Nodata (each file's own unless ``nodata`` is given), NaN and masked pixels are excluded.
    Returns a float64 array of shape ``(len(bands), 2)``. Bands without any valid pixel get
    ``(0, 0)``.
    """
    progress = ensure(progress)
    _check_percentiles(lower, upper)
    paths = _as_sources(sources)
    bands = [int(b) for b in bands]
    if not paths:
        raise InputError("no raster to compute statistics from", parameter="INPUT")
    first_ds = open_raster(paths[0])
    check_bands(first_ds, bands, path=paths[0])
    dtype = np.result_type(*[band_dtype(first_ds, b) for b in bands])
    first_ds = None
    threads = default_threads(threads)
    exact = _exact_range(dtype) is not None
    stage = progress.sub(0.0, 1.0) if exact else progress.sub(0.5, 1.0)

    ranges = None
    if not exact:  # first pass: each band's valid range
        mins = np.full(len(bands), np.inf)
        maxs = np.full(len(bands), -np.inf)

        def minmax(path):
            lo = np.full(len(bands), np.inf)
            hi = np.full(len(bands), -np.inf)

            def fn(array, valid):
                for i in range(len(bands)):
                    v = array[i].ravel() if valid is None else array[i][valid[i]]
                    if v.size:
                        lo[i] = min(lo[i], float(v.min()))
                        hi[i] = max(hi[i], float(v.max()))

            _scan(path, bands, nodata, fn, max_pixels)
            return lo, hi

        first = progress.sub(0.0, 0.5)
        first.start(len(paths))
        with ThreadPoolExecutor(threads) as pool:
            for lo, hi in pool.map(minmax, paths):
                mins, maxs = np.minimum(mins, lo), np.maximum(maxs, hi)
                first.step()
        ranges = list(zip(mins, maxs))

    def histogram(path):
        progress.check()
        h = _Histograms(len(bands), dtype, ranges)
        _scan(path, bands, nodata, h.add, max_pixels)
        return h

    total = _Histograms(len(bands), dtype, ranges)
    stage.start(len(paths))
    with ThreadPoolExecutor(threads) as pool:
        for h in pool.map(histogram, paths):
            total.merge(h)
            stage.step()
    cuts = np.zeros((len(bands), 2), dtype=np.float64)
    for i in range(len(bands)):
        lo, hi = total.percentile(i, lower), total.percentile(i, upper)
        cuts[i] = (0.0, 0.0) if np.isnan(lo) else (lo, hi)
    progress.set(1.0)
    return cuts


def percentile_cuts_array(array, lower=0.5, upper=99.5, valid_mask=None):
    """Per-tile cuts of an in-memory ``(nbands, h, w)`` array (the seed's ``per_tile`` scope).

    ``valid_mask`` is ``(h, w)`` or ``(nbands, h, w)``; NaN is always excluded.
    """
    _check_percentiles(lower, upper)
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    valid = _broadcast_mask(valid_mask, array)
    if array.dtype.kind == "f":
        valid = valid & ~np.isnan(array)
    cuts = np.zeros((array.shape[0], 2), dtype=np.float64)
    exact = _exact_range(array.dtype)
    for i in range(array.shape[0]):
        if exact is not None:
            h = _Histograms(1, array.dtype)
            h.add(array[i : i + 1], valid[i : i + 1])
            lo, hi = h.percentile(0, lower), h.percentile(0, upper)
        else:
            v = array[i][valid[i]]
            lo, hi = np.percentile(v, [lower, upper]) if v.size else (np.nan, np.nan)
        cuts[i] = (0.0, 0.0) if np.isnan(lo) else (lo, hi)
    return cuts


def _broadcast_mask(valid_mask, array):
    if valid_mask is None:
        return np.ones(array.shape, dtype=bool)
    m = np.asarray(valid_mask, dtype=bool)
    if m.ndim == 2:
        m = m[None]
    return np.broadcast_to(m, array.shape)


def stretch_lut(cuts, dtype, reserve_zero=False):
    """Lookup tables ``(nbands, nvalues)`` and their value offset for exact-histogram integer
    types, else None. Cached: a global stretch applies the same tables to every tile."""
    if _exact_range(dtype) is None:
        return None
    key = tuple(float(v) for v in np.asarray(cuts, dtype=np.float64).ravel())
    return _cached_lut(key, np.dtype(dtype).str, bool(reserve_zero))


@functools.lru_cache(maxsize=16)
def _cached_lut(flat_cuts, dtype_str, reserve_zero):
    offset, n = _exact_range(np.dtype(dtype_str))
    values = np.arange(offset, offset + n, dtype=np.float64)
    pairs = zip(flat_cuts[0::2], flat_cuts[1::2])
    table = np.stack([_stretch_values(values, lo, hi, reserve_zero) for lo, hi in pairs])
    table.flags.writeable = False
    return table, offset


def _stretch_values(values, lo, hi, reserve_zero):
    base = 1.0 if reserve_zero else 0.0
    span = hi - lo
    if span > 0:
        scaled = base + (values - lo) * ((255.0 - base) / span)
    else:  # a constant band: everything at or above the cut is bright, the rest dark
        scaled = np.where(values >= hi, 255.0, base)
    return np.clip(np.rint(scaled), base, 255.0).astype(np.uint8)


def apply_cuts(array, cuts, valid_mask=None, reserve_zero=None):
    """Linear stretch to uint8 RGB ``(3, h, w)``: ``low`` -> 0 (1), ``high`` -> 255, clipped.

    ``array`` is ``(nbands, h, w)`` with ``nbands == len(cuts)``; a one-band input becomes grey RGB.
    Pixels where ``valid_mask`` (``(h, w)`` or ``(nbands, h, w)``) is False become 0; when a mask
    is given, valid pixels map to 1..255 so that 0 stays free to mean nodata (``reserve_zero``
    overrides this).
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    cuts = np.asarray(cuts, dtype=np.float64).reshape(-1, 2)
    if array.shape[0] != len(cuts):
        raise ValueError(f"{array.shape[0]} bands but {len(cuts)} cut pairs")
    if array.shape[0] not in (1, 3):
        raise ValueError("apply_cuts makes RGB from 1 or 3 bands")
    if reserve_zero is None:
        reserve_zero = valid_mask is not None
    lut = stretch_lut(cuts, array.dtype, reserve_zero)
    out = np.empty((len(cuts),) + array.shape[1:], dtype=np.uint8)
    for i, (lo, hi) in enumerate(cuts):
        if lut is not None:
            table, offset = lut
            if array.dtype == np.uint8:  # bytes.translate: a C lookup loop, ~3x faster than np.take
                band = np.ascontiguousarray(array[i]).tobytes().translate(table[i].tobytes())
                out[i] = np.frombuffer(band, dtype=np.uint8).reshape(array.shape[1:])
            else:
                idx = array[i] if offset == 0 else array[i].astype(np.int32) - offset
                np.take(table[i], idx, out=out[i])
        else:
            a = array[i].astype(np.float32)
            out[i] = _stretch_values(np.nan_to_num(a, nan=lo), lo, hi, reserve_zero)
    if valid_mask is not None:
        invalid = ~np.asarray(valid_mask, dtype=bool)
        if invalid.ndim == 3:
            invalid = invalid.any(axis=0)
        out[:, invalid] = 0
    if array.dtype.kind == "f" and valid_mask is None:
        out[:, np.isnan(array).any(axis=0)] = 0
    if out.shape[0] == 1:
        out = np.repeat(out, 3, axis=0)
    return out
