"""The numba kernels of similarity search, compiled once per process.

One query is one matrix-vector product, which is memory-bound: each kernel streams its rows on
every core (``parallel``), without the GIL (``nogil``), and without copying a memory-mapped array.

Calls must hold :data:`LOCK`: numba's fallback threading layer (``workqueue``, used when neither
TBB nor OpenMP is available) must not be entered by two threads at once, whatever the kernel.
"""

import threading

import numpy as np

LOCK = threading.Lock()
_COMPILED = {}
_COMPILE_LOCK = threading.Lock()
prange = range  # numba.prange once a kernel is compiled (same meaning in plain Python)


def dot_rows(x, q, out):
    """``out[i] = x[i] . q`` for float32 rows (the exact search)."""
    n, d = x.shape
    for i in prange(n):
        acc = np.float32(0.0)
        for j in range(d):
            acc += x[i, j] * q[j]
        out[i] = acc


def dot_codes(codes, w, out):
    """``out[i] = codes[i] . w`` in int32 for int8 codes and int16 weights (the candidate scan).

    Widening int8 to int16 lets LLVM use ``vpmaddwd`` (16 products per AVX2 instruction); the
    caller bounds ``|w|`` so that the int32 sum cannot overflow.
    """
    n, d = codes.shape
    for i in prange(n):
        acc = np.int32(0)
        for j in range(d):
            acc += np.int16(codes[i, j]) * w[j]
        out[i] = acc


def compiled(func):
    """``func`` compiled with numba (parallel, nogil, fastmath), once per process."""
    name = func.__name__
    kernel = _COMPILED.get(name)
    if kernel is None:
        with _COMPILE_LOCK:
            kernel = _COMPILED.get(name)
            if kernel is None:
                import numba

                globals()["prange"] = numba.prange
                try:
                    kernel = numba.njit(parallel=True, fastmath=True, nogil=True, cache=True)(func)
                except RuntimeError:  # no writable cache folder (read-only plugin install)
                    kernel = numba.njit(parallel=True, fastmath=True, nogil=True)(func)
                _COMPILED[name] = kernel
    return kernel
