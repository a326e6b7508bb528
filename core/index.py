"""The similarity index: one folder a person can move, copy or zip as a unit.

Layout of the index folder (any name; ``<name>.teindex`` by convention)::

    meta.json        model, weights hash, preprocessing, dims, CRS, sources, tile size, created
    ids.txt          tile ids, one per line, in embedding row order (fast to open at 1M tiles)
    embeddings.npy   (n, d) float32, L2-normalised rows, opened with np.load(mmap_mode="r")
    tiles.gpkg       layer "tiles": tile_id + attributes + polygon in the index CRS; fid = row + 1
    ivf.faiss        optional: a trained IVF index for large indexes (faiss.write_index, no pickle)
    constant.npy     optional: (n,) bool, the tiles whose valid pixels all hold one value (a fill
                     value, a blank scan): search leaves them out of results unless asked
                     (:mod:`.tile_filter`); an index without it knows of no constant tile
    search_codes.npy optional: (n, r) int8 PCA codes of the embeddings, scanned by the search of
    search_codes.npz large indexes; and their mean, basis, scales and the embeddings' fingerprint.
                     Derived data, built when the index is written above the exact-search
                     threshold, else on first search (:mod:`.search_codes`); rebuilt when missing,
                     damaged or stale
    tiles_grid.npy   optional: (n, 4) float64 row, col, center_x, center_y of every tile, in fid
                     order: the columns the dock's tile lookup needs, read in milliseconds instead
                     of seconds from tiles.gpkg at 1M tiles. Derived data: written with tiles.gpkg,
                     or by the first open of a writable index; a reader checks it against a
                     sample of tiles.gpkg's features and ignores it when stale or damaged

A folder is recognised as an index by these parts (:func:`find_index_folder`), not by its name.
Opening checks every part (present, parseable, sizes agree) and raises an :class:`InputError`
naming the INDEX parameter, so a truncated copy or a half-synced folder is reported as such, not
as a numpy traceback. Indexes are written by :mod:`.embedding` into a sibling ``.partial`` folder
and renamed into place when complete.
"""

import json
import os
import shutil
import threading
import time

import numpy as np

from .errors import InputError

INDEX_SUFFIX = ".teindex"
FORMAT = "tile-embeddings-index"
FORMAT_VERSION = 1
META = "meta.json"
IDS = "ids.txt"
EMBEDDINGS = "embeddings.npy"
TILES = "tiles.gpkg"
TILES_LAYER = "tiles"
IVF = "ivf.faiss"
CONSTANT = "constant.npy"
GRID_COLUMNS = "tiles_grid.npy"


def _bad(path, what):
    return InputError(
        f"{path} is not a usable similarity index: {what}. Rebuild it with 'Embed tiles'.", parameter="INDEX"
    )


#: what every finished index holds: a folder with all of them is an index, whatever its name
PARTS = (META, IDS, EMBEDDINGS, TILES)


def index_folder(path):
    """The index folder for ``path``: the folder itself, or the folder holding a file inside it.

    ``path`` may be a QGIS layer source (``.../tiles.gpkg|layername=tiles``).
    """
    path = os.path.abspath(os.fspath(path).split("|", 1)[0])
    if os.path.isfile(path):
        path = os.path.dirname(path)
    return path


def find_index_folder(path):
    """The similarity index that ``path`` is or lies in, recognised by its contents; else None.

    ``path``: the folder, a file inside it, or a layer source such as
    ``/x/scene/tiles.gpkg|layername=tiles``. The name does not matter: 'Embed tiles' may have
    written it to a temporary folder called ``OUTPUT``. Whether the parts are intact is
    :func:`open_index`'s job, which says what is wrong, so a damaged index is still found here.
    """
    if not path:
        return None
    path = os.fspath(path).split("|", 1)[0]
    if not path or not os.path.exists(path):
        return None
    folder = index_folder(path)
    if all(os.path.isfile(os.path.join(folder, part)) for part in PARTS):
        return folder
    return None


