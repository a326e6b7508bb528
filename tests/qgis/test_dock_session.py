"""The dock's logic with a real QgsMapCanvas: clicks, query sets, CRS, background search."""

import os

import numpy as np
import pytest
from index_factory import make_synthetic_index, tile_centre
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProject,
    QgsSettings,
    QgsVectorLayer,
)
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt

from tile_embeddings.core import search as core_search
from tile_embeddings.core.index import open_index
from tile_embeddings.plugin.map_tool import TileClickTool
from tile_embeddings.plugin.similarity_session import SimilaritySession

ROWS = COLS = 12


@pytest.fixture(autouse=True)
def _no_remembered_index(clean_dock_settings):
    yield


@pytest.fixture
def syn_index(tmp_path):
    folder, labels = make_synthetic_index(str(tmp_path / "syn.teindex"), rows=ROWS, cols=COLS, dims=32)
    return folder, labels


@pytest.fixture
def session(qgis_canvas, qgis_new_project, syn_index):
    s = SimilaritySession(qgis_canvas, QgsProject.instance())
    messages = []
    s.message.connect(lambda text, level: messages.append((text, level)))
    s.messages = messages
    assert s.open_index(syn_index[0], wait=True)
    utm = QgsCoordinateReferenceSystem("EPSG:32617")
    show(qgis_canvas, utm, s.lookup.extent())
    yield s
    lookup = s.lookup
    s.shutdown()  # closes the tile layer's GeoPackage: left open, QGIS's exit can crash on it
    assert lookup.geometries._ds is None


def show(canvas, crs, extent_in_32617):
    canvas.setDestinationCrs(crs)
    if crs.authid() != "EPSG:32617":
        tr = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32617"), crs, QgsProject.instance())
        extent_in_32617 = tr.transformBoundingBox(extent_in_32617)
    extent_in_32617.scale(1.1)
    canvas.setExtent(extent_in_32617)
    canvas.refresh()


def click(canvas, tool, point, modifiers=Qt.KeyboardModifier.NoModifier):
    """A real mouse-release event at the canvas pixel of ``point`` (canvas CRS)."""
    pixel = canvas.getCoordinateTransform().transform(point)
    event = QgsMapMouseEvent(canvas, QEvent.Type.MouseButtonRelease, QPoint(round(pixel.x()), round(pixel.y())),
                             Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, modifiers)
    tool.canvasReleaseEvent(event)


def centre(row, col):
    return QgsPointXY(*tile_centre(row, col))


def expected(index, positives, negatives=(), k=10):
    r = core_search.search(index, positives, negatives, k=k + len(positives))
    query = set(positives) | set(negatives)
    pairs = [(t, float(s)) for t, s in zip(r.ids, r.scores) if t not in query][:k]
    return [t for t, _ in pairs], [s for _, s in pairs]


def test_click_at_tile_centre_matches_core_and_algorithm(session, qgis_canvas, syn_index, te_provider):
    tool = TileClickTool(qgis_canvas)
    tool.tileClicked.connect(session.handle_click)
    click(qgis_canvas, tool, centre(3, 4))
    assert session.positives == ["syn_r3_c4"]
    assert session.wait()
    index = open_index(syn_index[0])
    ids, scores = expected(index, ["syn_r3_c4"])
    assert session.result_ids == ids
    np.testing.assert_allclose(session.result_scores, scores, rtol=1e-5)
    # the results layer on the map holds exactly those tiles, ranked
    layer = session.layers.layer("Similar tiles")
    feats = sorted(layer.getFeatures(), key=lambda f: f["rank"])
    assert [f["tile_id"] for f in feats] == ids
    assert [f["rank"] for f in feats] == list(range(1, len(ids) + 1))
    # same answer as the Processing algorithm
    import processing

    out = str(os.path.join(os.path.dirname(syn_index[0]), "algo.gpkg"))
    res = processing.run("tile_embeddings:similaritysearch",
                         {"INDEX": syn_index[0], "QUERY_IDS": "syn_r3_c4", "K": 11, "OUTPUT": out})
    algo = QgsVectorLayer(res["OUTPUT"], "algo", "ogr")
    algo_ids = [f["tile_id"] for f in sorted(algo.getFeatures(), key=lambda f: f["rank"])]
    assert [t for t in algo_ids if t != "syn_r3_c4"][:10] == ids


