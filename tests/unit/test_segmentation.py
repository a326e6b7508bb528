"""Shepherd segmentation stages on small arrays with known answers (core only, no QGIS)."""

import numpy as np
import pytest
from scipy import ndimage

from tile_embeddings.core import seg_kernels as kern
from tile_embeddings.core import segmentation as segm
from tile_embeddings.core.errors import InputError


def model_for(centres, max_distance=10.0, nodata=None, bands=None):
    """A hand-made model: identity standardisation, given centres."""
    centres = np.asarray(centres, np.float32)
    nb = centres.shape[1] if bands is None else bands
    nd, has = segm.nodata_vector(nodata, nb)
    return segm.SpectralModel(centres=centres, mean=np.zeros(nb, np.float32), inv_std=np.ones(nb, np.float32),
                           nodata=nd, has_nodata=has, max_distance=max_distance)


# -- nearest centre ------------------------------------------------------------------------------
def test_assign_clusters_picks_nearest_centre_and_zero_for_nodata():
    img = np.array([[[0.0, 9.0, 4.0], [6.0, np.nan, -7.0]]], np.float32)  # 1 band, 2x3
    model = model_for([[0.0], [5.0], [10.0]], nodata=-7.0)
    labels = segm.assign_clusters(img, model)
    assert labels.tolist() == [[1, 3, 2], [2, 0, 0]]


def test_assign_clusters_standardises_bands():
    # band 2 has a huge range: without standardisation it would decide alone
    img = np.array([[[1.0]], [[1000.0]]], np.float32)
    model = model_for([[1.0, 0.0], [0.0, 1.0]])
    model.inv_std = np.array([1.0, 0.001], np.float32)  # band 2 in thousands
    assert segm.assign_clusters(img, model)[0, 0] == 1  # (1, 1) is as far from both; tie -> first
    img[1, 0, 0] = 900.0  # standardised (1, 0.9): nearest is centre 1
    assert segm.assign_clusters(img, model)[0, 0] == 1
    img[0, 0, 0] = 0.0  # (0, 0.9): centre 2
    assert segm.assign_clusters(img, model)[0, 0] == 2


# -- clumps --------------------------------------------------------------------------------------
def test_clump_is_4_connected_and_numbered_in_scan_order():
    labels = np.array([[1, 1, 2],
                       [2, 1, 2],
                       [1, 0, 2]], np.int32)
    ids, n = segm.clump(labels)
    assert n == 4
    assert ids.tolist() == [[1, 1, 2],
                            [3, 1, 2],
                            [4, 0, 2]]  # the diagonal 1s at (2,0) do not touch (1,1)


def test_clump_matches_ndimage_label_per_class():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, (120, 97)).astype(np.int32)
    ids, n = segm.clump(labels)
    ref = np.zeros_like(ids)
    off = 0
    for c in range(1, 5):
        lab, k = ndimage.label(labels == c)  # 4-connected by default
        ref[lab > 0] = lab[lab > 0] + off
        off += k
    assert n == off
    # same partition: a one-to-one mapping between the two labellings
    pairs = {(a, b) for a, b in zip(ids.ravel().tolist(), ref.ravel().tolist())}
    assert len(pairs) == n + 1
    assert ((ids == 0) == (labels == 0)).all()


# -- elimination ---------------------------------------------------------------------------------
def _two_fields_with_island(island_value):
    """Left half 10, right half 50; a 2x2 island on the border with ``island_value``."""
    img = np.zeros((1, 8, 8), np.float32)
    img[0, :, :4] = 10
    img[0, :, 4:] = 50
    img[0, 3:5, 3:5] = island_value
    labels = np.where(img[0] < 30, 1, 2).astype(np.int32)
    labels[3:5, 3:5] = 3
    return img, labels


def test_small_clump_merges_into_spectrally_nearest_neighbour():
    for value, expect_side in ((45.0, "right"), (14.0, "left")):
        img, labels = _two_fields_with_island(value)
        ids, n = segm.clump(labels)
        seg, m = segm.eliminate_small(ids, n, img, min_pixels=5, max_distance=100.0, weight=np.ones(1))
        assert m == 2
        side = seg[0, 7] if expect_side == "right" else seg[0, 0]
        assert (seg[3:5, 3:5] == side).all()


