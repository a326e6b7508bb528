"""A graphical-modeler chain bboxmask -> splitraster -> rgbstretch, saved as a .model3 and run
through processing.run, on real NEON imagery."""

import os
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingModelAlgorithm

from tile_embeddings.core.tile_index import read_tile_index
from tile_embeddings.tests.raster_prep_data import write_polygon_layer

# a test fixture, not a shipped workflow: it lives with the tests and never goes into the zip
MODEL = Path(__file__).resolve().parents[2] / "tests" / "data" / "test_raster_prep_chain.model3"


def test_model3_chain_runs_end_to_end(te_provider, neon_yell, tmp_path):
    import processing

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL)), f"cannot read {MODEL}"
    assert [c.algorithmId() for c in sorted(model.childAlgorithms().values(), key=lambda c: c.childId())] == [
        "tile_embeddings:bboxmask",
        "tile_embeddings:rgbstretch",
        "tile_embeddings:splitraster",
    ]
    ok, problems = model.validate()
    assert ok, problems
    src = gdal.Open(str(neon_yell))
    gt = src.GetGeoTransform()
    # a study area of 30 x 20 m (300 x 200 px) inside the scene
    area = write_polygon_layer(
        tmp_path / "area.gpkg", (gt[0] + 10, gt[3] - 30, gt[0] + 40, gt[3] - 10), crs="EPSG:32612"
    )
    out_dir, out_index = tmp_path / "北京 五环" / "rgb", tmp_path / "北京 五环" / "rgb.gpkg"
    result = processing.run(
        model,
        {
            "raster": str(neon_yell),
            "study_area": area,
            "tile_size": 100,
            "rgbstretch_1:stretched_tiles": str(out_dir),
            "rgbstretch_1:stretched_index": str(out_index),
        },
    )
    assert result["rgbstretch_1:stretched_tiles"] == str(out_dir)
    records = read_tile_index(out_index)
    assert len(records) == 6  # 300 x 200 px in 100 px tiles
    jpgs = sorted(n for n in os.listdir(out_dir) if n.endswith(".jpg"))
    assert len(jpgs) == 6
    cuts = {gdal.Open(r["path"]).GetMetadataItem("TE_STRETCH_CUTS") for r in records}
    assert len(cuts) == 1  # global scope across the chain's tiles
    # tile r1_c2 is source pixels (100 + 100, 100 + 200) of the scene, bands in 3,2,1 order
    rec = next(r for r in records if (r["row"], r["col"]) == (1, 2))
    ds = gdal.Open(rec["path"])
    tgt = ds.GetGeoTransform()
    assert tgt[0] == pytest.approx(gt[0] + 300 * gt[1]) and tgt[3] == pytest.approx(gt[3] + 200 * gt[5])
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32612"
    rgb = ds.ReadAsArray().astype(float)
    source = src.ReadAsArray(300, 200, 100, 100).astype(float)
    # JPEG is lossy: the stretched tile still follows the source bands (red <- band 3)
    assert np.corrcoef(rgb[0].ravel(), source[2].ravel())[0, 1] > 0.95
