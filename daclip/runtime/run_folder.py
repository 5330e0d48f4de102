"""The run folder every trainer writes, one layout for all::

    OUT/config.json                     the run's settings and the trainer's own config
    OUT/metrics.jsonl                   one JSON row per log interval and per validation
    OUT/checkpoints/step_NNNNNNNN/      safetensors + JSON (see daclip.runtime.checkpoint)
    OUT/checkpoints/latest              names the newest complete checkpoint

Pruning keeps the newest ``keep`` checkpoints and never deletes the one ``latest`` names. A
folder that already holds a run is continued only with ``--resume`` and replaced only with
``--overwrite``: a new run never mixes its checkpoints and metrics with an old one's.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.common.files import write_json_atomic

from .checkpoint import LATEST, MODEL_FILE

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
STEP_PREFIX = "step_"


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_FILE

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"{STEP_PREFIX}{step:08d}"

    def latest(self) -> Path | None:
        """The checkpoint ``latest`` names, or None when there is none (or it is incomplete)."""
        pointer = self.checkpoints / LATEST
        if not pointer.is_file():
            return None
        folder = self.checkpoints / pointer.read_text().strip()
        return folder if (folder / MODEL_FILE).is_file() else None

    def step_folders(self) -> list[Path]:
        return sorted(p for p in self.checkpoints.glob(f"{STEP_PREFIX}*") if p.is_dir())

    def remove_stale_checkpoints(self) -> list[Path]:
        """Delete the half-written checkpoint folders (``.step_*`` temporaries) of killed runs."""
        stale = [p for p in self.checkpoints.glob(f".{STEP_PREFIX}*") if p.is_dir()]
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
        return stale

    def holds_a_run(self) -> bool:
        marks = (self.root / CONFIG_FILE, self.metrics_path, self.checkpoints / LATEST)
        return any(p.exists() for p in marks) or bool(self.step_folders())

    def prepare(self, resume: bool, overwrite: bool, main: bool = True) -> None:
        """Refuse a folder holding an earlier run unless resuming; ``overwrite`` clears that run
        (its config, metrics and checkpoints; other files are left alone). Only ``main`` deletes."""
        if resume or not self.holds_a_run():
            return
        if not overwrite:
            latest = self.latest()
            what = f"checkpoints up to {latest.name}" if latest is not None else "an unfinished run"
            raise ValueError(f"--out {self.root} already holds a run ({what}): pass --resume to continue it or "
                             "--overwrite to start afresh")
        if main:
            shutil.rmtree(self.checkpoints, ignore_errors=True)
            for name in (CONFIG_FILE, METRICS_FILE):
                (self.root / name).unlink(missing_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(config, self.root / CONFIG_FILE)

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def prune(self, keep: int) -> list[Path]:
        """Delete all but the newest ``keep`` checkpoints, never the one ``latest`` names."""
        latest = self.latest()
        removed = []
        for old in self.step_folders()[:-keep] if keep > 0 else []:
            if latest is not None and old.resolve() == latest.resolve():
                continue
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
        return removed
