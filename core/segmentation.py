"""Shepherd segmentation (Shepherd, Bunting & Dymond 2019) of one in-memory window.

The steps, each a small function so tests can check them alone:

1. :func:`fit_model` - k-means (:mod:`.seg_kmeans`: k-means++, run to convergence, best of a few
   restarts) on a sample of valid pixels, bands standardised to zero mean and unit variance on
   that sample (so no band dominates by its range; optional);
2. :func:`assign_clusters` - every pixel labelled by its nearest centre, 0 where nodata;
3. :func:`clump` - 4-connected clumps of equal labels;
4. :func:`eliminate_small` - regions smaller than ``min_pixels`` merged, smallest first, into the
   spectrally nearest larger neighbour, unless that neighbour is farther than the maximum
   spectral distance (in standard deviations; default: the median distance between k-means
   centres, as pyshepseg does); optionally a clean-up pass then merges every region still
   below ``min_pixels`` into its nearest neighbour whatever the distance;
5. dense relabelling 1..n in raster scan order (0 = nodata).

:func:`segment_window` runs 2-5 on a tile window with a halo; :mod:`.seg_tiling` runs it over a
raster. :func:`segment_array` is the non-tiled reference on a whole array.
"""

from dataclasses import dataclass

import numpy as np

from . import seg_kernels as kern
from .errors import InputError

NATIVE_DTYPES = (np.uint8, np.uint16, np.int16, np.uint32, np.int32, np.float32, np.float64)


@dataclass
class SpectralModel:
    """The global k-means model every tile shares (small, picklable for Dask)."""

    centres: np.ndarray  # (k, bands) float32, in units of (value - mean) * inv_std
    mean: np.ndarray  # (bands,) float32
    inv_std: np.ndarray  # (bands,) float32 (1 when bands are not standardised)
    nodata: np.ndarray  # (bands,) float64
    has_nodata: np.ndarray  # (bands,) bool
    max_distance: float  # standard deviations (standardised), else raw band units
    standardised: bool = True
    inertia: float = float("nan")  # k-means: mean squared distance to the nearest centre
    iterations: int = 0  # k-means iterations of the kept restart
    converged: bool = True
    requested_clusters: int = 0  # clusters asked for (more than fitted when values ran out)

    @property
    def weight(self):
        """Per-band weights turning raw-value differences into standardised squared distance."""
        return (self.inv_std.astype(np.float64)) ** 2

    @property
    def bands(self):
        return self.centres.shape[1]


def native(img):
    """``img`` in a dtype the kernels are compiled for (others become float32)."""
    img = np.asarray(img)
    if img.dtype.type not in NATIVE_DTYPES:
        img = img.astype(np.float32)
    return np.ascontiguousarray(img)


def nodata_vector(nodata, bands):
    """Per-band nodata values and flags from None, a scalar, or a per-band sequence."""
    if nodata is None:
        return np.zeros(bands), np.zeros(bands, dtype=bool)
    values = np.broadcast_to(np.asarray(nodata, dtype=object), (bands,))
    has = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in values])
    vals = np.array([float(v) if h else 0.0 for v, h in zip(values, has)], dtype=np.float64)
    return vals, has


def valid_pixels(samples, nodata, has_nodata):
    """Rows of a (n, bands) sample that have no nodata and no NaN in any band."""
    ok = np.all(np.isfinite(samples), axis=1) if samples.dtype.kind == "f" else np.ones(len(samples), bool)
    for b in range(samples.shape[1]):
        if has_nodata[b]:
            ok &= samples[:, b] != nodata[b]
    return ok


def auto_max_distance(centres):
    """Median distance between pairs of k-means centres (pyshepseg's 'auto')."""
    k = len(centres)
    if k < 2:
        return float("inf")
    d = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    return float(np.median(d[np.triu_indices(k, 1)]))


