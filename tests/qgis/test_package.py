"""The zip from `make package`, installed in a fresh QGIS profile, starts in the real QGIS desktop."""

import json
from pathlib import Path

from qgis_fixtures import install_packaged_plugin, run_qgis_desktop

REPO = Path(__file__).resolve().parents[2]

STARTER = r'''
import json, os, traceback
from qgis.core import Qgis, QgsApplication, QgsMessageLog
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication
import qgis.utils

out = os.environ["TE_RESULT"]
errors = []
def on_message(message, tag, level):
    if level == Qgis.MessageLevel.Critical or tag in ("Python error", "Python warning"):
        errors.append(f"{tag}: {message}")
QgsApplication.messageLog().messageReceived.connect(on_message)
result = {"errors": errors}
try:
    plugins_dir = os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "plugins")
    result["installed"] = os.path.isdir(os.path.join(plugins_dir, "tile_embeddings"))
    result["loaded"] = qgis.utils.loadPlugin("tile_embeddings")
    result["started"] = qgis.utils.startPlugin("tile_embeddings")
    mod = qgis.utils.plugins.get("tile_embeddings")
    result["module_file"] = __import__("tile_embeddings").__file__
    reg = QgsApplication.processingRegistry()
    prov = reg.providerById("tile_embeddings")
    result["provider"] = prov is not None
    result["algorithms"] = sorted(a.id() for a in prov.algorithms())
    result["workflows_resolved"] = all(
        c.algorithm() is not None
        for a in prov.algorithms() if a.groupId() == "workflows" for c in a.childAlgorithms().values())
    result["unloaded"] = qgis.utils.unloadPlugin("tile_embeddings")
    result["provider_after_unload"] = reg.providerById("tile_embeddings") is not None
except Exception:
    result["exception"] = traceback.format_exc()
json.dump(result, open(out, "w"))
QTimer.singleShot(200, QApplication.instance().quit)
'''


def test_packaged_zip_loads_in_fresh_qgis_profile(tmp_path):
    profiles, plugins = install_packaged_plugin(tmp_path)
    script = tmp_path / "start_plugin.py"
    script.write_text(STARTER)
    result_file = tmp_path / "result.json"
    proc = run_qgis_desktop(profiles, script, {"TE_RESULT": str(result_file)}, timeout=180)
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert "exception" not in result, result["exception"]
    assert result["installed"] and result["loaded"] and result["started"], result
    assert result["module_file"].startswith(str(plugins)), "the plugin came from the zip, not the repo"
    assert result["provider"], result
    # the workflows ship in the toolbox; the test model does not ship at all
    workflows = {"build_similarity_index", "find_similar_places", "study_area_segmentation"}
    assert {f"tile_embeddings:{w}" for w in workflows} <= set(result["algorithms"]), result["algorithms"]
    assert result["workflows_resolved"], result
    assert not any("test" in a for a in result["algorithms"]), result["algorithms"]
    assert result["unloaded"] and not result["provider_after_unload"], result
    assert result["errors"] == [], result["errors"]


def load_package_script():
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import package
    finally:
        sys.path.pop(0)
    return package


def test_zip_ships_the_workflows_and_no_test_model(tmp_path):
    import zipfile

    names = zipfile.ZipFile(load_package_script().build(str(tmp_path))).namelist()
    models = sorted(n for n in names if n.endswith(".model3"))
    assert models == [f"tile_embeddings/resources/models/{m}.model3"
                      for m in ("build_similarity_index", "find_similar_places", "study_area_segmentation")]
    assert not any("/test_" in n or "/tests/" in n for n in names)
    assert (REPO / "tests" / "data" / "test_raster_prep_chain.model3").exists()  # kept for the tests


def test_a_test_file_in_a_packaged_folder_stops_the_build(tmp_path, monkeypatch):
    import pytest

    package = load_package_script()
    root = tmp_path / "plugin"
    (root / "resources" / "models").mkdir(parents=True)
    (root / "resources" / "models" / "test_chain.model3").write_text("<model/>")
    monkeypatch.setattr(package, "ROOT", str(root))
    with pytest.raises(ValueError, match="test_chain.model3"):
        package.packaged_files()
