"""A synthesized dataset whose clean images are three photos and their degraded copies (256 px)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pipelines.build.plan import BuildOptions
from pipelines.synthesize.command import synthesize
from pipelines.synthesize.worker import SynthConfig
from tests.pipelines.quality.photos import DEGRADATIONS, degraded, photo

GATE_PHOTOS = ("astronaut", "camera", "chelsea")


@pytest.fixture(scope="session")
def graded_dataset(tmp_path_factory) -> Path:
    """``photos/<name>.png`` and ``photos/<name>_<how>.png``, synthesized as two noisy variants
    each (so every clean image is shared by two rows) into ``data/`` and ``manifests/noisy.parquet``."""
    root = tmp_path_factory.mktemp("graded")
    folder = root / "photos"
    folder.mkdir()
    for name in GATE_PHOTOS:
        Image.fromarray(photo(name)).save(folder / f"{name}.png")
        for how in DEGRADATIONS:
            Image.fromarray(degraded(photo(name), how)).save(folder / f"{name}_{how}.png")
    config = SynthConfig(tasks=("noisy",), variants=2, seed=0, shard_size=5)
    synthesize(config, BuildOptions(out=root / "data", manifests=root / "manifests"), input=folder)
    return root
