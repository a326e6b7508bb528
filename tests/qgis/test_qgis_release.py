"""The suite runs on the QGIS it was asked for (make test QGIS=3.44 runs on QGIS 3.44, not 3.40)."""

import configparser
import os
from pathlib import Path

import pytest
from qgis.core import Qgis

REPO = Path(__file__).resolve().parents[2]


def _version(text):
    return tuple(int(x) for x in text.split("-")[0].split(".")[:2])


@pytest.mark.skipif(not os.environ.get("TE_QGIS"), reason="outside scripts/qgis-env")
def test_running_qgis_is_the_requested_release():
    assert Qgis.version().startswith(os.environ["TE_QGIS"] + "."), (Qgis.version(), os.environ["TE_QGIS"])


def test_metadata_admits_the_running_qgis():
    """qgisMinimumVersion/qgisMaximumVersion, as the plugin manager compares them, admit this QGIS:
    the minimum stays honest only while the oldest release it names is in the test matrix."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    g = parser["general"]
    running = _version(Qgis.version())
    assert _version(g["qgisMinimumVersion"]) <= running <= _version(g["qgisMaximumVersion"])
