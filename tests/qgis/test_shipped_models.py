"""The shipped modeler workflows (resources/models): listed in the toolbox by the provider, readable
in the modeler, and run end to end on real NEON imagery: build an index, then search it with places."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis_fixtures import ensure_provider

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "resources" / "models"
SHIPPED = ["build_similarity_index", "find_similar_places", "study_area_segmentation"]
# QgsModelComponentGraphicItem::truncatedTextForItem keeps 25 px and a 16 px button out of the text
TEXT_MARGIN = 25 + 16


def study_area_for(raster, path, inset_m=3.0):
    """A polygon in EPSG:4326 inset from the raster footprint (the clip must reproject it)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import demo
    finally:
        sys.path.pop(0)
    return demo.make_study_area(str(raster), str(path), inset_m)


def test_the_provider_lists_every_shipped_model(te_provider):
    assert sorted(p.stem for p in MODELS.glob("*.model3")) == sorted(SHIPPED)
    listed = {a.id(): a for a in te_provider.algorithms()}
    registry = QgsApplication.processingRegistry()
    for name in SHIPPED:
        alg = listed.get(f"tile_embeddings:{name}")
        assert alg is not None, sorted(listed)
        assert registry.algorithmById(f"tile_embeddings:{name}") is not None
        assert alg.group() == "Workflows" and alg.groupId() == "workflows"
        assert alg.displayName() and alg.displayName() != name  # a title for people, the file name for scripts
        assert alg.childAlgorithms(), name
        assert all(c.algorithm() is not None for c in alg.childAlgorithms().values()), name
        created = registry.createAlgorithmById(f"tile_embeddings:{name}")  # what the dialog and processing.run use
        assert created.id() == alg.id() and created.displayName() == alg.displayName()
        assert [p.name() for p in created.parameterDefinitions()] == [p.name() for p in alg.parameterDefinitions()]


