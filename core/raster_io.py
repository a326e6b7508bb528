"""Raster reading and writing with GDAL: windows, validity masks, atomic outputs.

Windows may run past the raster edge (padded tiles): the part outside is filled with nodata and
marked invalid. Every writer goes through :func:`atomic_output`, so a failed or canceled run never
leaves a half-written file under the final name and never touches an existing file until the new
one is complete.
"""

import contextlib
import os
import shutil
import uuid

import numpy as np
from osgeo import gdal, osr

from .errors import InputError

gdal.UseExceptions()
osr.UseExceptions()

# sidecar files GDAL may write next to a raster or a GeoPackage
SIDECAR_SUFFIXES = (".aux.xml", ".wld", ".jgw", ".pgw", ".tfw", ".ovr", ".msk", "-wal", "-shm", "-journal")

GTIFF_TILED = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "BIGTIFF=IF_SAFER"]


def open_raster(path, parameter="INPUT", update=False):
    """Open a raster for reading, or raise an :class:`InputError` that says what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path) and not path.startswith("/vsi"):
        raise InputError(f"raster file not found: {path}", parameter=parameter)
    try:
        ds = gdal.OpenEx(path, gdal.OF_RASTER | (gdal.OF_UPDATE if update else 0))
    except RuntimeError as e:
        raise InputError(f"cannot open {path} as a raster: {e}", parameter=parameter) from e
    if ds is None or ds.RasterCount == 0:
        raise InputError(f"{path} has no raster bands", parameter=parameter)
    return ds


def crs_wkt(ds):
    """The raster's CRS as WKT, or '' when it has none."""
    srs = ds.GetSpatialRef()
    return srs.ExportToWkt() if srs is not None else ""


