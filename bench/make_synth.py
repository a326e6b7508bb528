#!/usr/bin/python3
"""
Synthetic but "realistic-looking" 3-band uint8 aerial-like GeoTIFF generator.

Land-cover mosaic:
  * domain-warped Voronoi regions (irregular boundaries), each assigned one of
    9 land-cover classes with class mean colour + per-region colour offset
  * per-class multi-octave smooth noise texture (fields shared, weights per class)
  * cropland: oriented stripes (ploughing / rows) per field
  * forest: strong high-frequency "crown" texture
  * urban: small building rectangles with roof colours + shadows
  * roads (asphalt + dirt) and rivers rasterised from random polylines via OGR
  * fine Gaussian sensor noise + slight blur

Deterministic for a given (size, seed).

Usage: /usr/bin/python3 make_synth.py SIZE OUT.tif [SEED] [PIXEL_SIZE_M]

The generator of the independent pyshepseg comparison (issue 15), kept here unchanged (imports
sorted) so that `make bench` segments the same image the peers' figures come from:
``make_synth.py 8000 OUT 42 0.5``.
"""
import sys
import time

import numpy as np
from osgeo import gdal, ogr, osr
from scipy import ndimage
from scipy.spatial import cKDTree

gdal.UseExceptions()

# class: name, mean RGB, texture amplitude per octave set, fine noise sigma
CLASSES = [
    # name        mean RGB            smooth amp  crown amp  noise
    ("water",     (38, 62, 78),       6.0,        1.0,       2.0),
    ("forest",    (46, 78, 40),       10.0,       22.0,      4.0),
    ("grass",     (104, 138, 70),     14.0,       4.0,       4.0),
    ("crop_green",(92, 150, 60),      8.0,        2.0,       3.0),
    ("crop_bare", (150, 124, 92),     10.0,       2.0,       3.0),
    ("bare_soil", (176, 158, 128),    18.0,       5.0,       5.0),
    ("urban",     (128, 124, 120),    10.0,       6.0,       6.0),
    ("wetland",   (70, 96, 72),       14.0,       8.0,       4.0),
    ("shrub",     (110, 112, 78),     12.0,       14.0,      5.0),
]
CLASS_PROB = np.array([0.05, 0.22, 0.15, 0.14, 0.12, 0.06, 0.10, 0.06, 0.10])


def smooth_field(rng, shape, cells, order=1):
    """Smooth random field in roughly [-1,1]: coarse gaussian grid upsampled."""
    ny, nx = shape
    gy = max(2, int(np.ceil(ny / cells)) + 2)
    gx = max(2, int(np.ceil(nx / cells)) + 2)
    coarse = rng.standard_normal((gy, gx)).astype(np.float32)
    f = ndimage.zoom(coarse, (ny / (gy - 1) * 1.0001, nx / (gx - 1) * 1.0001),
                     order=order, prefilter=False)[:ny, :nx]
    return f.astype(np.float32)


