"""Loader start-up against step time in train-daclip: the runtime's loader (workers started once
per run, the stream restarted at every checkpoint) against the baseline it replaced (a new
DataLoader, and so new worker processes, at every checkpoint), timed side by side in one run.

    python bench/trainer.py [--steps 60] [--save-every 2] [--workers 1] [--batch-size 32]

The default ``--save-every 2`` is what the old default (one checkpoint per epoch) gave on a
150-sample manifest with batch 64. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def make_data(root: Path) -> Path:
    from click.testing import CliRunner

    from pipelines.cli import cli

    result = CliRunner().invoke(cli, ["synthesize", "--task", "noisy", "--task", "jpeg", "--task", "hazy",
                                      "--variants", "3", "--max-side", "128", "--out", str(root / "data"),
                                      "--manifests", str(root / "manifests"), "--workers", "2"])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    frames = [str(root / "manifests" / f"{t}.parquet") for t in ("noisy", "jpeg-compressed", "hazy")]
    return frames


def rebuilt_batches(index, *, every: int, batch_size: int, workers: int, **stream) -> Iterator:
    """The baseline: a fresh, non-persistent DataLoader for every segment."""
    from daclip.data.loaders import make_loader, train_stream
    from daclip.data.segments import segment_starts, stream_seed

    starts = segment_starts(0, every)
    begin = next(starts)
    while True:
        end = next(starts)
        loader = make_loader(train_stream(stream_seed(0, begin), index=index, **stream), batch_size=batch_size,
                             workers=workers)
        batches = iter(loader)
        for _ in range(end - begin):
            yield next(batches)
        del batches, loader
        begin = end


def time_run(kind: str, manifests: list[str], steps: int, every: int, batch_size: int, workers: int) -> dict:
    import torch

    from daclip.controller.losses import LossConfig
    from daclip.controller.model import DaCLIPConfig, build
    from daclip.controller.task import TrainingTask, param_groups
    from daclip.data.loaders import train_loader
    from daclip.data.segments import segmented_batches
    from daclip.data.shards import load_index

    model = build(DaCLIPConfig("tiny", "none")).train()
    task = TrainingTask(model, LossConfig("ce", 0.0))
    optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-3)
    index = load_index(manifests)
    stream = dict(image_size=model.image_size, tokenizer=model.tokenizer, shuffle_buffer=64, mix="weighted")
    if kind == "persistent":
        loader = train_loader(index, seed=0, start=0, every=every, batch_size=batch_size, workers=workers, **stream)
        batches = segmented_batches(loader, 0, every, per_step=1)
    else:
        batches = rebuilt_batches(index, every=every, batch_size=batch_size, workers=workers, **stream)
    waits, compute = [], []
    start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = next(batches)
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        terms, _ = task(batch)
        terms["total"].backward()
        optimizer.step()
        waits.append(t1 - t0)
        compute.append(time.perf_counter() - t1)
    wall = time.perf_counter() - start
    restarts = [w for i, w in enumerate(waits) if i and i % every == 0]
    return {
        "wall_s": round(wall, 2),
        "samples_per_s": round(steps * batch_size / wall, 1),
        "first_batch_s": round(waits[0], 3),
        "wait_at_checkpoint_restart_s": round(statistics.mean(restarts), 3) if restarts else None,
        "wait_elsewhere_s": round(statistics.median(w for i, w in enumerate(waits) if i % every), 4),
        "model_step_s": round(statistics.median(compute), 4),
    }


def time_trainer(manifests: list[str], out: Path, steps: int, save_every: int | None, workers: int) -> dict:
    """The real train-daclip (runtime included) with checkpoints every ``save_every`` steps (None: the default)."""
    from daclip.controller.config import TrainConfig
    from daclip.controller.trainer import train
    from daclip.runtime.settings import RunSettings

    config = TrainConfig(shards=tuple(manifests), model="tiny", pretrained="none", batch_size=64, lr=1e-3, warmup=5)
    settings = RunSettings(out=str(out), steps=steps, save_every=save_every, workers=workers, overwrite=True,
                           progress=False, device="cpu")
    start = time.perf_counter()
    summary = train(config, settings)
    wall = time.perf_counter() - start
    return {"save_every": settings.save_interval(steps), "wall_s": round(wall, 2),
            "samples_per_s_end_to_end": round(steps * 64 / wall, 1),
            "checkpoints_written": steps // settings.save_interval(steps),
            "final_step": summary["final_step"]}


@click.command()
@click.option("--steps", default=60, show_default=True)
@click.option("--save-every", "every", default=2, show_default=True, help="Steps between stream restarts.")
@click.option("--workers", default=1, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
def main(steps: int, every: int, workers: int, batch_size: int) -> None:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - workers))
    with tempfile.TemporaryDirectory() as tmp:
        manifests = make_data(Path(tmp))
        result = {"bench": "trainer_loader", "steps": steps, "save_every": every, "workers": workers,
                  "batch_size": batch_size, "threads": torch.get_num_threads(), "cpus": os.cpu_count()}
        for kind in ("rebuild_per_checkpoint", "persistent"):
            result[kind] = time_run(kind.split("_")[0], manifests, steps, every, batch_size, workers)
        result["speed_up"] = round(result["persistent"]["samples_per_s"]
                                   / result["rebuild_per_checkpoint"]["samples_per_s"], 2)
        # train-daclip end to end: the old default interval (one epoch: 2 steps on this manifest at batch 64)
        # against the new default (1000 steps, or the run's length)
        result["trainer_checkpoint_every_epoch"] = time_trainer(manifests, Path(tmp) / "a", steps, 2, workers)
        result["trainer_default_interval"] = time_trainer(manifests, Path(tmp) / "b", steps, None, workers)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