def fit_model(samples, num_clusters=60, nodata=None, max_distance=None, kmeans=None, progress=None,
              threads=1):
    """Fit the global k-means on a (n, bands) sample of pixel values.

    ``kmeans``: a :class:`.seg_kmeans.KMeansOptions` (seed, iterations, restarts, band
    standardisation). ``max_distance`` is in standard deviations when bands are standardised, in
    raw band units otherwise; None or <= 0 means auto (median distance between centres).
    Fewer clusters than asked are fitted when the sample has fewer distinct values
    (``model.requested_clusters`` keeps the number asked for).
    """
    from .seg_kmeans import KMeansOptions, native_threads
    from .seg_kmeans import kmeans as run_kmeans

    options = kmeans or KMeansOptions()
    samples = np.asarray(samples)
    bands = samples.shape[1]
    nd, has = nodata_vector(nodata, bands)
    x = samples[valid_pixels(samples, nd, has)].astype(np.float64)
    if len(x) == 0:
        raise InputError("the raster has no valid pixels (every pixel is nodata)", parameter="INPUT")
    k = int(num_clusters)
    if k < 1:
        raise InputError("the number of clusters must be at least 1", parameter="NUM_CLUSTERS")
    mean = x.mean(axis=0)
    if options.standardise:
        std = x.std(axis=0)
        std[~(std > 1e-12)] = 1.0  # a constant band carries no information; keep it harmless
    else:  # raw units (as pyshepseg and RSGISLib); centred only, for float32 precision
        std = np.ones(bands)
    z = (x - mean) / std
    with native_threads(1):  # no BLAS/OpenMP pool spinning on busy cores around the fit
        fit = run_kmeans(z, k, options, progress, threads)
    centres = fit.centres
    # a canonical order (by first coordinate) so labels do not depend on the restart's order
    centres = np.ascontiguousarray(centres[np.lexsort(centres.T[::-1])], dtype=np.float32)
    if max_distance is None or max_distance <= 0:
        max_distance = auto_max_distance(centres)
    return SpectralModel(centres=centres, mean=mean.astype(np.float32),
                         inv_std=(1.0 / std).astype(np.float32), nodata=nd, has_nodata=has,
                         max_distance=float(max_distance), standardised=bool(options.standardise),
                         inertia=fit.inertia, iterations=fit.iterations, converged=fit.converged,
                         requested_clusters=k)


# -- the per-window stages --------------------------------------------------------------------
def assign_clusters(img, model):
    """(rows, cols) int32: 1 + nearest centre, 0 where any band is nodata or NaN."""
    img = native(img)
    return kern.kernel(kern.assign_clusters)(img, model.nodata, model.has_nodata, model.mean,
                                       model.inv_std, model.centres)


def clump(labels):
    """4-connected clumps of equal non-zero labels: (int32 ids 1..n in scan order, n)."""
    labels = np.ascontiguousarray(labels)
    scratch = np.empty(labels.size, dtype=np.int32 if labels.size < 2**31 - 1 else np.int64)
    return kern.kernel(kern.clump4)(labels, scratch)


def region_stats(ids, n, img):
    return kern.kernel(kern.region_stats)(ids, n, native(img))


def eliminate_small(ids, n, img, min_pixels, max_distance, weight, anchor=None, cleanup=False):
    """Run the iterative elimination on clump ids; returns (segment ids int32 1..m, m).

    ``weight`` is per-band 1/variance (distances in standard deviations); ``anchor`` flags
    regions that must never be eliminated (cut by a window edge). ``cleanup``: afterwards merge
    every region still under ``min_pixels`` into its nearest neighbour, whatever the distance.
    """
    img = native(img)
    size, sums = kern.kernel(kern.region_stats)(ids, n, img)
    if anchor is None:
        anchor = np.zeros(n + 1, dtype=bool)
    if min_pixels > 1 and n > 0:
        indptr, indices = kern.kernel(kern.adjacency)(ids, n)
        max_d2 = float(max_distance) ** 2 if np.isfinite(max_distance) else np.inf
        root = kern.kernel(kern.eliminate)(size, sums, np.asarray(weight, dtype=np.float64), indptr, indices,
                                           anchor, int(min_pixels), max_d2, bool(cleanup))
        del indptr, indices
    else:
        root = np.arange(n + 1)
    lut, m = kern.kernel(kern.dense_lut)(root)
    out = np.empty(ids.shape, dtype=np.int32)
    kern.kernel(kern.apply_lut)(ids, lut.astype(np.int32), out)
    return out, m


def segment_window(img, model, min_pixels, cut=(False, False, False, False), cleanup=False):
    """Segment one window (bands, rows, cols). ``cut`` = (top, bottom, left, right): which sides
    run through the raster (regions touching them are anchors: their true size is unknown).

    Returns (segment ids int32 1..m in scan order, m).
    """
    img = native(img)
    labels = assign_clusters(img, model)
    ids, n = clump(labels)
    del labels
    anchor = kern.kernel(kern.mark_edge_anchors)(ids, n, *[bool(c) for c in cut])
    return eliminate_small(ids, n, img, min_pixels, model.max_distance, model.weight, anchor, cleanup)


def sample_array(img, sample_size):
    """A regular-grid sample (n, bands) of an in-memory (bands, rows, cols) array."""
    nb, nr, nc = img.shape
    step = max(1, int(np.sqrt(nr * nc / max(int(sample_size), 1))))
    return img[:, ::step, ::step].reshape(nb, -1).T


def segment_array(img, num_clusters=60, min_pixels=100, max_distance=None, nodata=None,
                  sample_size=100_000, model=None, kmeans=None, cleanup=False):
    """Non-tiled Shepherd segmentation of a whole (bands, rows, cols) array (or (rows, cols)).

    Returns (segment ids uint32, 0 = nodata, 1..n in scan order; n; the fitted model).
    """
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[None]
    if model is None:
        model = fit_model(sample_array(img, sample_size), num_clusters, nodata, max_distance, kmeans)
    seg, n = segment_window(img, model, min_pixels, cleanup=cleanup)
    return seg.astype(np.uint32), n, model
