"""Detections: the tiles a classifier finds, dissolved into areas, and the tile layers the
classifier's results are written to (QGIS-free, OGR).

A detection is a group of tiles at or above the threshold that touch, by an edge or a corner,
merged into one MultiPolygon with its area, tile count and highest and mean probability. On a
regular tile grid (a raster tiled by 'Embed tiles' or 'Split raster into tiles', recognised by
:func:`.tile_grid.fit_tile_grid`) the groups come from the grid cells; tiles that form no single
grid (several sources, hand-made tile sets) are grouped by geometric contact.
"""

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .progress import ensure


@dataclass
class Detection:
    """Touching tiles above the threshold, dissolved: geometry as WKB (MultiPolygon, index CRS)."""

    wkb: bytes
    area: float
    tile_count: int
    max_probability: float
    mean_probability: float
    rows: np.ndarray


def hide_constant(index, probabilities, include_constant=False):
    """Set the probability of the index's constant tiles (:attr:`.index.TileIndex.constant`: a fill
    value, a blank scan) to NaN, in place, unless ``include_constant``: they all embed alike, so a
    classifier that takes one for the target takes them all. NaN is no probability: below every
    threshold, never proposed, written as NULL. Returns how many were hidden."""
    constant = None if include_constant else index.constant
    if constant is None or not constant.any():
        return 0
    probabilities[constant] = np.nan
    return int(constant.sum())


def detected_rows(probabilities, threshold=0.5):
    """Rows whose probability is at least ``threshold``."""
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise InputError("the threshold must be between 0 and 1.", parameter="THRESHOLD")
    return np.flatnonzero(np.asarray(probabilities) >= threshold).astype(np.int64)


# -- the tiles' layer -----------------------------------------------------------------------------
def _tiles_layer(index):
    from osgeo import ogr

    from .index import TILES_LAYER

    ogr.UseExceptions()
    ds = ogr.Open(index.tiles_path)
    layer = ds.GetLayerByName(TILES_LAYER) if ds is not None else None
    if layer is None:
        raise InputError(f"{index.tiles_path} has no layer 'tiles': rebuild the index.", parameter="INDEX")
    return ds, layer


