"""tile_embeddings:embedtiles on real NEON imagery with the provisioned MobileNetV2 weights."""

import hashlib
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer
from qgis.PyQt.QtCore import Qt

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
    assert res["COUNT"] == 36 and res["DIMS"] == 96 + 1280  # FEATURES auto: mid+final
    ix = open_index(res["OUTPUT"])
    assert ix.meta["features"] == "mid+final" and ix.meta["skipped_tiles"] == 0
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


def closed_port_url():
    """A loopback URL nothing listens on: a download from it fails at once, as offline."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_clear_messages_for_bad_input(processing, neon_osbs, tmp_path, monkeypatch):
    monkeypatch.setenv("TE_WEIGHTS_BASE_URL", closed_port_url())
    cases = [
        (dict(OUTPUT=str(tmp_path / "x.teindex")), "Give a raster"),
        (
            dict(INPUT=str(neon_osbs), MODEL="not_a_net", OUTPUT=str(tmp_path / "x.teindex")),
            "(MODEL): unknown model 'not_a_net'. Choose one of mobilenet_v2, resnet18",
        ),
        (dict(INPUT=str(neon_osbs), BANDS="4,2,1", OUTPUT=str(tmp_path / "x.teindex")), "(BANDS): band 4"),
        (  # not in the cache, and the download fails: which file to put where
            dict(INPUT=str(neon_osbs), MODEL="resnet18", OUTPUT=str(tmp_path / "x.teindex")),
            "(WEIGHTS): no ImageNet weights for resnet18",
        ),
        (dict(INPUT=str(neon_osbs), MODEL="resnet18", OUTPUT=str(tmp_path / "x.teindex")), "resnet18-f37072fd.pth"),
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
    assert {"BATCH_SIZE", "DEVICE", "LOWER", "UPPER", "RESUME", "RUNTIME"} <= advanced
    assert alg.parameterDefinition("OUTPUT").type() == "folderDestination"
    assert alg.outputDefinition("TILES").type() == "outputVector"


def test_model_is_a_list_of_the_supported_backbones_by_name(te_provider):
    from qgis.core import QgsProcessingContext

    from tile_embeddings.core.models import SUPPORTED_MODELS

    alg = te_provider.algorithm("embedtiles")
    model = alg.parameterDefinition("MODEL")
    assert model.type() == "enum" and model.usesStaticStrings()
    assert model.options() == list(SUPPORTED_MODELS) and model.defaultValue() == "mobilenet_v2"
    assert {"mobilenet_v2", "resnet50", "efficientnet_b0", "convnext_tiny"} <= set(model.options())
    context = QgsProcessingContext()
    ok, message = alg.checkParameterValues({"MODEL": "resnet50", "INPUT": "x.tif", "OUTPUT": "x"}, context)
    assert "MODEL" not in message
    ok, message = alg.checkParameterValues({"MODEL": "vit_b_16", "OUTPUT": "x"}, context)
    assert not ok and "unknown model 'vit_b_16'" in message and "convnext_tiny" in message
    assert "TorchScript" in message and "(WEIGHTS)" in message


def test_a_torchscript_encoder_replaces_the_model_and_is_named_after_its_file(processing, neon_osbs, tmp_path):
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.conv(x))

    torch.manual_seed(0)
    path = tmp_path / "rs_encoder.pt"
    torch.jit.script(Encoder().eval()).save(str(path))
    res = embed(processing, INPUT=str(neon_osbs), WEIGHTS=str(path), OUTPUT=str(tmp_path / "rs.teindex"), **SMALL)
    m = open_index(res["OUTPUT"]).meta
    assert res["DIMS"] == 5 and m["model"] == "rs_encoder" and m["model_kind"] == "torchscript"


def test_tile_layer_is_loaded_into_the_project_when_the_run_ends(processing, neon_osbs, tmp_path):
    """As QGIS loads its own outputs: the dialog and runAndLoadResults add the index's tiles."""
    from qgis.core import QgsProcessingContext, QgsProject

    # the algorithm asks for the layer to be loaded on completion...
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    res = processing.run(
        "tile_embeddings:embedtiles",
        dict(INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "a.teindex"), **SMALL),
        context=context,
    )
    to_load = context.layersToLoadOnCompletion()
    assert list(to_load) == [res["TILES"]]
    assert to_load[res["TILES"]].name == "a.teindex tiles" and to_load[res["TILES"]].outputName == "TILES"
    # ...and runAndLoadResults (the dialog's path) loads it, drawn as outlines over the imagery
    project = QgsProject.instance()
    before = set(project.mapLayers())
    res = processing.runAndLoadResults(
        "tile_embeddings:embedtiles", dict(INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "b.teindex"), **SMALL)
    )
    added = [project.mapLayer(i) for i in set(project.mapLayers()) - before]
    try:
        assert [lyr.source() for lyr in added] == [res["TILES"]]
        layer = added[0]
        assert layer.isValid() and layer.featureCount() == 36 and layer.name() == "b.teindex tiles"
        symbol = layer.renderer().symbol()
        assert symbol.symbolLayer(0).brushStyle() == Qt.BrushStyle.NoBrush
        from tile_embeddings.core.index import find_index_folder

        assert find_index_folder(layer.source()) == res["OUTPUT"]
    finally:
        project.removeMapLayers([lyr.id() for lyr in added])


class RecordingFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, message):  # noqa: N802
        self.warnings.append(message)
        super().pushWarning(message)


def test_a_temporary_index_says_it_disappears_when_qgis_exits(processing, neon_osbs, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingUtils

    feedback, context = RecordingFeedback(), QgsProcessingContext()
    res = processing.run(
        "tile_embeddings:embedtiles",
        dict(INPUT=str(neon_osbs), OUTPUT="TEMPORARY_OUTPUT", **SMALL),  # QgsProcessing.TEMPORARY_OUTPUT
        feedback=feedback,
        context=context,
    )
    assert context.layersToLoadOnCompletion()[res["TILES"]].name == "Index tiles (temporary)"
    assert res["OUTPUT"].startswith(QgsProcessingUtils.tempFolder()) and open_index(res["OUTPUT"])
    (warning,) = [w for w in feedback.warnings if "temporary" in w]
    assert res["OUTPUT"] in warning and "deleted when QGIS exits" in warning and "(OUTPUT)" in warning
    feedback = RecordingFeedback()
    embed_kw = dict(INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "kept.teindex"), **SMALL)
    processing.run("tile_embeddings:embedtiles", embed_kw, feedback=feedback)
    assert not [w for w in feedback.warnings if "temporary" in w]


def test_an_unwritable_output_is_refused_before_the_model_loads(processing, neon_osbs, tmp_path, monkeypatch):
    from raster_prep_data import read_only_folder

    from tile_embeddings.core import runtimes

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(runtimes, "load_extractor", no_model)
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    with read_only_folder(str(tmp_path / "ro")) as ro:
        if ro is None:
            pytest.skip("cannot make a read-only folder here")
        for out, words in ((os.path.join(ro, "x.teindex"), "cannot write in"), (str(afile / "x.teindex"), "is a file")):
            with pytest.raises(QgsProcessingException) as e:
                embed(processing, INPUT=str(neon_osbs), OUTPUT=out, **SMALL)
            msg = str(e.value)
            assert "(OUTPUT)" in msg and words in msg and "Choose a folder you can write to" in msg, msg
            assert "Traceback" not in msg and "OSError" not in msg
        assert os.listdir(ro) == []


