"""make-dataset merge: tasks and splits combined, balancing, and parts that equal the full run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.build.plan import BuildOptions
from pipelines.cli import cli
from pipelines.manifest.schema import COLUMNS, read_manifest
from pipelines.manifest.validate import ManifestError
from pipelines.synthesize.command import synthesize
from pipelines.tools.merge import merge
from pipelines.tools.verify import verify_manifest
from tests.pipelines.hostile import error_lines
from tests.pipelines.small_dataset import TASKS, config


def test_merge_combines_tasks_and_splits(dataset, tmp_path):
    out = tmp_path / "merged"
    inputs = sorted((dataset / "manifests").glob("*.parquet"))
    report = merge(inputs, train=out / "train.parquet", val=out / "val.parquet")
    train = read_manifest(out / "train.parquet", status=None)
    val = read_manifest(out / "val.parquet", status=None)
    assert set(train["split"]) == {"train"} and set(val["split"]) == {"val"}
    assert len(train) + len(val) == 44 and set(train["degradation"]) == set(TASKS)
    assert not set(train["hq_sha256"].dropna()) & set(val["hq_sha256"].dropna())
    assert all((out / s).resolve().is_file() for s in train["shard"])  # rewritten relative to out
    assert list(read_manifest(out / "train.parquet").columns[: len(COLUMNS)]) == list(COLUMNS)
    assert verify_manifest(out / "train.parquet").ok
    ok_noisy = int(((train["degradation"] == "noisy") & (train["status"] == "ok")).sum())
    assert report.counts[str(out / "train.parquet")]["noisy"] == ok_noisy > 0
    # a second merge over manifests/*.parquet skips its own outputs and non-manifests
    pd_captions = out / "captions.parquet"
    import pandas as pd

    pd.DataFrame({"hq_sha256": ["x"], "caption": ["a cat"]}).to_parquet(pd_captions)
    again = merge([*inputs, out / "train.parquet", pd_captions], train=out / "train.parquet", val=out / "val.parquet")
    assert len(again.inputs) == 2 and len(again.skipped) == 2


def test_merge_balance_equalises_per_degradation(tmp_path, inputs):
    root = tmp_path / "unbalanced"
    options = BuildOptions(out=root / "data", manifests=root / "manifests")
    synthesize(config(tasks=("noisy",), variants=2), options, input=inputs)
    synthesize(config(tasks=("jpeg-compressed",), variants=1), options, input=inputs)
    paths = [root / "manifests/noisy.parquet", root / "manifests/jpeg-compressed.parquet"]
    report = merge(paths, train=root / "train.parquet", val=root / "val.parquet", balance_counts=True)
    for name in ("train", "val"):
        frame = read_manifest(root / f"{name}.parquet")
        counts = frame.groupby("degradation").size()
        assert len(counts) == 2 and counts.nunique() == 1, counts
    assert report.dropped_by_balance == 10
    first = (root / "train.parquet").read_bytes()
    merge(paths, train=root / "train.parquet", val=root / "val.parquet", balance_counts=True)
    assert (root / "train.parquet").read_bytes() == first  # deterministic subset


def test_parts_merged_equal_the_full_run(tmp_path, inputs, dataset):
    root = tmp_path / "parts"
    for i in range(2):
        result = CliRunner().invoke(cli, [
            "synthesize", "--task", "noisy", "--task", "jpeg", "--input", str(inputs), "--out", str(root / "data"),
            "--manifest-dir", str(root / "manifests"), "--variants", "2", "--seed", "1", "--shard-size", "4",
            "--val-fraction", "0.3", "--part", f"{i}/2"])
        assert result.exit_code == 0, result.output
    part_files = sorted(p.name for p in (root / "manifests").glob("*.parquet"))
    assert part_files == [f"{t}.part-{i}-of-2.parquet" for t in sorted(TASKS) for i in range(2)]
    merge(sorted((root / "manifests").glob("*.parquet")), train=root / "m/train.parquet", val=root / "m/val.parquet")
    merge(sorted((dataset / "manifests").glob("*.parquet")), train=root / "f/train.parquet",
          val=root / "f/val.parquet")
    for name in ("train", "val"):
        parts, full = read_manifest(root / f"m/{name}.parquet", None), read_manifest(root / f"f/{name}.parquet", None)
        cols = [c for c in COLUMNS if c != "shard"]
        assert parts[cols].equals(full[cols])
    for tar in (dataset / "data").rglob("*.tar"):
        assert tar.read_bytes() == (root / "data" / tar.relative_to(dataset / "data")).read_bytes()
    sizes = json.loads((root / "data/noisy/sizes.json").read_text())
    assert len(sizes) == 6  # the last part to finish sees every committed shard


def test_same_train_and_val_path_is_refused(dataset, tmp_path):
    target = tmp_path / "x.parquet"
    shutil.copy(dataset / "manifests/noisy.parquet", target)
    before = target.read_bytes()
    result = CliRunner().invoke(cli, ["merge", str(dataset / "manifests/noisy.parquet"), "--train", str(target),
                                      "--val", str(tmp_path / "." / "x.parquet")])
    assert result.exit_code == 1 and error_lines(result.stderr) == [
        f"Error: --train and --val are the same file ({target}); give two paths"]
    assert target.read_bytes() == before


def test_train_and_val_are_committed_together(dataset, tmp_path, monkeypatch):
    inputs = sorted((dataset / "manifests").glob("*.parquet"))
    train, val = tmp_path / "train.parquet", tmp_path / "val.parquet"
    merge(inputs, train=train, val=val)
    renames = []
    real_replace = os.replace

    def killed_between_renames(src, dst):
        if Path(dst) in (train, val):
            renames.append(dst)
            if len(renames) == 2:
                raise KeyboardInterrupt  # as if the run were killed here
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_between_renames)
    with pytest.raises(KeyboardInterrupt):
        merge(inputs[:1], train=train, val=val)  # another merge: new train, old val
    monkeypatch.setattr(os, "replace", real_replace)
    for path in (train, val):
        with pytest.raises(ManifestError, match="comes from another merge run"):
            read_manifest(path)
    assert not list(tmp_path.glob(".*.tmp"))
    merge(inputs[:1], train=train, val=val)
    assert len(read_manifest(train)) and len(read_manifest(val))


def test_unwritable_output_is_one_line(dataset, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    result = CliRunner().invoke(cli, ["merge", str(dataset / "manifests/noisy.parquet"),
                                      "--train", str(tmp_path / "file/train.parquet"),
                                      "--val", str(tmp_path / "file/val.parquet")])
    lines = error_lines(result.stderr)
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: [Errno"), result.output
