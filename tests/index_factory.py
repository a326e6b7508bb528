"""Synthetic similarity indexes for dock tests and the dock benchmark (no torch, no QGIS).

Written with the engine's own index writers, so what the dock opens is a real index folder.
Embeddings come in clusters (tiles of one cluster look alike) so searches have a right answer.
"""

import os

import numpy as np


def utm17n_wkt():
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32617)
    return srs.ExportToWkt()


def make_synthetic_index(folder, rows=20, cols=20, dims=64, tile_size_m=25.6, origin=(404000.0, 3285000.0),
                         clusters=8, seed=0, source=None, write_gpkg=True):
    """A ``rows`` x ``cols`` grid index at ``origin`` (top-left, EPSG:32617)."""
    from tile_embeddings.core import index as core_index

    rng = np.random.default_rng(seed)
    n = rows * cols
    centres = rng.normal(size=(clusters, dims)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    partial = folder + ".partial"
    os.makedirs(partial, exist_ok=True)
    # written in chunks: a million rows of 1280 dims are 5 GB, more than a test machine should hold
    emb = np.lib.format.open_memmap(os.path.join(partial, "embeddings.npy"), mode="w+", dtype=np.float32,
                                    shape=(n, dims))
    for start in range(0, n, 65536):
        part = labels[start:start + 65536]
        block = centres[part] + 0.35 * rng.normal(size=(len(part), dims)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        emb[start:start + len(part)] = block
    emb.flush()
    del emb
    ids = [f"syn_r{r}_c{c}" for r in range(rows) for c in range(cols)]
    x0, y0 = origin
    core_index.write_ids(partial, ids)
    wkt = utm17n_wkt()
    if write_gpkg:
        records = []
        for r in range(rows):
            for c in range(cols):
                xa, ya = x0 + c * tile_size_m, y0 - r * tile_size_m
                xb, yb = xa + tile_size_m, ya - tile_size_m
                records.append({"tile_id": f"syn_r{r}_c{c}", "row": r, "col": c, "path": "",
                                "valid_fraction": 1.0, "center_x": (xa + xb) / 2, "center_y": (ya + yb) / 2,
                                "corners": [(xa, ya), (xb, ya), (xb, yb), (xa, yb)]})
        core_index.write_tiles_gpkg(os.path.join(partial, core_index.TILES), wkt, records)
    meta = core_index.base_meta(model="synthetic", count=n, dims=dims, crs_wkt=wkt,
                                sources=[source] if source else [],
                                embeddings_bytes=os.path.getsize(os.path.join(partial, core_index.EMBEDDINGS)))
    core_index.write_meta(partial, meta)
    core_index.publish(partial, folder)
    return folder, labels


def tile_centre(row, col, tile_size_m=25.6, origin=(404000.0, 3285000.0)):
    x0, y0 = origin
    return x0 + (col + 0.5) * tile_size_m, y0 - (row + 0.5) * tile_size_m
