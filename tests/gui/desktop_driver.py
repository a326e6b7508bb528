"""Runs INSIDE a real QGIS desktop (qgis --code): drives the plugin like a person would.

Steps: start the installed plugin, open the project, open the dock from its toolbar action,
choose the index, press "Pick tiles on map", move the real mouse over a tile with xdotool and
click, wait for the results layer and the canvas redraw, save a screenshot, report as JSON.
"""

import json
import os
import subprocess
import time
import traceback

import qgis.utils
from qgis.core import QgsCoordinateTransform, QgsPointXY, QgsProject
from qgis.PyQt.QtCore import QPoint, QTimer
from qgis.PyQt.QtWidgets import QApplication

CFG = json.load(open(os.environ["TE_GUI_CONFIG"], encoding="utf-8"))
RESULT = {"steps": []}
STATE = {}


def finish(error=None):
    if error:
        RESULT["error"] = error
    with open(CFG["result"], "w", encoding="utf-8") as f:
        json.dump(RESULT, f, indent=1)
    QTimer.singleShot(300, QApplication.instance().quit)


def guarded(fn):
    def wrapper(*args):
        try:
            fn(*args)
        except Exception:
            finish(traceback.format_exc())
    return wrapper


@guarded
def start():
    iface = qgis.utils.iface
    iface.mainWindow().resize(1500, 950)
    iface.mainWindow().move(0, 0)
    iface.mainWindow().showNormal()
    RESULT["loaded"] = qgis.utils.loadPlugin("tile_embeddings")
    RESULT["started"] = qgis.utils.startPlugin("tile_embeddings")
    QgsProject.instance().read(CFG["project"])
    plugin = qgis.utils.plugins["tile_embeddings"]
    STATE["plugin"] = plugin
    plugin.dock_action.trigger()  # the toolbar / Plugins-menu action
    dock = plugin.dock
    STATE["dock"] = dock
    dock.session.indexOpened.connect(index_opened)
    dock.session.message.connect(lambda text, level: RESULT.setdefault("messages", []).append(text))
    RESULT["steps"].append("dock opened")
    dock.index_file.setFilePath(CFG["index"])


@guarded
def index_opened(info):
    dock = STATE["dock"]
    RESULT["index_info"] = {k: info[k] for k in ("model", "tiles", "crs")}
    dock.pick.click()  # a real button press activates the map tool
    canvas = qgis.utils.iface.mapCanvas()
    RESULT["tool_active"] = canvas.mapTool() is dock.tool
    extent = dock.session.lookup.extent()
    tr = QgsCoordinateTransform(dock.session.crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
    extent = tr.transformBoundingBox(extent)
    extent.scale(1.05)
    canvas.setExtent(extent)
    canvas.refresh()
    RESULT["steps"].append("index opened")
    QTimer.singleShot(2500, click_tile)


@guarded
def click_tile():
    dock = STATE["dock"]
    canvas = qgis.utils.iface.mapCanvas()
    tile_id = CFG["click_tile"]
    geom = dock.session.lookup.geometries[tile_id]
    centre = geom.centroid().asPoint()
    tr = QgsCoordinateTransform(dock.session.crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
    centre = tr.transform(QgsPointXY(centre))
    pixel = canvas.getCoordinateTransform().transform(centre)
    screen = canvas.viewport().mapToGlobal(QPoint(round(pixel.x()), round(pixel.y())))
    RESULT["click_screen"] = [screen.x(), screen.y()]
    dock.session.searchTimed.connect(results_drawn)
    STATE["t_click"] = time.perf_counter()
    subprocess.Popen(["xdotool", "mousemove", str(screen.x()), str(screen.y()), "sleep", "0.2", "click", "1"])
    RESULT["steps"].append("clicked")


@guarded
def results_drawn(ms):
    dock = STATE["dock"]
    session = dock.session
    RESULT["click_to_drawn_ms"] = ms
    RESULT["search_ms"] = session.last_search_ms
    RESULT["positives"] = list(session.positives)
    layer = session.layers.layer("Similar tiles")
    feats = sorted(layer.getFeatures(), key=lambda f: f["rank"])
    RESULT["result_ids"] = [f["tile_id"] for f in feats]
    RESULT["result_scores"] = [f["score"] for f in feats]
    RESULT["tree_rows"] = dock.tree.topLevelItemCount()
    RESULT["steps"].append("results drawn")
    QTimer.singleShot(1500, screenshot)  # let thumbnails and labels arrive


@guarded
def screenshot():
    window = qgis.utils.iface.mainWindow()
    pixmap = window.grab()
    RESULT["screenshot_saved"] = pixmap.save(CFG["screenshot"], "PNG")
    RESULT["thumbnails"] = sum(
        1 for i in range(STATE["dock"].tree.topLevelItemCount())
        if not STATE["dock"].tree.topLevelItem(i).icon(0).isNull())
    finish()


QTimer.singleShot(int(CFG.get("timeout_s", 120) * 1000), lambda: finish("timed out inside QGIS"))
QTimer.singleShot(500, start)
