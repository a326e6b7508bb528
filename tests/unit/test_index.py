"""The index folder: written whole, opened with checks, clear errors when damaged."""

import json
import os

import numpy as np
import pytest

from tile_embeddings.core import index as tindex
from tile_embeddings.core.errors import InputError

UTM17 = 'PROJCS["WGS 84 / UTM zone 17N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",-81],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","32617"]]'  # noqa: E501


def make_index(folder, embeddings, ids=None, tile=10.0, cols=10, crs_wkt=UTM17):
    """An index written with the same functions embedtiles uses, without a model."""
    emb = np.asarray(embeddings, dtype=np.float32)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    n, d = emb.shape
    ids = ids or [f"t_r{i // cols}_c{i % cols}" for i in range(n)]
    partial = str(folder) + ".partial"
    os.makedirs(partial)
    np.save(os.path.join(partial, tindex.EMBEDDINGS), emb)
    records = []
    for i, t in enumerate(ids):
        r, c = divmod(i, cols)
        x0, y0 = 400000 + c * tile, 3280000 - r * tile
        records.append(
            {
                "tile_id": t,
                "row": r,
                "col": c,
                "path": "",
                "valid_fraction": 1.0,
                "center_x": x0 + tile / 2,
                "center_y": y0 - tile / 2,
                "source": "synthetic",
                "corners": [(x0, y0), (x0 + tile, y0), (x0 + tile, y0 - tile), (x0, y0 - tile)],
            }
        )
    tindex.write_tiles_gpkg(os.path.join(partial, tindex.TILES), crs_wkt, records)
    tindex.write_ids(partial, ids)
    tindex.write_meta(
        partial,
        tindex.base_meta(
            count=n,
            dims=d,
            crs_wkt=crs_wkt,
            model="synthetic",
            weights_sha256="0" * 64,
            embeddings_bytes=os.path.getsize(os.path.join(partial, tindex.EMBEDDINGS)),
            preprocessing={
                "bands": [1, 2, 3],
                "stretch": "global",
                "input_size": 32,
                "rotation_invariant": False,
            },
        ),
    )
    return tindex.publish(partial, str(folder))


@pytest.fixture
def small_index(tmp_path):
    rng = np.random.default_rng(0)
    return make_index(tmp_path / "small.teindex", rng.normal(size=(30, 16)))


def test_open_index_reads_every_part(small_index):
    ix = tindex.open_index(small_index)
    assert len(ix) == 30 and ix.dims == 16
    assert isinstance(ix.embeddings, np.memmap)
    np.testing.assert_allclose(np.linalg.norm(ix.embeddings, axis=1), 1.0, rtol=1e-6)
    assert ix.ids[12] == "t_r1_c2" and ix.row_of("t_r1_c2") == 12
    assert "UTM zone 17N" in ix.crs_wkt
    assert ix.tiles_path == os.path.join(small_index, "tiles.gpkg")
    # a file inside the folder is accepted too
    assert tindex.open_index(os.path.join(small_index, "meta.json")).path == ix.path


def test_tiles_layer_has_fid_row_plus_one_and_right_geometry(small_index):
    from osgeo import ogr

    ds = ogr.Open(os.path.join(small_index, "tiles.gpkg"))
    layer = ds.GetLayerByName("tiles")
    assert layer.GetFeatureCount() == 30
    f = layer.GetFeature(13)  # row 12
    assert f.GetField("tile_id") == "t_r1_c2"
    xmin, xmax, ymin, ymax = f.GetGeometryRef().GetEnvelope()
    assert (xmin, xmax, ymin, ymax) == (400020.0, 400030.0, 3279980.0, 3279990.0)
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32617"


def test_unknown_tile_id_names_the_parameter(small_index):
    ix = tindex.open_index(small_index)
    with pytest.raises(InputError) as e:
        ix.row_of("nope")
    assert e.value.parameter == "QUERY_IDS" and "t_r0_c0" in e.value.message
    with pytest.raises(InputError) as e:
        ix.rows_of(["t_r0_c0", "nope"], parameter="NEGATIVE_IDS")
    assert e.value.parameter == "NEGATIVE_IDS"


