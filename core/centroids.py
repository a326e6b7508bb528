"""Tile centres as a point layer (rs_stem, centralx, centraly) and an optional CSV.

The seed workflow computed each tile's centre from its file; here the centre is the image of the
tile's central pixel position through the full geotransform, so rotated and sheared tiles are
right. From a tile index the stored ``center_x``/``center_y`` are used (split computed them the
same way); an index without them falls back to the footprint polygon's centroid.
"""

import csv
import os

from osgeo import gdal, ogr

from .errors import InputError
from .grid import window_center
from .progress import ensure
from .raster_io import atomic_output, crs_wkt, has_georeferencing, list_rasters
from .tile_index import write_features

gdal.UseExceptions()

FIELDS = (("rs_stem", ogr.OFTString), ("centralx", ogr.OFTReal), ("centraly", ogr.OFTReal))


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def raster_center(path):
    ds = gdal.OpenEx(os.fspath(path), gdal.OF_RASTER)
    return window_center(ds.GetGeoTransform(), 0, 0, ds.RasterXSize, ds.RasterYSize), crs_wkt(ds), ds


def centroids_from_folder(folder, progress=None):
    """Centres of every georeferenced raster in ``folder``.

    Returns ``(records, crs_wkt, skipped)``: ``skipped`` lists files without georeferencing.
    Every tile must share one CRS.
    """
    progress = ensure(progress)
    records, skipped, crs = [], [], None
    for path in progress.iterate(list_rasters(folder)):
        try:
            ds = gdal.OpenEx(path, gdal.OF_RASTER)
        except RuntimeError:
            skipped.append(path)
            continue
        if not has_georeferencing(ds):
            skipped.append(path)
            continue
        wkt = crs_wkt(ds)
        if crs is None:
            crs = wkt
        elif wkt != crs and not _same_crs(wkt, crs):
            raise InputError(
                f"{os.path.basename(path)} has a different CRS from the other tiles: a centroid "
                f"layer needs one CRS",
                parameter="INPUT_FOLDER",
            )
        cx, cy = window_center(ds.GetGeoTransform(), 0, 0, ds.RasterXSize, ds.RasterYSize)
        records.append({"rs_stem": _stem(path), "centralx": cx, "centraly": cy, "path": path})
    if not records:
        raise InputError(
            f"no georeferenced raster in {folder} (tiles need a geotransform, e.g. a GeoTIFF "
            f"or a world file)",
            parameter="INPUT_FOLDER",
        )
    return records, crs or "", skipped


def _same_crs(a, b):
    from osgeo import osr

    sa, sb = osr.SpatialReference(), osr.SpatialReference()
    sa.SetFromUserInput(a)
    sb.SetFromUserInput(b)
    return bool(sa.IsSame(sb))


def centroids_from_records(records):
    """Centres from tile-index records (dicts with ``tile_id``/``path``, ``center_x``/``center_y``
    or ``wkt``)."""
    out = []
    for rec in records:
        stem = rec.get("tile_id") or (_stem(rec["path"]) if rec.get("path") else None)
        cx, cy = rec.get("center_x"), rec.get("center_y")
        if cx is None or cy is None:
            if rec.get("wkt"):
                c = ogr.CreateGeometryFromWkt(rec["wkt"]).Centroid()
                cx, cy = c.GetX(), c.GetY()
            elif rec.get("path") and os.path.exists(rec["path"]):
                (cx, cy), _, _ = raster_center(rec["path"])
            else:
                raise InputError(
                    f"tile {stem!r} has no centre, footprint or readable file", parameter="INPUT"
                )
        out.append({"rs_stem": stem, "centralx": float(cx), "centraly": float(cy), "path": rec.get("path")})
    if not out:
        raise InputError("the tile index has no tiles", parameter="INPUT")
    return out


def _point(rec):
    p = ogr.Geometry(ogr.wkbPoint)
    p.AddPoint_2D(rec["centralx"], rec["centraly"])
    return p


def write_centroids(records, crs, layer_path=None, csv_path=None, progress=None):
    """Write the centre points (layer ``centroids``) and/or the CSV (rs_stem, centralx, centraly)."""
    progress = ensure(progress)
    result = {}
    if csv_path:
        with atomic_output(csv_path, parameter="OUTPUT_CSV") as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([name for name, _ in FIELDS])
                for rec in records:
                    w.writerow([rec["rs_stem"], repr(rec["centralx"]), repr(rec["centraly"])])
        result["csv"] = os.path.abspath(csv_path)
    if layer_path:
        result["layer"] = write_features(
            layer_path,
            records,
            crs,
            ogr.wkbPoint,
            _point,
            list(FIELDS) + [("path", ogr.OFTString)],
            layer_name="centroids",
            progress=progress,
        )
    return result
