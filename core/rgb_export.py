"""Write 8-bit RGB images (JPEG, PNG or GeoTIFF) stretched from any raster or tile set.

The outputs still sit in place in QGIS: GeoTIFFs carry their georeferencing, JPEG and PNG get a
``.aux.xml`` with the CRS and geotransform (and, on request, a world file for other software).
Each output records the cut values it was stretched with in its metadata (``TE_STRETCH_CUTS``),
so a global stretch can be checked tile by tile.
Pixels that are nodata in the source become 0 (and valid pixels 1..255), with 0 declared as the
output's nodata.
"""

import os
import re

import numpy as np
from osgeo import gdal

from .errors import InputError
from .grid import block_windows, window_center, window_corners
from .progress import ensure
from .raster_io import (
    all_valid,
    atomic_output,
    crs_wkt,
    gdal_callback,
    list_rasters,
    no_dir_scan,
    open_raster,
    pixel_valid,
    read_window,
    staging_folder,
)
from .stretch import apply_cuts, check_bands, compute_cuts, percentile_cuts_array
from .thread_pool import ordered_map
from .tile_index import read_tile_index, vector_driver, write_tile_index

gdal.UseExceptions()

FORMATS = {"JPEG": ".jpg", "PNG": ".png", "GTiff": ".tif"}
SCOPES = ("global", "per_tile")
_EXT_TO_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "GTiff", ".tiff": "GTiff"}
_ROW_COL = re.compile(r"_r(\d+)_c(\d+)$")


def parse_bands(text, parameter="BANDS"):
    """'3,2,1' -> [3, 2, 1]; one or three positive band numbers."""
    if isinstance(text, (list, tuple)):
        parts = [str(p) for p in text]
    else:
        parts = [p for p in re.split(r"[,\s;]+", str(text or "").strip()) if p]
    try:
        bands = [int(p) for p in parts]
    except ValueError as e:
        raise InputError(
            f"band order must be band numbers like '3,2,1', not {text!r}", parameter=parameter
        ) from e
    if len(bands) not in (1, 3) or min(bands) < 1:
        raise InputError(
            f"band order needs one (grey) or three (red, green, blue) band numbers from 1, not {text!r}",
            parameter=parameter,
        )
    return bands


def bands_for(ds, bands, path=""):
    """The bands to read: a one-band raster always gives grey from band 1."""
    if ds.RasterCount == 1:
        return [1]
    check_bands(ds, bands, path=path)
    return list(bands)


def _cuts_text(cuts):
    return ";".join(f"{lo:.10g},{hi:.10g}" for lo, hi in cuts)


def format_from_path(path, parameter="OUTPUT"):
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _EXT_TO_FORMAT:
        raise InputError(
            f"the output must end in .jpg, .png or .tif, not {ext or '(none)'}", parameter=parameter
        )
    return _EXT_TO_FORMAT[ext]


def _creation_options(fmt, quality, world_file=False):
    wld = ["WORLDFILE=YES"] if world_file else []
    if fmt == "JPEG":
        return [f"QUALITY={int(quality)}"] + wld
    if fmt == "PNG":
        return wld
    return ["TILED=YES", "COMPRESS=DEFLATE", "PHOTOMETRIC=RGB", "BIGTIFF=IF_SAFER"]


