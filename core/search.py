"""Similarity search over a :class:`~.index.TileIndex`: "which tiles look like these?".

A query is the mean of the (unit) positive embeddings minus ``negative_weight`` times the mean of
the negatives, renormalised; scores are cosine similarities (inner products of unit vectors).

Searchers are built on first use and cached on the index object, so the dock's repeated clicks
reuse them (the dock's open task runs one search, so that happens off the UI thread). The
``auto`` searcher depends on the number of tiles:

* up to ``exact_threshold`` (250,000 tiles; ``TE_EXACT_THRESHOLD`` overrides it) the search is
  exact. ``exact`` (default when numba is installed): one query is one matrix-vector product,
  which is memory-bound; a parallel, GIL-free numba kernel streams the memory-mapped rows on
  every core, with no copy. Measured on the 2-core test machine at 100k x 1280: ~19 ms, against
  ~110 ms for numpy and ~160 ms for faiss ``IndexFlatIP`` (faiss runs a single query on one
  thread). ``flat`` (faiss ``IndexFlatIP`` on an in-memory copy) is used when numba is missing,
  ``numpy`` (exact, on the memory map) when faiss is missing too;
* above it, ``codes``: the index's search codes (PCA + int8, :mod:`.search_codes`: 256 bytes a
  tile instead of 5,120 for MobileNetV2; built on the first search and saved in the index folder)
  are scanned for the best ``RERANK`` + k candidates, which are re-ranked exactly against the
  float32 embeddings. The scores are exact, and the results were the exact top 10 for every
  query of ``bench/bench_search_scale.py`` (1M vectors with the structure of real tile
  embeddings: recall@10 1.000), in a tenth of exact search's time (p95 30 ms against 340 ms);
* above ``ivf_threshold`` (2,000,000 tiles, ``TE_IVF_THRESHOLD``), when faiss is installed: an IVF
  index with 8-bit scalar-quantised codes (read from ``ivf.faiss`` when the index folder has one,
  else trained on first use) proposes candidates that are re-ranked exactly.
"""

import os
import threading
from dataclasses import dataclass, field

import numpy as np

from . import search_kernels
from .errors import InputError

DEFAULT_EXACT_THRESHOLD = 250_000
DEFAULT_IVF_THRESHOLD = 2_000_000
CHUNK = 131072  # rows per numpy block: bounds temporary memory when scanning memory-mapped rows
RERANK = 500  # candidates beyond k that the codes searcher re-ranks exactly


def _env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def exact_threshold():
    """Up to this many tiles, ``auto`` search is exact (``TE_EXACT_THRESHOLD``)."""
    return _env_int("TE_EXACT_THRESHOLD", DEFAULT_EXACT_THRESHOLD)


def ivf_threshold():
    """Above this many tiles, ``auto`` search uses an IVF index (``TE_IVF_THRESHOLD``)."""
    return _env_int("TE_IVF_THRESHOLD", DEFAULT_IVF_THRESHOLD)


def have_numba():
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def have_faiss():
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class SearchResult:
    ids: list
    rows: np.ndarray
    scores: np.ndarray
    query: np.ndarray
    description: str = ""
    excluded: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)


# -- query vectors ------------------------------------------------------------------------------
def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _clean_ids(ids):
    if ids is None:
        return []
    if isinstance(ids, str):
        ids = ids.replace(";", ",").replace("\n", ",").split(",")
    return [str(t).strip() for t in ids if str(t).strip()]


def query_vector(index, positive_ids, negative_ids=(), negative_weight=1.0, extra_vectors=()):
    """Mean of unit positives (tiles and ``extra_vectors``) minus weighted mean of unit negatives,
    renormalised to unit length."""
    pos_ids, neg_ids = _clean_ids(positive_ids), _clean_ids(negative_ids)
    emb = index.embeddings
    positives = []
    if pos_ids:
        positives.append(_unit(emb[np.sort(index.rows_of(pos_ids, "QUERY_IDS"))]))
    extra = [np.asarray(v, dtype=np.float32).reshape(-1) for v in (extra_vectors or ())]
    for v in extra:
        if v.shape[0] != index.dims:
            raise InputError(
                f"a query vector has {v.shape[0]} dimensions, the index {index.dims}.",
                parameter="QUERY_IMAGE",
            )
    if extra:
        positives.append(_unit(np.stack(extra)))
    if not positives:
        raise InputError(
            "no query: give at least one tile id, a query layer that touches the index's "
            "tiles, or a query image.",
            parameter="QUERY_IDS",
        )
    q = np.concatenate(positives).mean(axis=0)
    if neg_ids:
        neg = _unit(emb[np.sort(index.rows_of(neg_ids, "NEGATIVE_IDS"))]).mean(axis=0)
        q = q - float(negative_weight) * neg
    norm = float(np.linalg.norm(q))
    if not np.isfinite(norm) or norm < 1e-6:
        raise InputError(
            "the negatives cancel the positives (the query vector is zero): remove a "
            "negative or lower the negative weight.",
            parameter="NEGATIVE_IDS",
        )
    return (q / norm).astype(np.float32)


