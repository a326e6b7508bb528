"""Peak memory of an embedding run at 10k, 100k and 1M tiles: goal ~flat (issue 12 item 6).

Each size runs ``embed_tiles`` end to end (global stretch cuts, tile reading, model, embeddings
memmap, ids.txt, tiles.gpkg, meta.json, rename into place) in a fresh subprocess and reports that
process's peak resident set (VmHWM) and its resident set after imports and before the run. The
input is a synthetic 3-band uint8 GeoTIFF of sqrt(N) x sqrt(N) tiles of 16 px (1M tiles: 16000 x
16000 px, DEFLATE-compressed, made once in bench-output/) and the model a TorchScript encoder of
one 3x3 convolution (8 channels) that the plugin average-pools, at input size 16, so the model is
not the cost: what is measured is the pipeline's own memory. No IVF index is trained (a separate,
optional step after the embeddings); above the exact-search threshold (250,000 tiles) the run ends
by building the search codes, as every 'Embed tiles' run of that size does. GDAL's block cache is
part of any process that reads rasters; the tile readers drop the block rows they have passed, but
its ceiling is ``GDAL_CACHEMAX`` (5 % of RAM by default, in QGIS too): ``--gdal-cache MB`` sets it
for the runs (default 256; 0 keeps GDAL's default), as the figures in README.md were measured.

Prints, per size: tiles, seconds, tiles/s, RSS before, peak RSS, peak - before; then the ratio of
the peaks 1M / 10k (goal ~1) and of the increments.

Usage: python3 bench/bench_embed_memory.py [--sizes 10000,100000,1000000] [--batch 1024] [--gdal-cache MB]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench-output" / "embed_memory"
TILE = 16


def _mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def make_raster(n_tiles):
    """A GeoTIFF of side sqrt(n) tiles of 16 px, smooth patterns plus noise (made once)."""
    import numpy as np
    from osgeo import gdal, osr

    side = int(round(n_tiles ** 0.5))
    path = OUT / f"synthetic_{side * side}.tif"
    if path.exists():
        return str(path), side * side
    OUT.mkdir(parents=True, exist_ok=True)
    px = side * TILE
    tmp = str(path) + ".tmp.tif"
    ds = gdal.GetDriverByName("GTiff").Create(tmp, px, px, 3, gdal.GDT_Byte,
                                              ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"])
    ds.SetGeoTransform((500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32617)
    ds.SetProjection(srs.ExportToWkt())
    rng = np.random.default_rng(0)
    xx = np.arange(px)
    for y0 in range(0, px, 512):
        yy = np.arange(y0, min(px, y0 + 512))[:, None]
        for b in range(3):
            a = 128 + 90 * np.sin(xx / (40 + 13 * b)) * np.cos(yy / (57 + 7 * b))
            a = a + rng.integers(-12, 13, size=a.shape)
            ds.GetRasterBand(b + 1).WriteArray(np.clip(a, 0, 255).astype(np.uint8), 0, y0)
    ds = None
    os.replace(tmp, path)
    return str(path), side * side


def make_model():
    import torch

    path = OUT / "tiny_conv.pt"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
        torch.jit.script(conv.eval()).save(str(path))
    return str(path)


def child(raster, model, batch):
    """One run in this (fresh) process; prints one JSON line."""
    import shutil

    import torch  # noqa: F401  (imports counted in 'before')

    from tile_embeddings.core.embedding import embed_tiles

    out = OUT / f"run_{os.path.basename(raster)}.teindex"
    for p in (out, Path(str(out) + ".partial")):
        if p.exists():
            shutil.rmtree(p)
    before = _mb("VmRSS")
    t0 = time.perf_counter()
    path = embed_tiles(str(out), raster=raster, tile_size=TILE, weights=model, input_size=16, batch_size=batch,
                       device="cpu", runtime="torch", build_ivf=False, resume=False)
    seconds = time.perf_counter() - t0
    with open(os.path.join(path, "meta.json")) as f:
        meta = json.load(f)
    print(json.dumps({"tiles": meta["count"], "seconds": seconds, "before_mb": before, "peak_mb": _mb("VmHWM"),
                      "timing": meta.get("timing", {})}))
    shutil.rmtree(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--gdal-cache", type=int, default=256, help="GDAL_CACHEMAX in MB for the runs; 0: GDAL's default")
    ap.add_argument("--child", nargs=2, metavar=("RASTER", "MODEL"))
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.batch)
    model = make_model()
    rows = []
    print(f"embedtiles peak memory, tiles of {TILE} px, TorchScript 1-conv encoder, batch {args.batch}, "
          f"GDAL cache {args.gdal_cache or 'default'} MB, load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"{'tiles':>9} {'seconds':>8} {'tiles/s':>8} {'RSS before':>11} {'peak RSS':>9} {'peak-before':>12}")
    for n in (int(s) for s in args.sizes.split(",")):
        raster, n = make_raster(n)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in ("/tmp/te-pypath", os.environ.get("PYTHONPATH"))
                                                           if p))
        if args.gdal_cache:
            env["GDAL_CACHEMAX"] = str(args.gdal_cache)
        res = subprocess.run([sys.executable, __file__, "--child", raster, model, "--batch", str(args.batch)],
                             capture_output=True, text=True, env=env)
        if res.returncode:
            print(res.stdout, res.stderr, file=sys.stderr)
            raise SystemExit(res.returncode)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{r['tiles']:>9,} {r['seconds']:>8.1f} {r['tiles'] / r['seconds']:>8.0f} {r['before_mb']:>9.0f} MB "
              f"{r['peak_mb']:>6.0f} MB {r['peak_mb'] - r['before_mb']:>9.0f} MB   timing {r['timing']}", flush=True)
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"ratio peak RSS {b['tiles']:,} / {a['tiles']:,} tiles: {b['peak_mb'] / a['peak_mb']:.2f} "
              f"(increment over the loaded process: {(b['peak_mb'] - b['before_mb']):.0f} MB vs "
              f"{(a['peak_mb'] - a['before_mb']):.0f} MB); goal ~1")


if __name__ == "__main__":
    main()
