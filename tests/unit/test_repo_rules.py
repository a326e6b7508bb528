"""Project rules that are cheap to check and easy to break."""

import configparser
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
