"""Embedding throughput here against a 2-worker Dask LocalCluster on this machine, same tiles.

``embed_tiles`` end to end (read with GDAL, global stretch, resize, normalise, forward, write the
index) on 128 px tiles of a crop of the real NEON YELL image, default model and runtime, resized to
224 px. Local: the plugin's own reader + model threads. Dask: a LocalCluster of 2 worker processes
x 1 thread on 127.0.0.1 (each worker loads the model once and reads its tiles itself). Each is run
twice and the second run is timed (the first loads the models: the workers keep theirs between
runs, as a long-lived cluster would). Prints tiles/s of the embedding loop and of the whole run,
the ratio Dask / local, the cosine agreement of the two indexes, and the load average.

On a 2-core machine both use the same two cores, so the ratio is about 1x: the cluster pays off
with more machines (or GPUs), each worker adding its own throughput.

Usage: python3 bench/bench_embed_dask.py [--size PX] [--tile PX] [--batch N]
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench-output" / "embed_dask"
ASSETS = Path(os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets"))
sys.path.insert(0, "/tmp/te-pypath")


def line(label, value):
    print(f"  {label:<52} {value}", flush=True)


def timed_run(raster, name, tile, batch, scheduler=None):
    from tile_embeddings.core import index as tindex
    from tile_embeddings.core.embedding import embed_tiles

    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    path = embed_tiles(str(out), raster=raster, tile_size=tile, batch_size=batch, device="cpu",
                       resume=False, scheduler=scheduler)
    wall = time.perf_counter() - t
    return tindex.open_index(path), wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=2048, help="crop of NEON YELL, px (default 2048: 256 tiles)")
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    from osgeo import gdal

    OUT.mkdir(parents=True, exist_ok=True)
    raster = str(OUT / "yell_crop.tif")
    gdal.Translate(raster, str(ASSETS / "NEON_YELL_crop2.tif"), srcWin=[0, 0, args.size, args.size])
    n = (args.size // args.tile) ** 2
    print(f"== embedding {n} tiles of {args.tile} px (NEON YELL crop {args.size} px), default model, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)

    results = {}
    for _ in range(2):  # the second run is timed
        ix, wall = timed_run(raster, "local.teindex", args.tile, args.batch)
    results["local"] = (ix, wall)
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        for _ in range(2):
            ix, wall = timed_run(raster, "dask.teindex", args.tile, args.batch, cluster.scheduler_address)
        results["dask"] = (ix, wall)
    rate = {}
    for label, (ix, wall) in results.items():
        loop = ix.meta["timing"]["loop_s"]
        rate[label] = n / loop
        extra = f", {ix.meta['timing'].get('workers', 0)} workers" if label == "dask" else ""
        line(f"{label} ({ix.meta.get('model')} {ix.meta.get('features', '')}, {ix.meta.get('runtime')}{extra})",
             f"{n / loop:7.1f} tiles/s embedding loop, {n / wall:7.1f} tiles/s whole run ({wall:.1f} s)")
    a = np.asarray(results["local"][0].embeddings, np.float64)
    b = np.asarray(results["dask"][0].embeddings, np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    line("ratio Dask 2 workers / local (embedding loop)", f"{rate['dask'] / rate['local']:.2f}x")
    line("same ids; cosine local vs Dask, min", f"{list(results['local'][0].ids) == list(results['dask'][0].ids)}; "
         f"{cos.min():.6f}")
    line("load average at end (1 min)", f"{os.getloadavg()[0]:.2f}")
    print("  (on 2 cores local and Dask share the same cores: ~1x is expected; the cluster scales with machines)")


if __name__ == "__main__":
    main()
