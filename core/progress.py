"""Progress and cancel protocol shared by every engine loop.

The engine never sees a QGIS object. A loop receives a :class:`Progress` and calls
``progress.step()`` / ``progress.check()``; the Processing adapter builds one from its
``QgsProcessingFeedback``, the dock from its ``QgsTask``, scripts from nothing (a silent one), and
Dask workers from nothing too.

Stages nest: ``progress.sub(0.0, 0.3)`` hands a child that maps its own 0..1 onto 0..30 % of the
parent, so each function reports 0..1 of its own work without knowing who called it.
"""

import threading

from .errors import Canceled


class Progress:
    """Reports a fraction in [0, 1] and a text, and answers "should I stop?".

    ``on_progress(fraction)``, ``on_text(str)`` and ``is_canceled() -> bool`` are plain callables;
    all are optional. Thread-safe: worker threads may report concurrently.
    """

    def __init__(self, on_progress=None, on_text=None, is_canceled=None, _range=(0.0, 1.0), _root=None):
        self._on_progress = on_progress
        self._on_text = on_text
        self._is_canceled = is_canceled
        self._lo, self._hi = _range
        self._root = _root or self
        if _root is None:
            self._lock = threading.Lock()
            self._cancel_flag = threading.Event()
        self._done = 0
        self._total = None
        self._last = -1.0

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self):
        """Ask every loop sharing this progress tree to stop (used by the dock and by tests)."""
        self._root._cancel_flag.set()

    def canceled(self):
        root = self._root
        if root._cancel_flag.is_set():
            return True
        if root._is_canceled is not None and root._is_canceled():
            root._cancel_flag.set()
            return True
        return False

    def check(self):
        """Raise :class:`Canceled` when the user asked to stop."""
        if self.canceled():
            raise Canceled("canceled")

    # -- reporting ------------------------------------------------------------------------
    def set(self, fraction):
        """Report ``fraction`` (0..1) of this stage's work as done."""
        f = self._lo + (self._hi - self._lo) * min(max(float(fraction), 0.0), 1.0)
        root = self._root
        if root._on_progress is None:
            return
        with root._lock:
            # report only visible changes: Processing dialogs redraw on every call
            if abs(f - root._last) < 0.001 and f < 1.0:
                return
            root._last = f
        root._on_progress(f)

    def text(self, message):
        root = self._root
        if root._on_text is not None:
            root._on_text(str(message))

    def start(self, total):
        """Declare ``total`` steps for :meth:`step`."""
        self._total = max(int(total), 1)
        self._done = 0
        self.set(0.0)

    def step(self, n=1):
        """One (or ``n``) of the declared steps finished; raises :class:`Canceled` if asked to stop."""
        with self._root._lock:
            self._done += n
            done = self._done
        self.set(done / (self._total or 1))
        self.check()

    def sub(self, start, end):
        """A child progress mapping its 0..1 onto ``start..end`` of this one."""
        span = self._hi - self._lo
        return Progress(_range=(self._lo + span * start, self._lo + span * end), _root=self._root)

    def iterate(self, iterable, total=None):
        """Yield from ``iterable``, checking cancel before and reporting after each item."""
        if total is None:
            try:
                total = len(iterable)
            except TypeError:
                total = None
        self.start(total or 1)
        for item in iterable:
            self.check()
            yield item
            if total:
                self.step()
        self.set(1.0)


def silent():
    """A progress that reports nowhere and is never canceled (scripts, Dask workers)."""
    return Progress()


def ensure(progress):
    """Accept ``None`` for "no reporting" so every engine function can take ``progress=None``."""
    return progress if progress is not None else Progress()
