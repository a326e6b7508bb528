"""K-means for the Shepherd segmentation's spectral clusters: a good optimum on every run.

The clusters decide most of the segmentation (each clump of one cluster is a starting region), so
where a scene's classes are noisy, two fits of nearly equal quality can give very different
segment counts: on the bench scene two local optima 0.05 % apart in mean squared distance gave
segment counts 10 % apart (3000 x 3000 window), and faiss's k-means (random start, 25 iterations,
used before) gave 128,898 to 175,005 segments on the whole scene depending on the seed alone. So
the fit has to land on the *same* good optimum whatever the seed:

- **greedy k-means++ seeding** (Arthur & Vassilvitskii 2007; 2 + ln k candidates per centre, the
  one lowering the total squared distance most is kept), as scikit-learn;
- **Lloyd iterations until the centres stop moving** (sum of squared shifts at most ``tol`` times
  the mean band variance, scikit-learn's rule), accelerated with Hamerly's bounds, which skip the
  samples whose nearest centre cannot have changed (same result as plain Lloyd);
- **breathing k-means** (Fritzke 2022, "Breathing K-Means: Superior K-Means Solutions through
  Dynamic K-Values"): ``m`` centres are added next to those with the largest error and, after
  Lloyd, the ``m`` least useful removed; repeated while the fit improves, with ``m`` shrinking.
  This is what makes the result nearly seed-independent (plain restarts did not: see
  bench/bench_segmentation.py);
- **a few runs**, keeping the lowest inertia (mean squared distance to the nearest centre);
- **deterministic**: every run draws from its own stream of ``numpy.random.SeedSequence(seed)``,
  so a seed gives the same centres whatever the thread count.

numpy + numba (nogil), no BLAS call in the loops: runs go on threads without oversubscribing the
cores. :func:`native_threads` scopes the BLAS/OpenMP pools (threadpoolctl) around the fit.
"""

import contextlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .progress import ensure
from .seg_kernels import kernel

KMEANS_SEED = 1234
KMEANS_ITERATIONS = 300  # scikit-learn's max_iter (pyshepseg); RSGISLib: 200
KMEANS_RESTARTS = 2
KMEANS_TOL = 1e-4  # scikit-learn's tol
KMEANS_BREATHING = 10  # centres added and removed per breathing cycle (Fritzke: 5)
BREATHING_TOL = 10.0  # convergence tolerance of the breathing cycles, times ``tol``
CHUNK = 20  # Lloyd iterations per kernel call: cancel is checked between chunks


@dataclass
class KMeansOptions:
    """What changes the clusters (and so the segments). The defaults reach a good optimum."""

    seed: int = KMEANS_SEED
    iterations: int = KMEANS_ITERATIONS  # at most, each time Lloyd runs to convergence
    restarts: int = KMEANS_RESTARTS
    standardise: bool = True  # bands to zero mean, unit variance on the sample
    init: str = "k-means++"  # or "diagonal": pyshepseg's fixed start (evenly along the diagonal)
    tol: float = KMEANS_TOL
    trials: int = 0  # k-means++ candidates per centre; 0: 2 + ln k (scikit-learn's)
    breathing: int = KMEANS_BREATHING  # breathing k-means' m (0: plain k-means++ and Lloyd)


@dataclass
class KMeansResult:
    centres: np.ndarray  # (k, bands) float64
    inertia: float  # mean squared distance of a sample to its nearest centre
    iterations: int  # of the kept restart
    converged: bool
    restarts: int


