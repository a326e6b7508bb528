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
    assert result["unloaded"] and not result["provider_after_unload"], result
    assert result["errors"] == [], result["errors"]
