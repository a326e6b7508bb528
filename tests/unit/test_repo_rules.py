"""Project rules that are cheap to check and easy to break."""

import configparser
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_metadata_is_complete():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    g = parser["general"]
    for key in ("name", "about", "description", "version", "author", "email", "tracker", "repository",
                "tags", "icon", "experimental", "changelog"):
        assert g.get(key, "").strip(), key
    assert g["name"] == "Tile Embeddings"
    assert g["hasProcessingProvider"] == "yes"
    assert g["qgisMinimumVersion"] == "3.40"
    assert g["qgisMaximumVersion"] == "4.99"
    assert (REPO / g["icon"]).exists()


def test_qt6_checker_flags_breakers(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from PyQt5.QtCore import Qt\n"
        "dlg.exec_()\n"
        "x = Qt.AlignLeft\n"
        "b = QMessageBox.Ok\n"
        "ok = Qt.AlignmentFlag.AlignLeft\n"
        "fine = QgsProject.instance()\n"
    )
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "check_qt6.py"), str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 4, r.stdout
    assert all(f"bad.py:{n}:" in r.stdout for n in (1, 2, 3, 4))


def test_repository_passes_qt6_check():
    checker = str(REPO / "scripts" / "check_qt6.py")
    r = subprocess.run([sys.executable, checker], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_package_zip_has_plugin_and_nothing_else(tmp_path):
    import zipfile

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import package
    finally:
        sys.path.pop(0)
    zpath = package.build(str(tmp_path))
    names = zipfile.ZipFile(zpath).namelist()
    assert "tile_embeddings/__init__.py" in names
    assert "tile_embeddings/metadata.txt" in names
    assert all(n.startswith("tile_embeddings/") for n in names)
    assert not any("/tests/" in n or "__pycache__" in n or n.endswith(".pyc") or "/scripts/" in n
                   for n in names)
