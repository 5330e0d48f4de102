"""Shared restoration fixtures: a tiny synthesized (LQ, HQ) data set and a tiny DA-CLIP checkpoint.

Package-scoped, so the IR-SDE and one-step trainer tests build them once.
"""

from __future__ import annotations

import json

import cv2
import pytest

from tests.daclip.clirun import invoke_ok

MICRO = {"unet": {"nf": 8, "ch_mult": [1, 2], "dim_head": 8, "num_prompts": 4},
         "train": {"patch": 16, "batch_size": 2, "lr": 0.001}}


@pytest.fixture(scope="package")
def dataset(tmp_path_factory, photos):
    """noisy + jpeg-compressed shards (48 px, 30% val), an odd-sized photo to restore, a micro U-Net config."""
    from pipelines.cli import cli as dataset_cli

    root = tmp_path_factory.mktemp("restore_data")
    src = root / "photos"
    src.mkdir()
    for name, img in photos.items():
        cv2.imwrite(str(src / f"{name}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    invoke_ok(dataset_cli, [
        "synthesize", "--task", "noisy", "--task", "jpeg", "--variants", "2", "--max-side", "48",
        "--input", str(src), "--out", str(root / "data"), "--manifests", str(root / "manifests"),
        "--workers", "1", "--val-fraction", "0.3",
    ])
    small = root / "small.png"  # an odd-sized photo to restore
    cv2.imwrite(str(small), cv2.cvtColor(photos["chelsea"][100:141, 150:207], cv2.COLOR_RGB2BGR))
    micro = root / "micro.json"
    micro.write_text(json.dumps(MICRO))
    manifests = [str(root / "manifests" / f"{t}.parquet") for t in ("noisy", "jpeg-compressed")]
    return {"root": root, "manifests": manifests, "micro": str(micro), "photo": small}


@pytest.fixture(scope="package")
def tiny_daclip(tmp_path_factory):
    """A tiny, randomly initialised DA-CLIP saved as a checkpoint folder (embed_dim 64)."""
    from daclip.controller.model import DaCLIPConfig, build, state_for_checkpoint
    from daclip.runtime.checkpoint import save_checkpoint

    encoder = build(DaCLIPConfig(model="tiny", pretrained="none"))
    folder = tmp_path_factory.mktemp("tiny_daclip")
    save_checkpoint(folder / "checkpoints" / "step_0", state_for_checkpoint(encoder),
                    {"model": encoder.config.to_dict()})
    return folder
