from qgis.core import QgsApplication
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QEvent

PROVIDER_ID = "tile_embeddings"


def test_class_factory_init_processing_registers_provider(fresh_plugin):
    registry = QgsApplication.processingRegistry()
    assert registry.providerById(PROVIDER_ID) is None
    fresh_plugin.initProcessing()
    provider = registry.providerById(PROVIDER_ID)
    assert provider is not None
    assert provider.name() == "Tile Embeddings"
    assert provider.svgIconPath().endswith(".svg")
    assert not provider.icon().isNull()
    fresh_plugin.initProcessing()  # idempotent: no second provider, no error
    assert [p.id() for p in registry.providers()].count(PROVIDER_ID) == 1


def test_init_gui_and_unload_leave_nothing_behind(fresh_plugin, qgis_iface):
    registry = QgsApplication.processingRegistry()
    fresh_plugin.initGui()
    assert registry.providerById(PROVIDER_ID) is not None
    assert fresh_plugin.actions, "initGui adds at least one action"
    actions = list(fresh_plugin.actions)
    toolbar = fresh_plugin.toolbar
    fresh_plugin.unload()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert registry.providerById(PROVIDER_ID) is None
    assert fresh_plugin.actions == []
    assert fresh_plugin.toolbar is None
    assert fresh_plugin.provider is None
    # actions and toolbar are destroyed, not just hidden
    assert all(sip.isdeleted(a) for a in actions)
    assert sip.isdeleted(toolbar)


def test_session_provider_is_available_to_processing(te_provider):
    assert te_provider.id() == PROVIDER_ID
    assert QgsApplication.processingRegistry().providerById(PROVIDER_ID) is te_provider


def test_dock_opens_from_its_action_and_unload_removes_it(fresh_plugin, qgis_iface):
    fresh_plugin.initGui()
    action = fresh_plugin.dock_action
    assert action is not None and action.isCheckable()
    action.trigger()
    dock = fresh_plugin.dock
    assert dock is not None and dock.objectName() == "TileEmbeddingsSimilarityDock"
    assert action.isChecked()
    tool = dock.tool
    dock.pick.setChecked(True)
    assert qgis_iface.mapCanvas().mapTool() is tool
    fresh_plugin.unload()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert fresh_plugin.dock is None
    assert sip.isdeleted(dock)
    assert qgis_iface.mapCanvas().mapTool() is not tool


# -- the words people read: toolbox tooltip, parameter tooltips, help panel, help page ------------
def _panel(alg):
    """The algorithm dialog's side panel as QgsProcessingAlgorithmDialogBase::formatHelp builds it."""
    paragraphs = "".join(f"<p>{line}</p>" for line in alg.shortHelpString().split("\n"))
    return f"<h2>{alg.displayName()}</h2>{paragraphs}"


def _headings(html):
    import re

    return [re.sub(r"<[^>]+>|\s+", " ", h).strip() for h in re.findall(r"<h\d[^>]*>(.*?)</h\d>", html, re.S)]


def test_every_algorithm_has_a_one_sentence_toolbox_description(te_provider):
    algorithms = te_provider.algorithms()
    assert len(algorithms) >= 10  # seven algorithms and three workflows
    for alg in algorithms:
        text = alg.shortDescription()
        assert text.strip(), alg.id()
        assert text.endswith(".") and ". " not in text and "\n" not in text, (alg.id(), text)
        assert text != alg.displayName()


def test_every_parameter_has_a_help_tooltip(te_provider):
    """A new parameter needs an entry in processing_provider/help_texts.py (workflows: in the model)."""
    missing = [f"{alg.id()}: {p.name()}" for alg in te_provider.algorithms() for p in alg.parameterDefinitions()
               if not p.help().strip()]
    assert missing == [], "parameters without help: " + ", ".join(missing)
    alg = te_provider.algorithm("splitraster")
    tip = alg.parameterDefinition("TILE_SIZE").toolTip()
    assert alg.parameterDefinition("TILE_SIZE").help() in tip  # what hovering the parameter shows


def test_help_entries_name_real_parameters(te_provider):
    """A renamed parameter must take its help along (a stale entry would hide a missing one)."""
    from tile_embeddings.processing_provider.help_texts import PARAMETER_HELP, SHORT_DESCRIPTIONS

    registry = QgsApplication.processingRegistry()
    for name, entries in PARAMETER_HELP.items():
        alg = registry.algorithmById(f"{PROVIDER_ID}:{name}")
        assert alg is not None, name
        assert set(entries) <= {p.name() for p in alg.parameterDefinitions()}, name
    assert set(SHORT_DESCRIPTIONS) == set(PARAMETER_HELP)


def test_help_panel_flows_and_names_the_algorithm_once(te_provider):
    for alg in te_provider.algorithms():
        text = alg.shortHelpString()
        assert text.strip(), alg.id()
        # QGIS makes each line a paragraph: a line break inside a sentence splits it in two
        assert "\n" not in text, alg.id()
        titles = [h for h in _headings(_panel(alg)) if h.casefold() == alg.displayName().casefold()]
        assert len(titles) == 1, (alg.id(), _headings(_panel(alg)))


def test_help_button_opens_the_plugins_own_page(te_provider):
    import re
    from pathlib import Path

    from qgis.PyQt.QtCore import QUrl

    pages = set()
    for alg in te_provider.algorithms():
        url = alg.helpUrl()
        if alg.groupId() == "workflows":
            assert url == "", alg.id()  # QGIS hides the Help button; the help is in the side panel
            continue
        assert url, alg.id()
        qurl = QUrl(url)
        assert qurl.isLocalFile(), url
        page = Path(qurl.toLocalFile())
        assert page.is_file(), url
        pages.add(page.name)
        html = page.read_text(encoding="utf-8")
        # a page that stands alone in a browser: declared encoding, a title, no dead links
        assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html, page.name
        assert re.search(r"<title>[^<]+</title>", html), page.name
        assert alg.displayName() not in _headings(html), page.name
        assert not re.search(r"""(href|src)=["']https?://""", html), page.name
    help_dir = Path(QUrl(te_provider.algorithm("bboxmask").helpUrl()).toLocalFile()).parent
    assert pages == {p.name for p in help_dir.glob("*.html")}  # no page without its algorithm


def test_metadata_has_no_homepage_that_does_not_exist():
    import configparser
    from pathlib import Path

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(__file__).resolve().parents[2] / "metadata.txt", encoding="utf-8")
    assert "homepage" not in parser["general"]
