"""A small synthesized dataset the tool tests share (verify, merge, stats, build): ten 40x40
crops plus one broken file, two tasks, two variants."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.synthesize.worker import SynthConfig

TASKS = ("noisy", "jpeg-compressed")


def make_inputs(folder: Path, photos: dict[str, np.ndarray]) -> Path:
    """Ten distinct 40x40 crops plus one file that is not an image."""
    folder.mkdir(parents=True)
    for name, img in sorted(photos.items()):
        for i in range(3 if name in ("astronaut", "coffee") else 2):
            Image.fromarray(np.ascontiguousarray(img[40 * i : 40 * i + 40, 50 : 90])).save(folder / f"{name}{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def config(**kw) -> SynthConfig:
    base = dict(tasks=TASKS, variants=2, seed=1, shard_size=4, val_fraction=0.3)
    base.update(kw)
    return SynthConfig(**base)


def fresh_copy(dataset: Path, tmp_path: Path) -> Path:
    shutil.copytree(dataset, tmp_path / "ds")
    return tmp_path / "ds"
