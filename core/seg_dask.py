"""Run segmentation tiles on a Dask distributed cluster (outside QGIS, or across machines).

The tile task is the same object the thread pool runs: a picklable callable holding the raster
path, the band numbers and the global k-means model, so the result is identical to the threaded
run. Workers need this package importable and the raster readable at the same path. At most
twice as many tiles as the cluster has threads are in flight, so the client's memory stays
bounded too; cancel cancels the cluster's pending tiles.
"""

from .errors import InputError

CONNECT_TIMEOUT = 20  # seconds to reach the scheduler


def run_dask(address, task, specs, on_result, progress, in_flight=None):
    """``on_result(task(spec))`` for every spec, computed on the cluster at ``address``."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError as e:
        raise InputError("a scheduler address needs the 'distributed' package (pip install distributed, "
                         "or apt install python3-distributed)", parameter="SCHEDULER") from e
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {e}", parameter="SCHEDULER") from e
    futures = []
    try:
        threads = max(1, sum(client.nthreads().values()))
        limit = in_flight or 2 * threads
        it = iter(specs)

        def submit_next():
            spec = next(it, None)
            if spec is None:
                return None
            fut = client.submit(task, spec, pure=False, key=f"te-segtile-{id(task):x}-{spec.index}")
            futures.append(fut)
            return fut

        first = [f for f in (submit_next() for _ in range(limit)) if f is not None]
        pending = as_completed(first, loop=client.loop)
        for fut in pending:
            progress.check()
            res = fut.result()
            fut.release()
            on_result(res)
            nxt = submit_next()
            if nxt is not None:
                pending.add(nxt)
    except BaseException:
        client.cancel([f for f in futures if not f.done()])
        raise
    finally:
        client.close()
