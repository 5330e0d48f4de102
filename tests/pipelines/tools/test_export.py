"""export-csv against hostile manifests and shards: nothing is written outside --image-root, bombs
are refused from their headers, every failure is one line."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.common.files import UnsafePathError
from pipelines.manifest.schema import read_manifest
from pipelines.tools.export import _targets
from tests.pipelines.hostile import (
    edit_manifest,
    error_lines,
    pixel_bomb_png,
    rewrite_tar,
    run_cli,
    sparse_member,
)
from tests.pipelines.small_dataset import fresh_copy


def _export(manifest: Path, root: Path, *extra: str):
    return CliRunner().invoke(cli, ["export-csv", "--manifest", str(manifest), "--out", str(root / "train.csv"),
                                    "--image-root", str(root / "images"), *extra])


@pytest.fixture()
def captioned(dataset, tmp_path) -> Path:
    """A fresh copy of the small dataset with a captioned noisy manifest (absolute shard paths)."""
    root = fresh_copy(dataset, tmp_path)
    return edit_manifest(root / "manifests/noisy.parquet", root / "manifests/captioned.parquet", caption="a photo")


def test_traversal_manifest_and_tar_write_nothing_outside(captioned, tmp_path):
    victim = tmp_path / "home"
    victim.mkdir()
    evil_tar = tmp_path / "evil.tar"
    with tarfile.open(evil_tar, "w") as tar:
        info = tarfile.TarInfo("../.lq.bashrc")
        info.size = 12
        tar.addfile(info, io.BytesIO(b"echo pwned\n\n"))
    evil = edit_manifest(captioned, tmp_path / "evil.parquet", degradation=str(victim), key="../",
                         members='["lq.bashrc"]', shard=str(evil_tar))
    result = _export(evil, tmp_path / "out")
    assert result.exit_code == 1 and len(error_lines(result.stderr)) == 1, result.output
    assert list(victim.iterdir()) == [] and not (tmp_path / "out/train.csv").exists()
    # even past the validator, every derived path is checked
    frame = read_manifest(evil, status=None, validate=False)
    with pytest.raises(UnsafePathError):
        _targets(frame.assign(members='["lq.png"]'), tmp_path / "out/images", evil, with_gt=False)


def test_empty_manifest_and_unwritable_output_are_one_line(captioned, tmp_path):
    frame = read_manifest(captioned, status=None)
    empty = edit_manifest(captioned, tmp_path / "empty.parquet", status="error")
    assert len(frame) and not len(read_manifest(empty))
    result = _export(empty, tmp_path / "a")
    assert result.exit_code == 1 and error_lines(result.stderr) == [f"Error: {empty} has no ok rows to export"]
    (tmp_path / "file").write_text("not a folder")
    result = _export(captioned, tmp_path / "file")  # the output folders would be under a regular file
    lines = error_lines(result.stderr)
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: [Errno"), result.output


def _lq_member(manifest: Path) -> tuple[Path, str]:
    row = read_manifest(manifest).iloc[0]
    suffix = next(s for s in json.loads(row["members"]) if s.startswith("lq."))
    return Path(row["shard_path"]), f"{row['key']}.{suffix}"


def test_sparse_member_is_refused_with_bounded_memory_and_disk(captioned, tmp_path):
    shard, name = _lq_member(captioned)
    rewrite_tar(shard, first=[sparse_member(name, 3 * 2**30)])
    run = run_cli(["export-csv", "--manifest", captioned, "--out", tmp_path / "o/train.csv",
                   "--image-root", tmp_path / "o/images"])
    lines = error_lines(run["stderr"])
    assert run["rc"] == 1 and len(lines) == 1 and f"{name}' is a sparse file" in lines[0], run
    assert run["rss_mb"] < 600, run["rss_mb"]
    assert sum(p.stat().st_size for p in (tmp_path / "o").rglob("*") if p.is_file()) < 2**20


def test_pixel_bomb_member_is_refused_from_its_header(captioned, tmp_path):
    shard, name = _lq_member(captioned)
    rewrite_tar(shard, replace={name: pixel_bomb_png(12_000, 12_000)})
    result = _export(captioned, tmp_path / "p")
    assert result.exit_code == 1 and "too many pixels: 12000x12000" in error_lines(result.stderr)[0]
    assert _export(captioned, tmp_path / "q", "--max-pixels", str(200_000_000)).exit_code == 0
