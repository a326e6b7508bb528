"""scripts/package.py --check: the plugin repository's upload checks fail on what they should."""

import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
try:
    import package
finally:
    sys.path.pop(0)

METADATA = """[general]
name=Good
qgisMinimumVersion=3.40
qgisMaximumVersion=4.99
description=d
about=a
version=1.0
author=A
email=a@example.org
tracker=https://example.org/issues
repository=https://example.org/repo
icon=icon.svg
supportsQt6=True
"""
GOOD = {"__init__.py": "def classFactory(iface):\n    pass\n", "metadata.txt": METADATA, "LICENSE": "GPL",
        "icon.svg": "<svg/>", "resources/help/x.html": "<p>x</p>", "i18n/zh_CN.qm": b"\x3c\xb8\x64\x18\x00"}


def make_zip(tmp_path, files, top="good_plugin", name="p.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for rel, content in files.items():
            info = zipfile.ZipInfo(f"{top}/{rel}" if top else rel)
            mode = 0o755 if rel.endswith("run_me.py") else 0o644
            info.external_attr = mode << 16
            z.writestr(info, content)
    return path


def test_a_good_zip_passes_and_the_real_one_too(tmp_path):
    assert package.check_zip(make_zip(tmp_path, GOOD)) == []
    assert package.check_zip(package.build(str(tmp_path / "dist"))) == []


@pytest.mark.parametrize("change, expected", [
    ({"core/__pycache__/x.cpython-313.pyc": b"\x00"}, "compiled Python"),
    ({"core/x.pyc": b"\x00"}, "compiled Python"),
    ({".git/config": "x"}, ".git folder"),
    ({".hidden": "x"}, "hidden file"),
    ({"lib/fast.so": b"\x7fELF"}, "executable or library"),
    ({"run.sh": "#!/bin/sh"}, "executable or library"),
    ({"weights/model.pth": b"PK"}, "unexpected file type"),
    ({"data/area.tif": b"II*\x00"}, "unexpected file type"),
    ({"core/x.py": b"\x00\x01\x02binary"}, "binary content"),
    ({"tools/run_me.py": "print(1)"}, "executable permission"),
    ({"LICENSE": None}, "LICENSE is missing"),
    ({"__init__.py": None}, "__init__.py is missing"),
    ({"metadata.txt": METADATA.replace("email=a@example.org\n", "")}, "email is missing"),
    ({"metadata.txt": METADATA.replace("https://example.org/issues", "http://bugs")}, "tracker=http://bugs"),
    ({"metadata.txt": METADATA.replace("author=A", "author=A/B")}, "slashes"),
    ({"metadata.txt": METADATA.replace("supportsQt6=True", "supportsQt6=maybe")}, "not a boolean"),
    ({"metadata.txt": METADATA.replace("qgisMinimumVersion=3.40", "qgisMinimumVersion=5.0")}, "above"),
    ({"metadata.txt": METADATA.replace("icon.svg", "missing.svg")}, "not in the zip"),
    ({"metadata.txt": "[other]\nname=x\n"}, "no [general] section"),
])
def test_each_repository_rule_fails_a_bad_zip(tmp_path, change, expected):
    files = {**GOOD, **change}
    files = {k: v for k, v in files.items() if v is not None}
    problems = package.check_zip(make_zip(tmp_path, files))
    assert any(expected in p for p in problems), problems


def test_zip_layout_and_size_rules(tmp_path, monkeypatch):
    two_tops = make_zip(tmp_path, {"a/__init__.py": "", "b/__init__.py": ""}, top="")
    assert any("exactly one top folder" in p for p in package.check_zip(two_tops))
    bad_name = make_zip(tmp_path, GOOD, top="1-plugin", name="n.zip")
    assert any("top folder" in p for p in package.check_zip(bad_name))
    monkeypatch.setattr(package, "MAX_ZIP_BYTES", 10)
    assert any("at most" in p for p in package.check_zip(make_zip(tmp_path, GOOD, name="s.zip")))


@pytest.mark.skipif(not os.environ.get("TE_IN_ROOTFS") and not shutil.which("bandit"),
                    reason="bandit, detect-secrets and flake8-qgis are installed in the rootfs")
def test_the_scanners_find_insecure_code_secrets_and_qt6_breakers(tmp_path):
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "clean.py").write_text("from qgis.PyQt.QtCore import Qt\n\nALIGN = Qt.AlignmentFlag.AlignLeft\n")
    clean = dict(package.scan_with_tools(str(folder)))
    assert clean == {"bandit": [], "detect-secrets": [], "flake8-qgis": []}, clean

    key = "AKIA" + "IOSFODNN7" + "EXAMPLE"  # AWS's documented example key, assembled at run time
    (folder / "bad.py").write_text(
        "import subprocess\n"
        "from PyQt5.QtWidgets import QDialog\n"
        f"AWS_KEY = '{key}'\n"
        "def run(cmd, text):\n"
        "    subprocess.call(cmd, shell=True)\n"
        "    return eval(text)\n"
        "def show(dlg: QDialog):\n"
        "    dlg.exec_()\n")
    found = dict(package.scan_with_tools(str(folder)))
    assert {f.split(": ")[1].split()[0] for f in found["bandit"]} >= {"B602", "B307"}, found["bandit"]
    assert any("bad.py:3: AWS Access Key" in f for f in found["detect-secrets"]), found["detect-secrets"]
    codes = {f.split()[1] for f in found["flake8-qgis"]}
    assert {"QGS103", "QGS107"} <= codes, found["flake8-qgis"]