class TileIndex:
    """An opened similarity index. Embeddings stay memory-mapped; searchers are built lazily."""

    def __init__(self, path, meta, ids, embeddings):
        self.path = path
        self.meta = meta
        self.ids = ids
        self.embeddings = embeddings
        self.rows = RowLookup(ids)
        self._constant = False  # not read yet: read on first use, so opening stays fast
        self._searchers = {}  # search.py caches its searchers here, per index object

    @property
    def crs_wkt(self):
        return self.meta.get("crs_wkt", "")

    @property
    def tiles_path(self):
        return os.path.join(self.path, TILES)

    @property
    def ivf_path(self):
        return os.path.join(self.path, IVF)

    @property
    def dims(self):
        return int(self.embeddings.shape[1])

    def __len__(self):
        return len(self.ids)

    @property
    def constant(self):
        """(n,) bool: the constant tiles (:mod:`.tile_filter`), or None when the index does not
        say (built before the flag existed, or a ``constant.npy`` of another row count)."""
        if self._constant is False:
            self._constant = read_constant(self.path, len(self))
        return self._constant

    def __repr__(self):
        return f"TileIndex({self.path!r}, n={len(self)}, dims={self.dims}, model={self.meta.get('model')!r})"

    def positions(self):
        """{tile id: row}, built once and shared (0.6 s at 1M tiles: see :class:`RowLookup`)."""
        return self.rows.mapping()

    def row_of(self, tile_id):
        try:
            return self.rows[str(tile_id).strip()]
        except KeyError:
            example = self.ids[0] if self.ids else ""
            raise InputError(
                f"tile id {tile_id!r} is not in this index (ids look like {example!r}).",
                parameter="QUERY_IDS",
            ) from None

    def rows_of(self, tile_ids, parameter="QUERY_IDS"):
        tile_ids = list(tile_ids)
        if len(tile_ids) > 8:
            self.rows.mapping()  # many ids: hash them all once rather than scan for each
        rows = []
        for t in tile_ids:
            try:
                rows.append(self.row_of(t))
            except InputError as e:
                e.parameter = parameter
                raise
        return np.asarray(rows, dtype=np.int64)


class RowLookup:
    """Tile id -> row of an index, usable as soon as the index is open.

    The full ``{id: row}`` dict takes 0.6 s at 1M tiles (hashing the ids), so it is built once,
    when first needed by a bulk lookup or in the background (:meth:`start`). Until it is ready, a
    single id is found by scanning the ids (at most ~20 ms at 1M tiles) and remembered, and callers
    that already know rows (a click's grid cell, a search's result rows) :meth:`note` them, so a
    click's first search never waits for the dict.
    """

    SEEN_MAX = 100_000

    def __init__(self, ids):
        self.ids = ids
        self._dict = None
        self._seen = {}
        self._lock = threading.Lock()
        self._thread = None

    def start(self):
        """Build the dict in a background thread (idempotent)."""
        with self._lock:
            if self._dict is not None or self._thread is not None:
                return
            self._thread = threading.Thread(target=self.mapping, name="te-row-lookup", daemon=True)
            self._thread.start()

    def ready(self):
        return self._dict is not None

    def mapping(self):
        """The full ``{id: row}`` dict (built here, or waited for when a thread builds it)."""
        d = self._dict
        if d is None:
            thread = self._thread
            if thread is not None and thread is not threading.current_thread() and thread.is_alive():
                thread.join()
                d = self._dict
            if d is None:
                d = dict(zip(self.ids, range(len(self.ids))))
                self._dict = d
                self._seen = {}
        return d

    def note(self, ids, rows):
        """Remember rows known elsewhere (a click's grid cell, a search's result rows)."""
        if self._dict is not None:
            return
        if len(self._seen) > self.SEEN_MAX:
            self._seen = {}
        for t, r in zip(ids, rows):
            self._seen[t] = int(r)

    def get(self, tile_id, default=None):
        d = self._dict
        if d is not None:
            return d.get(tile_id, default)
        row = self._seen.get(tile_id)
        if row is not None and row < len(self.ids) and self.ids[row] == tile_id:
            return row
        try:
            row = self.ids.index(tile_id)
        except ValueError:
            return default
        self.note((tile_id,), (row,))
        return row

    def __getitem__(self, tile_id):
        row = self.get(tile_id)
        if row is None:
            raise KeyError(tile_id)
        return row

    def __contains__(self, tile_id):
        return self.get(tile_id) is not None

    def __len__(self):
        return len(self.ids)

    def __iter__(self):
        return iter(self.ids)


