"""Split a raster into square GeoTIFF tiles on its own pixel grid, plus a tile index.

Tiles are read and written on a thread pool (GDAL releases the GIL), each worker thread with its
own dataset handle. Tiles are written into a hidden staging folder and moved into the output
folder only when every tile is done, so a canceled or failed run adds nothing to it.
"""

import os
import re
import threading

from osgeo import gdal

from .errors import InputError
from .grid import shifted_geotransform, tile_windows, window_center, window_corners
from .progress import ensure
from .raster_io import (
    check_writable_folder,
    copy_band_metadata,
    crs_wkt,
    open_raster,
    pixel_valid,
    read_window,
    staging_folder,
)
from .thread_pool import ordered_map
from .tile_index import vector_driver, write_tile_index

gdal.UseExceptions()

COMPRESSIONS = ("NONE", "DEFLATE", "LZW")
_BAD_PREFIX = re.compile(r'[\\/:*?"<>|]')


def tile_options(compress, nbands, dtype_name):
    opts = ["BIGTIFF=NO"]
    if compress and compress.upper() != "NONE":
        opts.append(f"COMPRESS={compress.upper()}")
        opts.append("PREDICTOR=3" if dtype_name.startswith("Float") else "PREDICTOR=2")
    if nbands > 1:
        opts.append("INTERLEAVE=PIXEL")
    return opts


def _needs_validity(ds):
    """Whether any pixel of this raster can be invalid (nodata, NaN, mask band)."""
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        if band.GetNoDataValue() is not None:
            return True
        if gdal.GetDataTypeName(band.DataType).startswith("Float"):
            return True
        if not band.GetMaskFlags() & gdal.GMF_ALL_VALID:
            return True
    return False


def split_raster(
    src_path,
    out_dir,
    tile_size=256,
    overlap=0,
    edge="drop",
    min_valid_fraction=0.0,
    prefix=None,
    index_path=None,
    compress="NONE",
    threads=None,
    progress=None,
):
    """Cut ``src_path`` into ``<prefix>_r<row>_c<col>.tif`` tiles in ``out_dir``.

    ``edge``: ``drop`` partial edge tiles (default), ``pad`` them to full size with nodata (0
    when the raster has none, then recorded as the padded tiles' nodata), or ``keep`` them
    partial. Tiles whose valid-pixel fraction (a pixel is valid when every band is) is below
    ``min_valid_fraction`` are skipped; 0 keeps every tile, empty ones too. Writes a tile index
    to ``index_path`` when given. Returns a dict: ``tiles`` (index records), ``index``,
    ``skipped``, ``crs``.
    """
    progress = ensure(progress)
    src_path = os.path.abspath(os.fspath(src_path))
    ds = open_raster(src_path)
    if not 0.0 <= float(min_valid_fraction) <= 1.0:
        raise InputError("the minimum valid fraction must be between 0 and 1", parameter="MIN_VALID_FRACTION")
    compress = (compress or "NONE").upper()
    if compress not in COMPRESSIONS:
        raise InputError(f"compression must be one of {', '.join(COMPRESSIONS)}", parameter="COMPRESS")
    prefix = prefix or os.path.splitext(os.path.basename(src_path))[0]
    if _BAD_PREFIX.search(prefix):
        raise InputError(
            f"the tile name prefix {prefix!r} contains characters not allowed in file names",
            parameter="PREFIX",
        )
    W, H, nb = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
    tiles = tile_windows(W, H, tile_size, overlap, edge)
    dtype_name = gdal.GetDataTypeName(ds.GetRasterBand(1).DataType)
    nodatas = [ds.GetRasterBand(b).GetNoDataValue() for b in range(1, nb + 1)]
    needs_validity = _needs_validity(ds)
    min_valid = float(min_valid_fraction)
    options = tile_options(compress, nb, dtype_name)
    out_dir = os.path.abspath(os.fspath(out_dir))
    created = []  # folders this run creates: removed again if it does not finish
    try:
        if index_path:  # the index is written last: check it before anything is created
            index_path = os.path.abspath(os.fspath(index_path))
            vector_driver(index_path, parameter="OUTPUT")
            if os.path.isdir(index_path):
                raise InputError(f"{index_path} is a folder: give a file name for the tile index",
                                 parameter="OUTPUT")
            _make_folder(os.path.dirname(index_path), "OUTPUT", created)
        _make_folder(out_dir, "OUTPUT_FOLDER", created)
        return _split(ds, src_path, out_dir, tiles, tile_size, prefix, index_path, options, threads,
                      needs_validity, nodatas, min_valid, progress)
    except BaseException:
        _remove_created(created)
        raise


def _missing_folders(folder):
    """``folder`` and its ancestors that do not exist yet, innermost first."""
    missing = []
    while folder and not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def _make_folder(folder, parameter, created):
    """Create ``folder`` (checked writable) and record in ``created`` what did not exist before."""
    missing = _missing_folders(folder)
    try:
        check_writable_folder(folder, parameter=parameter)
    finally:
        created.extend(f for f in missing if os.path.isdir(f) and f not in created)