def test_shift_and_ctrl_clicks_build_the_query_set(session, qgis_canvas, syn_index):
    index = open_index(syn_index[0])
    labels = syn_index[1]
    tool = TileClickTool(qgis_canvas)
    tool.tileClicked.connect(session.handle_click)
    click(qgis_canvas, tool, centre(1, 1))
    click(qgis_canvas, tool, centre(5, 7), Qt.KeyboardModifier.ShiftModifier)
    assert session.positives == ["syn_r1_c1", "syn_r5_c7"] and session.negatives == []
    assert session.wait()
    assert session.result_ids == expected(index, ["syn_r1_c1", "syn_r5_c7"])[0]
    # a negative from another cluster pushes its look-alikes away
    neg_row = next(i for i in range(ROWS * COLS) if labels[i] not in (labels[1 * COLS + 1], labels[5 * COLS + 7]))
    r, c = divmod(neg_row, COLS)
    click(qgis_canvas, tool, centre(r, c), Qt.KeyboardModifier.ControlModifier)
    assert session.negatives == [f"syn_r{r}_c{c}"]
    assert session.wait()
    ids, scores = expected(index, ["syn_r1_c1", "syn_r5_c7"], [f"syn_r{r}_c{c}"])
    assert session.result_ids == ids
    assert all(labels[index.row_of(t)] != labels[neg_row] for t in session.result_ids[:5])
    # ctrl-clicking a positive turns it into a negative
    click(qgis_canvas, tool, centre(5, 7), Qt.KeyboardModifier.ControlModifier)
    assert session.positives == ["syn_r1_c1"] and "syn_r5_c7" in session.negatives
    # the query layer shows roles
    session.wait()
    roles = {f["tile_id"]: f["role"] for f in session.layers.layer("Query tiles").getFeatures()}
    assert roles == {"syn_r1_c1": "positive", "syn_r5_c7": "negative", f"syn_r{r}_c{c}": "negative"}


def test_click_in_another_crs_hits_the_right_tile(session, qgis_canvas):
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    show(qgis_canvas, wgs84, session.lookup.extent())
    to_wgs = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32617"), wgs84, QgsProject.instance())
    tool = TileClickTool(qgis_canvas)
    tool.tileClicked.connect(session.handle_click)
    for row, col in ((0, 0), (7, 2), (11, 11)):
        click(qgis_canvas, tool, to_wgs.transform(centre(row, col)))
        assert session.positives == [f"syn_r{row}_c{col}"]
    session.wait()


def test_click_outside_every_tile_says_so(session, qgis_canvas):
    tool = TileClickTool(qgis_canvas)
    tool.tileClicked.connect(session.handle_click)
    click(qgis_canvas, tool, centre(2, 2))
    session.wait()
    before = list(session.result_ids)
    outside = QgsPointXY(404000.0 - 50.0, 3285000.0 + 50.0)
    assert session.handle_click(outside, QgsCoordinateReferenceSystem("EPSG:32617")) is None
    assert "No tile" in session.messages[-1][0]
    assert session.positives == ["syn_r2_c2"] and session.result_ids == before


def test_newer_click_supersedes_running_search(session):
    crs = QgsCoordinateReferenceSystem("EPSG:32617")
    session.handle_click(centre(0, 0), crs)
    session.handle_click(centre(9, 9), crs)
    assert session.wait()
    index = session.index
    assert session.result_ids == expected(index, ["syn_r9_c9"])[0]


