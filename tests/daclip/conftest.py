"""Shared DA-CLIP fixtures: a tiny synthesized data set and one short train-daclip run on it.

Package-scoped, so the controller's trainer, classify and evaluate tests and the data loader
tests build them once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.daclip.clirun import invoke_ok

DACLIP_TRAIN_ARGS = ["--model", "tiny", "--pretrained", "none", "--steps", "6", "--save-every", "3",
                     "--batch-size", "8", "--lr", "1e-3", "--warmup", "2", "--workers", "1", "--seed", "1"]


@pytest.fixture(scope="package")
def daclip_data(tmp_path_factory) -> dict[str, Path]:
    """noisy + jpeg-compressed from the bundled photos, 64 px, merged into train/val manifests."""
    from pipelines.cli import cli as dataset_cli

    root = tmp_path_factory.mktemp("daclip_data")
    man = root / "manifests"
    invoke_ok(dataset_cli, ["synthesize", "--task", "noisy", "--task", "jpeg", "--variants", "2", "--max-side", "64",
                          "--out", str(root / "data"), "--manifests", str(man), "--workers", "1",
                          "--val-fraction", "0.3", "--seed", "0"])
    invoke_ok(dataset_cli, ["merge", str(man / "noisy.parquet"), str(man / "jpeg-compressed.parquet"),
                          "--train", str(man / "train.parquet"), "--val", str(man / "val.parquet")])
    return {"train": man / "train.parquet", "val": man / "val.parquet", "root": root}


@pytest.fixture(scope="package")
def daclip_train_args() -> list[str]:
    """The train-daclip flags of :func:`daclip_run` (besides --shards, --val and --out)."""
    return list(DACLIP_TRAIN_ARGS)


@pytest.fixture(scope="package")
def daclip_run(daclip_data, tmp_path_factory) -> Path:
    """A 6-step train-daclip run (checkpoints at steps 3 and 6) on :func:`daclip_data`."""
    from daclip.controller.train_command import command as main

    out = tmp_path_factory.mktemp("runs") / "full"
    result = invoke_ok(main, ["--shards", str(daclip_data["train"]), "--val", str(daclip_data["val"]),
                            *DACLIP_TRAIN_ARGS, "--out", str(out)])
    summary = json.loads(result.stdout)
    assert summary["final_step"] == 6 and summary["val_accuracy"] is not None
    return out
