"""Find all: a tile classifier trained from a few labelled tiles of a similarity index.

The loop people know from Earth Index and GeoVibes: mark a few tiles yes or no, train a small
classifier on their embeddings, look at the detections, label the tiles it is least sure about,
retrain. QGIS-free: the algorithm ``classifytiles`` and the dock's "Find all" mode (from a
``QgsTask`` worker thread) call the same functions.

API::

    train(index, positive_ids, negative_ids=(), *, seed=0, background=2000, C=1.0,
          quality=True, previous=None, progress=None) -> Classifier
    Classifier.score(index, progress=None, include_constant=False) -> float32 (n,)
                                      probability of every tile, row order (NaN: a constant tile)
    score_embeddings(embeddings, weights, bias, progress=None) -> float32 (n,)
    propose(index, classifier, probabilities, n=10, labelled=(), centers=None, *, threshold=0.5,
            max_cosine=0.9, min_distance=None) -> [tile id]
    save_classifier(path, classifier) -> path;  load_classifier(path) -> Classifier
    default_classifier_path(index, name=None);  check_compatible(classifier, index)
    index_fingerprint(meta);  parse_label(value, positive_class=None)
    labels_from_geometries(index, [(wkt, value)], positive_class=None) -> LabelSet
    classify_tiles(index, ...) -> ClassifyResult      everything the algorithm does, in one call

and from :mod:`.detections` (re-exported here): ``detected_rows(probabilities, threshold)``,
``detection_regions(index, probabilities, threshold, progress=None) -> [Detection]``,
``tile_table(index)`` (row, col and centre of every tile, e.g. ``centers`` for :func:`propose`),
``hide_constant(index, probabilities)``, ``write_probabilities`` and ``write_detections``.

Constant tiles (every valid pixel one value: a fill, a blank scan; flagged in the index's
``constant.npy``) all embed to the same vector, so a classifier that scores one high scores them
all high: like :func:`.search.search`, scoring leaves them out (probability NaN: never detected,
never proposed, NULL in the outputs) unless ``include_constant``. They may still be labelled
examples; training reads their embeddings like any other tile's.

For the dock: train with ``quality=False`` and ``previous=`` the last classifier while labels are
being added (measured at 100k x 1280 on 2 busy cores: train + score ~105 ms with labelled
negatives, ~400 ms with positives only; ``bench/bench_classifier.py``).

The model is scikit-learn's L2 logistic regression (lbfgs) on embeddings standardised with the
mean and spread of a random sample of the index, with each class weighted to the same total
whatever its count (class balancing). The standardisation is folded back into one weight vector
and a bias, so scoring every tile is one matrix-vector product over the memory-mapped rows
(the numba kernel of :mod:`.search`, in chunks with progress and cancel), then a sigmoid.

Positives only: a random sample of the index (``background`` tiles, drawn once per index and seed
and cached) serves as the negatives: positive-unlabelled learning, on the bet that most of the map
is not the target. The sampled tiles most similar to each positive (its nearest
``EXCLUDE_FRACTION`` of the sample) are left out, as likely unlabelled positives, and the log says
so. Once negatives are labelled, only labelled tiles are trained on: on the NEON evaluation
(``make eval``) adding the background to labelled negatives cost 0.3-0.4 in balanced accuracy,
because a random sample holds the target class at its prevalence (up to a third of the tiles there).

Quality is estimated from the labels alone: pooled stratified k-fold cross-validation (balanced
accuracy at probability 0.5) when there are at least ``MIN_PER_CLASS`` positives and negatives;
with positives only, the share of held-out positives found; otherwise it says there are too few
labels to tell.

The sample also gives the standardisation statistics, so retraining after one more label costs
one fit on the labels (plus the cached sample with positives only; plus the cross-validation fits
when ``quality`` is on) and one scoring pass: what the dock needs to stay interactive.

Saved classifiers are JSON (bias, the index's model and preprocessing fingerprint, label counts,
quality, log) plus a ``.npy`` weight vector beside it; no pickle. Scoring an index built with a
different model or preprocessing is refused with an :class:`InputError` naming the setting.
"""

import hashlib
import json
import os
import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from .detections import (  # noqa: F401  (re-exported: the classifier's results on the map)
    Detection,
    detected_rows,
    detection_regions,
    hide_constant,
    tile_table,
    write_detections,
    write_probabilities,
)
from .errors import InputError
from .progress import ensure

FORMAT = "tile-embeddings-classifier"
FORMAT_VERSION = 1
DEFAULT_BACKGROUND = 2000
DEFAULT_C = 1.0
EXCLUDE_FRACTION = 0.01
MIN_PER_CLASS = 5
FOLDS = 5
CHUNK = 131072  # rows scored per kernel call: progress and cancel between chunks
CLASSIFIERS_FOLDER = "classifiers"

