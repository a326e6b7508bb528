"""The engine of Tile Embeddings: numpy, GDAL, torch and faiss, never qgis.

Everything here runs (and is unit-tested) without QGIS, so the same code serves the Processing
algorithms, the dock, scripts and Dask workers. Heavy modules (torch, torchvision, faiss, numba,
dask) are imported inside the functions that need them.
"""
