"""The dock's "Find all" mode, without widgets: train a classifier on the tiles a person labelled,
show every tile's probability and the detections, propose the tiles to check next.

The labels are the similarity session's query set: positives (yes) and negatives (no). Training,
scoring and proposing run in a QgsTask (``core.classifier``, the engine of the ``classifytiles``
algorithm); the map layers are drawn on the UI thread. Labels are saved to and loaded from a
GeoPackage layer (tile id, label, time, tile polygon) that also feeds ``classifytiles``.
"""

import time

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateTransform,
    QgsFeature,
    QgsTask,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QMetaType, QObject, pyqtSignal

from .result_layers import memory_layer, write_gpkg
from .search_task import call_back

LABELS_LAYER = "labels"
PROPOSALS = 10
MAX_REGIONS = 2000  # more detection regions than this are drawn as cells (a raster), not polygons


class FindAllTask(QgsTask):
    """Train on the labels, score every tile, propose the next tiles to label."""

    def __init__(self, index, positives, negatives, centers, generation, on_done, threshold=0.5,
                 proposals=PROPOSALS, grid=None, previous=None, quality_only=False):
        super().__init__(QCoreApplication.translate("FindAllTask", "Tile Embeddings: find all"), QgsTask.Flag.CanCancel)
        self.index = index
        self.positives = list(positives)
        self.negatives = list(negatives)
        self.centers = centers
        self.generation = generation
        self.on_done = on_done
        self.threshold = float(threshold)
        self.n_proposals = int(proposals)
        self.classifier = None
        self.probabilities = None
        self.proposals = []
        self.grid = grid
        self.previous = previous
        self.quality_only = quality_only  # only the labels' quality estimate, after the map is drawn
        self.regions = None  # detections dissolved on the tile grid; None: drawn per tile (or as cells)
        self.detected = 0
        self.error = None
        self.seconds = 0.0

    def run(self):
        from ..core import classifier as core_classifier
        from ..core.progress import Progress

        t0 = time.perf_counter()
        progress = Progress(is_canceled=self.isCanceled)
        try:
            self.classifier = core_classifier.train(self.index, self.positives, self.negatives,
                                                    quality=self.quality_only, previous=self.previous,
                                                    progress=progress)
            if self.isCanceled() or self.quality_only:
                return not self.isCanceled()
            self.probabilities = self.classifier.score(self.index, progress)
            labelled = self.positives + self.negatives
            self.proposals = core_classifier.propose(self.index, self.classifier, self.probabilities,
                                                     n=self.n_proposals, labelled=labelled,
                                                     centers=self.centers, threshold=self.threshold)
            mask = self.probabilities >= self.threshold
            self.detected = int(mask.sum())
            if self.grid is not None:
                from ..core.tile_grid import grid_regions

                self.regions = grid_regions(self.grid, self.probabilities, mask, self.index.crs_wkt,
                                            max_regions=MAX_REGIONS)
        except Exception as e:  # reported in the dock, never a traceback dialog
            self.error = e
            return False
        finally:
            self.seconds = time.perf_counter() - t0
        return not self.isCanceled()

    def finished(self, ok):
        call_back(self.on_done, self, ok)


