"""Tiled, parallel Shepherd segmentation of a raster: seamless, memory-bounded.

How tiles stay seamless:

1. One global k-means model (:func:`.segmentation.fit_model`) on a regular-grid sample of the
   whole raster, so every tile labels pixels with the same centres.
2. The raster is cut into *cores* (a partition: each pixel belongs to one core). Each tile
   segments its core plus a halo of ``overlap`` pixels (its *window*). Regions cut by a window
   side are never eliminated (their true size is unknown there), so segments near the core are
   decided with the same neighbours a whole-image run would see, as long as the chain of small
   regions deciding them stays inside the halo (keep ``overlap`` >= ``min_pixels``).
3. Each tile keeps only its core. Along every core edge both tiles saw the pixel pairs across it
   in their windows; a core segment is joined (union-find) with the segment across the edge when
   either tile saw the two pixels in one segment. So a segment crossing an edge is one segment,
   no pixel is left unlabelled, and no straight seam appears.
4. Segments are numbered 1..n in raster scan order of their first pixel, as the non-tiled run.

Memory: each worker holds one window (its pixels and a few int32 arrays per pixel); finished
cores wait on disk (:class:`.seg_io.LabelSpool`); the stitch keeps a table of ~100 bytes per
segment. Peak memory therefore grows with tile size x workers (+ segment count), not with the
raster.
"""

import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from . import seg_kernels as kern
from .errors import InputError
from .progress import ensure
from .segmentation import fit_model, native, segment_window

DEFAULTS = dict(num_clusters=60, min_pixels=100, max_distance=0.0, tile_width=2048, tile_height=2048,
                overlap=100, valid_data_threshold=0.05, sample_size=100_000, workers=0, cleanup=False)


@dataclass
class TileSpec:
    index: int
    x0: int  # core, raster pixels
    y0: int
    w: int
    h: int
    wx0: int = 0  # window = core + halo, clipped to the raster
    wy0: int = 0
    ww: int = 0
    wh: int = 0


@dataclass
class TileResult:
    """One segmented core: labels 1..p (0 = nodata) and per-label statistics (index 0 unused)."""

    spec: TileSpec
    labels: np.ndarray = None  # uint32 (h, w); moved to the spool by the collector
    size: np.ndarray = None  # int64 (p+1,)
    sums: np.ndarray = None  # float64 (p+1, bands)
    sq: np.ndarray = None  # float64 (p+1, bands)
    first: np.ndarray = None  # int64 (p+1,) raster index of each label's first pixel
    edges: dict = field(default_factory=dict)  # side -> (labels along it, joined-across flags)
    seconds: float = 0.0
    worker: str = ""  # host:pid that computed it (diagnostics; Dask)

    @property
    def count(self):
        return len(self.size) - 1


# -- the tile plan -------------------------------------------------------------------------------
def axis_cuts(length, size):
    """Core boundaries along one axis: steps of ``size``; a last piece under a quarter of ``size``
    joins the previous one (no slivers)."""
    size = max(1, int(size))
    cuts = list(range(0, length, size)) + [length]
    if len(cuts) > 2 and (cuts[-1] - cuts[-2]) < size / 4:
        del cuts[-2]
    return cuts


