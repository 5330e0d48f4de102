"""Small mixed-degradation and LQ-only data sets for the DA-CLIP tests, made by the real pipeline.

- :func:`synthesize_labelled`: clean crops -> ``make-dataset synthesize --task noisy --task hazy+noisy
  ...`` (single types and ``a+b`` mixtures, with HQ) -> ``make-dataset merge`` into one manifest.
- :func:`ingest_lq_only`: degraded crops in folders named by label (a type, or any other name for
  ``unknown``) -> ``make-dataset ingest --root`` (LQ-only rows: ``origin=ingested``, no HQ member,
  ``hq_sha256`` null) -> ``make-dataset merge`` into one manifest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from pipelines.cli import cli as dataset_cli
from tests.daclip.clirun import invoke_ok


def crops(photos: dict[str, np.ndarray], size: int = 64, per_photo: int = 2) -> list[np.ndarray]:
    """``per_photo`` evenly spaced ``size`` squares of each photo, after halving it (small, varied)."""
    out = []
    for name in sorted(photos):
        img = photos[name]
        small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        for k in range(per_photo):
            top = (small.shape[0] - size) * k // max(1, per_photo - 1)
            left = (small.shape[1] - size) * (per_photo - 1 - k) // max(1, per_photo - 1)
            out.append(np.ascontiguousarray(small[top : top + size, left : left + size]))
    return out


def save_images(images: Sequence[np.ndarray], folder: str | os.PathLike) -> Path:
    """``folder/image_000.png`` ... (RGB arrays written as PNG); returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        cv2.imwrite(str(folder / f"image_{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


def _merge(manifests: Sequence[Path], train: Path) -> Path:
    """``make-dataset merge`` of ``manifests`` into ``train`` (every row is in the train split)."""
    val = train.with_name(f"{train.stem}.val.parquet")
    invoke_ok(dataset_cli, ["merge", *map(str, manifests), "--train", str(train), "--val", str(val)])
    return train


def synthesize_labelled(images: Sequence[np.ndarray], tasks: Sequence[str], root: str | os.PathLike,
                        *, seed: int = 0) -> Path:
    """Degrade every clean image by every task (``noisy``, ``hazy+noisy``: types applied in that order)
    with ``make-dataset synthesize`` under ``root``; returns the merged manifest ``root/manifests/train.parquet``."""
    root = Path(root)
    clean = save_images(images, root / "clean")
    manifests = root / "manifests"
    task_args = [arg for task in tasks for arg in ("--task", task)]
    invoke_ok(dataset_cli, ["synthesize", *task_args, "--input", str(clean), "--out", str(root / "data"),
                            "--manifests", str(manifests), "--workers", "1", "--seed", str(seed)])
    return _merge(sorted(manifests.glob("*.parquet")), manifests / "train.parquet")


def ingest_lq_only(folders: Mapping[str, Sequence[np.ndarray]], root: str | os.PathLike) -> Path:
    """Write each folder's images under ``root/photos/<folder>/`` (no GT/: LQ-only; a folder name that is
    not a type is labelled ``unknown``), ``make-dataset ingest --root`` them; returns the merged manifest
    ``root/manifests/lq_only.parquet``."""
    root = Path(root)
    for name, images in folders.items():
        save_images(images, root / "photos" / name)
    manifests = root / "manifests"
    invoke_ok(dataset_cli, ["ingest", "--root", str(root / "photos"), "--out", str(root / "data"),
                            "--manifests", str(manifests), "--workers", "1"])
    return _merge(sorted(manifests.glob("*.ingested.parquet")), manifests / "lq_only.parquet")