def _damage_truncate(folder):
    p = os.path.join(folder, "embeddings.npy")
    with open(p, "r+b") as f:
        f.truncate(os.path.getsize(p) // 2)


def _damage_meta(folder):
    with open(os.path.join(folder, "meta.json"), "w") as f:
        f.write('{"format": "tile-embeddings-index", "count": ')


def _damage_ids(folder):
    with open(os.path.join(folder, "ids.txt"), "w") as f:
        f.write("a\nb\n")


def _damage_gpkg(folder):
    with open(os.path.join(folder, "tiles.gpkg"), "wb") as f:
        f.write(b"\0" * 100)


def _remove_embeddings(folder):
    os.remove(os.path.join(folder, "embeddings.npy"))


def _wrong_header(folder):
    np.save(os.path.join(folder, "embeddings.npy"), np.zeros((30, 8), np.float32))


@pytest.mark.parametrize(
    "damage, words",
    [
        (_damage_truncate, "truncated"),
        (_damage_meta, "meta.json is unreadable"),
        (_damage_ids, "lists 2 tiles"),
        (_damage_gpkg, "not a GeoPackage"),
        (_remove_embeddings, "embeddings.npy is missing"),
        (_wrong_header, "the metadata says float32 (30, 16)"),
    ],
)
def test_damaged_index_gives_a_clear_error(small_index, damage, words):
    damage(small_index)
    with pytest.raises(InputError) as e:
        tindex.open_index(small_index)
    assert e.value.parameter == "INDEX"
    assert words in e.value.message
    assert "not a usable similarity index" in e.value.message


def test_missing_and_unfinished_index(tmp_path):
    with pytest.raises(InputError) as e:
        tindex.open_index(tmp_path / "none.teindex")
    assert "not found" in e.value.message and e.value.parameter == "INDEX"
    (tmp_path / "run.teindex").mkdir()
    (tmp_path / "run.teindex.partial").mkdir()
    with pytest.raises(InputError) as e:
        tindex.open_index(tmp_path / "run.teindex")
    assert "resume" in e.value.message


def test_newer_format_asks_for_an_update(small_index):
    p = os.path.join(small_index, "meta.json")
    meta = json.load(open(p))
    meta["format_version"] = 99
    json.dump(meta, open(p, "w"))
    with pytest.raises(InputError) as e:
        tindex.open_index(small_index)
    assert "newer" in e.value.message


def test_publish_replaces_an_index_but_never_other_folders(tmp_path):
    rng = np.random.default_rng(1)
    out = tmp_path / "a.teindex"
    make_index(out, rng.normal(size=(5, 4)))
    first = tindex.open_index(out).embeddings.copy()
    (tmp_path / "a.teindex.partial").mkdir()  # leftover from nothing: make_index recreates it
    os.rmdir(tmp_path / "a.teindex.partial")
    make_index(out, rng.normal(size=(7, 4)))
    assert len(tindex.open_index(out)) == 7
    assert not np.allclose(first[:5], tindex.open_index(out).embeddings[:5])
    assert [p.name for p in tmp_path.iterdir()] == ["a.teindex"]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_text("x")
    with pytest.raises(InputError) as e:
        make_index(precious, rng.normal(size=(3, 4)))
    assert e.value.parameter == "OUTPUT"
    assert (precious / "thesis.docx").exists()


def test_tiles_for_geometries_picks_by_point_and_polygon(small_index):
    ix = tindex.open_index(small_index)
    # a point inside tile r1_c2 (x 400020..400030, y 3279980..3279990)
    assert tindex.tiles_for_geometries(ix, ["POINT (400025 3279985)"]) == ["t_r1_c2"]
    # a polygon covering the centres of r0_c0 and r0_c1 (and touching r1_*): centres win
    poly = "POLYGON ((400000 3280000, 400020 3280000, 400020 3279989, 400000 3279989, 400000 3280000))"
    assert tindex.tiles_for_geometries(ix, [poly]) == ["t_r0_c0", "t_r0_c1"]
    # a small polygon inside one tile picks that tile
    small = "POLYGON ((400001 3279999, 400002 3279999, 400002 3279998, 400001 3279998, 400001 3279999))"
    assert tindex.tiles_for_geometries(ix, [small]) == ["t_r0_c0"]
    assert tindex.tiles_for_geometries(ix, ["POINT (0 0)"]) == []


def test_numpy_export_writes_ids_next_to_it(small_index, tmp_path):
    ix = tindex.open_index(small_index)
    path, ids_path = tindex.save_embeddings_npy(str(tmp_path / "out" / "emb"), ix, ix.ids)
    assert path.endswith("emb.npy") and ids_path.endswith("emb_ids.txt")
    np.testing.assert_array_equal(np.load(path), ix.embeddings)
    assert open(ids_path).read().split() == ix.ids


# -- recognising an index by its contents ---------------------------------------------------------
def test_find_index_folder_by_contents_not_by_name(tmp_path):
    rng = np.random.default_rng(2)
    # the default output of 'Embed tiles' in QGIS is a temporary folder named OUTPUT
    folder = make_index(tmp_path / "processing_abc" / "OUTPUT", rng.normal(size=(4, 8)))
    assert tindex.find_index_folder(folder) == folder
    assert tindex.find_index_folder(folder + os.sep) == folder
    assert tindex.find_index_folder(os.path.join(folder, "meta.json")) == folder
    # a layer source as QGIS gives it, and the layer source of an index whose name has spaces
    assert tindex.find_index_folder(os.path.join(folder, "tiles.gpkg") + "|layername=tiles") == folder
    spaced = make_index(tmp_path / "my index, v2", rng.normal(size=(4, 8)))
    assert tindex.find_index_folder(os.path.join(spaced, "tiles.gpkg|layername=tiles")) == spaced
    # open_index takes the same forms
    assert tindex.open_index(os.path.join(folder, "tiles.gpkg") + "|layername=tiles").path == folder


@pytest.mark.parametrize("missing", tindex.PARTS)
def test_find_index_folder_needs_every_part(small_index, missing):
    os.remove(os.path.join(small_index, missing))
    assert tindex.find_index_folder(small_index) is None
    other_part = next(p for p in tindex.PARTS if p != missing)
    assert tindex.find_index_folder(os.path.join(small_index, other_part)) is None


def test_find_index_folder_rejects_what_is_not_an_index(small_index, tmp_path):
    assert tindex.find_index_folder(None) is None
    assert tindex.find_index_folder("") is None
    assert tindex.find_index_folder(tmp_path / "nothing_here") is None
    assert tindex.find_index_folder(os.path.join(small_index, "no_such_file.txt")) is None
    # the folder above an index, and a folder of other files with a meta.json, are not indexes
    assert tindex.find_index_folder(os.path.dirname(small_index)) is None
    other = tmp_path / "other"
    other.mkdir()
    (other / "meta.json").write_text('{"tool": "something else"}')
    (other / "tiles.gpkg").write_bytes(b"x")
    assert tindex.find_index_folder(other) is None
    # a damaged index is still found (open_index then says what is wrong)
    _damage_truncate(small_index)
    assert tindex.find_index_folder(small_index) == small_index


def test_publish_replaces_a_damaged_index_but_not_a_foreign_meta_json(tmp_path):
    rng = np.random.default_rng(3)
    out = tmp_path / "damaged"
    make_index(out, rng.normal(size=(5, 4)))
    os.remove(out / "embeddings.npy")  # only meta.json says it is an index
    assert tindex.is_index_folder(out)
    make_index(out, rng.normal(size=(6, 4)))
    assert len(tindex.open_index(out)) == 6
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "meta.json").write_text('{"format": "another-tool"}')
    assert not tindex.is_index_folder(foreign)
    with pytest.raises(InputError) as e:
        make_index(foreign, rng.normal(size=(3, 4)))
    assert e.value.parameter == "OUTPUT" and (foreign / "meta.json").read_text() == '{"format": "another-tool"}'