def has_georeferencing(ds):
    gt = ds.GetGeoTransform(can_return_null=True)
    return gt is not None and tuple(gt) != (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def band_nodata(ds, bands=None):
    """Nodata value per requested band (``None`` where a band has none)."""
    bands = bands or range(1, ds.RasterCount + 1)
    return [ds.GetRasterBand(b).GetNoDataValue() for b in bands]


def _uses_mask_band(band):
    flags = band.GetMaskFlags()
    return not (flags & gdal.GMF_ALL_VALID) and not (flags & gdal.GMF_NODATA)


_GDAL_TO_NUMPY = {
    gdal.GDT_Byte: np.uint8,
    gdal.GDT_Int8: np.int8,
    gdal.GDT_UInt16: np.uint16,
    gdal.GDT_Int16: np.int16,
    gdal.GDT_UInt32: np.uint32,
    gdal.GDT_Int32: np.int32,
    gdal.GDT_Float32: np.float32,
    gdal.GDT_Float64: np.float64,
}


def band_dtype(ds, band=1):
    """numpy dtype of a band (complex and 64-bit integer types are read as float64)."""
    return np.dtype(_GDAL_TO_NUMPY.get(ds.GetRasterBand(band).DataType, np.float64))


def no_dir_scan():
    """Context (this thread only) in which GDAL opens files without listing their folder.

    GDAL lists a file's folder on open to find sidecars; in a folder of thousands of tiles that
    listing costs more than reading the tile. Sidecars (.aux.xml, world files) are still found,
    by looking them up one by one.
    """
    return gdal.config_option("GDAL_DISABLE_READDIR_ON_OPEN", "TRUE", thread_local=True)


def all_valid(ds, bands=None, nodata=None):
    """True when no pixel of these bands can be invalid: no nodata (neither the bands' own nor
    ``nodata``), no mask band, no floating point (NaN)."""
    if nodata is not None:
        return False
    for b in bands or range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        if band.GetNoDataValue() is not None or not band.GetMaskFlags() & gdal.GMF_ALL_VALID:
            return False
        if band_dtype(ds, b).kind == "f":
            return False
    return True


def read_window(ds, xoff, yoff, xsize, ysize, bands=None, nodata=None, fill=None, lazy_valid=False):
    """Read a window of ``bands`` (1-based) and its per-band validity.

    Returns ``(array, valid)``, both ``(nbands, ysize, xsize)``; ``valid`` is False on nodata,
    NaN, masked pixels (alpha or per-dataset mask) and the part of the window outside the raster,
    which is filled with ``fill`` (default: the band's nodata, else 0). ``nodata`` overrides the
    bands' own nodata values. With ``lazy_valid``, ``valid`` is None when every pixel is valid
    (a window inside a raster that has no nodata, mask or floating point), which saves the work.
    """
    bands = list(bands or range(1, ds.RasterCount + 1))
    if (
        lazy_valid
        and xoff >= 0
        and yoff >= 0
        and xoff + xsize <= ds.RasterXSize
        and yoff + ysize <= ds.RasterYSize
        and all_valid(ds, bands, nodata)
    ):
        if bands == list(range(1, ds.RasterCount + 1)):
            array = ds.ReadAsArray(xoff, yoff, xsize, ysize)
            return (array[None] if array.ndim == 2 else array), None
        return np.stack([ds.GetRasterBand(b).ReadAsArray(xoff, yoff, xsize, ysize) for b in bands]), None
    W, H = ds.RasterXSize, ds.RasterYSize
    dtype = np.result_type(*[band_dtype(ds, b) for b in bands])
    # part of the window inside the raster
    ix0, iy0 = max(xoff, 0), max(yoff, 0)
    ix1, iy1 = min(xoff + xsize, W), min(yoff + ysize, H)
    inside = ix1 > ix0 and iy1 > iy0
    full = inside and (ix0, iy0, ix1, iy1) == (xoff, yoff, xoff + xsize, yoff + ysize)
    nodatas = [nodata] * len(bands) if nodata is not None else band_nodata(ds, bands)
    out = np.empty((len(bands), ysize, xsize), dtype=dtype)
    valid = np.zeros((len(bands), ysize, xsize), dtype=bool) if not full else None
    if not full:
        for i, nd in enumerate(nodatas):
            f = fill if fill is not None else (nd if nd is not None else 0)
            out[i] = f
    if inside:
        sl = (slice(iy0 - yoff, iy1 - yoff), slice(ix0 - xoff, ix1 - xoff))
        if full and len(bands) == ds.RasterCount and bands == list(range(1, ds.RasterCount + 1)):
            ds.ReadAsArray(ix0, iy0, ix1 - ix0, iy1 - iy0, buf_obj=out)
        else:
            for i, b in enumerate(bands):
                out[i][sl] = ds.GetRasterBand(b).ReadAsArray(ix0, iy0, ix1 - ix0, iy1 - iy0)
        if full:
            valid = np.ones((len(bands), ysize, xsize), dtype=bool)
        else:
            valid[(slice(None),) + sl] = True
        for i, (b, nd) in enumerate(zip(bands, nodatas)):
            band_data = out[i][sl]
            v = valid[i][sl]
            if nd is not None:
                hit = nodata_hits(band_data, nd)
                if hit is not None:
                    v &= ~hit
            if dtype.kind == "f":
                v &= ~np.isnan(band_data)
            if nodata is None and _uses_mask_band(ds.GetRasterBand(b)):
                m = ds.GetRasterBand(b).GetMaskBand().ReadAsArray(ix0, iy0, ix1 - ix0, iy1 - iy0)
                v &= m > 0
    return out, valid


def nodata_hits(data, nd):
    """Boolean array of pixels equal to ``nd``, or None when no pixel of this type can equal it."""
    if nd is None or np.isnan(nd):
        return None
    if data.dtype.kind == "f":
        return data == data.dtype.type(nd)
    info = np.iinfo(data.dtype)
    if float(nd) != int(nd) or not info.min <= nd <= info.max:
        return None
    return data == int(nd)


def pixel_valid(valid):
    """A pixel is valid when every band is valid (how QGIS draws a multiband pixel).
    ``None`` (everything valid, see ``lazy_valid``) stays None."""
    return None if valid is None else valid.all(axis=0)


# -- atomic outputs -------------------------------------------------------------------------


def check_writable_folder(folder, parameter="OUTPUT"):
    """Create ``folder`` if needed and make sure files can be written in it."""
    folder = os.fspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise InputError(
            f"cannot create the output folder {folder}: {e.strerror}. Choose a folder you can write to.",
            parameter=parameter,
        ) from e
    probe = os.path.join(folder, f".te-write-test-{uuid.uuid4().hex[:8]}")
    try:
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as e:
        raise InputError(
            f"the output folder {folder} is not writable ({e.strerror}). Choose a folder you can write to.",
            parameter=parameter,
        ) from e
    return folder


def temp_name(final_path):
    """A hidden temporary name next to ``final_path``, with the same extension (GDAL picks
    drivers and sidecar names from it)."""
    folder, name = os.path.split(os.path.abspath(final_path))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.tmp-{uuid.uuid4().hex[:8]}{ext}")


def remove_with_sidecars(path):
    for p in (
        [path]
        + [path + s for s in SIDECAR_SUFFIXES]
        + [os.path.splitext(path)[0] + s for s in (".wld", ".jgw", ".pgw", ".tfw")]
    ):
        with contextlib.suppress(FileNotFoundError):
            os.remove(p)


def commit(tmp, final):
    """Move a finished temporary output (and its sidecars) onto its final name."""
    tmp_stem, final_stem = os.path.splitext(tmp)[0], os.path.splitext(final)[0]
    for suffix in SIDECAR_SUFFIXES:
        if os.path.exists(tmp + suffix):
            os.replace(tmp + suffix, final + suffix)
        elif os.path.exists(final + suffix) and suffix in (".aux.xml", ".ovr", ".msk"):
            os.remove(final + suffix)  # a stale sidecar of an older file would lie about the new one
    for ext in (".wld", ".jgw", ".pgw", ".tfw"):
        if os.path.exists(tmp_stem + ext):
            os.replace(tmp_stem + ext, final_stem + ext)
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_output(final_path, parameter="OUTPUT"):
    """Yield a temporary path to write; on success it replaces ``final_path``, otherwise it is
    removed (with every sidecar) and ``final_path`` is left as it was."""
    final_path = os.path.abspath(os.fspath(final_path))
    check_writable_folder(os.path.dirname(final_path), parameter=parameter)
    tmp = temp_name(final_path)
    try:
        yield tmp
    except BaseException:
        remove_with_sidecars(tmp)
        raise
    commit(tmp, final_path)


@contextlib.contextmanager
def staging_folder(final_folder, parameter="OUTPUT_FOLDER"):
    """A hidden folder inside ``final_folder`` for files that are moved in only at the end."""
    final_folder = check_writable_folder(os.path.abspath(os.fspath(final_folder)), parameter=parameter)
    stage = os.path.join(final_folder, f".te-tmp-{uuid.uuid4().hex[:8]}")
    os.makedirs(stage)
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def gdal_callback(progress):
    """A GDAL progress callback that reports to ``progress`` and stops GDAL on cancel."""

    def callback(fraction, _message, _data):
        progress.set(fraction)
        return 0 if progress.canceled() else 1

    return callback


def copy_band_metadata(src, dst, bands=None):
    """Nodata, description, colour interpretation of ``bands`` (source numbers) onto dst 1..n."""
    bands = list(bands or range(1, src.RasterCount + 1))
    for i, b in enumerate(bands, 1):
        s, d = src.GetRasterBand(b), dst.GetRasterBand(i)
        nd = s.GetNoDataValue()
        if nd is not None:
            d.SetNoDataValue(nd)
        if s.GetDescription():
            d.SetDescription(s.GetDescription())
        d.SetColorInterpretation(s.GetColorInterpretation())
        for domain_md in (s.GetMetadata() or {},):
            if domain_md:
                d.SetMetadata(domain_md)


RASTER_EXTENSIONS = (".tif", ".tiff", ".jpg", ".jpeg", ".png", ".img", ".vrt", ".jp2")


def list_rasters(folder, parameter="INPUT_FOLDER"):
    """Raster files directly inside ``folder`` (sorted; hidden and sidecar files left out)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise InputError(f"folder not found: {folder}", parameter=parameter)
    names = sorted(
        n
        for n in os.listdir(folder)
        if not n.startswith(".") and os.path.splitext(n)[1].lower() in RASTER_EXTENSIONS
    )
    if not names:
        raise InputError(f"no raster files ({', '.join(RASTER_EXTENSIONS)}) in {folder}", parameter=parameter)
    return [os.path.join(os.path.abspath(folder), n) for n in names]
