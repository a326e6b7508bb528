"""Growing and shrinking a similarity index of rasters without embedding its tiles again.

Both edits build the new version beside the old one, in ``<index>.partial`` (as 'Embed tiles'
does), and rename it into place only when it is complete: a failed or canceled edit leaves the index
exactly as it was. An append is an embedding run whose first rows are copied from the index instead
of embedded (:func:`.embedding.embed_tiles` with a ``seed``), so it resumes like any run: a second
append of the same rasters continues after the last finished batch. Derived files (``ivf.faiss``,
``search_codes.*``) are not carried over: the IVF index is trained again when the index had one,
the search codes are built again when the edited index is above the exact-search threshold (and
otherwise not needed); ``tiles_grid.npy`` is written with the new tile layer.

The model, its weights, the preprocessing and the tiling are the index's own (meta.json); a caller
that states settings of its own (``expect``) is refused when one differs, naming that parameter.
"""

import hashlib
import os
import shutil

import numpy as np

from . import index as tindex
from .errors import InputError
from .progress import ensure

#: settings an appended raster must share with the index: parameter name -> how to read it from meta
SETTINGS = {
    "TILE_SIZE": lambda m: m.get("tile_size"),
    "OVERLAP": lambda m: m.get("overlap", 0),
    "EDGE": lambda m: m.get("edge", "drop"),
    "MODEL": lambda m: m.get("model"),
    "WEIGHTS": lambda m: m.get("weights_sha256"),
    "FEATURES": lambda m: m.get("features", "final"),
    "BANDS": lambda m: list(m["preprocessing"]["bands"]),
    "STRETCH": lambda m: m["preprocessing"]["stretch"],
    "LOWER": lambda m: m["preprocessing"].get("lower", 0.5),
    "UPPER": lambda m: m["preprocessing"].get("upper", 99.5),
    "INPUT_SIZE": lambda m: m["preprocessing"]["input_size"],
    "ROTATION_INVARIANT": lambda m: bool(m["preprocessing"].get("rotation_invariant", False)),
}


def source_details(meta):
    """One dict per source of an index (path, prefix, first_row, tiles, crs_wkt, cuts ...); indexes
    written before sources were recorded get theirs from the rest of meta.json."""
    details = meta.get("source_details")
    if details:
        details = [dict(d) for d in details]
        if len(details) == 1 and "cuts" not in details[0] and meta.get("preprocessing", {}).get("cuts"):
            details[0]["cuts"] = meta["preprocessing"]["cuts"]  # one raster: the index's stretch is its own
        return details
    sources = meta.get("sources") or []
    if meta.get("source_kind") != "raster" or len(sources) != 1:
        return [{"path": p} for p in sources]
    path = sources[0]
    return [{"path": path, "prefix": os.path.splitext(os.path.basename(path))[0], "first_row": 0,
             "tiles": int(meta["count"]), "crs_wkt": meta.get("crs_wkt", ""),
             "cuts": meta.get("preprocessing", {}).get("cuts")}]


def _check_editable(index):
    meta = index.meta
    if meta.get("source_kind") not in ("raster", "rasters"):
        raise InputError(
            f"{index.path} was built from a tile index ({meta.get('source_kind')}); only indexes of rasters "
            "tiled on the fly can be grown or shrunk: build a new one with 'Embed tiles'",
            parameter="INDEX",
        )
    return source_details(meta)


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) < 1e-9
        except (TypeError, ValueError):
            return False
    return a == b


def check_settings(meta, expect):
    """Refuse, naming the parameter, when a setting in ``expect`` ({PARAMETER: value}) is not the index's."""
    for name, value in (expect or {}).items():
        if value is None or name not in SETTINGS:
            continue
        have = SETTINGS[name](meta)
        if name == "BANDS":
            from .embedding import parse_bands

            value = list(parse_bands(value))
        if name == "WEIGHTS" and value and os.path.isfile(str(value)):
            value = _sha256(value)
        if not _same(have, value):
            raise InputError(
                f"the index was built with {name} = {have!r}, not {value!r}: rasters added to an index are "
                "embedded with its own settings. Use the index's value, or build a new index with 'Embed tiles'",
                parameter=name,
            )


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _index_weights(meta):
    """The ``weights`` argument that loads the index's own model, checked against its hash."""
    label, wfile, sha = meta.get("weights", ""), meta.get("weights_file", ""), meta.get("weights_sha256")
    if str(label).startswith("torchvision:"):
        return label
    if not wfile or not os.path.exists(wfile):
        raise InputError(
            f"the index was built with weights {wfile!r}, which are not on this machine: copy them to that path",
            parameter="INDEX",
        )
    if sha and _sha256(wfile) != sha:
        raise InputError(
            f"{wfile} is not the file the index was built with (sha256 {sha[:12]}...)", parameter="INDEX"
        )
    return wfile


