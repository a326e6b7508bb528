"""Tile-grid maths: windows, ids, corners and centres on plain and rotated geotransforms."""

import math

import pytest

from tile_embeddings.core.errors import InputError
from tile_embeddings.core.grid import (
    Tile,
    bbox_to_window,
    block_windows,
    geo_to_pixel,
    pixel_to_geo,
    shifted_geotransform,
    tile_windows,
    window_bounds,
    window_center,
    window_corners,
)

NORTH_UP = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)


def rotated(angle_deg=30.0, res=2.0):
    a = math.radians(angle_deg)
    return (1000.0, res * math.cos(a), -res * math.sin(a), 5000.0, -res * math.sin(a), -res * math.cos(a))


def test_drop_keeps_only_whole_tiles_row_major():
    tiles = tile_windows(1000, 600, 256)
    assert len(tiles) == 3 * 2
    assert tiles[0] == Tile(0, 0, 0, 0, 256, 256)
    assert tiles[2] == Tile(0, 2, 512, 0, 256, 256)
    assert tiles[3] == Tile(1, 0, 0, 256, 256, 256)
    assert all(t.xoff + t.xsize <= 1000 and t.yoff + t.ysize <= 600 for t in tiles)


def test_pad_covers_raster_with_full_size_windows():
    tiles = tile_windows(1000, 600, 256, edge="pad")
    assert len(tiles) == 4 * 3
    last = tiles[-1]
    assert (last.row, last.col, last.xoff, last.yoff, last.xsize, last.ysize) == (2, 3, 768, 512, 256, 256)


def test_keep_clips_edge_tiles():
    tiles = tile_windows(1000, 600, 256, edge="keep")
    last = tiles[-1]
    assert (last.xsize, last.ysize) == (1000 - 768, 600 - 512)
    assert sum(t.xsize * t.ysize for t in tiles) == 1000 * 600


def test_overlap_steps_by_tile_minus_overlap():
    tiles = tile_windows(100, 100, 40, overlap=10, edge="drop")
    assert sorted({t.xoff for t in tiles}) == [0, 30, 60]
    with pytest.raises(InputError) as e:
        tile_windows(100, 100, 40, overlap=40)
    assert e.value.parameter == "OVERLAP"


def test_exact_fit_has_no_extra_edge_tile():
    assert len(tile_windows(512, 512, 256, edge="pad")) == 4
    assert len(tile_windows(512, 512, 256, edge="keep")) == 4


def test_tile_larger_than_raster_is_a_clear_error_with_drop():
    with pytest.raises(InputError) as e:
        tile_windows(200, 300, 256)
    assert e.value.parameter == "TILE_SIZE"
    assert "larger than the raster" in str(e.value)
    assert len(tile_windows(200, 300, 256, edge="pad")) == 2


def test_tile_id():
    assert Tile(3, 7, 0, 0, 1, 1).tile_id("OSBS") == "OSBS_r3_c7"


def test_corners_and_center_north_up():
    corners = window_corners(NORTH_UP, 256, 0, 256, 256)
    assert corners == [
        (500128.0, 4000000.0),
        (500256.0, 4000000.0),
        (500256.0, 3999872.0),
        (500128.0, 3999872.0),
    ]
    assert window_center(NORTH_UP, 256, 0, 256, 256) == (500192.0, 3999936.0)


def test_center_on_rotated_grid_is_mean_of_corners_and_round_trips():
    gt = rotated()
    corners = window_corners(gt, 10, 20, 30, 40)
    cx, cy = window_center(gt, 10, 20, 30, 40)
    assert cx == pytest.approx(sum(c[0] for c in corners) / 4)
    assert cy == pytest.approx(sum(c[1] for c in corners) / 4)
    # a north-up shortcut would put the centre elsewhere
    assert abs(cx - (gt[0] + 25 * gt[1])) > 1
    px, py = geo_to_pixel(gt, *pixel_to_geo(gt, 12.5, 7.25))
    assert (px, py) == (pytest.approx(12.5), pytest.approx(7.25))


def test_bbox_to_window_snaps_outward_and_clips():
    # 1000 x 1000 px of 0.5 m; bbox edge halfway through pixels -> window grows to whole pixels
    win = bbox_to_window(NORTH_UP, (500010.25, 3999900.0, 500020.0, 3999990.1), 1000, 1000)
    assert win == (20, 19, 20, 181)
    # larger than the raster: the intersection
    assert bbox_to_window(NORTH_UP, (499000, 3990000, 501000, 4010000), 1000, 1000) == (0, 0, 1000, 1000)
    assert bbox_to_window(NORTH_UP, (0, 0, 10, 10), 1000, 1000) is None


def test_bbox_to_window_on_rotated_grid_covers_bbox():
    gt = rotated()
    bounds = window_bounds(gt, 100, 100, 50, 50)
    x0, y0, xs, ys = bbox_to_window(gt, bounds, 1000, 1000)
    for x, y in window_corners(gt, 100, 100, 50, 50):
        px, py = geo_to_pixel(gt, x, y)
        assert x0 - 1e-6 <= px <= x0 + xs + 1e-6 and y0 - 1e-6 <= py <= y0 + ys + 1e-6


def test_shifted_geotransform_keeps_rotation():
    gt = rotated()
    sub = shifted_geotransform(gt, 10, 20)
    assert pixel_to_geo(sub, 0, 0) == pixel_to_geo(gt, 10, 20)
    assert pixel_to_geo(sub, 5, 5) == pytest.approx(pixel_to_geo(gt, 15, 25))


def test_block_windows_cover_everything_once():
    wins = list(block_windows(1000, 700, 256, 256, max_pixels=300_000))
    covered = sum(w[2] * w[3] for w in wins)
    assert covered == 1000 * 700
    assert all(w[2] * w[3] <= 300_000 or w[3] == 256 for w in wins)
