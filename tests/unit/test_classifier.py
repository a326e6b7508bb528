"""Find all: training, scoring, quality, proposals, detections and saved classifiers (no QGIS)."""

import json
import os
import shutil

import numpy as np
import pytest

from tile_embeddings.core import classifier as clf
from tile_embeddings.core import detections
from tile_embeddings.core import index as tindex
from tile_embeddings.core.errors import Canceled, InputError
from tile_embeddings.core.progress import Progress

from .test_index import make_index

ROWS = COLS = 20
TILE = 10.0  # metres; make_index's grid starts at (400000, 3280000), row 0 at the top
BLOCK_A = [(r, c) for r in range(2, 6) for c in range(2, 7)]  # 20 target tiles
BLOCK_B = [(r, c) for r in range(12, 16) for c in range(10, 15)]  # 20 more, far away


def tid(r, c):
    return f"t_r{r}_c{c}"


def centre(r, c):
    return 400000 + (c + 0.5) * TILE, 3280000 - (r + 0.5) * TILE


def point(r, c):
    return "POINT ({} {})".format(*centre(r, c))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 20 x 20 tile map: the target class in two blocks, five other classes scattered elsewhere
    (32 dims, tight clusters). Returns (index, truth) with truth[row] = is target."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 32))
    cls = rng.integers(1, 6, size=ROWS * COLS)
    for r, c in BLOCK_A + BLOCK_B:
        cls[r * COLS + c] = 0
    emb = centres[cls] + 0.2 * rng.normal(size=(ROWS * COLS, 32))
    folder = tmp_path_factory.mktemp("clf") / "scene.teindex"
    return tindex.open_index(make_index(folder, emb, tile=TILE, cols=COLS)), cls == 0


