"""The main job, end to end on real NEON aerial imagery (run by `make demo` inside the QGIS 3.40 rootfs).

1. a study area (a polygon in WGS 84, so the clip reprojects) inside the 2299x2472 NEON YELL scene;
2. the shipped workflows, by their toolbox ids, with `qgis_process`: build_similarity_index
   (bboxmask -> splitraster -> rgbstretch -> embedtiles), then find_similar_places with a point
   layer of example places (a patch of sagebrush) on the index it built;
3. more similarity searches with `qgis_process`: a sagebrush tile, a conifer tile, and conifer
   minus open meadow (a negative example), each with a score for every tile;
4. the shipped segmentation workflow (bboxmask -> tiledsegmentation) with `qgis_process`;
5. PNG maps drawn by QGIS's own map renderer: query tiles and their look-alikes over the imagery,
   the similarity heatmap, segment boundaries.

    python3 scripts/demo.py [--out DIR] [--raster PATH] [--tile-size N]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets")
PLUGIN_PATH = os.environ.get("TE_PLUGIN_PATH", "/tmp/te-pypath")

# query places as pixel (x, y) of the clipped scene; tile ids follow from the tile size
PLACES = {"sagebrush": (250, 600), "conifers": (1850, 1980), "conifers_left": (450, 1600),
          "meadow": (1100, 950)}


def tile_at(place, tile_size):
    x, y = PLACES[place]
    return f"tile_r{y // tile_size}_c{x // tile_size}"


def searches_for(tile_size):
    t = lambda p: tile_at(p, tile_size)  # noqa: E731
    return {
        "sagebrush": {"QUERY_IDS": t("sagebrush")},
        "conifers": {"QUERY_IDS": t("conifers")},
        "conifers_not_meadow": {"QUERY_IDS": f"{t('conifers')},{t('conifers_left')}", "NEGATIVE_IDS": t("meadow")},
    }

TIMES = []


def step(name):
    class Timer:
        def __enter__(self):
            print(f"\n== {name}", flush=True)
            self.t = time.perf_counter()

        def __exit__(self, *exc):
            TIMES.append((name, time.perf_counter() - self.t))
            print(f"   done in {TIMES[-1][1]:.1f} s", flush=True)
    return Timer()


def qgis_process(*args, ok_if=None):
    env = dict(os.environ, QGIS_PLUGINPATH=PLUGIN_PATH, QT_QPA_PLATFORM="offscreen")
    cmd = ["qgis_process", "--json", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 and not (ok_if and ok_if in proc.stdout + proc.stderr):
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"qgis_process failed: {' '.join(cmd)}")
    out = proc.stdout
    return json.loads(out[out.index("{"):]) if "{" in out else {}


def run_alg(alg, params):
    args = ["run", alg, "--"] + [f"{k}={v}" for k, v in params.items()]
    return qgis_process(*args).get("results", {})


def make_places(tile_index, raster, names, path):
    """A point layer, in the tiles' CRS, on the PLACES ``names`` (pixels of the clipped scene,
    whose top-left corner is that of its first tile, tile_r0_c0)."""
    from osgeo import gdal, ogr

    gdal.UseExceptions()
    res = gdal.Open(raster).GetGeoTransform()[1]
    tiles = ogr.Open(tile_index)
    layer = tiles.GetLayer("tiles")
    layer.SetAttributeFilter("tile_id = 'tile_r0_c0'")
    first = layer.GetNextFeature()  # kept: a geometry lives only as long as its feature
    x0, _, _, y0 = first.GetGeometryRef().GetEnvelope()  # minx, maxx, miny, maxy
    if os.path.exists(path):
        os.remove(path)
    out = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    points = out.CreateLayer("places", layer.GetSpatialRef(), ogr.wkbPoint)
    points.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    for name in names:
        px, py = PLACES[name]
        feat = ogr.Feature(points.GetLayerDefn())
        feat.SetField("name", name)
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x0 + (px + 0.5) * res, y0 - (py + 0.5) * res)
        feat.SetGeometry(point)
        points.CreateFeature(feat)
    first = out = tiles = None
    return path


def first_result(results_gpkg):
    from osgeo import ogr

    ds = ogr.Open(results_gpkg)
    layer = ds.GetLayer()
    layer.SetAttributeFilter("rank = 1")
    first = layer.GetNextFeature()
    return first.GetField("tile_id")


def make_study_area(raster, path, inset_m=5.0):
    """A polygon inset from the raster's footprint, written in EPSG:4326."""
    from osgeo import gdal, ogr, osr

    gdal.UseExceptions()
    ds = gdal.Open(raster)
    gt = ds.GetGeoTransform()
    x0, y0 = gt[0] + inset_m, gt[3] - inset_m
    x1, y1 = gt[0] + gt[1] * ds.RasterXSize - inset_m, gt[3] + gt[5] * ds.RasterYSize + inset_m
    src = osr.SpatialReference(wkt=ds.GetProjection())
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(src, dst)
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)):
        lon, lat, _ = tr.TransformPoint(x, y)
        ring.AddPoint_2D(lon, lat)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    if os.path.exists(path):
        os.remove(path)
    out = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = out.CreateLayer("study_area", dst, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    feat = ogr.Feature(layer.GetLayerDefn())
    feat.SetField("name", "NEON YELL demo study area")
    feat.SetGeometry(poly)
    layer.CreateFeature(feat)
    out = None
    return path


# -- maps ----------------------------------------------------------------------------------------
def render_maps(out, raster, searches, segments_gpkg):
    """Draw the PNG maps in a QGIS application of our own (offscreen)."""
    import gc

    from qgis.core import QgsApplication

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QgsApplication([], True)  # labels need fonts, i.e. a GUI application (offscreen is fine)
    app.initQgis()
    pngs = _draw(out, raster, searches, segments_gpkg)
    gc.collect()  # every layer gone before QGIS shuts down
    app.exitQgis()
    return pngs


def _draw(out, raster, searches, segments_gpkg):
    from qgis.core import (
        QgsFeature,
        QgsFillSymbol,
        QgsMapRendererParallelJob,
        QgsMapSettings,
        QgsRasterLayer,
        QgsSingleSymbolRenderer,
        QgsVectorLayer,
    )
    from qgis.PyQt.QtCore import QMetaType, QSize
    from qgis.PyQt.QtGui import QColor

    from tile_embeddings.plugin.result_layers import memory_layer, style_heatmap, style_query, style_results

    imagery = QgsRasterLayer(raster, "NEON YELL")
    crs = imagery.crs()
    pngs = []

    def render(layers, name, extent=None, width=1100):
        settings = QgsMapSettings()
        settings.setLayers(layers)
        settings.setDestinationCrs(crs)
        ext = extent or imagery.extent()
        settings.setExtent(ext)
        height = int(width * ext.height() / ext.width())
        settings.setOutputSize(QSize(width, height))
        settings.setBackgroundColor(QColor("white"))
        job = QgsMapRendererParallelJob(settings)
        job.start()
        job.waitForFinished()
        path = os.path.join(out, name)
        job.renderedImage().save(path, "PNG")
        pngs.append(path)
        print(f"   map: {path}")

    text = QMetaType.Type.QString
    for name, (results_path, scores_path, query_ids, negative_ids) in searches.items():
        results = QgsVectorLayer(results_path, "results", "ogr")
        style_results(results)
        scores = QgsVectorLayer(scores_path, "scores", "ogr")
        style_heatmap(scores)
        # the query tiles, styled as the dock shows them (the scores layer holds every tile)
        roles = {**{t: "negative" for t in negative_ids}, **{t: "positive" for t in query_ids}}
        query = memory_layer("query", scores.crs().toWkt(), [("tile_id", text), ("role", text)])
        features = []
        for f in scores.getFeatures():
            if f["tile_id"] in roles:
                g = QgsFeature(query.fields())
                g.setGeometry(f.geometry())
                g.setAttributes([f["tile_id"], roles[f["tile_id"]]])
                features.append(g)
        query.dataProvider().addFeatures(features)
        style_query(query)
        render([query, results, imagery], f"similar_{name}.png")
        render([query, scores, imagery], f"heatmap_{name}.png")

    polygons = QgsVectorLayer(segments_gpkg, "segments", "ogr")
    polygons.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {"color": "0,0,0,0", "outline_color": "255,0,255,220", "outline_width": "0.15"})))
    render([polygons, imagery], "segments.png")
    ext = imagery.extent()
    ext.scale(0.15)
    render([polygons, imagery], "segments_zoom.png", extent=ext)
    return pngs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("TE_DEMO_OUT") or os.path.join(ROOT, "demo-output"))
    parser.add_argument("--raster", default=os.path.join(ASSETS, "NEON_YELL_crop2.tif"))
    parser.add_argument("--tile-size", type=int, default=128)
    parser.add_argument("--maps-only", action="store_true", help="re-draw the maps of an earlier run")
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t_all = time.perf_counter()

    SEARCHES = searches_for(args.tile_size)
    if args.maps_only:
        searches = {n: (os.path.join(out, f"similar_{n}.gpkg"), os.path.join(out, f"scores_{n}.gpkg"),
                        q["QUERY_IDS"].split(","), q.get("NEGATIVE_IDS", "").split(",")) for n, q in SEARCHES.items()}
        render_maps(out, args.raster, searches, os.path.join(out, "segments.gpkg"))
        return 0

    with step("enable the plugin for qgis_process"):
        qgis_process("plugins", "enable", "tile_embeddings", ok_if="already enabled")

    with step("study area (EPSG:4326 polygon inside the NEON scene)"):
        study_area = make_study_area(args.raster, os.path.join(out, "study_area.gpkg"))

    work = os.path.join(out, "workflow")
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    index = os.path.join(work, "neon_yell.teindex")
    tile_index = os.path.join(work, "tiles.gpkg")
    with step("workflow build_similarity_index: bboxmask -> splitraster -> rgbstretch -> embedtiles"):
        results = run_alg("tile_embeddings:build_similarity_index", {
            "raster": args.raster, "study_area": study_area, "tile_size": args.tile_size, "prefix": "tile",
            "tile_folder": os.path.join(work, "tiles"), "tile_index": tile_index,
            "rgb_tile_folder": os.path.join(work, "rgb"),
            "rgb_tile_index": os.path.join(work, "rgb_tiles.gpkg"),
            "similarity_index": index,
        })
        print("   outputs:", ", ".join(sorted(results)))

    with step("workflow find_similar_places: a point on sagebrush -> similaritysearch"):
        places = make_places(tile_index, args.raster, ["sagebrush"], os.path.join(work, "places.gpkg"))
        similar = os.path.join(work, "similar_sagebrush_places.gpkg")
        run_alg("tile_embeddings:find_similar_places", {
            "index": index, "places": places, "k": 10, "similar_tiles": similar,
            "heatmap_scores": os.path.join(work, "heatmap_sagebrush_places.gpkg"),
        })
        top = first_result(similar)
        if top != SEARCHES["sagebrush"]["QUERY_IDS"]:
            raise SystemExit(f"the place search found {top} first, not the tile under the point")
        print(f"   most similar: {top} (the tile under the point)")

    searches = {}
    for name, query in SEARCHES.items():
        with step(f"similarity search: {name}"):
            res = os.path.join(out, f"similar_{name}.gpkg")
            scores = os.path.join(out, f"scores_{name}.gpkg")
            run_alg("tile_embeddings:similaritysearch", {"INDEX": index, "K": 10, "EXCLUDE_QUERY": "true",
                                                         "OUTPUT": res, "SCORES": scores, **query})
            searches[name] = (res, scores, query["QUERY_IDS"].split(","), query.get("NEGATIVE_IDS", "").split(","))

    with step("workflow study_area_segmentation: bboxmask -> tiledsegmentation"):
        seg_results = run_alg("tile_embeddings:study_area_segmentation", {
            "raster": args.raster, "study_area": study_area, "num_clusters": 30, "min_pixels": 400,
            "clipped_raster": os.path.join(out, "clipped.tif"),
            "segments": os.path.join(out, "segments.tif"),
            "segment_polygons": os.path.join(out, "segments.gpkg"),
        })
        print("   outputs:", ", ".join(sorted(seg_results)))

    with step("maps (QGIS map renderer)"):
        pngs = render_maps(out, args.raster, searches, os.path.join(out, "segments.gpkg"))

    print("\n== timings")
    for name, seconds in TIMES:
        print(f"   {seconds:7.1f} s  {name}")
    print(f"   {time.perf_counter() - t_all:7.1f} s  total")
    print(f"\nOutputs in {out}:")
    print(f"   similarity index: {index}")
    for p in pngs:
        print(f"   {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
