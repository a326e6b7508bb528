"""Check, against the real modules, that the plugin's Qt and QGIS names work on QGIS 3 and QGIS 4.

The plugin's Python files are read with ``ast`` (nothing of the plugin is imported). Every name it
reaches through an import from ``qgis.PyQt``, ``qgis.core``, ``qgis.gui`` or ``qgis.analysis``
(``from qgis.PyQt.QtCore import Qt`` then ``Qt.AlignmentFlag.AlignLeft``) is then resolved,
attribute by attribute, in two separate processes:

* **Qt6 / QGIS 4**: against Debian's PyQt6 modules, as QGIS 4's ``qgis.PyQt`` shim serves them.
  What the shim adds on Qt6 (``QAction`` re-exported by ``QtWidgets``, ``QVariant.Int``, flag
  aliases such as ``Qt.ItemFlags``, ...) is read from the Qt6 branches of the installed shim's
  own source (``qgis/PyQt/*.py``, generated from the template QGIS 4 is built from), so names it
  provides count as present. No QGIS 4 build is available, so ``qgis.core`` names are not
  resolved here.
* **The running QGIS** (3.40 or 3.44, Qt5): the ``qgis.PyQt`` and ``qgis.core``/``gui``/
  ``analysis`` names must exist, and every enum value must be reached through its enum
  (``Qgis.MessageLevel.Critical``, not ``Qgis.Critical``; ``Qgis.ProcessingSourceType.VectorPoint``,
  not ``QgsProcessing.TypeVectorPoint``): unscoped values are gone on Qt6.

Also flagged without resolving: Qt imported other than through ``qgis.PyQt`` (PyQt5, PyQt6,
PySide, sip), star imports from ``qgis.PyQt``, and ``exec_()``.

``supportsQt6`` in metadata.txt is the gate: while it is True every Qt6 finding fails the check;
set to False, Qt6 findings are only reported. Names missing in the running QGIS always fail.
A line may opt out with ``# noqa: qt6`` and a reason. Exit status 1 on failure.

    python3 scripts/check_qt6.py [PATH...]      (inside the rootfs: needs python3-pyqt6 and QGIS)
"""
import ast
import configparser
import enum
import importlib
import importlib.util
import json
import operator
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = {".git", "__pycache__", "dist", ".venv", "demo-output", "bench-output", ".ruff_cache",
        ".pytest_cache", "build"}
QT_PREFIX = "qgis.PyQt."
QGIS_MODULES = ("qgis.core", "qgis.gui", "qgis.analysis")
FOREIGN_QT = {"PyQt5", "PyQt6", "PySide2", "PySide6", "sip", "shiboken2", "shiboken6"}


# ---------------------------------------------------------------- 1. what the code references

def _dotted(node):
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def _checked(dotted):
    return dotted.startswith(QT_PREFIX) or any(
        dotted == m or dotted.startswith(m + ".") for m in QGIS_MODULES)