def labels(truth, n_pos, n_neg, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.choice(np.flatnonzero(truth), n_pos, replace=False)
    neg = rng.choice(np.flatnonzero(~truth), n_neg, replace=False)
    return [tid(*divmod(int(r), COLS)) for r in pos], [tid(*divmod(int(r), COLS)) for r in neg]


def test_trained_classifier_finds_the_target_class(scene):
    ix, truth = scene
    pos, neg = labels(truth, 6, 8)
    model = clf.train(ix, pos, neg, seed=1)
    p = model.score(ix)
    assert p.dtype == np.float32 and p.shape == (len(ix),)
    assert ((p >= 0.5) == truth).mean() == 1.0
    assert p[truth].min() > p[~truth].max()
    # the probability is the logistic of one dot product per tile (what the dock and the bench time)
    ref = 1 / (1 + np.exp(-(np.asarray(ix.embeddings, np.float64) @ model.weights + model.bias)))
    np.testing.assert_allclose(p, ref, rtol=1e-4, atol=1e-6)
    assert model.positives == pos and model.negatives == neg and model.background == 0
    assert model.fingerprint["model"] == "synthetic" and model.fingerprint["stretch"] == "global"


def test_quality_is_cross_validated_when_there_are_enough_labels(scene):
    ix, truth = scene
    pos, neg = labels(truth, 6, 8)
    q = clf.train(ix, pos, neg).quality
    assert q["method"] == "5-fold cross-validation"
    assert q["balanced_accuracy"] == 1.0 and (q["positives"], q["negatives"]) == (6, 8)
    assert "cross-validated balanced accuracy 1.00" in q["text"]


def test_quality_catches_labels_that_make_no_sense(scene):
    """Labels drawn at random from one class cannot be told apart: the estimate must say so."""
    ix, truth = scene
    rng = np.random.default_rng(3)
    rows = rng.choice(np.flatnonzero(~truth), 20, replace=False)
    ids = [tid(*divmod(int(r), COLS)) for r in rows]
    q = clf.train(ix, ids[:10], ids[10:]).quality
    assert q["balanced_accuracy"] < 0.8


def test_too_few_labels_to_tell(scene):
    ix, truth = scene
    pos, neg = labels(truth, 3, 4)
    model = clf.train(ix, pos, neg)
    assert model.quality["method"] == "none" and model.quality["balanced_accuracy"] is None
    assert "too few labels" in model.quality["text"] and "(have 3 and 4)" in model.quality["text"]
    assert "too few labels" in model.log[-1]
    assert ((model.score(ix) >= 0.5) == truth).mean() > 0.95  # it still trains


def test_positives_only_uses_background_and_says_so(scene):
    ix, truth = scene
    pos, _ = labels(truth, 6, 0)
    model = clf.train(ix, pos, background=300)
    assert model.negatives == [] and 0 < model.background <= 300
    assert "positive-unlabelled" in model.log[0] and "no negatives labelled" in model.log[0]
    p = model.score(ix)
    assert ((p >= 0.5) == truth).mean() > 0.97
    q = model.quality
    assert q["method"].endswith("on positives") and q["positive_recall"] >= 0.8
    assert "cannot be estimated" in q["text"]


def test_background_leaves_out_the_labelled_tiles_and_the_positives_neighbours(scene):
    ix, truth = scene
    pos, _ = labels(truth, 4, 0)
    trainer = clf._Trainer(ix, seed=0, background=len(ix), C=1.0)
    x_pos = trainer.vectors(ix.rows_of(pos))
    keep, dropped = clf._background_rows(trainer.sample, len(ix), x_pos, ix.rows_of(pos))
    used = set(trainer.sample.rows[keep].tolist())
    assert not used & set(ix.rows_of(pos).tolist())
    assert dropped > 0
    # the nearest neighbour of each positive (another target tile) is not in the background
    sims = np.asarray(ix.embeddings) @ x_pos.T
    sims[ix.rows_of(pos)] = -9
    assert not used & set(np.argmax(sims, axis=0).tolist())


def test_no_negatives_and_no_background_is_refused(scene):
    ix, truth = scene
    pos, _ = labels(truth, 3, 0)
    with pytest.raises(InputError) as e:
        clf.train(ix, pos, background=0)
    assert e.value.parameter == "NEGATIVE_IDS"


def test_bad_labels_name_their_parameter(scene):
    ix, truth = scene
    with pytest.raises(InputError) as e:
        clf.train(ix, ["t_r0_c0", "nope_r1_c1"], ["t_r9_c9"])
    assert e.value.parameter == "POSITIVE_IDS" and "nope_r1_c1" in str(e.value)
    with pytest.raises(InputError) as e:
        clf.train(ix, ["t_r0_c0"], ["missing"])
    assert e.value.parameter == "NEGATIVE_IDS"
    with pytest.raises(InputError) as e:
        clf.train(ix, [], ["t_r9_c9"])
    assert e.value.parameter == "POSITIVE_IDS"


def test_tiles_labelled_both_ways_are_left_out(scene):
    ix, truth = scene
    pos, neg = labels(truth, 4, 4)
    model = clf.train(ix, pos + [neg[0]], neg)
    assert neg[0] not in model.positives and neg[0] not in model.negatives
    assert "labelled both yes and no" in model.log[0] and neg[0] in model.log[0]


def test_retraining_from_the_previous_classifier_reaches_the_same_answer(scene):
    ix, truth = scene
    pos, neg = labels(truth, 5, 5)
    first = clf.train(ix, pos, neg, quality=False)
    extra = labels(truth, 0, 6, seed=9)[1][-1]
    cold = clf.train(ix, pos, neg + [extra], quality=False)
    warm = clf.train(ix, pos, neg + [extra], quality=False, previous=first)
    np.testing.assert_allclose(warm.score(ix), cold.score(ix), atol=1e-2)  # both within the solver's tolerance
    assert ((warm.score(ix) >= 0.5) == (cold.score(ix) >= 0.5)).all()
    # started from its own optimum, the solver stays there: the start is mapped into its space right
    trainer = clf._Trainer(ix, 0, clf.DEFAULT_BACKGROUND, 1.0)
    xp, xn = trainer.vectors(ix.rows_of(pos)), trainer.vectors(ix.rows_of(neg))
    zp, zn, sample = trainer.sample.standardise(xp), trainer.sample.standardise(xn), trainer.sample
    w, b = clf._fit(zp, zn, sample.mean, sample.scale, 1.0)
    w2, b2 = clf._fit(zp, zn, sample.mean, sample.scale, 1.0, start=(w, b))
    np.testing.assert_allclose(w2, w, rtol=1e-4, atol=1e-5 * np.abs(w).max())
    assert b2 == pytest.approx(b, rel=1e-4, abs=1e-5)


def test_scoring_in_chunks_with_numpy_or_numba_agrees(scene, monkeypatch):
    ix, truth = scene
    model = clf.train(ix, *labels(truth, 5, 5), quality=False)
    full = model.score(ix)
    chunked = clf.score_embeddings(ix.embeddings, model.weights, model.bias, chunk=37)
    np.testing.assert_allclose(chunked, full, rtol=1e-5, atol=1e-7)
    from tile_embeddings.core import search

    monkeypatch.setattr(search, "have_numba", lambda: False)
    np.testing.assert_allclose(clf.score_embeddings(ix.embeddings, model.weights, model.bias, chunk=50), full,
                               rtol=1e-5, atol=1e-7)


def test_scoring_reports_progress_and_stops_when_canceled(scene):
    ix, truth = scene
    model = clf.train(ix, *labels(truth, 5, 5), quality=False)
    seen = []
    clf.score_embeddings(ix.embeddings, model.weights, model.bias, Progress(on_progress=seen.append), chunk=100)
    assert seen[-1] == pytest.approx(1.0) and len(seen) >= 4
    calls = []
    progress = Progress(is_canceled=lambda: len(calls) > 1, on_progress=calls.append)
    with pytest.raises(Canceled):
        clf.score_embeddings(ix.embeddings, model.weights, model.bias, progress, chunk=100)


# -- saved classifiers ----------------------------------------------------------------------------
def test_save_and_load_round_trip_without_pickle(scene, tmp_path):
    ix, truth = scene
    model = clf.train(ix, *labels(truth, 5, 5))
    path = clf.save_classifier(tmp_path / "sub" / "target", model)
    assert path == str(tmp_path / "sub" / "target.json") and model.path == path
    assert sorted(os.listdir(tmp_path / "sub")) == ["target.json", "target.npy"]
    doc = json.loads(open(path, encoding="utf-8").read())
    assert doc["format"] == "tile-embeddings-classifier" and doc["labels"] == {
        "positives": 5, "negatives": 5, "background": 0}
    assert doc["fingerprint"]["model"] == "synthetic" and doc["quality"]["balanced_accuracy"] == 1.0
    loaded = clf.load_classifier(path)
    np.testing.assert_array_equal(loaded.weights, model.weights)
    assert loaded.bias == model.bias and loaded.fingerprint == model.fingerprint
    assert loaded.positives == model.positives and loaded.log == model.log
    np.testing.assert_array_equal(loaded.score(ix), model.score(ix))
    assert clf.load_classifier(tmp_path / "sub" / "target.npy").bias == model.bias


def test_damaged_or_foreign_classifier_files_are_refused(scene, tmp_path):
    ix, truth = scene
    model = clf.train(ix, *labels(truth, 5, 5), quality=False)
    path = clf.save_classifier(tmp_path / "m.json", model)
    np.save(tmp_path / "m.npy", model.weights * 2)
    with pytest.raises(InputError, match="checksum") as e:
        clf.load_classifier(path)
    assert e.value.parameter == "MODEL_INPUT"
    os.remove(tmp_path / "m.npy")
    with pytest.raises(InputError, match="missing or unreadable"):
        clf.load_classifier(path)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not a Tile Embeddings classifier"):
        clf.load_classifier(tmp_path / "other.json")
    with pytest.raises(InputError, match="not found"):
        clf.load_classifier(tmp_path / "absent.json")


def _copy_with_meta(ix, folder, **changes):
    shutil.copytree(ix.path, folder)
    meta = dict(ix.meta)
    for key, value in changes.items():
        if key in ("stretch", "input_size", "rotation_invariant", "bands"):
            meta["preprocessing"] = {**meta["preprocessing"], key: value}
        else:
            meta[key] = value
    tindex.write_meta(str(folder), meta)
    return tindex.open_index(folder)


@pytest.mark.parametrize("change, word", [
    ({"stretch": "per_tile"}, "stretch"),
    ({"model": "resnet50"}, "model"),
    ({"rotation_invariant": True}, "rotation invariance"),
    ({"weights_sha256": "1" * 64}, "weights"),
])
def test_an_index_made_differently_is_refused(scene, tmp_path, change, word):
    ix, truth = scene
    model = clf.load_classifier(clf.save_classifier(tmp_path / "m", clf.train(ix, *labels(truth, 5, 5))))
    other = _copy_with_meta(ix, tmp_path / "other.teindex", **change)
    with pytest.raises(InputError) as e:
        model.score(other)
    assert e.value.parameter == "MODEL_INPUT"
    assert word in str(e.value) and repr(next(iter(change.values()))) in str(e.value)
    # an index made the same way (another area, say) is scored
    same = _copy_with_meta(ix, tmp_path / "same.teindex", crs_wkt=ix.crs_wkt)
    np.testing.assert_array_equal(model.score(same), model.score(ix))


def test_default_path_is_beside_the_index(scene):
    ix, _ = scene
    path = clf.default_classifier_path(ix, "trees")
    assert path == os.path.join(ix.path, "classifiers", "trees.json")
    assert os.path.basename(clf.default_classifier_path(ix)).startswith("classifier-")


# -- labels from a layer --------------------------------------------------------------------------
@pytest.mark.parametrize("value, positive_class, expected", [
    (1, None, True), (0, None, False), ("yes", None, True), ("No", None, False), ("TRUE", None, True),
    ("false", None, False), (1.0, None, True), (True, None, True), (None, None, None), ("", None, None),
    ("conifer", "Conifer", True), ("meadow", "conifer", False), (2, "2", True), (2.0, "2", True),
    (3, "2", False), (None, "conifer", None),
])
def test_label_values(value, positive_class, expected):
    assert clf.parse_label(value, positive_class) is expected


def test_class_names_need_a_positive_class():
    with pytest.raises(InputError) as e:
        clf.parse_label("conifer")
    assert e.value.parameter == "POSITIVE_CLASS" and "'conifer'" in str(e.value)


def test_labels_from_points_and_polygons(scene):
    ix, _ = scene
    x0, y1 = centre(0, 0)
    x1, y0 = centre(1, 2)
    box = f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"  # centres of r0-1, c0-2
    got = clf.labels_from_geometries(ix, [
        (point(5, 5), "yes"), (box, "no"), (point(5, 6), 1), ("POINT (0 0)", "yes"), (point(7, 7), None),
        (point(1, 1), "yes"),  # also inside the 'no' box: labelled both ways
    ])
    assert got.positives == ["t_r5_c5", "t_r5_c6"]
    assert sorted(got.negatives) == sorted(tid(r, c) for r in (0, 1) for c in (0, 1, 2) if (r, c) != (1, 1))
    assert got.conflicts == ["t_r1_c1"] and got.outside == 1 and got.unlabelled == 1 and got.features == 6
    text = got.describe()
    assert "1 features fall outside" in text and "1 tiles labelled both yes and no" in text


def test_labels_with_a_positive_class(scene):
    ix, _ = scene
    got = clf.labels_from_geometries(ix, [(point(3, 3), "conifer"), (point(9, 9), "meadow"),
                                          (point(9, 10), "sagebrush")], positive_class="conifer")
    assert got.positives == ["t_r3_c3"] and got.negatives == ["t_r9_c9", "t_r9_c10"]
    with pytest.raises(InputError) as e:
        clf.labels_from_geometries(ix, [(point(3, 3), "conifer")], positive_class="grass")
    assert e.value.parameter == "POSITIVE_CLASS" and "conifer" in str(e.value)


def test_labels_that_miss_the_index_are_an_error(scene):
    ix, _ = scene
    with pytest.raises(InputError) as e:
        clf.labels_from_geometries(ix, [("POINT (0 0)", 1), ("POINT (1 1)", 0)])
    assert e.value.parameter == "LABELS" and "none of the 2 labelled features" in str(e.value)
    with pytest.raises(InputError) as e:
        clf.labels_from_geometries(ix, [(point(2, 2), 0)])
    assert e.value.parameter == "LABELS" and "no positive tile" in str(e.value)


# -- proposals ------------------------------------------------------------------------------------
def test_proposals_are_uncertain_unlabelled_and_not_duplicates(tmp_path):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(100, 16))
    emb[1] = emb[0] + 1e-4  # a near-duplicate of tile 0
    ix = tindex.open_index(make_index(tmp_path / "p.teindex", emb, tile=TILE, cols=10))
    p = np.linspace(0.0, 1.0, 100).astype(np.float32)
    p[[0, 1, 2, 3]] = [0.5, 0.5, 0.501, 0.499]
    got = clf.propose(ix, None, p, n=3, labelled=["t_r0_c3"])
    # r0_c1 duplicates r0_c0 and r0_c3 is labelled; then the tiles nearest 0.5 (49/99, 50/99)
    assert got[:2] == ["t_r0_c0", "t_r0_c2"] and got[2] in ("t_r4_c9", "t_r5_c0")
    assert clf.propose(ix, None, p, n=0) == []
    with pytest.raises(InputError):
        clf.propose(ix, None, p[:10], n=3)


