"""Search codes: a small copy of the embeddings that a query can scan in a fraction of the time.

Exact search reads every float32 embedding for every query (5 GB at 1M tiles x 1280 dims), so its
time grows with the index and is bound by memory bandwidth. The codes keep what tells tiles apart
in about 1/20 of the bytes:

* **PCA**: tile embeddings vary along far fewer directions than they have dimensions (for
  MobileNetV2 tiles of the NEON scenes, 92 % of the variance lies in 256 of the 1280 principal
  components, 95 % in ~380), so rows are projected onto the components that hold ``VARIANCE`` of
  it (128 to 512 of them, fitted on a sample of rows);
* **int8**: each component is scaled to -127..127 (one scale per component). Quantising costs no
  recall measurable next to the PCA's own truncation.

A query scans the codes (int8 x int16 products summed in int32, :func:`.search_kernels.dot_codes`;
numba is required) and keeps a few hundred candidates, which the searcher re-ranks exactly against
the float32 embeddings: results and their scores are exact, only a true neighbour that the codes
rank below the candidates is missed (recall@10 1.000 on 1M vectors with the structure of real tile
embeddings, see ``bench/bench_search_scale.py``).

Stored in the index folder, next to the embeddings (``np.save`` / ``np.load``, no pickle):

    search_codes.npy    (n, components) int8, memory-mapped
    search_codes.npz    mean, basis, scales, and the fingerprint of the embeddings they encode

They are derived data: built when an index above the exact-search threshold is written ('Embed
tiles', append, remove: :func:`build_for_index`), or for an index written before that, when it is
first searched, and saved (written under temporary names, renamed when complete); codes that are missing, truncated,
unreadable, for other embeddings (an index appended to or rebuilt), or that fail a spot check
against the embeddings are rebuilt. A read-only index folder gets codes held in memory.
"""

import hashlib
import os

import numpy as np

from . import search_kernels
from .index import release_pages
from .progress import ensure

CODES = "search_codes.npy"
MODEL = "search_codes.npz"
FORMAT = "tile-embeddings-search-codes"
VERSION = 1
# share of the embeddings' variance the kept components hold: 256 components for MobileNetV2 tiles
# (224 for the benchmark's synthetic ones). At 1M tiles (bench_search_scale.py) recall@10 was 1.000
# from 100 candidates on with 224 or 384 components, whose scans took 17.5 and 25.8 ms; with 128,
# 0.99-0.998 at 100 candidates and 1.000 at 500
VARIANCE = 0.92
MIN_COMPONENTS, MAX_COMPONENTS = 128, 512
SAMPLE = 20_000  # rows the PCA is fitted on
CHUNK = 32_768  # rows projected at a time
CHECK_ROWS = 64  # rows re-encoded on open to check the codes against the embeddings
MARGIN = 1.25  # scales leave room for rows beyond the sample's range (those are clipped)


class CodesError(Exception):
    """The stored codes are unusable (missing, corrupt, or for other embeddings): rebuild them."""


def fingerprint(embeddings):
    """A cheap identity of ``embeddings``: shape and a hash of 16 rows spread over the file.

    Changes when rows are appended, removed or rewritten; survives copying the index folder.
    """
    n, d = embeddings.shape
    h = hashlib.sha256(f"{n}x{d}".encode())
    for r in np.unique(np.linspace(0, max(n - 1, 0), 16).astype(np.int64)) if n else ():
        h.update(np.ascontiguousarray(embeddings[r], dtype=np.float32).tobytes())
    return h.hexdigest()


def _check_rows(n):
    return np.unique(np.linspace(0, max(n - 1, 0), CHECK_ROWS).astype(np.int64)) if n else np.empty(0, np.int64)


