"""The similarity dock: pick an index, click tiles on the map, see their look-alikes."""

import os

from qgis.core import Qgis, QgsCoordinateTransform, QgsProject, QgsSettings
from qgis.gui import QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QSize, Qt, pyqtSignal
from qgis.PyQt.QtGui import QIcon, QPixmap
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .find_all import FindAll
from .map_tool import ADD_POSITIVE, REPLACE, TileClickTool
from .similarity_session import SimilaritySession

SETTINGS = "tile_embeddings/dock/"
ROLE_TILE = Qt.ItemDataRole.UserRole
# the dock's title is also its menu entry and its name under View > Panels
TITLE = QT_TRANSLATE_NOOP("SimilarityDock", "Similar Tiles")
HINT = QT_TRANSLATE_NOOP(
    "SimilarityDock",
    "Click: query tile · Shift-click: add positive · Ctrl-click: add negative · double-click a row to zoom",
)
FIND_ALL_HINT = QT_TRANSLATE_NOOP(
    "SimilarityDock", "Find all is on: click a tile = yes · Ctrl-click = no · Y / N marks the proposed tile"
)


class ProposalList(QTreeWidget):
    """The "check these next" list: Y marks the selected tile yes, N no."""

    marked = pyqtSignal(str, bool)

    def keyPressEvent(self, event):  # noqa: N802
        item = self.currentItem()
        if item is not None and event.key() in (Qt.Key.Key_Y, Qt.Key.Key_N):
            self.marked.emit(item.data(0, ROLE_TILE), event.key() == Qt.Key.Key_Y)
            return
        super().keyPressEvent(event)


def index_folder_of(path):
    """The similarity index folder holding ``path`` (the folder, a file in it or a layer source such
    as ``…/tiles.gpkg|layername=tiles``), recognised by its contents whatever its name; or None."""
    from ..core.index import find_index_folder

    return find_index_folder((path or "").split("|")[0])


class SimilarityDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__(QCoreApplication.translate("SimilarityDock", TITLE), parent)
        self.setObjectName("TileEmbeddingsSimilarityDock")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.session = SimilaritySession(self.canvas, QgsProject.instance(), self)
        self.find_all = FindAll(self.session, self)
        self.tool = TileClickTool(self.canvas)
        self.thumbnails = None
        self._build()
        self._connect()
        self._restore_settings()

    # -- layout -----------------------------------------------------------------------------------
    def _build(self):
        body = QWidget()
        layout = QVBoxLayout(body)
        form = QFormLayout()
        self.index_file = QgsFileWidget()
        self.index_file.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.index_file.setDialogTitle(self.tr("Similarity index folder (the OUTPUT of Embed tiles)"))
        self.index_file.setToolTip(self.tr("The folder that 'Embed tiles' wrote (it holds meta.json, ids.txt, "
                                           "embeddings.npy and tiles.gpkg); any folder name works."))
        form.addRow(self.tr("Index folder"), self.index_file)
        self.index_layer = QgsMapLayerComboBox()
        self.index_layer.setFilters(Qgis.LayerFilter.VectorLayer)
        self.index_layer.setAllowEmptyLayer(True)
        self.index_layer.setLayer(None)
        self.index_layer.setToolTip(self.tr("Or pick a layer of the project that belongs to an index: the tile "
                                            "layer that 'Embed tiles' adds to the project when it finishes."))
        form.addRow(self.tr("…or index layer"), self.index_layer)
        self.info = QLabel(self.tr("No index open."))
        self.info.setWordWrap(True)
        form.addRow(self.info)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 1000)
        self.k_spin.setValue(10)
        self.k_spin.setToolTip(self.tr("How many look-alike tiles to show (the query tiles are not counted)."))
        form.addRow(self.tr("Results (k)"), self.k_spin)
        score_row = QHBoxLayout()
        self.min_score_on = QCheckBox(self.tr("Minimum score"))
        self.min_score_on.setToolTip(self.tr("Show only results at least this similar (cosine similarity: "
                                             "1 = identical, 0 = unrelated)."))
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(-1.0, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setDecimals(3)
        self.min_score.setValue(0.5)
        self.min_score.setToolTip(self.min_score_on.toolTip())
        self.min_score.setEnabled(False)
        score_row.addWidget(self.min_score_on)
        score_row.addWidget(self.min_score)
        form.addRow(score_row)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.pick = QPushButton(self.tr("Pick tiles on map"))
        self.pick.setCheckable(True)
        self.pick.setToolTip(self.tr("Click: query tile · Shift-click: add a positive · Ctrl-click: add a negative"))
        self.heatmap = QPushButton(self.tr("Heatmap"))
        self.heatmap.setCheckable(True)
        self.heatmap.setToolTip(self.tr("Colour every tile by its similarity to the query (red: more similar, "
                                        "blue: less similar), under the result outlines."))
        self.export_button = QPushButton(self.tr("Export…"))
        self.export_button.setToolTip(self.tr("Save the query tiles and the results (role, rank, score, tile id) "
                                              "to a GeoPackage."))
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setToolTip(self.tr("Forget the query tiles and results and remove their layers from "
                                             "the map."))
        for b in (self.pick, self.heatmap, self.export_button, self.clear_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.hint = QLabel(self.tr(HINT))
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels([self.tr("Tile"), self.tr("Rank / role"), self.tr("Score")])
        self.tree.setIconSize(QSize(48, 48))
        self.tree.setRootIsDecorated(False)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.tree, self.tr("Look-alikes"))
        self.tabs.addTab(self._build_find_all(), self.tr("Find all"))
        layout.addWidget(self.tabs, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)  # a long message must not widen the dock past the screen
        layout.addWidget(self.status)
        self.setWidget(body)

    def _build_find_all(self):
        page = QWidget()
        v = QVBoxLayout(page)
        row = QHBoxLayout()
        self.find_all_button = QPushButton(self.tr("Find all"))
        self.find_all_button.setCheckable(True)
        self.find_all_button.setToolTip(
            self.tr("Train a classifier on the tiles you labelled (clicked: yes, Ctrl-clicked: no) and show every "
                    "tile's probability and the detections; it retrains after every label."))
        row.addWidget(self.find_all_button)
        row.addWidget(QLabel(self.tr("Threshold")))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.05, 0.95)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(0.5)
        self.threshold.setToolTip(self.tr("Tiles with a probability at or above this are detections."))
        row.addWidget(self.threshold)
        v.addLayout(row)
        self.find_all_info = QLabel(self.tr("Label a few tiles (click: yes, Ctrl-click: no), then press Find all."))
        self.find_all_info.setWordWrap(True)
        v.addWidget(self.find_all_info)
        v.addWidget(QLabel(self.tr("Check these next (the tiles whose label would help most):")))
        self.proposals = ProposalList()
        self.proposals.setColumnCount(2)
        self.proposals.setHeaderLabels([self.tr("Tile"), self.tr("Probability")])
        self.proposals.setIconSize(QSize(48, 48))
        self.proposals.setRootIsDecorated(False)
        self.proposals.setToolTip(self.tr("Select a tile and press Y (yes) or N (no); double-click to zoom to it."))
        v.addWidget(self.proposals, 1)
        marks = QHBoxLayout()
        self.yes_button = QPushButton(self.tr("Yes (Y)"))
        self.yes_button.setToolTip(self.tr("The selected tile is of the kind you are looking for."))
        self.no_button = QPushButton(self.tr("No (N)"))
        self.no_button.setToolTip(self.tr("The selected tile is not of the kind you are looking for."))
        marks.addWidget(self.yes_button)
        marks.addWidget(self.no_button)
        v.addLayout(marks)
        files = QHBoxLayout()
        self.labels_file = QgsFileWidget()
        self.labels_file.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.labels_file.setFilter("GeoPackage (*.gpkg)")
        self.labels_file.setToolTip(self.tr("A GeoPackage for the labels (tile id, label 1/0, time, tile polygon): "
                                            "continue another day, or feed it to 'Classify tiles'."))
        files.addWidget(self.labels_file, 1)
        self.save_labels_button = QPushButton(self.tr("Save labels"))
        self.save_labels_button.setToolTip(self.tr("Write the labels to the GeoPackage on the left."))
        self.load_labels_button = QPushButton(self.tr("Load labels"))
        self.load_labels_button.setToolTip(self.tr("Read labels from the GeoPackage on the left (replaces the "
                                                   "current ones)."))
        files.addWidget(self.save_labels_button)
        files.addWidget(self.load_labels_button)
        v.addLayout(files)
        return page

    def _connect(self):
        self.index_file.fileChanged.connect(self._index_from_file)
        self.index_layer.layerChanged.connect(self._index_from_layer)
        self.k_spin.valueChanged.connect(self._k_changed)
        self.min_score_on.toggled.connect(self._min_score_changed)
        self.min_score.valueChanged.connect(self._min_score_changed)
        self.pick.toggled.connect(self._pick_toggled)
        self.heatmap.toggled.connect(self.session.set_heatmap)
        self.export_button.clicked.connect(self._export)
        self.clear_button.clicked.connect(self.session.clear)
        self.tool.tileClicked.connect(self._tile_clicked)
        self.find_all_button.toggled.connect(self._find_all_toggled)
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.find_all.trained.connect(self._trained)
        self.find_all.quality_ready.connect(self._quality_ready)
        self.find_all.message.connect(self._message)
        self.proposals.marked.connect(self.find_all.label)
        self.proposals.itemDoubleClicked.connect(self._zoom_to)
        self.yes_button.clicked.connect(lambda: self._mark_selected(True))
        self.no_button.clicked.connect(lambda: self._mark_selected(False))
        self.save_labels_button.clicked.connect(self._save_labels)
        self.load_labels_button.clicked.connect(self._load_labels)
        self.tool.deactivated.connect(lambda: self.pick.setChecked(False))
        self.tree.itemDoubleClicked.connect(self._zoom_to)
        self.session.indexOpened.connect(self._index_opened)
        self.session.indexFailed.connect(self._index_failed)
        self.session.cleared.connect(self._cleared)
        self.session.queryChanged.connect(self._refresh_list)
        self.session.resultsChanged.connect(self._refresh_list)
        self.session.message.connect(self._message)
        self.session.searchTimed.connect(self._timed)

    # -- settings ---------------------------------------------------------------------------------
    def _restore_settings(self):
        s = QgsSettings()
        self.k_spin.setValue(int(s.value(SETTINGS + "k", 10)))
        self.min_score.setValue(float(s.value(SETTINGS + "min_score", 0.5)))
        self.min_score_on.setChecked(s.value(SETTINGS + "min_score_on", False, type=bool))
        self.session.layers.ramp_name = s.value(SETTINGS + "results_ramp", "Viridis")
        last = s.value(SETTINGS + "last_index", "")
        if last and os.path.isdir(last):
            self.index_file.setFilePath(last)  # opens it in the background

    def _save(self, key, value):
        QgsSettings().setValue(SETTINGS + key, value)

    # -- reactions ---------------------------------------------------------------------------------
    def _index_from_file(self, path):
        """Called for every change of the path (typing one included): only an index folder opens;
        anything else says so in the info line, without a message per keystroke."""
        if not path:
            self.info.setText(self.tr("No index open."))
            return
        folder = index_folder_of(path)
        if folder is None:
            self.info.setText(self.tr("Not a similarity index: {}<br>Choose the folder that 'Embed tiles' wrote "
                                      "(it holds meta.json, ids.txt, embeddings.npy and tiles.gpkg).").format(path))
            return
        self.info.setText(self.tr("Opening index…"))
        self.session.open_index(folder)

    def _index_from_layer(self, layer):
        if layer is None:
            return
        folder = index_folder_of(layer.source())
        if folder is None:
            self._message(self.tr("Layer '{}' is not part of a similarity index: pick the tile layer "
                                  "that 'Embed tiles' added, or choose the index folder.").format(layer.name()),
                          Qgis.MessageLevel.Warning)
            return
        self.index_file.setFilePath(folder)

    def _index_failed(self, path, reason):
        self.info.setText(self.tr("<b>Cannot open</b> {path}: {reason}").format(path=path, reason=reason))

    def _cleared(self):
        if self.heatmap.isChecked():
            self.heatmap.setChecked(False)
        if self.find_all_button.isChecked():
            self.find_all_button.setChecked(False)
        self.status.setText("")

    # -- find all ---------------------------------------------------------------------------------
    def _tile_clicked(self, point, crs, mode):
        if self.find_all.active and mode == REPLACE:
            mode = ADD_POSITIVE  # labelling: a plain click adds a yes, it does not start over
        self.session.handle_click(point, crs, mode)

    def _find_all_toggled(self, on):
        self.hint.setText(self.tr(FIND_ALL_HINT if on else HINT))
        if on:
            self.tabs.setCurrentIndex(1)
        self.find_all.set_active(on)
        if not on:
            self.proposals.clear()

    def _threshold_changed(self, value):
        self.find_all.threshold = float(value)
        if self.find_all.active:
            self.find_all.retrain()

    def _trained(self, info):
        self.proposals.clear()
        if not info.get("quality") and not info.get("proposals"):
            self.find_all_info.setText(self.tr("Label a few tiles (click: yes, Ctrl-click: no), then press Find all."))
            return
        s = self.session
        self.find_all_info.setText(self._find_all_text(info))
        for tile_id in info["proposals"]:
            p = self.find_all.probability_of(tile_id)
            item = QTreeWidgetItem([tile_id, "" if p is None else f"{p:.2f}"])
            item.setData(0, ROLE_TILE, tile_id)
            self.proposals.addTopLevelItem(item)
            if self.thumbnails is not None and s.lookup is not None:
                self.thumbnails.request(tile_id, s.lookup.geometries[tile_id])
        if self.proposals.topLevelItemCount():
            self.proposals.setCurrentItem(self.proposals.topLevelItem(0))

    def _quality_ready(self, info):
        self.find_all_info.setText(self._find_all_text(info))

    def _find_all_text(self, info):
        s = self.session
        lines = [self.tr("<b>{detections:,} tiles</b> at p ≥ {threshold:.2f} · {yes} yes, {no} no · {quality}").format(
            detections=info["detections"], threshold=self.find_all.threshold, yes=len(s.positives),
            no=len(s.negatives), quality=info["quality"])]
        lines += [line for line in info["log"] if line.startswith("no negatives")]
        return "<br>".join(lines)

    def _mark_selected(self, yes):
        item = self.proposals.currentItem()
        if item is None:
            self._message(self.tr("Select a tile in the list first."), Qgis.MessageLevel.Info)
            return
        self.find_all.label(item.data(0, ROLE_TILE), yes)

    def _save_labels(self):
        path = self.labels_file.filePath()
        if not path:
            self._message(self.tr("Choose a GeoPackage for the labels first."), Qgis.MessageLevel.Warning)
            return
        if not path.lower().endswith(".gpkg"):
            path += ".gpkg"
        try:
            n = self.find_all.save_labels(path)
        except Exception as e:
            self._message(self.tr("Saving labels failed: {}").format(e), Qgis.MessageLevel.Critical)
            return
        self._message(self.tr("{n} labels saved to {path}").format(n=n, path=path), Qgis.MessageLevel.Success)

    def _load_labels(self):
        path = self.labels_file.filePath()
        if not path or not os.path.exists(path):
            self._message(self.tr("Choose an existing GeoPackage of labels first."), Qgis.MessageLevel.Warning)
            return
        try:
            positives, negatives, ignored = self.find_all.load_labels(path)
        except Exception as e:
            self._message(self.tr("Loading labels failed: {}").format(e), Qgis.MessageLevel.Critical)
            return
        extra = self.tr("; {} features outside the index ignored").format(ignored) if ignored else ""
        self._message(self.tr("{yes} yes and {no} no labels loaded{extra}").format(
            yes=len(positives), no=len(negatives), extra=extra), Qgis.MessageLevel.Info)

    def _index_opened(self, info):
        self._save("last_index", info["path"])
        self.info.setText(self.tr("<b>{name}</b><br>model: {model} · {tiles:,} tiles · CRS: {crs}").format(
            name=os.path.basename(info["path"]), model=info["model"], tiles=info["tiles"], crs=info["crs"]))
        from .thumbnails import ThumbnailRenderer

        if self.thumbnails is not None:
            self.thumbnails.cancel()
        self.thumbnails = ThumbnailRenderer(info.get("source"), self.session.crs, 64, self,
                                            sources=info.get("sources"))
        self.thumbnails.ready.connect(self._thumbnail)
        self._refresh_list()

    def _k_changed(self, value):
        self.session.k = int(value)
        self._save("k", int(value))
        self.session.search()

    def _min_score_changed(self, *_):
        on = self.min_score_on.isChecked()
        self.min_score.setEnabled(on)
        self.session.min_score = float(self.min_score.value()) if on else None
        self._save("min_score_on", on)
        self._save("min_score", float(self.min_score.value()))
        self.session.search()

    def _pick_toggled(self, on):
        if on:
            self.canvas.setMapTool(self.tool)
        elif self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)

    def _message(self, text, level):
        self.status.setText(text)
        self.iface.messageBar().pushMessage("Tile Embeddings", text, level, 6)

    def _timed(self, ms):
        search_ms = self.session.last_search_ms or 0.0
        self.status.setText(self.tr("{results} results · search {search:.0f} ms · click → drawn {drawn:.0f} ms").format(
            results=len(self.session.result_ids), search=search_ms, drawn=ms))

    def _refresh_list(self):
        self.tree.clear()
        s = self.session
        rows = [(t, self.tr("query +"), None) for t in s.positives]
        rows += [(t, self.tr("query −"), None) for t in s.negatives]
        ranked = enumerate(zip(s.result_ids, s.result_scores), 1)
        rows += [(t, str(rank), score) for rank, (t, score) in ranked]
        for tile_id, role, score in rows:
            item = QTreeWidgetItem([tile_id, role, "" if score is None else f"{score:.3f}"])
            item.setData(0, ROLE_TILE, tile_id)
            self.tree.addTopLevelItem(item)
            if self.thumbnails is not None and s.lookup is not None:
                self.thumbnails.request(tile_id, s.lookup.geometries[tile_id])

    def _thumbnail(self, tile_id, image):
        icon = QIcon(QPixmap.fromImage(image))
        for tree in (self.tree, self.proposals):
            for i in range(tree.topLevelItemCount()):
                item = tree.topLevelItem(i)
                if item.data(0, ROLE_TILE) == tile_id:
                    item.setIcon(0, icon)

    def _zoom_to(self, item, _column=0):
        tile_id = item.data(0, ROLE_TILE)
        s = self.session
        if s.lookup is None or tile_id not in s.lookup.geometries:
            return
        rect = s.lookup.geometries[tile_id].boundingBox()
        canvas_crs = self.canvas.mapSettings().destinationCrs()
        transform = QgsCoordinateTransform(s.crs, canvas_crs, QgsProject.instance())
        rect = transform.transformBoundingBox(rect)
        rect.scale(3.0)
        self.canvas.setExtent(rect)
        self.canvas.refresh()

    def _export(self):
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export similarity results"), "", "GeoPackage (*.gpkg)")
        if not path:
            return
        if not path.lower().endswith(".gpkg"):
            path += ".gpkg"
        try:
            self.session.export(path)
        except Exception as e:
            self._message(self.tr("Export failed: {}").format(e), Qgis.MessageLevel.Critical)
            return
        self._message(self.tr("Exported to {}").format(path), Qgis.MessageLevel.Success)

    # -- teardown ---------------------------------------------------------------------------------
    def shutdown(self):
        if self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)
        if self.thumbnails is not None:
            self.thumbnails.cancel()
        self.find_all.shutdown()
        self.session.shutdown()