def test_row_lookup_answers_before_its_dict_is_built(tmp_path):
    """A click's first search must not wait for the 1M-entry id -> row dict: single ids are found
    by a scan (or a noted row), the dict is built once in the background."""
    ids = [f"t_r{i // 10}_c{i % 10}" for i in range(50)]
    rows = tindex.RowLookup(ids)
    assert rows.get("t_r2_c3") == 23 and rows["t_r0_c0"] == 0 and not rows.ready()
    assert "nope" not in rows and rows.get("nope") is None
    with pytest.raises(KeyError):
        rows["nope"]
    rows.note(["t_r4_c9", "t_r1_c1"], [49, 7])  # a wrong hint (row 7 is t_r0_c7) is not believed
    assert rows["t_r4_c9"] == 49 and rows["t_r1_c1"] == 11
    rows.start()
    assert rows.mapping() == {t: i for i, t in enumerate(ids)} and rows.ready()
    rows.start()  # idempotent
    assert rows["t_r3_c3"] == 33

    ix = tindex.open_index(make_index(tmp_path / "a.teindex", np.eye(30, 8, dtype=np.float32) + 0.1))
    assert ix.row_of("t_r2_c5") == 25 and not ix.rows.ready()
    np.testing.assert_array_equal(ix.rows_of([f"t_r0_c{i}" for i in range(10)]), np.arange(10))
    assert ix.rows.ready()  # many ids: the dict, once
    assert ix.positions() is ix.rows.mapping()


