"""Embeddings on a real Dask cluster (two worker processes on loopback) against a local run of the
same tiles: equal results, progress, cancel and resume, and refusals that name the scheduler."""

import json
import os
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from osgeo import gdal  # noqa: E402

from tile_embeddings.core import embed_dask  # noqa: E402
from tile_embeddings.core import index as tindex  # noqa: E402
from tile_embeddings.core.embedding import PARTIAL_SUFFIX, STATE, VALID, embed_tiles  # noqa: E402
from tile_embeddings.core.errors import Canceled, InputError  # noqa: E402
from tile_embeddings.core.progress import Progress  # noqa: E402

# OSBS_029 is 400 x 400 px: 64 px tiles stepping 48 px give 8 x 8 = 64 real tiles
TILES = dict(tile_size=64, overlap=16, batch_size=8, device="cpu")


@pytest.fixture(scope="module")
def cluster():
    assert "tile_embeddings" in os.listdir(os.environ["PYTHONPATH"].split(os.pathsep)[0])  # workers import it
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as c:
        assert len(c.scheduler_info["workers"]) == 2
        yield c.scheduler_address


@pytest.fixture(scope="module")
def local(neon_osbs, tmp_path_factory):
    out = embed_tiles(str(tmp_path_factory.mktemp("local") / "osbs.teindex"), raster=str(neon_osbs), **TILES)
    return tindex.open_index(out)


def _same_as_local(path, local):
    index = tindex.open_index(path)
    assert list(index.ids) == list(local.ids) and len(index) == 64
    a = np.asarray(index.embeddings, dtype=np.float64)
    b = np.asarray(local.embeddings, dtype=np.float64)
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() >= 0.9999, cos.min()
    assert index.meta["preprocessing"] == local.meta["preprocessing"]  # the cuts computed on the client
    assert index.meta["weights_sha256"] == local.meta["weights_sha256"]
    return index


def test_dask_equals_local_with_monotone_progress(cluster, local, neon_osbs, tmp_path):
    seen = []
    out = embed_tiles(
        str(tmp_path / "dask.teindex"), raster=str(neon_osbs), scheduler=cluster,
        progress=Progress(on_progress=seen.append), **TILES,
    )
    index = _same_as_local(out, local)
    # the chunks ran in both worker processes, and the run recorded it
    assert index.meta["timing"]["workers"] == 2
    assert index.meta["timing"]["worker_busy_s"] > 0
    # the embedding stage (5-90 %) and after: one step per chunk as it completes, never backwards
    # (the opening stages, before 5 %, are the local run's and not the cluster's)
    embedding = seen[next(i for i, f in enumerate(seen) if f >= 0.05):]
    assert embedding == sorted(embedding) and embedding[-1] == 1.0
    assert len([f for f in embedding if 0.05 < f <= 0.9]) == 8  # 64 tiles / 8 per chunk
    assert not os.path.exists(str(tmp_path / "dask.teindex") + PARTIAL_SUFFIX)


def test_torch_runtime_runs_on_the_workers(cluster, local, neon_osbs, tmp_path):
    """RUNTIME=torch: the workers load torch (the runtime the client resolved), same numbers."""
    pytest.importorskip("torch")
    out = embed_tiles(str(tmp_path / "t.teindex"), raster=str(neon_osbs), scheduler=cluster, runtime="torch", **TILES)
    index = _same_as_local(out, local)
    assert index.meta["runtime"] == "torch"


def test_cancel_midway_then_resume(cluster, local, neon_osbs, tmp_path):
    out = tmp_path / "c.teindex"
    progress = Progress()
    chunks = []

    def on_progress(f):
        chunks.append(f)
        if f > 0.4:  # some chunks stored, others still running on the workers
            progress.cancel()

    progress._on_progress = on_progress
    with pytest.raises(Canceled):
        embed_tiles(str(out), raster=str(neon_osbs), scheduler=cluster, progress=progress, **TILES)
    partial = str(out) + PARTIAL_SUFFIX
    assert not out.exists()
    # what a resume needs, and nothing else
    assert sorted(os.listdir(partial)) == sorted([STATE, VALID, tindex.EMBEDDINGS])
    with open(os.path.join(partial, STATE)) as f:
        done = json.load(f)["done"]
    assert 0 < done < 64 and done % TILES["batch_size"] == 0
    # a resumed run embeds the rest on the cluster and equals the local run
    texts = []
    path = embed_tiles(str(out), raster=str(neon_osbs), scheduler=cluster, progress=Progress(on_text=texts.append),
                       **TILES)
    assert any(f"resuming after {done} of 64" in t for t in texts)
    _same_as_local(path, local)
    assert not os.path.exists(partial)