class SearchCodes:
    """PCA + int8 codes of an ``(n, d)`` embedding matrix, and the query side of the scan."""

    def __init__(self, mean, basis, scales, codes, fingerprint, path=None):
        self.mean = np.ascontiguousarray(mean, dtype=np.float32)  # (d,)
        self.basis = np.ascontiguousarray(basis, dtype=np.float32)  # (d, r): unit columns
        self.scales = np.ascontiguousarray(scales, dtype=np.float32)  # (r,): code 1 = scales[j]
        self.codes = codes  # (n, r) int8, memory-mapped when saved
        self.fingerprint = fingerprint
        self.path = path  # the folder the codes are saved in, None when held in memory only
        self._basis_t = None

    @property
    def components(self):
        return int(self.basis.shape[1])

    @property
    def nbytes(self):
        return int(self.codes.nbytes + self.basis.nbytes + self.mean.nbytes + self.scales.nbytes)

    def __len__(self):
        return int(self.codes.shape[0])

    def encode(self, rows):
        """int8 codes of float32 ``rows`` (clipped to the scale range)."""
        y = np.asarray(rows, dtype=np.float32) @ self.basis  # straight from the memory map
        y -= self.mean @ self.basis
        y /= self.scales
        np.rint(y, out=y)
        np.clip(y, -127, 127, out=y)
        return y.astype(np.int8)

    def weights(self, q):
        """The int16 query weights of ``q``: ``codes @ weights`` ranks rows as ``(rows - mean) @ q``
        would if the rows were their codes (the mean's term is the same for every row)."""
        q = np.ascontiguousarray(q, dtype=np.float32)
        if self._basis_t is None:
            self._basis_t = np.ascontiguousarray(self.basis.T)
        w = np.empty(self.components, dtype=np.float32)
        # the numba kernel, not BLAS: a small sgemv wakes OpenBLAS's threads next to numba's,
        # which on a busy machine costs 10-20 ms instead of 0.1
        with search_kernels.LOCK:
            search_kernels.compiled(search_kernels.dot_rows)(self._basis_t, q, w)
        w *= self.scales
        peak = float(np.abs(w).max())
        # |sum| <= 127 * r * limit must fit an int32
        limit = min(32767, (2**31 - 1) // (127 * max(1, self.components)))
        if peak > 0:
            w *= limit / peak
        return np.rint(w).astype(np.int16)

    def scan(self, q):
        """Approximate scores (int32, larger is closer) of every row for the unit query ``q``."""
        w = self.weights(q)
        out = np.empty(len(self), dtype=np.int32)
        kernel = search_kernels.compiled(search_kernels.dot_codes)
        with search_kernels.LOCK:
            kernel(self.codes, w, out)
        return out


# -- building -------------------------------------------------------------------------------------
def fit(embeddings, variance=VARIANCE, components=None, sample=SAMPLE, seed=0):
    """Mean, basis (d, r) and scales fitted on a sample of rows."""
    n, d = embeddings.shape
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, min(n, sample), replace=False))
    x = np.asarray(embeddings[rows], dtype=np.float32)
    mean = x.mean(axis=0)
    xc = x - mean
    cov = (xc.T @ xc).astype(np.float64) / max(1, len(x) - 1)
    eigenvalues, vectors = np.linalg.eigh(cov)
    eigenvalues, vectors = eigenvalues[::-1].clip(0), vectors[:, ::-1]
    if components is None:
        total = eigenvalues.sum()
        cum = np.cumsum(eigenvalues) / total if total > 0 else np.ones(d)
        r = int(np.searchsorted(cum, variance) + 1)
        r = max(min(d, MIN_COMPONENTS), min(r, MAX_COMPONENTS))
        r = min(d, -(-r // 32) * 32)  # whole vector registers for the kernel
    else:
        r = max(1, min(d, int(components)))
    basis = np.ascontiguousarray(vectors[:, :r], dtype=np.float32)
    spread = np.abs(xc @ basis).max(axis=0)
    scales = np.maximum(spread * MARGIN / 127.0, 1e-12).astype(np.float32)
    return mean, basis, scales


def build(embeddings, folder=None, progress=None, variance=VARIANCE, components=None, sample=SAMPLE):
    """Fit and encode the codes of ``embeddings``; saved into ``folder`` when it is writable."""
    progress = ensure(progress)
    n, _ = embeddings.shape
    progress.text(f"building search codes for {n:,} tiles (once per index)")
    mean, basis, scales = fit(embeddings, variance, components, sample)
    shell = SearchCodes(mean, basis, scales, None, fingerprint(embeddings))
    progress.set(0.1)
    tmp = None
    if folder is not None:
        tmp = os.path.join(folder, f"{CODES}.tmp-{os.getpid()}.npy")
        try:
            codes = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int8, shape=(n, basis.shape[1]))
        except OSError:  # read-only folder: keep them in memory
            tmp = None
    if tmp is None:
        codes = np.empty((n, basis.shape[1]), dtype=np.int8)
    try:
        sub = progress.sub(0.1, 0.98)
        sub.start(max(1, -(-n // CHUNK)))
        for s in range(0, n, CHUNK):
            codes[s : s + CHUNK] = shell.encode(embeddings[s : s + CHUNK])
            if tmp is not None and (s // CHUNK) % 8 == 7:
                # pages read and written so far leave this process's resident set (5 GB of
                # embeddings at 1M x 1280): memory stays flat while the codes are built
                codes.flush()
                release_pages(codes)
                release_pages(embeddings)
            sub.step()
            sub.check()
        if tmp is not None:
            codes.flush()
            del codes
            # the model file, which holds the fingerprint, is the mark of complete codes: it goes
            # first and comes back last, so an interrupted rebuild never pairs it with other codes
            try:
                if os.path.exists(os.path.join(folder, MODEL)):
                    os.remove(os.path.join(folder, MODEL))
                os.replace(tmp, os.path.join(folder, CODES))
            except OSError:  # Windows: another process maps the old codes; use these from memory
                shell.codes = np.load(tmp, allow_pickle=False)
                os.remove(tmp)
                return shell
            tmp = None
            _save_model(folder, shell)
            return load(folder, embeddings, check=False)
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise
    shell.codes = codes
    return shell


def _save_model(folder, codes):
    tmp = os.path.join(folder, f"{MODEL}.tmp-{os.getpid()}.npz")
    np.savez(
        tmp,
        format=np.array(FORMAT),
        version=np.array(VERSION),
        mean=codes.mean,
        basis=codes.basis,
        scales=codes.scales,
        fingerprint=np.array(codes.fingerprint),
    )
    os.replace(tmp, os.path.join(folder, MODEL))


# -- opening --------------------------------------------------------------------------------------
def load(folder, embeddings, check=True):
    """The saved codes of ``embeddings`` in ``folder``; :class:`CodesError` saying why not."""
    model_path, codes_path = os.path.join(folder, MODEL), os.path.join(folder, CODES)
    if not os.path.exists(model_path) or not os.path.exists(codes_path):
        raise CodesError("not built yet")
    n, d = embeddings.shape
    try:
        with np.load(model_path, allow_pickle=False) as z:
            if str(z["format"]) != FORMAT or int(z["version"]) != VERSION:
                raise CodesError(f"{MODEL} is not search codes of this version")
            mean, basis, scales = z["mean"], z["basis"], z["scales"]
            stored = str(z["fingerprint"])
    except CodesError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, npy or key errors of a damaged file all mean "rebuild"
        raise CodesError(f"{MODEL} is unreadable ({e})") from e
    r = basis.shape[1] if basis.ndim == 2 else -1
    if mean.shape != (d,) or basis.shape != (d, r) or scales.shape != (r,) or not (
        np.isfinite(mean).all() and np.isfinite(basis).all() and np.isfinite(scales).all() and (scales > 0).all()
    ):
        raise CodesError(f"{MODEL} does not fit {d}-dimensional embeddings")
    if stored != fingerprint(embeddings):
        raise CodesError("they encode other embeddings (the index changed)")
    try:
        codes = np.load(codes_path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:  # truncated: "mmap length is greater than file size"
        raise CodesError(f"{CODES} is truncated or corrupt ({e})") from e
    if codes.dtype != np.int8 or codes.shape != (n, r):
        raise CodesError(f"{CODES} holds {codes.dtype} {codes.shape}, expected int8 ({n}, {r})")
    out = SearchCodes(mean, basis, scales, codes, stored, path=folder)
    if check:
        rows = _check_rows(n)
        if len(rows) and np.abs(out.encode(embeddings[rows]).astype(np.int16) - codes[rows]).max() > 1:
            raise CodesError(f"{CODES} does not match the embeddings (corrupt)")
    return out


def build_for_index(folder, embeddings, progress=None):
    """Build the codes of a freshly written index when its searches will use them (more tiles than
    the exact-search threshold, :func:`.search.choose_kind`), so that it opens ready to search.

    Called by 'Embed tiles' and the index edits before the index is renamed into place. Returns
    the codes, or None when the index is searched otherwise."""
    from .search import choose_kind

    if choose_kind(int(embeddings.shape[0])) != "codes":
        return None
    return build(embeddings, folder, progress)


def open_or_build(folder, embeddings, progress=None):
    """``(codes, note)``: the saved codes, else freshly built ones and why they were rebuilt."""
    progress = ensure(progress)
    try:
        return load(folder, embeddings), ""
    except CodesError as e:
        note = f"search codes rebuilt: {e}" if str(e) != "not built yet" else "search codes built"
    if folder is not None and not os.access(folder, os.W_OK):
        folder = None
    codes = build(embeddings, folder, progress)
    if codes.path is None:
        note += " (held in memory: the index folder is read-only)"
    progress.text(note)
    return codes, note