def test_grid_columns_cache_is_written_with_the_tile_layer_and_checked(tmp_path):
    from osgeo import ogr

    folder = make_index(tmp_path / "a.teindex", np.random.default_rng(0).normal(size=(30, 8)), tile=10.0, cols=6)
    columns = tindex.read_grid_columns(folder, 30)
    assert columns.shape == (30, 4)
    np.testing.assert_array_equal(columns[7], [1, 1, 400015.0, 3279985.0])
    assert tindex.read_grid_columns(folder, 31) is None  # another tile count
    ds = ogr.Open(os.path.join(folder, tindex.TILES))
    layer = ds.GetLayerByName(tindex.TILES_LAYER)
    assert tindex.grid_columns_match(layer, columns)
    stale = columns.copy()
    stale[-1, 2] += 10.0  # the last tile moved: a cache of another tile layer
    assert not tindex.grid_columns_match(layer, stale)
    assert not tindex.grid_columns_match(layer, columns[:-1])
    ds = None
    path = os.path.join(folder, tindex.GRID_COLUMNS)
    with open(path, "r+b") as f:  # truncated
        f.truncate(200)
    assert tindex.read_grid_columns(folder, 30) is None
    with open(path, "wb") as f:
        f.write(b"not a numpy file")
    assert tindex.read_grid_columns(folder, 30) is None
    np.save(path, np.full((30, 4), np.nan))
    assert tindex.read_grid_columns(folder, 30) is None
    # records without grid columns leave no cache (an older one would describe another layer)
    assert tindex.write_grid_columns(folder, columns) and os.path.exists(path)
    grid = tindex.GridColumns([{"tile_id": "x"}], folder)
    assert [r["tile_id"] for r in grid] == ["x"]
    assert not os.path.exists(path) and not grid.written
    # streamed in blocks: a layer of more rows than a block is written whole
    recs = [{"row": i // 7, "col": i % 7, "center_x": 5.0 * i, "center_y": -1.0 * i} for i in range(20)]
    grid = tindex.GridColumns(recs, folder)
    grid.BLOCK = 6
    assert len(list(grid)) == 20 and grid.written
    np.testing.assert_array_equal(tindex.read_grid_columns(folder, 20)[:, 2], 5.0 * np.arange(20))
    assert [n for n in os.listdir(folder) if "tmp" in n] == []


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc")
def test_release_pages_takes_written_rows_out_of_the_resident_set(tmp_path):
    """Rows written through the embeddings' memory map stay resident (5 GB at 1M x 1280) until
    released; the file keeps them."""

    def rss_file_mb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("RssFile:"))

    path = str(tmp_path / "e.npy")
    emb = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(40_000, 256))  # 39 MB
    before = rss_file_mb()
    emb[:] = 1.5
    emb.flush()
    assert rss_file_mb() - before > 30
    assert tindex.release_pages(emb)
    assert rss_file_mb() - before < 5
    emb[-1] = 2.0  # still writable after the release
    emb.flush()
    del emb
    back = np.load(path)
    assert back[0, 0] == 1.5 and back[-1, 0] == 2.0 and back.shape == (40_000, 256)
    assert not tindex.release_pages(np.zeros(3))  # not a memory map: nothing to do