def collect(path):
    """(findings, references) of one file: findings need no resolving, references are
    (line, dotted name) pairs to resolve."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    lines = source.splitlines()
    tree = ast.parse(source, filename=path)
    findings, refs, bindings = [], [], {}

    def opted_out(node):
        return "noqa: qt6" in lines[node.lineno - 1]

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FOREIGN_QT and not opted_out(node):
                    findings.append((node.lineno, f"import Qt through qgis.PyQt, not {alias.name}"))
                if alias.asname:
                    bindings[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bindings[top] = top
                if _checked(alias.name) and not opted_out(node):
                    refs.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module.split(".")[0] in FOREIGN_QT and not opted_out(node):
                findings.append((node.lineno, f"import Qt through qgis.PyQt, not {node.module}"))
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if alias.name == "*":
                    if _checked(node.module + ".x") and not opted_out(node):
                        findings.append((node.lineno, f"star import from {node.module}: import names"))
                    continue
                bindings[alias.asname or alias.name] = full
                if _checked(full) and not opted_out(node):
                    refs.append((node.lineno, full))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "exec_" and not opted_out(node):
            findings.append((node.lineno, "exec_() does not exist in PyQt6: use exec()"))

    def visit(node, inside_chain=False):
        if isinstance(node, ast.Attribute) and not inside_chain:
            dotted = _dotted(node)
            if dotted:
                root, _, rest = dotted.partition(".")
                origin = bindings.get(root)
                if origin and _checked(f"{origin}.{rest}") and not opted_out(node):
                    refs.append((node.lineno, f"{origin}.{rest}"))
        for child in ast.iter_child_nodes(node):
            # only the outermost attribute of a chain is a reference (a.b.c, not a.b)
            visit(child, inside_chain=isinstance(node, ast.Attribute) and isinstance(child, ast.Attribute))

    visit(tree)
    return findings, refs


def python_files(paths):
    for top in paths or [ROOT]:
        if os.path.isfile(top):
            yield top
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP)
            for name in sorted(filenames):
                if name.endswith(".py"):
                    yield os.path.join(dirpath, name)


# ---------------------------------------------------------------- 2. resolving (child processes)

def _split(dotted):
    """(module, [attributes]) of a checked dotted name."""
    parts = dotted.split(".")
    n = 3 if dotted.startswith(QT_PREFIX) else 2
    return ".".join(parts[:n]), parts[n:]


_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge}


class Qt6Shim:
    """What QGIS's qgis.PyQt shim adds to PyQt6, read from the Qt6 branches of its source.

    The installed shim is generated for Qt5 from the same template as QGIS 4's: its Qt6 code sits
    behind ``if QT_VERSION >= 0x060000:`` or a rendered ``if 5 == 6:`` (``@QT_VERSION_MAJOR@ == 6``).
    """

    def __init__(self, qt_version):
        self.qt_version = qt_version
        spec = importlib.util.find_spec("qgis")  # locates the package without importing it
        self.folder = os.path.join(os.path.dirname(spec.origin), "PyQt") if spec and spec.origin else None
        self._cache = {}

    def _on_qt6(self, test):
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _CMP:
            left, right, op = test.left, test.comparators[0], _CMP[type(test.ops[0])]
            if isinstance(left, ast.Name) and left.id == "QT_VERSION" and isinstance(right, ast.Constant):
                return op(self.qt_version, right.value)
            if isinstance(left, ast.Constant) and isinstance(right, ast.Constant) and left.value in (5, 6):
                return op(6, right.value)  # the major version the template was rendered with, on Qt6
        return None  # not a Qt-version test: take nothing from it

    def module(self, name):
        """(names, attributes): module-level names the shim defines on Qt6 (name -> dotted PyQt6
        object it aliases, or None), and (owner, attribute) pairs it patches onto classes."""
        if name in self._cache:
            return self._cache[name]
        names, attrs, aliases = {}, set(), {}
        path = os.path.join(self.folder or "", name + ".py")
        if self.folder and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                body = ast.parse(f.read()).body

            def walk(stmts):
                for st in stmts:
                    if isinstance(st, ast.If):
                        on = self._on_qt6(st.test)
                        if on is not None:
                            walk(st.body if on else st.orelse)
                    elif isinstance(st, ast.Try):
                        walk(st.body)
                    elif isinstance(st, ast.ImportFrom) and st.module and st.module.split(".")[0] in ("PyQt5", "PyQt6"):
                        mod = "PyQt6." + st.module.partition(".")[2]
                        for a in st.names:
                            if a.name != "*":
                                aliases[a.asname or a.name] = f"{mod}.{a.name}"
                    elif isinstance(st, ast.Assign):
                        for t in st.targets:
                            if isinstance(t, ast.Name):
                                src = st.value.id if isinstance(st.value, ast.Name) else None
                                names[t.id] = aliases.get(src)
                            elif isinstance(t, ast.Attribute) and _dotted(t.value):
                                attrs.add((_dotted(t.value), t.attr))
                    elif isinstance(st, (ast.FunctionDef, ast.ClassDef)):
                        names[st.name] = None
            walk(body)
        self._cache[name] = (names, attrs)
        return names, attrs


def _import_dotted(dotted):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(dotted)


def resolve_qt6(names):
    try:
        from PyQt6.QtCore import QT_VERSION
    except ImportError:
        return {"": "PyQt6 is not installed: run inside the rootfs (make lint), which has python3-pyqt6"}
    shim = Qt6Shim(QT_VERSION)
    if shim.folder is None:
        return {"": "the qgis package (its qgis.PyQt shim) is not installed here"}
    missing = {}
    for dotted in names:
        if not dotted.startswith(QT_PREFIX):
            continue
        module, attrs = _split(dotted)
        short = module.rpartition(".")[2]
        try:
            obj = importlib.import_module("PyQt6." + short)
        except ImportError:
            missing[dotted] = f"no PyQt6.{short} for qgis.PyQt.{short}"
            continue
        shim_names, shim_attrs = shim.module(short)
        where = ""
        for i, attr in enumerate(attrs):
            if i == 0 and attr in shim_names:
                if shim_names[attr] is None:
                    break  # defined by the shim itself: present, nothing more to follow
                obj = _import_dotted(shim_names[attr])
                where = attr
                continue
            if where and (where, attr) in shim_attrs:
                break  # patched in by the shim on Qt6
            if not hasattr(obj, attr):
                shown = f"{where}.{attr}" if where else attr
                missing[dotted] = f"PyQt6.{short} has no {shown}"
                break
            obj = getattr(obj, attr)
            where = f"{where}.{attr}" if where else attr
    return missing


def _enum_member(v):
    return isinstance(v, enum.Enum) or type(type(v)).__name__ == "enumtype"  # PyQt5/QGIS sip enums


def resolve_running(names):
    try:
        from qgis.core import Qgis
    except ImportError:
        return {"": "QGIS (python3-qgis) is not installed: run inside the rootfs (make lint)"}
    qgis = f"QGIS {Qgis.version().split('-')[0]}"
    missing, unscoped = {}, {}
    for dotted in names:
        module, attrs = _split(dotted)
        try:
            obj = importlib.import_module(module)
        except ImportError:
            missing[dotted] = f"{module} does not exist in {qgis}"
            continue
        for i, attr in enumerate(attrs):
            if not hasattr(obj, attr):
                missing[dotted] = f"{'.'.join(attrs[:i + 1])} does not exist in {qgis}"
                break
            child = getattr(obj, attr)
            if _enum_member(child) and obj is not type(child) and not isinstance(obj, enum.EnumMeta):
                scoped = f"{type(child).__qualname__}.{getattr(child, 'name', attr)}"
                unscoped[dotted] = f"unscoped enum value (gone on Qt6): use {scoped}"
                break
            obj = child
    return {"missing": missing, "unscoped": unscoped}


def _child(kind, names):
    """Resolve names in a fresh interpreter: PyQt5 (QGIS 3) and PyQt6 never share a process."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--resolve", kind],
                       input=json.dumps(sorted(names)), capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"check_qt6: resolving against {kind} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout)


