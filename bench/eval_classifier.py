"""Find-all quality on real NEON tiles (``make eval``): the classifier against the nearest-neighbour
query, from the same few labelled examples.

Data: NEON_YELL_crop2.tif in 128 px tiles (19 x 17 = 323 tiles), MobileNetV2 (ImageNet weights,
224 px input, global 0.5-99.5 % stretch: the defaults of 'Embed tiles'), labelled by eye into
conifer (100 tiles), sagebrush (52), meadow (51) and mixed (120): bench/labels/neon_yell_128.csv
says how. Mixed tiles are never drawn as examples and never tested.

Protocol, for k = 5, 10, 20 labelled examples per class and ``--draws`` random draws (default 20):
draw k tiles of each class; for each class in turn (one-vs-rest), the positives are its k tiles
and the negatives the k tiles of each other class (2k); every other labelled tile is a test tile.
Reported: balanced accuracy on the test tiles (the mean of the share of the class found and the
share of the rest rejected; 0.5 = guessing), averaged over classes and draws, for

  classifier   core.classifier.train(positives, negatives); detection = probability >= 0.5;
  NN, label threshold
               the nearest-neighbour query of the dock and 'Similarity search': the mean of the
               unit positives, cosine score; detection = score >= the threshold that best
               separates the drawn positives from the drawn negatives (the same labels the
               classifier sees; midpoint of the best gap);
  NN + negatives, label threshold
               the same with the negatives subtracted (what Ctrl-click does in the dock);
  NN, top-m (oracle)
               the mean-of-positives query, its m best test tiles detected, m = the true number
               of the class among the test tiles: knows what no user knows, an upper bound for
               a ranked list;

plus the ROC AUC of the classifier and of the NN query (threshold-free), and the classifier's own
cross-validated estimate (from the drawn labels only) beside its measured test accuracy.
Usage: python3 bench/eval_classifier.py [--draws 20] [--rebuild]
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench-output" / "eval"
ASSETS = Path(os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets"))
LABELS = REPO / "bench" / "labels" / "neon_yell_128.csv"
CLASSES = ("conifer", "meadow", "sagebrush")
sys.path.insert(0, "/tmp/te-pypath")


def read_labels(path=LABELS):
    labels = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line == "tile_id,class":
                continue
            tile_id, cls = line.split(",")
            labels[tile_id] = cls
    return labels


def balanced_accuracy(predicted, truth):
    return 0.5 * (predicted[truth].mean() + (~predicted[~truth]).mean())


def label_threshold(pos_scores, neg_scores):
    """The cut that best separates the labelled positives from the negatives (midpoint of the best gap)."""
    s = np.r_[pos_scores, neg_scores]
    y = np.r_[np.ones(len(pos_scores), bool), np.zeros(len(neg_scores), bool)]
    values = np.unique(s)
    cuts = np.r_[values[0] - 1e-6, (values[:-1] + values[1:]) / 2, values[-1] + 1e-6]
    scores = [balanced_accuracy(s >= c, y) for c in cuts]
    best = np.flatnonzero(np.isclose(scores, max(scores)))
    return float(cuts[best[len(best) // 2]])


def auc(scores, truth):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(truth, scores)


def index_path(rebuild):
    from tile_embeddings.core.embedding import embed_tiles

    out = OUT / "NEON_YELL_crop2_128.teindex"
    if rebuild or not (out / "meta.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        embed_tiles(str(out), raster=str(ASSETS / "NEON_YELL_crop2.tif"), tile_size=128, resume=False)
        print(f"embedded NEON_YELL_crop2.tif in 128 px tiles in {time.perf_counter() - t:.0f} s")
    return out


def evaluate(ix, labels, k, draws):
    from tile_embeddings.core import classifier, search

    emb = np.asarray(ix.embeddings)
    by_class = {c: [t for t, v in labels.items() if v == c] for c in CLASSES}
    rows = {}
    for name in ("classifier", "nn_threshold", "nn_negatives", "nn_topm", "auc_classifier", "auc_nn",
                 "estimate", "measured"):
        rows[name] = []
    for draw in range(draws):
        rng = np.random.default_rng(1000 + draw)
        drawn = {c: list(rng.choice(by_class[c], k, replace=False)) for c in CLASSES}
        for c in CLASSES:
            pos = drawn[c]
            neg = [t for other in CLASSES if other != c for t in drawn[other]]
            test = [t for other in CLASSES for t in by_class[other] if t not in drawn[other]]
            test_rows = ix.rows_of(test)
            truth = np.array([labels[t] == c for t in test])
            model = classifier.train(ix, pos, neg, seed=draw, quality=True)
            p = model.score(ix)[test_rows]
            ba = balanced_accuracy(p >= 0.5, truth)
            rows["classifier"].append(ba)
            rows["auc_classifier"].append(auc(p, truth))
            if model.quality.get("balanced_accuracy") is not None:
                rows["estimate"].append(model.quality["balanced_accuracy"])
                rows["measured"].append(ba)
            pos_rows, neg_rows = ix.rows_of(pos), ix.rows_of(neg)
            for name, q in (("nn_threshold", search.query_vector(ix, pos)),
                            ("nn_negatives", search.query_vector(ix, pos, neg))):
                s = emb @ q
                cut = label_threshold(s[pos_rows], s[neg_rows])
                rows[name].append(balanced_accuracy(s[test_rows] >= cut, truth))
            s = (emb @ search.query_vector(ix, pos))[test_rows]
            rows["auc_nn"].append(auc(s, truth))
            top = np.zeros(len(test), bool)
            top[np.argsort(-s, kind="stable")[: int(truth.sum())]] = True
            rows["nn_topm"].append(balanced_accuracy(top, truth))
    return {name: (float(np.mean(v)) if v else float("nan")) for name, v in rows.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--rebuild", action="store_true", help="embed the tiles again")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    from tile_embeddings.core.index import open_index

    labels = read_labels()
    ix = open_index(index_path(args.rebuild))
    missing = [t for t in labels if t not in set(ix.ids)]
    if missing or len(labels) != len(ix):
        raise SystemExit(f"the labels do not match the index's tiles (e.g. {missing[:3]})")
    counts = {c: sum(v == c for v in labels.values()) for c in (*CLASSES, "mixed")}
    print(f"== find all on NEON_YELL_crop2.tif, 128 px tiles ({len(ix)}), MobileNetV2 @224; labels: "
          + ", ".join(f"{c} {n}" for c, n in counts.items()))
    print(f"   one-vs-rest over {', '.join(CLASSES)}; {args.draws} random draws per size; balanced accuracy "
          "on the tiles not drawn (mixed left out)")
    print(f"   {'examples per class':<20}{'classifier':>11}{'NN thr.':>9}{'NN+neg':>8}{'NN top-m*':>10}"
          f"{'AUC clf':>9}{'AUC NN':>8}{'CV est.':>9}{'measured':>9}")
    wins = {}
    t = time.perf_counter()
    for k in (5, 10, 20):
        r = evaluate(ix, labels, k, args.draws)
        print(f"   {k:<20}{r['classifier']:>11.3f}{r['nn_threshold']:>9.3f}{r['nn_negatives']:>8.3f}"
              f"{r['nn_topm']:>10.3f}{r['auc_classifier']:>9.3f}{r['auc_nn']:>8.3f}{r['estimate']:>9.3f}"
              f"{r['measured']:>9.3f}")
        wins[k] = r["classifier"] > max(r["nn_threshold"], r["nn_negatives"], r["nn_topm"])
    print("   * top-m knows the true number of the class among the test tiles (an oracle). CV est.: the\n"
          "     classifier's own 5-fold estimate from the drawn labels; measured: its test accuracy in the\n"
          f"     same runs. ({time.perf_counter() - t:.0f} s)")
    verdict = "yes" if wins[10] and wins[20] else "NO"
    print(f"   the classifier beats every nearest-neighbour variant from 10 examples per class on: {verdict} "
          f"(5: {'yes' if wins[5] else 'no'}, 10: {'yes' if wins[10] else 'no'}, 20: {'yes' if wins[20] else 'no'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
