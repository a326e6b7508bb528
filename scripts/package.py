"""Build the plugin zip that the QGIS plugin manager installs ("Install from ZIP"), and check it.

The zip holds one folder, ``tile_embeddings/``, with the plugin code and resources only:
no tests, scripts, caches or build outputs. Test fixtures live under tests/; a file named
``test_*`` that strays into a packaged folder stops the build rather than reaching users (every
.model3 in resources/models is listed in the Processing toolbox).

    python3 scripts/package.py [DIR]            build DIR/tile_embeddings-VERSION.zip (default dist/)
    python3 scripts/package.py --check [DIR]    build it, then check it as plugins.qgis.org does

``--check`` (run by ``make lint``) applies to the zip what the QGIS plugin repository applies on
upload (qgis/QGIS-Plugins-Website, ``plugins/validator.py`` and ``plugins/security_scanner.py``):
the validator's blocking rules (size, paths, no caches, one top folder, ``__init__.py``,
``LICENSE``, the required metadata, URLs), the scanner's file analysis (no executable ``.py``, no
hidden files, no binaries), and the scanner's real tools on the unpacked zip: ``bandit`` (every
severity, where the site shows medium and up) and ``detect-secrets scan --all-files``, plus
``flake8-qgis``'s stable rules (QGS1xx imports/API, QGS4xx Qt6; not QGS105, see below). Where the site merely warns,
this fails. Not checked: whether the URLs answer (no network here) and the version's uniqueness
on the site.
"""
import configparser
import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = ["__init__.py", "metadata.txt", "LICENSE", "README.md", "core", "plugin",
           "processing_provider", "resources"]
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
# translation sources (.ts) stay out: the zip holds the .qm that lrelease compiles from them
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~", ".ts", ".qm")
I18N_DIR = os.path.join(ROOT, "resources", "i18n")


def version():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    return parser.get("general", "version")


def packaged_files():
    """(path, name in the zip) of every file that goes into the plugin zip."""
    files = []
    for item in INCLUDE:
        path = os.path.join(ROOT, item)
        if os.path.isfile(path):
            files.append((path, f"tile_embeddings/{item}"))
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                if name.endswith(SKIP_SUFFIXES):
                    continue
                full = os.path.join(dirpath, name)
                if name.startswith("test_"):
                    raise ValueError(f"{full} looks like a test file: move it to tests/data")
                files.append((full, "tile_embeddings/" + os.path.relpath(full, ROOT).replace(os.sep, "/")))
    return files


def lrelease():
    for tool in ("lrelease", "lrelease-qt5", "/usr/lib/qt5/bin/lrelease", "lrelease6", "/usr/lib/qt6/bin/lrelease"):
        if shutil.which(tool):
            return shutil.which(tool)
    raise SystemExit("lrelease not found: install Debian's qttools5-dev-tools (make env does)")


def compile_translations(out_dir):
    """Compile every resources/i18n/*.ts into ``out_dir``; (path, name in the zip) of each .qm.

    ``-nounfinished``: a string nobody has translated yet stays English rather than empty.
    """
    compiled = []
    for ts in sorted(glob.glob(os.path.join(I18N_DIR, "*.ts"))):
        qm = os.path.join(out_dir, os.path.splitext(os.path.basename(ts))[0] + ".qm")
        r = subprocess.run([lrelease(), "-nounfinished", "-silent", ts, "-qm", qm], capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(qm):
            raise SystemExit(f"lrelease failed on {ts}:\n{r.stdout}{r.stderr}")
        compiled.append((qm, f"tile_embeddings/resources/i18n/{os.path.basename(qm)}"))
    return compiled


def build(out_dir):
    files = packaged_files()
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"tile_embeddings-{version()}.zip")
    tmp = target + ".part"
    qm_dir = tempfile.mkdtemp(prefix="te-qm-")
    try:
        files += compile_translations(qm_dir)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for full, name in files:
                z.write(full, name)
    finally:
        shutil.rmtree(qm_dir, ignore_errors=True)
    os.replace(tmp, target)
    return target


# ---- what the plugin repository checks (plugins/validator.py: blocking on upload)
MAX_ZIP_BYTES = 25_000_000  # PLUGIN_MAX_UPLOAD_SIZE
REQUIRED_METADATA = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about",
                     "tracker", "repository")
