"""``demo_weights/``: the recorded files, loadable offline and relocatable, and right about make demo's samples."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import degradations as D

WEIGHTS = Path(__file__).resolve().parents[1] / "demo_weights"
torch.set_num_threads(1)


def _small(img: np.ndarray, side: int = 128) -> np.ndarray:
    import cv2

    scale = side / max(img.shape[:2])
    return cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)


def test_files_match_the_record_and_fit_the_budget():
    record = json.loads((WEIGHTS / "RECORD.json").read_text())
    assert set(record) == {"daclip", "restore"}
    total = 0
    for entry in record.values():
        assert entry["command"].startswith("python bench/") and "--export demo_weights/" in entry["command"]
        for name, meta in entry["files"].items():
            data = (WEIGHTS / name).read_bytes()
            assert len(data) == meta["bytes"] and hashlib.sha256(data).hexdigest() == meta["sha256"], name
            total += len(data)
    assert total <= 15 * 2**20


def test_the_restorer_finds_its_daclip_wherever_the_folder_is():
    from daclip.loading import load_encoder, load_restoration

    loaded = load_restoration(WEIGHTS / "restore")
    assert json.loads((WEIGHTS / "restore" / "config.json").read_text())["daclip"] == "../daclip"
    assert Path(loaded.config.daclip) == (WEIGHTS / "daclip").resolve()
    assert loaded.ema is None and load_encoder(loaded.config, "cpu").embed_dim == loaded.config.unet.context_dim


@pytest.mark.parametrize(("photo", "task"), [("astronaut", "rainy"), ("astronaut", "hazy"), ("astronaut", "low-light"),
                                             ("rocket", "snowy"), ("rocket", "noisy")])
def test_the_demo_daclip_names_make_demos_samples(photo, task):
    """The samples of `make demo` (128 px, seed 0, medium; rocket is unseen) are classified right."""
    from skimage import data

    import daclip
    from daclip.data.transforms import to_float

    lq, _ = D.degrade(_small(getattr(data, photo)()), task, seed=0, severity="medium")
    model = daclip.load(WEIGHTS / "daclip")
    probs = model.classify(model.preprocess_tensor(to_float(lq)[None]))[0]
    assert D.NAMES[int(probs.argmax())] == task
