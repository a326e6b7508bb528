"""Numba kernels of the Shepherd segmentation, for the steps no library does in one GIL-free pass.

Each kernel is a plain Python function compiled on first use with ``numba.njit(nogil=True,
cache=True)`` (see :func:`kernel`), so importing this module costs nothing and tiles running in a
thread pool really run in parallel. Why numba here and not a library:

- nearest-centre labelling fuses nodata test, band standardisation and arg-min in one pass with
  no (pixels x clusters) distance matrix (faiss would need a float32 copy of every tile);
- 4-connected clumping of a *multi-class* image: ``scipy.ndimage.label`` labels one binary image,
  so k classes need k full passes (measured ~25x slower at k=60); the union-find here is one pass
  and is tested against ``ndimage.label``;
- elimination walks the region adjacency graph, which no vectorised form expresses.

Conventions: label/clump/segment id 0 is nodata; ids 1..n are dense and numbered in raster scan
order of each region's first pixel, so the numbering does not depend on how the image was tiled.
"""

import threading

import numpy as np

_LOCK = threading.Lock()
_COMPILED = {}


def kernel(fn):
    """The compiled (nogil, disk-cached) version of one of this module's kernels."""
    name = fn.__name__
    k = _COMPILED.get(name)
    if k is None:
        with _LOCK:
            k = _COMPILED.get(name)
            if k is None:
                import numba

                try:
                    k = numba.njit(nogil=True, cache=True)(fn)
                except RuntimeError:  # no writable cache folder (read-only plugin install)
                    k = numba.njit(nogil=True)(fn)
                _COMPILED[name] = k
    return k


# ---------------------------------------------------------------------------------------------
# 1. nearest cluster centre
def assign_clusters(img, nodata, has_nodata, mean, inv_std, centres):
    """Label each pixel with 1 + its nearest centre (standardised Euclidean), 0 where invalid.

    ``img`` is (bands, rows, cols) of any numeric dtype; a pixel is invalid when any band equals
    that band's nodata value or is NaN. Works a row at a time with distances |c|^2 - 2 v.c, so
    the loop over a row's pixels vectorises (SIMD) for every centre.
    """
    nb, nr, nc = img.shape
    k = centres.shape[0]
    out = np.zeros((nr, nc), dtype=np.int32)
    ct = np.empty((nb, k), dtype=np.float32)
    cn = np.zeros(k, dtype=np.float32)
    for c in range(k):
        for b in range(nb):
            ct[b, c] = -2.0 * centres[c, b]
            cn[c] += centres[c, b] * centres[c, b]
    v = np.empty((nb, nc), dtype=np.float32)
    ok = np.empty(nc, dtype=np.bool_)
    bestd = np.empty(nc, dtype=np.float32)
    dist = np.empty(nc, dtype=np.float32)
    best = np.empty(nc, dtype=np.int32)
    for i in range(nr):
        ok[:] = True
        for b in range(nb):
            mb = mean[b]
            sb = inv_std[b]
            ndb = nodata[b]
            hb = has_nodata[b]
            for j in range(nc):
                x = img[b, i, j]
                if x != x or (hb and x == ndb):
                    ok[j] = False
                v[b, j] = (np.float32(x) - mb) * sb
        bestd[:] = np.inf
        best[:] = 0
        for c in range(k):
            base = cn[c]
            for j in range(nc):
                dist[j] = base
            for b in range(nb):
                w = ct[b, c]
                for j in range(nc):
                    dist[j] += v[b, j] * w
            for j in range(nc):
                if dist[j] < bestd[j]:
                    bestd[j] = dist[j]
                    best[j] = c
        for j in range(nc):
            if ok[j]:
                out[i, j] = best[j] + 1
    return out