BOOLEAN_METADATA = ("experimental", "deprecated", "server", "supportsQt6")
PLACEHOLDER_URLS = {"tracker": "http://bugs", "repository": "http://repo", "homepage": "http://homepage"}
FORBIDDEN_DIRS = {"__MACOSX", ".git", "__pycache__"}
# plugins/security_scanner.py, _check_suspicious_files
SUSPICIOUS_SUFFIXES = (".exe", ".dll", ".so", ".dylib", ".bat", ".sh", ".ps1", ".cmd")
# ours: what a plugin zip may hold at all; everything but images and compiled translations must be text
TEXT_SUFFIXES = (".py", ".txt", ".md", ".html", ".css", ".svg", ".model3", ".json", ".xml", ".qml")
BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".qm")
TEXT_NAMES = ("LICENSE",)


def check_zip(path):
    """Problems of the plugin zip at ``path``, as lines: empty when plugins.qgis.org would take it."""
    problems = []
    size = os.path.getsize(path)
    if size > MAX_ZIP_BYTES:
        problems.append(f"{size / 1e6:.1f} MB: the plugin repository takes at most {MAX_ZIP_BYTES / 1e6:.0f} MB")
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        return problems + [f"not a zip file: {e}"]
    with z:
        bad = z.testzip()
        if bad:
            problems.append(f"bad zip (CRC error) on {bad}")
        infos = [i for i in z.infolist() if not i.is_dir()]
        names = [i.filename for i in infos]
        tops = {n.split("/", 1)[0] for n in z.namelist()}
        if len(tops) != 1 or not all("/" in n for n in names):
            return problems + [f"the zip must hold exactly one top folder, not {sorted(tops)}"]
        (top,) = tops
        if not re.match(r"^[A-Za-z][A-Za-z0-9-_]+$", top):
            problems.append(f"top folder {top!r}: ASCII letters, digits, - and _ only, starting with a letter")
        for info in infos:
            n = info.filename
            base = n.rsplit("/", 1)[-1]
            parts = n.split("/")
            if ".." in n or n.startswith("/"):
                problems.append(f"{n}: path information ('..' or absolute) in the zip")
            if ".pyc" in n or ".pyo" in n:
                problems.append(f"{n}: compiled Python in the zip")
            for d in FORBIDDEN_DIRS.intersection(parts[:-1]):
                problems.append(f"{n}: {d} folder in the zip")
            if base.startswith("."):
                problems.append(f"{n}: hidden file")
            if n.lower().endswith(SUSPICIOUS_SUFFIXES):
                problems.append(f"{n}: executable or library")
            if (info.external_attr >> 16) & 0o111 and n.endswith(".py"):
                problems.append(f"{n}: executable permission on a Python file")
            if n.lower().endswith(BINARY_SUFFIXES):
                continue
            if not (n.lower().endswith(TEXT_SUFFIXES) or base in TEXT_NAMES):
                problems.append(f"{n}: unexpected file type in a plugin zip (data, weights, build output?)")
                continue
            data = z.read(info)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = "\0"
            if "\0" in text:
                problems.append(f"{n}: binary content in a text file")
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{required}" not in names:
                problems.append(f"{top}/{required} is missing")
        if f"{top}/metadata.txt" in names:
            problems += _check_metadata(z.read(f"{top}/metadata.txt"), set(names), top)
    return problems