def test_small_clump_too_distant_from_every_neighbour_survives():
    img, labels = _two_fields_with_island(200.0)
    ids, n = segm.clump(labels)
    seg, m = segm.eliminate_small(ids, n, img, min_pixels=5, max_distance=100.0, weight=np.ones(1))
    assert m == 3  # 150 from the nearest neighbour, max 100: it stays
    assert len(np.unique(seg[3:5, 3:5])) == 1
    seg, m = segm.eliminate_small(ids, n, img, min_pixels=5, max_distance=160.0, weight=np.ones(1))
    assert m == 2 and (seg[3:5, 3:5] == seg[0, 7]).all()


def test_smallest_first_and_only_into_larger_regions():
    # a 1-pixel region between a 2-pixel region (value 0) and a 30-pixel field (value 9):
    # round 1 merges the pixel (value 1) into the 2-pixel region (nearest, larger); round 2
    # merges that 3-pixel region into the field.
    img = np.full((1, 5, 6), 9.0, np.float32)
    labels = np.ones((5, 6), np.int32)
    img[0, 0, 0:2] = 0
    labels[0, 0:2] = 2
    img[0, 0, 2] = 1
    labels[0, 2] = 3
    ids, n = segm.clump(labels)
    size, sums = segm.region_stats(ids, n, img)
    indptr, indices = kern.kernel(kern.adjacency)(ids, n)
    eliminate = kern.kernel(kern.eliminate)
    root = eliminate(size, sums, np.ones(1), indptr, indices, np.zeros(n + 1, bool), 2, 100.0, False)
    assert root[ids[0, 2]] == root[ids[0, 0]] != root[ids[4, 4]]  # minPxls 2: only round 1
    size, sums = segm.region_stats(ids, n, img)
    root = eliminate(size, sums, np.ones(1), indptr, indices, np.zeros(n + 1, bool), 4, 100.0, False)
    assert len(set(root[1:].tolist())) == 1


def test_nothing_below_min_pixels_survives_without_a_distance_limit():
    rng = np.random.default_rng(5)
    img = ndimage.uniform_filter(rng.normal(size=(3, 90, 110)), size=(1, 5, 5)).astype(np.float32)
    model = segm.fit_model(segm.sample_array(img, 5000), num_clusters=12, max_distance=1e9)
    seg, n = segm.segment_window(img, model, min_pixels=25)
    sizes = np.bincount(seg.ravel())[1:]
    assert n == len(sizes) and sizes.min() >= 25
    # with the auto limit some small regions may survive, but each is far from every larger neighbour
    model = segm.fit_model(segm.sample_array(img, 5000), num_clusters=12)
    seg2, n2 = segm.segment_window(img, model, min_pixels=25)
    assert n2 >= n


def test_anchor_regions_are_never_eliminated():
    img, labels = _two_fields_with_island(45.0)
    ids, n = segm.clump(labels)
    anchor = np.zeros(n + 1, bool)
    anchor[ids[3, 3]] = True
    seg, m = segm.eliminate_small(ids, n, img, 5, 100.0, np.ones(1), anchor)
    assert m == 3


def test_relabelling_is_dense_and_in_scan_order():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (3, 60, 70)).astype(np.uint8)
    seg, n, _ = segm.segment_array(img, num_clusters=8, min_pixels=10)
    first_seen = list(dict.fromkeys(seg.ravel().tolist()))
    assert first_seen == list(range(1, n + 1))
    assert seg.dtype == np.uint32


# -- the model -----------------------------------------------------------------------------------
def test_fit_model_ignores_nodata_and_is_deterministic():
    rng = np.random.default_rng(2)
    samples = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(10, 1, (500, 2)), np.full((300, 2), -1.0)])
    m1 = segm.fit_model(samples, 2, nodata=-1.0)
    m2 = segm.fit_model(samples, 2, nodata=-1.0)
    assert np.array_equal(m1.centres, m2.centres)
    raw = m1.centres / m1.inv_std + m1.mean  # back to band units
    assert np.allclose(sorted(raw[:, 0]), [0, 10], atol=0.3)
    assert m1.max_distance == pytest.approx(np.linalg.norm(m1.centres[0] - m1.centres[1]))