def test_proposals_spread_over_the_map(tmp_path):
    rng = np.random.default_rng(1)
    ix = tindex.open_index(make_index(tmp_path / "s.teindex", rng.normal(size=(400, 32)), tile=TILE, cols=20))
    p = np.zeros(400, np.float32)
    p[:60] = 0.5  # the most uncertain tiles crowd the top three rows
    p[300:] = 0.3
    table = clf.tile_table(ix)
    centers = np.column_stack([table["center_x"], table["center_y"]])
    got = clf.propose(ix, None, p, n=4, centers=centers, min_distance=90.0)
    rows = ix.rows_of(got)
    d = np.hypot(*(centers[rows][:, None] - centers[rows][None]).transpose(2, 0, 1))
    assert d[np.triu_indices(4, 1)].min() >= 90.0
    # three fit in the top rows 90 m apart; the fourth is the next most uncertain, far below
    assert rows.tolist() == [0, 9, 18, 300]
    assert clf.propose(ix, None, p, n=4) == [ix.ids[r] for r in range(4)]  # no centres: no spreading


def test_proposals_skip_the_classifiers_own_labels(scene):
    ix, truth = scene
    pos, neg = labels(truth, 5, 5)
    model = clf.train(ix, pos, neg, quality=False)
    got = clf.propose(ix, model, model.score(ix), n=10)
    assert got and not set(got) & set(pos + neg)
    # tiles of one tight cluster are near-duplicates (cosine > 0.9): one per cluster, six clusters
    v = np.asarray(ix.embeddings)[ix.rows_of(got)]
    assert len(got) == 6 and (v @ v.T)[np.triu_indices(6, 1)].max() <= 0.9


