"""Embed tiles on a Dask distributed cluster: one machine's worker processes, or many machines.

The run is :func:`.embedding.embed_tiles` with a ``scheduler`` address: the client opens the
tiles, computes the global stretch's cut values, loads the model once (for its fingerprint and
dimensions) and owns the index's ``.partial`` folder, resume state and final rename, exactly as a
local run. Only the per-chunk step moves: each task is :func:`.embedding.embed_chunk` on tiles
``i..j``, run by a worker that opens the sources itself with GDAL (the paths must be readable
there: no pixels pass through the client) and keeps the model loaded between tasks (one per
worker process, keyed by the weights' SHA-256). The tile source and the preprocessing (with the
cut values) are sent to every worker once; a task carries two numbers and returns the chunk's
float32 embeddings and valid fractions, which the client writes into the memory-mapped index as
they come. At most twice as many chunks as the cluster has threads are in flight, so the
client's memory stays flat at any size.

Before the model loads, every worker is asked whether it can run the chunks: the plugin's code
importable, the runtime the client chose installed, a sample of the source paths readable. A
refusal names the worker and says what to install or share.

Inside QGIS this only connects to a running cluster: no worker process is ever started from the
QGIS binary (see ``STYLE.md``); ``dask scheduler`` and ``dask worker`` run beside it.
"""

import os
import threading
import time
import uuid

from .errors import InputError

CONNECT_TIMEOUT = 5  # seconds to reach the scheduler and to find a worker there
CHECK_PATHS = 16  # source paths each worker opens before the run
POLL_S = 0.05  # how often the client looks for finished chunks and at cancel
WORKERLESS_S = 120  # a cluster without any worker for this long ends the run (its rows kept for a resume)

_PYTHONPATH_FIX = (
    "put the folder that holds tile_embeddings (the plugin folder's parent) on the worker's PYTHONPATH "
    "and restart it"
)


# -- the client side ----------------------------------------------------------------------------
def connect(address, timeout=None):
    """A Dask client of the scheduler at ``address`` with at least one worker, or an
    :class:`InputError` naming SCHEDULER that says what to start."""
    try:
        from distributed import Client
    except ImportError as e:
        raise InputError(
            "a scheduler address needs the 'distributed' package (pip install distributed, or apt install "
            "python3-distributed); leave it empty to embed on this machine.",
            parameter="SCHEDULER",
        ) from e
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as e:  # refused, timed out, a malformed address: all mean "not there"
        raise InputError(
            f"cannot reach the Dask scheduler at {address} within {timeout} s ({type(e).__name__}: {e}). "
            "Start one with `dask scheduler` and give the address it prints (tcp://host:8786), or leave it "
            "empty to embed on this machine.",
            parameter="SCHEDULER",
        ) from e
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception as e:
        client.close()
        raise InputError(
            f"the Dask scheduler at {address} has no workers: start `dask worker {address}` on the "
            "machines that should embed.",
            parameter="SCHEDULER",
        ) from e
    return client


def _sample_paths(source):
    """Up to :data:`CHECK_PATHS` of the files the workers will open, spread over the list."""
    paths = source.cut_sources()
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if len(paths) <= CHECK_PATHS:
        return [os.fspath(p) for p in paths]
    step = (len(paths) - 1) / (CHECK_PATHS - 1)
    return [os.fspath(paths[round(k * step)]) for k in range(CHECK_PATHS)]


def check_workers(client, runtime, source):
    """Raise an :class:`InputError` naming SCHEDULER, the worker and what is wrong, unless every
    worker can import this package, has ``runtime`` and can open the source files."""
    import dask
    import distributed

    results = client.run(
        _worker_check, runtime, _sample_paths(source), (dask.__version__, distributed.__version__),
        on_error="return",
    )
    problems = []
    for worker, result in sorted(results.items()):
        if isinstance(result, BaseException):
            problems.append(f"worker {worker} cannot run the plugin's code ({type(result).__name__}: {result}): "
                            f"{_PYTHONPATH_FIX}")
        else:
            problems.extend(f"worker {worker} {p}" for p in result)
    if problems:
        more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
        raise InputError("; ".join(problems[:4]) + more, parameter="SCHEDULER")
    return sorted(results)


def check_cluster(address, runtime, source, progress=None):
    """Connect to ``address`` and check its workers (:func:`check_workers`); the run's first step,
    taken before the model loads so that a wrong address fails in seconds."""
    from .progress import ensure

    ensure(progress).text(f"checking the Dask workers at {address}")
    client = connect(address)
    try:
        return check_workers(client, runtime, source)
    finally:
        client.close()