def _check_metadata(raw, names, top):
    problems = []
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # the repository reads keys case-sensitively
    try:
        parser.read_file(io.StringIO(raw.decode("utf-8")))
    except (UnicodeDecodeError, configparser.Error) as e:
        return [f"metadata.txt does not parse: {e}"]
    if not parser.has_section("general"):
        return ["metadata.txt has no [general] section"]
    md = {k: v.strip() for k, v in parser.items("general")}
    problems += [f"metadata.txt: {k} is missing or empty" for k in REQUIRED_METADATA if not md.get(k)]
    for key, placeholder in PLACEHOLDER_URLS.items():
        url = md.get(key)
        if url and (url == placeholder or not re.match(r"^https?://[^/\s]+", url)):
            problems.append(f"metadata.txt: {key}={url} is not a valid http(s) URL")
    if "/" in md.get("author", ""):
        problems.append("metadata.txt: author cannot contain slashes")
    for key in BOOLEAN_METADATA:
        if key in md and md[key].lower() not in ("true", "false", "1", "0", "yes", "no"):
            problems.append(f"metadata.txt: {key}={md[key]} is not a boolean")
    versions = []
    for key in ("qgisMinimumVersion", "qgisMaximumVersion"):
        if key in md:
            if not re.match(r"^\d+\.\d+(\.\d+)?$", md[key]):
                problems.append(f"metadata.txt: {key}={md[key]} is not a QGIS version (like 3.40)")
            else:
                versions.append(tuple(int(x) for x in md[key].split(".")))
    if len(versions) == 2 and versions[0] > versions[1]:
        problems.append("metadata.txt: qgisMinimumVersion is above qgisMaximumVersion")
    if md.get("icon") and f"{top}/{md['icon'].removeprefix('./')}" not in names:
        problems.append(f"metadata.txt: icon {md['icon']} is not in the zip")
    return problems


def scan_with_tools(folder):
    """The plugin repository's scanners on an unpacked plugin: (tool, findings) for each tool."""
    results = []
    r = subprocess.run(["bandit", "-r", folder, "-q", "-f", "json"], capture_output=True, text=True)
    try:
        found = json.loads(r.stdout)["results"]
    except (ValueError, KeyError):
        raise SystemExit(f"bandit did not run: {r.stderr[-2000:]}") from None
    results.append(("bandit", [f"{os.path.relpath(i['filename'], folder)}:{i['line_number']}: {i['test_id']} "
                               f"({i['issue_severity']}) {i['issue_text']}" for i in found]))
    r = subprocess.run(["detect-secrets", "scan", "--all-files", "--exclude-files", r"metadata\.txt", "."],
                       cwd=folder, capture_output=True, text=True)
    try:
        found = json.loads(r.stdout)["results"]
    except (ValueError, KeyError):
        raise SystemExit(f"detect-secrets did not run: {r.stderr[-2000:]}") from None
    results.append(("detect-secrets", [f"{f}:{s['line_number']}: {s['type']}" for f, ss in found.items() for s in ss]))
    # QGS105 ("do not pass iface as an argument") is left out: QGIS itself hands iface to
    # classFactory(iface), and the plugin passes it on so that tests inject pytest-qgis's qgis_iface
    r = subprocess.run(["flake8", "--select=QGS1,QGS4", "--extend-ignore=QGS105", "."], cwd=folder,
                       capture_output=True, text=True)
    if r.returncode not in (0, 1) or r.stderr.strip():
        raise SystemExit(f"flake8 (flake8-qgis) did not run: {r.stderr[-2000:]}")
    results.append(("flake8-qgis", r.stdout.splitlines()))
    return results


def check(out_dir):
    """Build the zip into ``out_dir`` and run every check on it; 0 when all pass."""
    target = build(out_dir)
    problems = [f"{os.path.basename(target)}: {p}" for p in check_zip(target)]
    names = set(zipfile.ZipFile(target).namelist())
    problems += [f"{os.path.basename(target)}: no compiled translation for {os.path.basename(ts)}"
                 for ts in glob.glob(os.path.join(I18N_DIR, "*.ts"))
                 if f"tile_embeddings/resources/i18n/{os.path.splitext(os.path.basename(ts))[0]}.qm" not in names]
    unpacked = tempfile.mkdtemp(prefix="te-zip-")
    try:
        zipfile.ZipFile(target).extractall(unpacked)
        for tool, findings in scan_with_tools(unpacked):
            problems += [f"{tool}: {f}" for f in findings]
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    for p in problems:
        print(p)
    size = os.path.getsize(target) / 1e6
    print(f"package: {target} ({size:.1f} MB): " + (f"{len(problems)} problem(s)" if problems else
          "passes the plugin repository's checks (validator, file analysis, bandit, detect-secrets, flake8-qgis)"))
    return 1 if problems else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--check"]:
        sys.exit(check(args[1] if len(args) > 1 else os.path.join(ROOT, "dist")))
    print(build(args[0] if args else os.path.join(ROOT, "dist")))
