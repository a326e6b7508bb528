"""tile_embeddings:classifytiles through processing.run, a .model3 chain and qgis_process, on a
synthetic index whose target class lies in two blocks of tiles (so the right answer is known)."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVariantUtils,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QMetaType

from tile_embeddings.core import classifier as core_classifier
from tile_embeddings.core import index as tindex
from tile_embeddings.tests.unit.test_index import make_index

pytest.importorskip("sklearn")

ROWS = COLS = 12
TILE = 10.0
BLOCK_A = [(r, c) for r in range(1, 4) for c in range(1, 5)]  # 12 target tiles
BLOCK_B = [(r, c) for r in range(7, 10) for c in range(6, 10)]  # 12 more


def tid(r, c):
    return f"t_r{r}_c{c}"


def centre(r, c):
    return 400000 + (c + 0.5) * TILE, 3280000 - (r + 0.5) * TILE


def build_index(folder, seed=5):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(11).normal(size=(5, 24))  # the same classes in every index
    cls = rng.integers(1, 5, size=ROWS * COLS)
    for r, c in BLOCK_A + BLOCK_B:
        cls[r * COLS + c] = 0
    emb = centres[cls] + 0.2 * rng.normal(size=(ROWS * COLS, 24))
    return make_index(folder, emb, tile=TILE, cols=COLS), cls


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder, cls = build_index(tmp_path_factory.mktemp("classify") / "scene.teindex")
    return folder, cls


@pytest.fixture
def processing(te_provider):
    import processing

    return processing


class Recorder(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.infos, self.warnings = [], []

    def pushInfo(self, info):  # noqa: N802
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):  # noqa: N802
        self.warnings.append(warning)
        super().pushWarning(warning)


def label_layer(points, crs="EPSG:32617", field="label", field_type=QMetaType.Type.QString):
    """A memory point layer: ``points`` are ((x, y), value) in ``crs``."""
    layer = QgsVectorLayer(f"Point?crs={crs}", "labels", "memory")
    layer.dataProvider().addAttributes([QgsField(field, field_type)])
    layer.updateFields()
    feats = []
    for (x, y), value in points:
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        f.setAttributes([value])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def features(path):
    layer = QgsVectorLayer(path, "out", "ogr")
    assert layer.isValid(), path
    return list(layer.getFeatures())


def yes_no_points(cls, n_neg=8):
    pos = [(centre(r, c), "yes") for r, c in BLOCK_A[::2]]  # 6 positives, all in block A
    others = [(r, c) for r in range(ROWS) for c in range(COLS) if cls[r * COLS + c] != 0]
    neg = [(centre(r, c), "no") for r, c in others[:: max(1, len(others) // n_neg)][:n_neg]]
    return pos + neg


def test_points_labelled_yes_no_find_both_blocks(processing, scene, tmp_path):
    folder, cls = scene
    shutil.rmtree(os.path.join(folder, "classifiers"), ignore_errors=True)
    feedback = Recorder()
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "LABELS": label_layer(yes_no_points(cls)), "LABEL_FIELD": "label",
        "OUTPUT": str(tmp_path / "p.gpkg"), "DETECTIONS": str(tmp_path / "d.gpkg"),
    }, feedback=feedback)
    tiles = {f["tile_id"]: f["probability"] for f in features(res["OUTPUT"])}
    assert len(tiles) == ROWS * COLS
    found = {t for t, p in tiles.items() if p >= 0.5}
    assert found == {tid(r, c) for r, c in BLOCK_A + BLOCK_B}  # block B was never labelled
    dets = sorted(features(res["DETECTIONS"]), key=lambda f: f["detection"])
    assert [f["tile_count"] for f in dets] == [12, 12] and res["DETECTION_COUNT"] == 2
    assert res["DETECTED_TILES"] == 24
    for f in dets:
        assert f["area"] == pytest.approx(12 * TILE * TILE)
        assert f.geometry().area() == pytest.approx(12 * TILE * TILE)
        assert 0.5 <= f["mean_probability"] <= f["max_probability"] <= 1.0
    assert dets[0]["max_probability"] >= dets[1]["max_probability"]
    assert QgsVectorLayer(res["DETECTIONS"], "d", "ogr").crs().authid() == "EPSG:32617"
    # the model is saved beside the index and says what it learned from
    saved = res["MODEL_OUTPUT"]
    assert os.path.dirname(saved) == os.path.join(folder, "classifiers") and os.path.exists(saved[:-5] + ".npy")
    model = core_classifier.load_classifier(saved)
    assert len(model.positives) == 6 and len(model.negatives) == 8
    np.testing.assert_allclose([tiles[t] for t in tindex.open_index(folder).ids],
                               model.score(tindex.open_index(folder)), rtol=1e-5, atol=1e-6)
    log = "\n".join(feedback.infos)
    assert "14 labelled features -> 6 positive and 8 negative tiles" in log
    assert "cross-validated balanced accuracy" in log and "classifier saved to" in log


def test_class_names_in_another_crs_and_places_outside(processing, scene, tmp_path):
    folder, cls = scene
    to_wgs84 = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32617"),
                                      QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance())
    names = {0: "conifer", 1: "meadow", 2: "sagebrush", 3: "meadow", 4: "sagebrush"}
    points = [(centre(r, c), names[int(cls[r * COLS + c])]) for r in range(0, ROWS, 2) for c in range(0, COLS, 3)]
    points += [(centre(r, c), "conifer") for r, c in BLOCK_A[:3]]
    points += [((390000.0, 3280000.0), "conifer"), ((400000 + 500.0, 3100000.0), "meadow")]  # off the map
    wgs = [((p.x(), p.y()), v) for (x, y), v in points for p in [to_wgs84.transform(QgsPointXY(x, y))]]
    feedback = Recorder()
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "LABELS": label_layer(wgs, crs="EPSG:4326", field="kind"), "LABEL_FIELD": "kind",
        "POSITIVE_CLASS": "Conifer", "MODEL_OUTPUT": str(tmp_path / "conifer.json"),
        "OUTPUT": str(tmp_path / "p.gpkg"), "DETECTIONS": str(tmp_path / "d.gpkg"),
    }, feedback=feedback)
    found = {f["tile_id"] for f in features(res["OUTPUT"]) if f["probability"] >= 0.5}
    assert found == {tid(r, c) for r, c in BLOCK_A + BLOCK_B}
    assert res["MODEL_OUTPUT"] == str(tmp_path / "conifer.json") and os.path.exists(tmp_path / "conifer.npy")
    assert any("2 labelled places fall outside" in w for w in feedback.warnings)
    with pytest.raises(QgsProcessingException) as e:
        processing.run("tile_embeddings:classifytiles", {
            "INDEX": folder, "LABELS": label_layer(wgs, crs="EPSG:4326", field="kind"), "LABEL_FIELD": "kind",
            "OUTPUT": str(tmp_path / "p2.gpkg"), "DETECTIONS": str(tmp_path / "d2.gpkg")})
    assert "(POSITIVE_CLASS)" in str(e.value) and "is not yes/no" in str(e.value)
    assert not os.path.exists(tmp_path / "p2.gpkg")


def test_tile_ids_and_the_probability_raster(processing, scene, tmp_path):
    folder, cls = scene
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "POSITIVE_IDS": ",".join(tid(r, c) for r, c in BLOCK_B[:5]),
        "NEGATIVE_IDS": ",".join(tid(r, c) for r in (0, 11) for c in range(COLS) if cls[r * COLS + c] != 0),
        "THRESHOLD": 0.5, "OUTPUT": str(tmp_path / "p.gpkg"), "DETECTIONS": str(tmp_path / "d.gpkg"),
        "PROBABILITY_RASTER": str(tmp_path / "p.tif"), "MODEL_OUTPUT": str(tmp_path / "m.json"),
    })
    ds = gdal.Open(res["PROBABILITY_RASTER"])
    assert (ds.RasterXSize, ds.RasterYSize) == (COLS, ROWS)
    gt = ds.GetGeoTransform()
    assert gt[0] == pytest.approx(400000) and gt[3] == pytest.approx(3280000) and gt[1] == pytest.approx(TILE)
    cells = ds.ReadAsArray()
    probs = {f["tile_id"]: f["probability"] for f in features(res["OUTPUT"])}
    for r in range(ROWS):
        for c in range(COLS):
            assert cells[r, c] == pytest.approx(probs[tid(r, c)], abs=1e-6)
    assert (cells >= 0.5).sum() == 24


def test_a_dock_labels_layer_feeds_the_algorithm(processing, scene, tmp_path):
    """Tile footprints with label 1/0 (what the dock's Find all mode saves) label exactly those tiles."""
    folder, cls = scene
    ix = tindex.open_index(folder)
    tiles = QgsVectorLayer(f"{ix.tiles_path}|layername=tiles", "tiles", "ogr")
    layer = QgsVectorLayer("Polygon?crs=EPSG:32617", "labels", "memory")
    layer.dataProvider().addAttributes([QgsField("tile_id", QMetaType.Type.QString),
                                        QgsField("label", QMetaType.Type.Int)])
    layer.updateFields()
    wanted = {tid(r, c): 1 for r, c in BLOCK_A[:4]}
    wanted.update({tid(r, c): 0 for r, c in [(0, 0), (0, 11), (11, 0), (11, 11), (5, 5), (6, 0)]
                   if cls[r * COLS + c] != 0})
    feats = []
    for t in tiles.getFeatures():
        if t["tile_id"] in wanted:
            f = QgsFeature(layer.fields())
            f.setGeometry(t.geometry())
            f.setAttributes([t["tile_id"], wanted[t["tile_id"]]])
            feats.append(f)
    layer.dataProvider().addFeatures(feats)
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "LABELS": layer, "MODEL_OUTPUT": str(tmp_path / "m.json"),
        "OUTPUT": "TEMPORARY_OUTPUT", "DETECTIONS": "TEMPORARY_OUTPUT"})
    model = core_classifier.load_classifier(res["MODEL_OUTPUT"])
    assert sorted(model.positives) == sorted(t for t, v in wanted.items() if v == 1)
    assert sorted(model.negatives) == sorted(t for t, v in wanted.items() if v == 0)
    assert res["DETECTION_COUNT"] == 2


