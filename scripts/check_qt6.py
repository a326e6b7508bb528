"""Catch code that works on Qt5/QGIS 3 but breaks on Qt6/QGIS 4.

* Qt imported other than through ``qgis.PyQt`` (PyQt5, PyQt6, PySide, sip);
* ``exec_()`` (gone in PyQt6: use ``exec()``);
* unscoped enum values such as ``Qt.AlignLeft``, ``QMessageBox.Ok`` or ``Qgis.Critical``
  (use ``Qt.AlignmentFlag.AlignLeft``, ``QMessageBox.StandardButton.Ok``,
  ``Qgis.MessageLevel.Critical``).

A line may opt out with ``# noqa: qt6`` and a reason. Exit status 1 when anything is found.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = {".git", "__pycache__", "dist", ".venv", "demo-output", ".ruff_cache", ".pytest_cache"}

RULES = [
    (re.compile(r"^\s*(from|import)\s+(PyQt5|PyQt6|PySide2|PySide6|sip)\b"),
     "import Qt through qgis.PyQt"),
    (re.compile(r"\.exec_\s*\("), "exec_() does not exist in PyQt6: use exec()"),
    # Q-something.Value not followed by '.', '(' or more identifier: an unscoped enum value
    (re.compile(r"\b(Q[A-Za-z0-9_]*)\.([A-Z][A-Za-z0-9_]*)\b(?!\s*[.(\w])"),
     "unscoped enum: use the scoped form (e.g. Qt.AlignmentFlag.AlignLeft)"),
]
# Q-prefixed names that are modules or classes, not enum values
ALLOWED = {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtXml", "QtSvg", "QtTest", "QtSql", "PyQt"}


def check_file(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            code = line.split("#", 1)[0] if "noqa: qt6" not in line else ""
            code = re.sub(r"(\"[^\"]*\"|'[^']*')", "''", code)  # ignore strings
            for rule, message in RULES:
                for m in rule.finditer(code):
                    if m.groups() and m.lastindex and m.lastindex >= 2 and m.group(2) in ALLOWED:
                        continue
                    problems.append(f"{os.path.relpath(path, ROOT)}:{n}: {message}: {m.group(0).strip()}")
    return problems


def main(paths):
    problems = []
    for top in paths or [ROOT]:
        if os.path.isfile(top):
            problems += check_file(top)
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in SKIP]
            for name in filenames:
                if name.endswith(".py") and name != "check_qt6.py":
                    problems += check_file(os.path.join(dirpath, name))
    print("\n".join(problems) if problems else "check_qt6: no Qt6 breakers found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
