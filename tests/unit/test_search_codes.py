"""The large-index search path: search codes (PCA + int8) scanned for candidates, re-ranked exactly.

Recall is measured on structured vectors shaped like tile embeddings (non-negative and sparse
after the ReLU, a decaying spectrum, dense neighbourhoods between cluster centres), with the
exact-search threshold lowered so that a small index takes the million-tile path.
"""

import os

import numpy as np
import pytest

from tile_embeddings.core import index as tindex
from tile_embeddings.core import search, search_codes
from tile_embeddings.core.errors import Canceled
from tile_embeddings.core.progress import Progress

from .test_index import make_index

pytest.importorskip("numba")


def structured(n, d=384, centres=400, seed=0):
    """Unit vectors with the shape of tile embeddings (see the module docstring)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    sd = np.arange(1, d + 1) ** -0.75  # variance ~ k^-1.5: ~250 of 384 components hold 95 %
    c = (rng.standard_normal((centres, d)) * sd) @ basis.T + 0.6 / np.sqrt(d)
    near = np.argsort(-(c @ c.T), axis=1)[:, 1:6]
    i = rng.integers(0, centres, n)
    j = near[i, rng.integers(0, 5, n)]
    t = rng.random((n, 1))
    x = c[i] + t * (c[j] - c[i]) + 0.15 * (rng.standard_normal((n, d)) * sd) @ basis.T
    x = np.maximum(x, 0)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def bare_index(folder, emb):
    """An index folder with only what search needs (a 30k-tile GeoPackage is slow to write)."""
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, tindex.EMBEDDINGS), emb)
    mm = np.load(os.path.join(folder, tindex.EMBEDDINGS), mmap_mode="r")
    return tindex.TileIndex(str(folder), {}, [f"t{i}" for i in range(len(emb))], mm)


def reopen(ix):
    return tindex.TileIndex(ix.path, ix.meta, ix.ids, ix.embeddings)


def codes_files(folder):
    return [os.path.join(folder, search_codes.CODES), os.path.join(folder, search_codes.MODEL)]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """30,000 structured vectors x 384 dims."""
    return bare_index(tmp_path_factory.mktemp("codes") / "big.teindex", structured(30_000))


def queries(n, seed=4):
    rng = np.random.default_rng(seed)
    tiles = [([f"t{r}"], []) for r in rng.choice(n, 40, replace=False)]
    mixed = [([f"t{a}", f"t{b}"], [f"t{c}"]) for a, b, c in rng.choice(n, (10, 3))]
    return tiles + mixed


def test_recall_of_the_large_index_path_on_structured_vectors(big, monkeypatch):
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "10000")
    ix = reopen(big)
    assert search.get_searcher(ix).kind == "codes"
    hits = []
    for pos, neg in queries(len(ix)):
        got = search.search(ix, pos, neg, k=10)
        want = search.search(ix, pos, neg, k=10, searcher="exact")
        hits.append(len(set(got.ids) & set(want.ids)) / 10)
        # the scores are exact (re-ranked on the float32 rows), in descending order
        np.testing.assert_allclose(got.scores, ix.embeddings[got.rows] @ got.query, rtol=1e-5, atol=1e-6)
        assert np.all(np.diff(got.scores) <= 0)
    assert np.mean(hits) >= 0.99
    assert min(hits) >= 0.9
    s = search.get_searcher(ix)
    assert s.codes.components < ix.dims  # PCA dropped components: the re-rank makes up for them
    assert len(s.codes) == len(ix) and s.codes.codes.dtype == np.int8


def test_the_codes_scan_ranks_like_the_embeddings(big):
    codes = search_codes.build(big.embeddings, None)
    q = np.asarray(big.embeddings[123])
    approx = codes.scan(q)
    w = codes.weights(q)
    # the kernel is the integer dot product, without overflow
    np.testing.assert_array_equal(approx, codes.codes.astype(np.int64) @ w.astype(np.int64))
    assert np.abs(w).max() <= (2**31 - 1) // (127 * codes.components)
    exact = big.embeddings @ q
    assert np.corrcoef(approx, exact)[0, 1] > 0.99
    top = np.argsort(-exact)[:10]
    assert set(top) <= set(np.argsort(-approx)[:200])


def test_below_the_threshold_search_is_exact(big, monkeypatch):
    monkeypatch.delenv("TE_EXACT_THRESHOLD", raising=False)
    ix = reopen(big)
    assert search.get_searcher(ix).kind == "exact"  # 30k tiles < the default threshold
    monkeypatch.setenv("TE_EXACT_THRESHOLD", str(len(ix)))  # "above" the threshold: n > threshold
    assert search.get_searcher(reopen(big)).kind == "exact"
    for pos, neg in queries(len(ix))[::5]:
        got = search.search(ix, pos, neg, k=10)
        q = search.query_vector(ix, pos, neg)
        brute = np.argsort(-(np.asarray(ix.embeddings) @ q), kind="stable")[:10]
        assert set(got.rows) == set(brute)
    assert "codes" not in ix._searchers


def test_choose_kind_by_size(monkeypatch):
    assert search.choose_kind(100, threshold=100, ivf_at=1000) == "exact"
    assert search.choose_kind(101, threshold=100, ivf_at=1000) == "codes"
    assert search.choose_kind(1001, threshold=100, ivf_at=1000) == "ivf"
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "5")
    assert search.exact_threshold() == 5 and search.choose_kind(6) == "codes"
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "many")
    assert search.exact_threshold() == search.DEFAULT_EXACT_THRESHOLD


def test_codes_are_built_on_first_search_saved_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "100")
    folder = make_index(tmp_path / "mid.teindex", structured(3000, d=64, centres=60, seed=1))
    ix = tindex.open_index(folder)
    assert not any(os.path.exists(p) for p in codes_files(folder))
    texts = []
    s = search.get_searcher(ix, progress=Progress(on_text=texts.append))
    assert s.kind == "codes" and s.note == "search codes built"
    assert any("building search codes" in t for t in texts)
    assert all(os.path.exists(p) for p in codes_files(folder))
    assert not [f for f in os.listdir(folder) if ".tmp" in f]
    stamp = [os.stat(p).st_mtime_ns for p in codes_files(folder)]
    # a fresh open (the dock's open task, another session) maps the saved codes: nothing rebuilt
    again = search.get_searcher(tindex.open_index(folder))
    assert again.note == "" and isinstance(again.codes.codes, np.memmap)
    assert [os.stat(p).st_mtime_ns for p in codes_files(folder)] == stamp
    np.testing.assert_array_equal(again.codes.codes, s.codes.codes)
    r = search.search(tindex.open_index(folder), ["t_r5_c5"], k=5)
    assert r.ids[0] == "t_r5_c5"


def corrupt_codes_truncated(folder):
    path = os.path.join(folder, search_codes.CODES)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def corrupt_model_garbage(folder):
    with open(os.path.join(folder, search_codes.MODEL), "wb") as f:
        f.write(b"not a zip file at all")


def corrupt_codes_bytes(folder):
    codes = np.load(os.path.join(folder, search_codes.CODES), mmap_mode="r+")
    codes[:] = np.int8(77)  # a valid file with the wrong content
    codes.flush()


def corrupt_codes_missing(folder):
    os.remove(os.path.join(folder, search_codes.CODES))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (corrupt_codes_truncated, "truncated or corrupt"),
        (corrupt_model_garbage, "unreadable"),
        (corrupt_codes_bytes, "does not match the embeddings"),
        (corrupt_codes_missing, "search codes built"),
    ],
)
def test_damaged_codes_are_detected_and_rebuilt(tmp_path, monkeypatch, damage, reason):
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "100")
    ix = bare_index(tmp_path / "d.teindex", structured(2000, d=64, centres=40, seed=2))
    good = search.get_searcher(ix).codes.codes[:].copy()
    damage(ix.path)
    s = search.get_searcher(reopen(ix))
    assert reason in s.note
    np.testing.assert_array_equal(s.codes.codes, good)  # rebuilt to the same codes
    assert search_codes.load(ix.path, ix.embeddings).fingerprint == search_codes.fingerprint(ix.embeddings)
    r = search.search(reopen(ix), ["t7"], k=3)
    assert r.ids[0] == "t7"


def test_codes_of_other_embeddings_are_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "100")
    a = bare_index(tmp_path / "a.teindex", structured(2000, d=64, centres=40, seed=3))
    search.get_searcher(a)
    # the index was rebuilt in place from other tiles (same count, same width): stale codes
    b = bare_index(a.path, structured(2000, d=64, centres=40, seed=4))
    s = search.get_searcher(b)
    assert "other embeddings" in s.note
    assert search.search(b, ["t11"], k=1).ids == ["t11"]


def test_a_read_only_index_keeps_its_codes_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "100")
    ix = bare_index(tmp_path / "ro.teindex", structured(1500, d=64, centres=30, seed=5))
    monkeypatch.setattr(search_codes.os, "access", lambda path, mode: False)
    s = search.get_searcher(ix)
    assert "read-only" in s.note and s.codes.path is None
    assert not any(os.path.exists(p) for p in codes_files(ix.path))
    assert search.search(ix, ["t3"], k=1).ids == ["t3"]


def test_a_canceled_build_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(search_codes, "CHUNK", 256)
    ix = bare_index(tmp_path / "c.teindex", structured(2000, d=64, centres=40, seed=6))
    progress = Progress()
    steps = []

    def on_progress(f):
        steps.append(f)
        if len(steps) > 3:
            progress.cancel()

    progress._on_progress = on_progress
    with pytest.raises(Canceled):
        search.get_searcher(ix, "codes", progress=progress)
    assert sorted(os.listdir(ix.path)) == [tindex.EMBEDDINGS]
    assert "codes" not in ix._searchers


def test_k_near_the_index_size_scans_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("TE_EXACT_THRESHOLD", "100")
    ix = bare_index(tmp_path / "k.teindex", structured(1200, d=64, centres=30, seed=7))
    got = search.search(ix, ["t5"], k=400)
    want = search.search(ix, ["t5"], k=400, searcher="exact")
    assert search.get_searcher(ix).kind == "codes"
    assert got.ids == want.ids