def test_one_band_raster_gives_grey_with_the_default_band_order(processing, neon_osbs, tmp_path):
    """The same default as 'Stretch to 8-bit RGB': one band -> grey RGB (band 1 three times)."""
    from osgeo import gdal

    grey = str(tmp_path / "grey.tif")
    gdal.Translate(grey, str(neon_osbs), bandList=[2])
    res = embed(processing, INPUT=grey, OUTPUT=str(tmp_path / "grey.teindex"), **SMALL)  # BANDS 1,2,3
    ix = open_index(res["OUTPUT"])
    assert res["COUNT"] == 36 and ix.meta["preprocessing"]["bands"] == [1]
    stretched = processing.run(
        "tile_embeddings:rgbstretch", {"INPUT": grey, "OUTPUT": str(tmp_path / "grey_rgb.tif")}
    )
    ds = gdal.Open(stretched["OUTPUT"])
    assert ds.RasterCount == 3  # rgbstretch: grey RGB with the same default
    rgb = str(tmp_path / "grey3.tif")
    gdal.Translate(rgb, str(neon_osbs), bandList=[2, 2, 2])
    ref = open_index(embed(processing, INPUT=rgb, OUTPUT=str(tmp_path / "grey3.teindex"), **SMALL)["OUTPUT"])
    np.testing.assert_allclose(ix.embeddings, ref.embeddings, atol=1e-5)


# -- runtimes: onnxruntime (the default when installed) and torch --------------------------------
def test_runtime_is_a_list_recorded_in_the_index_and_both_give_the_same_embeddings(
    processing, te_provider, neon_osbs, tmp_path
):
    runtime = te_provider.algorithm("embedtiles").parameterDefinition("RUNTIME")
    assert runtime.options() == ["auto", "onnxruntime", "torch"] and runtime.usesStaticStrings()
    assert runtime.defaultValue() == "auto"
    auto = open_index(embed(processing, INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "a.teindex"), **SMALL)["OUTPUT"])
    eager = open_index(
        embed(processing, INPUT=str(neon_osbs), RUNTIME="torch", OUTPUT=str(tmp_path / "t.teindex"), **SMALL)["OUTPUT"]
    )
    assert auto.meta["runtime"] == "onnxruntime" and eager.meta["runtime"] == "torch"
    assert auto.meta["onnx_file"].endswith("mobilenet_v2-b0353104.mid-final.onnx")  # FEATURES auto: mid+final
    assert auto.meta["weights_sha256"] == eager.meta["weights_sha256"]
    assert (auto.embeddings * eager.embeddings).sum(1).min() >= 0.9999


def test_an_index_built_on_torch_answers_a_query_image_embedded_on_onnxruntime(processing, neon_osbs, tmp_path):
    from osgeo import gdal

    res = embed(processing, INPUT=str(neon_osbs), RUNTIME="torch", OUTPUT=str(tmp_path / "t.teindex"), **SMALL)
    assert open_index(res["OUTPUT"]).meta["runtime"] == "torch"
    crop = str(tmp_path / "r2_c3.tif")
    gdal.Translate(crop, str(neon_osbs), srcWin=[192, 128, 64, 64])  # tile r2_c3 of 64 px tiles
    from tile_embeddings.core import runtimes

    runtimes._extractor_cache.clear()
    out = processing.run(
        "tile_embeddings:similaritysearch",
        {"INDEX": res["OUTPUT"], "QUERY_IMAGE": crop, "K": 3, "OUTPUT": str(tmp_path / "similar.gpkg")},
    )
    (ext,) = runtimes._extractor_cache.values()
    assert ext.runtime == "onnxruntime"  # auto: the query ran on the other runtime
    first = next(QgsVectorLayer(out["OUTPUT"], "similar", "ogr").getFeatures("rank = 1"))
    assert first["tile_id"] == "OSBS_029_r2_c3" and first["score"] >= 0.9999


