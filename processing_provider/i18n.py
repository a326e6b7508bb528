"""The plugin's user-interface language: Qt translations and localized help pages.

QGIS chooses one interface language (Settings > Options > General > User interface translation,
or ``qgis --lang zh_CN``); the plugin follows it. Translations are Qt ``.qm`` files compiled by
``lrelease`` from ``resources/i18n/tile_embeddings_<locale>.ts`` when the plugin is packaged (the
.qm is not committed); help pages in another language live in ``resources/help/<locale>/``.
A locale without a translation falls back to its language (``zh_CN`` -> ``zh``), then English.

Kept here rather than in plugin/ because ``qgis_process`` loads the Processing provider without
the GUI: the plugin installs the translator in its constructor, which both paths run.
"""

import os

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QLocale, QTranslator

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
I18N_DIR = os.path.join(PLUGIN_DIR, "resources", "i18n")
BASENAME = "tile_embeddings"


def ui_locale():
    """QGIS's interface language as a Qt locale name (``zh_CN``, ``de``, ``en_US``...).

    ``QgsApplication.translation()`` is what QGIS itself uses (``--lang`` or the override in the
    options); else the ``locale/userLocale`` setting; else the system locale. QGIS names Chinese
    ``zh-Hans`` / ``zh-Hant``: QLocale maps them to ``zh_CN`` / ``zh_TW``.
    """
    app = QgsApplication.instance()
    code = app.translation() if isinstance(app, QgsApplication) else ""
    code = str(code or QgsSettings().value("locale/userLocale", "") or QLocale().name())
    return QLocale(code).name() if "-" in code else code


def candidates(locale=None):
    """Locale names to try, most specific first: ``zh_CN`` then ``zh``; nothing for English/C."""
    locale = locale or ui_locale()
    if not locale or locale in ("C", "POSIX") or locale.startswith("en"):
        return []
    language = locale.split("_", 1)[0]
    return [locale] if language == locale else [locale, language]


def qm_path(locale=None, folder=None):
    """The compiled translation for ``locale``, or None where there is none."""
    folder = folder or I18N_DIR
    for name in candidates(locale):
        path = os.path.join(folder, f"{BASENAME}_{name}.qm")
        if os.path.exists(path):
            return path
    return None


def install_translator(locale=None, folder=None):
    """Install the plugin's translator for ``locale`` (default: QGIS's); the translator, or None.

    The caller keeps it and passes it to ``remove_translator`` on unload.
    """
    path = qm_path(locale, folder)
    if path is None:
        return None
    translator = QTranslator()
    if not translator.load(path):
        return None
    QCoreApplication.installTranslator(translator)
    return translator


def remove_translator(translator):
    if translator is not None:
        QCoreApplication.removeTranslator(translator)


def localized_file(folder, filename, locale=None):
    """``folder/<locale>/filename`` (or ``folder/<language>/filename``) when it exists, else
    ``folder/filename``: help pages in the interface language, English otherwise."""
    for name in candidates(locale):
        path = os.path.join(folder, name, filename)
        if os.path.exists(path):
            return path
    return os.path.join(folder, filename)
