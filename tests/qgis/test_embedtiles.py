"""tile_embeddings:embedtiles on real NEON imagery with the provisioned MobileNetV2 weights."""

import hashlib
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

pytest.importorskip("torch")

from tile_embeddings.core.index import open_index  # noqa: E402

# OSBS_029 is 400 x 400 px: 64 px tiles -> 6 x 6 = 36 whole tiles; input size 64 keeps tests light
SMALL = {"TILE_SIZE": 64, "INPUT_SIZE": 64, "BATCH_SIZE": 8}


def embed(processing, **params):
    return processing.run("tile_embeddings:embedtiles", params)


@pytest.fixture
def processing(te_provider):
    import processing

    return processing


@pytest.fixture
def osbs_index(processing, neon_osbs, tmp_path):
    out = tmp_path / "osbs.teindex"
    npy = tmp_path / "seed_export.npy"
    res = embed(processing, INPUT=str(neon_osbs), OUTPUT=str(out), NPY_OUTPUT=str(npy), **SMALL)
    return res, npy


@pytest.fixture(scope="module")
def reference_index(neon_osbs, tmp_path_factory):
    """The same settings as SMALL, built by the engine directly (an uninterrupted run)."""
    from tile_embeddings.core.embedding import embed_tiles

    out = tmp_path_factory.mktemp("ref") / "osbs_ref.teindex"
    return embed_tiles(str(out), raster=str(neon_osbs), tile_size=64, input_size=64, batch_size=8)


def test_embedtiles_writes_a_complete_index(osbs_index, mobilenet_weights):
    res, npy = osbs_index
    assert res["COUNT"] == 36 and res["DIMS"] == 1280
    ix = open_index(res["OUTPUT"])
    assert ix.ids[0] == "OSBS_029_r0_c0" and ix.ids[-1] == "OSBS_029_r5_c5"
    np.testing.assert_allclose(np.linalg.norm(ix.embeddings, axis=1), 1.0, rtol=1e-5)
    m = ix.meta
    assert m["model"] == "mobilenet_v2" and m["weights"] == "torchvision:IMAGENET1K_V1"
    assert m["weights_sha256"] == hashlib.sha256(open(mobilenet_weights, "rb").read()).hexdigest()
    assert m["device"] == "cpu" and m["tile_size"] == 64
    assert m["preprocessing"]["stretch"] == "global" and m["preprocessing"]["input_size"] == 64
    assert m["sources"] == [os.path.abspath(str(m["sources"][0]))] and m["sources"][0].endswith(
        "OSBS_029.tif"
    )
    layer = QgsVectorLayer(res["TILES"], "tiles", "ogr")
    assert layer.isValid() and layer.featureCount() == 36
    assert layer.crs().authid() == "EPSG:32617"
    f = next(layer.getFeatures("\"tile_id\" = 'OSBS_029_r1_c2'"))
    bb = f.geometry().boundingBox()
    from osgeo import gdal

    gt = gdal.Open(m["sources"][0]).GetGeoTransform()
    assert bb.xMinimum() == pytest.approx(gt[0] + 128 * gt[1], abs=1e-6)
    assert bb.yMaximum() == pytest.approx(gt[3] + 64 * gt[5], abs=1e-6)
    assert bb.width() == pytest.approx(6.4, abs=1e-6)
    # the seed-style numpy export
    np.testing.assert_array_equal(np.load(npy), ix.embeddings)
    assert open(str(npy)[:-4] + "_ids.txt").read().split() == ix.ids


def test_tile_index_input_matches_the_on_the_fly_path(processing, neon_osbs, tmp_path):
    split = processing.run(
        "tile_embeddings:splitraster",
        {
            "INPUT": str(neon_osbs),
            "TILE_SIZE": 64,
            "OUTPUT_FOLDER": str(tmp_path / "tiles"),
            "OUTPUT": str(tmp_path / "tiles.gpkg"),
        },
    )
    a = embed(
        processing,
        TILE_INDEX=split["OUTPUT"] + "|layername=tiles",
        STRETCH=2,
        OUTPUT=str(tmp_path / "a.teindex"),
        **SMALL,
    )
    b = embed(processing, INPUT=str(neon_osbs), STRETCH=2, OUTPUT=str(tmp_path / "b.teindex"), **SMALL)
    ia, ib = open_index(a["OUTPUT"]), open_index(b["OUTPUT"])
    assert sorted(ia.ids) == sorted(ib.ids)
    rows = [ib.row_of(t) for t in ia.ids]
    np.testing.assert_allclose(ia.embeddings, ib.embeddings[rows], atol=1e-5)
    assert ia.meta["source_kind"] == "tile_index"


