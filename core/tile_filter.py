"""Tiles with no content: left out of an index, or flagged so that search leaves them out.

A tile that is entirely nodata, or a constant fill value in a raster that declares no nodata,
embeds to the same vector as every other such tile, across scenes too: they rank as each other's
look-alikes, and a click near an image edge gives a page of black tiles (issue 16: in one of five
unseen rasters, 52 of 238 tiles were entirely nodata). So:

* tiles whose share of valid pixels (not nodata, per the raster's declared nodata, mask or alpha,
  and inside the raster) is below ``min_valid_fraction``, or zero, are not embedded at all
  (:func:`skip_invalid_tiles`, run before the model loads: the valid fractions come from one pass
  over the tiles, which skips a raster or tile file that declares every pixel valid);
* tiles kept whose valid pixels all hold the same value in every band are *constant*: they are
  embedded, and flagged in ``constant.npy`` beside the embeddings (:mod:`.index`); search leaves
  them out of results unless asked (:func:`.search.search` ``include_constant``).

While embedding, the constant flag travels with the valid fraction as its sign (one float per
tile, in the resume state and from Dask workers alike): :func:`status` and :func:`split_status`.
"""

import hashlib

import numpy as np

from .errors import InputError
from .progress import ensure


def tile_flags(ok, array):
    """``(valid fraction, constant)`` of a tile read as ``array, ok`` (``ok`` None: all valid).

    A pixel is valid when it is valid in every band; the tile is constant when it has valid pixels
    and, in every band, they all hold the same value.
    """
    if ok is None:
        fraction, pixels = 1.0, None
    else:
        pixels = ok.all(axis=0) if ok.ndim == 3 else ok
        fraction = float(pixels.mean())
    if fraction <= 0.0:
        return 0.0, False
    values = array.reshape(array.shape[0], -1) if pixels is None else array[:, pixels]
    return fraction, bool((values.max(axis=1) == values.min(axis=1)).all())


def status(fraction, constant):
    """One float per tile: its valid fraction, negated when the tile is constant."""
    return -float(fraction) if constant and fraction > 0 else float(fraction)


def split_status(values):
    """``(valid fractions, constant flags)`` of the floats of :func:`status`."""
    values = np.asarray(values, dtype=np.float32)
    return np.abs(values), values < 0


class _Rows:
    """``seq`` seen through the row numbers ``rows`` (the ids of the tiles kept)."""

    def __init__(self, seq, rows):
        self.seq, self.rows = seq, rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.seq[int(self.rows[i])]

    def __iter__(self):
        return (self.seq[int(r)] for r in self.rows)


class ValidTiles:
    """The tiles of ``source`` at ``rows`` (those with enough valid pixels), with the interface of
    every tile source; :meth:`read_rgb8` gives each tile's :func:`status` as its fraction."""

    def __init__(self, source, rows, min_valid_fraction, skipped):
        self.source = source
        self.rows = np.asarray(rows, dtype=np.int64)
        self.min_valid_fraction = float(min_valid_fraction)
        self.skipped = int(skipped)
        self.ids = _Rows(source.ids, self.rows)

    def __getattr__(self, name):  # path, crs_wkt, kind, tile_size, resolve_bands, compute_cuts...
        if name.startswith("__") or name in ("source", "rows"):
            raise AttributeError(name)
        return getattr(self.source, name)

    def __len__(self):
        return len(self.rows)

    def read(self, i, bands):
        return self.source.read(int(self.rows[i]), bands)

    def read_rgb8(self, i, prep):
        # the source's own: several rasters stretch each with its own cuts (:mod:`.tile_sources`)
        return self.source.read_rgb8(int(self.rows[i]), prep)

    def record(self, i):
        return self.source.record(int(self.rows[i]))

    def fingerprint(self):
        digest = hashlib.sha256(self.rows.tobytes()).hexdigest()[:16]
        return list(self.source.fingerprint()) + ["valid", self.min_valid_fraction, len(self.rows), digest]

    def details(self):
        """The source's details with row ranges (``first_row``, ``tiles``) counted in kept tiles."""
        out = []
        for d in self.source.details():
            d = dict(d)
            if "first_row" in d and "tiles" in d:
                first, count = int(d["first_row"]), int(d["tiles"])
                d["first_row"] = int(np.searchsorted(self.rows, first))
                d["tiles"] = int(np.searchsorted(self.rows, first + count)) - d["first_row"]
            out.append(d)
        return out


def check_fraction(value):
    value = float(0.0 if value is None else value)
    if not 0.0 <= value <= 1.0:
        raise InputError(
            f"the minimum valid fraction must lie between 0 and 1, not {value}.", parameter="MIN_VALID_FRACTION"
        )
    return value


def _surely_all_valid(source, bands):
    """Whether every tile of ``source`` is wholly valid without reading it: a raster that
    declares no nodata, mask, alpha or floating point, and windows inside it."""
    from .raster_io import all_valid

    tiles, path = getattr(source, "tiles", None), getattr(source, "path", None)
    if getattr(source, "kind", None) != "raster" or tiles is None or path is None:
        return False
    if not all_valid(source._ds.get(path), list(bands), None):
        return False
    w, h = source.width, source.height
    return all(t.xoff >= 0 and t.yoff >= 0 and t.xoff + t.xsize <= w and t.yoff + t.ysize <= h for t in tiles)


def _file_surely_valid(source, i, bands):
    """Whether tile ``i`` of a tile index is a file that declares every pixel valid (not read)."""
    from .raster_io import all_valid

    files = getattr(source, "files", None)
    if getattr(source, "kind", None) != "tile_index" or files is None:
        return False
    return all_valid(source._ds.get(files[i], parameter="TILE_INDEX"), list(bands), None)


def skip_invalid_tiles(source, bands, min_valid_fraction=0.0, progress=None):
    """``source`` without its tiles whose valid fraction is zero or below ``min_valid_fraction``
    (0: tiles with no valid pixel; 0.5: tiles less than half valid), as a :class:`ValidTiles`.

    Raises an :class:`InputError` naming MIN_VALID_FRACTION when no tile is left.
    """
    progress = ensure(progress)
    threshold = check_fraction(min_valid_fraction)
    n = len(source)
    if _surely_all_valid(source, bands):
        return ValidTiles(source, np.arange(n), threshold, 0)
    progress.text(f"measuring the valid pixels of {n} tiles")
    keep = np.zeros(n, dtype=bool)
    progress.start(max(1, n))
    for i in range(n):
        if i % 64 == 0:
            progress.check()
        if _file_surely_valid(source, i, bands):
            fraction = 1.0
        else:
            _, ok = source.read(i, bands)
            fraction = 1.0 if ok is None else float((ok.all(axis=0) if ok.ndim == 3 else ok).mean())
        keep[i] = fraction > 0.0 and fraction >= threshold
        progress.step()
    skipped = int(n - keep.sum())
    if not keep.any():
        raise InputError(
            f"all {n} tiles have {'no valid pixel' if threshold == 0 else f'less than {threshold:.0%} valid pixels'} "
            "(nodata, masked or outside the raster): nothing to embed. Check the raster's nodata value and the "
            "extent, or lower the minimum valid fraction.",
            parameter="MIN_VALID_FRACTION",
        )
    if skipped:
        progress.text(
            f"skipping {skipped} of {n} tiles with "
            + ("no valid pixel" if threshold == 0 else f"less than {threshold:.0%} valid pixels")
        )
    return ValidTiles(source, np.flatnonzero(keep), threshold, skipped)
