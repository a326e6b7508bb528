"""Tile thumbnails rendered by QGIS from the index's source rasters (their own style, any CRS)."""

import re

from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsRasterLayer
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, QSize, pyqtSignal
from qgis.PyQt.QtGui import QColor


class ThumbnailRenderer(QObject):
    """Renders small images of tile footprints asynchronously; emits ``ready(tile_id, QImage)``."""

    ready = pyqtSignal(str, object)

    def __init__(self, raster_path, crs, size=64, parent=None, sources=None):
        """``raster_path``: the raster to draw from; ``sources``: {id prefix: raster path} of an index
        of several rasters, whose tiles (``<prefix>_r<row>_c<col>``) are drawn from their own raster
        (rasters of several dates may cover the same place)."""
        super().__init__(parent)
        self.size = size
        self.crs = crs
        self.sources = dict(sources or {})
        self.layers = {}  # raster path -> QgsRasterLayer, made when a tile of it is first drawn
        self.default = raster_path
        self.layer = self._layer(raster_path)
        self.jobs = {}
        self.cache = {}

    def _layer(self, path):
        if not path:
            return None
        if path not in self.layers:
            self.layers[path] = QgsRasterLayer(path, "thumbnail source")
        return self.layers[path]

    def layer_for(self, tile_id):
        """The raster layer that holds ``tile_id``'s pixels."""
        m = re.match(r"(.+)_r\d+_c\d+$", tile_id)
        path = self.sources.get(m.group(1)) if m else None
        return self._layer(path or self.default)

    def valid(self):
        return self.layer is not None and self.layer.isValid()

    def request(self, tile_id, geometry):
        if not self.valid():
            return
        if tile_id in self.cache:
            self.ready.emit(tile_id, self.cache[tile_id])
            return
        if tile_id in self.jobs:
            return
        layer = self.layer_for(tile_id)
        if layer is None or not layer.isValid():
            return
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(self.crs)
        settings.setExtent(geometry.boundingBox())
        settings.setOutputSize(QSize(self.size, self.size))
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        job = QgsMapRendererParallelJob(settings)
        job.finished.connect(lambda tid=tile_id, j=job: self._done(tid, j))
        self.jobs[tile_id] = job
        job.start()

    def _done(self, tile_id, job):
        if sip.isdeleted(self):  # the dock closed while QGIS was still drawing
            return
        try:
            image = job.renderedImage()
            self.jobs.pop(tile_id, None)
            self.cache[tile_id] = image
            self.ready.emit(tile_id, image)
        except RuntimeError:
            pass

    def cancel(self):
        for job in list(self.jobs.values()):
            job.cancelWithoutBlocking()
        self.jobs = {}
