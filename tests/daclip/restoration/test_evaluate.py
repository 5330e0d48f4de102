"""evaluate-restore's sample grids (the command itself runs end to end in test_trainer)."""

from __future__ import annotations

import numpy as np

from daclip.restoration.evaluate import make_grid


def test_grid_puts_panels_side_by_side():
    rows = [(np.zeros((30, 40, 3), np.uint8),) * 3, (np.zeros((60, 40, 3), np.uint8),) * 3]
    grid = make_grid(rows, height=30, gap=2)
    assert grid.shape == (30 + 2 + 30, 3 * 40 + 2 * 2, 3)
    assert (grid[:30, 40:42] == 255).all() and (grid[:30, :40] == 0).all()  # LQ, then the gap
    assert (grid[32:, 64:] == 255).all()  # the second row, resized to the common height, is padded


def test_no_reference_metrics_and_lq_only_manifests(tmp_path, photos):
    """NIQE/PIQE are reported for restored and LQ images; on LQ-only rows (real photos) they are the only
    scores, PSNR/SSIM are null, and the grid has two panels."""
    import json

    from click.testing import CliRunner
    from PIL import Image

    from daclip.cli import cli as daclip_cli
    from daclip.restoration.model import EMA, create_model, save_restoration
    from pipelines.cli import cli as dataset_cli

    lq = tmp_path / "photos"
    lq.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(np.ascontiguousarray(photos[name][:200, :200])).save(lq / f"{name}.png")
    ingest = CliRunner().invoke(dataset_cli, ["ingest", "--lq", str(lq), "--task", "noisy", "--out",
                                              str(tmp_path / "data"), "--manifest-dir", str(tmp_path / "m")])
    assert ingest.exit_code == 0, ingest.output
    config, net = create_model("tiny", context_dim=None, seed=0)
    save_restoration(tmp_path / "restore", net, EMA(net, 0.9, 1), config)
    result = CliRunner().invoke(daclip_cli, ["evaluate-restore", str(tmp_path / "m" / "noisy.ingested.parquet"),
                                             "--split", "", "--ckpt", str(tmp_path / "restore"), "--out",
                                             str(tmp_path / "eval"), "--steps", "1", "--no-lpips"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    row = report["per_degradation"]["noisy"]
    assert row["n"] == 2 and row["psnr"] is None and row["lq_psnr"] is None
    for name in ("niqe", "lq_niqe", "piqe", "lq_piqe"):
        assert row[name] is not None and np.isfinite(row[name]) and row[name] > 0, name
    assert all(image["ssim"] is None for image in report["images"])
