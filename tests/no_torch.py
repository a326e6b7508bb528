"""A Python without torch: subprocesses in which torch, torchvision and onnx cannot be imported.

The machines the onnxruntime path is for (QGIS on Windows and macOS) have no torch; this is how the
tests stand in for them on a machine that has it. An import hook refuses the modules, so both
``import torch`` and ``importlib.util.find_spec("torch")`` (how the plugin asks) say they are missing.
"""

import json
import os
import subprocess
import sys

BLOCKED = ("torch", "torchvision", "torchgen", "functorch", "onnx")

BLOCK_TORCH = f"""
import sys

class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, BlockTorch())
"""

#: the last line a script prints: what the test checks
REPORT = f"""
import json as _json, sys as _sys
_report = dict(_report, torch_imported=sorted(m for m in _sys.modules if m.split(".")[0] in {BLOCKED!r}))
print("REPORT " + _json.dumps(_report, default=str), flush=True)
import os as _os
_sys.stderr.flush()
_os._exit(0)  # QGIS may crash while Python finalises after exitQgis(); the report is out
"""


def run_without_torch(script, env=None, timeout=600):
    """Run ``script`` (which fills a dict ``_report``) in a fresh Python without torch; the report."""
    full_env = dict(os.environ, **(env or {}))
    r = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + script + REPORT],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("REPORT ")]
    assert r.returncode == 0 and lines, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return json.loads(lines[-1][len("REPORT ") :])