def test_a_cluster_that_loses_every_worker_ends_the_run_and_keeps_its_rows(neon_osbs, tmp_path, monkeypatch):
    """Every worker killed mid-run (machines gone, no nanny to restart them): a clear message naming
    SCHEDULER, not a traceback or a wait forever; the rows stored so far stay for a resume."""
    import subprocess
    import sys

    monkeypatch.setattr(embed_dask, "WORKERLESS_S", 3)
    sfile = str(tmp_path / "scheduler.json")
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", sfile],
                                 stderr=subprocess.DEVNULL)
    workers = []
    try:
        for _ in range(100):
            if os.path.exists(sfile) and os.path.getsize(sfile):
                break
            time.sleep(0.1)
        workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", sfile,
                                     "--nthreads", "1", "--no-dashboard", "--no-nanny"], stderr=subprocess.DEVNULL)
                   for _ in range(2)]
        with open(sfile) as f:
            address = json.load(f)["address"]
        with distributed.Client(address, timeout=20, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)

        def on_progress(f):
            if f > 0.3:  # some chunks stored: every worker dies
                for w in workers:
                    w.kill()

        out = tmp_path / "w.teindex"
        t0 = time.monotonic()
        with pytest.raises(InputError) as e:
            embed_tiles(str(out), raster=str(neon_osbs), scheduler=address,
                        progress=Progress(on_progress=on_progress), **TILES)
        assert time.monotonic() - t0 < 120
    finally:
        for p in workers + [scheduler]:
            p.kill()
            p.wait(timeout=30)
    assert e.value.parameter == "SCHEDULER"
    # distributed cancels the chunks of dead workers (or, where it keeps them waiting, the watchdog ends the run)
    message = e.value.message
    assert "cancelled a chunk of tiles" in message or "has had no worker for 3 s" in message, message
    assert "the run resumes after them" in message
    assert not out.exists()
    with open(os.path.join(str(out) + PARTIAL_SUFFIX, STATE)) as f:
        assert 0 < json.load(f)["done"] < 64


def test_unreachable_scheduler_names_it(neon_osbs, tmp_path, monkeypatch):
    monkeypatch.setattr(embed_dask, "CONNECT_TIMEOUT", 2)
    out = tmp_path / "u.teindex"
    with pytest.raises(InputError) as e:
        embed_tiles(str(out), raster=str(neon_osbs), scheduler="tcp://127.0.0.1:9", **TILES)
    assert e.value.parameter == "SCHEDULER"
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in e.value.message
    assert not out.exists() and not os.path.exists(str(out) + PARTIAL_SUFFIX)


def test_worker_that_cannot_read_the_source_is_named(cluster, neon_osbs, tmp_path):
    # /vsimem is this process's own memory: the client reads it, the worker processes cannot
    path = "/vsimem/te_dask_only_here.tif"
    gdal.Translate(path, str(neon_osbs))
    try:
        out = tmp_path / "r.teindex"
        with pytest.raises(InputError) as e:
            embed_tiles(str(out), raster=path, scheduler=cluster, **TILES)
    finally:
        gdal.Unlink(path)
    assert e.value.parameter == "SCHEDULER"
    assert f"cannot read the source {path}" in e.value.message
    workers = [w for w in e.value.message.split() if w.startswith("tcp://127.0.0.1:")]
    assert workers, e.value.message  # the worker is named
    assert not out.exists() and not os.path.exists(str(out) + PARTIAL_SUFFIX)


def test_workers_without_the_plugin_or_the_runtime_are_named(neon_osbs, tmp_path):
    """A cluster started by hand the way the README says, with two mistakes: one `dask worker`
    without the plugin on its PYTHONPATH, one without torch (an import hook refuses it, as in
    tests/no_torch.py). A torch run is refused before the model loads, naming both."""
    import subprocess
    import sys

    from no_torch import BLOCK_TORCH

    sfile = str(tmp_path / "scheduler.json")
    no_path = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    worker = ["--scheduler-file", sfile, "--nthreads", "1", "--no-dashboard", "--no-nanny"]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", sfile],
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(100):
            if os.path.exists(sfile) and os.path.getsize(sfile):
                break
            time.sleep(0.1)
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", *worker],
                                      env=no_path, cwd="/", stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", BLOCK_TORCH + "\nfrom distributed.cli.dask_worker import main\nmain()\n", *worker],
            stderr=subprocess.DEVNULL))
        with open(sfile) as f:
            address = json.load(f)["address"]
        with distributed.Client(address, timeout=20, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        with pytest.raises(InputError) as e:
            embed_tiles(str(tmp_path / "t.teindex"), raster=str(neon_osbs), scheduler=address, runtime="torch",
                        **TILES)
    finally:
        for p in procs[::-1]:
            p.terminate()
            p.wait(timeout=30)
    message = e.value.message
    assert e.value.parameter == "SCHEDULER"
    assert "cannot run the plugin's code" in message and "No module named 'tile_embeddings'" in message
    assert "PYTHONPATH" in message
    assert "lacks torch, torchvision, which the torch runtime needs" in message
    assert len({w for w in message.split() if w.startswith("tcp://127.0.0.1:")}) == 2  # both named
    assert not (tmp_path / "t.teindex").exists() and not (tmp_path / "t.teindex.partial").exists()


def test_several_sources_on_the_cluster_equal_local(cluster, neon_osbs, neon_yell, tmp_path):
    """An index of two rasters (each with its own cut values): the workers open both themselves."""
    crop = str(tmp_path / "yell_crop.tif")
    gdal.Translate(crop, str(neon_yell), srcWin=[0, 0, 320, 320])
    sources = [str(neon_osbs), crop]
    kw = dict(tile_size=64, batch_size=8, device="cpu")
    a = tindex.open_index(embed_tiles(str(tmp_path / "l.teindex"), raster=sources, **kw))
    b = tindex.open_index(embed_tiles(str(tmp_path / "d.teindex"), raster=sources, scheduler=cluster, **kw))
    assert len(a) == 36 + 25 and list(a.ids) == list(b.ids)
    x, y = np.asarray(a.embeddings, np.float64), np.asarray(b.embeddings, np.float64)
    assert ((x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))).min() >= 0.9999
    assert b.meta["preprocessing"] == a.meta["preprocessing"]