def _valid_fractions(index):
    """The valid_fraction column of the index's tile layer, in row order."""
    from osgeo import ogr

    ds = ogr.Open(index.tiles_path)
    layer = ds.GetLayerByName(tindex.TILES_LAYER)
    out = np.ones(len(index), dtype=np.float32)
    layer.SetIgnoredFields(["OGR_GEOMETRY"])
    for feature in layer:
        value = feature.GetField("valid_fraction")
        if value is not None:
            out[feature.GetFID() - 1] = value
    return out


def _copy_rows(src, dst, rows=None, progress=None, chunk=65536):
    """``dst[:m] = src[rows]`` (all rows when None), a chunk at a time: flat memory at any size."""
    progress = ensure(progress)
    rows = np.arange(len(src)) if rows is None else np.asarray(rows, dtype=np.int64)
    progress.start(max(1, -(-len(rows) // chunk)))
    for s in range(0, len(rows), chunk):
        progress.check()
        part = rows[s:s + chunk]
        dst[s:s + len(part)] = src[part]
        progress.step()


class IndexRows:
    """The tiles already in an index, as the first part of the source of an append: never read
    (their rows are copied), their records read back from its tile layer, so the rasters they came
    from need not be on this machine any more."""

    kind = "index"

    def __init__(self, index, details):
        meta = index.meta
        self.path, self.ids, self.crs_wkt = index.path, index.ids, index.crs_wkt
        self.tiles_path = index.tiles_path
        self._details = details
        self._fingerprint = [index.path, meta.get("created"), len(index), meta.get("embeddings_bytes")]
        self._cuts = meta["preprocessing"].get("cuts")
        self._ds = None

    def __len__(self):
        return len(self.ids)

    def __getstate__(self):
        return {**self.__dict__, "_ds": None}

    def fingerprint(self):
        return self._fingerprint

    def sources(self):
        return [d["path"] for d in self._details]

    def details(self):
        return [dict(d) for d in self._details]

    def resolve_bands(self, bands):
        return tuple(bands)

    def compute_cuts(self, prep, progress=None):
        return self._cuts

    def use_cuts(self, cuts):
        return None if cuts is None else np.asarray(cuts, dtype=np.float64)

    def read_rgb8(self, i, prep):
        raise RuntimeError("the rows of the index are copied, not read")

    def record(self, i):
        from osgeo import ogr

        if self._ds is None:
            self._ds = ogr.Open(self.tiles_path)
        feature = self._ds.GetLayerByName(tindex.TILES_LAYER).GetFeature(int(i) + 1)
        rec = {k: feature.GetField(k) for k in ("tile_id", "row", "col", "path", "valid_fraction", "center_x",
                                                "center_y", "source")}
        ring = feature.GetGeometryRef().GetGeometryRef(0)
        rec["corners"] = [ring.GetPoint_2D(k) for k in range(4)]
        return rec


class ConcatTiles:
    """Tile sources end to end (the index's rows, then the rasters added), one source to embed."""

    kind = "rasters"

    def __init__(self, parts, crs_wkt):
        from .tile_sources import _ConcatIds

        self.parts, self.crs_wkt = parts, crs_wkt
        self.offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
        last = parts[-1]
        self.tile_size, self.overlap, self.edge = last.tile_size, last.overlap, last.edge
        self.ids = _ConcatIds(self)

    def __len__(self):
        return int(self.offsets[-1])

    def locate(self, i):
        k = int(np.searchsorted(self.offsets, int(i), side="right")) - 1
        return k, int(i) - int(self.offsets[k])

    def fingerprint(self):
        return [p.fingerprint() for p in self.parts]

    def sources(self):
        return [s for p in self.parts for s in p.sources()]

    def details(self):
        out = []
        for k, p in enumerate(self.parts):
            for d in p.details():
                d["first_row"] = int(d.get("first_row", 0)) + int(self.offsets[k])
                out.append(d)
        return out

    def resolve_bands(self, bands):
        for p in self.parts[1:]:
            got = tuple(p.resolve_bands(bands))
            if got != tuple(bands):
                raise InputError(
                    f"the index reads bands {list(bands)}; the rasters added read {list(got)}: add rasters with "
                    "the same bands",
                    parameter="INPUT",
                )
        return tuple(bands)

    def compute_cuts(self, prep, progress=None):
        return [p.compute_cuts(prep, progress) for p in self.parts]

    def use_cuts(self, cuts):
        return [p.use_cuts(c) for p, c in zip(self.parts, cuts)][0]

    def read_rgb8(self, i, prep):
        k, j = self.locate(i)
        return self.parts[k].read_rgb8(j, prep)

    def record(self, i):
        k, j = self.locate(i)
        return self.parts[k].record(j)


def append_to_index(index_path, rasters, expect=None, batch_size=32, device="auto", runtime="auto", threads=None,
                    resume=True, progress=None):
    """Embed ``rasters`` and add their tiles to the index, keeping its rows (not embedded again).

    Returns the index path. ``expect``: settings the caller asks for ({"TILE_SIZE": 256, ...}, see
    :data:`SETTINGS`), refused when they are not the index's. A raster already in the index is
    refused (remove it first to embed it again). The new rasters' tiles with too few valid pixels
    are left out as 'Embed tiles' left out the index's (its ``min_valid_fraction``).
    """
    from .embedding import Preprocessing, embed_tiles
    from .tile_filter import ValidTiles, skip_invalid_tiles, status
    from .tile_sources import MultiRasterTiles, unique_prefixes

    progress = ensure(progress)
    index = tindex.open_index(index_path)
    meta = index.meta
    details = _check_editable(index)
    check_settings(meta, expect)
    rasters = [os.path.abspath(os.fspath(r)) for r in (rasters or [])]
    if not rasters:
        raise InputError("give at least one raster to add", parameter="INPUT")
    have = {d["path"] for d in details}
    for r in rasters:
        if r in have:
            raise InputError(f"{r} is already in the index: remove it first to embed it again", parameter="INPUT")
    if meta.get("tile_size") is None:
        raise InputError(f"{index.path} does not record its tile size", parameter="INDEX")
    prep = Preprocessing.from_meta(meta["preprocessing"])
    threshold = float(meta.get("min_valid_fraction", 0.0))
    new = MultiRasterTiles(rasters, meta["tile_size"], meta.get("overlap", 0), meta.get("edge", "drop"),
                           index_crs=index.crs_wkt or None,
                           prefixes=unique_prefixes(rasters, [d.get("prefix") for d in details if d.get("prefix")]))
    new = skip_invalid_tiles(new, prep.bands, threshold, progress.sub(0.0, 0.02))
    n_old = len(index)
    source = ConcatTiles([IndexRows(index, details), new], index.crs_wkt)
    source = ValidTiles(source, np.arange(len(source)), threshold,
                        int(meta.get("skipped_tiles", 0)) + getattr(new, "skipped", 0))

    def seed(emb, valid):
        progress.text(f"copying the {n_old} tiles already in the index")
        _copy_rows(index.embeddings, emb, progress=progress.sub(0.0, 0.02))
        fractions = _valid_fractions(index)
        constant = tindex.read_constant(index.path, n_old)
        if constant is not None:
            fractions = np.array([status(f, c) for f, c in zip(fractions, constant)], dtype=np.float32)
        valid[:n_old] = fractions
        return {"done": n_old}

    extra = {}
    if meta.get("features") is not None:
        import inspect

        if "features" in inspect.signature(embed_tiles).parameters:
            extra["features"] = meta["features"]
    return embed_tiles(
        index.path,
        model=meta["model"],
        weights=_index_weights(meta),
        bands=list(prep.bands),
        stretch=prep.stretch,
        lower=prep.lower,
        upper=prep.upper,
        input_size=prep.input_size,
        batch_size=batch_size,
        device=device,
        rotation_invariant=prep.rotation_invariant,
        resume=resume,
        build_ivf=True if os.path.exists(index.ivf_path) else None,
        progress=progress,
        runtime=runtime,
        threads=threads,
        source=source,
        seed=seed,
        **extra,
    )


def find_source(details, name, parameter="SOURCE"):
    """The number of the source ``name`` names: its path, file name, stem or id prefix."""
    name = str(name or "").strip()
    if not name:
        raise InputError("name the raster to remove (its path, file name or id prefix)", parameter=parameter)
    hits = [k for k, d in enumerate(details)
            if name in (d["path"], os.path.basename(d["path"]), os.path.splitext(os.path.basename(d["path"]))[0],
                        d.get("prefix"))
            or os.path.abspath(name) == d["path"]]
    if len(hits) > 1:  # a stem shared by several rasters: the prefix tells them apart
        hits = [k for k in hits if details[k].get("prefix") == name] or hits
    if len(hits) != 1:
        listed = ", ".join(d.get("prefix") or d["path"] for d in details)
        raise InputError(
            f"{name!r} {'names several' if hits else 'is not one'} of the index's rasters ({listed}): "
            "give its path or id prefix",
            parameter=parameter,
        )
    return hits[0]


def remove_from_index(index_path, source, progress=None):
    """Remove the tiles of one raster (``source``: its path, file name or id prefix) from the index.

    Returns ``(index path, tiles removed)``. The other rows, their ids and footprints are copied
    as they are; an IVF index is trained again on what is left.
    """
    from osgeo import ogr

    from .embedding import partial_folder
    from .search import have_faiss, train_ivf

    progress = ensure(progress)
    index = tindex.open_index(index_path)
    meta = dict(index.meta)
    details = _check_editable(index)
    k = find_source(details, source)
    if len(details) == 1:
        raise InputError(
            f"{details[0]['path']} is the index's only raster: delete the index folder instead", parameter="SOURCE"
        )
    first = int(details[k]["first_row"])
    count = int(details[k]["tiles"])
    n = len(index)
    keep = np.concatenate([np.arange(0, first), np.arange(first + count, n)])
    partial = partial_folder(index.path)
    if os.path.isdir(partial):
        shutil.rmtree(partial)
    os.makedirs(partial)
    try:
        progress.text(f"removing {count} tiles of {details[k]['path']}")
        emb = np.lib.format.open_memmap(os.path.join(partial, tindex.EMBEDDINGS), mode="w+", dtype=np.float32,
                                        shape=(len(keep), index.dims))
        _copy_rows(index.embeddings, emb, keep, progress.sub(0.0, 0.4))
        emb.flush()
        tindex.write_ids(partial, [index.ids[i] for i in keep])
        constant = tindex.read_constant(index.path, n)
        if constant is not None:
            tindex.write_constant(partial, constant[keep])
        # the tile layer: the kept features, renumbered so that fid = row + 1 again
        src = ogr.Open(index.tiles_path)
        layer = src.GetLayerByName(tindex.TILES_LAYER)
        drop_lo, drop_hi = first + 1, first + count  # fids of the removed tiles
        defn = layer.GetLayerDefn()
        fields = [(defn.GetFieldDefn(i).GetName(), defn.GetFieldDefn(i).GetType()) for i in range(defn.GetFieldCount())]
        from .tile_index import write_features

        def records():
            for feature in layer:
                fid = feature.GetFID()
                if drop_lo <= fid <= drop_hi:
                    continue
                rec = {name: feature.GetField(name) for name, _ in fields}
                rec["_wkb"] = bytes(feature.GetGeometryRef().ExportToIsoWkb())
                yield rec

        class _Kept:  # a sized iterable for the writer's progress
            def __len__(self):
                return len(keep)

            def __iter__(self):
                layer.ResetReading()
                return records()

        kept = tindex.GridColumns(_Kept(), partial)  # and tiles_grid.npy, the dock's lookup columns
        write_features(os.path.join(partial, tindex.TILES), kept, index.crs_wkt, ogr.wkbPolygon,
                       lambda r: ogr.CreateGeometryFromWkb(r["_wkb"]), fields, layer_name=tindex.TILES_LAYER,
                       parameter="OUTPUT", progress=progress.sub(0.4, 0.8))
        layer = src = None  # closes the old tile layer
        del details[k]
        row = 0
        for d in details:
            d["first_row"] = row
            row += int(d["tiles"])
        meta.update(count=len(keep), embeddings_bytes=os.path.getsize(os.path.join(partial, tindex.EMBEDDINGS)),
                    sources=[d["path"] for d in details], source_details=details)
        if len(details) == 1 and details[0].get("geotransform") and details[0].get("crs_wkt") == index.crs_wkt:
            meta["geotransform"] = details[0]["geotransform"]  # one raster again: its grid
        else:
            meta["geotransform"] = []
        if os.path.exists(index.ivf_path) and have_faiss():
            import faiss

            progress.text("training the IVF index")
            faiss.write_index(train_ivf(emb, progress=progress.sub(0.8, 0.98)), os.path.join(partial, tindex.IVF))
        else:  # above the exact-search threshold: the index opens ready to search
            from .search_codes import build_for_index

            build_for_index(partial, emb, progress.sub(0.8, 0.98))
        del emb
        tindex.write_meta(partial, meta)
        progress.check()
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # nothing to resume: the index is as it was
        raise
    index.embeddings = None
    path = index.path
    del index
    out = tindex.publish(partial, path)
    progress.set(1.0)
    return out, count
