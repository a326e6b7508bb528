"""A thread pool that keeps input order and stops early on cancel or error.

Threads, not processes: inside QGIS ``sys.executable`` is the QGIS binary. The work is GDAL I/O and
numpy, which release the GIL.
"""

import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from .progress import ensure


def default_threads(threads=None, cap=8):
    """``threads`` if given (> 0), else one per CPU core, at most ``cap``.

    More threads than cores measured no faster on a shared 2-core machine and burnt more CPU in
    GIL hand-offs; each thread holds one tile.
    """
    if threads:
        return max(1, int(threads))
    return max(1, min(cap, os.cpu_count() or 1))


def ordered_map(fn, items, threads=None, progress=None, window=None):
    """``[fn(item) for item in items]`` on ``threads`` threads, one progress step per item.

    At most ``window`` items are in flight (memory stays bounded); the first exception (including
    :class:`~.errors.Canceled`) stops submitting and is re-raised once running items finish.
    """
    progress = ensure(progress)
    items = list(items)
    threads = default_threads(threads)
    window = window or threads * 4
    results = [None] * len(items)
    progress.start(len(items) or 1)
    if threads == 1:
        for i, item in enumerate(items):
            progress.check()
            results[i] = fn(item)
            progress.step()
        return results
    with ThreadPoolExecutor(threads) as pool:
        pending = {}
        next_index = 0
        try:
            while next_index < len(items) or pending:
                while next_index < len(items) and len(pending) < window:
                    progress.check()
                    pending[pool.submit(fn, items[next_index])] = next_index
                    next_index += 1
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in sorted(done, key=pending.get):
                    i = pending.pop(future)
                    results[i] = future.result()  # re-raises the worker's exception
                    progress.step()
        except BaseException:
            for future in pending:
                future.cancel()
            wait(pending)
            raise
    return results
