"""Similarity search over a :class:`~.index.TileIndex`: "which tiles look like these?".

A query is the mean of the (unit) positive embeddings minus ``negative_weight`` times the mean of
the negatives, renormalised; scores are cosine similarities (inner products of unit vectors).

Searchers are built on first use and cached on the index object, so the dock's repeated clicks
reuse them. Up to ``ivf_threshold`` tiles the search is exact:

* ``exact`` (default when numba is installed): one query is one matrix-vector product, which is
  memory-bound; a parallel, GIL-free numba kernel streams the memory-mapped rows on every core,
  with no copy. Measured on the 2-core test machine at 100k x 1280: ~19 ms, against ~110 ms for
  numpy (Debian's reference BLAS runs sgemv on one core) and ~160 ms for faiss ``IndexFlatIP``
  (faiss runs a single query on one thread);
* ``flat``: faiss ``IndexFlatIP`` on an in-memory copy (used when numba is missing);
* ``numpy``: exact numpy search on the memory map (no faiss, no numba).

Above the threshold: an IVF index with 8-bit scalar-quantised codes (read from ``ivf.faiss``
when the index folder has one, else trained on first use) proposes candidates that are re-ranked
exactly against the float32 embeddings. The threshold defaults to 2,000,000 tiles
(``TE_IVF_THRESHOLD`` overrides it): exact search is what a person expects.
"""

import os
import threading
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

DEFAULT_IVF_THRESHOLD = 2_000_000
CHUNK = 131072  # rows per numpy block: bounds temporary memory when scanning memory-mapped rows


def ivf_threshold():
    try:
        return int(os.environ.get("TE_IVF_THRESHOLD", DEFAULT_IVF_THRESHOLD))
    except ValueError:
        return DEFAULT_IVF_THRESHOLD


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


_KERNEL = {}
_KERNEL_LOCK = threading.Lock()
prange = range  # numba.prange once the kernel is compiled (same meaning in plain Python)


def _dot_rows(x, q, out):
    """``out[i] = x[i] . q``: parallel over rows once compiled."""
    n, d = x.shape
    for i in prange(n):
        acc = np.float32(0.0)
        for j in range(d):
            acc += x[i, j] * q[j]
        out[i] = acc


def _dot_kernel():
    """``_dot_rows`` compiled with numba (parallel, nogil, fastmath), once per process."""
    k = _KERNEL.get("dot")
    if k is None:
        with _KERNEL_LOCK:
            k = _KERNEL.get("dot")
            if k is None:
                import numba

                globals()["prange"] = numba.prange
                try:
                    k = numba.njit(parallel=True, fastmath=True, nogil=True, cache=True)(_dot_rows)
                except RuntimeError:  # no writable cache folder (read-only plugin install)
                    k = numba.njit(parallel=True, fastmath=True, nogil=True)(_dot_rows)
                _KERNEL["dot"] = k
    return k


class ExactSearcher(NumpySearcher):
    """Exact search with a parallel numba kernel over the memory-mapped rows (no copy).

    Calls are serialised: numba's fallback threading layer must not be entered by two threads.
    """

    kind = "exact"
    _lock = threading.Lock()

    def __init__(self, embeddings):
        super().__init__(embeddings)
        self._kernel = _dot_kernel()

    def scores(self, q):
        q = np.ascontiguousarray(q, dtype=np.float32)
        out = np.empty(self.embeddings.shape[0], dtype=np.float32)
        with self._lock:
            self._kernel(self.embeddings, q, out)
        return out


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
        cand = np.sort(cand[0][cand[0] >= 0])
        exact = self.embeddings[cand] @ q
        order = np.lexsort((cand, -exact))[:k]
        return cand[order].astype(np.int64), exact[order].astype(np.float32)


_lock = threading.Lock()


def get_searcher(index, kind="auto", threshold=None):
    """The (cached) searcher of ``index``: ``kind`` is auto, exact, flat, numpy or ivf."""
    n = len(index)
    threshold = ivf_threshold() if threshold is None else int(threshold)
    if kind == "auto":
        if n > threshold and have_faiss():
            kind = "ivf"
        elif have_numba():
            kind = "exact"
        elif have_faiss():
            kind = "flat"
        else:
            kind = "numpy"
    with _lock:
        searcher = index._searchers.get(kind)
        if searcher is None:
            if kind == "numpy":
                searcher = NumpySearcher(index.embeddings)
            elif kind == "exact":
                searcher = ExactSearcher(index.embeddings)
            elif kind == "flat":
                searcher = FlatSearcher(index.embeddings)
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
):
    """The ``k`` tiles most similar to the query, by descending cosine score.

    ``exclude_query`` leaves the query's own positive and negative tiles out of the results.
    """
    k = int(k)
    if k < 1:
        raise InputError("k must be at least 1.", parameter="K")
    q = query_vector(index, positive_ids, negative_ids, negative_weight, extra_vectors)
    excluded = set(_clean_ids(positive_ids)) | set(_clean_ids(negative_ids)) if exclude_query else set()
    s = get_searcher(index, searcher)
    rows, scores = s.search(q, k + len(excluded))
    if excluded:
        keep = np.array([index.ids[r] not in excluded for r in rows], dtype=bool)
        rows, scores = rows[keep], scores[keep]
    rows, scores = rows[:k], scores[:k]
    return SearchResult(
        ids=[index.ids[r] for r in rows],
        rows=rows,
        scores=scores,
        query=q,
        description=describe_query(positive_ids, negative_ids),
        excluded=sorted(excluded),
    )


def score_all(index, positive_ids, negative_ids=(), negative_weight=1.0, extra_vectors=()):
    """Cosine score of every tile against the query, in row order (for a heatmap)."""
    q = query_vector(index, positive_ids, negative_ids, negative_weight, extra_vectors)
    searcher = get_searcher(index, "exact" if have_numba() else "numpy")
    return searcher.scores(q)


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
    result = search(index, positives, negative_ids, k, negative_weight, exclude_query, vectors)
    result.description = describe_query(positives, negative_ids, labels)
    scores = score_all(index, positives, negative_ids, negative_weight, vectors) if with_scores else None
    progress.set(1.0)
    return index, result, scores