def test_fit_model_without_valid_pixels_is_an_input_error():
    with pytest.raises(InputError) as e:
        segm.fit_model(np.zeros((50, 3)), 5, nodata=0)
    assert e.value.parameter == "INPUT"


# -- single pixels and the clean-up pass ----------------------------------------------------------
def test_single_pixels_merge_even_when_every_neighbour_is_a_single_pixel():
    # a checkerboard of two clusters: every clump is one pixel, none has a larger neighbour
    img = np.zeros((1, 9, 11), np.float32)
    img[0, (np.indices((9, 11)).sum(0) % 2) == 1] = 100.0
    labels = np.where(img[0] > 50, 2, 1).astype(np.int32)
    ids, n = segm.clump(labels)
    assert n == 99
    seg, m = segm.eliminate_small(ids, n, img, min_pixels=2, max_distance=1.0, weight=np.ones(1))
    sizes = np.bincount(seg.ravel())[1:]
    assert m == len(sizes) and sizes.min() >= 2 and (seg > 0).all()


def test_more_clusters_than_pixels_are_clamped_and_no_single_pixel_survives():
    rng = np.random.default_rng(4)
    img = rng.permutation(np.arange(3 * 12 * 12)).reshape(3, 12, 12).astype(np.float32)  # all distinct
    seg, n, model = segm.segment_array(img, num_clusters=500, min_pixels=6)
    assert model.requested_clusters == 500 and len(model.centres) == 144  # one per distinct pixel
    sizes = np.bincount(seg.ravel())[1:]
    assert len(sizes) == n and sizes.min() >= 2  # the documented rule: single pixels always merge
    # a sample with fewer distinct values than clusters
    flat = np.repeat(np.array([[1.0, 2.0], [5.0, 1.0], [9.0, 9.0]]), 40, axis=0)
    model = segm.fit_model(flat, 10)
    assert len(model.centres) == 3 and model.requested_clusters == 10


def _noisy_scene_with_islands():
    """Smooth noise (many small, distinct regions), plus a 3-pixel valid island in nodata."""
    rng = np.random.default_rng(6)
    img = ndimage.uniform_filter(rng.normal(size=(2, 70, 80)), size=(1, 3, 3)).astype(np.float32)
    img[:, 60:, 60:] = -99.0
    img[:, 65, 65:68] = 0.5
    return img


def test_cleanup_leaves_nothing_under_min_pixels_but_isolated_areas():
    img = _noisy_scene_with_islands()
    model = segm.fit_model(segm.sample_array(img, 10000), 20, nodata=-99.0, max_distance=0.05)
    seg, n = segm.segment_window(img, model, min_pixels=30)
    sizes = np.bincount(seg.ravel())[1:]
    assert (sizes < 30).sum() > 5  # the tight limit keeps many small segments (Shepherd's rule)
    clean, m = segm.segment_window(img, model, min_pixels=30, cleanup=True)
    sizes = np.bincount(clean.ravel())[1:]
    assert m == len(sizes) < n
    island = clean[65, 65]
    assert sizes[island - 1] == 3 and (clean == island).sum() == 3  # its whole area is 3 pixels
    assert np.delete(sizes, island - 1).min() >= 30
    # the clean-up only merges: every segment of the Shepherd result lies inside one clean segment
    pairs = np.unique(seg.astype(np.int64) * (m + 1) + clean)
    assert len(pairs) == n + 1


def test_cleanup_with_same_size_neighbours_only():
    # 4-pixel stripes of alternating clusters, all equal, min 10: clean-up joins them anyway
    img = np.zeros((1, 4, 12), np.float32)
    img[0, :, 1::2] = 50.0
    labels = np.where(img[0] > 0, 2, 1).astype(np.int32)
    ids, n = segm.clump(labels)
    seg, m = segm.eliminate_small(ids, n, img, 10, 1.0, np.ones(1), cleanup=True)
    sizes = np.bincount(seg.ravel())[1:]
    assert sizes.min() >= 10 and sizes.sum() == 48


