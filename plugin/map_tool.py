"""Map tool that turns a click on the canvas into a query action.

Plain click: the tile under the cursor becomes the query. Shift-click adds a positive example,
Ctrl-click a negative one. The tool only reports; the session decides what happens.
"""

from qgis.gui import QgsMapTool, QgsMapToolEmitPoint
from qgis.PyQt.QtCore import Qt, pyqtSignal

REPLACE, ADD_POSITIVE, ADD_NEGATIVE = "replace", "positive", "negative"


def mode_for(modifiers):
    if modifiers & Qt.KeyboardModifier.ControlModifier:
        return ADD_NEGATIVE
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        return ADD_POSITIVE
    return REPLACE


class TileClickTool(QgsMapToolEmitPoint):
    # point in canvas CRS, canvas CRS, mode
    tileClicked = pyqtSignal(object, object, str)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def flags(self):
        """Not ``AllowZoomRect``: with it the canvas takes Shift+press as the start of a zoom
        rectangle and the tool never sees a Shift-click (the canvas checks this before it hands the
        press to the tool)."""
        return super().flags() & ~QgsMapTool.Flag.AllowZoomRect

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.toMapCoordinates(event.pos())
        crs = self.canvas().mapSettings().destinationCrs()
        self.tileClicked.emit(point, crs, mode_for(event.modifiers()))
