"""scripts/check_qt6.py: the plugin's Qt and QGIS names, resolved against real PyQt6 and real QGIS.

Runs inside the rootfs (python3-pyqt6 and QGIS installed), on QGIS 3.40 and 3.44 alike: the
QGIS side of the check resolves against whichever QGIS is running.
"""

import configparser
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKER = REPO / "scripts" / "check_qt6.py"

# each line tagged "# BAD" must be reported (and only those): what Qt6 or QGIS would reject
SNIPPET = '''\
from qgis.PyQt.QtCore import Qt, QVariant, QRegExp  # BAD: QRegExp is gone in Qt6
from qgis.PyQt.QtWidgets import QAction, QMessageBox, QDialog
from qgis.PyQt.QtGui import QAction as GuiAction, QColor
from qgis.PyQt import QtCore, sip
from qgis.core import Qgis, QgsProcessing, QgsProcessingParameterNumber
from PyQt5.QtCore import QTimer  # BAD: not through qgis.PyQt
import PyQt6.QtGui  # BAD: not through qgis.PyQt

a = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
b = Qt.AlignLeft  # BAD: unscoped enum
c = QMessageBox.StandardButton.Ok
d = QMessageBox.Ok  # BAD: unscoped enum
e = QtCore.Qt.ItemDataRole.UserRole
f = QtCore.Qt.UserRole  # BAD: unscoped, through the module
g = QAction.Priority.HighPriority  # QtWidgets.QAction: the QGIS 4 shim re-exports QtGui's
h = GuiAction.MenuRole.NoRole
i = QVariant.Int  # the QGIS 4 shim patches QVariant.Int back in
j = Qt.ItemFlags  # ... and flag aliases such as Qt.ItemFlags
k = Qgis.MessageLevel.Critical
m = Qgis.Critical  # BAD: unscoped Qgis enum
n = Qgis.MessageLevel.NoSuchLevel  # BAD: not in QGIS
o = QgsProcessing.TypeVectorPolygon  # BAD: unscoped: Qgis.ProcessingSourceType.VectorPolygon
p = QgsProcessingParameterNumber.Type.Integer
q = QgsProcessingParameterNumber.Integer  # BAD: unscoped
r = QColor.Spec.Rgb.value  # BAD: .value is Qt6-only (PyQt5 enum values are ints)
s = sip.isdeleted
t = QDialog.exec
QDialog().exec_()  # BAD: exec_
u = QColor.NoSuchThing  # BAD: in neither
v = QColor.NoSuchThing  # noqa: qt6 -- opted out, with a reason
'''


def run_checker(*paths, cwd=None):
    return subprocess.run([sys.executable, str(CHECKER), *map(str, paths)], capture_output=True,
                          text=True, cwd=cwd)


def test_checker_reports_every_bad_line_and_nothing_else(tmp_path):
    bad = tmp_path / "snippet.py"
    bad.write_text(SNIPPET)
    r = run_checker(bad)
    assert r.returncode == 1, r.stdout + r.stderr
    reported = {int(line.split(":")[1]) for line in r.stdout.splitlines() if "snippet.py:" in line}
    expected = {n for n, line in enumerate(SNIPPET.splitlines(), 1) if "# BAD" in line}
    assert reported == expected, r.stdout
    # the messages say what to do
    assert "use Qt.AlignmentFlag.AlignLeft" in r.stdout
    assert "use Qgis.MessageLevel.Critical" in r.stdout
    assert "use Qgis.ProcessingSourceType.VectorPolygon" in r.stdout
    assert "PyQt6.QtCore has no QRegExp" in r.stdout
    assert "NoSuchLevel does not exist in QGIS 3." in r.stdout


def test_checker_passes_a_clean_file(tmp_path):
    good = tmp_path / "good.py"
    good.write_text("\n".join(line for line in SNIPPET.splitlines() if "# BAD" not in line) + "\n")
    r = run_checker(good)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resolve on PyQt6 and the running QGIS" in r.stdout


SHIM_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import check_qt6
from PyQt6.QtCore import QT_VERSION  # noqa: qt6 -- the probe inspects PyQt6 itself
shim = check_qt6.Qt6Shim(QT_VERSION)
out = {}
for module in ("QtCore", "QtGui", "QtWidgets"):
    names, attrs = shim.module(module)
    out[module] = {"names": names, "attrs": sorted(".".join(a) for a in attrs)}
print(json.dumps(out))
"""


def test_shim_model_comes_from_the_installed_qgis_pyqt_source():
    """QGIS's own qgis/PyQt/QtWidgets.py re-exports QAction from QtGui on Qt6; the check reads
    that from the source rather than from a list of its own. (A child process: PyQt6 does not
    share a process with the QGIS 3 that pytest-qgis has loaded.)"""
    import json

    r = subprocess.run([sys.executable, "-c", SHIM_PROBE, str(REPO / "scripts")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shim = json.loads(r.stdout)
    assert shim["QtWidgets"]["names"]["QAction"] == "PyQt6.QtGui.QAction"
    assert "QVariant.Int" in shim["QtCore"]["attrs"] and "NULL" in shim["QtCore"]["names"]
    # Qt5-only branches of the shim do not count on Qt6
    assert "QAction" not in shim["QtGui"]["names"]


def test_repository_passes_and_supports_qt6_only_while_it_does():
    """metadata.txt's supportsQt6 may be True only while the check passes."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    supports_qt6 = parser.getboolean("general", "supportsQt6", fallback=False)
    r = run_checker()
    assert "resolving against" not in r.stdout + r.stderr, r.stderr
    if supports_qt6:
        assert r.returncode == 0, "supportsQt6=True but:\n" + r.stdout
    # names missing in the running QGIS fail whatever the flag says
    assert "does not exist in QGIS" not in r.stdout, r.stdout