@contextlib.contextmanager
def native_threads(n=1):
    """Limit BLAS (OpenBLAS, MKL, BLIS) and OpenMP thread pools to ``n`` inside the block.

    On busy shared cores a BLAS or OpenMP pool spinning on every core made a 6-band k-means fit
    ten times slower than one thread (measured). threadpoolctl is optional: without it the pools
    keep their sizes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=max(1, int(n))):
        yield


# -- numba kernels ---------------------------------------------------------------------------
def kmeans_pp(x, k, first, u):
    """Greedy k-means++: indices of up to ``k`` seeds among the rows of ``x`` (n, d).

    ``first`` is the first seed; ``u`` (k, trials) uniform draws pick ``trials`` candidates per
    further seed with probability proportional to the squared distance to the nearest seed so
    far; the candidate lowering the total most is kept. Fewer than ``k`` seeds come back when
    every row already coincides with a seed (fewer distinct values than ``k``).
    """
    n, d = x.shape
    trials = u.shape[1]
    out = np.empty(k, dtype=np.int64)
    closest = np.empty(n)
    cand = np.empty(n)
    best_d = np.empty(n)
    cum = np.empty(n)
    out[0] = first
    for i in range(n):
        s = 0.0
        for b in range(d):
            t = x[i, b] - x[first, b]
            s += t * t
        closest[i] = s
    found = 1
    for c in range(1, k):
        acc = 0.0
        for i in range(n):
            acc += closest[i]
            cum[i] = acc
        if not acc > 0.0:
            break
        best_pot = np.inf
        best = -1
        for t in range(trials):
            idx = np.searchsorted(cum, u[c, t] * acc, side="right")
            if idx >= n:
                idx = n - 1
            pot = 0.0
            for i in range(n):
                s = 0.0
                for b in range(d):
                    y = x[i, b] - x[idx, b]
                    s += y * y
                if s > closest[i]:
                    s = closest[i]
                cand[i] = s
                pot += s
            if pot < best_pot:
                best_pot = pot
                best = idx
                best_d[:] = cand
        out[c] = best
        closest[:] = best_d
        found += 1
    return out[:found]


def assign_exact(x, centres, labels, upper, lower, err, util):
    """Exact nearest and second-nearest centre of every row: ``labels``, ``upper`` (distance to
    the nearest), ``lower`` (to the second); per centre ``err`` (sum of its rows' squared
    distances) and ``util`` (how much the total grows without it: its rows' squared distance to
    the second nearest minus to the nearest). Returns the total squared distance."""
    n, d = x.shape
    k = centres.shape[0]
    err[:] = 0.0
    util[:] = 0.0
    total = 0.0
    ct = np.ascontiguousarray(centres.T)
    dist = np.empty(k)
    for i in range(n):
        dist[:] = 0.0
        for b in range(d):  # band-major: the loop over centres vectorises
            xb = x[i, b]
            for c in range(k):
                t = xb - ct[b, c]
                dist[c] += t * t
        d1 = np.inf
        d2 = np.inf
        a = 0
        for c in range(k):
            s = dist[c]
            if s < d1:
                d2 = d1
                d1 = s
                a = c
            elif s < d2:
                d2 = s
        labels[i] = a
        upper[i] = math.sqrt(d1)
        lower[i] = math.sqrt(d2)
        total += d1
        err[a] += d1
        if k > 1:
            util[a] += d2 - d1
    return total


def add_centres(x, centres, first_new, labels, upper, lower):
    """Centres ``first_new``.. were appended: update the assignment and bounds (``upper`` must be
    exact, as :func:`assign_exact` leaves it) from the distances to the new centres only."""
    n, d = x.shape
    k = centres.shape[0]
    for i in range(n):
        for c in range(first_new, k):
            s = 0.0
            for b in range(d):
                t = x[i, b] - centres[c, b]
                s += t * t
            s = math.sqrt(s)
            if s < upper[i]:
                if upper[i] < lower[i]:
                    lower[i] = upper[i]
                upper[i] = s
                labels[i] = c
            elif s < lower[i]:
                lower[i] = s


def drop_centres(x, centres, new_index, labels, upper, lower):
    """Some centres were removed (``new_index[old]`` = position in ``centres``, -1 if removed):
    rows of a removed centre are reassigned exactly; the others keep valid bounds (removing
    centres only moves the second nearest farther)."""
    n, d = x.shape
    k = centres.shape[0]
    ct = np.ascontiguousarray(centres.T)
    dist = np.empty(k)
    for i in range(n):
        a = new_index[labels[i]]
        if a >= 0:
            labels[i] = a
            continue
        dist[:] = 0.0
        for b in range(d):
            xb = x[i, b]
            for c in range(k):
                t = xb - ct[b, c]
                dist[c] += t * t
        d1 = np.inf
        d2 = np.inf
        for c in range(k):
            s = dist[c]
            if s < d1:
                d2 = d1
                d1 = s
                a = c
            elif s < d2:
                d2 = s
        labels[i] = a
        upper[i] = math.sqrt(d1)
        lower[i] = math.sqrt(d2)


def lloyd_hamerly(x, centres, labels, upper, lower, sums, counts, recount, iterations, tol):
    """Up to ``iterations`` Lloyd iterations (Hamerly 2010 bounds) on ``centres`` in place.

    State kept between calls: ``labels``, ``upper`` (distance to the assigned centre, an upper
    bound), ``lower`` (lower bound of the distance to every other centre), per-cluster ``sums``
    and ``counts`` (``recount`` = True rebuilds those two from ``labels``). Returns (iterations
    done, converged). A cluster left empty moves to the sample farthest from its centre.
    """
    n, d = x.shape
    k = centres.shape[0]
    half = np.empty(k)
    shift = np.empty(k)
    old = np.empty(d)
    ct = np.empty((d, k))
    dist = np.empty(k)
    if recount:
        sums[:] = 0.0
        counts[:] = 0
        for i in range(n):
            a = labels[i]
            counts[a] += 1
            for b in range(d):
                sums[a, b] += x[i, b]
    done = 0
    converged = False
    while done < iterations:
        done += 1
        # M step: move the centres, fill empty clusters with the worst-served samples
        for c in range(k):
            if counts[c] == 0:
                far = -1
                fd = -1.0
                for i in range(n):
                    if upper[i] > fd and counts[labels[i]] > 1:
                        fd = upper[i]
                        far = i
                if far < 0:
                    continue  # every sample is alone in its cluster: nothing to move
                a = labels[far]
                counts[a] -= 1
                for b in range(d):
                    sums[a, b] -= x[far, b]
                labels[far] = c
                counts[c] = 1
                for b in range(d):
                    sums[c, b] = x[far, b]
                upper[far] = 0.0
                lower[far] = 0.0
        total = 0.0
        for c in range(k):
            s = 0.0
            if counts[c] == 0:
                shift[c] = 0.0
                continue
            for b in range(d):
                old[b] = centres[c, b]
                centres[c, b] = sums[c, b] / counts[c]
                t = centres[c, b] - old[b]
                s += t * t
            total += s
            shift[c] = math.sqrt(s)
        if total <= tol:
            converged = True
            break
        # bounds follow the centres
        r1 = 0
        for c in range(1, k):
            if shift[c] > shift[r1]:
                r1 = c
        r2 = -1
        for c in range(k):
            if c != r1 and (r2 < 0 or shift[c] > shift[r2]):
                r2 = c
        for i in range(n):
            a = labels[i]
            upper[i] += shift[a]
            lower[i] -= shift[r2] if (a == r1 and r2 >= 0) else shift[r1]
        for c in range(k):
            m = np.inf
            for c2 in range(k):
                if c2 != c:
                    s = 0.0
                    for b in range(d):
                        t = centres[c, b] - centres[c2, b]
                        s += t * t
                    if s < m:
                        m = s
            half[c] = 0.5 * math.sqrt(m)
        # E step, skipping samples whose bounds prove their centre unchanged
        for c in range(k):
            for b in range(d):
                ct[b, c] = centres[c, b]
        moved = 0
        for i in range(n):
            a = labels[i]
            bound = half[a] if half[a] > lower[i] else lower[i]
            if upper[i] <= bound:
                continue
            s = 0.0
            for b in range(d):
                t = x[i, b] - centres[a, b]
                s += t * t
            upper[i] = math.sqrt(s)
            if upper[i] <= bound:
                continue
            dist[:] = 0.0
            for b in range(d):
                xb = x[i, b]
                for c in range(k):
                    t = xb - ct[b, c]
                    dist[c] += t * t
            d1 = np.inf
            d2 = np.inf
            a2 = 0
            for c in range(k):
                s = dist[c]
                if s < d1:
                    d2 = d1
                    d1 = s
                    a2 = c
                elif s < d2:
                    d2 = s
            upper[i] = math.sqrt(d1)
            lower[i] = math.sqrt(d2)
            if a2 != a:
                moved += 1
                labels[i] = a2
                counts[a] -= 1
                counts[a2] += 1
                for b in range(d):
                    sums[a, b] -= x[i, b]
                    sums[a2, b] += x[i, b]
        if moved == 0:
            converged = True
            break
    return done, converged


# -- driver ------------------------------------------------------------------------------------
def diagonal_centres(x, k):
    """pyshepseg's fixed start: ``k`` points evenly spaced on the diagonal of the data's bounding
    box, one step in from each corner."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    step = (hi - lo) / (k + 1)
    return lo + step * np.arange(1, k + 1)[:, None]


