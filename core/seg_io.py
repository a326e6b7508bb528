"""Raster input and output of the tiled segmentation (GDAL only, no QGIS).

Sources are small picklable objects (a path and band numbers) so that Dask workers can open the
raster themselves; every read opens its own dataset, because a GDAL dataset must not be shared
between threads. Outputs are written under temporary names next to their destination and renamed
by :func:`commit` only once everything succeeded.
"""

import os
import uuid

import numpy as np
from osgeo import gdal, ogr, osr

from .errors import InputError

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

GTIFF_OPTIONS = ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "PREDICTOR=2",
                 "ZLEVEL=1", "NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER"]
GPKG_DRIVER = "GPKG"


class GdalSource:
    """Reads windows of selected bands of a raster file (1-based band numbers)."""

    def __init__(self, path, bands=None):
        self.path = os.fspath(path)
        ds = open_raster(self.path)
        self.width, self.height = ds.RasterXSize, ds.RasterYSize
        count = ds.RasterCount
        self.bands = [int(b) for b in (bands or range(1, count + 1))]
        bad = [b for b in self.bands if not 1 <= b <= count]
        if bad:
            raise InputError(f"band(s) {bad} do not exist: the raster has {count} band(s)", parameter="BANDS")
        self.nodata = [ds.GetRasterBand(b).GetNoDataValue() for b in self.bands]
        self.geotransform = ds.GetGeoTransform()
        srs = ds.GetSpatialRef()
        self.crs_wkt = srs.ExportToWkt() if srs is not None else ""
        self.dtype = gdal.GetDataTypeName(ds.GetRasterBand(self.bands[0]).DataType)

    def read(self, x, y, w, h):
        """(bands, h, w) array in the raster's own data type."""
        ds = gdal.Open(self.path)
        arr = ds.ReadAsArray(int(x), int(y), int(w), int(h), band_list=self.bands)
        return arr.reshape(len(self.bands), int(h), int(w))

    def sample(self, step, progress=None, threads=1):
        """Every ``step``-th pixel of every ``step``-th row: ((n, bands) values, rows, cols).

        Reading the sampled rows decompresses every block row they cross, so the strips are read
        on ``threads`` threads (each with its own dataset; GDAL releases the GIL).
        """
        from concurrent.futures import ThreadPoolExecutor

        rows = np.arange(step // 2, self.height, step)
        cols = np.arange(step // 2, self.width, step)
        chunk = max(1, (1 << 22) // max(self.width, 1) // step)  # ~4 Mpx of raster per read
        starts = list(range(0, len(rows), chunk))
        out = None

        def read(k):
            ds = gdal.Open(self.path)
            r = rows[k:k + chunk]
            block = ds.ReadAsArray(0, int(r[0]), self.width, int(r[-1] - r[0] + 1), band_list=self.bands)
            return k, block.reshape(len(self.bands), -1, self.width)[:, r - r[0]][:, :, cols]

        with ThreadPoolExecutor(max(1, int(threads))) as pool:
            for done, (k, block) in enumerate(pool.map(read, starts)):
                if out is None:
                    out = np.empty((len(self.bands), len(rows), len(cols)), dtype=block.dtype)
                out[:, k:k + block.shape[1]] = block
                if progress is not None:
                    progress.set((done + 1) / len(starts))
                    progress.check()
        return out.reshape(len(self.bands), -1).T, rows, cols


class ArraySource:
    """An in-memory (bands, rows, cols) array seen as a raster (tests, scripts)."""

    def __init__(self, array, nodata=None):
        array = np.asarray(array)
        self.array = array[None] if array.ndim == 2 else array
        nb, self.height, self.width = self.array.shape
        self.bands = list(range(1, nb + 1))
        self.nodata = list(np.broadcast_to(np.asarray(nodata, dtype=object), (nb,)))
        self.geotransform = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
        self.crs_wkt = ""

    def read(self, x, y, w, h):
        return self.array[:, y:y + h, x:x + w]

    def sample(self, step, progress=None, threads=1):
        rows = np.arange(step // 2, self.height, step)
        cols = np.arange(step // 2, self.width, step)
        return self.array[:, rows][:, :, cols].reshape(len(self.bands), -1).T, rows, cols


def open_raster(path, parameter="INPUT"):
    if not os.path.exists(path) and not str(path).startswith("/vsi"):
        raise InputError(f"raster file not found: {path}", parameter=parameter)
    try:
        ds = gdal.Open(os.fspath(path))
    except RuntimeError as e:
        raise InputError(f"cannot open {path} as a raster: {e}", parameter=parameter) from e
    if ds is None or ds.RasterCount == 0:
        raise InputError(f"{path} has no raster bands", parameter=parameter)
    return ds


# -- atomic outputs ----------------------------------------------------------------------------
def temp_path(final_path, suffix=None):
    """A hidden name in the destination folder (same filesystem, so the rename is atomic)."""
    folder, name = os.path.split(os.path.abspath(final_path))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.{uuid.uuid4().hex[:8]}.partial{suffix or ext}")


def check_destination(path, parameter):
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise InputError(f"the folder {folder} does not exist", parameter=parameter)
    if not os.access(folder, os.W_OK):
        raise InputError(f"cannot write into {folder}", parameter=parameter)


def remove_quietly(path):
    for p in (path, path + ".aux.xml", path + "-wal", path + "-shm", path + "-journal"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def commit(tmp, final):
    """Move a finished temporary output onto its final name (replacing an older file)."""
    if os.path.exists(final):
        remove_quietly(final)
    os.replace(tmp, final)
    if os.path.exists(tmp + ".aux.xml"):
        os.replace(tmp + ".aux.xml", final + ".aux.xml")


# -- GeoTIFF -----------------------------------------------------------------------------------
def create_gtiff(path, width, height, bands, gdal_type, geotransform, crs_wkt, nodata, options=None):
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, int(width), int(height), int(bands), gdal_type, options=options or GTIFF_OPTIONS)
    ds.SetGeoTransform(tuple(geotransform))
    if crs_wkt:
        ds.SetProjection(crs_wkt)
    for b in range(1, bands + 1):
        ds.GetRasterBand(b).SetNoDataValue(nodata)
    return ds


class LabelSpool:
    """Raw uint32 core labels of finished tiles, on disk until the final ids are known.

    Plain positional reads/writes (they release the GIL); the page cache, not our process,
    holds the data, so memory does not grow with the raster.
    """

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.offsets = {}
        self.end = 0

    def put(self, key, arr):
        arr = np.ascontiguousarray(arr, dtype=np.uint32)
        offset = self.end
        self.end += arr.nbytes
        self.offsets[key] = (offset, arr.shape)
        os.pwrite(self.fd, memoryview(arr).cast("B"), offset)

    def get(self, key):
        offset, shape = self.offsets[key]
        n = int(np.prod(shape))
        buf = bytearray(n * 4)
        view = memoryview(buf)
        done = 0
        while done < len(buf):
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError("short read from the segmentation spool file")
            done += got
        return np.frombuffer(buf, dtype=np.uint32).reshape(shape)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        remove_quietly(self.path)


# -- polygons ----------------------------------------------------------------------------------
def polygonize(label_path, gpkg_path, stats, band_names, progress=None):
    """Segment polygons (4-connected, as the segments) with pixel count and per-band mean/std.

    ``stats`` = (count (n+1), mean (n+1, bands), std (n+1, bands)) indexed by segment id.
    """
    count, mean, std = stats
    src = gdal.Open(label_path)
    band = src.GetRasterBand(1)
    drv = ogr.GetDriverByName(GPKG_DRIVER)
    out = drv.CreateDataSource(gpkg_path)
    srs = None
    if src.GetProjection():
        srs = osr.SpatialReference()
        srs.ImportFromWkt(src.GetProjection())
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    layer = out.CreateLayer("segments", srs=srs, geom_type=ogr.wkbPolygon, options=["FID=fid"])
    layer.CreateField(ogr.FieldDefn("segment_id", ogr.OFTInteger64))
    layer.CreateField(ogr.FieldDefn("pixels", ogr.OFTInteger64))
    for name in band_names:
        layer.CreateField(ogr.FieldDefn(f"mean_{name}", ogr.OFTReal))
    for name in band_names:
        layer.CreateField(ogr.FieldDefn(f"std_{name}", ogr.OFTReal))
    cb = None
    if progress is not None:
        def cb(fraction, *_):  # noqa: E306
            progress.set(0.8 * fraction)
            return 0 if progress.canceled() else 1
    try:
        out.StartTransaction()
        try:
            gdal.Polygonize(band, band.GetMaskBand(), layer, 0, [], callback=cb)
        except RuntimeError:
            # GDAL reports a callback's stop as "User terminated": that is a cancel, not a bug
            if progress is not None:
                progress.check()
            raise
        out.CommitTransaction()
        if progress is not None:
            progress.check()
        nb = len(band_names)
        out.StartTransaction()
        layer.ResetReading()
        updates = [(f.GetFID(), f.GetFieldAsInteger64(0)) for f in layer]
        for k, (fid, sid) in enumerate(updates):
            if progress is not None and k % 20000 == 0:
                progress.set(0.8 + 0.2 * k / max(len(updates), 1))
                progress.check()
            f = layer.GetFeature(fid)
            f.SetField(1, int(count[sid]))
            for b in range(nb):
                f.SetField(2 + b, float(mean[sid, b]))
                f.SetField(2 + nb + b, float(std[sid, b]))
            layer.SetFeature(f)
        out.CommitTransaction()
    finally:
        # close before the caller removes a canceled file (an open GeoPackage would rewrite it)
        layer = band = None
        out = src = None
