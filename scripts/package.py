"""Build the plugin zip that the QGIS plugin manager installs ("Install from ZIP").

The zip holds one folder, ``tile_embeddings/``, with the plugin code and resources only:
no tests, scripts, caches or build outputs. Test fixtures live under tests/; a file named
``test_*`` that strays into a packaged folder stops the build rather than reaching users (every
.model3 in resources/models is listed in the Processing toolbox).
"""
import configparser
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = ["__init__.py", "metadata.txt", "LICENSE", "README.md", "core", "plugin",
           "processing_provider", "resources"]
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~")


def version():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    return parser.get("general", "version")


def packaged_files():
    """(path, name in the zip) of every file that goes into the plugin zip."""
    files = []
    for item in INCLUDE:
        path = os.path.join(ROOT, item)
        if os.path.isfile(path):
            files.append((path, f"tile_embeddings/{item}"))
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                if name.endswith(SKIP_SUFFIXES):
                    continue
                full = os.path.join(dirpath, name)
                if name.startswith("test_"):
                    raise ValueError(f"{full} looks like a test file: move it to tests/data")
                files.append((full, "tile_embeddings/" + os.path.relpath(full, ROOT).replace(os.sep, "/")))
    return files


def build(out_dir):
    files = packaged_files()
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"tile_embeddings-{version()}.zip")
    tmp = target + ".part"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for full, name in files:
            z.write(full, name)
    os.replace(tmp, target)
    return target


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "dist")))