def test_with_neither_runtime_the_algorithm_says_what_to_install(processing, te_provider, neon_osbs, tmp_path,
                                                                 monkeypatch):
    from tile_embeddings.core import models, runtimes
    from tile_embeddings.processing_provider import embed_tiles as module

    real = models.missing_modules

    def missing(names=models.TORCH_PACKAGES):
        return [n for n in names if n in ("torch", "torchvision", "onnxruntime") or n in real((n,))]

    monkeypatch.setattr(models, "missing_modules", missing)
    monkeypatch.setattr(runtimes, "missing_modules", missing)
    monkeypatch.setattr(module, "available_runtimes", models.available_runtimes)
    from tile_embeddings.processing_provider import export_onnx

    monkeypatch.setattr(export_onnx, "missing_modules", missing)
    ok, message = te_provider.algorithm("embedtiles").canExecute()
    assert not ok
    for words in ("pip install onnxruntime", "apt install python3-onnxruntime", "pip install torch torchvision",
                  "Export model to ONNX"):
        assert words in message, message
    with pytest.raises(QgsProcessingException) as e:
        embed(processing, INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "x.teindex"), **SMALL)
    assert "(RUNTIME): Embedding needs onnxruntime or torch" in str(e.value)
    ok, message = te_provider.algorithm("exportonnx").canExecute()
    assert not ok and "torch, torchvision" in message and "pip install torch torchvision onnx" in message
    assert not (tmp_path / "x.teindex").exists()


@pytest.fixture
def fresh_weights_cache(tmp_path, monkeypatch, mobilenet_weights):
    """torchvision's cache on a new machine that has the checkpoint but no ONNX file yet."""
    checkpoints = tmp_path / "torch_home" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / mobilenet_weights.name).symlink_to(mobilenet_weights)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    from tile_embeddings.core import runtimes

    runtimes._extractor_cache.clear()
    yield checkpoints
    runtimes._extractor_cache.clear()


def test_export_model_to_onnx_checks_on_real_tiles_and_embed_tiles_uses_the_file(
    processing, te_provider, neon_yell, neon_osbs, fresh_weights_cache, tmp_path
):
    alg = te_provider.algorithm("exportonnx")
    assert alg.canExecute()[0] and alg.group() == "Embeddings and search"
    assert "without torch" in alg.shortHelpString() and "python3 -m tile_embeddings.core.onnx_export" in (
        alg.shortHelpString()
    )
    res = processing.run("tile_embeddings:exportonnx", {"MODEL": "mobilenet_v2", "CHECK_RASTER": str(neon_yell)})
    assert res["OUTPUT"] == str(fresh_weights_cache / "mobilenet_v2-b0353104.mid-final.onnx")
    assert res["MIN_COSINE"] >= 0.9999
    ix = open_index(embed(processing, INPUT=str(neon_osbs), OUTPUT=str(tmp_path / "o.teindex"), **SMALL)["OUTPUT"])
    assert ix.meta["runtime"] == "onnxruntime" and ix.meta["onnx_file"] == res["OUTPUT"]
    # or to a file of one's own, given to 'Embed tiles' as the weights
    own = str(tmp_path / "exported.onnx")
    res = processing.run("tile_embeddings:exportonnx", {"MODEL": "mobilenet_v2", "OUTPUT": own})
    assert res["OUTPUT"] == own and "MIN_COSINE" not in res
    given = open_index(
        embed(processing, INPUT=str(neon_osbs), WEIGHTS=own, OUTPUT=str(tmp_path / "g.teindex"), **SMALL)["OUTPUT"]
    )
    assert given.meta["onnx_file"] == own and given.meta["weights"] == "torchvision:IMAGENET1K_V1"
    np.testing.assert_allclose(given.embeddings, ix.embeddings, atol=1e-5)
    # FEATURES: the final layer's export is another file; a file is refused for features it lacks
    final = processing.run("tile_embeddings:exportonnx", {"MODEL": "mobilenet_v2", "FEATURES": "final"})
    assert final["OUTPUT"] == str(fresh_weights_cache / "mobilenet_v2-b0353104.onnx")
    with pytest.raises(QgsProcessingException, match="FEATURES"):
        embed(processing, INPUT=str(neon_osbs), WEIGHTS=own, FEATURES="final", OUTPUT=str(tmp_path / "f.teindex"),
              **SMALL)