class _Fit:
    """Centres with the assignment and Hamerly bounds of every sample."""

    def __init__(self, x, centres, labels=None, upper=None, lower=None):
        self.x = x
        self.centres = np.array(centres, dtype=np.float64, order="C")
        n = len(x)
        self.labels = np.zeros(n, np.int64) if labels is None else labels.copy()
        self.upper = np.empty(n) if upper is None else upper.copy()
        self.lower = np.empty(n) if lower is None else lower.copy()
        self.total = None  # total squared distance, known after exact()
        self.iterations = 0
        self.converged = False

    def exact(self):
        """Assign exactly; sets ``total``, per-centre ``err`` and ``util``."""
        k = len(self.centres)
        self.err, self.util = np.empty(k), np.empty(k)
        self.total = kernel(assign_exact)(self.x, self.centres, self.labels, self.upper, self.lower,
                                          self.err, self.util)
        return self

    def grown(self, extra):
        """A copy with ``extra`` centres appended (``self`` must be exact)."""
        out = _Fit(self.x, np.vstack([self.centres, extra]), self.labels, self.upper, self.lower)
        kernel(add_centres)(self.x, out.centres, len(self.centres), out.labels, out.upper, out.lower)
        return out

    def without(self, removed):
        """This fit (in place) with the centres ``removed`` taken out."""
        keep = np.ones(len(self.centres), bool)
        keep[removed] = False
        index = np.full(len(self.centres), -1, np.int64)
        index[keep] = np.arange(keep.sum())
        self.centres = np.ascontiguousarray(self.centres[keep])
        kernel(drop_centres)(self.x, self.centres, index, self.labels, self.upper, self.lower)
        self.total = None
        return self

    def lloyd(self, options, tol, progress):
        """Lloyd iterations until the centres stop moving (or ``options.iterations``)."""
        k = len(self.centres)
        sums, counts = np.zeros((k, self.x.shape[1])), np.zeros(k, np.int64)
        step_fn = kernel(lloyd_hamerly)
        done, converged, recount = 0, False, True
        while done < options.iterations and not converged:
            progress.check()
            step, converged = step_fn(self.x, self.centres, self.labels, self.upper, self.lower, sums,
                                      counts, recount, min(CHUNK, options.iterations - done), tol)
            done += step
            recount = False
        self.iterations += done
        self.converged = converged
        self.total = None
        return self