# ---------------------------------------------------------------- 3. verdict

def supports_qt6():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    return parser.getboolean("general", "supportsQt6", fallback=False)


def check(paths):
    """(qt6 findings, QGIS 3 findings): lists of 'path:line: message' strings."""
    qt6, qgis3, refs = [], [], []
    for path in python_files(paths):
        if os.path.abspath(path) == os.path.abspath(__file__):
            continue
        rel = os.path.relpath(path, ROOT) if path.startswith(ROOT) else path
        findings, file_refs = collect(path)
        qt6 += [f"{rel}:{n}: {m}" for n, m in findings]
        refs += [(rel, n, d) for n, d in file_refs]
    names = {d for _, _, d in refs}
    on_qt6 = _child("qt6", names)
    running = _child("running", names)
    for fatal in (on_qt6.get(""), running.get("")):
        if fatal:
            raise SystemExit(f"check_qt6: {fatal}")
    for rel, n, d in refs:
        if d in running["missing"]:
            qgis3.append(f"{rel}:{n}: {running['missing'][d]}: {d}")
        elif d.startswith(QT_PREFIX) and d in on_qt6:
            # PyQt6 decides for Qt names (the shim may patch an unscoped name back in);
            # an unscoped Qt5 value gets the scoped spelling as advice
            qt6.append(f"{rel}:{n}: {running['unscoped'].get(d, on_qt6[d])}: {d}")
        elif not d.startswith(QT_PREFIX) and d in running["unscoped"]:
            qt6.append(f"{rel}:{n}: {running['unscoped'][d]}: {d}")
    return sorted(set(qt6)), sorted(set(qgis3)), len(names)


def main(argv):
    if argv[:1] == ["--resolve"]:
        names = json.load(sys.stdin)
        print(json.dumps(resolve_qt6(names) if argv[1] == "qt6" else resolve_running(names)))
        return 0
    qt6, qgis3, n = check(argv)
    for line in qgis3 + qt6:
        print(line)
    gate = supports_qt6()
    if qt6 and not gate:
        print(f"check_qt6: {len(qt6)} Qt6 finding(s) reported only: supportsQt6 is False in metadata.txt")
    if qgis3 or (qt6 and gate):
        if qt6 and gate:
            print("check_qt6: supportsQt6=True in metadata.txt: fix these (or set it False)")
        return 1
    if not qt6:
        print(f"check_qt6: {n} Qt/QGIS names resolve on PyQt6 and the running QGIS"
              + ("" if gate else "; supportsQt6 could be set True in metadata.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