def plan_tiles(width, height, tile_width, tile_height, overlap, valid_fraction=None,
               valid_data_threshold=0.0):
    """Cores and windows. ``valid_fraction(x0, y0, w, h)`` estimates a core's valid share; a core
    with some but less than ``valid_data_threshold`` valid data joins its neighbour in the same
    row (the one with more valid data), up to twice the tile width."""
    xs = axis_cuts(width, tile_width)
    ys = axis_cuts(height, tile_height)
    halo = max(int(overlap), 1)  # at least one pixel: the tiles must see across their edges
    cores = []
    for r in range(len(ys) - 1):
        runs = [[xs[c], xs[c + 1]] for c in range(len(xs) - 1)]
        if valid_fraction is not None and valid_data_threshold > 0 and len(runs) > 1:
            y0, y1 = ys[r], ys[r + 1]
            frac = [valid_fraction(a, y0, b - a, y1 - y0) for a, b in runs]
            i = 0
            while i < len(runs):
                if 0 < frac[i] < valid_data_threshold:
                    best = None
                    for j in (i - 1, i + 1):
                        if 0 <= j < len(runs):
                            merged = max(runs[i][1], runs[j][1]) - min(runs[i][0], runs[j][0])
                            if merged <= 2 * tile_width and (best is None or frac[j] > frac[best]):
                                best = j
                    if best is not None:
                        a, b = min(i, best), max(i, best)
                        wa, wb = runs[a][1] - runs[a][0], runs[b][1] - runs[b][0]
                        runs[a] = [runs[a][0], runs[b][1]]
                        frac[a] = (frac[a] * wa + frac[b] * wb) / (wa + wb)
                        del runs[b], frac[b]
                        i = a
                        continue
                i += 1
        for a, b in runs:
            cores.append((a, ys[r], b - a, ys[r + 1] - ys[r]))
    tiles = []
    for k, (x0, y0, w, h) in enumerate(cores):
        wx0, wy0 = max(0, x0 - halo), max(0, y0 - halo)
        wx1, wy1 = min(width, x0 + w + halo), min(height, y0 + h + halo)
        tiles.append(TileSpec(k, x0, y0, w, h, wx0, wy0, wx1 - wx0, wy1 - wy0))
    return tiles


# -- one tile (runs in a thread or on a Dask worker) --------------------------------------------
def segment_tile(spec, source, model, min_pixels, width, height, cleanup=False):
    """Segment one tile's window and return its core (see :class:`TileResult`)."""
    t0 = time.perf_counter()
    img = native(source.read(spec.wx0, spec.wy0, spec.ww, spec.wh))
    cut = (spec.wy0 > 0, spec.wy0 + spec.wh < height, spec.wx0 > 0, spec.wx0 + spec.ww < width)
    seg, m = segment_window(img, model, min_pixels, cut, cleanup)
    r0, c0, h, w = spec.y0 - spec.wy0, spec.x0 - spec.wx0, spec.h, spec.w
    crop = kern.kernel(kern.crop_core)
    core, size, sums, sq, first = crop(seg, r0, c0, h, w, m, img, width, spec.wy0, spec.wx0)
    edges = {}
    if spec.y0 > 0:
        a, b = seg[r0, c0:c0 + w], seg[r0 - 1, c0:c0 + w]
        edges["top"] = (core[0].copy(), (a == b) & (a > 0))
    if spec.y0 + h < height:
        a, b = seg[r0 + h - 1, c0:c0 + w], seg[r0 + h, c0:c0 + w]
        edges["bottom"] = (core[h - 1].copy(), (a == b) & (a > 0))
    if spec.x0 > 0:
        a, b = seg[r0:r0 + h, c0], seg[r0:r0 + h, c0 - 1]
        edges["left"] = (core[:, 0].copy(), (a == b) & (a > 0))
    if spec.x0 + w < width:
        a, b = seg[r0:r0 + h, c0 + w - 1], seg[r0:r0 + h, c0 + w]
        edges["right"] = (core[:, w - 1].copy(), (a == b) & (a > 0))
    return TileResult(spec, core, size, sums, sq, first, edges, time.perf_counter() - t0,
                      f"{socket.gethostname()}:{os.getpid()}")


