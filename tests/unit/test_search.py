"""Similarity search: query vectors, exact and approximate searchers, negatives, exclusions."""

import numpy as np
import pytest

from tile_embeddings.core import index as tindex
from tile_embeddings.core import search
from tile_embeddings.core.errors import InputError

from .test_index import make_index


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    """400 vectors in 8 tight clusters (rows 50c..50c+49 = cluster c), 32 dims."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(8, 32))
    emb = np.repeat(centres, 50, axis=0) + 0.15 * rng.normal(size=(400, 32))
    folder = tmp_path_factory.mktemp("ix") / "c.teindex"
    return tindex.open_index(make_index(folder, emb, cols=20))


def test_nearest_neighbour_of_a_tile_is_itself(clustered):
    r = search.search(clustered, ["t_r5_c3"], k=5)
    assert r.ids[0] == "t_r5_c3" and r.rows[0] == 103
    assert r.scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(r.scores) <= 0)
    assert all(50 * 2 <= row < 50 * 3 for row in r.rows)  # same cluster
    np.testing.assert_allclose(r.scores, clustered.embeddings[r.rows] @ r.query, rtol=1e-5)


def test_query_vector_is_mean_of_positives_minus_weighted_negatives(clustered):
    e = clustered.embeddings
    q = search.query_vector(clustered, ["t_r0_c0", "t_r0_c1"], ["t_r19_c19"], negative_weight=0.5)
    expected = unit((e[0] + e[1]) / 2 - 0.5 * e[399])
    np.testing.assert_allclose(q, expected, rtol=1e-5, atol=1e-6)
    extra = np.full(32, 3.0)
    q2 = search.query_vector(clustered, "t_r0_c0", extra_vectors=[extra])
    np.testing.assert_allclose(q2, unit((e[0] + unit(extra)) / 2), rtol=1e-5, atol=1e-6)


def test_negatives_move_results_away(clustered):
    # a query between clusters 0 and 1; a negative from cluster 1 pushes results to cluster 0
    both = search.search(clustered, ["t_r0_c0", "t_r2_c10"], k=20)
    assert {r // 50 for r in both.rows} == {0, 1}
    pushed = search.search(clustered, ["t_r0_c0", "t_r2_c10"], ["t_r3_c0"], k=20)
    assert {r // 50 for r in pushed.rows} == {0}
    assert "negatives: t_r3_c0" in pushed.description


def test_exclude_query_drops_the_query_tiles(clustered):
    r = search.search(clustered, ["t_r0_c0", "t_r0_c1"], k=5, exclude_query=True)
    assert len(r) == 5 and "t_r0_c0" not in r.ids and "t_r0_c1" not in r.ids
    assert r.excluded == ["t_r0_c0", "t_r0_c1"]


def test_bad_queries_name_their_parameter(clustered):
    for call, param in [
        (lambda: search.search(clustered, [], k=5), "QUERY_IDS"),
        (lambda: search.search(clustered, ["t_r0_c0"], ["t_r0_c0"]), "NEGATIVE_IDS"),
        (lambda: search.search(clustered, ["t_r0_c0"], k=0), "K"),
        (lambda: search.search(clustered, ["t_r0_c0"], ["zz"]), "NEGATIVE_IDS"),
        (lambda: search.search(clustered, [], extra_vectors=[np.ones(5)]), "QUERY_IMAGE"),
    ]:
        with pytest.raises(InputError) as e:
            call()
        assert e.value.parameter == param


def test_k_larger_than_index_returns_every_tile(clustered):
    r = search.search(clustered, "t_r0_c0", k=10_000)
    assert len(r) == 400 and len(set(r.ids)) == 400


def test_every_searcher_agrees_with_brute_force(clustered, tmp_path):
    q = search.query_vector(clustered, ["t_r7_c7"])
    brute = np.argsort(-(clustered.embeddings @ q), kind="stable")[:10]
    flat = search.get_searcher(clustered, "flat").search(q, 10)[0]
    numpy_rows = search.get_searcher(clustered, "numpy").search(q, 10)[0]
    exact_rows, exact_scores = search.get_searcher(clustered, "exact").search(q, 10)
    np.testing.assert_array_equal(numpy_rows, brute)
    assert set(flat) == set(brute) and set(exact_rows) == set(brute)
    np.testing.assert_allclose(exact_scores, clustered.embeddings[exact_rows] @ q, rtol=1e-5, atol=1e-6)
    ivf = search.IVFSearcher(clustered.embeddings, search.train_ivf(clustered.embeddings, nlist=16), nprobe=4)
    rows, scores = ivf.search(q, 10)
    assert set(rows) == set(brute)  # clustered data: the probed lists hold the true neighbours
    np.testing.assert_allclose(scores, clustered.embeddings[rows] @ q, rtol=1e-6)  # exact re-rank


def test_searchers_are_cached_per_index(clustered):
    a = search.get_searcher(clustered, "auto", threshold=10**9)
    assert a.kind == "exact"  # numba is installed here
    assert search.get_searcher(clustered, "auto", threshold=10**9) is a
    codes = search.get_searcher(clustered, "auto", threshold=100)  # above the exact-search threshold
    assert codes.kind == "codes" and search.get_searcher(clustered, "auto", threshold=100) is codes
    assert search.get_searcher(clustered, "auto", threshold=100, ivf_at=100).kind == "faiss-ivf"


def test_ivf_file_in_the_index_folder_is_used(tmp_path):
    import faiss

    rng = np.random.default_rng(5)
    folder = make_index(tmp_path / "big.teindex", rng.normal(size=(300, 8)))
    ix = tindex.open_index(folder)
    faiss.write_index(search.train_ivf(ix.embeddings, nlist=4), ix.ivf_path)
    s = search.get_searcher(tindex.open_index(folder), "auto", ivf_at=100)
    assert s.kind == "faiss-ivf" and s.ivf.nlist == 4
    with open(ix.ivf_path, "wb") as f:
        f.write(b"broken")
    with pytest.raises(InputError) as e:
        search.get_searcher(tindex.open_index(folder), "auto", ivf_at=100)
    assert e.value.parameter == "INDEX" and "corrupt" in e.value.message


def test_numpy_fallback_without_faiss_or_numba(clustered, monkeypatch, tmp_path):
    monkeypatch.setattr(search, "have_faiss", lambda: False)
    monkeypatch.setattr(search, "have_numba", lambda: False)
    ix = tindex.open_index(clustered.path)  # fresh object: no cached searcher
    r = search.search(ix, ["t_r9_c9"], k=7)
    assert search.get_searcher(ix).kind == "numpy"
    ref = search.search(clustered, ["t_r9_c9"], k=7, searcher="flat")
    assert r.ids == ref.ids
    np.testing.assert_allclose(r.scores, ref.scores, rtol=1e-5)


def test_score_all_is_the_cosine_of_every_tile(clustered):
    s = search.score_all(clustered, ["t_r1_c1"], ["t_r15_c0"], negative_weight=0.3)
    q = search.query_vector(clustered, ["t_r1_c1"], ["t_r15_c0"], negative_weight=0.3)
    assert s.shape == (400,) and s.dtype == np.float32
    np.testing.assert_allclose(s, clustered.embeddings @ q, rtol=1e-5, atol=1e-6)
    r = search.search(clustered, ["t_r1_c1"], ["t_r15_c0"], k=3, negative_weight=0.3)
    np.testing.assert_allclose(np.sort(s)[::-1][:3], r.scores, rtol=1e-5)