def test_a_saved_classifier_scores_a_new_index_and_refuses_a_mismatched_one(processing, scene, tmp_path):
    folder, cls = scene
    trained = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "LABELS": label_layer(yes_no_points(cls)), "MODEL_OUTPUT": str(tmp_path / "m.json"),
        "OUTPUT": str(tmp_path / "p.gpkg"), "DETECTIONS": str(tmp_path / "d.gpkg")})
    other, _ = build_index(tmp_path / "next_year.teindex", seed=6)  # same classes, another map
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": other, "MODEL_INPUT": trained["MODEL_OUTPUT"],
        "OUTPUT": str(tmp_path / "p2.gpkg"), "DETECTIONS": str(tmp_path / "d2.gpkg")})
    found = {f["tile_id"] for f in features(res["OUTPUT"]) if f["probability"] >= 0.5}
    assert found == {tid(r, c) for r, c in BLOCK_A + BLOCK_B}
    assert res["MODEL_OUTPUT"] == trained["MODEL_OUTPUT"]
    assert not os.path.exists(os.path.join(other, "classifiers"))  # applying saves nothing
    meta = json.load(open(os.path.join(other, "meta.json"), encoding="utf-8"))
    meta["preprocessing"]["stretch"] = "per_tile"
    tindex.write_meta(other, meta)
    with pytest.raises(QgsProcessingException) as e:
        processing.run("tile_embeddings:classifytiles", {
            "INDEX": other, "MODEL_INPUT": trained["MODEL_OUTPUT"],
            "OUTPUT": str(tmp_path / "p3.gpkg"), "DETECTIONS": str(tmp_path / "d3.gpkg")})
    assert "(MODEL_INPUT)" in str(e.value) and "stretch = 'global'" in str(e.value)
    assert "'per_tile'" in str(e.value)
    assert not os.path.exists(tmp_path / "p3.gpkg") and not os.path.exists(tmp_path / "d3.gpkg")


