"""The real QGIS desktop with its interface language set to Simplified Chinese (zh_CN).

A fresh profile holds the packaged plugin (its zip carries the .qm that lrelease compiled) and the
locale setting a person makes in Settings > Options > General (override the system locale,
简体中文, which QGIS stores as ``zh-Hans``: QGIS's own menus and the plugin both turn Chinese).
desktop_driver.py's zh_CN scenario opens the dock from the toolbar, reads back its texts and the
Processing toolbox's entries and QGIS's own Project menu, opens an index, clicks a tile, and saves a screenshot
(tests/artifacts/dock_zh_CN_screenshot.png, shown in the README).
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from qgis.core import QgsProject, QgsRasterLayer
from qgis_fixtures import install_packaged_plugin, run_qgis_desktop

REPO = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def zh_cn_session(tmp_path_factory, neon_osbs, mobilenet_weights, artifacts_dir, qgis_app, qgis_processing):
    if shutil.which("xdotool") is None or not os.environ.get("DISPLAY"):
        pytest.fail("the desktop test needs Xvfb (make test runs it under xvfb-run) and xdotool")
    import processing
    from qgis_fixtures import ensure_provider

    from tile_embeddings.core.index import open_index

    ensure_provider()
    tmp = tmp_path_factory.mktemp("desktop_zh")
    index_dir = tmp / "osbs_index"
    processing.run("tile_embeddings:embedtiles", {
        "INPUT": str(neon_osbs), "TILE_SIZE": 64, "INPUT_SIZE": 128, "OUTPUT": str(index_dir)})
    ids = open_index(str(index_dir)).ids

    profiles, _ = install_packaged_plugin(tmp)
    settings = profiles / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("[locale]\noverrideFlag=true\nuserLocale=zh-Hans\n", encoding="utf-8")
    project = QgsProject()
    layer = QgsRasterLayer(str(neon_osbs), "NEON OSBS_029")
    assert layer.isValid()
    project.addMapLayer(layer)
    project.setCrs(layer.crs())
    assert project.write(str(tmp / "neon.qgz"))

    screenshot = artifacts_dir / "dock_zh_CN_screenshot.png"
    screenshot.unlink(missing_ok=True)
    result_file = tmp / "result.json"
    config = tmp / "config.json"
    config.write_text(json.dumps({
        "scenario": "zh_CN", "project": str(tmp / "neon.qgz"), "index": str(index_dir),
        "tile_a": ids[len(ids) // 2], "screenshot": str(screenshot), "result": str(result_file),
        "timeout_s": 300}))
    proc = run_qgis_desktop(profiles, REPO / "tests" / "gui" / "desktop_driver.py",
                            {"TE_GUI_CONFIG": str(config), "QT_QPA_PLATFORM": "xcb"}, timeout=420)
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert "error" not in result, result.get("error")
    result["screenshot"] = screenshot
    return result


def _english(texts):
    return [t for t in texts if not CJK.search(t)]


def test_qgis_runs_in_chinese_and_the_plugin_follows(zh_cn_session):
    r = zh_cn_session
    assert r["loaded"] and r["started"] and r["steps"][-1] == "done", r
    assert r["translation"] == "zh-Hans", "QGIS did not take the profile's locale setting"
    assert CJK.search(r["qgis_menu"]), r["qgis_menu"]  # QGIS's own translation: 工程(&J)
    assert r["action_text"] == "相似瓦片"


def test_dock_shows_no_english(zh_cn_session):
    texts = zh_cn_session["dock_texts"]
    assert len(texts) >= 30, texts
    assert _english(texts) == [], "English in the zh_CN dock"
    assert "相似瓦片" in texts  # the dock's title


def test_toolbox_lists_the_algorithms_in_chinese(zh_cn_session):
    algorithms = zh_cn_session["algorithms"]
    assert len(algorithms) >= 10
    english = [a for a in algorithms if not (CJK.search(a[1]) and CJK.search(a[2]))]
    assert english == [], "algorithms whose name or group is not Chinese in the toolbox"
    names = {a[0]: a[1] for a in algorithms}
    assert names["tile_embeddings:embedtiles"] == "嵌入瓦片（构建相似性索引）"
    assert names["tile_embeddings:similaritysearch"] == "相似性搜索"


def test_results_messages_and_layers_are_chinese(zh_cn_session):
    r = zh_cn_session
    assert "个瓦片" in r["info"] and "坐标参考系" in r["info"], r["info"]
    assert "个结果" in r["status"] and "毫秒" in r["status"], r["status"]
    assert r["roles"] == ["查询 +"]
    assert "相似瓦片" in r["layers"] and "查询瓦片" in r["layers"], r["layers"]
    assert r["screenshot_saved"] and r["screenshot"].stat().st_size > 20_000
