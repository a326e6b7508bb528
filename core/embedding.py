"""Tiles -> CNN embeddings -> a similarity index, in batches that survive interruption.

The fast path tiles a raster on the fly (no tile files): reader threads read each batch's windows
with GDAL, stretch them to 8-bit RGB, resize and normalise them (GDAL, numpy and Pillow release the
GIL) while the main thread runs only the model, on onnxruntime or torch, on the previous batch. The
model gets the cores the readers leave (:func:`.models.model_threads`), so it never waits for
tiles. Preprocessing is the same for every tile and both runtimes (:mod:`.model_input`), and is
recorded in the index metadata with the runtime, so a query image can be embedded the same way
later, on either runtime (:func:`embed_image`).

Resume: rows are written into ``<output>.partial/embeddings.npy`` (a memory map) and the number
of finished rows into ``state.json`` after each batch; a re-run with the same inputs and settings
continues from there. The finished folder is renamed to ``<output>`` at the end.
"""

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import index as tindex
from .errors import Canceled, InputError
from .model_input import canonical_rotation, dihedral_views, model_input, rotation_views
from .progress import ensure

STRETCHES = ("global", "per_tile", "none")
STATE = "state.json"
VALID = "valid.npy"
PARTIAL_SUFFIX = ".partial"


# -- preprocessing ------------------------------------------------------------------------------
def parse_bands(bands):
    """``"3,2,1"`` / ``[3, 2, 1]`` -> ``(3, 2, 1)``: one band (grey) or three (RGB), 1-based.

    The same rules as 'Stretch to 8-bit RGB' (:func:`.rgb_export.parse_bands`); empty means 1,2,3.
    """
    from .rgb_export import parse_bands as parse

    return tuple(parse(bands if bands not in (None, "", ()) else (1, 2, 3)))


class Preprocessing:
    """Band order, stretch and model input size: everything between raw pixels and the model."""

    def __init__(
        self,
        bands=(1, 2, 3),
        stretch="global",
        lower=0.5,
        upper=99.5,
        cuts=None,
        input_size=224,
        rotation_invariant=False,
        mean=None,
        std=None,
    ):
        from .models import IMAGENET_MEAN, IMAGENET_STD

        if stretch not in STRETCHES:
            raise InputError(
                f"stretch must be one of {', '.join(STRETCHES)}, not {stretch!r}", parameter="STRETCH"
            )
        if not 0.0 <= float(lower) < float(upper) <= 100.0:
            raise InputError("percentiles must satisfy 0 <= lower < upper <= 100", parameter="LOWER")
        if int(input_size) < 16:
            raise InputError("input size must be at least 16 pixels", parameter="INPUT_SIZE")
        self.bands = parse_bands(bands)
        self.stretch = stretch
        self.lower, self.upper = float(lower), float(upper)
        self.cuts = None if cuts is None else np.asarray(cuts, dtype=np.float64).reshape(-1, 2)
        self.input_size = int(input_size)
        # False, True (the 8 rotations and flips) or "rot2" (:data:`.model_input.ROTATIONS`)
        try:
            self.rotation_invariant = canonical_rotation(rotation_invariant)
        except ValueError as e:
            raise InputError(str(e), parameter="ROTATION") from None
        self.mean = tuple(mean or IMAGENET_MEAN)
        self.std = tuple(std or IMAGENET_STD)

    def to_meta(self):
        return {
            "bands": list(self.bands),
            "stretch": self.stretch,
            "lower": self.lower,
            "upper": self.upper,
            "cuts": None if self.cuts is None else self.cuts.tolist(),
            "input_size": self.input_size,
            "rotation_invariant": self.rotation_invariant,
            "resize": "bilinear-antialias",
            "mean": list(self.mean),
            "std": list(self.std),
            "l2_normalised": True,
        }

    @classmethod
    def from_meta(cls, m):
        return cls(
            m["bands"],
            m["stretch"],
            m.get("lower", 0.5),
            m.get("upper", 99.5),
            m.get("cuts"),
            m["input_size"],
            m.get("rotation_invariant", False),
            m.get("mean"),
            m.get("std"),
        )

    def to_rgb8(self, array, valid=None):
        """Raw ``(nbands, h, w)`` -> uint8 ``(3, h, w)`` with this stretch."""
        from .stretch import apply_cuts, percentile_cuts_array

        mask = None if valid is None or valid.all() else valid
        if self.stretch == "none":
            out = np.clip(array, 0, 255).astype(np.uint8, copy=False)
            if mask is not None:
                out = out.copy()
                out[:, ~(mask.all(axis=0) if mask.ndim == 3 else mask)] = 0
            return np.repeat(out, 3, axis=0) if out.shape[0] == 1 else out
        cuts = (
            self.cuts
            if self.stretch == "global"
            else percentile_cuts_array(array, self.lower, self.upper, mask)
        )
        return apply_cuts(array, cuts, mask, reserve_zero=False)

    def model_input(self, batch_u8):
        """uint8 RGB tiles (an array ``(b, 3, h, w)`` or a list) -> the model's float32 input."""
        return model_input(batch_u8, self.input_size, self.mean, self.std)