class FindAll(QObject):
    """Find-all state on top of a :class:`~.similarity_session.SimilaritySession`."""

    trained = pyqtSignal(dict)  # quality text, log, detections, proposals, milliseconds
    message = pyqtSignal(str, object)
    timed = pyqtSignal(float)  # ms from the label (or the button) to the layers drawn
    quality_ready = pyqtSignal(dict)  # the same info with the labels' quality estimate filled in

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.active = False
        self.threshold = 0.5
        self.classifier = None
        self.probabilities = None
        self.proposals = []
        self.label_times = {}
        self.last_info = {}
        self.task = None
        self.generation = 0
        self.last_ms = None
        self._t0 = None
        self._centers = None
        session.queryChanged.connect(self._labels_changed)
        session.cleared.connect(self._session_cleared)
        session.indexOpened.connect(lambda _info: self._forget())

    # -- mode -----------------------------------------------------------------------------------
    def set_active(self, on):
        self.active = bool(on)
        if self.active:
            self.retrain(explicit=True)
        else:
            self._cancel()
            self.session.layers.hide_find_all()
            self.session.refresh_canvas()

    def _forget(self):
        self._cancel()
        self.classifier, self.probabilities, self.proposals = None, None, []
        self._centers = None
        self.label_times = {}

    def _session_cleared(self):
        self._forget()
        self.trained.emit({"quality": "", "log": [], "detections": 0, "proposals": [], "ms": 0.0})

    def _cancel(self):
        if self.task is not None:
            try:
                self.task.cancel()
            except RuntimeError:
                pass
        self.generation += 1
        self.task = None

    def busy(self):
        return self.task is not None

    def shutdown(self):
        """The dock is going away: stop a running training and let its thread let go of the index."""
        task = self.task
        self._cancel()
        if task is not None:
            try:
                task.waitForFinished(10000)
            except RuntimeError:
                pass

    # -- labels ---------------------------------------------------------------------------------
    def label(self, tile_id, yes):
        """Mark ``tile_id`` yes (positive) or no (negative); retrains when the mode is on."""
        s = self.session
        positives = [t for t in s.positives if t != tile_id]
        negatives = [t for t in s.negatives if t != tile_id]
        (positives if yes else negatives).append(tile_id)
        self._t0 = time.perf_counter()
        s.set_query(positives, negatives)

    def _labels_changed(self):
        s = self.session
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        current = set(s.positives) | set(s.negatives)
        for t in current:
            self.label_times.setdefault(t, now)
        for t in list(self.label_times):
            if t not in current:
                del self.label_times[t]
        if self.active:
            self.retrain()

    # -- training -------------------------------------------------------------------------------
    def retrain(self, explicit=False):
        """Train in the background; ``explicit`` (the button) says why nothing happens, if so."""
        s = self.session
        if s.index is None or not s.positives:
            self._cancel()
            s.layers.hide_find_all()
            if explicit:
                self.message.emit(self.tr("Choose a similarity index first.") if s.index is None else
                                  self.tr("Find all: label at least one tile yes (click it) to train."),
                                  Qgis.MessageLevel.Info)
            return False
        self._cancel()
        if self._t0 is None:
            self._t0 = time.perf_counter()
        if self._centers is None:
            self._centers = self._tile_centers()
        # the map first (a warm-started fit, no cross-validation), the quality estimate after it
        self.task = FindAllTask(s.index, s.positives, s.negatives, self._centers, self.generation,
                                self._done, self.threshold, grid=getattr(s.lookup, "grid", None),
                                previous=self.classifier)
        QgsApplication.taskManager().addTask(self.task)
        return True

    def _tile_centers(self):
        """Tile centres in index order (the proposals are spread over the map), from the lookup."""
        return self.session.lookup.centers(self.session.index.ids)

    def _done(self, task, ok):
        if task.generation != self.generation or not self.session.alive():
            return
        if task.quality_only:
            self._quality_done(task, ok)
            return
        self.task = None
        if not ok:
            if task.error is not None:
                self.message.emit(self.tr("Find all failed: {}").format(task.error), Qgis.MessageLevel.Critical)
            self._t0 = None
            return
        self.classifier, self.probabilities, self.proposals = task.classifier, task.probabilities, task.proposals
        s = self.session
        if task.regions is not None:
            detected = task.regions
        elif task.grid is not None:  # too scattered for polygons: the detected cells, as a raster
            detected = None
        else:
            detected = [(s.index.ids[r], float(self.probabilities[r]))
                        for r in (self.probabilities >= self.threshold).nonzero()[0]]
        if self.active:
            s.layers.show_find_all(s.index.crs_wkt, s.lookup.geometries, s.index.ids, self.probabilities,
                                   detected, task.grid, self.threshold)
        info = {"quality": self.tr("estimating quality…"), "log": list(self.classifier.log),
                "detections": task.detected, "regions": len(detected) if detected is not None else None,
                "proposals": list(self.proposals),
                "ms": task.seconds * 1000.0}
        self.trained.emit(info)
        self.last_info = info
        self._time_drawing()
        self.task = FindAllTask(s.index, s.positives, s.negatives, None, self.generation, self._done,
                                previous=self.classifier, quality_only=True)
        QgsApplication.taskManager().addTask(self.task)

    def _quality_done(self, task, ok):
        self.task = None
        if not ok or task.classifier is None or self.classifier is None:
            return
        self.classifier.quality = task.classifier.quality
        info = dict(self.last_info, quality=task.classifier.quality.get("text", ""))
        self.last_info = info
        self.quality_ready.emit(info)

    def _time_drawing(self):
        t0, self._t0 = self._t0, None
        canvas = self.session.canvas
        if t0 is None:
            return

        def done():
            self.last_ms = (time.perf_counter() - t0) * 1000.0
            self.timed.emit(self.last_ms)

        if canvas is not None and canvas.isVisible():
            def on_refreshed():
                try:
                    canvas.mapCanvasRefreshed.disconnect(on_refreshed)
                except (RuntimeError, TypeError):
                    pass
                done()
            canvas.mapCanvasRefreshed.connect(on_refreshed)
            canvas.refresh()
        else:
            done()

    def probability_of(self, tile_id):
        if self.probabilities is None:
            return None
        return float(self.probabilities[self.session.index.row_of(tile_id)])

    # -- saving and loading labels ----------------------------------------------------------------
    def save_labels(self, path):
        """Write the labels (tile_id, label 1/0, time, tile polygon) to a GeoPackage, atomically."""
        s = self.session
        if s.index is None or not (s.positives or s.negatives):
            raise ValueError(self.tr("no labels to save: click tiles first"))
        layer = memory_layer(LABELS_LAYER, s.index.crs_wkt,
                             [("tile_id", QMetaType.Type.QString), ("label", QMetaType.Type.Int),
                              ("time", QMetaType.Type.QString)])
        features = []
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for value, ids in ((1, s.positives), (0, s.negatives)):
            for tile_id in ids:
                f = QgsFeature(layer.fields())
                f.setGeometry(s.lookup.geometries[tile_id])
                f.setAttributes([tile_id, value, self.label_times.get(tile_id, now)])
                features.append(f)
        layer.dataProvider().addFeatures(features)
        write_gpkg(layer, path, LABELS_LAYER, s.project.transformContext())
        return len(features)

    def load_labels(self, path):
        """Read labels saved by :meth:`save_labels` (or any point/polygon layer with ``label`` and
        optionally ``tile_id``): ids known to the index are used as they are, other features pick
        the tile under their centre. Returns (positives, negatives, ignored)."""
        from ..core.classifier import parse_label

        s = self.session
        if s.index is None:
            raise ValueError(self.tr("choose a similarity index first"))
        layer = QgsVectorLayer(f"{path}|layername={LABELS_LAYER}", "labels", "ogr")
        if not layer.isValid():
            layer = QgsVectorLayer(path, "labels", "ogr")
        if not layer.isValid() or layer.fields().indexOf("label") < 0:
            raise ValueError(self.tr("{} has no layer with a 'label' field").format(path))
        has_id = layer.fields().indexOf("tile_id") >= 0
        has_time = layer.fields().indexOf("time") >= 0
        transform = QgsCoordinateTransform(layer.crs(), s.crs, s.project)
        positives, negatives, ignored, times = [], [], 0, {}
        for f in layer.getFeatures():
            value = parse_label(f["label"])
            tile_id = f["tile_id"] if has_id else None
            if tile_id not in s.lookup.geometries:
                geom = f.geometry()
                tile_id = None
                if geom is not None and not geom.isEmpty():
                    geom.transform(transform)
                    tile_id = s.lookup.tile_at(geom.centroid().asPoint())
            if value is None or tile_id is None:
                ignored += 1
                continue
            (positives if value else negatives).append(tile_id)
            if has_time and f["time"]:
                times[tile_id] = str(f["time"])
        positives = list(dict.fromkeys(positives))
        negatives = [t for t in dict.fromkeys(negatives) if t not in positives]
        self.label_times = times
        self._t0 = time.perf_counter()
        s.set_query(positives, negatives)
        return positives, negatives, ignored