def open_index(path):
    """Open the index folder ``path`` (or the folder of a file inside it), checking every part."""
    if not path:
        raise InputError("no similarity index given.", parameter="INDEX")
    folder = index_folder(path)
    if not os.path.isdir(folder):
        raise InputError(f"similarity index not found: {folder}", parameter="INDEX")
    meta_path = os.path.join(folder, META)
    if not os.path.exists(meta_path):
        if os.path.isdir(folder + ".partial"):
            raise InputError(
                f"{folder} was not finished: run 'Embed tiles' again with the same settings to resume it.",
                parameter="INDEX",
            )
        raise _bad(folder, f"{META} is missing")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(folder, f"{META} is unreadable ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(folder, f"{META} does not describe a Tile Embeddings index")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(
            f"{folder} was written by a newer Tile Embeddings (format {meta.get('format_version')}); "
            "update the plugin.",
            parameter="INDEX",
        )
    n, d = int(meta.get("count", -1)), int(meta.get("dims", -1))

    emb_path = os.path.join(folder, EMBEDDINGS)
    if not os.path.exists(emb_path):
        raise _bad(folder, f"{EMBEDDINGS} is missing")
    try:
        emb = np.load(emb_path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:  # truncated: "mmap length is greater than file size"
        raise _bad(folder, f"{EMBEDDINGS} is truncated or corrupt ({e})") from e
    if emb.ndim != 2 or emb.dtype != np.float32 or emb.shape != (n, d):
        raise _bad(
            folder, f"{EMBEDDINGS} holds {emb.dtype} {emb.shape}, the metadata says float32 ({n}, {d})"
        )
    if meta.get("embeddings_bytes") and os.path.getsize(emb_path) != int(meta["embeddings_bytes"]):
        raise _bad(
            folder, f"{EMBEDDINGS} has {os.path.getsize(emb_path)} bytes, expected {meta['embeddings_bytes']}"
        )

    ids_path = os.path.join(folder, IDS)
    try:
        with open(ids_path, encoding="utf-8") as f:
            ids = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(folder, f"{IDS} is missing or unreadable ({e})") from e
    if ids and ids[-1] == "":
        ids.pop()
    if len(ids) != n:
        raise _bad(folder, f"{IDS} lists {len(ids)} tiles, the embeddings hold {n}")
    tiles = os.path.join(folder, TILES)
    if not os.path.exists(tiles) or os.path.getsize(tiles) == 0:
        raise _bad(folder, f"{TILES} is missing")
    with open(tiles, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise _bad(folder, f"{TILES} is not a GeoPackage")
    return TileIndex(folder, meta, ids, emb)


# -- writing ----------------------------------------------------------------------------------
def write_tiles_gpkg(path, crs_wkt, records, progress=None):
    """Write layer "tiles" (fid = row + 1). ``records``: dicts with tile_id, row, col, path,
    valid_fraction, center_x, center_y, source and ``corners`` (4 (x, y) pairs, ring order)."""
    from osgeo import ogr

    from .tile_index import FIELDS, footprint_polygon, write_features

    grid = GridColumns(records, os.path.dirname(os.path.abspath(path)))  # and tiles_grid.npy
    write_features(path, grid, crs_wkt, ogr.wkbPolygon, lambda r: footprint_polygon(r["corners"]),
                   list(FIELDS) + [("source", ogr.OFTString)], layer_name=TILES_LAYER, parameter="OUTPUT",
                   progress=progress)


class GridColumns:
    """Passes the records through to the writer, streaming their grid columns (32 bytes a tile)
    to ``tiles_grid.npy`` in ``folder`` a block at a time: no per-tile array is held, so the memory
    of writing an index stays flat with its size. An incomplete pass leaves no file; records
    without grid columns leave none either (an older cache would describe another tile layer)."""

    BLOCK = 65_536

    def __init__(self, records, folder):
        self.records = records
        self.folder = folder
        self.written = False

    def __len__(self):
        return len(self.records)

    def _remove(self, path):
        try:
            os.remove(path)
        except OSError:
            pass

    def __iter__(self):
        final = os.path.join(self.folder, GRID_COLUMNS)
        self._remove(final)
        try:
            n = len(self.records)
        except TypeError:
            n = None
        tmp = os.path.join(self.folder, f".{GRID_COLUMNS}.tmp-{os.getpid()}-{threading.get_ident()}.npy")
        f = None
        if n:
            try:
                f = open(tmp, "wb")
                np.lib.format.write_array_header_1_0(
                    f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float64)), "fortran_order": False,
                        "shape": (n, 4)})
            except OSError:
                f = None
        block = np.empty((self.BLOCK, 4))
        count = filled = 0
        try:
            for rec in self.records:
                if f is not None:
                    try:
                        block[filled] = (rec["row"], rec["col"], rec["center_x"], rec["center_y"])
                        filled += 1
                    except (KeyError, TypeError, ValueError):
                        f.close()
                        f = None
                    if f is not None and filled == self.BLOCK:
                        f.write(block.tobytes())
                        filled = 0
                count += 1
                yield rec
            if f is not None and count == n and np.isfinite(block[:filled]).all():
                f.write(block[:filled].tobytes())
                f.close()
                f = None
                os.replace(tmp, final)
                self.written = True
        finally:
            if f is not None:
                f.close()
            if not self.written:
                self._remove(tmp)


