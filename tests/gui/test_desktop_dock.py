"""End to end in the real QGIS 3.40 desktop under Xvfb: a real mouse click on the canvas.

QGIS starts with a fresh profile holding the packaged plugin, opens a project with real NEON
imagery and an index made by ``tile_embeddings:embedtiles``; the driver (desktop_driver.py, run by
``qgis --code``) opens the dock from its action, chooses the index, presses "Pick tiles on map"
and clicks a tile with xdotool. We check the results layer against the core search and keep the
screenshot in tests/artifacts/ (README.md shows it).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProject, QgsRasterLayer
from qgis_fixtures import install_packaged_plugin, run_qgis_desktop

REPO = Path(__file__).resolve().parents[2]
K = 10


@pytest.fixture(scope="module")
def neon_index(tmp_path_factory, neon_osbs, mobilenet_weights, qgis_app, qgis_processing):
    import processing
    from qgis_fixtures import ensure_provider

    ensure_provider()
    out = tmp_path_factory.mktemp("gui") / "osbs.teindex"
    processing.run("tile_embeddings:embedtiles", {
        "INPUT": str(neon_osbs), "TILE_SIZE": 64, "INPUT_SIZE": 128, "OUTPUT": str(out)})
    return out


def test_click_a_tile_in_the_real_qgis_desktop(tmp_path, neon_index, neon_osbs, artifacts_dir, capsys):
    if shutil.which("xdotool") is None or not os.environ.get("DISPLAY"):
        pytest.fail("the desktop test needs Xvfb (make test runs it under xvfb-run) and xdotool")
    from tile_embeddings.core import search as core_search
    from tile_embeddings.core.index import open_index

    # the packaged plugin in a fresh profile
    profiles, _ = install_packaged_plugin(tmp_path)

    # a project with the real imagery
    project = QgsProject()
    layer = QgsRasterLayer(str(neon_osbs), "NEON OSBS_029")
    assert layer.isValid()
    project.addMapLayer(layer)
    project.setCrs(layer.crs())
    project_path = tmp_path / "neon.qgz"
    assert project.write(str(project_path))

    index = open_index(str(neon_index))
    click_tile = index.ids[len(index.ids) // 2]
    screenshot = artifacts_dir / "dock_screenshot.png"
    result_file = tmp_path / "result.json"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "project": str(project_path), "index": str(neon_index), "click_tile": click_tile,
        "screenshot": str(screenshot), "result": str(result_file), "timeout_s": 150}))
    proc = run_qgis_desktop(profiles, REPO / "tests" / "gui" / "desktop_driver.py",
                            {"TE_GUI_CONFIG": str(config), "QT_QPA_PLATFORM": "xcb"}, timeout=240)
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert "error" not in result, result
    assert result["loaded"] and result["started"] and result["tool_active"], result
    assert result["index_info"]["tiles"] == len(index.ids)
    assert result["positives"] == [click_tile], result
    want = core_search.search(index, [click_tile], k=K + 1)
    want_ids = [t for t in want.ids if t != click_tile][:K]
    assert result["result_ids"] == want_ids
    want_scores = [s for t, s in zip(want.ids, want.scores) if t != click_tile][:K]
    np.testing.assert_allclose(result["result_scores"], want_scores, rtol=1e-4)
    assert result["tree_rows"] == K + 1
    assert result["screenshot_saved"] and screenshot.stat().st_size > 10_000
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10, "the screenshot is blank"
    with capsys.disabled():  # shown in every run's output, not only with -s
        print(f"\n[desktop dock] click -> results drawn: {result['click_to_drawn_ms']:.0f} ms "
              f"(search {result['search_ms']:.0f} ms) on {len(index.ids)} tiles; thumbnails: {result['thumbnails']}")