# -- detections -----------------------------------------------------------------------------------
def test_tile_table_reads_the_grid(scene):
    ix, _ = scene
    table = clf.tile_table(ix)
    assert table["row"][ix.row_of("t_r3_c4")] == 3 and table["col"][ix.row_of("t_r3_c4")] == 4
    assert (table["center_x"][ix.row_of("t_r3_c4")], table["center_y"][ix.row_of("t_r3_c4")]) == centre(3, 4)


def test_detections_are_touching_tiles_dissolved(scene):
    from osgeo import ogr

    ix, truth = scene
    p = np.full(len(ix), 0.1, np.float32)
    for (r, c), v in zip(BLOCK_A, np.linspace(0.6, 0.9, len(BLOCK_A))):
        p[r * COLS + c] = v
    p[6 * COLS + 7] = 0.55  # touches block A's corner (5, 6)
    p[18 * COLS + 18] = 0.95  # alone
    got = clf.detection_regions(ix, p, 0.5)
    assert [d.tile_count for d in got] == [1, 21]
    alone, block = got
    assert alone.max_probability == pytest.approx(0.95) and alone.area == pytest.approx(TILE * TILE)
    assert block.area == pytest.approx(21 * TILE * TILE)
    assert block.max_probability == pytest.approx(0.9)
    assert block.mean_probability == pytest.approx(float(np.mean(p[block.rows])))
    geom = ogr.CreateGeometryFromWkb(block.wkb)
    assert geom.GetGeometryType() == ogr.wkbMultiPolygon
    x0, x1, y0, y1 = geom.GetEnvelope()
    assert (x0, x1) == (400000 + 2 * TILE, 400000 + 8 * TILE) and (y0, y1) == (3280000 - 7 * TILE, 3280000 - 2 * TILE)
    # the same groups from geometry contacts, for tiles that form no single grid
    geoms = detections._tile_geometries(ix, block.rows, Progress())
    assert detections._groups_by_contact(geoms) == [list(range(21))]
    assert clf.detection_regions(ix, p, 0.99) == []
    with pytest.raises(InputError) as e:
        clf.detected_rows(p, 1.5)
    assert e.value.parameter == "THRESHOLD"


