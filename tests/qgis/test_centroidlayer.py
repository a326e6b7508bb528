"""tile_embeddings:centroidlayer from a tile index and from a folder of tiles."""

import csv

import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from tile_embeddings.core.grid import window_center
from tile_embeddings.core.tiling import split_raster
from tile_embeddings.tests.raster_prep_data import gradient, rotated_gt, write_raster

ALG = "tile_embeddings:centroidlayer"


def run(**params):
    import processing

    return processing.run(ALG, params)


@pytest.fixture
def rotated_tiles(tmp_path):
    gt = rotated_gt(35.0, res=0.5)
    src = write_raster(tmp_path / "rot.tif", gradient(nb=3, h=120, w=160), gt=gt)
    res = split_raster(src, tmp_path / "北京 五环", 40, index_path=tmp_path / "北京 五环" / "tiles.gpkg")
    return gt, res


def centres(layer_path):
    layer = QgsVectorLayer(str(layer_path), "c", "ogr")
    assert layer.isValid()
    return layer, {
        f["rs_stem"]: (f["centralx"], f["centraly"], f.geometry().asPoint()) for f in layer.getFeatures()
    }


def test_from_tile_index_rotated_centres_and_csv(te_provider, rotated_tiles, tmp_path):
    gt, res = rotated_tiles
    out, csv_path = tmp_path / "c.gpkg", tmp_path / "c.csv"
    result = run(INPUT=f"{res['index']}|layername=tiles", OUTPUT=str(out), OUTPUT_CSV=str(csv_path))
    assert result["OUTPUT_CSV"] == str(csv_path)
    layer, got = centres(out)
    assert layer.featureCount() == 12 and layer.crs().isValid()
    cx, cy, pt = got["rot_r2_c3"]
    want = window_center(gt, 120, 80, 40, 40)
    assert (cx, cy) == pytest.approx(want) and (pt.x(), pt.y()) == pytest.approx(want)
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["rs_stem", "centralx", "centraly"]
    row = next(r for r in rows if r["rs_stem"] == "rot_r2_c3")
    assert (float(row["centralx"]), float(row["centraly"])) == pytest.approx(want)


def test_from_folder_of_tiles(te_provider, rotated_tiles, tmp_path):
    gt, res = rotated_tiles
    folder = tmp_path / "北京 五环"
    (folder / "notes.txt").write_text("not a raster")
    write_raster(folder / "plain.tif", gradient(nb=1, h=10, w=10), gt=(0, 1, 0, 0, 0, 1), crs=None)
    _, got = centres(run(INPUT_FOLDER=str(folder), OUTPUT=str(tmp_path / "c.gpkg"))["OUTPUT"])
    assert len(got) == 12 and "plain" not in got  # the ungeoreferenced file is skipped
    assert got["rot_r0_c1"][:2] == pytest.approx(window_center(gt, 40, 0, 40, 40))


def test_needs_exactly_one_input(te_provider, rotated_tiles, tmp_path):
    with pytest.raises(QgsProcessingException, match="either a tile index"):
        run(OUTPUT=str(tmp_path / "c.gpkg"))


def test_layer_without_path_field_is_not_a_tile_index(te_provider, tmp_path):
    from tile_embeddings.tests.raster_prep_data import write_polygon_layer

    area = write_polygon_layer(tmp_path / "a.gpkg", (0, 0, 1, 1))
    with pytest.raises(QgsProcessingException, match="no 'path' field"):
        run(INPUT=area, OUTPUT=str(tmp_path / "c.gpkg"))