def test_heatmap_is_one_raster_cell_per_tile_holding_the_core_scores(session):
    from osgeo import gdal

    session.set_heatmap(True)
    session.handle_click(centre(4, 4), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert session.wait()
    layer = session.layers.layer("Similarity heatmap")
    assert layer is not None and layer.type() == Qgis.LayerType.Raster
    assert (layer.width(), layer.height()) == (COLS, ROWS)
    want = core_search.score_all(session.index, ["syn_r4_c4"])
    cells = gdal.Open(layer.source()).ReadAsArray()
    got = [cells[int(t.split("_r")[1].split("_c")[0]), int(t.split("_c")[1])] for t in session.index.ids]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # the cell of a tile lies under that tile
    extent = layer.extent()
    assert extent.contains(session.lookup.geometries["syn_r4_c4"].centroid().asPoint())
    assert extent.width() == pytest.approx(COLS * 25.6) and extent.height() == pytest.approx(ROWS * 25.6)
    function = layer.renderer().shader().rasterShaderFunction()
    assert function.legendSettings().maximumLabel() == "more similar"
    # drawn under the outlines: last in the group
    group = QgsProject.instance().layerTreeRoot().findGroup("Tile Embeddings")
    assert group.children()[-1].layerId() == layer.id()
    # a second query reuses the layer, with new values
    session.handle_click(centre(0, 0), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert session.wait()
    assert session.layers.layer("Similarity heatmap") is layer
    cells = gdal.Open(layer.source()).ReadAsArray()
    assert cells[0, 0] == pytest.approx(1.0, abs=1e-5)
    session.set_heatmap(False)
    assert session.layers.layer("Similarity heatmap") is None


def test_heatmap_of_tiles_off_any_grid_is_polygons(session):
    session.lookup.grid = None  # e.g. several sources, or a hand-made tile set
    session.set_heatmap(True)
    session.handle_click(centre(4, 4), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert session.wait()
    layer = session.layers.layer("Similarity heatmap")
    assert layer.type() == Qgis.LayerType.Vector and layer.featureCount() == ROWS * COLS
    want = core_search.score_all(session.index, ["syn_r4_c4"])
    got = {f["tile_id"]: f["score"] for f in layer.getFeatures()}
    np.testing.assert_allclose([got[t] for t in session.index.ids], want, rtol=1e-5)
    labels = [r.label() for r in layer.renderer().ranges()]
    assert labels[0].endswith("(less similar)") and labels[-1].endswith("(more similar)")


def test_ctrl_clicking_the_only_positive_drops_the_results(session):
    crs = QgsCoordinateReferenceSystem("EPSG:32617")
    session.set_heatmap(True)
    session.handle_click(centre(2, 2), crs)
    assert session.wait() and session.result_ids
    session.handle_click(centre(2, 2), crs, "negative")
    assert session.positives == [] and session.negatives == ["syn_r2_c2"]
    assert session.result_ids == [] and session.result_scores == []
    assert session.layers.layer("Similar tiles") is None
    assert session.layers.layer("Similarity heatmap") is None
    assert "positive" in session.messages[-1][0]


def test_clear_removes_the_layers_and_says_so(session):
    cleared = []
    session.cleared.connect(lambda: cleared.append(True))
    session.set_heatmap(True)
    session.handle_click(centre(2, 2), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert session.wait()
    session.clear()
    assert cleared == [True]
    names = {layer.name() for layer in QgsProject.instance().mapLayers().values()}
    assert not names & {"Similar tiles", "Query tiles", "Similarity heatmap"}
    assert QgsProject.instance().layerTreeRoot().findGroup("Tile Embeddings") is None


def test_results_legend_lists_ranks_up_to_k(session):
    crs = QgsCoordinateReferenceSystem("EPSG:32617")
    session.handle_click(centre(2, 2), crs)
    assert session.wait()
    layer = session.layers.layer("Similar tiles")
    assert [r.label() for r in layer.renderer().ranges()] == ["rank 1", "rank 2-3", "rank 4-5", "rank 6-10"]
    session.k = 25
    session.search()
    assert session.wait()
    labels = [r.label() for r in session.layers.layer("Similar tiles").renderer().ranges()]
    assert labels[-1] == "rank 21-25"


def test_min_score_filter_and_export(session, tmp_path):
    session.min_score = 0.5
    session.handle_click(centre(6, 6), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert session.wait()
    assert session.result_scores and min(session.result_scores) >= 0.5
    out = str(tmp_path / "export 北京.gpkg")
    session.export(out)
    layer = QgsVectorLayer(out, "x", "ogr")
    assert layer.isValid()
    roles = [f["role"] for f in layer.getFeatures()]
    assert roles.count("positive") == 1 and roles.count("result") == len(session.result_ids)
    assert not os.path.exists(out + ".part.gpkg")


def test_unreadable_index_gives_a_message_not_a_traceback(qgis_canvas, qgis_new_project, tmp_path):
    bad = tmp_path / "broken.teindex"
    bad.mkdir()
    (bad / "meta.json").write_text("{not json")
    s = SimilaritySession(qgis_canvas, QgsProject.instance())
    messages = []
    s.message.connect(lambda text, level: messages.append((text, level)))
    assert s.open_index(str(bad), wait=True) is False
    assert messages and messages[-1][1] == Qgis.MessageLevel.Critical
    assert "broken.teindex" in messages[-1][0]
    # the background path reports the same way
    s.open_index(str(bad))
    assert s.wait()
    assert len(messages) == 2 and messages[-1][1] == Qgis.MessageLevel.Critical


def test_dock_persists_settings_and_opens_last_index(qgis_iface, qgis_new_project, syn_index):
    from tile_embeddings.plugin.dock import SimilarityDock

    dock = SimilarityDock(qgis_iface)
    dock.index_file.setFilePath(syn_index[0])
    assert dock.session.wait()
    assert "144 tiles" in dock.info.text() and "synthetic" in dock.info.text()
    dock.k_spin.setValue(7)
    dock.shutdown()
    assert QgsSettings().value("tile_embeddings/dock/k") in (7, "7")
    assert QgsSettings().value("tile_embeddings/dock/last_index") == syn_index[0]
    dock2 = SimilarityDock(qgis_iface)
    assert dock2.k_spin.value() == 7
    assert dock2.session.wait() and dock2.session.index is not None
    dock2.session.handle_click(centre(2, 3), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert dock2.session.wait()
    assert len(dock2.session.result_ids) == 7
    assert dock2.tree.topLevelItemCount() == 8  # query + 7 results
    dock2.shutdown()


def test_index_layer_in_project_selects_its_index(qgis_iface, qgis_new_project, tmp_path):
    """Any index folder, whatever its name (Embed tiles' default output has no .teindex suffix)."""
    from tile_embeddings.plugin.dock import SimilarityDock

    folder, _ = make_synthetic_index(str(tmp_path / "OUTPUT"), rows=4, cols=4, dims=16)
    syn_index = (folder,)
    layer = QgsVectorLayer(os.path.join(syn_index[0], "tiles.gpkg") + "|layername=tiles", "tiles", "ogr")
    QgsProject.instance().addMapLayer(layer)
    dock = SimilarityDock(qgis_iface)
    dock.index_layer.setLayer(layer)
    assert dock.session.wait()
    assert dock.session.index is not None and os.path.samefile(dock.session.index.path, syn_index[0])
    dock.shutdown()


def test_dock_closed_while_its_index_opens_does_not_crash(qgis_iface, qgis_new_project, syn_index):
    """QgsTask.finished() calling into a deleted dock aborts QGIS; the session must ignore it."""
    from qgis.PyQt import sip
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    from tile_embeddings.plugin.dock import SimilarityDock

    dock = SimilarityDock(qgis_iface)
    dock.index_file.setFilePath(syn_index[0])  # opens in the background
    task = dock.session.open_task
    assert task is not None
    session = dock.session
    dock.shutdown()
    dock.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert sip.isdeleted(session)
    import time

    from qgis.core import QgsApplication

    end = time.time() + 20
    while QgsApplication.taskManager().count() and time.time() < end:
        QCoreApplication.processEvents()
    assert QgsApplication.taskManager().count() == 0


def test_dock_says_what_is_wrong_with_a_folder(qgis_iface, qgis_new_project, tmp_path, syn_index):
    """A folder that is not an index, then a damaged one: the info line says so, never stays at
    'Opening index…', and long messages wrap instead of widening the dock."""
    from tile_embeddings.plugin.dock import SimilarityDock

    dock = SimilarityDock(qgis_iface)
    plain = tmp_path / "plain"
    plain.mkdir()
    dock.index_file.setFilePath(str(plain))
    assert "Not a similarity index" in dock.info.text() and dock.session.open_task is None
    damaged = tmp_path / "damaged"
    import shutil

    shutil.copytree(syn_index[0], damaged)
    (damaged / "embeddings.npy").write_bytes(b"\x93NUMPY broken")
    dock.index_file.setFilePath(str(damaged))
    assert dock.session.wait()
    assert "Cannot open" in dock.info.text() and "Opening" not in dock.info.text()
    assert dock.status.wordWrap() and dock.info.wordWrap()
    dock.shutdown()


@pytest.mark.parametrize("rows,cols,with_index", [(7, 9, False), (7, 9, True), (1, 6, True)])
def test_tile_lookup_finds_the_tile_under_a_point(tmp_path, qgis_app, rows, cols, with_index):
    """A grid (arithmetic; footprints read by fid when the layer follows the index's rows), one row
    (no grid: an R-tree)."""
    from tile_embeddings.plugin.tile_lookup import TileLookup

    folder, _ = make_synthetic_index(str(tmp_path / "grid.teindex"), rows=rows, cols=cols, dims=8)
    index = open_index(folder) if with_index else None
    lookup = TileLookup(os.path.join(folder, "tiles.gpkg"), index=index)
    assert (lookup.spatial is None) == (rows > 1)
    assert lookup.ids == [f"syn_r{r}_c{c}" for r in range(rows) for c in range(cols)]
    for r, c in ((0, 0), (rows - 1, cols - 1), (rows // 2, cols // 3)):
        box = lookup.geometries[f"syn_r{r}_c{c}"].boundingBox()
        x, y = tile_centre(r, c)
        assert (box.center().x(), box.center().y()) == pytest.approx((x, y))
        assert box.width() == pytest.approx(25.6)
    for r in range(rows):
        for c in range(cols):
            x, y = tile_centre(r, c)
            assert lookup.tile_at(QgsPointXY(x, y)) == f"syn_r{r}_c{c}"
            assert lookup.tile_at(QgsPointXY(x + 12.0, y - 12.0)) == f"syn_r{r}_c{c}"  # near a corner
    x0, y0 = tile_centre(0, 0)
    assert lookup.tile_at(QgsPointXY(x0 - 40.0, y0)) is None  # left of the first column
    assert lookup.tile_at(QgsPointXY(x0, y0 - rows * 25.6 - 5.0)) is None  # below the last row


@pytest.mark.parametrize("cache", ["fresh", "missing", "damaged", "stale"])
def test_tile_lookup_grid_cache_is_used_only_when_it_matches(tmp_path, qgis_app, cache):
    """tiles_grid.npy (written with the tile layer) spares reading tiles.gpkg's columns; an index
    without it (older), a damaged one or one of another tile layer is ignored and written again."""
    from tile_embeddings.core import index as core_index
    from tile_embeddings.plugin.tile_lookup import TileLookup

    folder, _ = make_synthetic_index(str(tmp_path / "grid.teindex"), rows=6, cols=7, dims=8)
    path = os.path.join(folder, core_index.GRID_COLUMNS)
    good = np.load(path)
    if cache == "missing":
        os.remove(path)
    elif cache == "damaged":
        with open(path, "wb") as f:
            f.write(b"\x93NUMPY\x01\x00garbage")
    elif cache == "stale":
        moved = good.copy()
        moved[:, 3] -= 25.6  # every tile one row lower: the cache of another tile layer
        np.save(path, moved)
    index = open_index(folder)
    lookup = TileLookup(index.tiles_path, index=index)
    assert lookup.cached == (cache == "fresh")
    for r, c in ((0, 0), (5, 6), (2, 3)):
        assert lookup.tile_at(QgsPointXY(*tile_centre(r, c))) == f"syn_r{r}_c{c}"
    np.testing.assert_allclose(lookup.centers(index.ids), good[:, 2:])
    np.testing.assert_array_equal(np.load(path), good)  # written again for the next open
    assert TileLookup(index.tiles_path, index=open_index(folder)).cached


def test_first_click_needs_no_id_dict(session, qgis_canvas):
    """The dock's first click finds its tile, searches and draws without the full id -> row dict
    (1M entries take 0.6 s to build): rows come from the grid cell and the search's results."""
    index = session.index
    index.rows._dict, index.rows._seen, index.rows._thread = None, {}, None  # as right after opening
    index.rows.start = lambda: None  # and never built in the background during this test
    tile = session.handle_click(centre(3, 4), QgsCoordinateReferenceSystem("EPSG:32617"))
    assert tile == "syn_r3_c4" and session.wait()
    ids, scores = expected(index, ["syn_r3_c4"])
    assert session.result_ids == ids
    assert not index.rows.ready()
    feats = sorted(session.layers.layer("Similar tiles").getFeatures(), key=lambda f: f["rank"])
    assert [f["tile_id"] for f in feats] == ids
