"""Labelled evaluation of feature configurations on real NEON tiles (``make eval``, issue 16).

For each labelled image (``bench/labels/*.csv``: one land-cover class per tile, the labelling rule in
each file's header) and each feature configuration below, it embeds the tiles and reports:

  * precision@10: the share of a tile's 10 nearest neighbours (cosine; inner product for the seed's
    unnormalised configuration) that have its class. ``mixed`` tiles are left out both as queries
    and as neighbours: only clean tiles are searched;
  * few-shot accuracy: nearest centroid (Euclidean) from 5 random examples per class, tested on all
    other clean tiles, averaged over 20 draws;
  * robustness: top-1 recovery of a tile from a transformed copy among ALL tiles of the image
    (mixed included), for a left-right flip, a 90 degree rotation, a shift by 1/8 of the tile along x
    (cut from the raster at that offset, towards the inside), Gaussian noise (sigma = 5 % of the
    image's value range, on the raw values) and +10 % brightness (raw values x 1.1, clipped); the
    queries are a fixed random sample of tiles (``--robust``);
  * tiles/s of the whole configuration (stretch, resize, normalise, forward passes, pooling) on
    ``--time-tiles`` tiles, in the same run, and the cost relative to the default.

Preprocessing is the plugin's: the global 0.5-99.5 % stretch (``core.stretch.compute_cuts`` /
``apply_cuts``) and the antialiased resize + ImageNet normalisation of ``core.model_input``. The
model is torchvision's MobileNetV2 (IMAGENET1K_V1, the provisioned weights) with forward hooks on
``features[13]`` (96 channels, stride 16), ``features[16]`` (160, stride 32) and ``features[18]``
(1280, the final layer). The default (first) is the plugin's default FEATURES ``mid+final``:
``features[13]`` and ``features[18]`` average-pooled, each L2-normalised, concatenated, the whole
L2-normalised (``core.models``). Configurations are computed in this script with hooks, not by the
plugin's extractors (``tests/unit/test_models.py`` checks that those give the same vectors).
Printed, not asserted beyond sanity (the defaults beat the seed's configuration and raw pixels on
P@10).

Usage: python3 bench/eval_labelled.py [--robust 60] [--time-tiles 32] [--threads 2] [--only yell]
       [--skip rot8] [--gallery clean]   (a quicker run on a busy machine)
       [--configs "rot4 f13+f18|seed"]  (only these configurations, besides the default)
"""

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "bench" / "labels"
ASSETS = Path(os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets"))
sys.path.insert(0, "/tmp/te-pypath")

IMAGES = {  # name -> (raster, labels, tile size)
    "yell": ("NEON_YELL_crop2.tif", "neon_yell_128.csv", 128),
    "osbs": ("OSBS_029.tif", "neon_osbs_50.csv", 50),
}
TRANSFORMS = ("flip", "rot90", "shift", "noise", "bright")
LAYERS = {"f13": 13, "f16": 16, "f18": 18}
OWN = "own"  # input size = the tile's own size, no resampling


class Config:
    """One way of turning a tile into a vector.

    ``layers``: pooled blocks, each L2-normalised before concatenation when there are several;
    ``views``: dihedral views averaged (indices into ``core.model_input.dihedral_views``: 0-3 are
    the rotations, 4-7 the rotations of the left-right flip), as the plugin averages them: the
    vector of each view (its parts L2-normalised and concatenated) averaged, then L2-normalised;
    ``pool``: ``avg`` or ``gem`` (p = 3).
    """

    def __init__(self, name, size=224, layers=("f18",), views=(0,), pool="avg", stretch="global",
                 normalize=True, raw=False):
        self.name, self.size, self.layers, self.views = name, size, tuple(layers), tuple(views)
        self.pool, self.stretch, self.normalize, self.raw = pool, stretch, normalize, raw

    def input_size(self, tile):
        return tile if self.size == OWN else self.size


CONFIGS = [
    Config("default: f13+f18 @224", layers=("f13", "f18")),
    Config("f18 avg @224 (final: the old default)"),
    Config("f18 avg @own size", size=OWN),
    Config("f18 avg @160", size=160),
    Config("f13 avg @224", layers=("f13",)),
    Config("f16 avg @224", layers=("f16",)),
    Config("f16+f18 @224", layers=("f16", "f18")),
    Config("f16+f18 @own", size=OWN, layers=("f16", "f18")),
    Config("f18 GeM @224", pool="gem"),
    Config("rot8 f18 @224 (today's option)", views=tuple(range(8))),
    Config("rot4 f18 @224", views=(0, 1, 2, 3)),
    Config("rot2 {0,90} f18 @224", views=(0, 1)),
    Config("rot4 f18 @own", size=OWN, views=(0, 1, 2, 3)),
    Config("rot8 f18 @own", size=OWN, views=tuple(range(8))),
    Config("rot4 f16+f18 @own", size=OWN, layers=("f16", "f18"), views=(0, 1, 2, 3)),
    # issue 16 item 5: rotation at <= 2x the default's cost with the new default features
    Config("rot4 f13+f18 @112", size=112, layers=("f13", "f18"), views=(0, 1, 2, 3)),
    Config("rot4 f13+f18 @160", size=160, layers=("f13", "f18"), views=(0, 1, 2, 3)),
    Config("rot2 {0,90} f13+f18 @160", size=160, layers=("f13", "f18"), views=(0, 1)),
    Config("rot4 f13+f18 @128", size=128, layers=("f13", "f18"), views=(0, 1, 2, 3)),
    Config("rot2 {0,90} f13+f18 @224", layers=("f13", "f18"), views=(0, 1)),
    Config("seed: per-tile stretch, no L2", stretch="per_tile", normalize=False),
    Config("raw 16x16 pixels", size=16, raw=True),
]


# -- data ---------------------------------------------------------------------------------------
def read_labels(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    return {a: b for a, b in rows[1:]}


def load_image(name):
    from osgeo import gdal

    gdal.UseExceptions()
    raster, labels, tile = IMAGES[name]
    path = str(ASSETS / raster)
    ds = gdal.Open(path)
    raw = ds.ReadAsArray(band_list=[1, 2, 3])
    ds = None
    prefix = Path(raster).stem
    rows, cols = raw.shape[1] // tile, raw.shape[2] // tile
    cells = [(r, c) for r in range(rows) for c in range(cols)]  # RasterTiles order, edges dropped
    ids = [f"{prefix}_r{r}_c{c}" for r, c in cells]
    lab = read_labels(LABELS / labels)
    missing = [i for i in ids if i not in lab]
    if missing:
        raise SystemExit(f"{labels}: {len(missing)} tiles without a label, e.g. {missing[0]}")
    return path, raw, tile, cells, np.array([lab[i] for i in ids])


def cut(raw, tile, r, c, dx=0, dy=0):
    y, x = r * tile + dy, c * tile + dx
    return raw[:, y : y + tile, x : x + tile]


def transformed(raw, tile, cells, picks, kind, rng):
    """Raw ``(3, t, t)`` query tiles: the picked tiles transformed by ``kind``."""
    info = np.iinfo(raw.dtype) if raw.dtype.kind in "ui" else None
    value_range = float(raw.max()) - float(raw.min())
    out = []
    for i in picks:
        r, c = cells[i]
        a = cut(raw, tile, r, c)
        if kind == "flip":
            q = a[:, :, ::-1]
        elif kind == "rot90":
            q = np.rot90(a, 1, axes=(1, 2))
        elif kind == "shift":
            d = tile // 8
            dx = d if (c + 1) * tile + d <= raw.shape[2] else -d  # towards the inside of the raster
            q = cut(raw, tile, r, c, dx=dx)
        else:
            f = a.astype(np.float64)
            f = f + rng.normal(0.0, 0.05 * value_range, f.shape) if kind == "noise" else f * 1.1
            if info is not None:
                f = np.clip(np.rint(f), info.min, info.max)
            q = f.astype(raw.dtype)
        out.append(np.ascontiguousarray(q))
    return out


# -- the model ----------------------------------------------------------------------------------
class Backbone:
    """MobileNetV2 with forward hooks: one forward pass gives every layer a configuration pools."""

    def __init__(self, threads):
        import torch
        from torchvision.models import mobilenet_v2

        torch.set_num_threads(threads)
        self.torch = torch
        self.net = mobilenet_v2(weights="IMAGENET1K_V1").features.eval()
        self.maps = {}
        for key, idx in LAYERS.items():
            self.net[idx].register_forward_hook(self._hook(key))

    def _hook(self, key):
        def fn(module, inputs, output):
            self.maps[key] = output

        return fn

    def macs(self, size, upto=18):
        """Multiply-accumulates of one forward pass at ``size`` up to block ``upto``: the cost
        that does not depend on how busy the machine is."""
        torch = self.torch
        total = [0]

        def count(module, inputs, output):
            k = module.kernel_size[0] * module.kernel_size[1]
            total[0] += output.numel() * module.in_channels // module.groups * k

        hooks = [m.register_forward_hook(count) for m in self.net.modules() if isinstance(m, torch.nn.Conv2d)]
        try:
            with torch.inference_mode():
                h = torch.zeros(1, 3, size, size)
                for block in self.net[: upto + 1]:
                    h = block(h)
        finally:
            for h in hooks:
                h.remove()
        return total[0]

    def pooled(self, x, layers, pools, upto=18):
        """``{(layer, pool): (b, c) array}`` for model input ``x``; runs the blocks up to ``upto``."""
        torch = self.torch
        self.maps = {}
        with torch.inference_mode():
            h = torch.from_numpy(x)
            for block in self.net[: upto + 1]:
                h = block(h)
            out = {}
            for key in layers:
                m = self.maps[key]
                for p in pools:
                    if p == "avg":
                        v = m.mean(dim=(2, 3))
                    else:  # GeM, p = 3 (activations are ReLU6 outputs, >= 0)
                        v = m.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1.0 / 3.0)
                    out[(key, p)] = v.numpy().copy()
        return out


def l2(v):
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def view_vector(pooled, cfg):
    """One view's vector, as the plugin's FEATURES make it: several parts each L2-normalised."""
    f = [pooled[(k, cfg.pool)] for k in cfg.layers]
    return np.concatenate([l2(a) for a in f] if len(f) > 1 else f, axis=1)


class Embedder:
    """Raw tiles -> vectors for every configuration, sharing the forward passes between them."""

    def __init__(self, backbone, cuts, tile, batch=32):
        self.bb, self.cuts, self.tile, self.batch = backbone, cuts, tile, batch

    def rgb8(self, raw_tiles, stretch):
        from tile_embeddings.core.stretch import apply_cuts, percentile_cuts_array

        if stretch == "global":
            return np.stack([apply_cuts(a, self.cuts, None, reserve_zero=False) for a in raw_tiles])
        return np.stack(
            [apply_cuts(a, percentile_cuts_array(a, 0.5, 99.5), None, reserve_zero=False) for a in raw_tiles]
        )

    def model_input(self, u8, size):
        from tile_embeddings.core.model_input import model_input
        from tile_embeddings.core.models import IMAGENET_MEAN, IMAGENET_STD

        return model_input(u8, size, IMAGENET_MEAN, IMAGENET_STD)

    def embed(self, raw_tiles, configs):
        """``{config name: (n, d)}``; configurations with the same stretch, size and views share
        one forward pass per view."""
        from tile_embeddings.core.model_input import dihedral_views

        groups = {}
        for cfg in configs:
            key = (cfg.stretch, cfg.input_size(self.tile), cfg.raw)
            groups.setdefault(key, []).append(cfg)
        out = {}
        for (stretch, size, raw), cfgs in groups.items():
            parts = {c.name: [] for c in cfgs}
            for s in range(0, len(raw_tiles), self.batch):
                x = self.model_input(self.rgb8(raw_tiles[s : s + self.batch], stretch), size)
                if raw:
                    for c in cfgs:
                        parts[c.name].append(x.reshape(len(x), -1))
                    continue
                views = sorted({v for c in cfgs for v in c.views})
                layers = sorted({k for c in cfgs for k in c.layers})
                pools = sorted({c.pool for c in cfgs})
                dv = dihedral_views(x) if views != [0] else [x]
                per_view = {v: self.bb.pooled(dv[v], layers, pools) for v in views}
                for c in cfgs:
                    parts[c.name].append(np.mean([view_vector(per_view[v], c) for v in c.views], axis=0))
            for c in cfgs:
                v = np.concatenate(parts[c.name]).astype(np.float32)
                out[c.name] = l2(v) if c.normalize else v
        return out

    def time_config(self, raw_tiles, cfg):
        """Seconds for the whole configuration on ``raw_tiles``, forwards truncated at its last
        layer (an earlier block alone does not need the rest of the network)."""
        from tile_embeddings.core.model_input import dihedral_views

        size = cfg.input_size(self.tile)
        upto = max(LAYERS[k] for k in cfg.layers)
        t = time.perf_counter()
        for s in range(0, len(raw_tiles), self.batch):
            x = self.model_input(self.rgb8(raw_tiles[s : s + self.batch], cfg.stretch), size)
            if cfg.raw:
                l2(x.reshape(len(x), -1))
                continue
            dv = dihedral_views(x) if cfg.views != (0,) else [x]
            for v in cfg.views:
                self.bb.pooled(dv[v], cfg.layers, (cfg.pool,), upto)
        return time.perf_counter() - t

    def macs(self, cfg):
        if cfg.raw:
            return 0
        upto = max(LAYERS[k] for k in cfg.layers)
        return len(cfg.views) * self.bb.macs(cfg.input_size(self.tile), upto)


# -- measures -----------------------------------------------------------------------------------
def precision_at_10(emb, labels, clean):
    e, y = emb[clean], labels[clean]
    s = e @ e.T
    np.fill_diagonal(s, -np.inf)
    nn = np.argsort(-s, axis=1)[:, :10]
    p = (y[nn] == y[:, None]).mean(axis=1)
    return float(p.mean()), {c: float(p[y == c].mean()) for c in np.unique(y)}


def few_shot(emb, labels, clean, draws=20, shots=5, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(clean)
    classes = np.unique(labels[idx])
    accs = []
    for _ in range(draws):
        train = np.concatenate([rng.choice(idx[labels[idx] == c], shots, replace=False) for c in classes])
        test = np.setdiff1d(idx, train)
        cent = np.stack([emb[train[labels[train] == c]].mean(axis=0) for c in classes])
        d = ((emb[test][:, None, :] - cent[None]) ** 2).sum(axis=2)
        accs.append(float((classes[d.argmin(axis=1)] == labels[test]).mean()))
    return float(np.mean(accs))


def top1(query_emb, gallery, picks):
    return float(np.mean((query_emb @ gallery.T).argmax(axis=1) == picks))


# -- the run ------------------------------------------------------------------------------------
def evaluate(name, bb, args):
    from tile_embeddings.core.stretch import compute_cuts

    path, raw, tile, cells, labels = load_image(name)
    clean = labels != "mixed"
    classes, counts = np.unique(labels[clean], return_counts=True)
    mixed = int((~clean).sum())
    if args.gallery == "clean":  # mixed tiles are not embedded at all: robustness among clean tiles
        cells, labels = [c for c, k in zip(cells, clean) if k], labels[clean]
        clean = np.ones(len(cells), dtype=bool)
    rng = np.random.default_rng(16)
    picks = np.sort(rng.choice(len(cells), min(args.robust, len(cells)), replace=False))
    print(
        f"\n== {Path(path).name}: {len(cells)} tiles of {tile} px, clean "
        + ", ".join(f"{c} {n}" for c, n in zip(classes, counts))
        + f", mixed {mixed} (left out of P@10 and few-shot); robustness on {len(picks)}"
        f" tiles against {'all' if args.gallery == 'all' else 'the clean'} {len(cells)}"
    )
    cuts = compute_cuts(path, (1, 2, 3), 0.5, 99.5)
    emb = Embedder(bb, cuts, tile)
    tiles = [cut(raw, tile, r, c) for r, c in cells]

    t0 = time.perf_counter()
    gallery = emb.embed(tiles, CONFIGS)
    queries = {k: emb.embed(transformed(raw, tile, cells, picks, k, rng), CONFIGS) for k in TRANSFORMS}
    print(f"  (embedding all configurations: {time.perf_counter() - t0:.0f} s)")

    timing_tiles = tiles[: args.time_tiles]
    emb.time_config(timing_tiles[: emb.batch], CONFIGS[0])  # warm-up
    rows = []
    for cfg in CONFIGS:
        g = gallery[cfg.name]
        p10, per_class = precision_at_10(g, labels, clean)
        rob = {k: top1(queries[k][cfg.name], g, picks) for k in TRANSFORMS}
        secs = emb.time_config(timing_tiles, cfg)
        rows.append(
            {"cfg": cfg, "p10": p10, "per_class": per_class, "fs": few_shot(g, labels, clean),
             "rob": rob, "tps": len(timing_tiles) / secs}
        )
    base = rows[0]["tps"]
    base_macs = emb.macs(CONFIGS[0])
    for r in rows:
        r["cost"] = base / r["tps"]
        r["macs"] = emb.macs(r["cfg"]) / base_macs

    head = f"  {'configuration':<32} {'P@10':>5} {'worst':>5} {'5-shot':>6} " + " ".join(
        f"{k:>6}" for k in TRANSFORMS
    ) + f" {'tiles/s':>7} {'cost':>5} {'MACs':>5}"
    print(head)
    for r in rows:
        print(
            f"  {r['cfg'].name:<32} {r['p10']:5.2f} {min(r['per_class'].values()):5.2f} {r['fs']:6.2f} "
            + " ".join(f"{r['rob'][k]:6.2f}" for k in TRANSFORMS)
            + f" {r['tps']:7.1f} {r['cost']:4.1f}x {r['macs']:4.2f}x"
        )
    cheap = [r for r in rows if r["cost"] <= 2.0]
    best = max(cheap, key=lambda r: (r["p10"], min(r["per_class"].values())))
    print(f"  per-class P@10 ({', '.join(classes)}):")
    for r in (rows[0], best):
        print(f"    {r['cfg'].name:<32} " + "  ".join(f"{c} {r['per_class'][c]:.2f}" for c in classes))
    goal = [r["cfg"].name for r in cheap if r["p10"] >= 0.90 and min(r["per_class"].values()) >= 0.70]
    rot = [r["cfg"].name for r in cheap if r["rob"]["rot90"] >= 0.95]
    print(f"  goal P@10 >= 0.90, no class < 0.70, cost <= 2x: {', '.join(goal) or 'none'}")
    print(f"  goal rot90 top-1 >= 0.95, cost <= 2x: {', '.join(rot) or 'none'}")
    by = {r["cfg"].name: r for r in rows}
    baselines = [by[k]["p10"] for k in ("seed: per-tile stretch, no L2", "raw 16x16 pixels") if k in by]
    ok = not baselines or by[CONFIGS[0].name]["p10"] > max(baselines)
    if baselines:
        print(f"  defaults beat the seed's configuration and raw pixels (P@10): {'yes' if ok else 'NO'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--robust", type=int, default=60, help="tiles queried by transformed copies")
    ap.add_argument("--time-tiles", type=int, default=32, help="tiles timed per configuration")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--only", choices=sorted(IMAGES), help="one image only")
    ap.add_argument("--skip", default="", help="leave out configurations whose name contains this")
    ap.add_argument(
        "--configs", default="",
        help="run only the configurations whose name contains one of these '|'-separated strings "
        "(the default, first, is always run: costs are relative to it)",
    )
    ap.add_argument(
        "--gallery", choices=("all", "clean"), default="all",
        help="robustness: search among all tiles (default) or clean tiles only (a quicker run)",
    )
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when the output goes to a file
    if args.skip:
        CONFIGS[:] = [c for c in CONFIGS if args.skip not in c.name]
    if args.configs:
        wanted = [w for w in args.configs.split("|") if w]
        CONFIGS[:] = CONFIGS[:1] + [c for c in CONFIGS[1:] if any(w in c.name for w in wanted)]
    bb = Backbone(args.threads)
    ok = all([evaluate(n, bb, args) for n in IMAGES if args.only in (None, n)])
    print("SANITY", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