def test_qgis_process_lists_the_models(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path),
               QGIS_PLUGINPATH=os.environ.get("PYTHONPATH", "/tmp/te-pypath"))
    os.makedirs(env["HOME"])
    enable = subprocess.run(["qgis_process", "plugins", "enable", "tile_embeddings"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert enable.returncode == 0 or "already enabled" in enable.stderr, enable.stderr
    r = subprocess.run(["qgis_process", "--json", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    algorithms = json.loads(r.stdout[r.stdout.index("{"):])["providers"]["tile_embeddings"]["algorithms"]
    for name in SHIPPED:
        assert f"tile_embeddings:{name}" in algorithms, sorted(algorithms)
    assert not any("test" in a for a in algorithms)


@pytest.mark.parametrize("name", SHIPPED)
def test_model_opens_in_the_modeler_with_readable_boxes(name, te_provider, qgis_iface, monkeypatch):
    from qgis.gui import QgsModelGraphicsScene
    from qgis.PyQt.QtGui import QFontMetricsF

    model = QgsApplication.processingRegistry().createAlgorithmById(f"tile_embeddings:{name}")
    valid, errors = model.validate()
    assert valid, errors
    from processing.modeler.ModelerDialog import ModelerDialog
    from qgis.PyQt.QtCore import QSize

    # pytest-qgis' stand-in iface lacks iconSize()'s default argument, which the modeler uses
    monkeypatch.setattr(qgis_iface, "iconSize", lambda docked=False: QSize(24, 24), raising=False)
    dialog = ModelerDialog.create(model)  # what "Open Model…" in the Processing toolbox does
    assert dialog.model().name() == model.name()
    dialog.close()

    # the boxes as the modeler draws them: none overlaps another, no label is cut
    scene = QgsModelGraphicsScene()
    scene.setModel(model)
    scene.createItems(model, QgsProcessingContext())
    components = list(model.parameterComponents().values()) + list(model.childAlgorithms().values())
    components += [o for c in model.childAlgorithms().values() for o in c.modelOutputs().values()]
    assert len(components) >= 5
    boxes = []
    for component in components:
        item = scene.componentItemAt(component.position())
        assert item is not None and item.component().description() == component.description()
        text = QFontMetricsF(item.font()).boundingRect(item.label()).width()
        assert text < component.size().width() - TEXT_MARGIN, f"'{item.label()}' is cut in {name}"
        boxes.append((item.label(), item.sceneBoundingRect()))  # children include their In/Out toggles
    for i, (label, rect) in enumerate(boxes):
        for other, other_rect in boxes[i + 1:]:
            assert not rect.intersects(other_rect), f"'{label}' overlaps '{other}' in {name}"


@pytest.fixture(scope="module")
def neon_index(qgis_app, qgis_processing, neon_osbs, mobilenet_weights, tmp_path_factory):
    """The index-building workflow, by its toolbox id, on the real 400 x 400 px NEON scene."""
    import processing

    ensure_provider()
    folder = tmp_path_factory.mktemp("index workflow")
    study = study_area_for(neon_osbs, folder / "study.gpkg")
    out = {k: str(folder / v) for k, v in {
        "tile_folder": "tiles", "tile_index": "tiles.gpkg", "rgb_tile_folder": "rgb", "rgb_tile_index": "rgb.gpkg",
        "similarity_index": "osbs.teindex"}.items()}
    res = processing.run("tile_embeddings:build_similarity_index", {
        "raster": str(neon_osbs), "study_area": study, "tile_size": 96, "prefix": "t", "bands": "1,2,3", **out})
    return res, out


def test_index_model_builds_an_index_on_neon(neon_index):
    from tile_embeddings.core.index import open_index

    res, out = neon_index
    tiles = QgsVectorLayer(res["tile_index"], "tiles", "ogr")
    # 400 px minus a 30 px inset on each side -> 340 px -> 3 x 3 whole tiles of 96 px
    assert tiles.featureCount() == 9
    assert len([f for f in os.listdir(out["rgb_tile_folder"]) if f.lower().endswith((".jpg", ".jpeg"))]) == 9
    assert res["similarity_index"] == out["similarity_index"]
    ix = open_index(res["similarity_index"])
    assert sorted(ix.ids) == sorted(f"t_r{r}_c{c}" for r in range(3) for c in range(3))
    assert ix.embeddings.shape == (9, 96 + 1280)  # FEATURES: the default mid+final


def centre_of(tile_index, tile_id):
    layer = QgsVectorLayer(tile_index, "tiles", "ogr")
    (feature,) = [f for f in layer.getFeatures() if f["tile_id"] == tile_id]
    return layer.crs(), feature.geometry().centroid().asPoint()


def test_search_model_finds_tiles_from_a_point_layer(neon_index, te_provider, tmp_path):
    import processing

    res, out = neon_index
    crs, centre = centre_of(res["tile_index"], "t_r1_c2")
    places = QgsVectorLayer(f"Point?crs={crs.authid()}", "places", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(centre.x() + 1.0, centre.y() - 2.0)))  # off-centre, same tile
    places.dataProvider().addFeatures([f])
    found = processing.run("tile_embeddings:find_similar_places", {
        "index": res["similarity_index"], "places": places, "k": 4,
        "similar_tiles": str(tmp_path / "similar.gpkg"), "heatmap_scores": str(tmp_path / "heat.gpkg")})
    similar = sorted(QgsVectorLayer(found["similar_tiles"], "similar", "ogr").getFeatures(), key=lambda g: g["rank"])
    assert [g["rank"] for g in similar] == [1, 2, 3, 4]
    assert similar[0]["tile_id"] == "t_r1_c2" and similar[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert all(g["score"] < 1.0 - 1e-4 for g in similar[1:])
    assert QgsVectorLayer(found["heatmap_scores"], "heat", "ogr").featureCount() == 9


def test_segmentation_model_runs_on_neon(te_provider, neon_osbs, tmp_path):
    import processing

    study = study_area_for(neon_osbs, tmp_path / "study.gpkg")
    res = processing.run("tile_embeddings:study_area_segmentation", {
        "raster": str(neon_osbs), "study_area": study, "num_clusters": 12, "min_pixels": 50,
        "clipped_raster": str(tmp_path / "clip.tif"), "segments": str(tmp_path / "seg.tif"),
        "segment_polygons": str(tmp_path / "seg.gpkg")})
    seg = QgsRasterLayer(res["segments"], "seg")
    clip = QgsRasterLayer(res["clipped_raster"], "clip")
    # the WGS 84 study area's bounding box, back in UTM, is a little larger than the 340 px inset
    assert seg.isValid() and 340 <= seg.width() <= 350 and 340 <= seg.height() <= 350
    assert (seg.width(), seg.height()) == (clip.width(), clip.height())
    polygons = QgsVectorLayer(res["segment_polygons"], "poly", "ogr")
    assert polygons.featureCount() > 20