# -- the model side -----------------------------------------------------------------------------
def embed_inputs(extractor, x, rotation_invariant=False, normalize=True):
    """Embeddings ``(b, d)`` float32 of model inputs ``x`` (:meth:`Preprocessing.model_input`);
    ``rotation_invariant`` (False, True or "rot2": :func:`.model_input.rotation_views`) averages
    the vectors of several views, the whole (e.g. mid+final) vector of each."""
    views = rotation_views(x, rotation_invariant)
    if len(views) > 1:
        feats = None
        for v in views:
            f = extractor(v)
            feats = f if feats is None else feats + f
        feats = feats / np.float32(len(views))
    else:
        feats = extractor(x)
    out = np.asarray(feats, dtype=np.float32)
    if normalize:
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def embed_arrays(extractor, batch_u8, prep, normalize=True):
    """Embeddings ``(b, d)`` float32 of uint8 RGB tiles (array ``(b, 3, h, w)`` or list of them)."""
    return embed_inputs(extractor, prep.model_input(batch_u8), prep.rotation_invariant, normalize)


def read_chunk(source, prep, start, end):
    """Tiles ``start..end-1`` of ``source`` read, stretched, resized and normalised into the model's
    input, with the share of valid pixels of each: the step a local run's reader threads and a Dask
    worker (:mod:`.embed_dask`) both take, so both give the same numbers."""
    tiles, fractions = [], np.empty(end - start, dtype=np.float32)
    for j, i in enumerate(range(start, end)):
        rgb, fractions[j] = source.read_rgb8(i, prep)
        tiles.append(rgb)
    shapes = {t.shape for t in tiles}
    return prep.model_input(np.stack(tiles) if len(shapes) == 1 else tiles), fractions


def embed_chunk(extractor, source, prep, start, end):
    """Unit embeddings ``(end - start, d)`` and valid fractions of tiles ``start..end-1``."""
    batch, fractions = read_chunk(source, prep, start, end)
    return embed_inputs(extractor, batch, prep.rotation_invariant), fractions


def sample_tiles(source, bands, count=8):
    """Up to ``count`` tiles spread over ``source``, each stretched on its own: the real imagery an
    ONNX export made during the run is checked on against torch."""
    prep = Preprocessing(bands, "per_tile")
    picks = np.unique(np.linspace(0, len(source) - 1, min(count, len(source))).round().astype(int))
    return [prep.to_rgb8(*source.read(int(i), prep.bands)) for i in picks]


