"""Find all: scoring every tile, and retraining after one more label (core.classifier).

1. Scoring 1,000,000 x 1280 (MobileNetV2's width) float32 embeddings memory-mapped from disk
   (5.1 GB), goal < 2 s: the classifier's probabilities of every tile (numba mat-vec in chunks +
   sigmoid). Built once into bench-output/ (clustered unit vectors; its tiles.gpkg holds no
   features, scoring reads only the embeddings). Baseline in the same run: the same product in
   numpy, chunk by chunk. The first pass may read from disk; the next ones from the page cache.
2. Retraining after one label on the dock bench's 100,160-tile index (bench_dock.py builds it, or
   this script with the same settings), goal < 300 ms for train + score: labels start as the 10
   nearest tiles of a seed tile (yes) and 10 dissimilar ones (no); each round labels the first
   proposed tile (yes when it is as similar to the seed as the positives) and retrains from the
   previous classifier, as the dock's Find all mode does. Baseline in the same run: the same fit
   from scratch. Also timed: the cross-validated quality estimate, positives only, proposing.

Usage: python3 bench/bench_classifier.py [--rows 1000000]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "bench-output")
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, "/tmp/te-pypath")
DIMS = 1280
DOCK_ROWS, DOCK_COLS = 320, 313  # bench_dock.py's index


def build_big_index(folder, n, dims=DIMS, seed=0, chunk=65536):
    """A synthetic index of ``n`` clustered unit vectors, written chunk by chunk (never all in memory)."""
    from index_factory import utm17n_wkt

    from tile_embeddings.core import index as tindex

    partial = folder + ".partial"
    os.makedirs(partial, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, dims), dtype=np.float32)
    emb = np.lib.format.open_memmap(os.path.join(partial, tindex.EMBEDDINGS), "w+", np.float32, (n, dims))
    for s in range(0, n, chunk):
        k = min(chunk, n - s)
        block = centres[rng.integers(0, 64, k)] + 0.6 * rng.standard_normal((k, dims), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        emb[s : s + k] = block
    emb.flush()
    del emb
    side = int(np.ceil(np.sqrt(n)))
    tindex.write_ids(partial, [f"b_r{i // side}_c{i % side}" for i in range(n)])
    tindex.write_tiles_gpkg(os.path.join(partial, tindex.TILES), utm17n_wkt(), [])
    tindex.write_meta(partial, tindex.base_meta(
        count=n, dims=dims, crs_wkt=utm17n_wkt(), model="synthetic",
        embeddings_bytes=os.path.getsize(os.path.join(partial, tindex.EMBEDDINGS))))
    tindex.publish(partial, folder)


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def bench_scoring(n):
    from tile_embeddings.core import classifier
    from tile_embeddings.core.index import open_index

    folder = os.path.join(OUT, f"classifier_{n}.teindex")
    if not os.path.exists(os.path.join(folder, "meta.json")):
        t = time.perf_counter()
        build_big_index(folder, n)
        print(f"built synthetic index: {n:,} tiles x {DIMS} dims ({n * DIMS * 4 / 1e9:.1f} GB) "
              f"in {time.perf_counter() - t:.0f} s")
    ix = open_index(folder)
    rng = np.random.default_rng(0)
    model = classifier.train(ix, [ix.ids[i] for i in rng.choice(n, 10, replace=False)],
                             [ix.ids[i] for i in rng.choice(n, 10, replace=False)], quality=False)
    times = []
    for _ in range(4):
        t = time.perf_counter()
        p = model.score(ix)
        times.append(time.perf_counter() - t)
    assert p.shape == (n,) and np.isfinite(p).all()
    t = time.perf_counter()
    w = model.weights
    base = np.empty(n, np.float32)
    for s in range(0, n, classifier.CHUNK):
        base[s : s + classifier.CHUNK] = ix.embeddings[s : s + classifier.CHUNK] @ w
    base = 1 / (1 + np.exp(-(base + model.bias)))
    numpy_s = time.perf_counter() - t
    np.testing.assert_allclose(p, base, rtol=1e-4, atol=1e-6)
    warm = statistics.median(times[1:])
    print(f"scoring {n:,} x {DIMS} memory-mapped tiles (2 cores):")
    print(f"  first pass {times[0]:.2f} s, then median {warm:.2f} s, max {max(times[1:]):.2f} s   "
          f"(goal < 2 s: {'MET' if max(times[1:]) < 2 else 'NOT MET'}, max/goal = {max(times[1:]) / 2:.2f})")
    print(f"  numpy chunked mat-vec (baseline, same run): {numpy_s:.2f} s; numpy/ours = {numpy_s / warm:.1f}x")


def bench_retraining():
    from index_factory import make_synthetic_index

    from tile_embeddings.core import classifier, search
    from tile_embeddings.core.index import open_index

    folder = os.path.join(OUT, f"dock_{DOCK_ROWS * DOCK_COLS}.teindex")
    if not os.path.exists(os.path.join(folder, "meta.json")):
        make_synthetic_index(folder, rows=DOCK_ROWS, cols=DOCK_COLS, dims=DIMS, seed=1)
    ix = open_index(folder)
    n = len(ix)
    seed_tile = ix.ids[n // 3]
    similarity = search.score_all(ix, [seed_tile])
    order = np.argsort(-similarity)
    positives = [ix.ids[r] for r in order[1:11]]
    negatives = [ix.ids[r] for r in order[-10:]]
    cut = float(similarity[order[10]])
    table = classifier.tile_table(ix)
    centers = np.column_stack([table["center_x"], table["center_y"]])

    t = time.perf_counter()
    model = classifier.train(ix, positives, negatives, quality=False)
    p = model.score(ix)
    first = time.perf_counter() - t
    warm, cold, proposing, with_quality = [], [], [], []
    for _ in range(12):
        t = time.perf_counter()
        proposed = classifier.propose(ix, model, p, n=10, centers=centers)
        proposing.append(time.perf_counter() - t)
        tile = proposed[0]
        (positives if similarity[ix.row_of(tile)] >= cut else negatives).append(tile)
        t = time.perf_counter()
        retrained = classifier.train(ix, positives, negatives, quality=False, previous=model)
        p = retrained.score(ix)
        warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        classifier.train(ix, positives, negatives, quality=False).score(ix)
        cold.append(time.perf_counter() - t)
        model = retrained
    for _ in range(3):
        t = time.perf_counter()
        classifier.train(ix, positives, negatives, previous=model)
        with_quality.append(time.perf_counter() - t)
    pu, pu_model = [], None
    for k in range(6):
        t = time.perf_counter()
        pu_model = classifier.train(ix, [ix.ids[r] for r in order[1 : 11 + k]], quality=False, previous=pu_model)
        pu_model.score(ix)
        pu.append(time.perf_counter() - t)
    w50, wmax = statistics.median(warm), max(warm)
    print(f"retraining after one label on {n:,} tiles x {DIMS} dims (train + score every tile, 2 cores):")
    print(f"  first training (sample drawn, kernels loaded): {ms(first)}")
    print(f"  {len(positives) + len(negatives)} labels at the end ({len(positives)} yes): p50 {ms(w50)}, max {ms(wmax)}"
          f"   (goal < 300 ms: {'MET' if wmax < 0.3 else 'NOT MET'}, max/goal = {wmax / 0.3:.2f})")
    print(f"  the same from scratch (baseline, same run): p50 {ms(statistics.median(cold))}; "
          f"scratch/warm = {statistics.median(cold) / w50:.1f}x")
    print(f"  positives only (2000 background tiles): p50 {ms(statistics.median(pu[1:]))}, max {ms(max(pu[1:]))}")
    print(f"  training with the cross-validated quality estimate: p50 {ms(statistics.median(with_quality))}")
    print(f"  proposing 10 tiles to check (spread over the map): p50 {ms(statistics.median(proposing))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="tiles of the scoring benchmark")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    bench_scoring(args.rows)
    bench_retraining()


if __name__ == "__main__":
    main()
