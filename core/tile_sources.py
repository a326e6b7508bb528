"""Many rasters as one tile source: one index over a county's orthophotos or scenes in several UTM zones.

Each raster is tiled on the fly on its own pixel grid (:class:`.embedding.RasterTiles`); tile ``i``
of the whole is tile ``i - first_row`` of the raster whose rows hold it, so a reader (a thread here
or a Dask worker) reads any tile by its position alone. Pixels are never resampled: only the
footprints (corners and centre) go to the index CRS, the first raster's unless one is given. A
footprint in another CRS is the quadrilateral through the tile's four transformed corners, which is
exact for the corners and within a fraction of a pixel along the edges for tiles of a few hundred
pixels. Tile ids are ``<raster stem>_r<row>_c<col>``; two rasters with the same file name get
``<stem>_2``, ``<stem>_3`` ... in the order given.

The global stretch keeps one set of cut values per raster (each raster's own 0.5-99.5 percentiles),
the same values a one-raster index of it would use: rasters of different sensors or dates each get
their full contrast, and an index grown raster by raster (:mod:`.index_edit`) holds exactly the rows
an index built from all of them at once would hold.
"""

import copy
import itertools
import os

import numpy as np

from .embedding import RasterTiles, _TileSource
from .errors import InputError


def parse_crs(crs, parameter="INDEX_CRS"):
    """WKT of ``crs`` (WKT, ``EPSG:xxxx``, PROJ string); an :class:`InputError` when GDAL cannot read it."""
    from osgeo import osr

    srs = osr.SpatialReference()
    try:
        if srs.SetFromUserInput(str(crs)) != 0:
            raise RuntimeError(crs)
    except RuntimeError as e:
        raise InputError(f"unknown CRS {crs!r}: give EPSG:xxxx or a WKT definition", parameter=parameter) from e
    return srs.ExportToWkt()


def _srs(wkt):
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def unique_prefixes(paths, taken=()):
    """One id prefix per path: its file stem, made unique with ``_2``, ``_3`` ... (``taken``: in use)."""
    used, out = set(taken), []
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        prefix, k = stem, 2
        while prefix in used:
            prefix, k = f"{stem}_{k}", k + 1
        used.add(prefix)
        out.append(prefix)
    return out


class _ConcatIds:
    """The ids of several sources end to end, as a sequence made on demand."""

    def __init__(self, owner):
        self._owner = owner

    def __len__(self):
        return len(self._owner)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        k, j = self._owner.locate(i)
        return self._owner.parts[k].ids[j]

    def __iter__(self):
        return itertools.chain.from_iterable(p.ids for p in self._owner.parts)