# what makes two indexes' embeddings comparable (meta.json keys; preprocessing keys below)
_MODEL_KEYS = ("model", "model_kind", "weights_sha256", "dims")
_PREP_KEYS = ("bands", "stretch", "lower", "upper", "input_size", "rotation_invariant", "resize",
              "mean", "std", "l2_normalised")
_SETTING_NAMES = {
    "model": "model", "model_kind": "kind of model", "weights_sha256": "model weights (sha256)",
    "weights": "model weights", "dims": "embedding dimensions", "bands": "bands", "stretch": "stretch",
    "lower": "lower percentile", "upper": "upper percentile", "input_size": "model input size",
    "rotation_invariant": "rotation invariance", "resize": "resize method", "mean": "normalisation mean",
    "std": "normalisation std", "l2_normalised": "L2 normalisation",
}

_TRUE = {"1", "yes", "y", "true", "t", "positive", "pos", "+"}
_FALSE = {"0", "no", "n", "false", "f", "negative", "neg", "-"}


# -- the classifier -------------------------------------------------------------------------------
@dataclass
class Classifier:
    """A linear classifier over an index's embeddings: ``p = sigmoid(x . weights + bias)``."""

    weights: np.ndarray
    bias: float
    fingerprint: dict
    positives: list = field(default_factory=list)
    negatives: list = field(default_factory=list)
    background: int = 0
    log: list = field(default_factory=list)
    quality: dict = field(default_factory=dict)
    C: float = DEFAULT_C
    seed: int = 0
    index_path: str = ""
    created: str = ""
    path: str = ""  # where it was saved or loaded from

    @property
    def dims(self):
        return int(self.weights.shape[0])

    def score(self, index, progress=None, include_constant=False):
        """Probability of every tile of ``index`` (float32, row order; NaN for the index's constant
        tiles unless ``include_constant``); refuses a mismatched index."""
        check_compatible(self, index)
        p = score_embeddings(index.embeddings, self.weights, self.bias, progress)
        hide_constant(index, p, include_constant)
        return p

    def describe(self):
        return (f"{len(self.positives)} positives, {len(self.negatives)} negatives"
                + (f", {self.background} background tiles" if self.background else "")
                + f"; {self.quality.get('text', '')}")


@dataclass
class LabelSet:
    """Tile labels picked by labelled geometries, and what could not be used."""

    positives: list
    negatives: list
    features: int = 0
    outside: int = 0  # features that touch no tile of the index
    unlabelled: int = 0  # features with an empty label
    conflicts: list = field(default_factory=list)  # tiles labelled both yes and no: left out

    def describe(self):
        parts = [f"{self.features} labelled features -> {len(self.positives)} positive and "
                 f"{len(self.negatives)} negative tiles"]
        if self.outside:
            parts.append(f"{self.outside} features fall outside the index's tiles and were ignored")
        if self.unlabelled:
            parts.append(f"{self.unlabelled} features have no label and were ignored")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} tiles labelled both yes and no were left out")
        return "; ".join(parts)


# -- labels ---------------------------------------------------------------------------------------
def _clean_ids(ids):
    if ids is None:
        return []
    if isinstance(ids, str):
        ids = ids.replace(";", ",").replace("\n", ",").split(",")
    return [str(t).strip() for t in ids if str(t).strip()]


