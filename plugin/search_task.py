"""Background search: the core search runs in a QgsTask, never on the UI thread."""

import time

from qgis.core import Qgis, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import QCoreApplication


def call_back(on_done, task, ok):
    """Deliver a task's result; never let an exception escape QgsTask.finished() (it aborts QGIS)."""
    try:
        on_done(task, ok)
    except Exception as e:  # the receiver may be gone (plugin unloaded while the task ran)
        QgsMessageLog.logMessage(f"{task.description()}: {e}", "Tile Embeddings", Qgis.MessageLevel.Warning)


class SearchTask(QgsTask):
    """Run ``core.search.search`` (and optionally ``score_all``) for one query set.

    ``on_done(task)`` is called on the main thread with ``task.result``/``task.error`` set; a
    superseded task (a newer click came in) is canceled and its result ignored by the session.
    """

    def __init__(self, index, positives, negatives, k, heatmap, generation, on_done):
        super().__init__(QCoreApplication.translate("SearchTask", "Tile Embeddings: similarity search"),
                         QgsTask.Flag.CanCancel)
        self.index = index
        self.positives = list(positives)
        self.negatives = list(negatives)
        self.k = int(k)
        self.heatmap = bool(heatmap)
        self.generation = generation
        self.on_done = on_done
        self.result = None
        self.scores = None
        self.error = None
        self.seconds = 0.0

    def run(self):
        from ..core import search as core_search

        t0 = time.perf_counter()
        try:
            self.result = core_search.search(self.index, self.positives, self.negatives, k=self.k)
            if self.isCanceled():
                return False
            if self.heatmap:
                self.scores = core_search.score_all(self.index, self.positives, self.negatives)
        except Exception as e:  # reported in the message bar by the session, never a traceback dialog
            self.error = e
            return False
        finally:
            self.seconds = time.perf_counter() - t0
        return not self.isCanceled()

    def finished(self, ok):
        call_back(self.on_done, self, ok)
