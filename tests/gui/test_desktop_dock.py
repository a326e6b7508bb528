"""End to end in the real QGIS 3.40 desktop under Xvfb, driven by real X events.

QGIS starts with a fresh profile holding the packaged plugin and opens a project with real NEON
imagery; the driver (desktop_driver.py, run by ``qgis --code``) clicks the toolbar button, types
index folders into the dock, and clicks tiles with xdotool, holding Shift or Ctrl on the X server
as a person does, so QGIS's own canvas event handling decides what each click means. The index is
made by ``tile_embeddings:embedtiles`` into a folder whose name does not end in ``.teindex``.
Each test below checks one part of the walkthrough's report; they share one QGIS session.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis_fixtures import install_packaged_plugin, run_qgis_desktop

REPO = Path(__file__).resolve().parents[2]
K = 10


@pytest.fixture(scope="module")
def neon_index(tmp_path_factory, neon_osbs, mobilenet_weights, qgis_app, qgis_processing):
    import processing
    from qgis_fixtures import ensure_provider

    ensure_provider()
    out = tmp_path_factory.mktemp("gui") / "osbs_index"  # any folder name: recognised by its contents
    processing.run("tile_embeddings:embedtiles", {
        "INPUT": str(neon_osbs), "TILE_SIZE": 64, "INPUT_SIZE": 128, "OUTPUT": str(out)})
    return out


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory, neon_index, neon_osbs, artifacts_dir):
    """Run the whole scenario once in the desktop; every test reads its report."""
    if shutil.which("xdotool") is None or not os.environ.get("DISPLAY"):
        pytest.fail("the desktop test needs Xvfb (make test runs it under xvfb-run) and xdotool")
    from tile_embeddings.core.index import open_index

    tmp = tmp_path_factory.mktemp("desktop")
    profiles, _ = install_packaged_plugin(tmp)
    project = QgsProject()
    layer = QgsRasterLayer(str(neon_osbs), "NEON OSBS_029")
    assert layer.isValid()
    project.addMapLayer(layer)
    project.setCrs(layer.crs())
    project_path = tmp / "neon.qgz"
    assert project.write(str(project_path))

    not_index = tmp / "just_a_folder"
    not_index.mkdir()
    (not_index / "notes.txt").write_text("not an index")
    damaged = tmp / "damaged_idx"
    shutil.copytree(neon_index, damaged)
    with open(damaged / "embeddings.npy", "r+b") as f:
        f.truncate(200)

    index = open_index(str(neon_index))
    n = len(index.ids)
    tile_a, tile_b, tile_c = index.ids[n // 2], index.ids[n // 2 + 3], index.ids[n // 2 - 7]
    outdir = tmp / "out"
    outdir.mkdir()
    config = tmp / "config.json"
    result_file = tmp / "result.json"
    config.write_text(json.dumps({
        "project": str(project_path), "index": str(neon_index), "not_index": str(not_index),
        "corrupt_index": str(damaged), "tile_a": tile_a, "tile_b": tile_b, "tile_c": tile_c,
        "outdir": str(outdir), "labels": str(tmp / "labels.gpkg"),
        "find_all_screenshot": str(artifacts_dir / "dock_find_all_screenshot.png"),
        "screenshot": str(artifacts_dir / "dock_screenshot.png"),
        "heatmap_screenshot": str(artifacts_dir / "dock_heatmap_screenshot.png"),
        "result": str(result_file), "timeout_s": 480}))
    proc = run_qgis_desktop(profiles, REPO / "tests" / "gui" / "desktop_driver.py",
                            {"TE_GUI_CONFIG": str(config), "QT_QPA_PLATFORM": "xcb"}, timeout=600)
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert "error" not in result, result.get("error")
    result.update(index=index, tile_a=tile_a, tile_b=tile_b, tile_c=tile_c, labels=tmp / "labels.gpkg")
    return result


def expected(index, positives, negatives=()):
    from tile_embeddings.core import search as core_search

    r = core_search.search(index, positives, negatives, k=K + len(positives))
    query = set(positives) | set(negatives)
    pairs = [(t, float(s)) for t, s in zip(r.ids, r.scores) if t not in query][:K]
    return [t for t, _ in pairs], [s for _, s in pairs]


def test_plugin_starts_and_its_dock_opens_from_the_toolbar(walkthrough):
    w = walkthrough
    assert w["loaded"] and w["started"] and w["tool_active"], w
    assert w["dock_title"] == w["action_text"] == "Similar Tiles"
    assert w["index_info"]["tiles"] == len(w["index"].ids)


def test_bad_index_folders_are_reported_in_the_dock_without_widening_it(walkthrough):
    w = walkthrough
    assert "Not a similarity index" in w["not_index_info"]
    assert w["not_index_messages"] == 0, "typing a path must not push a message per keystroke"
    assert "Cannot open" in w["corrupt_info"] and "Opening index" not in w["corrupt_info"]
    assert w["corrupt_status"], "the status line reports the failure"
    assert w["corrupt_widths"]["window"] <= w["screen_width"]
    assert w["corrupt_widths"]["dock"] <= w["screen_width"] // 2, w["corrupt_widths"]


def test_plain_click_shows_k_labelled_results(walkthrough, capsys):
    w, click = walkthrough, walkthrough["click"]
    ids, scores = expected(w["index"], [w["tile_a"]])
    assert click["positives"] == [w["tile_a"]]
    assert click["result_ids"] == click["layer_ids"] == ids
    np.testing.assert_allclose(click["result_scores"], scores, rtol=1e-4)
    assert len(click["tree_rows"]) == K + 1
    assert click["labels"] == K, "every result carries its rank label"
    assert click["legend"] == ["rank 1", "rank 2-3", "rank 4-5", "rank 6-10"]
    assert w["screenshot_saved"]
    from PIL import Image

    pixels = np.asarray(Image.open(REPO / "tests" / "artifacts" / "dock_screenshot.png").convert("RGB"),
                        dtype=np.float32)
    assert pixels.std() > 10, "the screenshot is blank"
    with capsys.disabled():
        print(f"\n[desktop dock] click -> results drawn {click['ms']:.0f} ms, heatmap on -> drawn "
              f"{w['heatmap']['ms']:.0f} ms, on {len(w['index'].ids)} tiles; thumbnails: {w['thumbnails']}")


def test_shift_click_adds_a_positive(walkthrough):
    w, shift = walkthrough, walkthrough["shift_click"]
    assert shift["positives"] == [w["tile_a"], w["tile_b"]], shift
    ids, _ = expected(w["index"], [w["tile_a"], w["tile_b"]])
    assert shift["result_ids"] == shift["layer_ids"] == ids


def test_ctrl_click_turns_a_positive_into_a_negative(walkthrough):
    w, ctrl = walkthrough, walkthrough["ctrl_click"]
    assert ctrl["positives"] == [w["tile_a"]] and ctrl["negatives"] == [w["tile_b"]], ctrl
    ids, _ = expected(w["index"], [w["tile_a"]], [w["tile_b"]])
    assert ctrl["result_ids"] == ctrl["layer_ids"] == ids


def test_ctrl_clicking_the_only_positive_leaves_no_stale_results(walkthrough):
    w, last = walkthrough, walkthrough["ctrl_only_positive"]
    assert last["positives"] == [] and last["negatives"] == [w["tile_b"], w["tile_a"]], last
    assert last["result_ids"] == [] and last["layer_ids"] == []
    assert "Similar tiles" not in last["layers"]
    assert [row.split("|")[1] for row in last["tree_rows"]] == ["query −", "query −"]


def test_heatmap_is_a_raster_under_the_outlines_with_a_readable_legend(walkthrough):
    heat = walkthrough["heatmap"]
    assert heat["checked"] and heat["raster"]
    order = heat["canvas_order"]  # top first
    assert order.index("Similarity heatmap") > order.index("Similar tiles")
    assert order.index("Similarity heatmap") > order.index("Query tiles")
    assert heat["expanded"] and heat["continuous_legend"]
    assert heat["legend_labels"] == ["more similar", "less similar"]
    assert heat["labels"] == K


def test_clear_removes_everything_from_the_map_at_once(walkthrough):
    clear = walkthrough["clear"]
    for name in ("Similar tiles", "Query tiles", "Similarity heatmap"):
        assert name not in clear["layers"]
    assert clear["positives"] == clear["negatives"] == clear["result_ids"] == []
    assert clear["tree_rows"] == [] and clear["status"] == "" and not clear["heatmap_checked"]
    from PIL import Image

    shown = np.asarray(Image.open(walkthrough["canvas_after_clear"]).convert("RGB"), dtype=np.float32)
    redrawn = np.asarray(Image.open(walkthrough["canvas_after_refresh"]).convert("RGB"), dtype=np.float32)
    assert shown.shape == redrawn.shape
    assert np.abs(shown - redrawn).mean() < 1.0, "the canvas still showed cleared layers before a refresh"


def test_find_all_loop_label_train_mark_retrain_save_reload(walkthrough, capsys):
    w, fa = walkthrough, walkthrough["find_all"]
    assert fa["labels"]["positives"] == [w["tile_a"], w["tile_c"]] and fa["labels"]["negatives"] == [w["tile_b"]]
    assert "Find all: probability" in fa["layers"]
    assert any(name.startswith("Find all: detections") for name in fa["layers"])
    assert fa["trained"]["proposals"] and fa["thumbnails"] > 0
    assert not set(fa["trained"]["proposals"]) & {w["tile_a"], w["tile_b"], w["tile_c"]}
    # the Y key on the selected proposal labelled it yes, and the classifier retrained without it
    assert fa["proposed"] == fa["trained"]["proposals"][0]
    assert fa["after_yes"]["positives"] == [w["tile_a"], w["tile_c"], fa["proposed"]]
    assert fa["proposed"] not in fa["after_yes"]["proposals"]
    # saved, cleared (Find all released, its layers gone), loaded back
    assert not any(name.startswith("Find all") for name in fa["after_clear"]["layers"])
    assert fa["loaded"] == fa["saved"] and fa["saved"][0] == fa["after_yes"]["positives"]
    layer = QgsVectorLayer(str(w["labels"]) + "|layername=labels", "labels", "ogr")
    assert layer.featureCount() == 4
    with capsys.disabled():
        print(f"\n[desktop dock] find all: press -> drawn {fa['ms']:.0f} ms, Y -> retrained and drawn "
              f"{fa['after_yes']['ms']:.0f} ms, on {len(w['index'].ids)} tiles")
