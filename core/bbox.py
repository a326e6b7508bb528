"""Clip a raster to a bounding box on its own pixel grid (no resampling), streaming windows."""

import os

from osgeo import gdal, osr

from .errors import InputError
from .grid import bbox_to_window, block_windows, shifted_geotransform, window_bounds
from .progress import ensure
from .raster_io import GTIFF_TILED, atomic_output, copy_band_metadata, crs_wkt, open_raster

gdal.UseExceptions()


def transform_bbox(bbox, from_crs, to_crs_wkt):
    """``bbox`` from ``from_crs`` (WKT, 'EPSG:n', ...) into the raster CRS, densified edges."""
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.SetFromUserInput(from_crs)
    dst.SetFromUserInput(to_crs_wkt)
    if src.IsSame(dst):
        return tuple(bbox)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    xmin, ymin, xmax, ymax = ct.TransformBounds(*bbox, 21)
    return (xmin, ymin, xmax, ymax)


def gtiff_options(ds, compress="DEFLATE"):
    opts = list(GTIFF_TILED)
    if compress and compress.upper() != "NONE":
        opts.append(f"COMPRESS={compress.upper()}")
        kind = gdal.GetDataTypeName(ds.GetRasterBand(1).DataType)
        opts.append("PREDICTOR=3" if kind.startswith("Float") else "PREDICTOR=2")
    if ds.RasterCount > 1:
        opts.append("INTERLEAVE=PIXEL")
    return opts


def bbox_mask(
    src_path, dst_path, bbox, bbox_crs=None, buffer=0.0, compress="DEFLATE", progress=None, max_pixels=1 << 22
):
    """Write the part of ``src_path`` covering ``bbox`` (xmin, ymin, xmax, ymax) to ``dst_path``.

    ``bbox_crs`` is the bbox's CRS (WKT or 'EPSG:n'); the bbox is reprojected to the raster CRS,
    grown by ``buffer`` raster-CRS units, snapped outward to whole source pixels and clipped to the
    raster. The output is a tiled compressed GeoTIFF keeping nodata, band descriptions, colour
    interpretation, metadata and CRS. Returns a dict: ``path``, ``window`` (xoff, yoff, xsize,
    ysize) and ``extent`` (output bounds in the raster CRS).
    """
    progress = ensure(progress)
    if os.path.splitext(os.fspath(dst_path))[1].lower() not in (".tif", ".tiff"):
        raise InputError("the clipped raster is a GeoTIFF: give the output a .tif name", parameter="OUTPUT")
    ds = open_raster(src_path)
    raster_crs = crs_wkt(ds)
    if not raster_crs:
        raise InputError(
            f"{os.path.basename(os.fspath(src_path))} has no CRS, so the study area cannot be "
            f"placed on it: assign the raster's CRS first (Raster > Projections > Assign "
            f"Projection)",
            parameter="INPUT",
        )
    gt = ds.GetGeoTransform()
    if bbox_crs:
        try:
            bbox = transform_bbox(bbox, bbox_crs, raster_crs)
        except RuntimeError as e:
            raise InputError(
                f"cannot reproject the study area extent to the raster CRS: {e}", parameter="STUDY_AREA"
            ) from e
    buffer = float(buffer or 0.0)
    xmin, ymin, xmax, ymax = bbox
    bbox = (xmin - buffer, ymin - buffer, xmax + buffer, ymax + buffer)
    if not (bbox[2] > bbox[0] and bbox[3] > bbox[1]):
        raise InputError(
            "the study area's extent is empty (a negative buffer larger than the area?)",
            parameter="BUFFER" if buffer < 0 else "STUDY_AREA",
        )
    window = bbox_to_window(gt, bbox, ds.RasterXSize, ds.RasterYSize)
    if window is None:
        rb = window_bounds(gt, 0, 0, ds.RasterXSize, ds.RasterYSize)
        raise InputError(
            "the study area does not overlap the raster: study area extent "
            f"({bbox[0]:.3f}, {bbox[1]:.3f}, {bbox[2]:.3f}, {bbox[3]:.3f}), raster extent "
            f"({rb[0]:.3f}, {rb[1]:.3f}, {rb[2]:.3f}, {rb[3]:.3f}) in the raster CRS. Check that both "
            f"layers have the right CRS",
            parameter="STUDY_AREA",
        )
    xoff, yoff, xsize, ysize = window
    driver = gdal.GetDriverByName("GTiff")
    dtype = ds.GetRasterBand(1).DataType
    with atomic_output(dst_path) as tmp:
        out = driver.Create(tmp, xsize, ysize, ds.RasterCount, dtype, gtiff_options(ds, compress))
        out.SetGeoTransform(shifted_geotransform(gt, xoff, yoff))
        out.SetProjection(raster_crs)
        md = ds.GetMetadata() or {}
        if md:
            out.SetMetadata(md)
        copy_band_metadata(ds, out)
        for b in range(1, ds.RasterCount + 1):
            ct = ds.GetRasterBand(b).GetColorTable()
            if ct is not None:
                out.GetRasterBand(b).SetColorTable(ct)
        windows = list(block_windows(xsize, ysize, 256, 256, max_pixels))
        progress.start(len(windows))
        for wx, wy, ws, wh in windows:
            data = ds.ReadRaster(xoff + wx, yoff + wy, ws, wh, buf_type=dtype)
            out.WriteRaster(wx, wy, ws, wh, data, buf_type=dtype)
            # write and drop the blocks now: the GDAL block cache must not grow with the raster
            out.FlushCache()
            ds.FlushCache()
            progress.step()
        out = None
    extent = window_bounds(gt, xoff, yoff, xsize, ysize)
    return {"path": os.path.abspath(os.fspath(dst_path)), "window": window, "extent": extent}