def worker_spec(extractor, worker_model):
    """What a worker needs to load the client's model and prove it is the same: the files the
    client loaded (found first, when they are on a shared path), then what the user gave (the
    worker's own torchvision cache or ONNX export), and the weights' SHA-256 and dimensions."""
    candidates = []
    if extractor.runtime == "onnxruntime":
        candidates.append(getattr(extractor, "path", None))
    elif getattr(extractor, "weights_path", None) and os.path.isfile(extractor.weights_path):
        candidates.append(extractor.weights_path)
    candidates.append(worker_model.get("weights"))
    seen, unique = set(), []
    for c in candidates:
        key = str(c or "")
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return {
        "model": worker_model["model"],
        "device": worker_model.get("device", "auto"),
        "input_size": int(worker_model["input_size"]),
        "runtime": extractor.runtime,
        "candidates": unique,
        "weights_sha256": extractor.weights_sha256,
        "dims": int(extractor.dims),
        "features": getattr(extractor, "features", None),  # what the vector is made of, as resolved here
    }


def embed_on_cluster(address, source, prep, extractor, worker_model, starts, batch_size, n, store, progress):
    """Embed the chunks beginning at ``starts`` (``batch_size`` tiles each, ``n`` in all) on the
    cluster at ``address``; ``store(start, end, vectors, fractions)`` receives each chunk as it
    completes (in any order) and reports progress. Returns timing figures for the index metadata.

    Cancel (``progress``) cancels the chunks not yet done and closes the client; the rows stored
    so far stay in the ``.partial`` folder for a resume, as in a local run.
    """
    from .progress import ensure

    progress = ensure(progress)
    client = connect(address)
    pending = set()
    try:
        workers = check_workers(client, extractor.runtime, source)
        spec = worker_spec(extractor, worker_model)
        threads = max(1, sum(client.nthreads().values()))
        progress.text(
            f"embedding {sum(min(s + batch_size, n) - s for s in starts)} tiles on {len(workers)} Dask "
            f"worker(s), {threads} thread(s), at {address}"
        )
        # sent once to every worker, not with each task
        source_f, prep_f = client.scatter([source, prep], broadcast=True, hash=False)
        run = uuid.uuid4().hex[:8]
        todo = iter(starts)

        def submit():
            s = next(todo, None)
            if s is not None:
                pending.add(client.submit(
                    _embed_chunk_task, source_f, prep_f, spec, s, min(s + batch_size, n),
                    pure=False, key=f"te-embed-{run}-{s}",
                ))

        for _ in range(2 * threads):
            submit()
        ran_on, busy_s = set(), 0.0
        t0 = time.perf_counter()
        seen, look = time.monotonic(), 0.0
        while pending:
            progress.check()
            finished = [f for f in pending if f.done()]
            if not finished:
                now = time.monotonic()
                if now >= look:  # every worker gone (machines stopped, killed): say so, do not wait forever
                    look = now + 1.0
                    if _has_workers(client):
                        seen = now
                    elif now - seen > WORKERLESS_S:
                        raise InputError(
                            f"the Dask cluster at {address} has had no worker for {WORKERLESS_S:.0f} s. Start "
                            f"`dask worker {address}` again and run the algorithm again: the tiles embedded so far "
                            "are kept and the run resumes after them.",
                            parameter="SCHEDULER",
                        )
                time.sleep(POLL_S)
                continue
            seen = time.monotonic()
            for fut in finished:
                pending.discard(fut)
                try:
                    result = fut.result()  # a bug on a worker raises here, with its traceback
                except Exception as e:
                    if fut.status != "cancelled" and "Cancelled" not in type(e).__name__:
                        raise
                    # not by us: the cluster dropped the chunk (every worker died, the scheduler restarted)
                    raise InputError(
                        f"the Dask cluster at {address} cancelled a chunk of tiles (its workers or scheduler "
                        "stopped?). Run the algorithm again: the tiles embedded so far are kept and the run "
                        "resumes after them.",
                        parameter="SCHEDULER",
                    ) from e
                fut.release()
                if "error" in result:
                    raise InputError(
                        f"worker {result['worker']}: {result['error']}",
                        parameter=result.get("parameter") or "SCHEDULER",
                    )
                ran_on.add(result["worker"])
                busy_s += result["seconds"]
                store(result["start"], result["end"], result["vectors"], result["fractions"])
                submit()
        return {"workers": len(ran_on), "worker_busy_s": busy_s, "cluster_s": time.perf_counter() - t0}
    except BaseException:
        if pending:
            client.cancel(list(pending))
        raise
    finally:
        client.close()


def _has_workers(client):
    """Whether the scheduler has any worker now (True when it cannot be asked: no false alarm)."""
    try:
        return bool(client.scheduler_info().get("workers"))
    except Exception:
        return True


def embed_tiles_dask(output, scheduler, **kwargs):
    """:func:`.embedding.embed_tiles` with the tiles embedded on the Dask cluster at ``scheduler``."""
    from .embedding import embed_tiles

    if not (scheduler or "").strip():
        raise InputError("no Dask scheduler address given (tcp://host:8786)", parameter="SCHEDULER")
    return embed_tiles(output, scheduler=scheduler, **kwargs)