def test_errors_name_the_parameter(processing, scene, tmp_path):
    folder, cls = scene
    out = {"OUTPUT": str(tmp_path / "p.gpkg"), "DETECTIONS": str(tmp_path / "d.gpkg")}
    cases = [
        ({}, "(POSITIVE_IDS)"),
        ({"LABELS": label_layer([((0.0, 0.0), "yes"), ((1.0, 1.0), "no")])}, "none of the 2 labelled features"),
        ({"LABELS": label_layer(yes_no_points(cls)), "LABEL_FIELD": "nope"}, "(LABEL_FIELD)"),
        ({"POSITIVE_IDS": "t_r1_c1, zz_r9_c9"}, "zz_r9_c9"),
        ({"POSITIVE_IDS": "t_r1_c1", "BACKGROUND": 0}, "(NEGATIVE_IDS)"),
        ({"MODEL_INPUT": str(tmp_path / "absent.json")}, "(MODEL_INPUT)"),
    ]
    for extra, text in cases:
        with pytest.raises(QgsProcessingException) as e:
            processing.run("tile_embeddings:classifytiles", {"INDEX": folder, **extra, **out})
        assert text in str(e.value), (extra, str(e.value))
    assert not os.path.exists(out["OUTPUT"]) and not os.path.exists(out["DETECTIONS"])
    with pytest.raises(QgsProcessingException) as e:
        processing.run("tile_embeddings:classifytiles", {"INDEX": str(tmp_path), "POSITIVE_IDS": "x", **out})
    assert "(INDEX)" in str(e.value)


