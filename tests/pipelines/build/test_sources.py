"""Input listing: only regular files are read; symlinks leaving --input are skipped and counted
unless --follow-symlinks; hidden files are counted; a second run on one --out is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest
from tests.pipelines.common.test_locks import hold
from tests.pipelines.hostile import deadline, error_lines


@pytest.fixture()
def hostile_inputs(tmp_path, photos) -> Path:
    """Two photos, a symlink to /dev/zero, a FIFO, a hidden photo and a symlink to a photo outside."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(("astronaut", "coffee")):
        Image.fromarray(photos[name][:32, :32]).save(folder / f"p{i}.png")
    Image.fromarray(photos["chelsea"][:32, :32]).save(folder / ".hidden.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.fromarray(photos["rocket"][:32, :32]).save(outside / "secret.png")
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "outside.png").symlink_to(outside / "secret.png")
    (folder / "inside.png").symlink_to(folder / "p0.png")  # stays inside: read (a duplicate of p0)
    os.mkfifo(folder / "fifo.png")
    return folder


def _synthesize(inputs, out: Path, *extra: str):
    args = ["synthesize", "--task", "noisy", "--input", str(inputs), "--out", str(out / "data"),
            "--manifest-dir", str(out / "manifests"), *extra]
    with deadline(30):
        return CliRunner().invoke(cli, args)


def test_special_files_and_outside_symlinks_are_skipped_and_counted(hostile_inputs, tmp_path):
    result = _synthesize(hostile_inputs, tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "inputs: 3 listed, 2 unique" in result.output
    assert ("skipped under --input: 1 hidden file(s)/folder(s), 2 symlink(s) leaving the input folder "
            "(--follow-symlinks follows them), 1 special file(s)") in result.output
    sources = set(read_manifest(tmp_path / "a/manifests/noisy.parquet", status=None)["source"])
    assert {Path(s).name for s in sources} == {"inside.png", "p1.png"}  # p0 == inside (the smaller name kept)


def test_follow_symlinks_reads_outside_files_but_never_devices(hostile_inputs, tmp_path):
    result = _synthesize(hostile_inputs, tmp_path / "b", "--follow-symlinks")
    assert result.exit_code == 0, result.output
    assert "inputs: 4 listed, 3 unique" in result.output and "2 special file(s)" in result.output
    frame = read_manifest(tmp_path / "b/manifests/noisy.parquet", status=None)
    assert "outside.png" in {Path(s).name for s in frame["source"]} and (frame["status"] == "ok").all()


def test_named_special_files_become_error_rows_not_hangs(hostile_inputs, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{hostile_inputs / 'fifo.png'}\n/dev/zero\n{hostile_inputs / 'p1.png'}\n")
    result = _synthesize(listing, tmp_path / "c")
    assert result.exit_code == 0, result.output
    errors = read_manifest(tmp_path / "c/manifests/noisy.parquet", status="error")["error_message"]
    assert sorted(errors) == ["cannot read file: not a regular file (a FIFO): " + str(hostile_inputs / "fifo.png"),
                              "cannot read file: not a regular file (a character device): /dev/zero"]


def test_a_second_run_on_one_output_is_refused_naming_the_first(hostile_inputs, tmp_path):
    other = hold(tmp_path / "d" / "data")
    try:
        result = _synthesize(hostile_inputs, tmp_path / "d")
    finally:
        other.kill()
        other.wait()
    assert result.exit_code == 1
    assert error_lines(result.stderr) == [
        f"Error: {tmp_path / 'd' / 'data'} is in use by another run (pid {other.pid}); wait for it to finish "
        "or use another output folder"]