# -- searchers ----------------------------------------------------------------------------------
class NumpySearcher:
    """Exact inner-product search straight on the memory-mapped rows (no copy)."""

    kind = "numpy"

    def __init__(self, embeddings):
        self.embeddings = embeddings

    def scores(self, q):
        emb = self.embeddings
        out = np.empty(emb.shape[0], dtype=np.float32)
        for s in range(0, emb.shape[0], CHUNK):
            out[s : s + CHUNK] = emb[s : s + CHUNK] @ q
        return out

    def search(self, q, k):
        s = self.scores(q)
        k = min(k, s.shape[0])
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        top = np.argpartition(-s, k - 1)[:k] if k < s.shape[0] else np.arange(s.shape[0])
        order = np.lexsort((top, -s[top]))
        rows = top[order]
        return rows.astype(np.int64), s[rows]


class ExactSearcher(NumpySearcher):
    """Exact search with a parallel numba kernel over the memory-mapped rows (no copy).

    Calls are serialised: numba's fallback threading layer must not be entered by two threads.
    """

    kind = "exact"

    def __init__(self, embeddings):
        super().__init__(embeddings)
        self._kernel = search_kernels.compiled(search_kernels.dot_rows)

    def scores(self, q):
        q = np.ascontiguousarray(q, dtype=np.float32)
        out = np.empty(self.embeddings.shape[0], dtype=np.float32)
        with search_kernels.LOCK:
            self._kernel(self.embeddings, q, out)
        return out


def _top_exact(embeddings, candidates, q, k):
    """The ``k`` best of the rows ``candidates`` by exact score (ties: lower row first).

    The scores come from the numba kernel when numba is installed: a BLAS ``sgemv`` of a few
    hundred rows wakes OpenBLAS's own threads next to numba's, which costs more than the product
    on a busy machine (20-40 ms instead of 1 on the 2-core test machine).
    """
    rows = np.sort(np.asarray(candidates, dtype=np.int64))
    block = np.ascontiguousarray(embeddings[rows], dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32)
    if have_numba():
        exact = np.empty(len(rows), dtype=np.float32)
        kernel = search_kernels.compiled(search_kernels.dot_rows)
        with search_kernels.LOCK:
            kernel(block, q, exact)
    else:
        exact = block @ q
    order = np.lexsort((rows, -exact))[:k]
    return rows[order], exact[order].astype(np.float32)


class CodesSearcher:
    """The search codes' best ``k + rerank`` candidates, re-ranked exactly (see the module doc)."""

    kind = "codes"

    def __init__(self, embeddings, codes, rerank=RERANK, note=""):
        self.embeddings = embeddings
        self.codes = codes
        self.rerank = int(rerank)
        self.note = note  # how the codes were obtained: "" (opened), "search codes built", ...
        self._exact = None

    def candidates(self, q, m):
        """The rows of the ``m`` best approximate scores, unordered."""
        approx = self.codes.scan(q)
        n = approx.shape[0]
        return np.argpartition(approx, n - m)[n - m :]

    def search(self, q, k):
        n = self.embeddings.shape[0]
        k = min(k, n)
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        m = min(n, k + self.rerank)
        if m * 8 >= n:  # most rows wanted anyway: one exact scan is as cheap and exact
            if self._exact is None:
                self._exact = ExactSearcher(self.embeddings)
            return self._exact.search(q, k)
        return _top_exact(self.embeddings, self.candidates(q, m), q, k)


class FlatSearcher:
    """faiss ``IndexFlatIP``: exact, multithreaded, on an in-memory copy of the embeddings."""

    kind = "faiss-flat"

    def __init__(self, embeddings):
        import faiss

        self.index = faiss.IndexFlatIP(embeddings.shape[1])
        for s in range(0, embeddings.shape[0], CHUNK):
            self.index.add(np.ascontiguousarray(embeddings[s : s + CHUNK], dtype=np.float32))

    def search(self, q, k):
        k = min(k, self.index.ntotal)
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores, rows = self.index.search(q.reshape(1, -1), k)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]