# -- k-means -------------------------------------------------------------------------------------
def _blobs(seed=0, k=12, n=400, d=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (k, d))
    return np.vstack([rng.normal(c, 0.5 + 0.1 * i, (n, d)) for i, c in enumerate(centres)])


def test_kmeans_is_deterministic_per_seed_and_restarts_keep_the_best():
    from tile_embeddings.core.seg_kmeans import KMeansOptions, kmeans

    x = _blobs()
    a = kmeans(x, 12, KMeansOptions(seed=7, restarts=1))
    b = kmeans(x, 12, KMeansOptions(seed=7, restarts=1), threads=2)
    assert np.array_equal(a.centres, b.centres) and a.converged
    c = kmeans(x, 12, KMeansOptions(seed=7, restarts=4), threads=2)  # its first run is ``a``
    assert c.inertia <= a.inertia and c.restarts == 4
    d = kmeans(x, 12, KMeansOptions(seed=8, restarts=4))
    assert d.inertia == pytest.approx(c.inertia, rel=0.05)
    ref = np.mean(np.min(((x[:, None] - c.centres[None]) ** 2).sum(-1), axis=1))
    assert c.inertia == pytest.approx(ref)


def test_kmeans_bounds_give_plain_lloyd_result():
    from tile_embeddings.core.seg_kmeans import KMeansOptions, diagonal_centres, kmeans

    x = _blobs(seed=3, k=6, n=300, d=2)
    got = kmeans(x, 6, KMeansOptions(init="diagonal", iterations=500, tol=0.0, breathing=0))
    c = diagonal_centres(x, 6)
    for _ in range(500):  # plain Lloyd from the same start
        lab = ((x[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        new = np.array([x[lab == j].mean(0) if (lab == j).any() else c[j] for j in range(6)])
        if np.array_equal(new, c):
            break
        c = new
    def rows(a):
        return a[np.lexsort(a.T[::-1])]

    assert np.allclose(rows(got.centres), rows(c), atol=1e-9)  # the same centres (an empty cluster
    # is refilled in another slot than the reference keeps it, so the order may differ)


def test_kmeans_inertia_at_least_as_low_as_scikit_learn():
    sklearn = pytest.importorskip("sklearn.cluster")
    from tile_embeddings.core.seg_kmeans import KMeansOptions, kmeans

    rng = np.random.default_rng(11)
    x = ndimage.uniform_filter(rng.normal(size=(3, 80, 80)), size=(1, 4, 4)).reshape(3, -1).T
    x = np.vstack([x, _blobs(seed=5, k=8, n=300) / 8])
    ours = kmeans(x, 30, KMeansOptions(seed=1234)).inertia
    # pyshepseg's settings: k-means++, 5 runs
    theirs = sklearn.KMeans(30, n_init=5, random_state=0).fit(x).inertia_ / len(x)
    assert ours <= theirs * 1.002


def test_native_threads_limits_blas_inside_the_block_only():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from tile_embeddings.core.seg_kmeans import native_threads

    def blas():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]

    before = blas()
    if not before:
        pytest.skip("no BLAS library loaded that threadpoolctl knows")
    with native_threads(1):
        assert set(blas()) == {1}
    assert blas() == before


def test_raw_units_model_when_bands_are_not_standardised():
    from tile_embeddings.core.seg_kmeans import KMeansOptions

    rng = np.random.default_rng(2)
    samples = np.vstack([rng.normal(100, 1, (400, 2)), rng.normal(400, 1, (400, 2))])
    samples[:, 1] *= 10  # band 2 has ten times the range
    m = segm.fit_model(samples, 2, kmeans=KMeansOptions(standardise=False))
    assert not m.standardised and np.all(m.inv_std == 1)
    raw = np.sort(m.centres[:, 0] + m.mean[0])
    assert np.allclose(raw, [100, 400], atol=1)
    assert m.max_distance == pytest.approx(np.hypot(300, 3000), rel=0.01)  # raw units
    s = segm.fit_model(samples, 2)
    assert s.standardised and s.max_distance == pytest.approx(np.hypot(2, 2), rel=0.01)
