"""Ingest listing (pairs.py): FIFOs, devices and symlinks leaving --root never hang or leak in."""

from __future__ import annotations

import os

from click.testing import CliRunner
from PIL import Image

from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest
from tests.pipelines.hostile import deadline


def test_ingest_skips_special_files_and_outside_symlinks(tmp_path, photos):
    root = tmp_path / "universal"
    lq, gt = root / "train/noisy/LQ", root / "train/noisy/GT"
    for folder in (lq, gt):
        folder.mkdir(parents=True)
    for name in ("a", "b"):
        crop = photos["astronaut" if name == "a" else "coffee"][:24, :24]
        Image.fromarray(crop).save(lq / f"{name}.png")
        Image.fromarray(crop).save(gt / f"{name}.png")
    (tmp_path / "secret.png").write_bytes((gt / "b.png").read_bytes())
    (lq / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(gt / "zero.png")
    os.mkfifo(lq / "fifo.png")
    (lq / ".hidden.png").write_bytes(b"")
    (gt / "c.png").symlink_to(tmp_path / "secret.png")
    args = ["ingest", "--root", str(root), "--out", str(tmp_path / "data"), "--manifest-dir", str(tmp_path / "m")]
    with deadline(30):
        result = CliRunner().invoke(cli, args)
        followed = CliRunner().invoke(cli, [*args, "--follow-symlinks", "--out", str(tmp_path / "data2"),
                                            "--manifest-dir", str(tmp_path / "m2")])
    assert result.exit_code == 0, result.output
    assert ("skipped under noisy (train): 1 hidden file(s)/folder(s), 2 symlink(s) leaving the input folder "
            "(--follow-symlinks follows them), 2 special file(s)") in result.output
    frame = read_manifest(tmp_path / "m/noisy.ingested.parquet", status=None)
    assert sorted(os.path.basename(s) for s in frame["source"]) == ["a.png", "b.png"] and (frame["status"] == "ok").all()
    assert followed.exit_code == 0, followed.output
    assert "3 special file(s)" in followed.output and "unpaired" not in followed.output
    assert "1 GT file(s) without an LQ file, e.g. c.png" in followed.output  # the outside file is now listed
