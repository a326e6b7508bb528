"""Structured test vectors for the million-tile search benchmark (bench/bench_search_scale.py).

Random unit vectors are the wrong test for search at scale: real tile embeddings live on a
low-dimensional, clustered manifold (MobileNetV2 features after ReLU6 and average pooling are
non-negative, a few directions carry most of the variance, and neighbouring tiles are close),
and that structure is what compressed and clustered searchers exploit or trip over.

1. **Real embeddings** (:func:`real_embeddings`, cached in ``bench-output/search_scale``):
   ``embed_tiles`` (MobileNetV2, ImageNet weights, 64 px tiles resized to 128) over the two NEON
   scenes shipped with the rootfs (YELL, Yellowstone: conifers, meadows, rock; OSBS, Florida:
   pine savanna), each in several augmented versions written as GeoTIFFs first: identity,
   horizontal and vertical flips, 90 and 270 degree rotations, gamma 0.7 and 1.4 (a linear
   brightness change would be undone by the global percentile stretch), a warm colour cast, and a
   half-tile shifted crop. OSBS is small (400 px), so it is tiled with a 16 px stride.
2. **Synthetic vectors** (:func:`synthesise`): each vector is a real vector moved along the
   manifold towards one of its 10 real nearest neighbours (SMOTE-style: ``r_i + t (r_j - r_i)``,
   ``t ~ U(0, 1)``), plus Gaussian noise drawn from the real covariance (the PCA basis scaled by
   the square roots of its eigenvalues, times ``noise``), clipped at zero like the ReLU6 features,
   then L2-normalised. ``noise`` is fitted so that a synthetic sample the size of the real set has
   the real set's nearest-neighbour distance distribution (:func:`compare`).
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench-output" / "search_scale"
ASSETS = Path(os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets"))
sys.path.insert(0, "/tmp/te-pypath")

SCENES = (  # name, file, tile stride
    ("yell", "NEON_YELL_crop2.tif", 64),
    ("osbs", "OSBS_029.tif", 16),
)
AUGMENTATIONS = ("identity", "fliplr", "flipud", "rot90", "rot270", "gamma0.7", "gamma1.4", "warm", "shift")


def _augment(arr, how):
    """``arr``: (bands, rows, cols) uint8 -> the augmented image (uint8)."""
    if how == "identity":
        return arr
    if how == "fliplr":
        return arr[:, :, ::-1]
    if how == "flipud":
        return arr[:, ::-1, :]
    if how == "rot90":
        return np.rot90(arr, 1, axes=(1, 2))
    if how == "rot270":
        return np.rot90(arr, 3, axes=(1, 2))
    if how.startswith("gamma"):
        g = float(how[5:])
        return np.clip(255.0 * (arr / 255.0) ** g, 0, 255).astype(np.uint8)
    if how == "warm":
        cast = np.array([1.15, 1.0, 0.8]).reshape(3, 1, 1)
        return np.clip(arr * cast, 0, 255).astype(np.uint8)
    if how == "shift":
        return arr[:, 32:, 32:]
    raise ValueError(how)


def _write_tif(path, arr):
    from osgeo import gdal

    bands, rows, cols = arr.shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, bands, gdal.GDT_Byte)
    ds.SetGeoTransform((0, 1, 0, rows, 0, -1))  # a plain pixel grid: footprints are not used here
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteArray(np.ascontiguousarray(arr[b]))
    ds = None


def real_embeddings(log=print):
    """(vectors (n, 1280) float32 unit rows, labels (n,) "scene/augmentation"), cached."""
    cache = OUT / "real_embeddings.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return z["vectors"], z["labels"]
    from osgeo import gdal

    from tile_embeddings.core.embedding import embed_tiles
    from tile_embeddings.core.index import open_index

    OUT.mkdir(parents=True, exist_ok=True)
    vectors, labels = [], []
    t0 = time.perf_counter()
    for scene, name, stride in SCENES:
        src = gdal.Open(str(ASSETS / name)).ReadAsArray()[:3]
        for how in AUGMENTATIONS:
            tif = OUT / f"aug_{scene}_{how}.tif"
            _write_tif(tif, _augment(src, how))
            folder = OUT / f"real_{scene}_{how}.teindex"
            embed_tiles(str(folder), raster=str(tif), tile_size=64, overlap=64 - stride, input_size=128)
            ix = open_index(str(folder))
            vectors.append(np.asarray(ix.embeddings, dtype=np.float32))
            labels += [f"{scene}/{how}"] * len(ix)
            log(f"  embedded {scene}/{how}: {len(ix)} tiles ({time.perf_counter() - t0:.0f} s so far)")
    vectors = np.concatenate(vectors)
    labels = np.asarray(labels)
    np.savez(cache, vectors=vectors, labels=labels)
    return vectors, labels


def _neighbours(vectors, k, block=4096):
    """The ``k`` nearest neighbours (rows, excluding itself) of every row of ``vectors`` (unit)."""
    n = len(vectors)
    out = np.empty((n, k), dtype=np.int64)
    cos = np.empty((n, k), dtype=np.float32)
    for s in range(0, n, block):
        sim = vectors[s : s + block] @ vectors.T
        sim[np.arange(sim.shape[0]), np.arange(s, s + sim.shape[0])] = -np.inf
        top = np.argpartition(-sim, k, axis=1)[:, :k]
        part = np.take_along_axis(sim, top, axis=1)
        order = np.argsort(-part, axis=1)
        out[s : s + block] = np.take_along_axis(top, order, axis=1)
        cos[s : s + block] = np.take_along_axis(part, order, axis=1)
    return out, cos


class Model:
    """What :func:`synthesise` samples from, fitted to the real vectors."""

    def __init__(self, real, k_neighbours=10, components=256):
        self.real = np.ascontiguousarray(real, dtype=np.float32)
        self.neighbours, cos = _neighbours(self.real, k_neighbours)
        # the local scale: each real vector's distance to its nearest real neighbour
        self.nn_distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * cos[:, 0])).astype(np.float32)
        mean = self.real.mean(axis=0)
        cov = np.cov((self.real - mean).T).astype(np.float64)
        ev, vecs = np.linalg.eigh(cov)
        ev, vecs = ev[::-1].clip(0), vecs[:, ::-1]
        self.eigenvalues = ev
        # noise: the top components with their own variance, the rest as isotropic noise of the
        # same total variance (sampling the full 1280 x 1280 covariance costs 5x more, for 8 %)
        self.basis = (vecs[:, :components] * np.sqrt(ev[:components])).T.astype(np.float32)
        self.rest_sd = float(np.sqrt(ev[components:].sum() / self.real.shape[1]))
        self.noise_norm = float(np.sqrt(ev.sum()))  # expected norm of one covariance-shaped draw

    def sample(self, n, noise, rng):
        i = rng.integers(0, len(self.real), n)
        j = self.neighbours[i, rng.integers(0, self.neighbours.shape[1], n)]
        t = rng.random((n, 1), dtype=np.float32)
        x = self.real[i] + t * (self.real[j] - self.real[i])
        z = rng.standard_normal((n, self.basis.shape[0]), dtype=np.float32) @ self.basis
        z += self.rest_sd * rng.standard_normal(x.shape, dtype=np.float32)
        # noise of norm ~ noise x the source's real NN distance, on the active features only (the
        # ReLU zeros stay zero): dense places stay dense, isolated tiles stay isolated
        scale = noise * self.nn_distance[i, None] / self.noise_norm
        x += scale * z * (x > 0)
        np.maximum(x, 0, out=x)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x, i


def synthesise(out, n, model, noise, seed=0, chunk=50_000):
    """``n`` structured unit vectors into the ``.npy`` file ``out`` (written in chunks, memory-mapped)."""
    rng = np.random.default_rng(seed)
    tmp = f"{out}.tmp.npy"
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, model.real.shape[1]))
    for s in range(0, n, chunk):
        arr[s : s + chunk] = model.sample(min(chunk, n - s), noise, rng)[0]
    arr.flush()
    del arr
    os.replace(tmp, out)
    return np.load(out, mmap_mode="r")


def properties(vectors, eigen_k=(10, 50, 100, 256, 512)):
    """The properties compared between real and synthetic vectors (same sample size)."""
    v = np.asarray(vectors, dtype=np.float32)
    mean = v.mean(axis=0)
    ev = np.linalg.eigvalsh(np.cov((v - mean).T))[::-1].clip(0)
    cum = np.cumsum(ev) / ev.sum()
    _, nn_cos = _neighbours(v, 10)
    nn_dist = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * nn_cos[:, 0]))
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(v), 20000), rng.integers(0, len(v), 20000)
    return {
        "total variance": float(ev.sum()),
        **{f"variance in top {k} PCs": float(cum[k - 1]) for k in eigen_k},
        "participation ratio": float(ev.sum() ** 2 / (ev**2).sum()),
        "zero features": float((v == 0).mean()),
        "NN distance p10/p50/p90": _deciles(nn_dist),
        "10th-NN cosine p10/p50/p90": _deciles(nn_cos[:, 9]),
        "random-pair cosine p10/p50/p90": _deciles(np.einsum("ij,ij->i", v[a], v[b])),
    }


def _deciles(values):
    return [round(float(x), 3) for x in np.quantile(values, [0.1, 0.5, 0.9])]


def fit_noise(model, candidates=(0.0, 0.25, 0.5, 0.75, 1.0, 1.25), log=print):
    """The noise scale whose same-size synthetic sample best matches the real NN distances."""
    real_nn = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * _neighbours(model.real, 1)[1][:, 0]))
    target = np.quantile(real_nn, [0.1, 0.25, 0.5, 0.75, 0.9])
    best = None
    for noise in candidates:
        x, _ = model.sample(len(model.real), noise, np.random.default_rng(7))
        nn = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * _neighbours(x, 1)[1][:, 0]))
        err = float(np.abs(np.quantile(nn, [0.1, 0.25, 0.5, 0.75, 0.9]) - target).mean())
        log(f"  noise {noise:.2f}: NN distance quartiles {np.quantile(nn, [0.25, 0.5, 0.75]).round(3)} "
            f"(real {target[1:4].round(3)}), mean quantile error {err:.3f}")
        if best is None or err < best[1]:
            best = (noise, err)
    return best[0]


if __name__ == "__main__":
    v, lab = real_embeddings()
    print(v.shape, np.unique(lab, return_counts=True))
    m = Model(v)
    noise = fit_noise(m)
    print("chosen noise", noise)
    x, _ = m.sample(len(v), noise, np.random.default_rng(11))
    pr, ps = properties(v), properties(x)
    for key in pr:
        print(f"  {key:<32} real {pr[key]}  synthetic {ps[key]}")
