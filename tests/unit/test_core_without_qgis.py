"""The engine must import and work where no qgis module exists (Dask workers, scripts)."""

import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"

BLOCK_QGIS = r"""
import importlib, pkgutil, sys

class BlockQgis:
    def find_spec(self, name, path=None, target=None):
        if name == "qgis" or name.startswith("qgis."):
            raise ImportError("qgis is blocked in this test")
        return None

sys.meta_path.insert(0, BlockQgis())
import tile_embeddings.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "tile_embeddings.core.")]
for name in names:
    importlib.import_module(name)
assert not any(m == "qgis" or m.startswith("qgis.") for m in sys.modules), "qgis got imported"
heavy = [m for m in ("torch", "faiss", "torchvision", "numba", "dask") if m in sys.modules]
assert not heavy, f"heavy modules imported at module level: {heavy}"
print("IMPORTED", len(names))
"""


def test_every_core_module_imports_without_qgis_or_heavy_deps():
    modules = [p for p in CORE.rglob("*.py") if p.name != "__init__.py"]
    r = subprocess.run([sys.executable, "-c", BLOCK_QGIS], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"IMPORTED {len(modules)}" in r.stdout


def test_core_sources_never_mention_qgis_imports():
    offenders = []
    for path in CORE.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import qgis", "from qgis")):
                offenders.append(f"{path.name}:{n}")
    assert offenders == []
