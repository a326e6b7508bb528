"""Runs INSIDE a real QGIS desktop (qgis --code): drives the plugin the way a person does.

Every action is a real X event sent with xdotool (mouse moves, clicks, held modifier keys, typed
text) and goes through QGIS's own event handling: the canvas decides what a Shift+press means, not
the test. The scenario is a generator that yields what to wait for; it records what it sees in a
JSON report that tests/gui/test_desktop_dock.py checks.

Scenario (one QGIS session): open the dock from its toolbar button; type a folder that is not an
index, then a damaged index; type the real index (a folder without a ``.teindex`` name); press
"Pick tiles on map"; click a tile; Shift-click a second; Ctrl-click the second (now a negative);
Ctrl-click the first (the only positive); click again; press Heatmap; press Clear.
"""

import json
import os
import subprocess
import time
import traceback

import qgis.utils
from qgis.core import QgsCoordinateTransform, QgsPointXY, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QPoint, QTimer
from qgis.PyQt.QtWidgets import QApplication

CFG = json.load(open(os.environ["TE_GUI_CONFIG"], encoding="utf-8"))
RESULT = {"steps": []}
STATE = {"drawn": 0}


def finish(error=None):
    if STATE.get("finished"):
        return
    STATE["finished"] = True
    if error:
        RESULT["error"] = error
    with open(CFG["result"], "w", encoding="utf-8") as f:
        json.dump(RESULT, f, indent=1)
    QTimer.singleShot(300, QApplication.instance().quit)


# -- a tiny scheduler: the scenario yields conditions (or seconds to wait) ---------------------------
class Until:
    def __init__(self, condition, timeout, what):
        self.condition, self.deadline, self.what = condition, time.perf_counter() + timeout, what


def run(gen):
    def advance(value=None):
        try:
            wait = gen.send(value)
        except StopIteration:
            finish()
            return
        except Exception:
            finish(traceback.format_exc())
            return
        if isinstance(wait, (int, float)):
            QTimer.singleShot(int(wait * 1000), advance)
        else:
            poll(wait)

    def poll(wait):
        try:
            if wait.condition():
                QTimer.singleShot(0, advance)
                return
        except Exception:
            finish(traceback.format_exc())
            return
        if time.perf_counter() > wait.deadline:
            try:
                gen.throw(TimeoutError(f"timed out waiting for: {wait.what}"))
            except StopIteration:
                finish()
            except Exception:
                finish(traceback.format_exc())
            return
        QTimer.singleShot(50, lambda: poll(wait))

    advance()


# -- real input --------------------------------------------------------------------------------
def xdo(*args):
    subprocess.run(["xdotool", *[str(a) for a in args]], check=True, timeout=30)


def screen_point(widget, x=None, y=None):
    x = widget.width() // 2 if x is None else x
    y = widget.height() // 2 if y is None else y
    p = widget.mapToGlobal(QPoint(int(x), int(y)))
    return p.x(), p.y()


def click_widget(widget):
    x, y = screen_point(widget)
    xdo("mousemove", x, y, "sleep", "0.15", "click", "1")


def click_map(point_canvas_crs, modifier=None):
    canvas = qgis.utils.iface.mapCanvas()
    pixel = canvas.getCoordinateTransform().transform(point_canvas_crs)
    x, y = screen_point(canvas.viewport(), round(pixel.x()), round(pixel.y()))
    if modifier:  # the key is held down on the X server while the button goes down and up
        xdo("mousemove", x, y, "sleep", "0.15", "keydown", modifier, "sleep", "0.1", "click", "1",
            "sleep", "0.1", "keyup", modifier)
    else:
        xdo("mousemove", x, y, "sleep", "0.15", "click", "1")
    return [x, y]


def type_path(dock, path):
    edit = dock.index_file.lineEdit()
    click_widget(edit)
    xdo("key", "--clearmodifiers", "ctrl+a", "BackSpace")
    xdo("type", "--delay", "2", path)