# -- stitching -----------------------------------------------------------------------------------
def edge_pairs(results, offsets):
    """Global label pairs to join across core edges (either tile saw them as one segment)."""
    by_top = {}
    by_left = {}
    for res in results:
        by_top.setdefault(res.spec.y0, []).append(res)
        by_left.setdefault(res.spec.x0, []).append(res)
    pa, pb = [], []

    def join(t, u, side_t, side_u, start_t, len_t, start_u, len_u):
        """Pairs along the stretch where t's ``side_t`` edge meets u's ``side_u`` edge."""
        lo, hi = max(start_t, start_u), min(start_t + len_t, start_u + len_u)
        if lo >= hi:
            return
        ids_t, same_t = t.edges[side_t]
        ids_u, same_u = u.edges[side_u]
        st, su = slice(lo - start_t, hi - start_t), slice(lo - start_u, hi - start_u)
        a, b = ids_t[st], ids_u[su]
        keep = (same_t[st] | same_u[su]) & (a > 0) & (b > 0)
        pa.append(a[keep].astype(np.int64) + offsets[t.spec.index])
        pb.append(b[keep].astype(np.int64) + offsets[u.spec.index])

    for t in results:
        s = t.spec
        if "bottom" in t.edges:
            for u in by_top.get(s.y0 + s.h, []):
                join(t, u, "bottom", "top", s.x0, s.w, u.spec.x0, u.spec.w)
        if "right" in t.edges:
            for u in by_left.get(s.x0 + s.w, []):
                join(t, u, "right", "left", s.y0, s.h, u.spec.y0, u.spec.h)
    if not pa:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pa), np.concatenate(pb)


@dataclass
class Stitch:
    """Global piece -> final segment id, and per-segment statistics (index 0 = nodata)."""

    offsets: dict
    lut: np.ndarray  # (pieces+1,) uint32
    count: np.ndarray  # (n+1,) int64
    mean: np.ndarray  # (n+1, bands) float64
    std: np.ndarray  # (n+1, bands) float64
    timings: dict = field(default_factory=dict)  # stage -> seconds

    @property
    def segments(self):
        return len(self.count) - 1