# -- tile sources -------------------------------------------------------------------------------
class _ThreadLocalDatasets:
    """One GDAL dataset handle per (thread, path): GDAL handles are not thread-safe."""

    def __init__(self):
        self._local = threading.local()

    def __reduce__(self):
        # a source travels to Dask workers (:mod:`.embed_dask`) without its open handles
        return (_ThreadLocalDatasets, ())

    def get(self, path, parameter="INPUT"):
        from .raster_io import open_raster

        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        ds = cache.get(path)
        if ds is None:
            if len(cache) > 64:
                cache.clear()
            ds = cache[path] = open_raster(path, parameter=parameter)
        return ds

    def trim(self, path, yoff):
        """Drop this thread's cached GDAL blocks of ``path`` once reading (top to bottom) is two
        block rows below the last drop: GDAL's block cache would otherwise grow with the raster up
        to GDAL_CACHEMAX (5 % of RAM), the largest part of an embedding run's memory at 1M tiles.
        Tiles that straddle a block row read it again at most once per drop."""
        ds = self.get(path)
        marks = getattr(self._local, "marks", None)
        if marks is None:
            marks = self._local.marks = {}
        mark = marks.get(path)
        if mark is None:
            block_h = max(1, ds.GetRasterBand(1).GetBlockSize()[1])
            mark = marks[path] = [yoff // block_h, block_h]
        block_row = yoff // mark[1]
        if block_row >= mark[0] + 2 or block_row < mark[0]:
            ds.FlushCache()
            mark[0] = block_row


class _TileSource:
    """What every tile source offers the embedding loop (local or on Dask workers): tile ``i``
    read and stretched, and the stretch's cut values."""

    def read_rgb8(self, i, prep):
        """Tile ``i`` as uint8 RGB ``(3, h, w)`` with ``prep``'s stretch, and its valid fraction,
        negated when the tile is constant (:func:`.tile_filter.status`)."""
        from .tile_filter import status, tile_flags

        arr, ok = self.read(i, prep.bands)
        return prep.to_rgb8(arr, ok), status(*tile_flags(ok, arr))

    def compute_cuts(self, prep, progress=None):
        """The global stretch's cut values (JSON-ready), one set over all the tiles."""
        from .stretch import compute_cuts

        return compute_cuts(self.cut_sources(), prep.bands, prep.lower, prep.upper, progress=progress).tolist()

    def use_cuts(self, cuts):
        """Take the cut values of :meth:`compute_cuts` (from the resume state); the set for ``prep.cuts``."""
        return np.asarray(cuts, dtype=np.float64)

    def details(self):
        """What meta.json records of each source: path, size and date (its fingerprint), rows."""
        out = []
        for path in self.sources():
            st = os.stat(path)
            out.append({"path": path, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "first_row": 0,
                        "tiles": len(self)})
        return out


class RasterTiles(_TileSource):
    """Tiles of one raster, read straight from it (no tile files)."""

    kind = "raster"

    def __init__(self, path, tile_size=256, overlap=0, edge="drop", prefix=None):
        from .grid import TileIds, TileWindows
        from .raster_io import crs_wkt, open_raster

        self.path = os.path.abspath(os.fspath(path))
        ds = open_raster(self.path, parameter="INPUT")
        self.width, self.height, self.band_count = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
        self.gt = ds.GetGeoTransform()
        self.crs_wkt = crs_wkt(ds)
        ds = None  # closed now: an error below must not keep it alive in a traceback
        self.tile_size, self.overlap, self.edge = int(tile_size), int(overlap), edge
        # computed on demand: a million tiles cost no list of a million windows or ids
        self.tiles = TileWindows(self.width, self.height, self.tile_size, self.overlap, edge)
        self.prefix = prefix or os.path.splitext(os.path.basename(self.path))[0]
        self.ids = TileIds(self.tiles, self.prefix)
        self._ds = _ThreadLocalDatasets()

    def __len__(self):
        return len(self.tiles)

    def cut_sources(self):
        return self.path

    def sources(self):
        return [self.path]

    def details(self):
        (out,) = super().details()
        out.update(prefix=self.prefix, crs_wkt=self.crs_wkt, width=self.width, height=self.height,
                   geotransform=list(self.gt))
        return [out]

    def fingerprint(self):
        st = os.stat(self.path)
        return [
            self.path,
            st.st_size,
            st.st_mtime_ns,
            self.tile_size,
            self.overlap,
            self.edge,
            len(self.tiles),
        ]

    def resolve_bands(self, bands):
        """The bands to read, as 'Stretch to 8-bit RGB' reads them: a one-band raster gives grey."""
        from .rgb_export import bands_for

        return tuple(bands_for(self._ds.get(self.path), bands, self.path))

    def read(self, i, bands):
        from .raster_io import read_window

        t = self.tiles[i]
        self._ds.trim(self.path, t.yoff)  # the GDAL block cache stays a few block rows high
        return read_window(self._ds.get(self.path), t.xoff, t.yoff, t.xsize, t.ysize, bands)

    def record(self, i):
        from .grid import window_center, window_corners

        t = self.tiles[i]
        cx, cy = window_center(self.gt, t.xoff, t.yoff, t.xsize, t.ysize)
        return {
            "tile_id": self.ids[i],
            "row": t.row,
            "col": t.col,
            "path": "",
            "center_x": cx,
            "center_y": cy,
            "corners": window_corners(self.gt, t.xoff, t.yoff, t.xsize, t.ysize),
            "source": self.path,
        }


class TileFiles(_TileSource):
    """Tiles listed in a tile-index GeoPackage (from splitraster): one raster file per tile."""

    kind = "tile_index"

    def __init__(self, gpkg):
        from .grid import window_center, window_corners
        from .raster_io import crs_wkt, open_raster
        from .tile_index import read_tile_index

        source = os.fspath(gpkg)  # may carry "|layername=..." (a QGIS layer source)
        self.path = os.path.abspath(source.split("|", 1)[0])
        layer = source.split("|layername=", 1)[1].split("|", 1)[0] if "|layername=" in source else None
        recs = read_tile_index(self.path, layer_name=layer, parameter="TILE_INDEX")
        if not recs:
            raise InputError(f"the tile index {self.path} lists no tiles", parameter="TILE_INDEX")
        base = os.path.dirname(self.path)
        self.records, self.files, self.ids = [], [], []
        wkts, self.band_counts = set(), []
        self.tile_size = 0
        for r in recs:
            f = r.get("path") or ""
            if f and not os.path.isabs(f):
                f = os.path.join(base, f)
            if not f or not os.path.exists(f):
                raise InputError(f"tile {r.get('tile_id')}: file {f!r} not found", parameter="TILE_INDEX")
            ds = open_raster(f, parameter="TILE_INDEX")
            gt = ds.GetGeoTransform()
            w, h = ds.RasterXSize, ds.RasterYSize
            self.tile_size = max(self.tile_size, w, h)
            wkts.add(crs_wkt(ds))
            self.band_counts.append(ds.RasterCount)
            ds = None
            cx, cy = window_center(gt, 0, 0, w, h)
            self.records.append(
                {
                    "tile_id": str(r["tile_id"]),
                    "row": r.get("row"),
                    "col": r.get("col"),
                    "path": f,
                    "valid_fraction": r.get("valid_fraction"),
                    "center_x": cx,
                    "center_y": cy,
                    "corners": window_corners(gt, 0, 0, w, h),
                    "source": f,
                }
            )
            self.files.append(f)
            self.ids.append(str(r["tile_id"]))
        if len(wkts) > 1:
            raise InputError(
                "the tiles are in different CRSs; split each raster into its own index",
                parameter="TILE_INDEX",
            )
        if len(set(self.ids)) != len(self.ids):
            raise InputError("the tile index has duplicate tile ids", parameter="TILE_INDEX")
        self.crs_wkt = wkts.pop()
        self.band_count = min(self.band_counts)
        self._ds = _ThreadLocalDatasets()

    def __len__(self):
        return len(self.files)

    def cut_sources(self):
        return self.files

    def sources(self):
        return [self.path]

    def fingerprint(self):
        st = os.stat(self.path)
        return [self.path, st.st_size, st.st_mtime_ns, len(self.files)]

    def resolve_bands(self, bands):
        """As for a raster, judged on the tile with the fewest bands (one band: grey everywhere)."""
        from .rgb_export import bands_for

        fewest = self.files[self.band_counts.index(self.band_count)]
        return tuple(bands_for(self._ds.get(fewest, parameter="TILE_INDEX"), bands, fewest))

    def read(self, i, bands):
        from .raster_io import read_window

        ds = self._ds.get(self.files[i], parameter="TILE_INDEX")
        return read_window(ds, 0, 0, ds.RasterXSize, ds.RasterYSize, bands)

    def record(self, i):
        return self.records[i]


def open_source(raster=None, tile_size=256, tile_index=None, overlap=0, edge="drop", index_crs=None):
    """The tiles to embed. ``raster``: one path, or a list of them (each tiled on the fly; their
    footprints go to ``index_crs``, default the first raster's: see :mod:`.tile_sources`)."""
    if tile_index:
        return TileFiles(tile_index)
    if isinstance(raster, (list, tuple)) and len(raster) == 1 and not index_crs:
        raster = raster[0]
    if raster and (index_crs or isinstance(raster, (list, tuple))):
        from .tile_sources import MultiRasterTiles

        return MultiRasterTiles(raster if isinstance(raster, (list, tuple)) else [raster], tile_size, overlap,
                                edge, index_crs=index_crs)
    if raster:
        return RasterTiles(raster, tile_size, overlap, edge)
    raise InputError(
        "give a raster (tiled on the fly) or a tile-index layer from 'Split raster'.", parameter="INPUT"
    )


# -- the run ------------------------------------------------------------------------------------
def _fingerprint(source, extractor, prep):
    payload = {
        "source": source.fingerprint(),
        "model": extractor.model,
        "weights": extractor.weights_sha256,
        "dims": extractor.dims,
        "features": getattr(extractor, "features", "final"),
        "runtime": extractor.runtime,
        "prep": {k: v for k, v in prep.to_meta().items() if k != "cuts"},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _write_state(folder, state):
    tmp = os.path.join(folder, STATE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, os.path.join(folder, STATE))


def _read_state(folder):
    try:
        with open(os.path.join(folder, STATE), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def partial_folder(output):
    return os.path.abspath(os.fspath(output)).rstrip(os.sep) + PARTIAL_SUFFIX


def check_index_output(output):
    """The absolute index path, once it is sure the run can end there: checked before the model
    loads (which takes seconds), not after the embedding (which takes hours)."""
    output = os.path.abspath(os.fspath(output)).rstrip(os.sep)
    if os.path.exists(output) and not (
        os.path.isdir(output) and (not os.listdir(output) or tindex.is_index_folder(output))
    ):
        raise InputError(
            f"{output} exists and is not a similarity index: choose another output name.", parameter="OUTPUT"
        )
    # the index is built in a sibling folder and renamed into place: the parent must take both
    check_can_create(os.path.dirname(output), "OUTPUT")
    return output


def check_can_create(folder, parameter):
    """Raise unless ``folder`` exists or can be made, and files can be written in it. Nothing is
    left behind: the missing folders are not created here, only the nearest existing one probed."""
    existing = folder
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    fix = "Choose a folder you can write to."
    if not os.path.isdir(existing):
        raise InputError(f"cannot create {folder}: {existing} is a file, not a folder. {fix}", parameter=parameter)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".te-write-test-", dir=existing))
    except OSError as e:
        raise InputError(f"cannot write in {existing} ({e.strerror}). {fix}", parameter=parameter) from e


def embed_tiles(
    output,
    raster=None,
    tile_size=256,
    tile_index=None,
    overlap=0,
    edge="drop",
    model="mobilenet_v2",
    weights=None,
    bands=(1, 2, 3),
    stretch="global",
    lower=0.5,
    upper=99.5,
    input_size=224,
    batch_size=32,
    device="auto",
    rotation_invariant=False,
    resume=True,
    npy_output=None,
    build_ivf=None,
    progress=None,
    runtime="auto",
    threads=None,
    index_crs=None,
    source=None,
    seed=None,
    scheduler=None,
    features=None,
    min_valid_fraction=0.0,
):
    """Embed every tile of ``raster`` (tiled on the fly) or ``tile_index`` into the index ``output``.

    ``features``: what a tile's vector is made of (:data:`.models.FEATURES`; None: ``mid+final``
    for a torchvision backbone, ``final`` for a model file of one's own), recorded in meta.json.
    ``min_valid_fraction``: tiles of ``raster``/``tile_index`` whose share of valid pixels is not
    above it (default 0: tiles with no valid pixel) are left out (:mod:`.tile_filter`); tiles whose
    valid pixels are all equal are flagged constant (``constant.npy``). A ``source`` passed in is
    embedded as it is given.

    Returns the index folder path. ``npy_output`` also writes the seed-style ``.npy`` + id list.
    ``build_ivf`` (default: above the search IVF threshold) stores a trained IVF index too.
    ``runtime``: "auto" (onnxruntime when installed, else torch), "onnxruntime" or "torch" (see
    :func:`.runtimes.choose_runtime`). ``threads``: the cores the run may use (default: every core
    this process may run on); the model gets all but the tile readers' (:func:`.models.model_threads`).
    ``raster`` may be a list of rasters, in any CRSs; ``index_crs`` (WKT, EPSG:xxxx; default the
    first raster's) is the CRS of the footprints. ``source``: an opened tile source instead of
    ``raster``/``tile_index``; ``seed(emb, valid)``: fills the first rows of a fresh run and returns
    the state to start from (:func:`.index_edit.append_to_index` copies an index's rows with it).
    ``scheduler``: a Dask scheduler address (``tcp://host:8786``) to embed the tiles on its workers
    instead of here (:mod:`.embed_dask`); None or "" runs here.
    """
    from .models import reader_threads
    from .runtimes import choose_runtime, load_extractor

    progress = ensure(progress)
    if not output:
        raise InputError("no output index path given", parameter="OUTPUT")
    output = check_index_output(output)
    if npy_output:
        check_can_create(os.path.dirname(os.path.abspath(os.fspath(npy_output))), "NPY_OUTPUT")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise InputError("batch size must be at least 1", parameter="BATCH_SIZE")
    t_start = time.time()
    progress.text("opening tiles")
    from .tile_filter import ValidTiles, skip_invalid_tiles, split_status

    opened = source is None
    if opened:
        source = open_source(raster, tile_size, tile_index, overlap, edge, index_crs)
    prep = Preprocessing(bands, stretch, lower, upper, None, input_size, rotation_invariant)
    prep.bands = source.resolve_bands(prep.bands)
    scheduler = (scheduler or "").strip() or None
    if scheduler:  # first: a wrong address or a worker that cannot run fails in seconds
        from .embed_dask import check_cluster

        check_cluster(scheduler, choose_runtime(runtime, weights, device), source, progress)
    if opened:  # before the model loads: an all-nodata input fails in seconds
        source = skip_invalid_tiles(source, prep.bands, min_valid_fraction, progress.sub(0.0, 0.02))
    n = len(source)
    if n == 0:
        raise InputError("no tiles to embed", parameter="INPUT")
    runtime = choose_runtime(runtime, weights, device)
    progress.text(f"loading model {model} on {runtime}")
    readers = reader_threads(int(threads) if threads and int(threads) > 0 else None)
    extractor = load_extractor(
        model,
        weights,
        device,
        prep.input_size,
        progress.sub(0.0, 0.05),
        runtime,
        max(1, int(threads) - readers) if threads and int(threads) > 0 else None,
        sample_tiles=lambda: sample_tiles(source, prep.bands),
        features=features,
    )
    prep.mean, prep.std = extractor.mean, extractor.std
    d = extractor.dims
    fingerprint = _fingerprint(source, extractor, prep)

    partial = partial_folder(output)
    state = _read_state(partial) if resume and os.path.isdir(partial) else None
    if (
        state is None
        or state.get("fingerprint") != fingerprint
        or state.get("count") != n
        or state.get("dims") != d
    ):
        if os.path.isdir(partial):
            shutil.rmtree(partial)
        os.makedirs(partial)
        state = {"fingerprint": fingerprint, "count": n, "dims": d, "done": 0, "cuts": None}
        emb = np.lib.format.open_memmap(
            os.path.join(partial, tindex.EMBEDDINGS), mode="w+", dtype=np.float32, shape=(n, d)
        )
        valid = np.lib.format.open_memmap(
            os.path.join(partial, VALID), mode="w+", dtype=np.float32, shape=(n,)
        )
        if seed is not None:  # rows that are already embedded (an append): copied, not embedded again
            state.update(seed(emb, valid))
            emb.flush()
            valid.flush()
            _write_state(partial, state)
    else:
        emb = np.load(os.path.join(partial, tindex.EMBEDDINGS), mmap_mode="r+")
        valid = np.load(os.path.join(partial, VALID), mmap_mode="r+")
        progress.text(f"resuming after {state['done']} of {n} tiles")

    # global stretch: one set of cuts for all tiles (kept in the resume state)
    if prep.stretch == "global":
        if state.get("cuts") is None:
            progress.text("computing global percentile cuts")
            state["cuts"] = source.compute_cuts(prep, progress.sub(0.0, 0.05))
            _write_state(partial, state)
        prep.cuts = source.use_cuts(state["cuts"])

    stage = progress.sub(0.05, 0.9)
    done = int(state["done"])
    starts = list(range(done, n, batch_size))
    stage.start(max(1, -(-n // batch_size)))
    if done:
        stage.step(-(-done // batch_size))

    def prepare(start):
        end = min(start + batch_size, n)
        # resized and normalised here, on the reader thread: the model's thread only runs the model
        return (start, end, *read_chunk(source, prep, start, end))

    ends = {}

    def store(start, end, vectors, fractions):
        # emb is this function's, deleted at the end (after the last store): not undefined here
        emb[start:end] = vectors  # noqa: F821
        valid[start:end] = fractions
        emb.flush()  # noqa: F821
        valid.flush()
        tindex.release_pages(emb)  # noqa: F821  (written rows leave RSS: 5 GB at 1M x 1280)
        # chunks finish in any order on a cluster: "done" is the end of the finished prefix
        ends[start] = end
        while state["done"] in ends:
            state["done"] = ends.pop(state["done"])
        _write_state(partial, state)
        stage.step()

    progress.text(
        f"embedding {n - done} tiles with {extractor.model} on {extractor.runtime} ({extractor.device}"
        + (f", {extractor.threads} model threads, {readers} reading)" if extractor.threads else ")")
    )
    timing = {"forward_s": 0.0, "wait_s": 0.0, "loop_s": 0.0, "tiles": n - done}
    t_loop = time.perf_counter()
    if scheduler:
        from .embed_dask import embed_on_cluster

        worker_model = {"model": model, "weights": weights, "device": device, "input_size": prep.input_size}
        timing.update(
            embed_on_cluster(scheduler, source, prep, extractor, worker_model, starts, batch_size, n, store, progress)
        )
    else:
        with ThreadPoolExecutor(max_workers=readers, thread_name_prefix="te-read") as pool:
            ahead = readers + 1  # batches read ahead: every reader busy, one batch ready
            pending = [pool.submit(prepare, s) for s in starts[:ahead]]
            next_i = ahead
            try:
                while pending:
                    t0 = time.perf_counter()
                    start, end, batch, fractions = pending.pop(0).result()
                    timing["wait_s"] += time.perf_counter() - t0
                    if next_i < len(starts):
                        pending.append(pool.submit(prepare, starts[next_i]))
                        next_i += 1
                    progress.check()
                    t0 = time.perf_counter()
                    vectors = embed_inputs(extractor, batch, prep.rotation_invariant)
                    timing["forward_s"] += time.perf_counter() - t0
                    store(start, end, vectors, fractions)
            except BaseException:
                for f in pending:
                    f.cancel()
                raise

    timing["loop_s"] = time.perf_counter() - t_loop

    # finish: attributes, metadata, optional IVF, then rename into place
    progress.text("writing tile layer and metadata")
    from .tile_sources import TileRecords

    # the valid fractions, and the constant tiles' flags that travelled as their sign
    fractions, constant = split_status(valid)
    records = TileRecords(source, fractions)  # made one at a time as they are written: flat memory
    tiles_path = os.path.join(partial, tindex.TILES)
    if os.path.exists(tiles_path):
        os.remove(tiles_path)
    tindex.write_tiles_gpkg(tiles_path, source.crs_wkt, records, progress.sub(0.9, 0.95))
    tindex.write_ids(partial, source.ids)
    del emb
    emb = np.load(os.path.join(partial, tindex.EMBEDDINGS), mmap_mode="r")
    from .search import have_faiss, ivf_threshold, train_ivf

    if build_ivf is None:
        build_ivf = n > ivf_threshold()
    if build_ivf and have_faiss():
        import faiss

        progress.text("training the IVF index")
        faiss.write_index(
            train_ivf(emb, progress=progress.sub(0.95, 0.99)), os.path.join(partial, tindex.IVF)
        )
    else:  # above the exact-search threshold: the search codes, so the index opens ready to search
        from .search_codes import build_for_index

        build_for_index(partial, emb, progress.sub(0.95, 0.99))
    meta = tindex.base_meta(
        count=n,
        dims=d,
        embeddings_bytes=os.path.getsize(os.path.join(partial, tindex.EMBEDDINGS)),
        crs_wkt=source.crs_wkt,
        source_kind=source.kind,
        sources=source.sources(),
        source_details=source.details(),
        tile_size=getattr(source, "tile_size", None),
        overlap=getattr(source, "overlap", 0),
        edge=getattr(source, "edge", None),
        geotransform=list(getattr(source, "gt", []) or []),
        preprocessing=prep.to_meta(),
        device=extractor.device,
        seconds=round(time.time() - t_start, 3),
        timing={k: round(v, 3) for k, v in timing.items()},
        **{k: v for k, v in extractor.describe().items() if k not in ("mean", "std", "dims")},
    )
    if isinstance(source, ValidTiles):
        meta.update(
            min_valid_fraction=source.min_valid_fraction,
            skipped_tiles=source.skipped,
            constant_tiles=int(constant.sum()),
        )
        tindex.write_constant(partial, constant)
    tindex.write_meta(partial, meta)
    for name in (STATE, VALID):
        p = os.path.join(partial, name)
        if os.path.exists(p):
            os.remove(p)
    if npy_output:
        tindex.save_embeddings_npy(npy_output, emb, source.ids)
    del emb
    progress.check()
    out = tindex.publish(partial, output)
    progress.set(1.0)
    return out


# -- one image not in the index -----------------------------------------------------------------
def extractor_for_index(index, device="auto", progress=None, runtime="auto", sample_tiles=None):
    """The index's own model and weights (checked against the recorded hash), on the runtime that
    is here: an index built on torch is queried on onnxruntime and the other way round (both
    record the hash of the same source weights, and give the same numbers)."""
    from .models import is_onnx
    from .runtimes import cached_extractor, choose_runtime

    meta = index.meta
    label, wfile, sha = meta.get("weights", ""), meta.get("weights_file", ""), meta.get("weights_sha256")
    model, kind = meta["model"], meta.get("model_kind")
    features = index_features(meta)
    input_size = int(meta["preprocessing"]["input_size"])
    imagenet = str(label).startswith("torchvision:")
    weights = label if imagenet else wfile  # exactly that checkpoint, or the file of one's own
    present = bool(wfile) and os.path.exists(wfile)
    runtime = choose_runtime(runtime, weights if imagenet or present or is_onnx(wfile) else None, device)
    ext = None
    if runtime == "onnxruntime" and kind != "onnx":
        from .onnx_runtime import export_candidates

        for path, _ in export_candidates(model, weights, sha, meta.get("onnx_file"), features):
            found = cached_extractor(model, path, device, input_size, progress, runtime)
            if found.exported and (not sha or found.weights_sha256 == sha) and found.features == features:
                ext = found
                break
    if ext is None:
        if not imagenet and not present:
            raise InputError(
                f"the index was built with weights {wfile!r} (sha256 {sha}), which are not on this "
                "machine: copy them to that path"
                + ("." if is_onnx(wfile) else ", or their ONNX export into torchvision's cache."),
                parameter="INDEX",
            )
        ext = cached_extractor(
            model, weights, device, input_size, progress, runtime, sample_tiles=sample_tiles, features=features
        )
    if sha and ext.weights_sha256 != sha:
        raise InputError(
            f"the weights found here ({ext.weights_path}, sha256 {ext.weights_sha256[:12]}...) are not "
            f"the ones the index was built with (sha256 {sha[:12]}...).",
            parameter="INDEX",
        )
    if getattr(ext, "features", "final") != features:
        raise InputError(
            f"the model found here ({ext.weights_path}) computes the features {ext.features!r}, the index was "
            f"built with {features!r}: export the model with those features ('Export model to ONNX').",
            parameter="INDEX",
        )
    if ext.dims != index.dims:
        raise InputError(
            f"the model gives {ext.dims} dimensions, the index holds {index.dims}", parameter="INDEX"
        )
    return ext


def index_features(meta):
    """The FEATURES an index was built with: an index without the key predates them: ``final``."""
    return meta.get("features") or "final"


def embed_image(index, path, window=None, bbox=None, device="auto", progress=None, runtime="auto"):
    """Unit embedding of an image file or a raster area, with the index's model and preprocessing.

    ``window``: ``(xoff, yoff, xsize, ysize)`` pixels; ``bbox``: ``(xmin, ymin, xmax, ymax)`` in the
    image's CRS. The area is resized to the model input size like every tile. ``runtime``: any,
    whichever the index was built with (see :func:`extractor_for_index`).
    """
    from .grid import bbox_to_window
    from .raster_io import open_raster, read_window

    progress = ensure(progress)
    prep = Preprocessing.from_meta(index.meta["preprocessing"])
    ds = open_raster(path, parameter="QUERY_IMAGE")
    try:  # the dataset is closed in `finally`: a traceback must not keep it alive
        if max(prep.bands) > ds.RasterCount:
            raise InputError(
                f"the index uses bands {list(prep.bands)} but {path} has {ds.RasterCount} band(s)",
                parameter="QUERY_IMAGE",
            )
        if bbox is not None:
            window = bbox_to_window(ds.GetGeoTransform(), bbox, ds.RasterXSize, ds.RasterYSize)
            if window is None:
                raise InputError("the query extent does not overlap the query image", parameter="QUERY_EXTENT")
        xoff, yoff, xs, ys = window or (0, 0, ds.RasterXSize, ds.RasterYSize)
        arr, ok = read_window(ds, int(xoff), int(yoff), int(xs), int(ys), prep.bands)
    finally:
        ds = None
    progress.check()
    rgb = prep.to_rgb8(arr, ok)[None]
    ext = extractor_for_index(index, device, progress, runtime, sample_tiles=lambda: rgb)
    vec = embed_arrays(ext, rgb, prep)[0]
    progress.set(1.0)
    return vec


__all__ = [
    "Canceled",
    "Preprocessing",
    "dihedral_views",
    "embed_arrays",
    "embed_image",
    "embed_inputs",
    "embed_tiles",
    "open_source",
]