# -- observations ------------------------------------------------------------------------------------
def tile_centre(tile_id):
    dock = STATE["dock"]
    canvas = qgis.utils.iface.mapCanvas()
    centre = dock.session.lookup.geometries[tile_id].centroid().asPoint()
    tr = QgsCoordinateTransform(dock.session.crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
    return tr.transform(QgsPointXY(centre))


def canvas_image(name):
    """What the canvas shows now (no refresh asked for), saved for the test to compare."""
    path = os.path.join(CFG["outdir"], f"canvas_{name}.png")
    qgis.utils.iface.mapCanvas().viewport().grab().save(path, "PNG")
    return path


def session_state():
    dock = STATE["dock"]
    s = dock.session
    project = QgsProject.instance()
    names = sorted(layer.name() for layer in project.mapLayers().values())
    results = s.layers.layer("Similar tiles")
    feats = sorted(results.getFeatures(), key=lambda f: f["rank"]) if results is not None else []
    return {
        "positives": list(s.positives), "negatives": list(s.negatives),
        "result_ids": list(s.result_ids), "result_scores": list(s.result_scores),
        "layer_ids": [f["tile_id"] for f in feats], "layers": names,
        "tree_rows": [dock.tree.topLevelItem(i).text(0) + "|" + dock.tree.topLevelItem(i).text(1)
                      for i in range(dock.tree.topLevelItemCount())],
        "status": dock.status.text(), "heatmap_checked": dock.heatmap.isChecked(),
    }


def label_count(layer):
    """Labels QGIS placed for ``layer`` in the canvas's last render."""
    canvas = qgis.utils.iface.mapCanvas()
    results = canvas.labelingResults()
    if results is None or layer is None:
        return -1
    return sum(1 for label in results.allLabels() if label.layerID == layer.id())


def wait_drawn(n_before, what, timeout=120):
    return Until(lambda: STATE["drawn"] > n_before and not STATE["dock"].session.busy(), timeout, what)


def scenario():
    iface = qgis.utils.iface
    window = iface.mainWindow()
    window.resize(1500, 950)
    window.move(0, 0)
    window.showNormal()
    RESULT["loaded"] = qgis.utils.loadPlugin("tile_embeddings")
    RESULT["started"] = qgis.utils.startPlugin("tile_embeddings")
    QgsProject.instance().read(CFG["project"])
    plugin = qgis.utils.plugins["tile_embeddings"]
    yield 1.0
    button = plugin.toolbar.widgetForAction(plugin.dock_action)
    click_widget(button)  # the toolbar button, clicked
    yield Until(lambda: plugin.dock is not None and plugin.dock.isVisible(), 90, "dock shown")
    dock = plugin.dock
    STATE["dock"] = dock
    RESULT["dock_title"] = dock.windowTitle()
    RESULT["action_text"] = plugin.dock_action.text()
    dock.session.searchTimed.connect(lambda ms: STATE.update(drawn=STATE["drawn"] + 1, ms=ms))
    dock.session.message.connect(lambda text, level: RESULT.setdefault("messages", []).append(text))
    RESULT["steps"].append("dock opened")
    screen = QApplication.primaryScreen().geometry()
    RESULT["screen_width"] = screen.width()

    # 1. a folder that is not an index, typed
    type_path(dock, CFG["not_index"])
    yield Until(lambda: "Not a similarity index" in dock.info.text(), 90, "info says: not an index")
    RESULT["not_index_info"] = dock.info.text()
    RESULT["not_index_messages"] = len(RESULT.get("messages", []))

    # 2. a damaged index: recognised, fails to open, the info line says so; the dock stays narrow
    type_path(dock, CFG["corrupt_index"])
    yield Until(lambda: "Cannot open" in dock.info.text(), 90, "info says: cannot open")
    yield 0.5
    RESULT["corrupt_info"] = dock.info.text()
    RESULT["corrupt_status"] = dock.status.text()
    RESULT["corrupt_widths"] = {"dock": dock.width(), "window": window.frameGeometry().width()}

    # 3. the real index, in a folder whose name does not end in .teindex
    opened = []
    dock.session.indexOpened.connect(opened.append)
    type_path(dock, CFG["index"])
    yield Until(lambda: opened, 120, "index opened")
    RESULT["index_info"] = {k: opened[-1][k] for k in ("model", "tiles", "crs")}
    canvas = iface.mapCanvas()
    extent = dock.session.lookup.extent()
    tr = QgsCoordinateTransform(dock.session.crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
    extent = tr.transformBoundingBox(extent)
    extent.scale(1.05)
    canvas.setExtent(extent)
    canvas.refresh()
    yield 2.0
    click_widget(dock.pick)
    yield Until(lambda: canvas.mapTool() is dock.tool, 90, "map tool active")
    RESULT["tool_active"] = True
    a, b = CFG["tile_a"], CFG["tile_b"]

    # 4. plain click
    n = STATE["drawn"]
    RESULT["click_screen"] = click_map(tile_centre(a))
    yield wait_drawn(n, "results of a plain click")
    yield 1.0  # labels are placed in the redraw that follows
    RESULT["click"] = session_state()
    RESULT["click"]["ms"] = STATE["ms"]
    RESULT["click"]["labels"] = label_count(dock.session.layers.layer("Similar tiles"))
    renderer = dock.session.layers.layer("Similar tiles").renderer()
    RESULT["click"]["legend"] = [r.label() for r in renderer.ranges()]
    RESULT["screenshot_saved"] = window.grab().save(CFG["screenshot"], "PNG")
    RESULT["thumbnails"] = sum(1 for i in range(dock.tree.topLevelItemCount())
                               if not dock.tree.topLevelItem(i).icon(0).isNull())

    # 5. Shift-click adds a positive
    n = STATE["drawn"]
    click_map(tile_centre(b), "shift")
    yield wait_drawn(n, "results of a Shift-click")
    RESULT["shift_click"] = session_state()

    # 6. Ctrl-click the second: it becomes a negative
    n = STATE["drawn"]
    click_map(tile_centre(b), "ctrl")
    yield wait_drawn(n, "results of a Ctrl-click")
    RESULT["ctrl_click"] = session_state()

    # 7. Ctrl-click the only positive: nothing is current any more
    click_map(tile_centre(a), "ctrl")
    yield Until(lambda: not dock.session.positives, 90, "the only positive became a negative")
    yield 1.0
    RESULT["ctrl_only_positive"] = session_state()

    # 8. plain click again, then the Heatmap button
    n = STATE["drawn"]
    click_map(tile_centre(a))
    yield wait_drawn(n, "results after a new click")
    n = STATE["drawn"]
    click_widget(dock.heatmap)
    yield wait_drawn(n, "heatmap drawn")
    yield 1.0
    heat = dock.session.layers.layer("Similarity heatmap")
    order = [layer.name() for layer in canvas.layers()]  # top first
    raster = isinstance(heat, QgsRasterLayer)
    function = heat.renderer().shader().rasterShaderFunction() if raster else None
    root = QgsProject.instance().layerTreeRoot()
    RESULT["heatmap"] = {
        "ms": STATE["ms"], "checked": dock.heatmap.isChecked(), "raster": raster,
        "canvas_order": order, "expanded": root.findLayer(heat.id()).isExpanded(),
        "legend_labels": [function.legendSettings().maximumLabel(), function.legendSettings().minimumLabel()]
        if function is not None else [],
        "continuous_legend": function.legendSettings().useContinuousLegend() if function is not None else False,
        "labels": label_count(dock.session.layers.layer("Similar tiles")),
    }
    RESULT["heatmap_screenshot_saved"] = window.grab().save(CFG["heatmap_screenshot"], "PNG")

    # 9. Clear: layers gone from the canvas at once, status reset, Heatmap button released
    click_widget(dock.clear_button)
    yield 2.0  # no refresh asked for by the test: what a person sees
    RESULT["clear"] = session_state()
    RESULT["canvas_after_clear"] = canvas_image("after_clear")
    canvas.refresh()  # now a redraw: if Clear had left anything on screen, the two images differ
    yield 1.5
    yield Until(lambda: not canvas.isDrawing(), 90, "canvas redrawn")
    RESULT["canvas_after_refresh"] = canvas_image("after_refresh")

    # 10. Find all: label with clicks, press Find all, mark a proposed tile with the Y key, retrain
    fa = dock.find_all
    trained, timed = [], []
    fa.timed.connect(timed.append)
    fa.trained.connect(lambda info: trained.append(info) if info.get("proposals") or info.get("quality") else None)
    c = CFG["tile_c"]
    click_map(tile_centre(a))
    click_map(tile_centre(c), "shift")
    click_map(tile_centre(b), "ctrl")
    yield Until(lambda: len(dock.session.positives) == 2 and dock.session.negatives == [b], 90, "three labels")
    tab_bar = dock.tabs.tabBar()
    rect = tab_bar.tabRect(1)
    x, y = screen_point(tab_bar, rect.center().x(), rect.center().y())
    xdo("mousemove", x, y, "sleep", "0.15", "click", "1")
    yield Until(lambda: dock.tabs.currentIndex() == 1, 90, "Find all tab shown")
    click_widget(dock.find_all_button)
    yield Until(lambda: trained and timed and not fa.busy(), 120, "first training drawn")
    yield 1.0
    layers = session_state()["layers"]
    first = trained[-1]
    RESULT["find_all"] = {"trained": dict(first), "layers": layers, "labels": session_state(),
                          "ms": timed[-1],
                          "thumbnails": sum(1 for i in range(dock.proposals.topLevelItemCount())
                                            if not dock.proposals.topLevelItem(i).icon(0).isNull())}
    proposed = dock.proposals.topLevelItem(0)
    RESULT["find_all"]["proposed"] = proposed.data(0, 256)
    rect = dock.proposals.visualItemRect(proposed)
    x, y = screen_point(dock.proposals.viewport(), rect.center().x(), rect.center().y())
    n_trained, n_timed = len(trained), len(timed)
    xdo("mousemove", x, y, "sleep", "0.15", "click", "1", "sleep", "0.2", "key", "y")
    yield Until(lambda: len(trained) > n_trained and len(timed) > n_timed and not fa.busy(), 120,
                "retrained and drawn after Y")
    RESULT["find_all"]["after_yes"] = {"positives": list(dock.session.positives),
                                       "proposals": list(trained[-1]["proposals"]), "ms": timed[-1]}
    RESULT["find_all_screenshot_saved"] = window.grab().save(CFG["find_all_screenshot"], "PNG")

    # 11. save the labels, clear everything, load them back
    edit = dock.labels_file.lineEdit()
    click_widget(edit)
    xdo("type", "--delay", "2", CFG["labels"])
    yield Until(lambda: dock.labels_file.filePath() == CFG["labels"], 90, "labels path typed")
    click_widget(dock.save_labels_button)
    yield Until(lambda: os.path.exists(CFG["labels"]), 90, "labels saved")
    saved = (list(dock.session.positives), list(dock.session.negatives))
    click_widget(dock.clear_button)
    yield Until(lambda: not dock.session.positives and not dock.find_all_button.isChecked(), 90, "cleared")
    RESULT["find_all"]["after_clear"] = session_state()
    click_widget(dock.load_labels_button)
    yield Until(lambda: dock.session.positives, 90, "labels loaded")
    RESULT["find_all"]["saved"] = saved
    RESULT["find_all"]["loaded"] = (list(dock.session.positives), list(dock.session.negatives))
    RESULT["steps"].append("done")


def widget_texts(dock):
    """Every text the dock shows: title, labels, buttons and their tooltips, tabs, column headers.
    The parts of QGIS's own widgets (the file widget's "…" button) are QGIS's to translate."""
    from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
    from qgis.PyQt.QtWidgets import QAbstractButton, QLabel, QTabWidget, QTreeWidget

    def ours(widget):
        while widget is not None and widget is not dock:
            if isinstance(widget, (QgsFileWidget, QgsMapLayerComboBox)):
                return False
            widget = widget.parentWidget()
        return True

    texts = [dock.windowTitle()]
    for w in dock.findChildren(QLabel) + dock.findChildren(QAbstractButton):
        if ours(w):
            texts += [t for t in (w.text(), w.toolTip()) if t]
    for tabs in dock.findChildren(QTabWidget):
        texts += [tabs.tabText(i) for i in range(tabs.count())]
    for tree in dock.findChildren(QTreeWidget):
        texts += [tree.headerItem().text(i) for i in range(tree.headerItem().columnCount())]
    return texts


def scenario_zh_cn():
    """QGIS started in Simplified Chinese (zh-Hans; the plugin loads zh_CN): the dock, its results,
    the toolbox entries and QGIS's own menu, read back."""
    from qgis.core import QgsApplication

    iface = qgis.utils.iface
    window = iface.mainWindow()
    window.resize(1500, 950)
    window.move(0, 0)
    window.showNormal()
    RESULT["loaded"] = qgis.utils.loadPlugin("tile_embeddings")
    RESULT["started"] = qgis.utils.startPlugin("tile_embeddings")
    RESULT["translation"] = QgsApplication.instance().translation()
    RESULT["qgis_menu"] = iface.projectMenu().title()  # QGIS's own translation of its Project menu
    QgsProject.instance().read(CFG["project"])
    plugin = qgis.utils.plugins["tile_embeddings"]
    yield 1.0
    click_widget(plugin.toolbar.widgetForAction(plugin.dock_action))
    yield Until(lambda: plugin.dock is not None and plugin.dock.isVisible(), 90, "dock shown")
    dock = STATE["dock"] = plugin.dock
    dock.session.searchTimed.connect(lambda ms: STATE.update(drawn=STATE["drawn"] + 1, ms=ms))
    RESULT["action_text"] = plugin.dock_action.text()
    RESULT["dock_texts"] = widget_texts(dock)
    provider = QgsApplication.processingRegistry().providerById("tile_embeddings")
    RESULT["algorithms"] = [[a.id(), a.displayName(), a.group()] for a in provider.algorithms()]

    opened = []
    dock.session.indexOpened.connect(opened.append)
    type_path(dock, CFG["index"])
    yield Until(lambda: opened, 120, "index opened")
    canvas = iface.mapCanvas()
    tr = QgsCoordinateTransform(dock.session.crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
    extent = tr.transformBoundingBox(dock.session.lookup.extent())
    extent.scale(1.05)
    canvas.setExtent(extent)
    canvas.refresh()
    yield 2.0
    click_widget(dock.pick)
    yield Until(lambda: canvas.mapTool() is dock.tool, 90, "map tool active")
    n = STATE["drawn"]
    click_map(tile_centre(CFG["tile_a"]))
    yield wait_drawn(n, "results of a click")
    yield 1.0
    RESULT["info"] = dock.info.text()
    RESULT["status"] = dock.status.text()
    RESULT["roles"] = [dock.tree.topLevelItem(i).text(1) for i in range(min(1, dock.tree.topLevelItemCount()))]
    RESULT["layers"] = sorted(layer.name() for layer in QgsProject.instance().mapLayers().values())
    RESULT["screenshot_saved"] = window.grab().save(CFG["screenshot"], "PNG")
    RESULT["steps"].append("done")


SCENARIOS = {"walkthrough": scenario, "zh_CN": scenario_zh_cn}


def start():
    QTimer.singleShot(int(CFG.get("timeout_s", 480) * 1000), lambda: finish("timed out inside QGIS"))
    run(SCENARIOS[CFG.get("scenario", "walkthrough")]())


QTimer.singleShot(500, start)
