"""The dock's brain, without widgets: index, query set, background search, map layers.

Kept apart from the dock so tests drive it with a real QgsMapCanvas and compare it with the
``tile_embeddings:similaritysearch`` algorithm: both call the same ``core.search`` functions.
"""

import os
import time

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsFeature,
    QgsProject,
    QgsTask,
)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QMetaType, QObject, pyqtSignal

from .map_tool import ADD_NEGATIVE, ADD_POSITIVE, REPLACE
from .result_layers import ResultLayers, memory_layer, write_gpkg
from .search_task import SearchTask, call_back


class OpenIndexTask(QgsTask):
    """Opens an index and builds its tile lookup off the UI thread (1M tiles take seconds)."""

    def __init__(self, path, on_done):
        super().__init__(QCoreApplication.translate("OpenIndexTask", "Tile Embeddings: open index"),
                         QgsTask.Flag.CanCancel)
        self.path = path
        self.on_done = on_done
        self.index = None
        self.lookup = None
        self.error = None

    def run(self):
        try:
            self.index, self.lookup = load_index(self.path, self.isCanceled, self._progress)
        except Exception as e:
            self.error = e
            return False
        return True

    def _progress(self, fraction, text=None):
        # shown in QGIS's task bar: building the search codes of an older 1M-tile index takes a minute
        self.setProgress(100.0 * fraction)

    def finished(self, ok):
        call_back(self.on_done, self, ok)


def load_index(path, is_canceled=None, report=None):
    """Open the index, its tile lookup and its searcher. ``report(fraction, text)``: progress, for
    an index whose search codes must first be built (large indexes written by older versions)."""
    from ..core.index import open_index
    from ..core.progress import Progress
    from ..core.search import get_searcher, search
    from .tile_lookup import TileLookup

    index = open_index(path)
    lookup = TileLookup(index.tiles_path, is_canceled=is_canceled, index=index)
    lookup.grid = lookup.tile_grid(index.ids)  # the heatmap's raster, one cell per tile (None: polygons)
    if len(index):  # build (and compile) the searcher off the UI thread: the first click is as fast as the next
        text = [None]

        def on_text(t):
            text[0] = t
            if report is not None:
                report(0.0, t)

        progress = Progress(on_progress=(lambda f: report(f, text[0])) if report is not None else None,
                            on_text=on_text, is_canceled=is_canceled)
        get_searcher(index, progress=progress)  # builds missing search codes once, with progress
        search(index, [index.ids[0]], k=1)
    index.rows.start()  # the full id -> row dict, in the background: no click waits for it
    return index, lookup


def source_raster(meta):
    """The raster the index was made from (the first one of several: ``info()['sources']`` maps each
    raster's id prefix to its path, so thumbnails come from each tile's own raster)."""
    for key in ("source", "sources", "source_raster", "raster"):
        value = meta.get(key)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if isinstance(value, dict):
            value = value.get("path")
        if isinstance(value, str) and value and os.path.exists(value):
            return value
    return None