def test_detections_of_a_trained_classifier_are_the_two_blocks(scene):
    ix, truth = scene
    model = clf.train(ix, *labels(truth, 6, 8), quality=False)
    got = clf.detection_regions(ix, model.score(ix), 0.5)
    assert sorted(d.tile_count for d in got) == [20, 20]
    assert sorted(sorted(ix.ids[r] for r in d.rows) for d in got) == sorted(
        sorted(tid(r, c) for r, c in block) for block in (BLOCK_A, BLOCK_B))


# -- constant tiles (issue 16) --------------------------------------------------------------------
def test_constant_tiles_get_no_probability_and_are_never_proposed_unless_asked(tmp_path):
    """Six tiles of one fill embed alike: labelled as a positive, one still trains the classifier, but
    scoring leaves every flagged tile out (NaN), so none is detected or proposed; include_constant
    keeps them. An index without constant.npy hides nothing."""
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(60, 16))
    fill = [6, 7, 8, 9, 18, 19]
    emb[fill] = emb[6] + 1e-5 * rng.normal(size=(6, 16))
    folder = make_index(tmp_path / "c.teindex", emb, tile=TILE, cols=10)
    ix = tindex.open_index(folder)
    model = clf.train(ix, [ix.ids[6], ix.ids[1]], [ix.ids[r] for r in (20, 30, 40, 50)], quality=False)
    with_fill = model.score(ix)
    assert ix.constant is None and (with_fill[fill] >= 0.5).all()  # no flags: nothing hidden
    flags = np.zeros(60, bool)
    flags[fill] = True
    tindex.write_constant(folder, flags)
    ix = tindex.open_index(folder)
    p = model.score(ix)
    assert np.isnan(p[fill]).all() and np.isfinite(p[~flags]).all()
    np.testing.assert_array_equal(p[~flags], with_fill[~flags])
    np.testing.assert_array_equal(model.score(ix, include_constant=True), with_fill)
    assert not set(clf.detected_rows(p, 0.5)) & set(fill)
    got = clf.propose(ix, model, p, n=60, max_cosine=1.0)
    assert got and not set(ix.rows_of(got)) & set(fill)
    assert len(got) == 60 - 6 - 5  # every other tile: not the fill, not the five other labelled tiles
    assert clf.detection_regions(ix, p, 0.5) and all(
        not set(d.rows) & set(fill) for d in clf.detection_regions(ix, p, 0.5))
