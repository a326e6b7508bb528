"""The dock's Find all mode with a real QgsMapCanvas: label, train, check proposals, save, reload."""

import numpy as np
import pytest
from index_factory import make_synthetic_index, tile_centre
from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsPointXY, QgsProject, QgsVectorLayer

from tile_embeddings.plugin.find_all import FindAll
from tile_embeddings.plugin.similarity_session import SimilaritySession

ROWS = COLS = 14
UTM = QgsCoordinateReferenceSystem("EPSG:32617")


@pytest.fixture
def labelled(tmp_path):
    folder, clusters = make_synthetic_index(str(tmp_path / "syn.teindex"), rows=ROWS, cols=COLS, dims=32,
                                            clusters=5, seed=3)
    return folder, clusters


@pytest.fixture
def setup(qgis_canvas, qgis_new_project, labelled, clean_dock_settings):
    session = SimilaritySession(qgis_canvas, QgsProject.instance())
    find_all = FindAll(session)
    messages = []
    session.message.connect(lambda text, level: messages.append(text))
    find_all.message.connect(lambda text, level: messages.append(text))
    assert session.open_index(labelled[0], wait=True)
    qgis_canvas.setDestinationCrs(UTM)
    qgis_canvas.setExtent(session.lookup.extent())
    yield session, find_all, labelled[1], messages
    find_all.shutdown()
    session.shutdown()


def wait(find_all, session, timeout=30.0):
    import time

    from qgis.PyQt.QtCore import QCoreApplication

    end = time.perf_counter() + timeout
    while (find_all.busy() or session.busy()) and time.perf_counter() < end:
        QCoreApplication.processEvents()
        time.sleep(0.005)
    return not (find_all.busy() or session.busy())


def tiles_of(clusters, k, n, skip=0):
    rows = np.flatnonzero(clusters == k)[skip:skip + n]
    return [f"syn_r{r // COLS}_c{r % COLS}" for r in rows]


def click(session, tile_id, mode):
    r, c = (int(v) for v in tile_id[5:].split("_c"))
    return session.handle_click(QgsPointXY(*tile_centre(r, c)), UTM, mode)