class SimilaritySession(QObject):
    indexOpened = pyqtSignal(dict)
    indexFailed = pyqtSignal(str, str)  # path, reason
    cleared = pyqtSignal()
    queryChanged = pyqtSignal()
    resultsChanged = pyqtSignal()
    message = pyqtSignal(str, object)  # text, Qgis.MessageLevel
    searchTimed = pyqtSignal(float)  # milliseconds from click to results drawn

    def __init__(self, canvas=None, project=None, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.project = project or QgsProject.instance()
        self.layers = ResultLayers(self.project)
        self.index = None
        self.lookup = None
        self.crs = QgsCoordinateReferenceSystem()
        self.positives = []
        self.negatives = []
        self.result_ids = []
        self.result_scores = []
        self.k = 10
        self.min_score = None
        self.heatmap = False
        self.generation = 0
        self.task = None
        self.open_task = None
        self.last_search_ms = None
        self.last_click_ms = None
        self._t_click = None
        self._alive = True

    def alive(self):
        return self._alive and not sip.isdeleted(self)

    def shutdown(self):
        """Stop reacting to tasks still running (the dock is going away)."""
        for task in (self.task, self.open_task):
            if task is not None:
                try:
                    task.cancel()
                    # let the worker thread let go of the index before its owner goes away
                    task.waitForFinished(10000)
                except RuntimeError:  # already finished and deleted by the task manager
                    pass
        self.clear()
        self.layers.shutdown()
        self._close_lookup()
        self._alive = False

    def _close_lookup(self):
        if self.lookup is not None:
            self.lookup.close()

    # -- index ----------------------------------------------------------------------------------
    def open_index(self, path, wait=False):
        """Open an index folder; in the background unless ``wait`` (tests, scripts)."""
        if wait:
            try:
                index, lookup = load_index(path)
            except Exception as e:
                self._fail_open(path, e)
                return False
            self._set_index(index, lookup)
            return True
        self.open_task = OpenIndexTask(path, self._open_done)
        QgsApplication.taskManager().addTask(self.open_task)
        return True

    def _open_done(self, task, ok):
        if not self.alive() or task is not self.open_task:
            return
        self.open_task = None
        if ok and task.index is not None:
            self._set_index(task.index, task.lookup)
        elif task.error is not None:
            self._fail_open(task.path, task.error)

    def _fail_open(self, path, error):
        self.indexFailed.emit(path, str(error))
        self.message.emit(self.tr("Cannot open similarity index {}: {}").format(path, error),
                          Qgis.MessageLevel.Critical)

    def _set_index(self, index, lookup):
        self.clear()
        self._close_lookup()  # the previous index's tile layer
        self.index = index
        self.lookup = lookup
        self.crs = QgsCoordinateReferenceSystem.fromWkt(index.crs_wkt)
        self.indexOpened.emit(self.info())

    def info(self):
        if self.index is None:
            return {}
        meta = self.index.meta
        return {
            "path": self.index.path,
            "model": meta.get("model", "?"),
            "tiles": len(self.index),
            "crs": self.crs.authid() or self.crs.description(),
            "source": source_raster(meta),
            "sources": {d["prefix"]: d["path"] for d in meta.get("source_details") or ()
                        if isinstance(d, dict) and d.get("prefix") and d.get("path")},
        }

    # -- query ----------------------------------------------------------------------------------
    def tile_at(self, point, crs):
        """Tile id under ``point`` given in ``crs``, or None (outside every tile / no transform)."""
        if self.lookup is None:
            return None
        if crs.isValid() and self.crs.isValid() and crs != self.crs:
            transform = QgsCoordinateTransform(crs, self.crs, self.project)
            try:
                point = transform.transform(point)
            except QgsCsException:
                return None
        return self.lookup.tile_at(point)

    def handle_click(self, point, crs, mode=REPLACE):
        """A map click: pick the tile, update the query set, search. Returns the tile id or None."""
        self._t_click = time.perf_counter()
        if self.index is None:
            self.message.emit(self.tr("Choose a similarity index first."), Qgis.MessageLevel.Warning)
            return None
        tile_id = self.tile_at(point, crs)
        if tile_id is None:
            self.message.emit(self.tr("No tile of the index here: click inside a tile."), Qgis.MessageLevel.Info)
            return None
        if mode == REPLACE:
            self.positives, self.negatives = [tile_id], []
        elif mode == ADD_POSITIVE:
            if tile_id in self.negatives:
                self.negatives.remove(tile_id)
            if tile_id not in self.positives:
                self.positives.append(tile_id)
        elif mode == ADD_NEGATIVE:
            if tile_id in self.positives:
                self.positives.remove(tile_id)
            if tile_id not in self.negatives:
                self.negatives.append(tile_id)
        self._query_changed()
        return tile_id

    def set_query(self, positives, negatives=()):
        self.positives = list(positives)
        self.negatives = list(negatives)
        self._query_changed()

    def _query_changed(self):
        self._show_query()
        self.queryChanged.emit()
        if self.positives:
            self.search()
            return
        # no positive left (e.g. the only one Ctrl-clicked into a negative): nothing is current
        self.message.emit(self.tr("Add at least one positive tile (plain click or Shift-click)."),
                          Qgis.MessageLevel.Info)
        self._drop_results()
        self.resultsChanged.emit()
        self.refresh_canvas()

    def _drop_results(self):
        """Forget the results of an older query set: cancel its search, empty list and layers."""
        self._cancel_search()
        self.result_ids, self.result_scores = [], []
        self.layers.hide_results()
        self.layers.hide_heatmap()

    def _cancel_search(self):
        if self.task is not None:
            try:
                self.task.cancel()
            except RuntimeError:  # already deleted by the task manager
                pass
        self.generation += 1  # a result still on its way is ignored
        self.task = None

    def refresh_canvas(self):
        if self.canvas is not None:
            self.canvas.refresh()

    def _show_query(self):
        self.layers.show_query(self.index.crs_wkt, self.lookup.geometries, self.positives, self.negatives)

    # -- search ---------------------------------------------------------------------------------
    def search(self):
        """Start a background search for the current query set; a running one is superseded."""
        if self.index is None or not self.positives:
            return
        self._cancel_search()
        k = self.k + len(self.positives)  # query tiles are shown separately: ask for a few more
        self.task = SearchTask(self.index, self.positives, self.negatives, k, self.heatmap,
                               self.generation, self._search_done)
        QgsApplication.taskManager().addTask(self.task)

    def busy(self):
        return self.task is not None or self.open_task is not None

    def wait(self, timeout=30.0):
        """Spin the event loop until the running task has finished (tests, scripts)."""
        end = time.perf_counter() + timeout
        while self.busy() and time.perf_counter() < end:
            QCoreApplication.processEvents()
            time.sleep(0.002)
        return not self.busy()

    def _search_done(self, task, ok):
        if not self.alive() or task.generation != self.generation:
            return  # superseded by a newer click
        self.task = None
        if not ok:
            if task.error is not None:
                self.message.emit(self.tr("Similarity search failed: {}").format(task.error),
                                  Qgis.MessageLevel.Critical)
            return
        self.last_search_ms = task.seconds * 1000.0
        result = task.result
        query = set(self.positives) | set(self.negatives)
        ids, scores = [], []
        for tile_id, score in zip(result.ids, result.scores):
            if tile_id in query:
                continue
            if self.min_score is not None and float(score) < self.min_score:
                continue
            ids.append(tile_id)
            scores.append(float(score))
        self.result_ids, self.result_scores = ids[: self.k], scores[: self.k]
        self.index.rows.note(result.ids, result.rows)  # the layers find their footprints without a scan
        crs_wkt, geometries = self.index.crs_wkt, self.lookup.geometries
        self.layers.show_results(crs_wkt, geometries, self.result_ids, self.result_scores, self.k)
        if self.heatmap and task.scores is not None:
            self.layers.show_heatmap(crs_wkt, geometries, self.index.ids, task.scores,
                                     getattr(self.lookup, "grid", None))
        self.resultsChanged.emit()
        self._time_drawing()

    def _time_drawing(self):
        t0 = self._t_click
        if t0 is None:
            return

        def done():
            if not self.alive():
                return
            self.last_click_ms = (time.perf_counter() - t0) * 1000.0
            self.searchTimed.emit(self.last_click_ms)

        if self.canvas is not None and self.canvas.isVisible():
            def on_refreshed():
                try:
                    self.canvas.mapCanvasRefreshed.disconnect(on_refreshed)
                except (RuntimeError, TypeError):
                    pass
                done()
            self.canvas.mapCanvasRefreshed.connect(on_refreshed)
            self.canvas.refresh()
        else:
            done()

    def set_heatmap(self, on):
        self.heatmap = bool(on)
        if not self.heatmap:
            self.layers.hide_heatmap()
            self.refresh_canvas()
        elif self.positives:
            self._t_click = time.perf_counter()  # timed from the button press to the heatmap drawn
            self.search()
        elif self.index is not None:
            self.message.emit(self.tr("Heatmap: click a tile first; every tile is then coloured by its "
                                      "similarity to it."),
                              Qgis.MessageLevel.Info)

    # -- export / clear ---------------------------------------------------------------------------
    def export(self, path):
        """Write query set and results (role, rank, score, tile_id) to a GeoPackage, atomically."""
        if self.index is None or not (self.positives or self.result_ids):
            raise ValueError(self.tr("nothing to export: click a tile first"))
        layer = memory_layer("similarity_results", self.index.crs_wkt,
                             [("role", QMetaType.Type.QString), ("rank", QMetaType.Type.Int),
                              ("score", QMetaType.Type.Double), ("tile_id", QMetaType.Type.QString)])
        features = []
        rows = [("positive", None, None, t) for t in self.positives]
        rows += [("negative", None, None, t) for t in self.negatives]
        rows += [("result", r, s, t) for r, (t, s) in enumerate(zip(self.result_ids, self.result_scores), 1)]
        for role, rank, score, tile_id in rows:
            f = QgsFeature(layer.fields())
            f.setGeometry(self.lookup.geometries[tile_id])
            f.setAttributes([role, rank, score, tile_id])
            features.append(f)
        layer.dataProvider().addFeatures(features)
        return write_gpkg(layer, path, "similarity_results", self.project.transformContext())

    def clear(self):
        """Forget the query set and results and remove the session's layers from the map now."""
        if not self.alive():
            return
        self._cancel_search()
        self.positives, self.negatives = [], []
        self.result_ids, self.result_scores = [], []
        self.last_search_ms = self.last_click_ms = None
        self.layers.remove_all()
        self.queryChanged.emit()
        self.resultsChanged.emit()
        self.cleared.emit()
        self.refresh_canvas()