def _text(value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_label(value, positive_class=None):
    """True (positive), False (negative) or None (no label) for one label value.

    Without ``positive_class``: 1/0, yes/no, true/false (and y/n, t/f, positive/negative), any
    case; anything else raises :class:`InputError` naming POSITIVE_CLASS. With it: the value equal
    to ``positive_class`` (case-insensitive) is positive, any other non-empty value negative.
    """
    if value is None or isinstance(value, bool):
        return value
    text = _text(value)
    if not text or text.lower() in ("null", "none", "nan"):
        return None
    if positive_class not in (None, ""):
        return text.lower() == _text(positive_class).lower()
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError(
        f"the label {text!r} is not yes/no, true/false or 1/0: name the class to find as the positive "
        "class (every other class becomes a negative).",
        parameter="POSITIVE_CLASS",
    )


def labels_from_geometries(index, labelled, positive_class=None, require_positive=True):
    """Positive and negative tile ids from ``(wkt, value)`` pairs in the index CRS.

    A point labels the tile under it, a polygon the tiles whose centres it contains (the rule of
    :func:`.index.tiles_for_geometries`). Features outside every tile are counted; when none falls
    on a tile, or no positive is left, an :class:`InputError` names the LABELS parameter.
    """
    from .index import tiles_for_geometries

    labelled = list(labelled)
    if positive_class not in (None, ""):
        values = {_text(v).lower() for _, v in labelled if v is not None and _text(v)}
        if _text(positive_class).lower() not in values:
            shown = ", ".join(sorted(values)[:10]) or "none"
            raise InputError(f"no feature has the label {positive_class!r} (labels found: {shown}).",
                             parameter="POSITIVE_CLASS")
    result = LabelSet([], [], features=len(labelled))
    pos, neg = {}, {}
    for wkt, value in labelled:
        label = parse_label(value, positive_class)
        if label is None:
            result.unlabelled += 1
            continue
        tiles = tiles_for_geometries(index, [wkt]) if wkt else []
        if not tiles:
            result.outside += 1
            continue
        for t in tiles:
            (pos if label else neg).setdefault(t, None)
    both = set(pos) & set(neg)
    result.conflicts = sorted(both)
    result.positives = [t for t in pos if t not in both]
    result.negatives = [t for t in neg if t not in both]
    used = result.features - result.unlabelled
    if used and result.outside == used:
        raise InputError(
            f"none of the {used} labelled features falls on a tile of the index: is the layer over the "
            "same area as the index?",
            parameter="LABELS",
        )
    if require_positive and not result.positives:
        raise InputError("no positive tile among the labels: label at least one tile as yes (or as the "
                         "positive class).", parameter="LABELS")
    return result


def _rows(index, ids, parameter):
    ids = _clean_ids(ids)
    rows = index.rows_of(ids, parameter) if ids else np.empty(0, np.int64)
    _, first = np.unique(rows, return_index=True)
    return rows[np.sort(first)]


# -- fitting --------------------------------------------------------------------------------------
class _Sample:
    """A random sample of an index's rows with their vectors and standardisation statistics."""

    def __init__(self, index, seed, size):
        n = len(index)
        rng = np.random.default_rng(seed)
        k = min(n, size + 256)  # a margin: labelled tiles are dropped from it at training time
        self.rows = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
        self.vectors = np.asarray(index.embeddings[self.rows], dtype=np.float32)
        self.order = rng.permutation(k)  # which sampled tiles come first when capping the size
        self.mean = self.vectors.mean(axis=0)
        spread = self.vectors.std(axis=0)
        self.scale = np.maximum(spread, max(float(np.median(spread)), 1e-6) * 1e-2).astype(np.float32)
        self.standard = self.standardise(self.vectors)  # the background as the solver sees it

    def standardise(self, x):
        return ((x - self.mean) / self.scale).astype(np.float32, copy=False)


_SAMPLES = weakref.WeakKeyDictionary()
_SAMPLES_LOCK = threading.Lock()


def _sample(index, seed, size):
    """The cached sample of ``index`` (drawn once per index object, seed and size)."""
    with _SAMPLES_LOCK:
        per_index = _SAMPLES.setdefault(index, {})
        key = (int(seed), int(size))
        sample = per_index.get(key)
        if sample is None:
            sample = per_index[key] = _Sample(index, seed, size)
    return sample


def _background_rows(sample, size, positive_vectors, exclude_rows):
    """Positions in ``sample`` used as background: no labelled tile, not among the positives'
    nearest neighbours, at most ``size``. Returns (positions, number left out as neighbours)."""
    keep = ~np.isin(sample.rows, exclude_rows)
    dropped = 0
    if len(positive_vectors):
        sims = sample.vectors @ np.asarray(positive_vectors, np.float32).T  # (m, P)
        k = max(1, int(np.ceil(EXCLUDE_FRACTION * len(sample.rows))))
        near = np.zeros(len(sample.rows), bool)
        if k < len(sample.rows):
            top = np.argpartition(-sims, k - 1, axis=0)[:k]
            near[np.unique(top)] = True
        else:
            near[:] = True
        dropped = int((near & keep).sum())
        keep &= ~near
    return np.sort(sample.order[keep[sample.order]][:size]).astype(np.int64), dropped


def _one_blas_thread():
    """BLAS on one thread while fitting: the problems are small, and OpenBLAS's threads spinning on
    a busy machine made each L-BFGS step 30 times slower (7 ms instead of 0.23 ms, 1281 weights).
    threadpoolctl's limit is process-wide, for the few milliseconds of a fit."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn depends on it; tolerate a stripped install
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _fit(z_pos, z_neg, mean, scale, C, start=None):
    """Weights and bias in the raw embedding space, from standardised positives and negatives
    (``(x - mean) / scale``); both classes total the same weight.

    ``start``: raw (weights, bias) to start the solver from (a previous fit): the problem is convex,
    so the answer is the same, reached in a few steps instead of dozens when one label was added.
    """
    from sklearn.linear_model import LogisticRegression

    z = np.concatenate([z_pos, z_neg]).astype(np.float32, copy=False)
    y = np.r_[np.ones(len(z_pos), int), np.zeros(len(z_neg), int)]
    w = np.r_[np.full(len(z_pos), 0.5 / len(z_pos)), np.full(len(z_neg), 0.5 / len(z_neg))]
    w *= len(z) / w.sum()  # mean weight 1: C means what it means in scikit-learn
    model = LogisticRegression(C=C, max_iter=500, tol=1e-4, warm_start=start is not None)
    if start is not None:  # the raw solution in the standardised space the solver works in
        model.coef_ = (np.asarray(start[0], np.float64) * scale)[None, :]
        model.intercept_ = np.array([float(start[1]) + float(mean @ np.asarray(start[0], np.float64))])
    with _one_blas_thread():
        model.fit(z, y, sample_weight=w)
    coef = (model.coef_[0] / scale).astype(np.float32)
    bias = float(model.intercept_[0] - float(mean @ coef))
    return coef, bias


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


class _Trainer:
    """Fits from rows of one index, with its cached sample (shared by the final fit and the CV)."""

    def __init__(self, index, seed, background, C):
        self.emb = index.embeddings
        self.background = int(background)
        self.sample = _sample(index, seed, max(self.background, 512))
        self.C = float(C)

    def vectors(self, rows):
        if not len(rows):
            return np.empty((0, self.emb.shape[1]), np.float32)
        order = np.argsort(rows)
        out = np.empty((len(rows), self.emb.shape[1]), np.float32)
        out[order] = self.emb[rows[order]]
        return out

    def fit(self, x_pos, x_neg, labelled_rows, start=None):
        """(weights, bias, background tiles used, sampled tiles left out as the positives' neighbours)."""
        sample = self.sample
        if len(x_neg):
            w, b = _fit(sample.standardise(x_pos), sample.standardise(x_neg), sample.mean, sample.scale, self.C,
                        start)
            return w, b, 0, 0
        bg_pos, dropped = _background_rows(sample, self.background, x_pos, labelled_rows)
        if not len(bg_pos):
            raise InputError("no tile of the index is left to serve as background: label some tiles as no.",
                             parameter="NEGATIVE_IDS")
        w, b = _fit(sample.standardise(x_pos), sample.standard[bg_pos], sample.mean, sample.scale, self.C, start)
        return w, b, len(bg_pos), dropped


def _quality(trainer, x_pos, x_neg, pos_rows, neg_rows, seed, start):
    """Pooled stratified k-fold estimate from the labels (see the module docstring); each fold's
    fit starts from the full fit ``start`` (the same optimum, in fewer steps)."""
    n_pos, n_neg = len(x_pos), len(x_neg)
    if n_pos >= MIN_PER_CLASS and n_neg >= MIN_PER_CLASS:
        from sklearn.model_selection import StratifiedKFold

        x = np.concatenate([x_pos, x_neg])
        y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
        rows = np.r_[pos_rows, neg_rows]
        k = min(FOLDS, n_pos, n_neg)
        predicted = np.zeros(len(y), bool)
        for train_i, test_i in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
            tp, tn = train_i[y[train_i] == 1], train_i[y[train_i] == 0]
            w, b, _, _ = trainer.fit(x[tp], x[tn], rows, start)
            predicted[test_i] = _sigmoid(x[test_i] @ w + b) >= 0.5
        tpr = float(predicted[y == 1].mean())
        tnr = float((~predicted[y == 0]).mean())
        ba = (tpr + tnr) / 2
        return {
            "method": f"{k}-fold cross-validation", "balanced_accuracy": round(ba, 4),
            "positive_recall": round(tpr, 4), "negative_recall": round(tnr, 4),
            "positives": n_pos, "negatives": n_neg,
            "text": (f"cross-validated balanced accuracy {ba:.2f} ({k} folds over {n_pos} positives and "
                     f"{n_neg} negatives: {tpr:.0%} of positives and {tnr:.0%} of negatives right)"),
        }
    if n_neg == 0 and n_pos >= MIN_PER_CLASS and trainer.background:
        from sklearn.model_selection import KFold

        k = min(FOLDS, n_pos)
        found = np.zeros(n_pos, bool)
        for train_i, test_i in KFold(k, shuffle=True, random_state=seed).split(x_pos):
            w, b, _, _ = trainer.fit(x_pos[train_i], x_neg, pos_rows, start)
            found[test_i] = _sigmoid(x_pos[test_i] @ w + b) >= 0.5
        tpr = float(found.mean())
        return {
            "method": f"{k}-fold cross-validation on positives", "balanced_accuracy": None,
            "positive_recall": round(tpr, 4), "negative_recall": None, "positives": n_pos, "negatives": 0,
            "text": (f"{found.sum()} of {n_pos} held-out positives found ({tpr:.0%}); with no negatives "
                     "labelled, false detections cannot be estimated"),
        }
    return {
        "method": "none", "balanced_accuracy": None, "positive_recall": None, "negative_recall": None,
        "positives": n_pos, "negatives": n_neg,
        "text": (f"too few labels to tell the quality: cross-validation needs at least {MIN_PER_CLASS} "
                 f"positives and {MIN_PER_CLASS} negatives (have {n_pos} and {n_neg})"),
    }


def train(index, positive_ids, negative_ids=(), *, seed=0, background=DEFAULT_BACKGROUND, C=DEFAULT_C,
          quality=True, previous=None, progress=None):
    """Train a classifier on the labelled tiles of ``index`` (a :class:`~.index.TileIndex`).

    ``background``: with no negatives labelled, how many random tiles of the index serve as
    negatives (0: refuse to train without labelled negatives). ``quality``: estimate the quality
    by cross-validation (a few more fits; the dock may skip it while labels are being added).
    ``previous``: the classifier trained before the last label changed, to start the solver from
    (same answer, 5-10 times faster: what the dock passes when retraining after a label).
    Unknown ids raise an :class:`InputError` naming POSITIVE_IDS or NEGATIVE_IDS; tiles labelled
    both yes and no are left out and logged. Thread-safe: the dock calls it from a worker thread.
    """
    progress = ensure(progress)
    pos_rows = _rows(index, positive_ids, "POSITIVE_IDS")
    neg_rows = _rows(index, negative_ids, "NEGATIVE_IDS")
    log = []
    both = np.intersect1d(pos_rows, neg_rows)
    if len(both):
        pos_rows, neg_rows = pos_rows[~np.isin(pos_rows, both)], neg_rows[~np.isin(neg_rows, both)]
        log.append(f"{len(both)} tiles labelled both yes and no were left out: "
                   + ", ".join(index.ids[r] for r in both[:5]) + (" ..." if len(both) > 5 else ""))
    if not len(pos_rows):
        raise InputError("no positive tile: label at least one tile as yes.", parameter="POSITIVE_IDS")
    background = max(0, int(background))
    if not len(neg_rows) and not background:
        raise InputError("no negative tile: label at least one tile as no, or let background tiles of the "
                         "index serve as negatives.", parameter="NEGATIVE_IDS")
    if not len(neg_rows) and len(pos_rows) == len(index):
        raise InputError("every tile of the index is labelled yes: there is nothing to tell apart.",
                         parameter="POSITIVE_IDS")
    progress.text("training the classifier")
    trainer = _Trainer(index, seed, background, C)
    x_pos, x_neg = trainer.vectors(pos_rows), trainer.vectors(neg_rows)
    labelled = np.r_[pos_rows, neg_rows]
    start = None
    if previous is not None and previous.dims == index.dims and previous.fingerprint == index_fingerprint(index.meta):
        start = (previous.weights, previous.bias)
    weights, bias, used, dropped = trainer.fit(x_pos, x_neg, labelled, start)
    progress.set(0.3)
    if not len(neg_rows):
        log.append(f"no negatives labelled: {used} random tiles of the index serve as negatives "
                   f"(positive-unlabelled learning; the {dropped} sampled tiles nearest to the positives "
                   "were left out, as likely positives)")
    q = _quality(trainer, x_pos, x_neg, pos_rows, neg_rows, seed, (weights, bias)) if quality else {
        "method": "skipped", "balanced_accuracy": None, "positives": len(pos_rows),
        "negatives": len(neg_rows), "text": "quality not estimated"}
    log.append(f"trained on {len(pos_rows)} positives and {len(neg_rows)} negatives; {q['text']}")
    progress.set(1.0)
    return Classifier(
        weights=weights, bias=bias, fingerprint=index_fingerprint(index.meta),
        positives=[index.ids[r] for r in pos_rows], negatives=[index.ids[r] for r in neg_rows],
        background=used, log=log, quality=q, C=float(C), seed=int(seed), index_path=index.path,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


# -- scoring --------------------------------------------------------------------------------------
def score_embeddings(embeddings, weights, bias, progress=None, chunk=CHUNK):
    """``sigmoid(embeddings @ weights + bias)`` as float32, in chunks (progress, cancel), with the
    parallel numba kernel of :mod:`.search` when numba is installed, else numpy."""
    from .search import ExactSearcher, NumpySearcher, have_numba

    progress = ensure(progress)
    searcher = ExactSearcher if have_numba() else NumpySearcher
    w = np.ascontiguousarray(weights, dtype=np.float32)
    n = embeddings.shape[0]
    if embeddings.shape[1] != w.shape[0]:
        raise InputError(f"the classifier has {w.shape[0]} weights, the index {embeddings.shape[1]} "
                         "dimensions.", parameter="MODEL_INPUT")
    out = np.empty(n, dtype=np.float32)
    progress.start(max(1, -(-n // chunk)))
    for s in range(0, n, chunk):
        out[s : s + chunk] = searcher(embeddings[s : s + chunk]).scores(w)
        progress.step()
    out += np.float32(bias)
    np.negative(out, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += np.float32(1.0)
    np.reciprocal(out, out=out)
    return out


# -- active learning ------------------------------------------------------------------------------
def propose(index, classifier, probabilities, n=10, labelled=(), centers=None, *, threshold=0.5,
            max_cosine=0.9, min_distance=None, pool=None):
    """The ``n`` tiles whose label would help most: the most uncertain (probability closest to
    ``threshold``), not labelled yet (``labelled`` plus the classifier's own labels), no two with a
    cosine similarity above ``max_cosine`` (near-duplicates teach the same thing), and spread over
    the map: with ``centers`` ((n_tiles, 2), index order) no two closer than ``min_distance``
    (default: half the spacing of ``n`` points spread evenly over the tiles' extent). The distance
    rule is relaxed (halved, then dropped) when it leaves too few; the cosine rule never is, so
    fewer than ``n`` may come back. Tiles without a probability (NaN: hidden constant tiles) are
    never proposed. Returns tile ids, most uncertain first.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if p.shape != (len(index),):
        raise InputError(f"{p.shape[0] if p.ndim else 0} probabilities for an index of {len(index)} tiles.",
                         parameter="INDEX")
    n = int(n)
    if n <= 0:
        return []
    done = set(_clean_ids(labelled))
    if classifier is not None:
        done |= set(classifier.positives) | set(classifier.negatives)
    skip = ~np.isfinite(p)
    for t in done:
        try:
            skip[index.row_of(t)] = True
        except InputError:
            pass
    uncertainty = np.abs(p - np.float32(threshold))
    uncertainty[skip] = np.inf
    pool = int(pool or max(50 * n, 500))
    pool = min(pool, int((~skip).sum()))
    if pool <= 0:
        return []
    cand = np.argpartition(uncertainty, pool - 1)[:pool] if pool < len(p) else np.arange(len(p))
    cand = cand[np.lexsort((cand, uncertainty[cand]))]
    cand = cand[np.isfinite(uncertainty[cand])]
    emb = index.embeddings
    vectors = np.asarray(emb[np.sort(cand)], dtype=np.float32)
    vectors = vectors[np.searchsorted(np.sort(cand), cand)]
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    xy = None
    if centers is not None:
        centers = np.asarray(centers, dtype=np.float64)
        xy = centers[cand]
        if min_distance is None:
            finite = centers[np.isfinite(centers).all(axis=1)]
            if len(finite):
                span = finite.max(axis=0) - finite.min(axis=0)
                min_distance = 0.5 * float(np.sqrt(max(span[0] * span[1], 0.0) / n))
            else:
                xy = None
    chosen = []
    distances = [float(min_distance or 0.0)] if xy is not None else [0.0]
    if xy is not None and distances[0] > 0:
        distances += [distances[0] / 2, 0.0]
    for dist in distances:
        for i in range(len(cand)):
            if len(chosen) >= n:
                break
            if i in chosen:
                continue
            if chosen:
                if float((vectors[chosen] @ vectors[i]).max()) > max_cosine:
                    continue
                if dist > 0 and np.isfinite(xy[i]).all():
                    d = np.hypot(*(xy[chosen] - xy[i]).T)
                    if float(np.nanmin(d)) < dist:
                        continue
            chosen.append(i)
        if len(chosen) >= n:
            break
    return [index.ids[int(cand[i])] for i in chosen]


# -- saving and loading ---------------------------------------------------------------------------
def index_fingerprint(meta):
    """What must match for two indexes' embeddings to be comparable: model, weights, dimensions and
    the preprocessing (bands, stretch and its percentiles, input size, rotation invariance, ...)
    from an index's ``meta.json``. The stretch's cut values are left out: each raster has its own."""
    prep = meta.get("preprocessing") or {}
    fp = {k: meta.get(k) for k in _MODEL_KEYS}
    if not fp["weights_sha256"]:
        fp["weights"] = meta.get("weights")
    fp.update({k: prep.get(k) for k in _PREP_KEYS})
    return json.loads(json.dumps(fp))  # lists, not tuples: compares equal to a loaded one


def check_compatible(classifier, index):
    """Raise an :class:`InputError` (MODEL_INPUT) naming the first setting in which ``index``
    differs from the index the classifier was trained on."""
    theirs = index_fingerprint(index.meta)
    ours = classifier.fingerprint or {}
    for key in list(ours) + [k for k in theirs if k not in ours]:
        a, b = ours.get(key), theirs.get(key)
        if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            name = _SETTING_NAMES.get(key, key)
            raise InputError(
                f"the classifier was trained on embeddings made with {name} = {a!r}, this index was made with "
                f"{name} = {b!r} ('{key}' in meta.json): their embeddings are not comparable. Train a "
                "classifier on this index, or embed it with the same model and settings.",
                parameter="MODEL_INPUT",
            )
    if classifier.dims != index.dims:
        raise InputError(f"the classifier has {classifier.dims} weights, the index {index.dims} dimensions.",
                         parameter="MODEL_INPUT")


def default_classifier_path(index, name=None):
    """``<index>/classifiers/<name>.json`` (default name: the time, to the second)."""
    name = name or time.strftime("classifier-%Y%m%d-%H%M%S")
    return os.path.join(index.path, CLASSIFIERS_FOLDER, f"{name}.json")


def _paths(path):
    path = os.fspath(path)
    stem = path[:-5] if path.lower().endswith(".json") else path[:-4] if path.lower().endswith(".npy") else path
    return stem + ".json", stem + ".npy"


def _sha(weights):
    return hashlib.sha256(np.ascontiguousarray(weights, dtype="<f4").tobytes()).hexdigest()


def save_classifier(path, classifier):
    """Write ``<stem>.json`` and ``<stem>.npy`` (weights) atomically; returns the JSON path."""
    json_path, npy_path = _paths(path)
    folder = os.path.dirname(os.path.abspath(json_path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {folder}: {e}", parameter="MODEL_OUTPUT") from e
    weights = np.ascontiguousarray(classifier.weights, dtype="<f4")
    doc = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": "logistic-regression",
        "formula": "probability = 1 / (1 + exp(-(embedding . weights + bias)))",
        "weights_file": os.path.basename(npy_path), "weights_sha256": _sha(weights),
        "bias": float(classifier.bias), "dims": int(weights.shape[0]), "fingerprint": classifier.fingerprint,
        "labels": {"positives": len(classifier.positives), "negatives": len(classifier.negatives),
                   "background": int(classifier.background)},
        "quality": classifier.quality, "log": list(classifier.log), "C": classifier.C, "seed": classifier.seed,
        "index": classifier.index_path, "created": classifier.created,
        "positives": list(classifier.positives), "negatives": list(classifier.negatives),
    }
    tag = f".tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(npy_path + tag, "wb") as f:
            np.save(f, weights, allow_pickle=False)
        with open(json_path + tag, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
        os.replace(npy_path + tag, npy_path)
        os.replace(json_path + tag, json_path)
    except OSError as e:
        for p in (npy_path + tag, json_path + tag):
            if os.path.exists(p):
                os.remove(p)
        raise InputError(f"cannot write the classifier to {json_path}: {e}", parameter="MODEL_OUTPUT") from e
    classifier.path = json_path
    return json_path


def load_classifier(path):
    """Read a classifier written by :func:`save_classifier` (``.json``, ``.npy`` or their stem)."""
    json_path, npy_path = _paths(path)

    def bad(what):
        return InputError(f"{json_path} is not a usable classifier: {what}.", parameter="MODEL_INPUT")

    try:
        with open(json_path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError as e:
        raise InputError(f"classifier not found: {json_path}", parameter="MODEL_INPUT") from e
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise bad(f"unreadable ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad("it is not a Tile Embeddings classifier")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise bad("it was written by a newer Tile Embeddings; update the plugin")
    npy_path = os.path.join(os.path.dirname(os.path.abspath(json_path)), doc.get("weights_file") or "")
    try:
        weights = np.load(npy_path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise bad(f"its weights {npy_path} are missing or unreadable ({e})") from e
    if weights.ndim != 1 or weights.dtype.kind != "f" or weights.shape[0] != int(doc.get("dims", -1)):
        raise bad(f"its weights hold {weights.dtype} {weights.shape}, expected {doc.get('dims')} floats")
    weights = weights.astype(np.float32)
    if doc.get("weights_sha256") and _sha(weights) != doc["weights_sha256"]:
        raise bad(f"{os.path.basename(npy_path)} does not belong to it (checksum differs)")
    labels = doc.get("labels") or {}
    return Classifier(
        weights=weights, bias=float(doc["bias"]), fingerprint=doc.get("fingerprint") or {},
        positives=list(doc.get("positives") or []), negatives=list(doc.get("negatives") or []),
        background=int(labels.get("background", 0)), log=list(doc.get("log") or []),
        quality=doc.get("quality") or {}, C=float(doc.get("C", DEFAULT_C)), seed=int(doc.get("seed", 0)),
        index_path=doc.get("index", ""), created=doc.get("created", ""), path=json_path,
    )


# -- the whole run (what classifytiles calls) ------------------------------------------------------
@dataclass
class ClassifyResult:
    index: object
    classifier: Classifier
    probabilities: np.ndarray
    detections: list
    labels: object = None  # the LabelSet when labels came from geometries
    trained: bool = True
    log: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    constant_hidden: int = 0  # constant tiles left out (no probability, never detected)


def classify_tiles(index, positive_ids=(), negative_ids=(), labelled_geometries=(), positive_class=None,
                   model_input=None, threshold=0.5, background=DEFAULT_BACKGROUND, seed=0,
                   probabilities_path=None, detections_path=None, raster_path=None, model_output=None,
                   include_constant=False, progress=None):
    """Everything ``classifytiles`` does, QGIS-free: gather the labels (tile ids and ``(wkt, value)``
    pairs in the index CRS), train (or apply ``model_input``), score every tile, dissolve the
    detections, write the outputs that have a path, and save a trained classifier to
    ``model_output`` (default: :func:`default_classifier_path`). Constant tiles get no probability
    (NULL, never detected) unless ``include_constant``. Outputs are written only once everything
    is computed, each atomically.
    """
    from . import index as tindex
    from .raster_io import atomic_output
    from .tile_grid import NODATA, fit_tile_grid, write_grid_raster

    progress = ensure(progress)
    if not isinstance(index, tindex.TileIndex):
        index = tindex.open_index(index)
    log, labels, table, grid = [], None, None, None
    if raster_path or detections_path:
        progress.text("reading the tile grid")
        table = tile_table(index, progress.sub(0.0, 0.05))
    if raster_path:
        grid = fit_tile_grid(table["row"], table["col"], table["center_x"], table["center_y"])
        if grid is None:
            raise InputError("the index's tiles do not form one regular grid (several sources or a hand-made "
                             "tile set), so there is no raster with one cell per tile: leave this output empty "
                             "and use the tile layer.", parameter="PROBABILITY_RASTER")
    if model_input:
        model = load_classifier(model_input)
        check_compatible(model, index)
        trained = False
        if _clean_ids(positive_ids) or _clean_ids(negative_ids) or list(labelled_geometries):
            log.append("labels were given but a saved classifier is applied: the labels are not used")
        log.append(f"applying the saved classifier {model.path} ({model.describe()})")
    else:
        positives, negatives = _clean_ids(positive_ids), _clean_ids(negative_ids)
        if labelled_geometries:
            labels = labels_from_geometries(index, labelled_geometries, positive_class,
                                            require_positive=not positives)
            log.append(labels.describe())
            positives += [t for t in labels.positives if t not in positives]
            negatives += [t for t in labels.negatives if t not in negatives]
        if not positives:
            raise InputError("no positive tile: give a layer of labelled places, positive tile ids, or a saved "
                             "classifier.", parameter="LABELS" if labelled_geometries else "POSITIVE_IDS")
        model = train(index, positives, negatives, seed=seed, background=background,
                      progress=progress.sub(0.05, 0.35))
        trained = True
        log += model.log
    progress.text("scoring every tile")
    probabilities = score_embeddings(index.embeddings, model.weights, model.bias, progress.sub(0.35, 0.5))
    hidden = hide_constant(index, probabilities, include_constant)
    detections = []
    if detections_path:
        progress.text("dissolving the detections")
        detections = detection_regions(index, probabilities, threshold, progress.sub(0.5, 0.7), table=table)
    else:
        detected_rows(probabilities, threshold)  # checks the threshold
    with np.errstate(invalid="ignore"):
        n_detected = int((probabilities >= threshold).sum())
    log.append(f"{n_detected} of {len(index)} tiles at or above {threshold:g}"
               + (f", in {len(detections)} detections" if detections_path else ""))
    outputs = {}
    progress.check()
    if probabilities_path:
        progress.text("writing the tile probabilities")
        outputs["probabilities"] = write_probabilities(index, probabilities, probabilities_path,
                                                       progress=progress.sub(0.7, 0.95))
    if detections_path:
        outputs["detections"] = write_detections(detections_path, detections, index.crs_wkt,
                                                 progress=progress.sub(0.95, 0.98))
    if raster_path:
        with atomic_output(raster_path, parameter="PROBABILITY_RASTER") as tmp:
            write_grid_raster(tmp, grid, np.where(np.isnan(probabilities), NODATA, probabilities), index.crs_wkt)
        outputs["raster"] = os.path.abspath(raster_path)
    if trained:
        outputs["model"] = save_classifier(model_output or default_classifier_path(index), model)
        log.append(f"classifier saved to {outputs['model']}")
    progress.set(1.0)
    return ClassifyResult(index, model, probabilities, detections, labels, trained, log, outputs, hidden)