def test_find_all_trains_on_clicked_tiles_and_maps_every_tile(setup):
    session, find_all, clusters, _ = setup
    target = 2
    yes, no = tiles_of(clusters, target, 4), tiles_of(clusters, (target + 1) % 5, 2) + tiles_of(clusters, 4, 2)
    for t in yes:
        click(session, t, "positive")
    for t in no:
        click(session, t, "negative")
    trained, quality = [], []
    find_all.trained.connect(trained.append)
    find_all.quality_ready.connect(quality.append)
    find_all.set_active(True)
    assert wait(find_all, session) and trained
    # the map first, then the labels' own quality estimate (4 yes, 4 no: too few to cross-validate)
    assert trained[-1]["quality"].startswith("estimating")
    assert quality and "too few" in quality[-1]["quality"]
    p = find_all.probabilities
    truth = clusters == target
    balanced = 0.5 * ((p[truth] >= 0.5).mean() + (p[~truth] < 0.5).mean())
    assert balanced > 0.9
    probability = session.layers.layer("Find all: probability")
    assert probability is not None and probability.type() == Qgis.LayerType.Raster
    detections = session.layers.layer("Find all: detections")
    # touching detected tiles are dissolved into regions that cover exactly the detected tiles
    assert trained[-1]["detections"] == int((p >= 0.5).sum())
    assert detections.featureCount() == trained[-1]["regions"] > 0
    feats = list(detections.getFeatures())
    assert sum(f["tile_count"] for f in feats) == trained[-1]["detections"]
    for f in feats:
        assert f["probability"] >= f["mean_probability"] >= 0.5
    from qgis.core import QgsGeometry

    covered = QgsGeometry.unaryUnion([f.geometry() for f in feats])
    for r in range(ROWS * COLS):
        centre = QgsGeometry.fromPointXY(QgsPointXY(*tile_centre(r // COLS, r % COLS)))
        assert covered.contains(centre) == bool(p[r] >= 0.5)
    proposals = trained[-1]["proposals"]
    assert proposals and not set(proposals) & set(yes + no)
    # marking a proposal retrains with it as a label
    before = len(trained)
    find_all.label(proposals[0], bool(truth[session.index.row_of(proposals[0])]))
    assert wait(find_all, session) and len(trained) > before
    assert proposals[0] in session.positives + session.negatives
    assert proposals[0] not in trained[-1]["proposals"]
    # off: its layers go
    find_all.set_active(False)
    assert session.layers.layer("Find all: probability") is None


def test_positives_only_uses_background_and_says_so(setup):
    session, find_all, clusters, _ = setup
    for t in tiles_of(clusters, 1, 5):
        click(session, t, "positive")
    trained = []
    find_all.trained.connect(trained.append)
    find_all.set_active(True)
    assert wait(find_all, session) and trained
    assert any("positive-unlabelled" in line for line in trained[-1]["log"])
    p = find_all.probabilities
    assert p[clusters == 1].mean() > p[clusters != 1].mean() + 0.3


def test_labels_saved_and_loaded_as_a_geopackage(setup, tmp_path):
    session, find_all, clusters, _ = setup
    yes, no = tiles_of(clusters, 0, 3), tiles_of(clusters, 3, 2)
    for t in yes:
        click(session, t, "positive")
    for t in no:
        click(session, t, "negative")
    wait(find_all, session)
    out = str(tmp_path / "labels 北京.gpkg")
    assert find_all.save_labels(out) == 5
    layer = QgsVectorLayer(out + "|layername=labels", "labels", "ogr")
    assert layer.isValid() and layer.featureCount() == 5
    rows = {f["tile_id"]: (f["label"], f["time"]) for f in layer.getFeatures()}
    assert {t for t, (v, _) in rows.items() if v == 1} == set(yes)
    assert all(time_ for _, time_ in rows.values())
    session.clear()
    assert session.positives == [] and find_all.label_times == {}
    positives, negatives, ignored = find_all.load_labels(out)
    assert positives == yes and negatives == no and ignored == 0
    assert find_all.label_times == {t: rows[t][1] for t in yes + no}


def test_labels_from_points_pick_the_tile_under_each(setup, tmp_path):
    session, find_all, clusters, _ = setup
    layer = QgsVectorLayer("Point?crs=EPSG:32617&field=label:string", "pts", "memory")
    from qgis.core import QgsFeature, QgsGeometry

    feats = []
    for (r, c), value in (((1, 1), "yes"), ((5, 6), "no"), ((30, 30), "yes")):  # the last is off the index
        f = QgsFeature(layer.fields())
        x, y = tile_centre(r, c)
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        f.setAttributes([value])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    from qgis.core import QgsVectorFileWriter

    out = str(tmp_path / "pts.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = "labels"
    QgsVectorFileWriter.writeAsVectorFormatV3(layer, out, QgsProject.instance().transformContext(), options)
    positives, negatives, ignored = find_all.load_labels(out)
    assert positives == ["syn_r1_c1"] and negatives == ["syn_r5_c6"] and ignored == 1


def test_scattered_detections_are_drawn_as_cells(setup, monkeypatch):
    from osgeo import gdal

    from tile_embeddings.plugin import find_all as find_all_module

    monkeypatch.setattr(find_all_module, "MAX_REGIONS", 0)  # any region count is "too many"
    session, find_all, clusters, _ = setup
    for t in tiles_of(clusters, 2, 4):
        click(session, t, "positive")
    for t in tiles_of(clusters, 0, 3):
        click(session, t, "negative")
    find_all.set_active(True)
    assert wait(find_all, session)
    layer = session.layers.layer("Find all: detections")
    assert layer.type() == Qgis.LayerType.Raster and layer.name().startswith("Find all: detections (p ≥ 0.50)")
    cells = gdal.Open(layer.source()).ReadAsArray()
    p = find_all.probabilities
    assert int((cells == 1).sum()) == int((p >= 0.5).sum()) > 0
    group = QgsProject.instance().layerTreeRoot().findGroup("Tile Embeddings")
    assert group.children()[0].layerId() == layer.id()  # above the probability layer


def test_find_all_leaves_constant_tiles_out(setup, labelled):
    """Tiles flagged constant (a fill, a blank scan: constant.npy) get no probability in the dock,
    so they are neither detected nor proposed; a labelled constant tile still trains."""
    from tile_embeddings.core import index as tindex

    session, find_all, clusters, _ = setup
    target = 2
    yes = tiles_of(clusters, target, 4)
    flags = clusters == target
    flags[np.flatnonzero(flags)[1:4]] = False  # three labelled positives stay ordinary tiles...
    tindex.write_constant(labelled[0], flags)  # ...the first and every unlabelled target tile are "fill"
    assert session.open_index(labelled[0], wait=True)
    for t in yes:
        click(session, t, "positive")
    for t in tiles_of(clusters, (target + 1) % 5, 2) + tiles_of(clusters, 4, 2):
        click(session, t, "negative")
    trained = []
    find_all.trained.connect(trained.append)
    find_all.set_active(True)
    assert wait(find_all, session) and trained
    p = find_all.probabilities
    assert np.isnan(p[flags]).all() and np.isfinite(p[~flags]).all()
    assert trained[-1]["detections"] == int((p[~flags] >= 0.5).sum())
    rows = session.index.rows_of(find_all.proposals)
    assert find_all.proposals and not flags[rows].any()
    assert yes[0] in find_all.classifier.positives  # the constant positive was trained on