def tile_table(index, progress=None):
    """``row``, ``col`` (int64), ``center_x``, ``center_y`` (float64, NaN when missing) of every
    tile, in index row order (fid = row + 1)."""
    progress = ensure(progress)
    n = len(index)
    table = {"row": np.zeros(n, np.int64), "col": np.zeros(n, np.int64),
             "center_x": np.full(n, np.nan), "center_y": np.full(n, np.nan)}
    ds, layer = _tiles_layer(index)
    defn = layer.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    wanted = [k for k in table if k in names]
    layer.SetIgnoredFields([f for f in names if f not in wanted] + ["OGR_GEOMETRY"])
    progress.start(max(1, n // 4096))
    for i, feature in enumerate(layer):
        row = feature.GetFID() - 1
        if 0 <= row < n:
            for k in wanted:
                value = feature.GetField(k)
                if value is not None:
                    table[k][row] = value
        if i % 4096 == 4095:
            progress.step()
    del layer, ds
    return table


def _tile_geometries(index, rows, progress):
    """OGR geometries of ``rows`` (in that order), checked against the index's ids."""
    ds, layer = _tiles_layer(index)
    wanted = {int(r) + 1: i for i, r in enumerate(rows)}
    out = [None] * len(rows)
    progress.start(max(1, len(rows) // 1024))
    done = 0

    def take(feature):
        nonlocal done
        i = wanted[feature.GetFID()]
        if feature.GetField("tile_id") != index.ids[rows[i]]:
            raise InputError("tiles.gpkg does not match the embeddings: rebuild the index.", parameter="INDEX")
        out[i] = feature.GetGeometryRef().Clone()
        done += 1
        if done % 1024 == 0:
            progress.step()

    if len(rows) > len(index) // 8:  # many: one pass over the layer beats random access
        for feature in layer:
            if feature.GetFID() in wanted:
                take(feature)
    else:
        for fid in wanted:
            feature = layer.GetFeature(fid)
            if feature is not None:
                take(feature)
    del layer, ds
    if any(g is None for g in out):
        raise InputError("tiles.gpkg lacks tiles that the embeddings hold: rebuild the index.", parameter="INDEX")
    return out


def _groups_on_grid(cells):
    """Connected groups (8-neighbourhood) of grid cells ``[(r, c), ...]``: lists of positions."""
    where = {cell: i for i, cell in enumerate(cells)}
    seen = np.zeros(len(cells), bool)
    groups = []
    for start in range(len(cells)):
        if seen[start]:
            continue
        seen[start] = True
        stack, group = [start], []
        while stack:
            i = stack.pop()
            group.append(i)
            r, c = cells[i]
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    j = where.get((r + dr, c + dc))
                    if j is not None and not seen[j]:
                        seen[j] = True
                        stack.append(j)
        groups.append(sorted(group))
    return groups


def _groups_by_contact(geometries):
    """Connected groups of geometries that touch or overlap (tiles that form no single grid)."""
    env = np.array([g.GetEnvelope() for g in geometries])  # minx, maxx, miny, maxy
    size = float(np.median(np.maximum(env[:, 1] - env[:, 0], env[:, 3] - env[:, 2]))) or 1.0
    eps = size * 1e-9
    parent = list(range(len(geometries)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    buckets = {}
    for i, (x0, x1, y0, y1) in enumerate(env):
        for cx in range(int(np.floor((x0 - eps) / size)), int(np.floor((x1 + eps) / size)) + 1):
            for cy in range(int(np.floor((y0 - eps) / size)), int(np.floor((y1 + eps) / size)) + 1):
                buckets.setdefault((cx, cy), []).append(i)
    for members in buckets.values():
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if root(a) == root(b):
                    continue
                ea, eb = env[a], env[b]
                if ea[0] > eb[1] + eps or eb[0] > ea[1] + eps or ea[2] > eb[3] + eps or eb[2] > ea[3] + eps:
                    continue
                if geometries[a].Intersects(geometries[b]) or geometries[a].Distance(geometries[b]) <= eps:
                    parent[root(a)] = root(b)
    groups = {}
    for i in range(len(geometries)):
        groups.setdefault(root(i), []).append(i)
    return [sorted(g) for g in groups.values()]


def detection_regions(index, probabilities, threshold=0.5, progress=None, table=None):
    """Tiles at or above ``threshold``, dissolved into one region per group of touching tiles
    (edges or corners), strongest first. ``table``: :func:`tile_table`'s result, if at hand."""
    from osgeo import ogr

    from .tile_grid import fit_tile_grid

    progress = ensure(progress)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    rows = detected_rows(probabilities, threshold)
    if not len(rows):
        progress.set(1.0)
        return []
    table = table if table is not None else tile_table(index, progress.sub(0.0, 0.2))
    geometries = _tile_geometries(index, rows, progress.sub(0.2, 0.5))
    grid = fit_tile_grid(table["row"], table["col"], table["center_x"], table["center_y"])
    if grid is not None:
        groups = _groups_on_grid(list(zip(grid.cell_row[rows].tolist(), grid.cell_col[rows].tolist())))
    else:
        groups = _groups_by_contact(geometries)
    sub = progress.sub(0.5, 1.0)
    sub.start(len(groups))
    out = []
    for group in groups:
        multi = ogr.Geometry(ogr.wkbMultiPolygon)
        for i in group:
            g = geometries[i]
            if g.GetGeometryType() in (ogr.wkbMultiPolygon, ogr.wkbMultiPolygon25D):
                for k in range(g.GetGeometryCount()):
                    multi.AddGeometry(g.GetGeometryRef(k))
            else:
                multi.AddGeometry(g)
        merged = ogr.ForceToMultiPolygon(multi.UnionCascaded() if len(group) > 1 else multi)
        p = probabilities[rows[group]]
        out.append(Detection(wkb=bytes(merged.ExportToIsoWkb()), area=float(merged.GetArea()),
                             tile_count=len(group), max_probability=float(p.max()),
                             mean_probability=float(p.mean()), rows=rows[group]))
        sub.step()
    out.sort(key=lambda d: (-d.max_probability, int(d.rows[0])))
    return out


def write_probabilities(index, probabilities, path, parameter="OUTPUT", progress=None):
    """Every tile's footprint with ``tile_id`` and ``probability`` (layer "probabilities"; NULL for a
    hidden constant tile), atomically."""
    from osgeo import ogr

    from .tile_index import write_features

    progress = ensure(progress)
    ds, layer = _tiles_layer(index)
    n = len(index)
    records = []
    progress.start(max(1, n // 4096) * 2)
    for i, feature in enumerate(layer):
        row = feature.GetFID() - 1
        if not 0 <= row < n or feature.GetField("tile_id") != index.ids[row]:
            raise InputError("tiles.gpkg does not match the embeddings: rebuild the index.", parameter="INDEX")
        p = float(probabilities[row])
        records.append({"tile_id": index.ids[row], "probability": p if p == p else None,  # NaN: NULL
                        "geometry": feature.GetGeometryRef().Clone()})
        if i % 4096 == 4095:
            progress.step()
    del layer, ds
    fields = [("tile_id", ogr.OFTString), ("probability", ogr.OFTReal)]
    return write_features(path, records, index.crs_wkt, ogr.wkbPolygon, lambda r: r["geometry"], fields,
                          layer_name="probabilities", parameter=parameter, progress=progress.sub(0.5, 1.0))


def write_detections(path, detections, crs_wkt, parameter="DETECTIONS", progress=None):
    """Detections as MultiPolygons with ``detection`` (1 = strongest), ``tile_count``, ``area`` (CRS
    units squared), ``max_probability`` and ``mean_probability`` (layer "detections"), atomically."""
    from osgeo import ogr

    from .tile_index import write_features

    records = [{"detection": i, "tile_count": d.tile_count, "area": d.area, "max_probability": d.max_probability,
                "mean_probability": d.mean_probability, "wkb": d.wkb} for i, d in enumerate(detections, 1)]
    fields = [("detection", ogr.OFTInteger), ("tile_count", ogr.OFTInteger), ("area", ogr.OFTReal),
              ("max_probability", ogr.OFTReal), ("mean_probability", ogr.OFTReal)]
    return write_features(path, records, crs_wkt, ogr.wkbMultiPolygon, lambda r: ogr.CreateGeometryFromWkb(r["wkb"]),
                          fields, layer_name="detections", parameter=parameter, progress=progress)
