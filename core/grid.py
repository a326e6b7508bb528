"""Tile-grid maths on a GDAL geotransform: pixel windows, tile ids, corners and centres.

Everything works on the full six-term GDAL geotransform, so rotated and sheared rasters get the
right corners and centres (a north-up shortcut such as ``x0 + col * res`` would not).
"""

import math
from dataclasses import dataclass

from .errors import InputError

EDGE_POLICIES = ("drop", "pad", "keep")


@dataclass(frozen=True)
class Tile:
    """One tile: its grid position and its pixel window in the source raster.

    With ``edge="pad"`` a window may extend past the raster edge; readers pad it with nodata.
    """

    row: int
    col: int
    xoff: int
    yoff: int
    xsize: int
    ysize: int

    def tile_id(self, prefix: str) -> str:
        return f"{prefix}_r{self.row}_c{self.col}"


def _starts(length, tile_size, stride, edge):
    """Window start offsets along one axis."""
    if edge == "drop":
        if tile_size > length:
            return []
        return list(range(0, length - tile_size + 1, stride))
    # pad / keep: cover the whole axis; the last window is the first that reaches the end
    starts = [0]
    while starts[-1] + tile_size < length:
        starts.append(starts[-1] + stride)
    return starts


def tile_windows(width, height, tile_size, overlap=0, edge="drop"):
    """Square tiles of ``tile_size`` pixels stepping by ``tile_size - overlap``, row-major.

    ``edge``: ``"drop"`` keeps only whole tiles (the seed's behaviour), ``"pad"`` keeps full-size
    windows that may run past the right/bottom edge, ``"keep"`` clips the last row/column of
    windows to the raster (partial tiles).
    """
    stride = _check_tiling(width, height, tile_size, overlap, edge)
    width, height, tile_size = int(width), int(height), int(tile_size)
    tiles = []
    for r, yoff in enumerate(_starts(height, tile_size, stride, edge)):
        for c, xoff in enumerate(_starts(width, tile_size, stride, edge)):
            if edge == "keep":
                xs, ys = min(tile_size, width - xoff), min(tile_size, height - yoff)
            else:
                xs = ys = tile_size
            tiles.append(Tile(r, c, xoff, yoff, xs, ys))
    return tiles


def _check_tiling(width, height, tile_size, overlap, edge):
    """The stride of a valid tiling; an :class:`InputError` naming the parameter otherwise."""
    width, height, tile_size, overlap = int(width), int(height), int(tile_size), int(overlap)
    if edge not in EDGE_POLICIES:
        raise InputError(
            f"edge policy must be one of {', '.join(EDGE_POLICIES)}, not {edge!r}", parameter="EDGE"
        )
    if tile_size < 1:
        raise InputError("tile size must be at least 1 pixel", parameter="TILE_SIZE")
    if overlap < 0 or overlap >= tile_size:
        raise InputError(
            f"overlap must be between 0 and tile size - 1 ({tile_size - 1}), not {overlap}",
            parameter="OVERLAP",
        )
    if width < 1 or height < 1:
        raise InputError("the raster is empty (0 pixels)", parameter="INPUT")
    if edge == "drop" and (tile_size > width or tile_size > height):
        raise InputError(
            f"tile size {tile_size} px is larger than the raster ({width} x {height} px), so no whole "
            f"tile fits: choose a tile size of at most {min(width, height)} px, or the edge policy "
            f"'pad' or 'keep'",
            parameter="TILE_SIZE",
        )
    return tile_size - overlap


class TileWindows:
    """The tiles of :func:`tile_windows` as a read-only sequence computed on demand: a million
    tiles cost two short lists of offsets, not a million objects (flat memory at any size)."""

    def __init__(self, width, height, tile_size, overlap=0, edge="drop"):
        stride = _check_tiling(width, height, tile_size, overlap, edge)
        self.width, self.height, self.tile_size, self.edge = int(width), int(height), int(tile_size), edge
        self.xoffs = _starts(self.width, self.tile_size, stride, edge)
        self.yoffs = _starts(self.height, self.tile_size, stride, edge)
        self.rows, self.cols = len(self.yoffs), len(self.xoffs)

    def __len__(self):
        return self.rows * self.cols

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        r, c = divmod(i, self.cols)
        xoff, yoff, ts = self.xoffs[c], self.yoffs[r], self.tile_size
        if self.edge == "keep":
            return Tile(r, c, xoff, yoff, min(ts, self.width - xoff), min(ts, self.height - yoff))
        return Tile(r, c, xoff, yoff, ts, ts)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class TileIds:
    """The ids ``<prefix>_r<row>_c<col>`` of a :class:`TileWindows`, as a sequence made on demand."""

    def __init__(self, windows, prefix):
        self.windows, self.prefix = windows, prefix

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.windows[i].tile_id(self.prefix)

    def __iter__(self):
        cols, prefix = self.windows.cols, self.prefix
        return (f"{prefix}_r{r}_c{c}" for r in range(self.windows.rows) for c in range(cols))