# -- the worker side ----------------------------------------------------------------------------
_models = {}
_models_lock = threading.Lock()


def _worker_address():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _worker_check(runtime, paths, versions):
    """Run on each worker before the run: what stops it, as phrases that follow its name."""
    from .models import ONNXRUNTIME_INSTALL, TORCH_INSTALL, TORCH_PACKAGES, have_onnxruntime, missing_modules

    problems = []
    try:
        import dask
        import distributed

        here = (dask.__version__, distributed.__version__)
        if tuple(versions) != here:
            problems.append(f"has dask {here[0]} / distributed {here[1]}, the client {versions[0]} / {versions[1]}: "
                            "install the same versions on both")
    except ImportError:
        pass
    if runtime == "onnxruntime" and not have_onnxruntime():
        problems.append(f"has no onnxruntime, the runtime this run uses: install it there ({ONNXRUNTIME_INSTALL}), "
                        "or choose the runtime torch")
    if runtime == "torch":
        missing = missing_modules(TORCH_PACKAGES)
        if missing:
            problems.append(f"lacks {', '.join(missing)}, which the torch runtime needs: install them there "
                            f"({TORCH_INSTALL}), or choose the runtime onnxruntime")
    from osgeo import gdal

    for p in paths:
        try:
            ds = gdal.OpenEx(p, gdal.OF_RASTER) if os.path.exists(p) else None
        except RuntimeError:
            ds = None
        if ds is None:
            problems.append(f"cannot read the source {p}: put the sources on a path every worker can read "
                            "(a shared or mounted folder at the same path)")
            break  # one unreadable path says enough about the mount
        ds = None
    return problems


def _model_threads():
    """Intra-op threads for a worker's model: TE_MODEL_THREADS, else OMP_NUM_THREADS (Dask's nanny
    sets it to 1), else the cores shared out between the worker's threads."""
    from .models import usable_cores

    for name in ("TE_MODEL_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        from distributed import get_worker

        nthreads = int(get_worker().state.nthreads)
    except Exception:
        nthreads = 1
    return max(1, usable_cores() // max(1, nthreads))


def _load_model(spec):
    """The client's model, loaded here: the first candidate whose weights hash matches."""
    from .onnx_runtime import is_imagenet_weights
    from .runtimes import load_extractor

    found, last_error = [], None
    for weights in spec["candidates"]:
        if weights and not is_imagenet_weights(weights) and not os.path.isfile(str(weights)):
            continue  # a file of the client's machine that is not shared with this one
        try:
            ext = load_extractor(
                spec["model"], weights, spec["device"], spec["input_size"], None, spec["runtime"], _model_threads(),
                features=spec["features"],
            )
        except InputError as e:
            last_error = e
            continue
        if (
            ext.weights_sha256 == spec["weights_sha256"]
            and ext.dims == spec["dims"]
            and getattr(ext, "features", None) == spec["features"]
        ):
            return ext
        found.append(f"{ext.weights_path} (sha256 {str(ext.weights_sha256)[:12]}...)")
    if found:
        raise InputError(
            f"the weights found on the worker ({', '.join(found)}) are not the client's (sha256 "
            f"{spec['weights_sha256'][:12]}...): put the client's weights file on a path the workers can read",
            parameter="WEIGHTS",
        )
    if last_error is not None:
        raise last_error
    raise InputError(
        f"the model's weights are not on the worker (tried {', '.join(str(c) for c in spec['candidates'])}): put "
        "them on a path the workers can read",
        parameter="WEIGHTS",
    )


def worker_extractor(spec):
    """The model of ``spec`` in this worker process, loaded on its first chunk and kept (one model
    at a time: a new run with other weights replaces it)."""
    key = tuple(spec[k] for k in ("runtime", "weights_sha256", "model", "input_size", "device", "features"))
    with _models_lock:  # the worker's other threads wait for the one loading it
        ext = _models.get(key)
        if ext is None:
            _models.clear()
            ext = _models[key] = _load_model(spec)
    return ext


def _embed_chunk_task(source, prep, spec, start, end):
    """One task: tiles ``start..end-1`` embedded on this worker. A fixable problem (a file that
    cannot be read, weights not found) comes back as a message, so that the client can name the
    worker and the parameter (an exception loses its parameter on its way through Dask)."""
    from .embedding import embed_chunk

    t0 = time.perf_counter()
    try:
        vectors, fractions = embed_chunk(worker_extractor(spec), source, prep, start, end)
    except InputError as e:
        return {"start": start, "error": e.message, "parameter": e.parameter, "worker": _worker_address()}
    return {
        "start": start,
        "end": end,
        "vectors": vectors,
        "fractions": fractions,
        "worker": _worker_address(),
        "seconds": time.perf_counter() - t0,
    }
