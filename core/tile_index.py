"""The tile-index layer: one polygon per tile file, the hand-off between algorithms.

Layer ``tiles`` of a GeoPackage, polygons in the raster CRS (the exact footprint of the tile on
the source pixel grid), fields ``tile_id`` (str), ``row``, ``col`` (int), ``path`` (str, absolute
path of the tile file), ``valid_fraction``, ``center_x``, ``center_y`` (double). Extra fields may
follow (``rgbstretch`` adds ``source_path``). Written with OGR so scripts and Dask workers can use
it without QGIS.
"""

import os

from osgeo import ogr, osr

from .errors import InputError
from .progress import ensure
from .raster_io import atomic_output

ogr.UseExceptions()

LAYER = "tiles"
FIELDS = (
    ("tile_id", ogr.OFTString),
    ("row", ogr.OFTInteger),
    ("col", ogr.OFTInteger),
    ("path", ogr.OFTString),
    ("valid_fraction", ogr.OFTReal),
    ("center_x", ogr.OFTReal),
    ("center_y", ogr.OFTReal),
)
_DRIVERS = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".sqlite": "SQLite",
}


def vector_driver(path, parameter="OUTPUT"):
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _DRIVERS:
        raise InputError(
            f"cannot write a vector layer to '{ext or 'no extension'}': use .gpkg "
            f"(or {', '.join(e for e in _DRIVERS if e != '.gpkg')})",
            parameter=parameter,
        )
    return ogr.GetDriverByName(_DRIVERS[ext])


def _srs(crs_wkt):
    if not crs_wkt:
        return None
    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs_wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _ogr_type(value):
    if isinstance(value, bool) or isinstance(value, int):
        return ogr.OFTInteger64
    if isinstance(value, float):
        return ogr.OFTReal
    return ogr.OFTString


def write_features(
    path,
    records,
    crs_wkt,
    geometry_type,
    make_geometry,
    fields,
    layer_name=LAYER,
    parameter="OUTPUT",
    progress=None,
):
    """Write ``records`` (dicts) as one layer, atomically. ``fields``: (name, ogr type) pairs."""
    progress = ensure(progress)
    driver = vector_driver(path, parameter)
    with atomic_output(path, parameter=parameter) as tmp:
        ds = driver.CreateDataSource(tmp)
        gpkg = driver.GetName() == "GPKG"
        layer = ds.CreateLayer(
            layer_name,
            _srs(crs_wkt),
            geometry_type,
            ["FID=fid", "SPATIAL_INDEX=YES"] if gpkg else [],
        )
        for name, ftype in fields:
            layer.CreateField(ogr.FieldDefn(name, ftype))
        defn = layer.GetLayerDefn()
        names = [n for n, _ in fields]
        layer.StartTransaction()
        progress.start(len(records) or 1)
        for i, rec in enumerate(records):
            feature = ogr.Feature(defn)
            if gpkg:
                feature.SetFID(i + 1)  # fid = record order + 1: readers can go from a row to its feature
            for name in names:
                value = rec.get(name)
                if value is not None:
                    feature.SetField(name, value)
            feature.SetGeometry(make_geometry(rec))
            layer.CreateFeature(feature)
            if i % 1024 == 1023:  # a million tiles: report (and check cancel) per chunk, not per feature
                progress.step(1024)
        layer.CommitTransaction()
        progress.set(1.0)
        ds = None
    return os.path.abspath(path)


def footprint_polygon(corners):
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in list(corners) + [corners[0]]:
        ring.AddPoint_2D(float(x), float(y))
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


def write_tile_index(path, records, crs_wkt, layer_name=LAYER, parameter="OUTPUT", progress=None):
    """Write a tile index. Each record has the :data:`FIELDS` keys and ``corners``: the four
    footprint corners (UL, UR, LR, LL). Keys beyond those become extra fields."""
    extra = []
    if records:
        known = {n for n, _ in FIELDS} | {"corners", "wkt"}
        extra = [(k, _ogr_type(v)) for k, v in records[0].items() if k not in known]
    return write_features(
        path,
        records,
        crs_wkt,
        ogr.wkbPolygon,
        lambda r: footprint_polygon(r["corners"]),
        list(FIELDS) + extra,
        layer_name,
        parameter,
        progress,
    )


def _open_layer(path, layer_name=None, parameter="INPUT"):
    path = os.fspath(path)
    if "|layername=" in path:
        path, layer_name = path.split("|layername=", 1)
        layer_name = layer_name.split("|", 1)[0]
    try:
        ds = ogr.Open(path)
    except RuntimeError as e:
        raise InputError(f"cannot open the tile index {path}: {e}", parameter=parameter) from e
    if ds is None:
        raise InputError(f"cannot open the tile index {path}", parameter=parameter)
    if layer_name:
        layer = ds.GetLayerByName(layer_name)
    else:
        layer = ds.GetLayerByName(LAYER) or ds.GetLayer(0)
    if layer is None:
        raise InputError(f"{path} has no layer {layer_name or LAYER!r}", parameter=parameter)
    return ds, layer, path


def read_tile_index(path, layer_name=None, parameter="INPUT"):
    """The tile records of an index, as dicts of its fields plus ``wkt`` (footprint geometry).

    A relative ``path`` field is resolved against the index's folder.
    """
    ds, layer, index_path = _open_layer(path, layer_name, parameter)
    defn = layer.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    if "path" not in names:
        raise InputError(
            f"{index_path} is not a tile index: it has no 'path' field (make one with "
            f"'Split raster into tiles')",
            parameter=parameter,
        )
    base = os.path.dirname(os.path.abspath(index_path))
    records = []
    for feature in layer:
        rec = {n: feature.GetField(n) for n in names}
        if rec.get("path") and not os.path.isabs(rec["path"]):
            rec["path"] = os.path.normpath(os.path.join(base, rec["path"]))
        geom = feature.GetGeometryRef()
        rec["wkt"] = geom.ExportToWkt() if geom is not None else None
        records.append(rec)
    del layer, ds
    return records


def tile_index_crs(path, layer_name=None):
    """The index layer's CRS as WKT ('' when it has none)."""
    ds, layer, _ = _open_layer(path, layer_name)
    srs = layer.GetSpatialRef()
    wkt = srs.ExportToWkt() if srs is not None else ""
    del layer, ds
    return wkt