def read_grid_columns(folder, n):
    """``tiles_grid.npy`` of the index ``folder`` when it is (n, 4) finite float64, else None
    (missing, damaged, or for another tile count). Whether it matches tiles.gpkg is the reader's
    check (:func:`grid_columns_match`)."""
    try:
        columns = np.load(os.path.join(folder, GRID_COLUMNS), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if columns.dtype != np.float64 or columns.shape != (n, 4) or not np.isfinite(columns).all():
        return None
    return columns


def grid_columns_match(layer, columns, samples=64):
    """Whether the cached ``columns`` hold the row, col, center_x and center_y of ``layer``'s
    features (fid = position + 1) on the first, the last and ``samples`` spread between, and the
    layer has as many features: a cache of another tile layer (an index edited by an older
    version, a copied-over tiles.gpkg) fails it."""
    n = len(columns)
    if n == 0 or layer.GetFeatureCount() != n:
        return False
    for k in sorted({1, n, *np.linspace(1, n, samples).astype(int).tolist()}):
        feature = layer.GetFeature(int(k))
        if feature is None:
            return False
        try:
            got = [float(feature.GetField(f)) for f in ("row", "col", "center_x", "center_y")]
        except (TypeError, ValueError, KeyError):
            return False
        if not np.allclose(got, columns[k - 1], rtol=0, atol=1e-6):
            return False
    return True


def write_grid_columns(folder, columns):
    """``tiles_grid.npy`` (atomically); False when the folder is read-only (the cache is optional)."""
    tmp = os.path.join(folder, f".{GRID_COLUMNS}.tmp-{os.getpid()}-{threading.get_ident()}.npy")
    try:
        np.save(tmp, np.ascontiguousarray(columns, dtype=np.float64), allow_pickle=False)
        os.replace(tmp, os.path.join(folder, GRID_COLUMNS))
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
        return False
    return True


def release_pages(array):
    """Drop the pages of a written, flushed ``np.memmap`` from this process's resident set.

    Rows written through a file mapping stay resident (and counted in RSS) until the mapping goes:
    5 GB for 1M x 1280 embeddings. After ``flush()`` they are in the file (the page cache keeps
    them while memory allows), so ``MADV_DONTNEED`` lets them go; reading them again maps them
    back from the file. No-op where madvise is missing (Windows)."""
    import mmap

    mm = getattr(array, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    try:
        mm.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError):
        return False
    return True


def read_constant(folder, n):
    """``constant.npy`` of the index ``folder`` when it holds ``n`` flags, else None."""
    path = os.path.join(folder, CONSTANT)
    try:
        flags = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return flags.astype(bool, copy=False) if flags.ndim == 1 and flags.shape[0] == n else None


def write_constant(folder, flags):
    """``constant.npy``: one bool a tile, in embedding row order (written atomically)."""
    tmp = os.path.join(folder, f".{CONSTANT}.tmp.npy")
    np.save(tmp, np.asarray(flags, dtype=bool), allow_pickle=False)
    os.replace(tmp, os.path.join(folder, CONSTANT))


def write_meta(folder, meta):
    tmp = os.path.join(folder, META + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, os.path.join(folder, META))


def write_ids(folder, ids, block=65_536):
    """``ids.txt``, one id a line, written a block of ids at a time (atomically): ``ids`` may be
    a lazy sequence of a million ids, never joined into one string or listed whole."""
    tmp = os.path.join(folder, IDS + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            chunk = []
            for t in ids:
                if "\n" in t:
                    raise InputError(f"tile id {t!r} contains a line break", parameter="INPUT")
                chunk.append(t)
                if len(chunk) == block:
                    f.write("\n".join(chunk) + "\n")
                    chunk = []
            if chunk:
                f.write("\n".join(chunk) + "\n")
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, os.path.join(folder, IDS))


def base_meta(**kwargs):
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    meta.update(kwargs)
    return meta


def is_index_folder(path):
    """Whether the folder ``path`` is an index that a new one may replace: it holds every part, or
    its ``meta.json`` names the index format (a damaged index can be rebuilt in place). Any other
    folder, even with a ``meta.json`` of some other tool, is never replaced."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        return False
    if find_index_folder(path) == path:
        return True
    try:
        with open(os.path.join(path, META), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def publish(partial, output):
    """Rename the finished ``partial`` folder to ``output``, replacing an older index atomically.

    Refuses to replace a folder that holds something other than an index (never deletes user data).
    """
    output = os.path.abspath(output)
    old = None
    if os.path.lexists(output):
        if os.path.isdir(output) and not os.listdir(output):
            os.rmdir(output)
        elif is_index_folder(output):
            old = f"{output}.old-{os.getpid()}-{int(time.time() * 1000)}"
            os.rename(output, old)
        else:
            raise InputError(
                f"{output} exists and is not a similarity index: choose another output name.",
                parameter="OUTPUT",
            )
    try:
        os.rename(partial, output)
    except OSError:
        if old is not None:
            os.rename(old, output)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return output


def save_embeddings_npy(path, index_or_embeddings, ids):
    """The seed's numpy export: ``<path>`` (n, d) float32 plus ``<stem>_ids.txt`` (one id a line)."""
    emb = getattr(index_or_embeddings, "embeddings", index_or_embeddings)
    path = os.fspath(path)
    if not path.endswith(".npy"):
        path += ".npy"
    folder = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = path[:-4] + f".tmp-{os.getpid()}.npy"
    np.save(tmp, np.asarray(emb, dtype=np.float32), allow_pickle=False)
    ids_path = path[:-4] + "_ids.txt"
    with open(ids_path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(ids) + "\n")
    os.replace(tmp, path)
    os.replace(ids_path + ".tmp", ids_path)
    return path, ids_path


# -- picking tiles by geometry ------------------------------------------------------------------
def tiles_for_geometries(index, wkt_geometries):
    """Tile ids picked by geometries given in the index CRS (WKT), in first-seen order.

    A point picks the tile(s) containing it; a line or polygon picks the tiles whose centre lies
    inside it, or, when it is smaller than a tile, the tiles it touches.
    """
    from osgeo import ogr

    ogr.UseExceptions()
    ds = ogr.Open(index.tiles_path)
    if ds is None:
        raise _bad(index.path, f"{TILES} cannot be opened")
    layer = ds.GetLayerByName(TILES_LAYER)
    picked, seen = [], set()
    for wkt in wkt_geometries:
        geom = ogr.CreateGeometryFromWkt(wkt)
        if geom is None or geom.IsEmpty():
            continue
        layer.SetSpatialFilter(geom)
        touched, centred = [], []
        dim = geom.GetDimension()
        for feat in layer:
            g = feat.GetGeometryRef()
            if g is None or not g.Intersects(geom):
                continue
            tid = feat.GetField("tile_id")
            touched.append(tid)
            if dim == 2:
                c = ogr.Geometry(ogr.wkbPoint)
                c.AddPoint_2D(feat.GetField("center_x"), feat.GetField("center_y"))
                if geom.Contains(c):
                    centred.append(tid)
        for tid in centred or touched:
            if tid not in seen:
                seen.add(tid)
                picked.append(tid)
        layer.SetSpatialFilter(None)
    return picked
