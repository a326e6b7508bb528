"""Public entry point: segment a raster file into a segment-id GeoTIFF (and optional outputs).

    from tile_embeddings.core.tiled_segmentation import segment_raster
    summary = segment_raster("ortho.tif", "segments.tif", num_clusters=60, min_pixels=100,
                             scheduler="tcp://10.0.0.5:8786")   # omit for local threads

Outputs are atomic: written under hidden temporary names in their folders and renamed at the end,
so a failed or canceled run leaves no partial file and leaves older outputs untouched.
"""

import os
import time

import numpy as np
from osgeo import gdal

from . import seg_io
from .errors import InputError
from .progress import ensure
from .seg_kmeans import KMeansOptions
from .seg_tiling import DEFAULTS, segment


def segment_raster(input_path, output_path, bands=None, num_clusters=60, min_pixels=100, max_distance=0.0,
                   tile_width=2048, tile_height=2048, overlap=100, valid_data_threshold=0.05,
                   sample_size=100_000, workers=0, scheduler=None, mean_output=None,
                   polygons_output=None, progress=None, kmeans=None, cleanup=False):
    """Tiled Shepherd segmentation of ``input_path`` (see :mod:`.seg_tiling`).

    ``kmeans``: a :class:`.seg_kmeans.KMeansOptions` (seed, iterations, restarts, band
    standardisation; default: standardised bands, k-means++, 3 runs to convergence).
    ``cleanup``: merge every segment still under ``min_pixels`` into its nearest neighbour.
    Returns a dict: segments, nodata_pixels (pixels with id 0; every valid pixel has an id),
    tiles, clusters, requested_clusters, max_distance, standardised, inertia, seconds, timings
    (seconds per stage), outputs.
    """
    progress = ensure(progress)
    t0 = time.perf_counter()
    source = seg_io.GdalSource(input_path, bands)
    for path, param in ((output_path, "OUTPUT"), (mean_output, "OUTPUT_MEAN"),
                        (polygons_output, "OUTPUT_POLYGONS")):
        if path:
            seg_io.check_destination(path, param)
    if os.path.abspath(output_path) == os.path.abspath(input_path):
        raise InputError("the output would overwrite the input raster", parameter="OUTPUT")
    spool = seg_io.temp_path(output_path, ".spool")
    temps = []
    read_labels = None
    try:
        st, tiles, model, read_labels = segment(
            source, num_clusters=num_clusters, min_pixels=min_pixels, max_distance=max_distance,
            tile_width=tile_width, tile_height=tile_height, overlap=overlap,
            valid_data_threshold=valid_data_threshold, sample_size=sample_size, workers=workers,
            scheduler=scheduler, spool_path=spool, progress=progress.sub(0.0, 0.8), kmeans=kmeans,
            cleanup=cleanup)
        write = progress.sub(0.8, 0.95 if polygons_output else 1.0)
        write.text("Writing the segment raster")
        seg_tmp = seg_io.temp_path(output_path, ".tif")
        temps.append(seg_tmp)
        out = seg_io.create_gtiff(seg_tmp, source.width, source.height, 1, gdal.GDT_UInt32,
                                  source.geotransform, source.crs_wkt, 0)
        band = out.GetRasterBand(1)
        band.SetDescription("segment id")
        mean_ds = None
        if mean_output:
            mean_tmp = seg_io.temp_path(mean_output, ".tif")
            temps.append(mean_tmp)
            nd = next((v for v in source.nodata if v is not None), None)
            nd = -9999.0 if nd is None else float(nd)
            mean_ds = seg_io.create_gtiff(mean_tmp, source.width, source.height, len(source.bands),
                                          gdal.GDT_Float32, source.geotransform, source.crs_wkt, nd,
                                          options=[o for o in seg_io.GTIFF_OPTIONS if o != "PREDICTOR=2"]
                                          + ["PREDICTOR=3"])
            means = np.vstack([np.full((1, len(source.bands)), nd), st.mean[1:]]).astype(np.float32)
        nodata_pixels = 0
        write.start(len(tiles))
        for spec in tiles:
            labels = read_labels(spec)
            nodata_pixels += int(labels.size - np.count_nonzero(labels))
            band.WriteArray(labels, spec.x0, spec.y0)
            if mean_ds is not None:
                for b in range(len(source.bands)):
                    mean_ds.GetRasterBand(b + 1).WriteArray(means[:, b][labels], spec.x0, spec.y0)
            write.step()
        out.FlushCache()
        out = band = None
        if mean_ds is not None:
            for b, n in enumerate(source.bands):
                mean_ds.GetRasterBand(b + 1).SetDescription(f"segment mean of band {n}")
            mean_ds.FlushCache()
            mean_ds = None
        st.timings["write"] = time.perf_counter() - t0 - sum(st.timings.values())
        poly_tmp = None
        if polygons_output:
            poly_tmp = seg_io.temp_path(polygons_output, ".gpkg")
            temps.append(poly_tmp)
            poly = progress.sub(0.95, 1.0)
            poly.text("Polygonising segments")
            t_poly = time.perf_counter()
            seg_io.polygonize(seg_tmp, poly_tmp, (st.count, st.mean, st.std),
                              [f"b{n}" for n in source.bands], poly)
            st.timings["polygons"] = time.perf_counter() - t_poly
        # everything succeeded: move outputs into place
        seg_io.commit(seg_tmp, output_path)
        if mean_output:
            seg_io.commit(mean_tmp, mean_output)
        if poly_tmp:
            seg_io.commit(poly_tmp, polygons_output)
        temps = []
    finally:
        if read_labels is not None:
            read_labels.close()
        else:
            seg_io.remove_quietly(spool)
        for t in temps:
            seg_io.remove_quietly(t)
    # nodata_pixels counts 0 ids; every valid pixel has an id by construction (checked in tests)
    return dict(segments=st.segments, nodata_pixels=nodata_pixels, tiles=len(tiles),
                clusters=len(model.centres), requested_clusters=model.requested_clusters,
                max_distance=model.max_distance, standardised=model.standardised,
                inertia=model.inertia, kmeans_iterations=model.iterations,
                seconds=time.perf_counter() - t0, timings=dict(st.timings),
                outputs=dict(OUTPUT=output_path, OUTPUT_MEAN=mean_output, OUTPUT_POLYGONS=polygons_output))


__all__ = ["segment_raster", "DEFAULTS", "KMeansOptions"]