def test_defaults_run_the_full_224_px_path(processing, neon_osbs, tmp_path):
    """Default model, weights, stretch and input size (224 px) on 200 px tiles: 2 x 2 tiles."""
    res = embed(processing, INPUT=str(neon_osbs), TILE_SIZE=200, OUTPUT=str(tmp_path / "full.teindex"))
    ix = open_index(res["OUTPUT"])
    assert len(ix) == 4 and ix.meta["preprocessing"]["input_size"] == 224
    assert ix.meta["preprocessing"]["rotation_invariant"] is False
    sims = ix.embeddings @ ix.embeddings.T
    np.testing.assert_allclose(np.diag(sims), 1.0, rtol=1e-5)
    assert np.all(sims[~np.eye(4, dtype=bool)] < 0.99)  # four different pieces of forest


class CancelAfter(QgsProcessingFeedback):
    """Cancels once the run has reported ``fraction`` of its progress (an interrupted run)."""

    def __init__(self, percent):
        super().__init__()
        self.percent = percent
        self.progressChanged.connect(self._check)

    def _check(self, value):
        if value >= self.percent:
            self.cancel()


def test_resume_after_an_interrupted_run_gives_the_same_embeddings(
    processing, neon_osbs, reference_index, tmp_path
):
    out = tmp_path / "resumed.teindex"
    with pytest.raises(QgsProcessingException) as e:
        processing.run(
            "tile_embeddings:embedtiles",
            dict(INPUT=str(neon_osbs), OUTPUT=str(out), **SMALL),
            feedback=CancelAfter(40),
        )
    assert "Canceled" in str(e.value)
    assert not out.exists()
    partial = str(out) + ".partial"
    import json

    done = json.load(open(os.path.join(partial, "state.json")))["done"]
    assert 0 < done < 36
    res = embed(processing, INPUT=str(neon_osbs), OUTPUT=str(out), **SMALL)
    assert not os.path.exists(partial)
    np.testing.assert_array_equal(
        open_index(res["OUTPUT"]).embeddings, open_index(reference_index).embeddings
    )


def test_clear_messages_for_bad_input(processing, neon_osbs, tmp_path):
    cases = [
        (dict(OUTPUT=str(tmp_path / "x.teindex")), "Give a raster"),
        (
            dict(INPUT=str(neon_osbs), MODEL="not_a_net", OUTPUT=str(tmp_path / "x.teindex")),
            "(MODEL): unknown model",
        ),
        (dict(INPUT=str(neon_osbs), BANDS="4,2,1", OUTPUT=str(tmp_path / "x.teindex")), "(BANDS): band 4"),
        (
            dict(INPUT=str(neon_osbs), MODEL="resnet152", OUTPUT=str(tmp_path / "x.teindex")),
            "(WEIGHTS): no ImageNet",
        ),
        (dict(INPUT=str(neon_osbs), TILE_SIZE=512, OUTPUT=str(tmp_path / "x.teindex")), "(TILE_SIZE)"),
    ]
    for params, words in cases:
        with pytest.raises(QgsProcessingException) as e:
            processing.run("tile_embeddings:embedtiles", params)
        assert words in str(e.value), str(e.value)
    assert not (tmp_path / "x.teindex").exists()


def test_algorithm_metadata(te_provider):
    alg = te_provider.algorithm("embedtiles")
    assert alg.group() == "Embeddings and search" and alg.groupId() == "embeddings"
    assert alg.svgIconPath().endswith("embedtiles.svg")
    assert "rotation" in alg.shortHelpString().lower()
    assert alg.canExecute()[0]
    from qgis.core import Qgis

    advanced = {
        p.name() for p in alg.parameterDefinitions() if p.flags() & Qgis.ProcessingParameterFlag.Advanced
    }
    assert {"BATCH_SIZE", "DEVICE", "LOWER", "UPPER", "RESUME"} <= advanced
    assert alg.parameterDefinition("OUTPUT").type() == "folderDestination"
