"""tile_embeddings:embedtiles with SCHEDULER: the tiles embedded on a real Dask cluster of two
worker processes, started outside the QGIS process (a helper Python process), equal to a local run."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from qgis.core import Qgis, QgsProcessingException

pytest.importorskip("distributed")

from tile_embeddings.core.index import open_index  # noqa: E402

# OSBS_029 is 400 x 400 px: 64 px tiles stepping 48 px give 8 x 8 = 64 real tiles
SMALL = {"TILE_SIZE": 64, "OVERLAP": 16, "BATCH_SIZE": 8, "DEVICE": 1}  # DEVICE 1: cpu

CLUSTER = """
import sys
from distributed import LocalCluster

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a LocalCluster running in its own python3 process (never the QGIS one)."""
    script = tmp_path_factory.mktemp("cluster") / "cluster.py"
    script.write_text(CLUSTER)
    python = shutil.which("python3") or sys.executable
    proc = subprocess.Popen(
        [python, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=dict(os.environ),
    )
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        yield address
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def processing(te_provider):
    import processing

    return processing


def test_embedtiles_on_a_dask_cluster_equals_local(processing, scheduler, neon_osbs, tmp_path):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById("tile_embeddings:embedtiles")
    param = alg.parameterDefinition("SCHEDULER")
    assert param is not None and param.flags() & Qgis.ProcessingParameterFlag.Advanced
    local = processing.run(
        "tile_embeddings:embedtiles", {"INPUT": str(neon_osbs), "OUTPUT": str(tmp_path / "l.teindex"), **SMALL}
    )
    remote = processing.run(
        "tile_embeddings:embedtiles",
        {"INPUT": str(neon_osbs), "OUTPUT": str(tmp_path / "d.teindex"), "SCHEDULER": scheduler, **SMALL},
    )
    assert remote["COUNT"] == local["COUNT"] == 64
    a, b = open_index(local["OUTPUT"]), open_index(remote["OUTPUT"])
    assert list(a.ids) == list(b.ids)
    x, y = np.asarray(a.embeddings, np.float64), np.asarray(b.embeddings, np.float64)
    cos = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    assert cos.min() >= 0.9999
    assert b.meta["timing"]["workers"] >= 1  # embedded by the cluster's workers


def test_unreachable_scheduler_names_the_parameter(processing, neon_osbs, tmp_path, monkeypatch):
    from tile_embeddings.core import embed_dask

    monkeypatch.setattr(embed_dask, "CONNECT_TIMEOUT", 2)
    out = tmp_path / "u.teindex"
    with pytest.raises(QgsProcessingException) as e:
        processing.run(
            "tile_embeddings:embedtiles",
            {"INPUT": str(neon_osbs), "OUTPUT": str(out), "SCHEDULER": "tcp://127.0.0.1:9", **SMALL},
        )
    assert "(SCHEDULER)" in str(e.value) and "cannot reach the Dask scheduler" in str(e.value)
    assert not out.exists() and not os.path.exists(str(out) + ".partial")
