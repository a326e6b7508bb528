"""Several rasters in one index through Processing (embedtiles INPUTS, appendtoindex, removefromindex),
and the dock's click lookup on such an index: real OSBS imagery and a copy warped to WGS 84."""

import hashlib
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsPointXY, QgsProcessingException

pytest.importorskip("torch")

from tile_embeddings.core.index import open_index  # noqa: E402

SMALL = {"TILE_SIZE": 64, "INPUT_SIZE": 64, "BATCH_SIZE": 8, "RUNTIME": "torch"}


@pytest.fixture
def processing(te_provider):
    import processing

    return processing


@pytest.fixture(scope="module")
def warped(neon_osbs, tmp_path_factory):
    """OSBS_029 warped to EPSG:4326 (another CRS, another pixel grid, the same place)."""
    path = str(tmp_path_factory.mktemp("warp") / "OSBS_029_wgs84.tif")
    gdal.Warp(path, str(neon_osbs), dstSRS="EPSG:4326", resampleAlg="bilinear")
    return path


def _hashes(folder):
    names = sorted(os.listdir(folder))
    return {n: hashlib.sha256(open(os.path.join(folder, n), "rb").read()).hexdigest() for n in names}


def test_two_crs_index_append_remove_and_clicks(processing, neon_osbs, warped, tmp_path):
    from tile_embeddings.plugin.tile_lookup import TileLookup

    both = processing.run("tile_embeddings:embedtiles", {
        "INPUTS": [str(neon_osbs), warped], "OUTPUT": str(tmp_path / "both.teindex"), **SMALL})
    ix = open_index(both["OUTPUT"])
    n_b = len(ix) - 36
    assert n_b > 0 and both["COUNT"] == len(ix)
    assert ix.ids[0] == "OSBS_029_r0_c0" and ix.ids[36].startswith("OSBS_029_wgs84_r0_c")
    assert len(set(ix.ids)) == len(ix.ids)
    assert "32617" in ix.crs_wkt and ix.meta["sources"] == [str(neon_osbs), warped]

    # the dock: a click at a tile's centre picks that tile, of the right raster, in the index CRS
    lookup = TileLookup(ix.tiles_path, index=ix)
    assert lookup.tile_grid(ix.ids) is None  # two grids over one place: the heatmap draws polygons
    centres = lookup.centers(ix.ids)
    for row in (0, 7, 35, 36, 36 + n_b // 2, len(ix) - 1):
        assert lookup.tile_at(QgsPointXY(*centres[row])) == ix.ids[row]
    assert 404000 < centres[40][0] < 405000  # the WGS 84 tiles' centres came back to metres

    # the dock's thumbnails: each tile drawn from its own raster (rasters of two dates may overlap)
    _thumbnails_come_from_each_tiles_raster(ix, both["OUTPUT"], str(neon_osbs), warped)

    # grow: an index of OSBS alone plus the warped copy = the index of both, the old rows kept
    grown = processing.run("tile_embeddings:embedtiles", {
        "INPUT": str(neon_osbs), "OUTPUT": str(tmp_path / "grown.teindex"), **SMALL})["OUTPUT"]
    old_rows = np.array(open_index(grown).embeddings)
    res = processing.run("tile_embeddings:appendtoindex", {"INDEX": grown, "INPUT": [warped], "RUNTIME": "torch",
                                                           "BATCH_SIZE": 8})
    assert res["ADDED"] == n_b and res["COUNT"] == len(ix) and res["OUTPUT"] == grown
    g = open_index(grown)
    assert g.ids == ix.ids
    np.testing.assert_array_equal(g.embeddings[:36], old_rows)
    np.testing.assert_allclose(g.embeddings, ix.embeddings, atol=1e-5)

    # a raster already there is refused, naming the parameter, and the index is untouched
    before = _hashes(grown)
    with pytest.raises(QgsProcessingException, match=r"\(INPUT\).*already in the index"):
        processing.run("tile_embeddings:appendtoindex", {"INDEX": grown, "INPUT": [warped]})
    assert _hashes(grown) == before

    # shrink: removing the copy by its id prefix gives back the one-raster index
    res = processing.run("tile_embeddings:removefromindex", {"INDEX": grown, "SOURCE": "OSBS_029_wgs84"})
    assert res["REMOVED"] == n_b and res["COUNT"] == 36
    np.testing.assert_array_equal(open_index(grown).embeddings, old_rows)
    with pytest.raises(QgsProcessingException, match=r"\(SOURCE\).*only raster"):
        processing.run("tile_embeddings:removefromindex", {"INDEX": grown, "SOURCE": "OSBS_029"})


def test_rasters_and_a_tile_index_together_are_refused(processing, neon_osbs, warped, tmp_path):
    split = processing.run("tile_embeddings:splitraster", {
        "INPUT": str(neon_osbs), "TILE_SIZE": 200, "OUTPUT_FOLDER": str(tmp_path / "t"),
        "OUTPUT": str(tmp_path / "t.gpkg")})
    with pytest.raises(QgsProcessingException, match=r"\(INPUTS\)"):
        processing.run("tile_embeddings:embedtiles", {
            "INPUTS": [warped], "TILE_INDEX": split["OUTPUT"], "OUTPUT": str(tmp_path / "x.teindex"), **SMALL})
    assert not os.path.exists(tmp_path / "x.teindex")


def _thumbnails_come_from_each_tiles_raster(ix, path, first, second):
    import time

    from qgis.core import QgsApplication

    from tile_embeddings.plugin.similarity_session import SimilaritySession
    from tile_embeddings.plugin.thumbnails import ThumbnailRenderer

    session = SimilaritySession()
    try:
        session.open_index(path, wait=True)
        info = session.info()
        assert set(info["sources"].values()) == {first, second}
        renderer = ThumbnailRenderer(info["source"], session.crs, 32, sources=info["sources"])
        assert renderer.layer_for(ix.ids[0]).source() == first
        assert renderer.layer_for(ix.ids[40]).source() == second
        images = {}
        renderer.ready.connect(lambda tile_id, image: images.update({tile_id: image}))
        tile = ix.ids[40]
        renderer.request(tile, session.lookup.geometries[tile])
        end = time.time() + 30
        while tile not in images and time.time() < end:
            QgsApplication.processEvents()
            time.sleep(0.01)
        image = images[tile]
        assert image.width() == 32 and image.pixelColor(16, 16).alpha() == 255  # imagery drawn
    finally:
        session.shutdown()
