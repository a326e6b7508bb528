"""Tile thumbnails rendered by QGIS from the index's source raster (its own style, any CRS)."""

from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsRasterLayer
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, QSize, pyqtSignal
from qgis.PyQt.QtGui import QColor


class ThumbnailRenderer(QObject):
    """Renders small images of tile footprints asynchronously; emits ``ready(tile_id, QImage)``."""

    ready = pyqtSignal(str, object)

    def __init__(self, raster_path, crs, size=64, parent=None):
        super().__init__(parent)
        self.size = size
        self.crs = crs
        self.layer = QgsRasterLayer(raster_path, "thumbnail source") if raster_path else None
        self.jobs = {}
        self.cache = {}

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
        settings = QgsMapSettings()
        settings.setLayers([self.layer])
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