def train_ivf(embeddings, nlist=None, progress=None, seed=0):
    """An IVF index with 8-bit scalar-quantised codes over ``embeddings`` (inner product)."""
    import faiss

    from .progress import ensure

    progress = ensure(progress)
    n, d = embeddings.shape
    nlist = int(nlist or max(16, min(4096, int(np.sqrt(n)))))
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(seed)
    ivf.cp.niter = 10  # enough for candidate generation: the candidates are re-ranked exactly
    sample_n = min(n, max(nlist * 40, 20000))
    sample = np.ascontiguousarray(
        embeddings[np.sort(rng.choice(n, sample_n, replace=False))], dtype=np.float32
    )
    progress.text(f"training IVF ({nlist} lists) on {sample_n} vectors")
    ivf.train(sample)
    progress.set(0.3)
    sub = progress.sub(0.3, 1.0)
    sub.start(max(1, -(-n // CHUNK)))
    for s in range(0, n, CHUNK):
        ivf.add(np.ascontiguousarray(embeddings[s : s + CHUNK], dtype=np.float32))
        sub.step()
    return ivf


class IVFSearcher:
    """IVF-SQ8 candidates, re-ranked exactly against the float32 embeddings."""

    kind = "faiss-ivf"

    def __init__(self, embeddings, ivf=None, nprobe=None, rerank=4):
        self.embeddings = embeddings
        self.ivf = ivf if ivf is not None else train_ivf(embeddings)
        self.ivf.nprobe = int(nprobe or max(8, self.ivf.nlist // 32))
        self.rerank = rerank

    def search(self, q, k):
        n = self.ivf.ntotal
        k = min(k, n)
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        kc = min(n, max(k * self.rerank, k + 64))
        _, cand = self.ivf.search(q.reshape(1, -1), kc)
        return _top_exact(self.embeddings, cand[0][cand[0] >= 0], q, k)


_lock = threading.Lock()


def choose_kind(n, threshold=None, ivf_at=None):
    """The ``auto`` searcher for ``n`` tiles: exact up to ``threshold`` tiles (default
    :func:`exact_threshold`), search codes above it, IVF above ``ivf_at`` (:func:`ivf_threshold`);
    the exact kinds by what is installed."""
    threshold = exact_threshold() if threshold is None else int(threshold)
    ivf_at = ivf_threshold() if ivf_at is None else int(ivf_at)
    if n > ivf_at and have_faiss():
        return "ivf"
    if n > threshold and have_numba():
        return "codes"
    if have_numba():
        return "exact"
    if have_faiss():
        return "flat"
    return "numpy"


def get_searcher(index, kind="auto", threshold=None, ivf_at=None, progress=None):
    """The (cached) searcher of ``index``: ``kind`` is auto, exact, flat, numpy, codes or ivf.

    ``threshold`` / ``ivf_at``: see :func:`choose_kind`. ``progress`` reports (and may cancel)
    building search codes or an IVF index, which reads every embedding once.
    """
    if kind == "auto":
        kind = choose_kind(len(index), threshold, ivf_at)
    with _lock:
        searcher = index._searchers.get(kind)
        if searcher is None:
            if kind == "numpy":
                searcher = NumpySearcher(index.embeddings)
            elif kind == "exact":
                searcher = ExactSearcher(index.embeddings)
            elif kind == "flat":
                searcher = FlatSearcher(index.embeddings)
            elif kind == "codes":
                from . import search_codes

                codes, note = search_codes.open_or_build(index.path, index.embeddings, progress)
                searcher = CodesSearcher(index.embeddings, codes, note=note)
            elif kind == "ivf":
                ivf = None
                if os.path.exists(index.ivf_path):
                    import faiss

                    try:
                        ivf = faiss.read_index(index.ivf_path)
                    except RuntimeError as e:
                        raise InputError(
                            f"{index.ivf_path} is corrupt ({e}); delete it to retrain.", parameter="INDEX"
                        ) from e
                if ivf is None:
                    ivf = train_ivf(index.embeddings, progress=progress)
                searcher = IVFSearcher(index.embeddings, ivf)
            else:
                raise ValueError(f"unknown searcher kind {kind!r}")
            index._searchers[kind] = searcher
    return searcher


# -- the public calls ---------------------------------------------------------------------------
def describe_query(positive_ids, negative_ids=(), extra_labels=()):
    parts = []
    pos, neg = _clean_ids(positive_ids), _clean_ids(negative_ids)
    if pos:
        parts.append("positives: " + ", ".join(pos[:20]) + (" ..." if len(pos) > 20 else ""))
    if extra_labels:
        parts.append("images: " + ", ".join(extra_labels))
    if neg:
        parts.append("negatives: " + ", ".join(neg[:20]) + (" ..." if len(neg) > 20 else ""))
    return "; ".join(parts)


def search(
    index,
    positive_ids,
    negative_ids=(),
    k=10,
    negative_weight=1.0,
    exclude_query=False,
    extra_vectors=(),
    searcher="auto",
    include_constant=False,
):
    """The ``k`` tiles most similar to the query, by descending cosine score.

    ``exclude_query`` leaves the query's own positive and negative tiles out of the results.
    Constant tiles (:attr:`.index.TileIndex.constant`: a fill value, a blank scan) are left out
    of the results unless ``include_constant``; one may still be the query.
    """
    k = int(k)
    if k < 1:
        raise InputError("k must be at least 1.", parameter="K")
    q = query_vector(index, positive_ids, negative_ids, negative_weight, extra_vectors)
    excluded = set(_clean_ids(positive_ids)) | set(_clean_ids(negative_ids)) if exclude_query else set()
    constant = None if include_constant else index.constant
    hidden = int(constant.sum()) if constant is not None else 0
    s = get_searcher(index, searcher)
    rows, scores = s.search(q, k + len(excluded) + hidden)
    keep = np.ones(len(rows), dtype=bool)
    if excluded:
        keep &= np.array([index.ids[r] not in excluded for r in rows], dtype=bool)
    if hidden:
        keep &= ~constant[rows]
    rows, scores = rows[keep][:k], scores[keep][:k]
    return SearchResult(
        ids=[index.ids[r] for r in rows],
        rows=rows,
        scores=scores,
        query=q,
        description=describe_query(positive_ids, negative_ids),
        excluded=sorted(excluded),
    )


def score_all(
    index, positive_ids, negative_ids=(), negative_weight=1.0, extra_vectors=(), include_constant=False
):
    """Cosine score of every tile against the query, in row order (for a heatmap); constant tiles
    score NaN (no score: left out, as from :func:`search`) unless ``include_constant``."""
    q = query_vector(index, positive_ids, negative_ids, negative_weight, extra_vectors)
    searcher = get_searcher(index, "exact" if have_numba() else "numpy")
    scores = searcher.scores(q)
    constant = None if include_constant else index.constant
    if constant is not None and constant.any():
        scores[constant] = np.nan
    return scores


def run_query(
    index,
    positive_ids=(),
    negative_ids=(),
    k=10,
    negative_weight=1.0,
    exclude_query=False,
    query_geometries=(),
    images=(),
    with_scores=False,
    device="auto",
    progress=None,
    include_constant=False,
):
    """Everything ``similaritysearch`` does, QGIS-free: pick tiles, embed images, search, score.

    ``index``: a :class:`~.index.TileIndex` or its path. ``query_geometries``: WKT in the index CRS
    whose tiles join the positives. ``images``: ``(path, bbox_or_None, label)`` triples embedded with
    the index's model. Returns ``(index, SearchResult, scores_or_None)``.
    """
    from . import index as tindex
    from .progress import ensure

    progress = ensure(progress)
    if not isinstance(index, tindex.TileIndex):
        index = tindex.open_index(index)
    positives = _clean_ids(positive_ids)
    if query_geometries:
        picked = tindex.tiles_for_geometries(index, list(query_geometries))
        if not picked:
            raise InputError(
                "the query layer's features touch no tile of the index (is it over the same area?)",
                parameter="QUERY_LAYER",
            )
        positives += [t for t in picked if t not in positives]
    progress.set(0.2)
    vectors, labels = [], []
    for path, bbox, label in images or ():
        from .embedding import embed_image

        progress.text(f"embedding query image {label}")
        vectors.append(embed_image(index, path, bbox=bbox, device=device))
        labels.append(label)
    progress.set(0.6)
    get_searcher(index, progress=progress.sub(0.6, 0.9))  # large indexes: search codes, built once
    result = search(
        index, positives, negative_ids, k, negative_weight, exclude_query, vectors, include_constant=include_constant
    )
    result.description = describe_query(positives, negative_ids, labels)
    scores = (
        score_all(index, positives, negative_ids, negative_weight, vectors, include_constant)
        if with_scores
        else None
    )
    progress.set(1.0)
    return index, result, scores