def _pil():
    """Pillow when it is installed: it encodes small JPEG/PNG tiles ~4x faster than GDAL's
    CreateCopy (and releases the GIL); GDAL is the fallback."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - QGIS builds without Pillow
        return None
    return Image


def world_file_text(gt):
    """ESRI world file: pixel sizes/rotation and the centre of the upper-left pixel."""
    x, y = gt[0] + gt[1] / 2.0 + gt[2] / 2.0, gt[3] + gt[4] / 2.0 + gt[5] / 2.0
    return "\n".join(f"{v:.12f}" for v in (gt[1], gt[4], gt[2], gt[5], x, y)) + "\n"


def aux_xml_text(crs, metadata, nodata=None, nbands=3, gt=None):
    """A GDAL PAM sidecar carrying the CRS, geotransform, metadata and (optionally) nodata."""
    from html import escape  # escapes quotes too: values sit in attributes (key="...")

    parts = ["<PAMDataset>"]
    if crs:
        parts.append(f'  <SRS dataAxisToSRSAxisMapping="1,2">{escape(crs)}</SRS>')
    if gt is not None:
        parts.append("  <GeoTransform>" + ", ".join(f"{v:.16e}" for v in gt) + "</GeoTransform>")
    if metadata:
        parts.append("  <Metadata>")
        parts += [f'    <MDI key="{escape(k)}">{escape(str(v))}</MDI>' for k, v in metadata.items()]
        parts.append("  </Metadata>")
    if nodata is not None:
        for b in range(1, nbands + 1):
            parts.append(
                f'  <PAMRasterBand band="{b}">\n    <NoDataValue>{nodata}</NoDataValue>\n  </PAMRasterBand>'
            )
    parts.append("</PAMDataset>\n")
    return "\n".join(parts)


def _write_rgb(path, rgb, gt, crs, fmt, quality, nodata0, cuts, world_file=False):
    """Write a small in-memory RGB array as ``fmt`` with its georeferencing.

    JPEG and PNG get a ``.aux.xml`` with the CRS, the geotransform and the cut values (all GDAL
    and QGIS need), and on request a world file (``.wld``) for other software; one sidecar less is
    one file creation less per tile, which is a good part of the cost of a small tile.
    Nodata 0 is declared for PNG and GeoTIFF only: JPEG's lossy compression can turn dark valid
    pixels into 0, so a declared nodata would punch holes into them.
    """
    metadata = {"TE_STRETCH_CUTS": _cuts_text(cuts)}
    image = _pil() if fmt in ("JPEG", "PNG") else None
    if image is not None:
        h, w = rgb.shape[1:]
        img = image.merge(
            "RGB",
            [image.frombuffer("L", (w, h), np.ascontiguousarray(rgb[i]), "raw", "L", 0, 1) for i in range(3)],
        )
        if fmt == "JPEG":
            img.save(path, "JPEG", quality=int(quality))
        else:
            img.save(path, "PNG", compress_level=1, **({"transparency": (0, 0, 0)} if nodata0 else {}))
        if world_file:
            with open(os.path.splitext(path)[0] + ".wld", "w", encoding="ascii") as f:
                f.write(world_file_text(gt))
        with open(path + ".aux.xml", "w", encoding="utf-8") as f:
            f.write(aux_xml_text(crs, metadata, 0 if nodata0 and fmt == "PNG" else None, gt=gt))
        return
    h, w = rgb.shape[1:]
    mem = gdal.GetDriverByName("MEM").Create("", w, h, 3, gdal.GDT_Byte)
    mem.SetGeoTransform(gt)
    if crs:
        mem.SetProjection(crs)
    mem.WriteRaster(0, 0, w, h, rgb.tobytes())
    for i, ci in enumerate((gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand), 1):
        band = mem.GetRasterBand(i)
        band.SetColorInterpretation(ci)
        if nodata0 and fmt != "JPEG":
            band.SetNoDataValue(0)
    mem.SetMetadata(metadata)
    out = gdal.GetDriverByName(fmt).CreateCopy(path, mem, 0, _creation_options(fmt, quality, world_file))
    out = None  # noqa: F841  (closing writes the file and its .aux.xml)


def stretch_raster(
    src_path,
    dst_path,
    bands=(1, 2, 3),
    lower=0.5,
    upper=99.5,
    nodata=None,
    quality=90,
    progress=None,
    max_pixels=1 << 22,
    world_file=False,
):
    """Stretch one raster of any size to an 8-bit RGB ``dst_path`` (.jpg, .png or .tif).

    Cut values come from the whole raster (streamed histograms); the pixels are streamed through
    a temporary GeoTIFF, then copied to JPEG/PNG. Returns ``{"path", "cuts"}``.
    """
    progress = ensure(progress)
    fmt = format_from_path(dst_path)
    ds = open_raster(src_path)
    bands = bands_for(ds, parse_bands(bands), src_path)
    cuts = compute_cuts(src_path, bands, lower, upper, nodata=nodata, progress=progress.sub(0.0, 0.4))
    nodata0 = not all_valid(ds, bands, nodata)
    gt, crs = ds.GetGeoTransform(), crs_wkt(ds)
    W, H = ds.RasterXSize, ds.RasterYSize
    with atomic_output(dst_path) as tmp:
        staged = tmp if fmt == "GTiff" else tmp + ".stage.tif"
        try:
            out = gdal.GetDriverByName("GTiff").Create(
                staged, W, H, 3, gdal.GDT_Byte, _creation_options("GTiff", quality)
            )
            out.SetGeoTransform(gt)
            if crs:
                out.SetProjection(crs)
            out.SetMetadataItem("TE_STRETCH_CUTS", _cuts_text(cuts))
            for i in range(3):
                if nodata0 and fmt != "JPEG":
                    out.GetRasterBand(i + 1).SetNoDataValue(0)
            bx, by = ds.GetRasterBand(bands[0]).GetBlockSize()
            windows = list(block_windows(W, H, max(bx, 256), max(by, 256), max_pixels))
            stage = progress.sub(0.4, 0.8 if fmt != "GTiff" else 1.0)
            stage.start(len(windows))
            for xoff, yoff, xs, ys in windows:
                array, valid = read_window(
                    ds, xoff, yoff, xs, ys, bands=bands, nodata=nodata, lazy_valid=True
                )
                rgb = apply_cuts(array, cuts, valid_mask=pixel_valid(valid), reserve_zero=nodata0)
                out.WriteRaster(xoff, yoff, xs, ys, rgb.tobytes())
                out.FlushCache()
                ds.FlushCache()
                stage.step()
            if fmt != "GTiff":
                copy = gdal.GetDriverByName(fmt).CreateCopy(
                    tmp,
                    out,
                    0,
                    _creation_options(fmt, quality, world_file),
                    callback=gdal_callback(progress.sub(0.8, 1.0)),
                )
                copy = None  # noqa: F841
            out = None
        finally:
            if staged != tmp and os.path.exists(staged):
                gdal.GetDriverByName("GTiff").Delete(staged)
        progress.check()
    return {"path": os.path.abspath(os.fspath(dst_path)), "cuts": cuts}


def tile_records_from_folder(folder, parameter="INPUT_FOLDER"):
    """Tile records (``tile_id``, ``row``, ``col``, ``path``) for every raster in a folder."""
    records = []
    for path in list_rasters(folder, parameter=parameter):
        stem = os.path.splitext(os.path.basename(path))[0]
        m = _ROW_COL.search(stem)
        records.append(
            {
                "tile_id": stem,
                "row": int(m.group(1)) if m else None,
                "col": int(m.group(2)) if m else None,
                "path": path,
            }
        )
    return records


def stretch_tiles(
    tiles,
    out_dir,
    bands=(1, 2, 3),
    lower=0.5,
    upper=99.5,
    scope="global",
    fmt="JPEG",
    nodata=None,
    quality=90,
    index_path=None,
    threads=None,
    progress=None,
    world_file=False,
):
    """Stretch a tile set to 8-bit RGB files ``<tile_id><ext>`` in ``out_dir``.

    ``tiles``: a tile-index path, or records (dicts with at least ``path``). ``scope``:
    ``global`` (one set of cut values for the whole tile set, from streamed histograms) or
    ``per_tile`` (each tile its own, the seed's behaviour). A tile set shares one CRS: the first
    tile's is written for all (reading each tile's CRS would cost more than stretching it).
    Writes an updated tile index (``path`` pointing to the new files, ``source_path`` to the old)
    when ``index_path`` is given. Returns a dict: ``tiles`` (records), ``cuts`` (global cuts or
    None), ``index``.
    """
    progress = ensure(progress)
    if scope not in SCOPES:
        raise InputError(f"statistics scope must be one of {', '.join(SCOPES)}", parameter="SCOPE")
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}", parameter="FORMAT")
    bands = parse_bands(bands)
    records = read_tile_index(tiles) if isinstance(tiles, (str, os.PathLike)) else [dict(r) for r in tiles]
    records = [r for r in records if r.get("path")]
    if not records:
        raise InputError("the tile set is empty", parameter="INPUT")
    missing = [r["path"] for r in records if not os.path.exists(r["path"])]
    if missing:
        raise InputError(
            f"{len(missing)} tile file(s) of the tile set are missing, e.g. {missing[0]}", parameter="INPUT"
        )
    first = open_raster(records[0]["path"])
    read_bands = bands_for(first, bands, records[0]["path"])
    crs = crs_wkt(first)
    first = None
    if index_path:
        vector_driver(index_path, parameter="OUTPUT_INDEX")
    out_dir = os.path.abspath(os.fspath(out_dir))
    ext = FORMATS[fmt]

    global_cuts = None
    if scope == "global":
        progress.text("Computing global statistics")
        global_cuts = compute_cuts(
            [r["path"] for r in records],
            read_bands,
            lower,
            upper,
            nodata=nodata,
            progress=progress.sub(0.0, 0.3),
            threads=threads,
        )

    def stretch_one(stage, rec):
        with no_dir_scan():
            ds = gdal.OpenEx(rec["path"], gdal.OF_RASTER)
        b = bands_for(ds, read_bands, rec["path"])
        W, H = ds.RasterXSize, ds.RasterYSize
        array, valid = read_window(ds, 0, 0, W, H, bands=b, nodata=nodata, lazy_valid=True)
        nodata0 = valid is not None  # read_window says None when no pixel can be invalid
        mask = pixel_valid(valid)
        cuts = global_cuts if global_cuts is not None else percentile_cuts_array(array, lower, upper, valid)
        rgb = apply_cuts(array, cuts, valid_mask=mask, reserve_zero=nodata0)
        gt = ds.GetGeoTransform()
        ds = None
        stem = rec.get("tile_id") or os.path.splitext(os.path.basename(rec["path"]))[0]
        name = stem + ext
        _write_rgb(os.path.join(stage, name), rgb, gt, crs, fmt, quality, nodata0, cuts, world_file)
        cx, cy = window_center(gt, 0, 0, W, H)
        m = _ROW_COL.search(stem)
        out = {
            "tile_id": stem,
            "row": rec.get("row") if rec.get("row") is not None else (int(m.group(1)) if m else None),
            "col": rec.get("col") if rec.get("col") is not None else (int(m.group(2)) if m else None),
            "path": os.path.join(out_dir, name),
            "valid_fraction": rec.get("valid_fraction")
            if rec.get("valid_fraction") is not None
            else float(mask.mean())
            if mask is not None
            else 1.0,
            "center_x": cx,
            "center_y": cy,
            "source_path": rec["path"],
            "cuts": _cuts_text(cuts),
            "corners": window_corners(gt, 0, 0, W, H),
            "_staged": os.path.join(stage, name),
        }
        return out

    progress.text(f"Stretching {len(records)} tiles")
    with staging_folder(out_dir) as stage:
        done = ordered_map(
            lambda r: stretch_one(stage, r),
            records,
            threads,
            progress.sub(0.3 if global_cuts is not None else 0.0, 0.97),
        )
        progress.check()
        for rec in done:
            staged = rec.pop("_staged")
            for suffix in ("", ".aux.xml"):
                if os.path.exists(staged + suffix):
                    os.replace(staged + suffix, rec["path"] + suffix)
            for wext in (".wld", ".jgw", ".pgw"):
                if os.path.exists(os.path.splitext(staged)[0] + wext):
                    os.replace(os.path.splitext(staged)[0] + wext, os.path.splitext(rec["path"])[0] + wext)
    index = None
    if index_path:
        index = write_tile_index(
            index_path, done, crs, parameter="OUTPUT_INDEX", progress=progress.sub(0.97, 1)
        )
    progress.set(1.0)
    return {"tiles": done, "cuts": global_cuts, "index": index, "crs": crs}