def stitch(results):
    """Join pieces across core edges and number segments in scan order of their first pixel."""
    results = sorted(results, key=lambda r: r.spec.index)
    offsets, total = {}, 0
    for r in results:
        offsets[r.spec.index] = total
        total += r.count
    nb = results[0].sums.shape[1] if results else 1
    size = np.zeros(total + 1, np.int64)
    sums = np.zeros((total + 1, nb))
    sq = np.zeros((total + 1, nb))
    first = np.full(total + 1, np.iinfo(np.int64).max, np.int64)
    for r in results:
        o = offsets[r.spec.index]
        size[o + 1:o + 1 + r.count] = r.size[1:]
        sums[o + 1:o + 1 + r.count] = r.sums[1:]
        sq[o + 1:o + 1 + r.count] = r.sq[1:]
        first[o + 1:o + 1 + r.count] = r.first[1:]
    a, b = edge_pairs(results, offsets)
    parent = np.arange(total + 1, dtype=np.int64)
    kern.kernel(kern.union_pairs)(parent, a, b)
    roots = parent
    seg_first = np.full(total + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(seg_first, roots, first)
    is_root = roots == np.arange(total + 1)
    is_root[0] = False
    root_ids = np.nonzero(is_root)[0]
    order = root_ids[np.argsort(seg_first[root_ids], kind="stable")]
    final_of_root = np.zeros(total + 1, np.int64)
    final_of_root[order] = np.arange(1, len(order) + 1)
    lut = final_of_root[roots].astype(np.uint32)
    lut[0] = 0
    n = len(order)
    count = np.bincount(lut, weights=size, minlength=n + 1).astype(np.int64)
    count[0] = 0
    s1 = np.stack([np.bincount(lut, weights=sums[:, b], minlength=n + 1) for b in range(nb)], 1)
    s2 = np.stack([np.bincount(lut, weights=sq[:, b], minlength=n + 1) for b in range(nb)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / count[:, None]
        std = np.sqrt(np.maximum(s2 / count[:, None] - mean**2, 0.0))
    mean[0] = 0
    std[0] = 0
    return Stitch(offsets, lut, count, mean, std)


# -- running tiles -------------------------------------------------------------------------------
def run_threads(task, specs, workers, on_result, progress):
    """``on_result(task(spec))`` for every spec on ``workers`` threads; at most ``workers + 1``
    tiles in flight (memory), results handed over on the calling thread as they finish."""
    it = iter(specs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seg-tile") as pool:
        pending = set()
        try:
            while True:
                while len(pending) < workers + 1:
                    spec = next(it, None)
                    if spec is None:
                        break
                    progress.check()
                    pending.add(pool.submit(task, spec))
                if not pending:
                    break
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                progress.check()
                for fut in done:
                    on_result(fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


class _Task:
    """A picklable callable (Dask ships it to workers): spec -> TileResult."""

    def __init__(self, source, model, min_pixels, width, height, cleanup=False):
        self.source, self.model, self.min_pixels = source, model, min_pixels
        self.width, self.height, self.cleanup = width, height, cleanup

    def __call__(self, spec):
        return segment_tile(spec, self.source, self.model, self.min_pixels, self.width, self.height,
                            self.cleanup)


def fit_raster_model(source, num_clusters, sample_size, max_distance, progress=None, threads=1,
                     kmeans=None):
    """Sample the whole raster on a regular grid and fit the global model.

    Returns (model, valid-fraction estimator for the tile plan).
    """
    from .segmentation import nodata_vector, valid_pixels

    progress = ensure(progress)
    step = max(1, int(np.sqrt(source.width * source.height / max(int(sample_size), 1))))
    samples, rows, cols = source.sample(step, progress.sub(0.0, 0.3), threads)
    nd, has = nodata_vector(source.nodata, len(source.bands))
    valid = valid_pixels(samples, nd, has).reshape(len(rows), len(cols))
    model = fit_model(samples, num_clusters, source.nodata, max_distance, kmeans, progress.sub(0.3, 1.0),
                      threads)

    def valid_fraction(x0, y0, w, h):
        r = (rows >= y0) & (rows < y0 + h)
        c = (cols >= x0) & (cols < x0 + w)
        if not r.any() or not c.any():
            return 1.0  # too small to have been sampled: assume valid
        return float(valid[np.ix_(r, c)].mean())

    return model, valid_fraction


def segment(source, num_clusters=60, min_pixels=100, max_distance=0.0, tile_width=2048, tile_height=2048,
            overlap=100, valid_data_threshold=0.05, sample_size=100_000, workers=0, scheduler=None,
            spool_path=None, on_tile=None, progress=None, model=None, kmeans=None, cleanup=False):
    """Segment a source (:class:`.seg_io.GdalSource` / :class:`.seg_io.ArraySource`).

    ``kmeans``: :class:`.seg_kmeans.KMeansOptions` (seed, iterations, restarts, standardisation);
    ``cleanup``: merge every segment still under ``min_pixels`` into its nearest neighbour.
    Returns (stitch, tiles, model, read_labels) where ``read_labels(spec)`` gives a tile core's
    final segment ids; the caller writes them out. ``spool_path`` (a file) keeps finished cores
    on disk; without it they stay in memory (small rasters, tests).
    """
    from .seg_io import LabelSpool

    progress = ensure(progress)
    if num_clusters < 1:
        raise InputError("give at least 1 cluster", parameter="NUM_CLUSTERS")
    if kmeans is not None and kmeans.iterations < 1:
        raise InputError("k-means needs at least 1 iteration", parameter="KMEANS_ITERATIONS")
    if kmeans is not None and kmeans.restarts < 1:
        raise InputError("k-means needs at least 1 run", parameter="KMEANS_RESTARTS")
    if min_pixels < 1:
        raise InputError("the minimum segment size must be at least 1 pixel", parameter="MIN_PIXELS")
    if tile_width < 16 or tile_height < 16:
        raise InputError("tiles must be at least 16 x 16 pixels", parameter="TILE_WIDTH")
    if overlap < 0:
        raise InputError("the overlap cannot be negative", parameter="OVERLAP")
    threads = int(workers) if workers and workers > 0 else (os.cpu_count() or 1)
    clock = [time.perf_counter()]
    timings = {}

    def lap(stage):
        now = time.perf_counter()
        timings[stage] = now - clock[0]
        clock[0] = now

    progress.text("Sampling the raster and fitting k-means")
    fit_progress = progress.sub(0.0, 0.08)
    if model is None:
        model, valid_fraction = fit_raster_model(source, num_clusters, sample_size, max_distance,
                                                 fit_progress, threads, kmeans)
    else:
        valid_fraction = None
    lap("kmeans")
    if not scheduler:  # fewer tiles than threads: split them so that every thread has work
        def count(tw, th):
            return (len(axis_cuts(source.width, tw)) - 1) * (len(axis_cuts(source.height, th)) - 1)

        smallest = 4 * max(overlap, 64)
        while count(tile_width, tile_height) < threads and max(tile_width, tile_height) >= smallest:
            if tile_width >= tile_height:
                tile_width = (tile_width + 1) // 2
            else:
                tile_height = (tile_height + 1) // 2
    tiles = plan_tiles(source.width, source.height, tile_width, tile_height, overlap, valid_fraction,
                       valid_data_threshold)
    if len(tiles) > 1 and overlap < min_pixels:
        progress.text(f"Warning: overlap {overlap} < minimum segment size {min_pixels}: segments near "
                      "tile edges may differ slightly from a whole-image run")
    if model.requested_clusters > len(model.centres):
        progress.text(f"Warning: {model.requested_clusters} clusters asked for, but the k-means sample "
                      f"has only {len(model.centres)} distinct pixel values: using {len(model.centres)} "
                      "clusters")
    unit = "sd" if model.standardised else "raw units"
    progress.text(f"{len(tiles)} tile(s), {len(model.centres)} clusters (k-means: mean squared distance "
                  f"{model.inertia:.4g}, {model.iterations} iterations), max spectral distance "
                  f"{model.max_distance:.4g} {unit}")
    task = _Task(source, model, int(min_pixels), source.width, source.height, bool(cleanup))
    tile_progress = progress.sub(0.08, 0.85)
    tile_progress.start(len(tiles))
    spool = LabelSpool(spool_path) if spool_path else None
    memory = {}
    results = []

    def collect(res):
        if spool is not None:
            spool.put(res.spec.index, res.labels)
        else:
            memory[res.spec.index] = res.labels
        res.labels = None
        results.append(res)
        if on_tile is not None:
            on_tile(res)
        tile_progress.text(f"tile {len(results)}/{len(tiles)} done ({res.count} segments in its core, "
                           f"{res.seconds:.1f} s)")
        tile_progress.step()

    try:
        if scheduler:
            from .seg_dask import run_dask

            run_dask(scheduler, task, tiles, collect, tile_progress)
        else:
            run_threads(task, tiles, max(1, min(threads, len(tiles))), collect, tile_progress)
        lap("tiles")
        progress.text("Stitching tiles")
        st = stitch(results)
        lap("stitch")
        st.timings = timings
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    progress.set(0.87)

    counts = {r.spec.index: r.count for r in results}

    def read_labels(spec):
        """Final segment ids (uint32) of one tile core."""
        raw = spool.get(spec.index) if spool is not None else memory[spec.index]
        off = st.offsets[spec.index]
        local = st.lut[off:off + counts[spec.index] + 1].copy()
        local[0] = 0
        out = np.empty(raw.shape, np.uint32)
        kern.kernel(kern.apply_lut)(raw, local, out)
        return out

    read_labels.close = spool.close if spool is not None else (lambda: None)
    return st, tiles, model, read_labels
