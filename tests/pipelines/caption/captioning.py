"""Helpers of the caption tests: a small synthesized dataset, the CLI, a captioner that counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from PIL import Image

from pipelines.caption.blip import Captioner
from pipelines.caption.plan import list_manifests
from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest

TASKS = ("noisy", "jpeg-compressed")
VARIANTS = 2


def synthesize_manifests(root: Path, photos: dict[str, np.ndarray]) -> Path:
    """Shards and manifests from ``make-dataset synthesize``: 4 clean photos (and one unreadable
    file, which becomes failed rows) under 2 tasks x 2 variants. Returns the manifests folder."""
    inputs = root / "photos"
    inputs.mkdir(parents=True)
    for name, photo in photos.items():
        Image.fromarray(photo).resize((56, 48), Image.BICUBIC).save(inputs / f"{name}.png")
    (inputs / "broken.png").write_bytes(b"not a png")
    args = ["synthesize", "--task", "noisy", "--task", "jpeg", "--variants", str(VARIANTS), "--max-side", "64",
            "--input", str(inputs), "--out", str(root / "data"), "--manifest-dir", str(root / "manifests"),
            "--workers", "1"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return root / "manifests"


def ok_rows(manifests: Path) -> pd.DataFrame:
    return pd.concat([read_manifest(p) for p in list_manifests(manifests)], ignore_index=True)


def run_cli(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


class CountingCaptioner:
    """Wraps a Captioner: counts the images it is asked to caption, can blank one output or die."""

    def __init__(self, inner: Captioner, empty_for: int = -1, die_after_batches: int | None = None):
        self.inner, self.seen, self.empty_for, self.batches = inner, 0, empty_for, 0
        self.die_after_batches = die_after_batches

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, pixel_values):
        if self.batches == self.die_after_batches:
            raise KeyboardInterrupt  # as if the run were killed here
        self.batches += 1
        self.seen += pixel_values.shape[0]
        texts = self.inner.generate(pixel_values)
        return ["   " if i == self.empty_for else t for i, t in enumerate(texts)]