def test_positives_only_says_background_was_used(processing, scene, tmp_path):
    folder, _ = scene
    feedback = Recorder()
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "POSITIVE_IDS": ",".join(tid(r, c) for r, c in BLOCK_A[:6]), "BACKGROUND": 100,
        "MODEL_OUTPUT": str(tmp_path / "m.json"), "OUTPUT": str(tmp_path / "p.gpkg"),
        "DETECTIONS": str(tmp_path / "d.gpkg")}, feedback=feedback)
    assert any("positive-unlabelled" in line for line in feedback.infos)
    assert any("cannot be estimated" in w for w in feedback.warnings)
    found = {f["tile_id"] for f in features(res["OUTPUT"]) if f["probability"] >= 0.5}
    assert len(found ^ {tid(r, c) for r, c in BLOCK_A + BLOCK_B}) <= 3


def test_cancel_leaves_no_output(processing, scene, tmp_path):
    folder, cls = scene
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 40 else None)
    with pytest.raises(QgsProcessingException, match="Canceled"):
        processing.run("tile_embeddings:classifytiles", {
            "INDEX": folder, "LABELS": label_layer(yes_no_points(cls)), "MODEL_OUTPUT": str(tmp_path / "m.json"),
            "OUTPUT": str(tmp_path / "p.gpkg"), "DETECTIONS": str(tmp_path / "d.gpkg")}, feedback=feedback)
    assert os.listdir(tmp_path) == []


def test_model3_chain_trains_on_one_index_and_applies_to_another(te_provider, scene, tmp_path):
    """A modeler workflow: classifytiles trains on the labels, a second classifytiles applies the saved
    classifier (the first step's MODEL_OUTPUT) to a second index."""
    import processing
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterFile,
    )

    src = QgsProcessingModelChildParameterSource
    model = QgsProcessingModelAlgorithm("Train here, find there", "Tests")
    for definition in (
        QgsProcessingParameterFile("index", "Index", Qgis.ProcessingFileParameterBehavior.Folder),
        QgsProcessingParameterFile("other_index", "Other index", Qgis.ProcessingFileParameterBehavior.Folder),
        QgsProcessingParameterFeatureSource("labels", "Labels", [Qgis.ProcessingSourceType.VectorPoint]),
    ):
        model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
    train = QgsProcessingModelChildAlgorithm("tile_embeddings:classifytiles")
    train.setChildId("train")
    train.addParameterSources("INDEX", [src.fromModelParameter("index")])
    train.addParameterSources("LABELS", [src.fromModelParameter("labels")])
    train.addParameterSources("LABEL_FIELD", [src.fromStaticValue("label")])
    train.addParameterSources("MODEL_OUTPUT", [src.fromStaticValue(str(tmp_path / "chain.json"))])
    out = QgsProcessingModelOutput("here", "here")  # the model's parameter is named after the description
    out.setChildId("train")
    out.setChildOutputName("DETECTIONS")
    train.setModelOutputs({"here": out})
    model.addChildAlgorithm(train)
    apply = QgsProcessingModelChildAlgorithm("tile_embeddings:classifytiles")
    apply.setChildId("apply")
    apply.addParameterSources("INDEX", [src.fromModelParameter("other_index")])
    apply.addParameterSources("MODEL_INPUT", [src.fromChildOutput("train", "MODEL_OUTPUT")])
    out2 = QgsProcessingModelOutput("there", "there")
    out2.setChildId("apply")
    out2.setChildOutputName("DETECTIONS")
    apply.setModelOutputs({"there": out2})
    model.addChildAlgorithm(apply)
    path = tmp_path / "chain.model3"
    assert model.toFile(str(path))

    loaded = QgsProcessingModelAlgorithm()
    assert loaded.fromFile(str(path))
    ok, problems = loaded.validate()
    assert ok, problems
    assert loaded.childAlgorithm("apply").parameterSources()["MODEL_INPUT"][0].outputChildId() == "train"
    assert sorted(p.name() for p in loaded.destinationParameterDefinitions()) == ["here", "there"]
    folder, cls = scene
    other, _ = build_index(tmp_path / "other.teindex", seed=8)
    context = QgsProcessingContext()
    result = processing.run(loaded, {
        "index": folder, "other_index": other, "labels": label_layer(yes_no_points(cls)),
        "here": str(tmp_path / "here.gpkg"), "there": str(tmp_path / "there.gpkg"),
    }, context=context)
    here = features(result["here"])
    there = features(result["there"])
    assert sorted(f["tile_count"] for f in here) == [12, 12]
    assert sorted(f["tile_count"] for f in there) == [12, 12]
    assert os.path.exists(tmp_path / "chain.json")


