"""`make demo`'s script runs end to end on the real 2299x2472 NEON scene and draws real maps."""

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_and_draws_maps_of_the_imagery(tmp_path):
    out = tmp_path / "demo output"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--out", str(out), "--tile-size", "256"],
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "total" in proc.stdout and str(out) in proc.stdout
    from PIL import Image

    pngs = sorted(out.glob("*.png"))
    names = {p.name for p in pngs}
    assert {"similar_sagebrush.png", "heatmap_sagebrush.png", "segments.png"} <= names, names
    for png in pngs:
        pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
        assert pixels.shape[0] > 500 and pixels.shape[1] > 500, png.name
        assert pixels.std() > 20, f"{png.name} looks blank"
        # the imagery shows: greens dominate a NEON meadow/forest scene, not a flat background
        assert (pixels[..., 1] > pixels[..., 2]).mean() > 0.3, png.name
    assert (out / "workflow" / "neon_yell.teindex" / "meta.json").exists()
