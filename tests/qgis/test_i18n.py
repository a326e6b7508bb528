"""The Chinese (zh_CN) interface: what QGIS shows with that locale, and what is left untranslated.

The .qm is compiled here with lrelease from the committed resources/i18n/*.ts (as scripts/package.py
does for the zip) and installed the way the plugin installs it (processing_provider/i18n.py).

When a test here fails after you added or changed a user-visible string:
    make translations          (scripts/update_translations.py: the new string is added, unfinished)
    translate it in resources/i18n/tile_embeddings_zh_CN.ts (Qt Linguist or any editor), then
    make test ARGS="tests/qgis/test_i18n.py -q"
"""

import ast
import importlib.util
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TS = REPO / "resources" / "i18n" / "tile_embeddings_zh_CN.ts"
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{[^{}]*\}|<[^>]+>")


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _messages(ts):
    """(context, source, translation or None when unfinished) of every message of a .ts file."""
    out = []
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            translation = message.find("translation")
            done = translation is not None and translation.get("type") not in ("unfinished", "vanished", "obsolete")
            text = translation.text if translation is not None else None
            out.append((name, message.findtext("source"), text if done and text else None))
    return out


@pytest.fixture(scope="module")
def zh_cn(tmp_path_factory):
    """QGIS's locale set to zh_CN (Settings > Options > General, as ``qgis --lang zh_CN`` does for a
    run), and the zh_CN translation compiled by lrelease and installed as the plugin installs it."""
    from qgis.core import QgsSettings

    # result_layers translates its layer names once, at import (after the plugin installed its
    # translator): imported here first, the names stay English for the rest of the test session
    import tile_embeddings.plugin.result_layers  # noqa: F401
    from tile_embeddings.processing_provider.i18n import install_translator, remove_translator, ui_locale

    settings = QgsSettings()
    previous = settings.value("locale/userLocale", None)
    settings.setValue("locale/userLocale", "zh_CN")
    assert ui_locale() == "zh_CN"

    lrelease = _load_script("package").lrelease()
    folder = tmp_path_factory.mktemp("i18n")
    r = subprocess.run([lrelease, "-nounfinished", str(TS), "-qm", str(folder / "tile_embeddings_zh_CN.qm")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    translator = install_translator("zh_CN", folder=str(folder))
    assert translator is not None, "the plugin found no zh_CN translation in " + str(folder)
    yield translator
    remove_translator(translator)
    if previous is None:
        settings.remove("locale/userLocale")
    else:
        settings.setValue("locale/userLocale", previous)


# device, file-format and GDAL compression names: the same in every language
PROPER_NAMES = {"CPU", "CUDA", "GeoTIFF", "JPEG", "PNG", "NONE", "DEFLATE", "LZW", "ZSTD"}


def _chinese(text):
    return bool(CJK.search(text or ""))


# -- what QGIS shows with the zh_CN locale ---------------------------------------------------------
def test_locale_names_map_to_the_translation_files(tmp_path):
    from tile_embeddings.processing_provider.i18n import candidates, qm_path

    (tmp_path / "tile_embeddings_zh_CN.qm").write_bytes(b"")
    assert candidates("zh_CN") == ["zh_CN", "zh"]
    assert candidates("en_US") == [] and candidates("C") == []
    assert qm_path("zh_CN", str(tmp_path)).endswith("tile_embeddings_zh_CN.qm")
    assert qm_path("de_DE", str(tmp_path)) is None


def test_every_algorithm_its_group_parameters_and_outputs_are_chinese(zh_cn, te_provider):
    from qgis.core import QgsProcessingParameterEnum

    problems = []
    algorithms = te_provider.algorithms()
    assert len(algorithms) >= 10
    for registered in algorithms:
        alg = registered.create()  # made now, under the zh_CN translator, as QGIS makes it
        label = alg.id()
        for what, text in (("displayName", alg.displayName()), ("group", alg.group()),
                           ("shortDescription", alg.shortDescription()), ("help", alg.shortHelpString())):
            if not _chinese(text):
                problems.append(f"{label} {what}: {text[:100]!r}")
        for p in alg.parameterDefinitions():
            for what, text in (("description", p.description()), ("tooltip", p.help())):
                if not _chinese(text):
                    problems.append(f"{label} {p.name()} {what}: {text[:100]!r}")
            if isinstance(p, QgsProcessingParameterEnum) and not p.usesStaticStrings():
                # device and format names are the same in every language
                problems += [f"{label} {p.name()} option: {o!r}" for o in p.options()
                             if not _chinese(o) and o not in PROPER_NAMES]
        for o in alg.outputDefinitions():
            if not _chinese(o.description()):
                problems.append(f"{label} output {o.name()}: {o.description()!r}")
    assert problems == [], "English left in the zh_CN interface:\n" + "\n".join(problems)


def test_help_pages_follow_the_locale(zh_cn, te_provider):
    from qgis.PyQt.QtCore import QUrl

    help_dir = REPO / "resources" / "help"
    english = {p.name for p in help_dir.glob("*.html")}
    assert english == {p.name for p in (help_dir / "zh_CN").glob("*.html")}, "every help page has a zh_CN version"
    for name in english:
        page = (help_dir / "zh_CN" / name).read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in page and '<meta charset="utf-8">' in page, name
        body = re.sub(r"<code>.*?</code>|<[^>]+>", "", page.split("<body>", 1)[1], flags=re.S)
        cjk = len(CJK.findall(body))
        letters = len(re.findall(r"[A-Za-z]", body))
        assert cjk > letters / 2, f"{name}: {cjk} CJK characters for {letters} Latin letters (not translated?)"
    for alg in te_provider.algorithms():
        url = alg.helpUrl()
        if url:
            assert Path(QUrl(url).toLocalFile()).parent.name == "zh_CN", alg.id()
            assert _chinese(alg.shortHelpString()), alg.id()


def test_dock_and_plugin_menu_are_chinese(zh_cn, fresh_plugin):
    from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
    from qgis.PyQt.QtWidgets import QAbstractButton, QLabel, QTabWidget, QTreeWidget

    fresh_plugin.initGui()
    problems = [f"action: {a.text()!r}" for a in fresh_plugin.actions if not _chinese(a.text())]
    problems += [f"action tooltip: {a.toolTip()!r}" for a in fresh_plugin.actions[:1] if not _chinese(a.toolTip())]
    fresh_plugin.dock_action.trigger()
    dock = fresh_plugin.dock
    texts = [("title", dock.windowTitle())]
    def qgis_owned(widget):
        """Parts of QGIS's own widgets (the file widget's "…" button): QGIS translates those."""
        while widget is not None and widget is not dock:
            if isinstance(widget, (QgsFileWidget, QgsMapLayerComboBox)):
                return True
            widget = widget.parentWidget()
        return False

    for w in dock.findChildren(QLabel) + dock.findChildren(QAbstractButton):
        if qgis_owned(w):
            continue
        if w.text():
            texts.append((type(w).__name__, w.text()))
        if w.toolTip():
            texts.append((type(w).__name__ + " tooltip", w.toolTip()))
    for tabs in dock.findChildren(QTabWidget):
        texts += [("tab", tabs.tabText(i)) for i in range(tabs.count())]
    for tree in dock.findChildren(QTreeWidget):
        header = tree.headerItem()
        texts += [("column", header.text(i)) for i in range(header.columnCount())]
    assert len(texts) >= 30, texts
    problems += [f"{kind}: {t!r}" for kind, t in texts if not _chinese(t)]
    assert problems == [], "English left in the zh_CN dock:\n" + "\n".join(problems)


# -- nothing left untranslated ---------------------------------------------------------------------
def test_no_user_visible_string_is_left_untranslated(tmp_path):
    """Regenerates the .ts from the code (into a copy) and lists every string without a translation.

    Fix: make translations, then translate the listed strings in resources/i18n/tile_embeddings_zh_CN.ts.
    """
    if shutil.which("pylupdate6") is None:
        pytest.fail("pylupdate6 missing: run 'make env' (Debian pyqt6-dev-tools)")
    copy = tmp_path / TS.name
    shutil.copy(TS, copy)
    _load_script("update_translations").update(str(copy))
    current = _messages(copy)
    assert len(current) >= 400
    untranslated = sorted({f"[{context}] {source}" for context, source, text in current if text is None})
    assert untranslated == [], (f"{len(untranslated)} string(s) without a zh_CN translation (run 'make translations' "
                                "and translate them in resources/i18n/tile_embeddings_zh_CN.ts):\n"
                                + "\n".join(untranslated))
    committed = {(c, s) for c, s, _ in _messages(TS)}
    stale = sorted({f"[{c}] {s}" for c, s, _ in current} - {f"[{c}] {s}" for c, s in committed})
    assert stale == [], "the committed .ts lags behind the code: run 'make translations'\n" + "\n".join(stale)


def test_translations_keep_placeholders_and_markup():
    bad = [f"[{c}] {s!r} -> {t!r}" for c, s, t in _messages(TS)
           if t is not None and sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(t))]
    assert bad == [], "a translation lost or changed a {placeholder} or <tag>:\n" + "\n".join(bad)
    unchinese = [f"[{c}] {s!r}" for c, s, t in _messages(TS)
                 if t is not None and not _chinese(t) and re.search(r"[A-Za-z]", PLACEHOLDER.sub("", s))]
    assert unchinese == [], "translations without Chinese:\n" + "\n".join(unchinese)


# -- every user-visible literal goes through tr ----------------------------------------------------
TR_CALLS = {"tr", "translate", "QT_TRANSLATE_NOOP", "QT_TR_NOOP"}
# calls whose string arguments people read
SINKS = {"QLabel", "QPushButton", "QCheckBox", "QAction", "setText", "setToolTip", "setHeaderLabels", "addTab",
         "addRow", "setDialogTitle", "setWindowTitle", "setPlaceholderText", "pushMessage", "pushInfo",
         "pushWarning", "reportError", "setProgressText", "QgsProcessingException", "emit", "setName",
         "QgsRendererCategory", "QgsRendererRange", "setMinimumLabel", "setMaximumLabel", "information",
         "warning", "critical", "question", "getSaveFileName", "getOpenFileName", "getExistingDirectory",
         "addToolBar", "addPluginToMenu", "updateRangeLabel", "setStatusTip", "setWhatsThis"}
# calls whose string arguments are ids, keys or patterns, never shown
NOT_SHOWN = {"startswith", "endswith", "split", "rsplit", "strip", "replace", "get", "setdefault", "value",
             "setValue", "remove", "setObjectName", "strftime", "QgsField", "getattr", "hasattr", "lookupField",
             "indexOf", "colorRamp", "findGroup"}
# prose: two words, a sentence end, or a capitalised word
PROSE = re.compile(r"[A-Za-z]{2,}[^\S\n]+[A-Za-z(]|[A-Za-z]{3,}[.:!?…]$|^[A-Z][a-z]+$")
# (file, literal): why it stays as it is
EXCEPTIONS = {
    ("processing_provider/provider.py", "Tile Embeddings"): "the provider's name: a product name",
    ("plugin/main.py", "Tile Embeddings"): "toolbar and About title: the plugin's name",
    ("plugin/main.py", "&Tile Embeddings"): "the plugin menu: the plugin's name, as QGIS lists it",
    ("plugin/dock.py", "Tile Embeddings"): "message-bar title: the plugin's name",
    ("plugin/result_layers.py", "Tile Embeddings"): "layer group: the plugin's name",
    ("plugin/search_task.py", "Tile Embeddings"): "message-log tab: the plugin's name",
    ("processing_provider/export_onnx.py", "ONNX (*.onnx)"): "a file-type filter: format name and suffix",
    ("plugin/dock.py", "GeoPackage (*.gpkg)"): "a file-type filter: format name and suffix",
    ("plugin/dock.py", "Viridis"): "a QGIS colour-ramp id",
    ("plugin/result_layers.py", "Viridis"): "a QGIS colour-ramp id",
    ("plugin/result_layers.py", "Spectral"): "a QGIS colour-ramp id",
    ("plugin/result_layers.py", "Polygon"): "a memory-layer geometry type",
    ("processing_provider/base.py", "Help"): "a translation context's name",
    ("plugin/result_layers.py", "positive"): "a value of the query layer's role field",
    ("plugin/result_layers.py", "negative"): "a value of the query layer's role field",
    ("plugin/dock.py", "no negatives"): "matched against the engine's log line (core/ stays English)",
    ("plugin/thumbnails.py", "thumbnail source"): "a layer never added to a project",
    ("plugin/tile_lookup.py", "tile {} has no footprint in {}"): "KeyError for a programming error",
    ("processing_provider/classify_tiles.py",
     "Debian/Ubuntu: apt install python3-sklearn; OSGeo4W shell or macOS: pip install scikit-learn"):
        "install commands, the same in every language",
    ("processing_provider/similarity_search.py", "onnxruntime or torch"): "package names",
}
# words taken from elsewhere: help_texts.py's dictionaries are extracted by update_translations.py
# and translated by base.py (test_no_user_visible_string_is_left_untranslated covers them)
SKIPPED_FILES = {"processing_provider/help_texts.py"}


def _name(func):
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def untranslated_literals(path):
    """(line, text) of string literals in ``path`` that look user-visible and reach no tr call."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    docstrings = {n.body[0].value for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        parent = parents.get(node)
        if node in docstrings or isinstance(parent, (ast.JoinedStr, ast.Subscript, ast.Compare)):
            continue
        if isinstance(parent, ast.Dict) and node in parent.keys:
            continue
        p, first_call, translated = node, None, False
        while p in parents:
            p = parents[p]
            if isinstance(p, ast.Call):
                name = _name(p.func)
                if name in TR_CALLS:
                    translated = True
                    break
                first_call = first_call or name
            if isinstance(p, (ast.FunctionDef, ast.ClassDef)):
                break
        if translated or first_call in NOT_SHOWN:
            continue
        if PROSE.search(text) or (first_call in SINKS and re.search(r"[A-Za-z]{2,}", text)):
            found.append((node.lineno, text))
    return found


def test_user_visible_literals_go_through_tr():
    files = sorted((REPO / "processing_provider").glob("*.py")) + sorted((REPO / "plugin").glob("*.py"))
    problems = []
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        if rel in SKIPPED_FILES:
            continue
        problems += [f"{rel}:{line}: {text!r}" for line, text in untranslated_literals(path)
                     if (rel, text) not in EXCEPTIONS]
    assert problems == [], ("user-visible strings not wrapped in self.tr(...) / QCoreApplication.translate(...) "
                            "(or listed in EXCEPTIONS with a reason):\n" + "\n".join(problems))


def test_the_literal_check_would_catch_an_unwrapped_message(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('def f(self, e):\n    raise QgsProcessingException(f"Export failed: {e}")\n'
                      'def g(self):\n    return QPushButton("Clear"), self.tr("Fine"), {"key": 1}["key"]\n')
    assert [t for _, t in untranslated_literals(sample)] == ["Export failed: {}", "Clear"]
