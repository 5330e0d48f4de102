"""``make-dataset degrade --max-side N --hq FILE``: small demo samples with their clean image."""

from __future__ import annotations

from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.common.images import load_image


def test_degrade_downscales_and_writes_the_clean_image(tmp_path):
    out, hq = tmp_path / "rainy.png", tmp_path / "hq" / "rainy.png"
    result = CliRunner().invoke(cli, ["degrade", "--task", "rain", "--max-side", "128", "--hq", str(hq), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lq, clean = load_image(out), load_image(hq)
    assert lq.shape == clean.shape == (128, 128, 3)  # astronaut is 512 x 512
    assert (lq != clean).any()