# ---------------------------------------------------------------------------------------------
# 2. 4-connected clumps of equal labels
def clump4(labels, parent):
    """Clumps of 4-connected equal non-zero labels; returns (clump ids int32, number of clumps).

    ``parent`` is scratch space of ``labels.size`` integers (int32 or int64 for huge windows).
    Union-find with the smaller pixel index as root, so each root is its clump's first pixel in
    scan order and the ids come out in scan order.
    """
    nr, nc = labels.shape
    out = np.zeros((nr, nc), dtype=np.int32)
    for i in range(nr):
        for j in range(nc):
            p = i * nc + j
            parent[p] = p
            lab = labels[i, j]
            if lab == 0:
                continue
            if j > 0 and labels[i, j - 1] == lab:
                parent[p] = parent[p - 1]  # left neighbour's root (or a node on its path)
            if i > 0 and labels[i - 1, j] == lab:
                # union(p, p - nc)
                a = p
                while parent[a] != a:
                    parent[a] = parent[parent[a]]
                    a = parent[a]
                q = p - nc
                while parent[q] != q:
                    parent[q] = parent[parent[q]]
                    q = parent[q]
                if a < q:
                    parent[q] = a
                elif q < a:
                    parent[a] = q
    n = 0
    for i in range(nr):
        for j in range(nc):
            if labels[i, j] == 0:
                continue
            p = i * nc + j
            r = p
            while parent[r] != r:
                r = parent[r]
            parent[p] = r
            if r == p:
                n += 1
                out[i, j] = n
            else:
                out[i, j] = out[r // nc, r % nc]
    return out, n


# ---------------------------------------------------------------------------------------------
# 3. per-region size and band sums
def region_stats(ids, n, img):
    """Pixel count (int64, n+1) and per-band sums of raw values (float64, (n+1, bands))."""
    nb, nr, nc = img.shape
    size = np.zeros(n + 1, dtype=np.int64)
    sums = np.zeros((n + 1, nb), dtype=np.float64)
    for i in range(nr):
        for j in range(nc):
            s = ids[i, j]
            if s == 0:
                continue
            size[s] += 1
            for b in range(nb):
                sums[s, b] += img[b, i, j]
    return size, sums


# ---------------------------------------------------------------------------------------------
# 4. region adjacency graph (CSR). A pair is recorded once per pixel edge, except that a region
#    skips a neighbour equal to the one it recorded last (most repeats along a shared boundary);
#    elimination drops the remaining repeats as it walks the lists.
def adjacency(ids, n):
    nr, nc = ids.shape
    deg = np.zeros(n + 2, dtype=np.int64)
    last = np.zeros(n + 1, dtype=np.int32)
    for i in range(nr):
        for j in range(nc):
            a = ids[i, j]
            if a == 0:
                continue
            for k in range(2):
                if k == 0:
                    if j + 1 >= nc:
                        continue
                    b = ids[i, j + 1]
                else:
                    if i + 1 >= nr:
                        continue
                    b = ids[i + 1, j]
                if b == 0 or b == a:
                    continue
                if last[a] != b:
                    last[a] = b
                    deg[a + 1] += 1
                if last[b] != a:
                    last[b] = a
                    deg[b + 1] += 1
    for a in range(1, n + 2):
        deg[a] += deg[a - 1]
    indptr = deg
    fill = indptr[:-1].copy()
    indices = np.empty(indptr[n + 1], dtype=np.int32)
    last[:] = 0
    for i in range(nr):
        for j in range(nc):
            a = ids[i, j]
            if a == 0:
                continue
            for k in range(2):
                if k == 0:
                    if j + 1 >= nc:
                        continue
                    b = ids[i, j + 1]
                else:
                    if i + 1 >= nr:
                        continue
                    b = ids[i + 1, j]
                if b == 0 or b == a:
                    continue
                if last[a] != b:
                    last[a] = b
                    indices[fill[a]] = b
                    fill[a] += 1
                if last[b] != a:
                    last[b] = a
                    indices[fill[b]] = a
                    fill[b] += 1
    return indptr, indices


# ---------------------------------------------------------------------------------------------
# 5. iterative elimination (Shepherd et al. 2019, section 2.3)
def eliminate(size, sums, weight, indptr, indices, anchor, min_size, max_dist2, cleanup):
    """Merge regions smaller than ``min_size`` into their spectrally nearest larger neighbour.

    Rounds t = 1 .. min_size-1: every region of exactly t pixels picks, among neighbours larger
    than t, the one whose mean is nearest (squared distance weighted per band by ``weight``,
    i.e. 1/variance: distances in standard deviations); all picks of a round are made first and
    then applied, so the order of regions never matters. A pick farther than ``max_dist2``
    (squared) is dropped and the region survives - except for single pixels, which always join
    their nearest larger neighbour (the paper's and RSGISLib's single-pixel elimination: a lone
    pixel is noise, not a segment), or, when every neighbour is a single pixel too, their
    nearest lower-numbered one. ``anchor`` regions are never eliminated and
    always count as large (regions cut by a tile window's edge). ``size`` and ``sums`` are
    updated in place; returns the root region of every region (int32, n+1).

    ``cleanup``: a second series of rounds then merges every region still under ``min_size``
    into its nearest larger neighbour whatever the distance (or, with none larger, into its
    nearest lower-numbered neighbour of the same size), so none stays under ``min_size`` unless
    its whole connected area is smaller.
    """
    n = size.shape[0] - 1
    nb = sums.shape[1]
    # what a candidate reads of each neighbour, packed in one cache line: band means, then the
    # size used for "is it larger?" (infinite for anchors). float32: sizes compare exactly with
    # the round's t, and the means are the same in every tile that sees a region whole.
    info = np.zeros((n + 1, nb + 1), dtype=np.float32)
    for r in range(1, n + 1):
        info[r, nb] = np.inf if anchor[r] else size[r]
        for b in range(nb):
            info[r, b] = sums[r, b] / size[r]
    # per region, what a walk over members reads together: start of its adjacency range, live
    # entries in it, next member of the region it belongs to (-1: last)
    node = np.empty((n + 1, 3), dtype=np.int64)
    for r in range(n + 1):
        node[r, 0] = indptr[r]
        node[r, 1] = indptr[r + 1] - indptr[r]
        node[r, 2] = -1
    # union-find parent and walk stamp (drops repeated neighbours), read together per neighbour
    ps = np.empty((n + 1, 2), dtype=np.int32)
    for r in range(n + 1):
        ps[r, 0] = r
        ps[r, 1] = -1
    tail = np.arange(n + 1).astype(np.int32)
    small = np.empty(n, dtype=np.int32)
    ns = 0
    for r in range(1, n + 1):
        if size[r] < min_size and not anchor[r]:
            small[ns] = r
            ns += 1
    cand = np.empty(max(ns, 1), dtype=np.int32)
    retry = np.empty(max(ns, 1), dtype=np.int32)
    pick_from = np.empty(max(ns, 1), dtype=np.int32)
    pick_to = np.empty(max(ns, 1), dtype=np.int32)
    mc = np.empty(nb, dtype=np.float64)
    stamp = 0
    for phase in range(2 if cleanup else 1):
        force = phase == 1  # the clean-up rounds: no distance limit, same-size neighbours allowed
        limit = np.inf if force else max_dist2
        if force:
            ns = 0
            for r in range(1, n + 1):
                if ps[r, 0] == r and size[r] < min_size and not anchor[r]:
                    small[ns] = r
                    ns += 1
        for t in range(1, min_size):
            nc = 0
            for s in range(ns):
                c = small[s]
                if size[c] == t:
                    cand[nc] = c
                    nc += 1
            # Passes until nothing moves: every merge shifts the absorbing region's mean, which can
            # bring it within the maximum distance of a region that was too far in the last pass.
            while nc > 0:
                npick = 0
                nretry = 0
                for s in range(nc):
                    c = cand[s]
                    if ps[c, 0] != c or size[c] != t:
                        continue  # a single pixel that a neighbour joined: it is 2+ pixels now
                    for b in range(nb):
                        mc[b] = info[c, b]
                    best = -1
                    bestd = np.inf
                    peer = False  # a t-pixel neighbour: if it merges, its new region is adjacent
                    bestp = -1  # single pixels (or clean-up): nearest same-size neighbour, lower id
                    bestpd = np.inf
                    stamp += 1
                    m = c
                    prev = -1
                    while m != -1:
                        # walk member m's adjacency, dropping edges that became internal and
                        # storing each neighbour's current root, so later walks are shorter
                        lo = node[m, 0]
                        w = lo
                        for e in range(lo, lo + node[m, 1]):
                            r = indices[e]
                            while ps[r, 0] != r:
                                ps[r, 0] = ps[ps[r, 0], 0]
                                r = ps[r, 0]
                            if r == c or ps[r, 1] == stamp:
                                continue  # internal now, or already listed by another member
                            ps[r, 1] = stamp
                            indices[w] = r
                            w += 1
                            rsize = info[r, nb]
                            if rsize < t:
                                continue
                            if rsize == t:
                                peer = True
                                if (t != 1 and not force) or r > c:
                                    continue
                            d = 0.0
                            for b in range(nb):
                                x = mc[b] - info[r, b]
                                d += weight[b] * x * x
                            if rsize == t:
                                if d < bestpd or (d == bestpd and r < bestp):
                                    bestpd = d
                                    bestp = r
                            elif d < bestd or (d == bestd and r < best):
                                bestd = d
                                best = r
                        node[m, 1] = w - lo
                        following = node[m, 2]
                        if w == lo and prev != -1:  # an inner member: unlink it
                            node[prev, 2] = following
                            if tail[c] == m:
                                tail[c] = prev
                        else:
                            prev = m
                        m = following
                    if best < 0 and bestp >= 0:
                        # a patch of single pixels only (a checkerboard, more clusters than the
                        # texture needs): each joins its nearest lower-numbered neighbour; picks only
                        # point down, so they never form a cycle, and a pixel with no lower neighbour
                        # finds a larger one in the next pass
                        best = bestp
                    if best >= 0 and (bestd <= limit or t == 1):
                        pick_from[npick] = c
                        pick_to[npick] = best
                        npick += 1
                    elif best >= 0 or peer:
                        retry[nretry] = c
                        nretry += 1
                for q in range(npick):
                    c = pick_from[q]
                    r = pick_to[q]
                    while ps[r, 0] != r:  # a single pixel's pick may itself have merged this pass
                        r = ps[r, 0]
                    ps[c, 0] = r
                    size[r] += size[c]
                    info[r, nb] += size[c]
                    for b in range(nb):
                        sums[r, b] += sums[c, b]
                        info[r, b] = sums[r, b] / size[r]
                    node[tail[r], 2] = c
                    tail[r] = tail[c]
                if npick == 0:
                    break
                for s in range(nretry):
                    cand[s] = retry[s]
                nc = nretry
            keep = 0  # regions left at t pixels are final: later rounds only merge larger ones
            for s in range(ns):
                c = small[s]
                if ps[c, 0] == c and size[c] > t and size[c] < min_size:
                    small[keep] = c
                    keep += 1
            ns = keep
    parent = np.empty(n + 1, dtype=np.int32)
    parent[0] = 0
    for r in range(1, n + 1):
        a = r
        while ps[a, 0] != a:
            a = ps[a, 0]
        parent[r] = a
    return parent


# ---------------------------------------------------------------------------------------------
# 6. dense relabelling in scan order
def dense_lut(root):
    """Lookup table region -> dense segment id (1..m) numbered by each segment's smallest region id.

    Region ids are in scan order of first pixels, so segments come out in scan order too.
    """
    n = root.shape[0] - 1
    newid = np.zeros(n + 1, dtype=np.int64)
    lut = np.zeros(n + 1, dtype=np.int64)
    m = 0
    for i in range(1, n + 1):
        r = root[i]
        if newid[r] == 0:
            m += 1
            newid[r] = m
        lut[i] = newid[r]
    return lut, m


def apply_lut(ids, lut, out):
    """``out[...] = lut[ids]`` without the GIL (``out`` may be a view of a larger array)."""
    nr, nc = ids.shape
    for i in range(nr):
        for j in range(nc):
            out[i, j] = lut[ids[i, j]]


# ---------------------------------------------------------------------------------------------
# 7. one tile's core: dense ids in core scan order, and per-piece statistics
def crop_core(seg, r0, c0, h, w, m, img, gw, gr0, gc0):
    """Cut rows r0:r0+h, cols c0:c0+w out of a window segmentation (ids 1..m).

    Returns core ids (uint32, renumbered 1..p in the core's scan order), and per core id: pixel
    count, band sums, band sums of squares, and the global raster index (row * gw + col, with the
    window's origin at raster row gr0, col gc0) of its first pixel.
    """
    nb = img.shape[0]
    remap = np.zeros(m + 1, dtype=np.int64)
    out = np.zeros((h, w), dtype=np.uint32)
    cap = 1024
    size = np.zeros(cap, dtype=np.int64)
    sums = np.zeros((cap, nb), dtype=np.float64)
    sq = np.zeros((cap, nb), dtype=np.float64)
    first = np.zeros(cap, dtype=np.int64)
    p = 0
    for i in range(h):
        for j in range(w):
            s = seg[r0 + i, c0 + j]
            if s == 0:
                continue
            q = remap[s]
            if q == 0:
                p += 1
                q = p
                remap[s] = q
                if q >= cap:
                    cap *= 2
                    size2 = np.zeros(cap, dtype=np.int64)
                    size2[: size.shape[0]] = size
                    size = size2
                    sums2 = np.zeros((cap, nb), dtype=np.float64)
                    sums2[: sums.shape[0]] = sums
                    sums = sums2
                    sq2 = np.zeros((cap, nb), dtype=np.float64)
                    sq2[: sq.shape[0]] = sq
                    sq = sq2
                    first2 = np.zeros(cap, dtype=np.int64)
                    first2[: first.shape[0]] = first
                    first = first2
                first[q] = (gr0 + r0 + i) * gw + (gc0 + c0 + j)
            out[i, j] = q
            size[q] += 1
            for b in range(nb):
                x = np.float64(img[b, r0 + i, c0 + j])
                sums[q, b] += x
                sq[q, b] += x * x
    return out, size[: p + 1].copy(), sums[: p + 1].copy(), sq[: p + 1].copy(), first[: p + 1].copy()


def mark_edge_anchors(ids, n, top, bottom, left, right):
    """Regions touching the window sides flagged True (sides cut through the raster, not its edge)."""
    nr, nc = ids.shape
    anchor = np.zeros(n + 1, dtype=np.bool_)
    if top:
        for j in range(nc):
            anchor[ids[0, j]] = True
    if bottom:
        for j in range(nc):
            anchor[ids[nr - 1, j]] = True
    if left:
        for i in range(nr):
            anchor[ids[i, 0]] = True
    if right:
        for i in range(nr):
            anchor[ids[i, nc - 1]] = True
    anchor[0] = False
    return anchor


def union_pairs(parent, a, b):
    """Union-find over ``parent`` (in place) for every pair (a[i], b[i]); smaller index is root."""
    for i in range(a.shape[0]):
        x = a[i]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[i]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y
    for i in range(parent.shape[0]):
        x = i
        while parent[x] != x:
            x = parent[x]
        parent[i] = x
