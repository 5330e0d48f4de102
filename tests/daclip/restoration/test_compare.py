"""``daclip compare``: the LQ | restored | HQ picture that ends ``make demo``."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from daclip.restoration.compare import command
from pipelines.common.images import load_image, save_image


def test_compare_writes_rows_with_prediction_and_psnr(tmp_path, daclip_run):
    rng = np.random.default_rng(0)
    hq = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    lq = np.clip(hq.astype(int) + rng.integers(-30, 30, hq.shape), 0, 255).astype(np.uint8)
    save_image(lq, tmp_path / "a.png")
    save_image(hq, tmp_path / "a.hq.png")  # beside the LQ (make-dataset degrade --hq)
    save_image(lq, tmp_path / "b.png")  # no clean image: no PSNR
    save_image(hq, tmp_path / "restored" / "a.png")
    save_image(lq, tmp_path / "restored" / "b.png")
    out = tmp_path / "summary.png"
    result = CliRunner().invoke(command, [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--restored",
                                          str(tmp_path / "restored"), "--daclip", str(daclip_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "predicted" in lines[0] and "inf dB" in lines[0] and "PSNR" not in lines[1]
    assert lines[-1] == f"wrote {out}"
    picture = load_image(out)
    assert picture.shape[0] > 2 * 160 and picture.shape[1] > 3 * 160  # two rows of three captioned cells