def _remove_created(created):
    """Remove the folders a failed or canceled run created, innermost first, if they are empty
    (never a folder that existed before the run, and never anything but empty folders)."""
    for folder in sorted(created, key=len, reverse=True):
        try:
            os.rmdir(folder)
        except OSError:
            pass
    created.clear()


def _split(ds, src_path, out_dir, tiles, tile_size, prefix, index_path, options, threads, needs_validity,
           nodatas, min_valid, progress):
    """The writing part of :func:`split_raster`, once every output location has been checked."""
    W, H, nb = ds.RasterXSize, ds.RasterYSize, ds.RasterCount
    gt = ds.GetGeoTransform()
    crs = crs_wkt(ds)
    dtype = ds.GetRasterBand(1).DataType
    driver = gdal.GetDriverByName("GTiff")
    local = threading.local()
    handles = []
    lock = threading.Lock()

    def source():
        h = getattr(local, "ds", None)
        if h is None:
            h = local.ds = gdal.OpenEx(src_path, gdal.OF_RASTER | gdal.OF_READONLY)
            with lock:
                handles.append(h)
        return h

    def write_tile(stage, tile):
        src = source()
        inside = tile.xoff + tile.xsize <= W and tile.yoff + tile.ysize <= H
        padded_nodata = None
        if inside and not needs_validity:
            data = src.ReadRaster(tile.xoff, tile.yoff, tile.xsize, tile.ysize, buf_type=dtype)
            fraction = 1.0
        else:
            array, valid = read_window(src, tile.xoff, tile.yoff, tile.xsize, tile.ysize)
            fraction = float(pixel_valid(valid).mean())
            if not inside and all(nd is None for nd in nodatas):
                padded_nodata = 0
            data = array.tobytes()
        src.FlushCache()  # drop the blocks just read: memory must not grow with the raster
        if fraction < min_valid:
            return None
        name = f"{tile.tile_id(prefix)}.tif"
        out = driver.Create(os.path.join(stage, name), tile.xsize, tile.ysize, nb, dtype, options)
        out.SetGeoTransform(shifted_geotransform(gt, tile.xoff, tile.yoff))
        if crs:
            out.SetProjection(crs)
        copy_band_metadata(ds_meta, out)
        if padded_nodata is not None:
            for b in range(1, nb + 1):
                out.GetRasterBand(b).SetNoDataValue(padded_nodata)
        out.WriteRaster(0, 0, tile.xsize, tile.ysize, data, buf_type=dtype)
        out = None
        cx, cy = window_center(gt, tile.xoff, tile.yoff, tile.xsize, tile.ysize)
        return {
            "tile_id": tile.tile_id(prefix),
            "row": tile.row,
            "col": tile.col,
            "path": os.path.join(out_dir, name),
            "valid_fraction": fraction,
            "center_x": cx,
            "center_y": cy,
            "corners": window_corners(gt, tile.xoff, tile.yoff, tile.xsize, tile.ysize),
            "_staged": os.path.join(stage, name),
        }

    ds_meta = _BandMeta(ds)  # worker threads never touch the main thread's dataset
    progress.text(f"Writing {len(tiles)} tiles of {tile_size} px")
    index = None
    try:
        with staging_folder(out_dir) as stage:
            records = ordered_map(lambda t: write_tile(stage, t), tiles, threads, progress.sub(0.0, 0.95))
            records = [r for r in records if r is not None]
            progress.check()
            staged = [rec.pop("_staged") for rec in records]
            if index_path:  # written (atomically) while the tiles still wait in the stage
                index = write_tile_index(
                    index_path, records, crs, parameter="OUTPUT", progress=progress.sub(0.95, 1.0)
                )
            for path, rec in zip(staged, records):  # commit: move every finished tile into place
                os.replace(path, rec["path"])
    finally:
        for h in handles:
            h.Close()
        handles.clear()
    progress.set(1.0)
    return {
        "tiles": records,
        "index": index,
        "skipped": len(tiles) - len(records),
        "total": len(tiles),
        "crs": crs,
    }


class _BandMeta:
    """Band metadata read once, so worker threads never share the source dataset."""

    def __init__(self, ds):
        self.RasterCount = ds.RasterCount
        self._bands = [_BandInfo(ds.GetRasterBand(b)) for b in range(1, ds.RasterCount + 1)]

    def GetRasterBand(self, b):
        return self._bands[b - 1]


class _BandInfo:
    def __init__(self, band):
        self._nodata = band.GetNoDataValue()
        self._description = band.GetDescription()
        self._interp = band.GetColorInterpretation()
        self._metadata = band.GetMetadata() or {}

    def GetNoDataValue(self):
        return self._nodata

    def GetDescription(self):
        return self._description

    def GetColorInterpretation(self):
        return self._interp

    def GetMetadata(self):
        return self._metadata
