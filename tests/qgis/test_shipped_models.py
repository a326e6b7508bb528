"""The shipped modeler workflows (resources/models) open in the modeler and run on real NEON imagery."""

import os
from pathlib import Path

import pytest
from qgis.core import QgsProcessingModelAlgorithm, QgsRasterLayer, QgsVectorLayer

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "resources" / "models"


def load(name):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODELS / f"{name}.model3"))
    return model


def study_area_for(raster, path, inset_m=3.0):
    """A polygon in EPSG:4326 inset from the raster footprint (the clip must reproject it)."""
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import demo
    finally:
        sys.path.pop(0)
    return demo.make_study_area(str(raster), str(path), inset_m)


@pytest.mark.parametrize("name", ["tile_similarity_workflow", "study_area_segmentation"])
def test_model_opens_and_validates(name, te_provider, qgis_iface, monkeypatch):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODELS / f"{name}.model3"))
    valid, errors = model.validate()
    assert valid, errors
    assert all(c.algorithm() is not None for c in model.childAlgorithms().values())
    from processing.modeler.ModelerDialog import ModelerDialog
    from qgis.PyQt.QtCore import QSize

    # pytest-qgis' stand-in iface lacks iconSize()'s default argument, which the modeler uses
    monkeypatch.setattr(qgis_iface, "iconSize", lambda docked=False: QSize(24, 24), raising=False)

    dialog = ModelerDialog.create(model)  # what "Open Model…" in the Processing toolbox does
    assert dialog.model().name() == model.name()
    dialog.close()


def test_workflow_model_runs_on_neon(te_provider, neon_osbs, mobilenet_weights, tmp_path):
    import processing

    study = study_area_for(neon_osbs, tmp_path / "study.gpkg")
    out = {k: str(tmp_path / v) for k, v in {
        "tile_folder": "tiles", "tile_index": "tiles.gpkg", "rgb_tile_folder": "rgb", "rgb_tile_index": "rgb.gpkg",
        "similarity_index": "osbs.teindex", "similar_tiles": "similar.gpkg", "heatmap_scores": "heat.gpkg"}.items()}
    res = processing.run(load("tile_similarity_workflow"), {
        "raster": str(neon_osbs), "study_area": study, "tile_size": 96, "prefix": "t", "bands": "1,2,3",
        "query_ids": "t_r1_c1", "k": 5, **out})
    tiles = QgsVectorLayer(res["tile_index"], "tiles", "ogr")
    # 400 px minus a 30 px inset on each side -> 340 px -> 3 x 3 whole tiles of 96 px
    assert tiles.featureCount() == 9
    assert len([f for f in os.listdir(out["rgb_tile_folder"]) if f.lower().endswith((".jpg", ".jpeg"))]) == 9
    similar = QgsVectorLayer(res["similar_tiles"], "similar", "ogr")
    feats = sorted(similar.getFeatures(), key=lambda f: f["rank"])
    assert len(feats) == 5
    assert feats[0]["tile_id"] == "t_r1_c1" and feats[0]["score"] == pytest.approx(1.0, abs=1e-4)
    heat = QgsVectorLayer(res["heatmap_scores"], "heat", "ogr")
    assert heat.featureCount() == 9


def test_segmentation_model_runs_on_neon(te_provider, neon_osbs, tmp_path):
    import processing

    study = study_area_for(neon_osbs, tmp_path / "study.gpkg")
    res = processing.run(load("study_area_segmentation"), {
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
