"""tile_embeddings:bboxmask through processing.run, on real NEON data and synthetic edge cases."""

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from tile_embeddings.tests.raster_prep_data import (
    NORTH_UP,
    gradient,
    read,
    read_only_folder,
    rotated_gt,
    write_polygon_layer,
    write_raster,
)

ALG = "tile_embeddings:bboxmask"


def run(**params):
    import processing

    return processing.run(ALG, params)


def test_neon_clip_is_exact_window_with_reprojected_area(te_provider, neon_osbs, tmp_path):
    src = gdal.Open(str(neon_osbs))
    gt = src.GetGeoTransform()
    full = src.ReadAsArray()
    # study area given in WGS 84: the extent is reprojected to UTM 17N and snapped outward
    from osgeo import osr

    utm, wgs = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32617)
    wgs.ImportFromEPSG(4326)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    box_utm = (gt[0] + 10.05, gt[3] - 30.0, gt[0] + 25.0, gt[3] - 5.02)
    lon_lat = osr.CoordinateTransformation(utm, wgs).TransformBounds(*box_utm, 21)
    area = write_polygon_layer(tmp_path / "area.gpkg", lon_lat, crs="EPSG:4326")
    out = tmp_path / "北京 五环" / "clip.tif"
    res = run(INPUT=str(neon_osbs), STUDY_AREA=area, BUFFER=0.0, OUTPUT=str(out))
    assert res["OUTPUT"] == str(out)
    clip, cgt, ds = read(out)
    # snapped to the source grid: origin is a whole number of source pixels from the source origin
    px, py = (cgt[0] - gt[0]) / gt[1], (cgt[3] - gt[3]) / gt[5]
    assert px == pytest.approx(round(px), abs=1e-6) and py == pytest.approx(round(py), abs=1e-6)
    assert cgt[1] == gt[1] and cgt[5] == gt[5]
    px, py = round(px), round(py)
    assert clip.shape[0] == 3
    np.testing.assert_array_equal(clip, full[:, py : py + clip.shape[1], px : px + clip.shape[2]])
    # the window covers the whole (reprojected) study area and is no more than ~1 px larger
    x0, y0 = cgt[0], cgt[3]
    x1, y1 = x0 + clip.shape[2] * cgt[1], y0 + clip.shape[1] * cgt[5]
    assert (
        x0 <= box_utm[0] + 0.2
        and x1 >= box_utm[2] - 0.2
        and y1 <= box_utm[1] + 0.2
        and y0 >= box_utm[3] - 0.2
    )
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32617"
    assert "COMPRESSION=DEFLATE" in gdal.Info(str(out)) or ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"]
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
    assert not [n for n in os.listdir(out.parent) if n.startswith(".")]  # no temporary left behind


def test_keeps_nodata_descriptions_and_buffer(te_provider, tmp_path):
    a = gradient(nb=2, h=100, w=120, dtype="uint16")
    a[:, :10, :] = 0
    src = write_raster(tmp_path / "s.tif", a, nodata=0, descriptions=["nir", "red"])
    area = write_polygon_layer(tmp_path / "a.gpkg", (500020.0, 3999950.0, 500040.0, 3999990.0))
    out = tmp_path / "o.tif"
    run(INPUT=src, STUDY_AREA=area, BUFFER=5.0, OUTPUT=str(out))
    clip, cgt, ds = read(out)
    assert cgt[0] == 500015.0 and cgt[3] == 3999995.0
    assert clip.shape == (2, 50, 30)
    np.testing.assert_array_equal(clip, a[:, 5:55, 15:45])
    assert ds.GetRasterBand(1).GetNoDataValue() == 0
    assert [ds.GetRasterBand(i).GetDescription() for i in (1, 2)] == ["nir", "red"]


def test_study_area_larger_than_raster_gives_the_intersection(te_provider, tmp_path):
    a = gradient(nb=1, h=50, w=60)
    src = write_raster(tmp_path / "s.tif", a)
    area = write_polygon_layer(tmp_path / "a.gpkg", (499000.0, 3990000.0, 500030.0, 4010000.0))
    out = tmp_path / "o.tif"
    run(INPUT=src, STUDY_AREA=area, OUTPUT=str(out))
    clip, cgt, _ = read(out)
    assert clip.shape == (50, 30) and cgt[0] == NORTH_UP[0] and cgt[3] == NORTH_UP[3]


def test_rotated_raster_window_keeps_rotation(te_provider, tmp_path):
    gt = rotated_gt(25.0)
    a = gradient(nb=1, h=80, w=80)[0]
    src = write_raster(tmp_path / "r.tif", a, gt=gt)
    from tile_embeddings.core.grid import window_bounds

    area = write_polygon_layer(tmp_path / "a.gpkg", window_bounds(gt, 30, 30, 10, 10))
    out = tmp_path / "o.tif"
    run(INPUT=src, STUDY_AREA=area, OUTPUT=str(out))
    clip, cgt, _ = read(out)
    from tile_embeddings.core.grid import geo_to_pixel

    px, py = geo_to_pixel(gt, cgt[0], cgt[3])
    px, py = round(px), round(py)
    assert cgt[1:3] == pytest.approx(gt[1:3]) and cgt[4:] == pytest.approx(gt[4:])
    np.testing.assert_array_equal(clip, a[py : py + clip.shape[0], px : px + clip.shape[1]])
    assert px <= 30 and py <= 30 and px + clip.shape[1] >= 40 and py + clip.shape[0] >= 40


def test_study_area_outside_raster_is_a_clear_error(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=20, w=20))
    area = write_polygon_layer(tmp_path / "a.gpkg", (600000.0, 3000000.0, 600010.0, 3000010.0))
    out = tmp_path / "o.tif"
    with pytest.raises(QgsProcessingException, match=r"STUDY_AREA.*does not overlap the raster"):
        run(INPUT=src, STUDY_AREA=area, OUTPUT=str(out))
    assert not out.exists()


def test_raster_without_crs_is_a_clear_error(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=20, w=20), crs=None)
    area = write_polygon_layer(tmp_path / "a.gpkg", (500001.0, 3999990.0, 500010.0, 3999999.0))
    with pytest.raises(QgsProcessingException, match=r"INPUT.*has no CRS"):
        run(INPUT=src, STUDY_AREA=area, OUTPUT=str(tmp_path / "o.tif"))


def test_read_only_output_folder_is_a_clear_error(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=20, w=20))
    area = write_polygon_layer(tmp_path / "a.gpkg", (500001.0, 3999990.0, 500010.0, 3999999.0))
    with read_only_folder(str(tmp_path / "ro")) as ro:
        if ro is None:
            pytest.skip("cannot make a read-only folder here")
        with pytest.raises(QgsProcessingException, match=r"OUTPUT.*not writable"):
            run(INPUT=src, STUDY_AREA=area, OUTPUT=os.path.join(ro, "o.tif"))


def test_existing_output_survives_a_failed_run(te_provider, tmp_path):
    src = write_raster(tmp_path / "s.tif", gradient(nb=1, h=20, w=20))
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous result")
    area = write_polygon_layer(tmp_path / "a.gpkg", (600000.0, 3000000.0, 600010.0, 3000010.0))
    with pytest.raises(QgsProcessingException):
        run(INPUT=src, STUDY_AREA=area, OUTPUT=str(out))
    assert out.read_bytes() == b"previous result"