def pixel_to_geo(geotransform, px, py):
    """Georeferenced coordinates of pixel/line position ``(px, py)`` (0,0 = top-left corner)."""
    g = geotransform
    return (g[0] + px * g[1] + py * g[2], g[3] + px * g[4] + py * g[5])


def geo_to_pixel(geotransform, x, y):
    """Inverse of :func:`pixel_to_geo` (fractional pixel/line)."""
    g = geotransform
    det = g[1] * g[5] - g[2] * g[4]
    if det == 0:
        raise InputError("the raster's geotransform is degenerate (zero pixel area)", parameter="INPUT")
    dx, dy = x - g[0], y - g[3]
    return ((g[5] * dx - g[2] * dy) / det, (-g[4] * dx + g[1] * dy) / det)


def window_corners(geotransform, xoff, yoff, xsize, ysize):
    """The window's four corners, ring order upper-left, upper-right, lower-right, lower-left."""
    return [
        pixel_to_geo(geotransform, xoff, yoff),
        pixel_to_geo(geotransform, xoff + xsize, yoff),
        pixel_to_geo(geotransform, xoff + xsize, yoff + ysize),
        pixel_to_geo(geotransform, xoff, yoff + ysize),
    ]


def window_center(geotransform, xoff, yoff, xsize, ysize):
    return pixel_to_geo(geotransform, xoff + xsize / 2.0, yoff + ysize / 2.0)


def window_bounds(geotransform, xoff, yoff, xsize, ysize):
    """Axis-aligned ``(xmin, ymin, xmax, ymax)`` of a window (its corners' envelope)."""
    xs, ys = zip(*window_corners(geotransform, xoff, yoff, xsize, ysize))
    return (min(xs), min(ys), max(xs), max(ys))


def bbox_to_window(geotransform, bbox, width, height, eps=1e-6):
    """The smallest pixel window of a ``width`` x ``height`` raster covering ``bbox``.

    ``bbox`` is ``(xmin, ymin, xmax, ymax)`` in the raster's CRS. The window snaps outward to
    whole source pixels (no resampling) and is clipped to the raster; ``None`` when they do not
    overlap. ``eps`` (in pixels) keeps a bbox edge lying exactly on a pixel edge from adding a
    sliver column.
    """
    xmin, ymin, xmax, ymax = bbox
    corners = ((xmin, ymax), (xmax, ymax), (xmax, ymin), (xmin, ymin))
    pts = [geo_to_pixel(geotransform, x, y) for x, y in corners]
    pxs, pys = zip(*pts)
    x0 = max(math.floor(min(pxs) + eps), 0)
    y0 = max(math.floor(min(pys) + eps), 0)
    x1 = min(math.ceil(max(pxs) - eps), int(width))
    y1 = min(math.ceil(max(pys) - eps), int(height))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def shifted_geotransform(geotransform, xoff, yoff):
    """Geotransform of a window whose top-left pixel is ``(xoff, yoff)`` of the source."""
    g = geotransform
    x, y = pixel_to_geo(g, xoff, yoff)
    return (x, g[1], g[2], y, g[4], g[5])


def block_windows(width, height, block_xsize, block_ysize, max_pixels=1 << 22):
    """Windows aligned on the raster's blocks that cover it, each at most ~``max_pixels``.

    Used to stream a raster in memory-bounded pieces: the window grows along whole blocks so
    every read touches each block once.
    """
    bx, by = max(int(block_xsize), 1), max(int(block_ysize), 1)
    # whole rows of blocks when they fit, otherwise split each row of blocks along x
    wx = width if width * by <= max_pixels else max(bx, (max_pixels // by) // bx * bx)
    wy = by * max(1, max_pixels // max(wx * by, 1)) if wx == width else by
    for yoff in range(0, height, wy):
        ys = min(wy, height - yoff)
        for xoff in range(0, width, wx):
            yield (xoff, yoff, min(wx, width - xoff), ys)