def _breathe(fit, rng, options, tol, progress):
    """Breathing k-means (Fritzke 2022): escape Lloyd's local optimum by adding ``m`` centres next
    to the ones with the largest error, converging, removing the ``m`` of least utility (never two
    neighbours at once), converging again; kept when the total error fell, else ``m`` shrinks.
    ``fit`` must be exact; the returned one is too."""
    n, d = fit.x.shape
    loose = tol * BREATHING_TOL  # the cycles only compare solutions; the caller converges fully
    m = min(int(options.breathing), len(fit.centres))
    iterations = fit.iterations
    while m > 0:
        progress.check()
        top = np.argsort(-fit.err, kind="stable")[:m]
        jitter = rng.normal(0.0, 0.01 * math.sqrt(fit.total / n), (m, d))
        trial = fit.grown(fit.centres[top] + jitter).lloyd(options, loose, progress).exact()
        gap = ((trial.centres[:, None, :] - trial.centres[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(gap, np.inf)
        nearest = gap.argmin(axis=1)
        removed, frozen = [], set()
        order = np.argsort(trial.util, kind="stable")
        for j in order:
            if len(removed) < m and j not in frozen:
                removed.append(j)
                frozen.add(int(nearest[j]))
        for j in order:  # too many frozen: take the next least useful
            if len(removed) < m and j not in removed:
                removed.append(j)
        trial.without(removed).lloyd(options, loose, progress).exact()
        iterations += trial.iterations
        if trial.total < fit.total * (1.0 - 1e-4):
            fit = trial
        else:
            m -= 1
    fit.iterations = iterations
    return fit


def _one_run(x, k, rng_seed, options, tol, progress):
    n = len(x)
    rng = np.random.default_rng(rng_seed)
    if options.init == "diagonal":
        centres = diagonal_centres(x, k)
    else:
        trials = options.trials or (2 + int(math.log(k)) if k > 1 else 1)
        first = int(rng.integers(n))
        u = rng.random((k, trials))
        centres = x[kernel(kmeans_pp)(x, k, first, u)]
    fit = _Fit(x, centres).exact().lloyd(options, tol, progress).exact()
    if options.breathing > 0 and len(fit.centres) > 1:
        fit = _breathe(fit, rng, options, tol, progress).lloyd(options, tol, progress).exact()
    return fit.centres, fit.total / n, fit.iterations, fit.converged


def kmeans(x, k, options=None, progress=None, threads=1):
    """Cluster the rows of ``x`` (n, d) into at most ``k`` clusters (fewer when ``x`` has fewer
    distinct rows). Returns a :class:`KMeansResult`; restarts run on ``threads`` threads."""
    options = options or KMeansOptions()
    progress = ensure(progress)
    x = np.ascontiguousarray(x, dtype=np.float64)
    k = max(1, min(int(k), len(x)))
    tol = float(options.tol) * float(np.mean(np.var(x, axis=0)))
    restarts = 1 if options.init == "diagonal" else max(1, int(options.restarts))
    seeds = np.random.SeedSequence(int(options.seed)).spawn(restarts)
    progress.start(restarts)

    def run(s):
        out = _one_run(x, k, s, options, tol, progress)
        progress.step()
        return out

    if threads > 1 and restarts > 1:
        with ThreadPoolExecutor(min(threads, restarts), thread_name_prefix="kmeans") as pool:
            runs = list(pool.map(run, seeds))
    else:
        runs = [run(s) for s in seeds]
    best = min(range(restarts), key=lambda r: (runs[r][1], r))
    centres, inertia, done, converged = runs[best]
    return KMeansResult(centres, float(inertia), int(done), bool(converged), restarts)
