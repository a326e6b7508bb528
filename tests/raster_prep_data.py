"""Small synthetic rasters for the raster-preparation tests (no qgis import)."""

import contextlib
import math
import os
import stat
import subprocess

import numpy as np
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()

NORTH_UP = (500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0)
_TYPES = {
    "uint8": gdal.GDT_Byte,
    "uint16": gdal.GDT_UInt16,
    "int16": gdal.GDT_Int16,
    "float32": gdal.GDT_Float32,
}


def rotated_gt(angle_deg=20.0, res=1.0, x0=500000.0, y0=4000000.0):
    a = math.radians(angle_deg)
    return (x0, res * math.cos(a), res * math.sin(a), y0, res * math.sin(a), -res * math.cos(a))


def write_raster(path, array, gt=NORTH_UP, crs="EPSG:32617", nodata=None, descriptions=None, block=None):
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    nb, h, w = array.shape
    opts = ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}"] if block else []
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, nb, _TYPES[array.dtype.name], opts)
    ds.SetGeoTransform(gt)
    if crs:
        ds.SetProjection(crs)
    for i in range(nb):
        band = ds.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if descriptions:
            band.SetDescription(descriptions[i])
        band.WriteArray(array[i])
    ds = None
    return str(path)


def gradient(nb=3, h=300, w=400, dtype="uint8", seed=0):
    """Distinct values per pixel position so windows can be checked exactly."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    bands = [((yy * 3 + xx * 7 + 31 * b) % 250 + 1) for b in range(nb)]
    a = np.stack(bands).astype(np.float64)
    if dtype == "uint16":
        a = a * 40 + rng.integers(0, 40, a.shape)
    elif dtype == "float32":
        a = a / 250.0 + rng.normal(0, 0.001, a.shape)
    return a.astype(dtype)


def write_polygon_layer(path, bbox, crs="EPSG:32617", layer="area"):
    xmin, ymin, xmax, ymax = bbox
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = None
    if crs:
        srs = osr.SpatialReference()
        srs.SetFromUserInput(crs)
    lyr = ds.CreateLayer(layer, srs, ogr.wkbPolygon)
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(
        ogr.CreateGeometryFromWkt(
            f"POLYGON(({xmin} {ymin},{xmax} {ymin},{xmax} {ymax},{xmin} {ymax},{xmin} {ymin}))"
        )
    )
    lyr.CreateFeature(f)
    ds = None
    return f"{path}|layername={layer}"


def read(path):
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds.GetGeoTransform(), ds


@contextlib.contextmanager
def read_only_folder(path):
    """A folder nobody can write to: chmod for normal users; for root (which ignores modes) a
    read-only bind mount (the test environment runs in its own mount namespace). Yields None
    when neither is possible, so the caller can skip."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        os.chmod(path, stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield path
        finally:
            os.chmod(path, stat.S_IRWXU)
        return
    ok = subprocess.run(["mount", "--bind", path, path], capture_output=True).returncode == 0
    ok = ok and subprocess.run(["mount", "-o", "remount,bind,ro", path], capture_output=True).returncode == 0
    try:
        yield path if ok else None
    finally:
        subprocess.run(["umount", path], capture_output=True)
