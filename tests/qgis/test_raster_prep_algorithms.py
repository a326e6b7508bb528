"""The four raster-preparation algorithms as the toolbox and the modeler see them."""

import os

import pytest
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProcessingOutputFolder,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputVectorLayer,
)

IDS = ("bboxmask", "splitraster", "centroidlayer", "rgbstretch")


@pytest.mark.parametrize("name", IDS)
def test_identity_help_icon_group(te_provider, name):
    alg = QgsApplication.processingRegistry().algorithmById(f"tile_embeddings:{name}")
    assert alg is not None and alg.name() == name
    assert alg.group() == "Raster preparation" and alg.groupId() == "rasterprep"
    assert alg.displayName() and alg.displayName()[0].isupper()
    assert "<code>qgis_process run tile_embeddings:" + name in alg.shortHelpString()
    assert os.path.basename(alg.svgIconPath()) == f"{name}.svg" and not alg.icon().isNull()


def test_real_output_types_for_the_modeler(te_provider):
    registry = QgsApplication.processingRegistry()

    def outputs(name):
        return {
            o.name(): type(o) for o in registry.algorithmById(f"tile_embeddings:{name}").outputDefinitions()
        }

    assert outputs("bboxmask")["OUTPUT"] is QgsProcessingOutputRasterLayer
    split = outputs("splitraster")
    assert (
        split["OUTPUT"] is QgsProcessingOutputVectorLayer
        and split["OUTPUT_FOLDER"] is QgsProcessingOutputFolder
    )
    assert outputs("centroidlayer")["OUTPUT"] is QgsProcessingOutputVectorLayer
    stretch = outputs("rgbstretch")
    assert stretch["OUTPUT_INDEX"] is QgsProcessingOutputVectorLayer
    assert stretch["OUTPUT_FOLDER"] is QgsProcessingOutputFolder


@pytest.mark.parametrize(
    "name, advanced",
    [
        ("splitraster", {"PREFIX", "COMPRESS", "THREADS"}),
        ("rgbstretch", {"NODATA", "QUALITY", "THREADS", "WORLD_FILE"}),
    ],
)
def test_advanced_parameters_are_flagged(te_provider, name, advanced):
    alg = QgsApplication.processingRegistry().algorithmById(f"tile_embeddings:{name}")
    flagged = {
        p.name() for p in alg.parameterDefinitions() if p.flags() & Qgis.ProcessingParameterFlag.Advanced
    }
    assert flagged == advanced
