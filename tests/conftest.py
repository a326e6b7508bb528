"""Fixtures shared by every test layer (none of them imports qgis)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets"))
TORCH_HOME = Path(os.environ.get("TORCH_HOME", "/opt/tile-embeddings/torch"))
# tests never download: weights missing from the cache are fetched from a closed loopback port, so
# they fail fast with the offline message (tests of the download serve files on 127.0.0.1 themselves)
os.environ.setdefault("TE_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")
ARTIFACTS = REPO / "tests" / "artifacts"


def _asset(name):
    path = ASSETS / name
    if not path.exists():
        pytest.fail(f"missing offline asset {path}: run 'make env' (scripts/qgis-env build)")
    return path


@pytest.fixture(scope="session")
def neon_osbs():
    """Real NEON aerial image, 400x400 px, 10 cm, 3-band uint8, EPSG:32617."""
    return _asset("OSBS_029.tif")


@pytest.fixture(scope="session")
def neon_yell():
    """Real NEON aerial image, 2299x2472 px, 10 cm, georeferenced by scripts/fetch_assets.py."""
    return _asset("NEON_YELL_crop2.tif")


@pytest.fixture(scope="session")
def mobilenet_weights():
    path = TORCH_HOME / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    if not path.exists():
        pytest.fail(f"missing {path}: run 'make env'")
    return path


@pytest.fixture(scope="session")
def artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def collect_garbage():
    """Free each test's objects (GDAL datasets, QGIS layers and sessions in reference cycles, or kept
    by tracebacks) right after the test, while QGIS and GDAL are alive: freed after exitQgis() they
    crash the process although every test has passed."""
    import gc

    yield
    gc.collect()


# -- process exit ---------------------------------------------------------------------------------
# pytest-qgis shuts QGIS (and with it GDAL's driver manager) down when the session ends, *before*
# Python finalises; GDAL datasets that Python frees during finalisation then crash in their
# destructors, turning a green run into exit code 139. QGIS desktop finalises Python first, so
# this only concerns test runs. Once pytest has reported, we leave with its exit status.
def pytest_sessionfinish(session, exitstatus):
    session.config._te_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    status = getattr(config, "_te_exitstatus", None)
    if status is not None:
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