def test_qgis_process_runs_classifytiles(scene, tmp_path):
    folder, cls = scene
    if shutil.which("qgis_process") is None:
        pytest.skip("qgis_process not installed")
    env = dict(os.environ, HOME=str(tmp_path / "home"),
               QGIS_PLUGINPATH=os.environ.get("PYTHONPATH", "/tmp/te-pypath"),
               QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path))
    os.makedirs(env["HOME"])
    enable = subprocess.run(["qgis_process", "plugins", "enable", "tile_embeddings"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert enable.returncode == 0 or "already enabled" in enable.stderr, enable.stderr
    negatives = [tid(r, c) for r in (0, 11) for c in range(COLS) if cls[r * COLS + c] != 0]
    r = subprocess.run([
        "qgis_process", "--json", "run", "tile_embeddings:classifytiles", "--",
        f"INDEX={folder}", "POSITIVE_IDS=" + ",".join(tid(r, c) for r, c in BLOCK_A[:5]),
        "NEGATIVE_IDS=" + ",".join(negatives), "THRESHOLD=0.6",
        f"OUTPUT={tmp_path / 'p.gpkg'}", f"DETECTIONS={tmp_path / 'd.gpkg'}",
        f"PROBABILITY_RASTER={tmp_path / 'p.tif'}", f"MODEL_OUTPUT={tmp_path / 'cli.json'}",
    ], env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    payload = json.loads(r.stdout[r.stdout.index("{"):])
    results = payload["results"]
    assert results["DETECTIONS"] == str(tmp_path / "d.gpkg") and results["DETECTION_COUNT"] == 2
    assert results["MODEL_OUTPUT"] == str(tmp_path / "cli.json")
    assert sorted(f["tile_count"] for f in features(str(tmp_path / "d.gpkg"))) == [12, 12]
    assert gdal.Open(str(tmp_path / "p.tif")).RasterXSize == COLS


def test_algorithm_metadata(te_provider):
    alg = te_provider.algorithm("classifytiles")
    assert alg.group() == "Embeddings and search" and alg.svgIconPath().endswith("classifytiles.svg")
    assert "balanced accuracy" in alg.shortHelpString() and "\n" not in alg.shortHelpString()
    assert alg.canExecute()[0]
    assert alg.parameterDefinition("BACKGROUND").flags() & Qgis.ProcessingParameterFlag.Advanced
    assert alg.parameterDefinition("LABEL_FIELD").parentLayerParameterName() == "LABELS"


def test_no_detection_still_writes_an_empty_layer(processing, scene, tmp_path):
    folder, _ = scene
    ix = tindex.open_index(folder)
    nothing = core_classifier.Classifier(weights=np.zeros(ix.dims, np.float32), bias=-5.0,
                                         fingerprint=core_classifier.index_fingerprint(ix.meta))
    saved = core_classifier.save_classifier(tmp_path / "nothing.json", nothing)
    res = processing.run("tile_embeddings:classifytiles", {
        "INDEX": folder, "MODEL_INPUT": saved, "OUTPUT": str(tmp_path / "p.gpkg"),
        "DETECTIONS": str(tmp_path / "d.gpkg")})
    assert {round(f["probability"], 4) for f in features(res["OUTPUT"])} == {0.0067}  # sigmoid(-5)
    layer = QgsVectorLayer(res["DETECTIONS"], "d", "ogr")
    assert layer.isValid() and layer.featureCount() == 0 and res["DETECTION_COUNT"] == 0
    assert "max_probability" in layer.fields().names()


def test_constant_tiles_are_left_out_of_find_all_unless_asked(processing, neon_osbs, tmp_path):
    """Real imagery with a fill: OSBS_029 framed by 64 px of nodata on the left and a constant fill
    on the right (a valid value, not nodata), as embedtiles meets it at a scene's edge. A fill tile
    labelled positive still trains the classifier, but its look-alikes, the other fill tiles, get no
    probability and no detection unless INCLUDE_CONSTANT."""
    src = gdal.Open(str(neon_osbs))
    data = src.ReadAsArray()[:3].astype(np.uint16) + 1  # 0 is the nodata value below
    path = str(tmp_path / "framed.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 512, 400, 3, gdal.GDT_UInt16)
    gt = list(src.GetGeoTransform())
    ds.SetGeoTransform([gt[0] - 64 * gt[1]] + gt[1:])
    ds.SetProjection(src.GetProjection())
    for b in range(3):
        a = np.zeros((400, 512), np.uint16)  # columns of 64 px tiles: 0 nodata, 1-6 the image, 7 the fill
        a[:, 64:448] = data[b][:, :384]
        a[:, 448:] = 4000
        ds.GetRasterBand(b + 1).WriteArray(a)
        ds.GetRasterBand(b + 1).SetNoDataValue(0)
    ds = None
    index = processing.run("tile_embeddings:embedtiles", {
        "INPUT": path, "TILE_SIZE": 64, "INPUT_SIZE": 64, "FEATURES": "final",
        "OUTPUT": str(tmp_path / "framed.teindex")})["OUTPUT"]
    ix = tindex.open_index(index)
    fill = {f"framed_r{r}_c7" for r in range(6)}
    assert {t for t, c in zip(ix.ids, ix.constant) if c} == fill and len(ix) == 42
    params = {"INDEX": index, "POSITIVE_IDS": "framed_r0_c7", "BACKGROUND": 0,
              "NEGATIVE_IDS": "framed_r0_c2,framed_r2_c4,framed_r4_c1,framed_r5_c5,framed_r3_c3"}

    def classify(name, **more):
        feedback = Recorder()
        res = processing.run("tile_embeddings:classifytiles", {
            **params, **more, "OUTPUT": str(tmp_path / f"{name}_p.gpkg"),
            "DETECTIONS": str(tmp_path / f"{name}_d.gpkg"), "PROBABILITY_RASTER": str(tmp_path / f"{name}.tif"),
            "MODEL_OUTPUT": str(tmp_path / f"{name}.json")}, feedback=feedback)
        tiles = {f["tile_id"]: None if QgsVariantUtils.isNull(f["probability"]) else f["probability"]
                 for f in features(res["OUTPUT"])}
        detected = {t for t, p in tiles.items() if p is not None and p >= 0.5}
        return res, tiles, detected, feedback

    res, tiles, detected, feedback = classify("default")
    assert len(tiles) == 42 and all(tiles[t] is None for t in fill)  # NULL
    assert all(tiles[t] is not None for t in set(tiles) - fill)
    assert not detected & fill and res["DETECTED_TILES"] == len(detected)
    for f in features(res["DETECTIONS"]):  # no detection reaches into the fill column
        assert f.geometry().boundingBox().xMaximum() <= gt[0] + 384 * gt[1] + 1e-6
    assert any("6 constant tiles" in line for line in feedback.infos)
    assert core_classifier.load_classifier(res["MODEL_OUTPUT"]).positives == ["framed_r0_c7"]  # trained on it
    raster = gdal.Open(res["PROBABILITY_RASTER"])
    band = raster.GetRasterBand(1)
    cells = band.ReadAsArray()
    assert cells.shape == (6, 7) and (cells[:, 6] == band.GetNoDataValue()).all()
    assert (cells[:, :6] != band.GetNoDataValue()).all()

    res, tiles, detected, feedback = classify("all", INCLUDE_CONSTANT=True)
    assert fill <= detected and res["DETECTED_TILES"] == len(detected)  # identical to the positive
    assert min(tiles[t] for t in fill) > max(p for t, p in tiles.items() if t not in fill)
    assert not any("constant tiles" in line for line in feedback.infos)
