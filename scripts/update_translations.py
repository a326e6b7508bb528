"""Regenerate the translation sources (resources/i18n/tile_embeddings_<locale>.ts) from the code.

    python3 scripts/update_translations.py            (make translations; inside the rootfs)
    python3 scripts/update_translations.py --ts PATH  update another .ts (the tests use a temp copy)

Runs Qt's ``pylupdate6`` (Debian ``pyqt6-dev-tools``) over processing_provider/ and plugin/: every
``self.tr("...")`` (context: the class), ``QCoreApplication.translate("Context", "...")`` and
``QT_TRANSLATE_NOOP("Context", "...")``. Existing translations are kept; new or changed strings
appear as ``type="unfinished"`` for a translator (Qt Linguist, or any editor); strings gone from
the code are dropped (``--no-obsolete``: git keeps the old ones).

Two sources of words are not Python calls, and are added here under fixed contexts:
  - processing_provider/help_texts.py (toolbox and parameter tooltips): context ``Help``, the one
    that base.py translates them in;
  - resources/models/*.model3 (the shipped workflows: names, parameter descriptions and help):
    context ``ShippedModel``, the one that provider.ShippedModel translates them in.
They are written as QT_TRANSLATE_NOOP calls into a temporary file per source, at the source's
own line numbers, and the .ts then names the real file.

The .qm files that QGIS loads are compiled by ``lrelease`` when the plugin is packaged
(scripts/package.py); they are not committed.
"""

import argparse
import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from xml.sax.saxutils import unescape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
I18N_DIR = os.path.join(ROOT, "resources", "i18n")
LOCALES = ("zh_CN",)
SOURCES = ("processing_provider", "plugin")
HELP_TEXTS = os.path.join("processing_provider", "help_texts.py")
HELP_CONTEXT = "Help"
MODEL_CONTEXT = "ShippedModel"
# model options that people read: the workflow's name, parameter descriptions, help entries
_MODEL_OPTION = re.compile(r'<Option name="([^"]+)" type="QString" value="([^"]*)"\s*/>')
_MODEL_TEXT_KEYS = {"description", "help", "ALG_DESC", "SHORT_DESCRIPTION"}
_MODEL_HELP_KEPT = {"ALG_CREATOR", "ALG_HELP_CREATOR", "ALG_VERSION", "EXAMPLES", "HELP_URL"}


def ts_path(locale):
    return os.path.join(I18N_DIR, f"tile_embeddings_{locale}.ts")


def help_text_strings(path):
    """(line, text) of every string of help_texts.py's dictionaries and module constants."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            found += [(v.lineno, v.value) for v in node.values
                      if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value]
    for node in tree.body:  # constants shared by several entries (_THREADS)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            if node.targets[0].id != "__doc__":
                found.append((node.value.lineno, node.value.value))
    return found


def model_strings(path):
    """(line, text) of the words a person reads in a .model3 file."""
    found = []
    in_help = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if '<Option name="help" type="Map">' in line:
                in_help = True
                continue
            if in_help and line.strip() == "</Option>":
                in_help = False
            for key, value in _MODEL_OPTION.findall(line):
                text = unescape(value, {"&quot;": '"', "&apos;": "'"})
                if not text.strip():
                    continue
                if key in _MODEL_TEXT_KEYS or key in ("model_name", "model_group") or (
                        in_help and key not in _MODEL_HELP_KEPT):
                    found.append((number, text))
    return found


def noop_file(folder, name, context, strings):
    """A Python file of QT_TRANSLATE_NOOP calls, each on its string's line in the real source."""
    by_line = {}
    for line, text in strings:
        by_line.setdefault(line, []).append(f"QT_TRANSLATE_NOOP({context!r}, {text!r})")
    lines = [""] * (max(by_line) if by_line else 0)
    for line, calls in by_line.items():
        lines[line - 1] = "; ".join(calls)
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def pylupdate():
    tool = shutil.which("pylupdate6")
    if tool is None:
        sys.exit("pylupdate6 not found: install Debian's pyqt6-dev-tools (make env does), or run "
                 "'make translations' from the repository root")
    return tool


def update(ts, root=ROOT):
    """Update the .ts file ``ts`` from the sources under ``root``; returns pylupdate6's summary."""
    tool = pylupdate()
    tmp = tempfile.mkdtemp(prefix="te-i18n-")
    try:
        generated = {noop_file(tmp, "help_texts.py", HELP_CONTEXT, help_text_strings(os.path.join(root, HELP_TEXTS))):
                     os.path.join(root, HELP_TEXTS)}
        for model in sorted(glob.glob(os.path.join(root, "resources", "models", "*.model3"))):
            name = os.path.splitext(os.path.basename(model))[0] + ".py"
            generated[noop_file(tmp, name, MODEL_CONTEXT, model_strings(model))] = model
        sources = [os.path.join(root, s) for s in SOURCES]
        os.makedirs(os.path.dirname(os.path.abspath(ts)), exist_ok=True)
        r = subprocess.run([tool, "--no-obsolete", "--exclude", "__pycache__", *sources, *generated, "--ts", ts],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"pylupdate6 failed:\n{r.stdout}\n{r.stderr}")
        ts_dir = os.path.dirname(os.path.abspath(ts))
        with open(ts, encoding="utf-8") as f:
            text = f.read()
        for fake, real in generated.items():
            text = text.replace(f'filename="{os.path.relpath(fake, ts_dir)}"',
                                f'filename="{os.path.relpath(real, ts_dir)}"')
        with open(ts, "w", encoding="utf-8") as f:
            f.write(text)
        return (r.stdout + r.stderr).strip()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ts", help="the .ts file to update (default: every locale in resources/i18n)")
    args = parser.parse_args()
    for ts in [args.ts] if args.ts else [ts_path(locale) for locale in LOCALES]:
        print(f"{os.path.relpath(ts, ROOT)}: {update(ts)}")


if __name__ == "__main__":
    main()