class MultiRasterTiles(_TileSource):
    """Tiles of several rasters, in the order given, with footprints in one index CRS."""

    kind = "rasters"

    def __init__(self, paths, tile_size=256, overlap=0, edge="drop", index_crs=None, prefixes=None,
                 known_cuts=None, parameter="INPUT"):
        """``prefixes``: the id prefix of each raster (None: its stem, made unique); ``known_cuts``:
        {path: cut values} of rasters already stretched (an index being grown keeps its values)."""
        paths = [os.path.abspath(os.fspath(p)) for p in paths]
        if not paths:
            raise InputError("give at least one raster", parameter=parameter)
        seen = set()
        for p in paths:
            if p in seen:
                raise InputError(f"{p} is listed twice", parameter=parameter)
            seen.add(p)
        prefixes = list(prefixes or [None] * len(paths))
        fresh = unique_prefixes([p for p, x in zip(paths, prefixes) if x is None], [x for x in prefixes if x])
        fresh = iter(fresh)
        prefixes = [x if x else next(fresh) for x in prefixes]
        self.parts = [RasterTiles(p, tile_size, overlap, edge, prefix=x) for p, x in zip(paths, prefixes)]
        self.tile_size, self.overlap, self.edge = int(tile_size), int(overlap), edge
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts]).astype(np.int64)
        self.crs_wkt = parse_crs(index_crs) if index_crs else self.parts[0].crs_wkt
        self._reproject = []
        for part in self.parts:
            if bool(part.crs_wkt) != bool(self.crs_wkt):
                raise InputError(
                    f"{part.path} has no CRS while "
                    + ("the index CRS is set" if part.crs_wkt == "" else "another raster has none")
                    + ": assign the rasters a CRS first (Raster > Projections > Assign Projection)",
                    parameter=parameter,
                )
            self._reproject.append(bool(part.crs_wkt) and not _srs(part.crs_wkt).IsSame(_srs(self.crs_wkt)))
        self.band_count = min(p.band_count for p in self.parts)
        self.ids = _ConcatIds(self)
        self._cuts = None
        self._transforms = {}
        self.known_cuts = dict(known_cuts or {})

    def __getstate__(self):  # osr objects do not travel (Dask): made again where needed
        state = dict(self.__dict__)
        state["_transforms"] = {}
        return state

    def __len__(self):
        return int(self.offsets[-1])

    def locate(self, i):
        """(raster number, tile number in that raster) of tile ``i``."""
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return k, i - int(self.offsets[k])

    def sources(self):
        return [p.path for p in self.parts]

    def cut_sources(self):
        return self.sources()

    def fingerprint(self):
        return [p.fingerprint() + [p.prefix] for p in self.parts] + [self.crs_wkt]

    def resolve_bands(self, bands):
        """The bands every raster reads: the same for all, or a refusal naming the odd one."""
        resolved = [p.resolve_bands(bands) for p in self.parts]
        for p, r in zip(self.parts, resolved):
            if r != resolved[0]:
                raise InputError(
                    f"{p.path} reads bands {list(r)} where {self.parts[0].path} reads {list(resolved[0])}: "
                    "the rasters of one index need the same bands (give BANDS explicitly, or index a "
                    "one-band raster on its own)",
                    parameter="BANDS",
                )
        return resolved[0]

    def read(self, i, bands):
        k, j = self.locate(i)
        return self.parts[k].read(j, bands)

    def read_rgb8(self, i, prep):
        k, j = self.locate(i)
        if self._cuts is not None and prep.stretch == "global":
            prep = copy.copy(prep)
            prep.cuts = self._cuts[k]
        return self.parts[k].read_rgb8(j, prep)

    def compute_cuts(self, prep, progress=None):
        """One cut set per raster (see the module's docstring), reusing ``known_cuts``."""
        from .progress import ensure

        progress = ensure(progress)
        out, m = [], len(self.parts)
        for k, part in enumerate(self.parts):
            known = self.known_cuts.get(part.path)
            out.append(known if known is not None else part.compute_cuts(prep, progress.sub(k / m, (k + 1) / m)))
        return out

    def use_cuts(self, cuts):
        self._cuts = [np.asarray(c, dtype=np.float64) for c in cuts]
        return self._cuts[0]

    def _transform(self, k):
        from osgeo import osr

        t = self._transforms.get(k)
        if t is None:
            t = self._transforms[k] = osr.CoordinateTransformation(_srs(self.parts[k].crs_wkt), _srs(self.crs_wkt))
        return t

    def record(self, i):
        k, j = self.locate(i)
        rec = self.parts[k].record(j)
        if self._reproject[k]:
            pts = [tuple(c) for c in rec["corners"]] + [(rec["center_x"], rec["center_y"])]
            out = self._transform(k).TransformPoints(pts)
            rec["corners"] = [(x, y) for x, y, *_ in out[:4]]
            rec["center_x"], rec["center_y"] = out[4][0], out[4][1]
        return rec

    def details(self):
        out = []
        for k, part in enumerate(self.parts):
            (d,) = part.details()
            d["first_row"] = int(self.offsets[k])
            if self._cuts is not None:
                d["cuts"] = self._cuts[k].tolist()
            out.append(d)
        return out


class TileRecords:
    """The attribute records of every tile of ``source`` (with ``valid``: fractions measured while
    embedding), made one at a time as the tile layer is written, never held all at once."""

    def __init__(self, source, valid):
        self.source, self.valid = source, valid

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        rec = dict(self.source.record(i))
        if rec.get("valid_fraction") is None:
            rec["valid_fraction"] = float(self.valid[i])
        return rec

    def __iter__(self):
        return (self[i] for i in range(len(self)))