def fractal(rng, shape, base_cells, octaves=4, persistence=0.55):
    out = np.zeros(shape, np.float32)
    amp = 1.0
    tot = 0.0
    cells = base_cells
    for _ in range(octaves):
        out += amp * smooth_field(rng, shape, cells)
        tot += amp
        amp *= persistence
        cells = max(2, cells // 2)
    out /= tot
    return out


def voronoi_labels(rng, n, npts, warp_amp):
    pts = rng.uniform(0, n, size=(npts, 2))
    tree = cKDTree(pts)
    wy = fractal(rng, (n, n), max(8, n // 20), octaves=3) * warp_amp
    wx = fractal(rng, (n, n), max(8, n // 20), octaves=3) * warp_amp
    labels = np.empty((n, n), np.int32)
    step = 500
    xs = np.arange(n, dtype=np.float32)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        yy, xx = np.meshgrid(np.arange(r0, r1, dtype=np.float32), xs, indexing='ij')
        yy = yy + wy[r0:r1]
        xx = xx + wx[r0:r1]
        q = np.stack([yy.ravel(), xx.ravel()], axis=1)
        _, idx = tree.query(q, k=1, workers=-1)
        labels[r0:r1] = idx.reshape(r1 - r0, n)
    del wy, wx
    return labels, npts


def random_polyline(rng, n, nseg, step, wiggle):
    # start on an edge, random heading
    side = rng.integers(4)
    t = rng.uniform(0, n)
    x, y = [(t, 0), (n, t), (t, n), (0, t)][side]
    heading = [np.pi / 2, np.pi, -np.pi / 2, 0][side] + rng.uniform(-0.7, 0.7)
    pts = [(x, y)]
    for _ in range(nseg):
        heading += rng.normal(0, wiggle)
        x += step * np.cos(heading)
        y += step * np.sin(heading)
        pts.append((x, y))
        if x < -step or y < -step or x > n + step or y > n + step:
            break
    return pts


def rasterize_lines(n, lines_with_width):
    """Return uint8 mask (n x n), 1 where any buffered line covers a pixel."""
    drv = ogr.GetDriverByName('Memory')
    ds = drv.CreateDataSource('m')
    lyr = ds.CreateLayer('l', geom_type=ogr.wkbPolygon)
    for pts, width in lines_with_width:
        g = ogr.Geometry(ogr.wkbLineString)
        for (x, y) in pts:
            # raster space: x=col, y=-row (geotransform below)
            g.AddPoint_2D(float(x), float(-y))
        poly = g.Buffer(width / 2.0, 4)
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetGeometry(poly)
        lyr.CreateFeature(f)
    mem = gdal.GetDriverByName('MEM').Create('', n, n, 1, gdal.GDT_Byte)
    mem.SetGeoTransform((0, 1, 0, 0, 0, -1))
    gdal.RasterizeLayer(mem, [1], lyr, burn_values=[1])
    return mem.GetRasterBand(1).ReadAsArray()


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
    pix = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    rng = np.random.default_rng(seed)
    t0 = time.time()

    # ~ one region per 200x200 px on average
    npts = max(20, int(n * n / (200 * 200)))
    labels, nreg = voronoi_labels(rng, n, npts, warp_amp=n / 100.0 * 2.5 if n < 4000 else 60.0)
    print(f"voronoi {nreg} regions {time.time()-t0:.1f}s", flush=True)

    regclass = rng.choice(len(CLASSES), size=nreg, p=CLASS_PROB / CLASS_PROB.sum())
    cls = regclass[labels].astype(np.uint8)

    means = np.array([c[1] for c in CLASSES], np.float32)
    smooth_amp = np.array([c[2] for c in CLASSES], np.float32)
    crown_amp = np.array([c[3] for c in CLASSES], np.float32)
    noise_sig = np.array([c[4] for c in CLASSES], np.float32)

    # per-region colour offset (brightness + small hue shift)
    reg_off = rng.normal(0, 1, size=(nreg, 3)).astype(np.float32) * 6.0
    reg_off += rng.normal(0, 1, size=(nreg, 1)).astype(np.float32) * 10.0

    # shared texture fields
    big = fractal(rng, (n, n), max(16, n // 16), octaves=4)        # large-scale variation
    mid = fractal(rng, (n, n), 48, octaves=3)                       # field-level mottling
    crown = fractal(rng, (n, n), 6, octaves=2, persistence=0.6)     # tree crowns / shrubs
    print(f"noise fields {time.time()-t0:.1f}s", flush=True)

    # stripes for crop classes: per-region orientation and period
    ang = rng.uniform(0, np.pi, size=nreg).astype(np.float32)
    period = rng.uniform(6, 18, size=nreg).astype(np.float32)
    stripes = np.zeros((n, n), np.float32)
    step = 1000
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        yy, xx = np.meshgrid(np.arange(r0, r1, dtype=np.float32),
                             np.arange(n, dtype=np.float32), indexing='ij')
        lab = labels[r0:r1]
        a = ang[lab]
        p = period[lab]
        s = np.sin((xx * np.cos(a) + yy * np.sin(a)) * (2 * np.pi) / p)
        c = cls[r0:r1]
        s *= ((c == 3) | (c == 4)).astype(np.float32)
        stripes[r0:r1] = s
    print(f"stripes {time.time()-t0:.1f}s", flush=True)

    img = np.empty((3, n, n), np.uint8)
    band_w_big = np.array([1.0, 0.9, 0.7], np.float32)
    for b in range(3):
        f = means[cls, b] + reg_off[labels, b]
        f += smooth_amp[cls] * (0.6 * big * band_w_big[b] + 0.8 * mid)
        f += crown_amp[cls] * crown * (1.0 if b != 2 else 0.7)
        f += 7.0 * stripes * (1.0 if b != 1 else 1.3)
        f += rng.standard_normal((n, n), dtype=np.float32) * noise_sig[cls]
        img[b] = np.clip(f, 0, 255).astype(np.uint8)
        del f
    del big, mid, crown, stripes
    print(f"base bands {time.time()-t0:.1f}s", flush=True)

    # buildings in urban regions
    urban_idx = np.nonzero(cls[::8, ::8] == 6)
    nb = int(len(urban_idx[0]) * 0.08)
    if nb:
        pick = rng.choice(len(urban_idx[0]), size=nb, replace=False)
        roofs = np.array([(180, 90, 70), (200, 200, 200), (150, 150, 160), (90, 90, 95),
                          (170, 120, 90)], np.float32)
        for k in pick:
            r = urban_idx[0][k] * 8
            c = urban_idx[1][k] * 8
            h = int(rng.integers(6, 26))
            w = int(rng.integers(6, 26))
            col = roofs[rng.integers(len(roofs))] + rng.normal(0, 8, 3)
            r1, c1 = min(n, r + h), min(n, c + w)
            # shadow (offset down-right)
            img[:, min(n, r + 3):min(n, r1 + 3), min(n, c + 3):min(n, c1 + 3)] //= 2
            for b in range(3):
                img[b, r:r1, c:c1] = np.uint8(np.clip(col[b], 0, 255))
    print(f"buildings {nb} {time.time()-t0:.1f}s", flush=True)

    # roads and rivers
    scale = n / 8000.0
    rivers = [(random_polyline(rng, n, 400, 40, 0.12), float(rng.uniform(18, 40)))
              for _ in range(max(1, int(round(2 * scale))))]
    roads = [(random_polyline(rng, n, 300, 60, 0.05), float(rng.uniform(5, 10)))
             for _ in range(max(2, int(round(25 * scale))))]
    tracks = [(random_polyline(rng, n, 200, 30, 0.15), float(rng.uniform(2, 4)))
              for _ in range(max(2, int(round(30 * scale))))]
    for lines, colour, sig in ((rivers, (30, 55, 70), 3.0),
                               (roads, (105, 105, 108), 5.0),
                               (tracks, (165, 145, 115), 6.0)):
        m = rasterize_lines(n, lines).astype(bool)
        for b in range(3):
            vals = colour[b] + rng.standard_normal(int(m.sum()), dtype=np.float32) * sig
            img[b][m] = np.clip(vals, 0, 255).astype(np.uint8)
        del m
    print(f"lines {time.time()-t0:.1f}s", flush=True)

    # slight sensor blur
    for b in range(3):
        img[b] = ndimage.gaussian_filter(img[b], 0.6)
    # keep 0 free: RSGISLib treats 0 in band 1 as no-data
    np.maximum(img, 1, out=img)
    print(f"blur {time.time()-t0:.1f}s", flush=True)

    drv = gdal.GetDriverByName('GTiff')
    ds = drv.Create(out, n, n, 3, gdal.GDT_Byte,
                    options=['TILED=YES', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256',
                             'INTERLEAVE=PIXEL', 'PHOTOMETRIC=RGB', 'BIGTIFF=IF_SAFER'])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32755)  # WGS 84 / UTM 55S
    ds.SetProjection(srs.ExportToWkt())
    ds.SetGeoTransform((500000.0, pix, 0, 6100000.0, 0, -pix))
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(img[b])
    ds.FlushCache()
    ds = None
    print(f"written {out} {time.time()-t0:.1f}s", flush=True)


if __name__ == '__main__':
    main()
