"""``bench/gpu_check.sh --smoke``: every section of the GPU check runs its code path on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_smoke(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([str(ROOT / "bench" / "gpu_check.sh"), "--smoke", "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["smoke"] is True
    for section in ("env", "caption", "train_daclip", "train_restore", "restore", "restore_modes"):
        assert "error" not in result[section], result[section]
    assert set(result["caption"]["images_per_s"]) == {"1", "4"}
    assert result["train_daclip"]["samples_per_s"] > 0 and result["train_daclip"]["loader_samples_per_s"] > 0
    assert result["train_restore"]["samples_per_s"] > 0
    assert {"96x96", "160x120"} <= set(result["restore"])
    modes = result["restore_modes"]["modes"]
    assert modes["fp32"]["speedup_vs_fp32"] == 1.0 and modes["bf16"]["max_relative_drift"] < 0.05
    assert "train-restore tiny 32px" in proc.stdout and "gpu_check.json" in proc.stdout