NO_TORCH_QGIS = r"""
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
sys.path.append("/usr/share/qgis/python/plugins")
from processing.core.Processing import Processing
Processing.initialize()
from tile_embeddings.processing_provider.provider import TileEmbeddingsProvider
provider = TileEmbeddingsProvider()
QgsApplication.processingRegistry().addProvider(provider)
import processing
names = ("embedtiles", "similaritysearch", "exportonnx")
_report = {"can": {n: list(provider.algorithm(n).canExecute()) for n in names}}
res = processing.run("tile_embeddings:embedtiles", {"INPUT": os.environ["RASTER"], "TILE_SIZE": 64, "INPUT_SIZE": 64,
                                                    "OUTPUT": os.environ["OUT"]})
out = processing.run("tile_embeddings:similaritysearch", {"INDEX": res["OUTPUT"], "QUERY_IMAGE": os.environ["QUERY"],
                                                          "K": 3, "OUTPUT": os.environ["SIMILAR"]})
layer = QgsVectorLayer(out["OUTPUT"], "similar", "ogr")
_report["results"] = sorted((f["rank"], f["tile_id"], f["score"]) for f in layer.getFeatures())
_report["runtime"] = json.load(open(os.path.join(res["OUTPUT"], "meta.json")))["runtime"]
# the dock's background work on the same index: open it, then one click's search and heatmap
from tile_embeddings.plugin.search_task import SearchTask
from tile_embeddings.plugin.similarity_session import load_index
index, lookup = load_index(res["OUTPUT"])
task = SearchTask(index, ["OSBS_029_r4_c1"], [], 3, True, 1, lambda task, ok: None)
_report.update(dock_ok=task.run(), dock_ids=list(task.result.ids), dock_scores=len(task.scores))
"""


def test_without_torch_qgis_and_the_dock_embed_and_search_from_the_model_file(neon_osbs, fresh_weights_cache, tmp_path):
    from no_torch import run_without_torch
    from osgeo import gdal

    from tile_embeddings.core.onnx_export import export_onnx

    export_onnx("mobilenet_v2")  # once, on "a machine with torch"
    crop = str(tmp_path / "crop.tif")
    gdal.Translate(crop, str(neon_osbs), srcWin=[64, 256, 64, 64])  # tile r4_c1
    env = {"RASTER": str(neon_osbs), "QUERY": crop, "OUT": str(tmp_path / "n.teindex"),
           "SIMILAR": str(tmp_path / "similar.gpkg")}
    report = run_without_torch(NO_TORCH_QGIS, env)
    assert report["torch_imported"] == []
    assert report["can"]["embedtiles"] == [True, ""] and report["can"]["similaritysearch"][0]
    ok, message = report["can"]["exportonnx"]
    assert ok is False and "pip install torch torchvision onnx" in message
    assert report["runtime"] == "onnxruntime"
    rank, tile_id, score = report["results"][0]
    assert (rank, tile_id) == (1, "OSBS_029_r4_c1") and score >= 0.9999
    assert report["dock_ok"] is True and report["dock_ids"][0] == "OSBS_029_r4_c1" and report["dock_scores"] == 36


def test_rotation_rot2_is_recorded_and_conflicts_are_refused(processing, neon_osbs, tmp_path):
    res = embed(processing, INPUT=str(neon_osbs), ROTATION="rot2", FEATURES="mid", OUTPUT=str(tmp_path / "r.teindex"),
                **SMALL)
    ix = open_index(res["OUTPUT"])
    assert ix.meta["preprocessing"]["rotation_invariant"] == "rot2" and ix.meta["features"] == "mid"
    assert res["DIMS"] == 96
    with pytest.raises(QgsProcessingException, match="rot8"):
        embed(processing, INPUT=str(neon_osbs), ROTATION="rot2", ROTATION_INVARIANT=True,
              OUTPUT=str(tmp_path / "x.teindex"), **SMALL)
