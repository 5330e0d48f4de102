"""``train-daclip``: train the DA-CLIP controller on a frozen CLIP, streamed from the shards.

The loop, in order: read the manifests (shards, degradation and caption per key) -> build the
model (frozen open_clip CLIP + controller) -> AdamW on the trainable parameters, warmup + cosine
-> endless resampled stream cut into fixed-length epochs (manifest samples / global batch) ->
checkpoints (safetensors + JSON) at every epoch end or ``--save-every`` steps.

Exact resume: a checkpoint holds the weights, optimizer, LR scheduler, AMP scaler, step and RNG
states. The data stream is rebuilt at every checkpoint boundary, seeded from (seed, step), so a
run resumed from step s reads the same batches as an uninterrupted run does after step s.

Multi-GPU/multi-node: run under ``torchrun``; with WORLD_SIZE > 1 a process group is started
(NCCL on CUDA, gloo on CPU), the trainable task is wrapped in DDP, each rank reads its own
resampled shard stream and the contrastive loss is computed per rank (features not gathered).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from torch import nn

from pipelines.common.cli import setup_logging

from ..runtime.distributed import Dist, init_distributed, set_cpu_threads, shutdown_distributed, warmup_cosine
from .evaluate import val_accuracy
from .losses import DEGRADATION_LOSSES, LossConfig
from .model import CONTROL_ORDERS, DaCLIP, DaCLIPConfig
from .task import TrainingTask, param_groups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    shards: tuple[str, ...]
    out: str
    val: tuple[str, ...] = ()
    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"
    control_order: str = "aligned"
    steps: int | None = None
    epochs: int = 1
    batch_size: int = 64
    accum: int = 1
    lr: float = 3e-5
    warmup: int = 100
    weight_decay: float = 0.05
    device: str = "auto"
    workers: int = 0
    threads: int | None = None  # torch threads on CPU; default: cores / ranks - workers
    resume: bool = False
    degradation_loss: str = "ce"
    hq_align_weight: float = 0.0
    seed: int = 0
    save_every: int | None = None  # default: once per epoch
    val_every: int | None = None  # default: at every checkpoint
    keep: int = 2
    shuffle_buffer: int = 256
    stop_at: int | None = None  # stop after this step, keeping the schedule of the full run
    max_minutes: float | None = None  # wall-clock budget of this invocation: stop (and checkpoint) when spent
    train_split: str | None = None
    val_split: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.accum < 1:
            raise ValueError("--batch-size and --accum must be >= 1")
        if self.steps is not None and self.steps < 1:
            raise ValueError("--steps must be >= 1")
        if self.epochs < 1:
            raise ValueError("--epochs must be >= 1")
        LossConfig(self.degradation_loss, self.hq_align_weight)  # validates


def stream_seed(seed: int, step: int) -> int:
    """Seed of the data stream segment that starts at ``step`` (stable across resumes)."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0] & 0x7FFFFFFF)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


# -- checkpoints ----------------------------------------------------------------------------------------
def checkpoint_dir(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"step_{step:08d}"


def prune_checkpoints(out: Path, keep: int) -> None:
    folders = sorted((out / "checkpoints").glob("step_*"))
    for old in folders[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


# -- the loop -------------------------------------------------------------------------------------------
def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) and return a summary: steps, last loss/accuracy, val accuracy, samples/s."""
    from ..data.loaders import make_loader
    from ..data.shards import load_index
    from ..runtime.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
    from .model import build, state_for_checkpoint

    dist, device = init_distributed(cfg.device)
    if device.type == "cpu":
        set_cpu_threads(cfg.threads, cfg.workers, dist.world)
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed + dist.rank)

    index = load_index(cfg.shards, split=cfg.train_split)
    val_index = load_index(cfg.val, split=cfg.val_split) if cfg.val else None
    if dist.main:
        uncaptioned = index.num_samples - index.num_captioned
        if uncaptioned:
            log.info(
                "%d of %d training samples have no caption: they train the degradation term only%s",
                uncaptioned, index.num_samples, "" if index.num_captioned else " (no content loss at all)",
            )
        if not index.num_captioned and cfg.hq_align_weight == 0:
            log.warning("no captions and --hq-align-weight 0: the content path gets no gradient, so the content "
                        "embedding stays plain CLIP's (caption the data or set --hq-align-weight)")
    global_batch = cfg.batch_size * cfg.accum * dist.world
    steps_per_epoch = max(1, index.num_samples // global_batch)
    total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    save_every = cfg.save_every or steps_per_epoch
    val_every = cfg.val_every or save_every
    stop = min(total, cfg.stop_at) if cfg.stop_at else total

    model_cfg = DaCLIPConfig(cfg.model, cfg.pretrained, cfg.control_order, init_seed=cfg.seed)
    resume_from = _find_resume(out) if cfg.resume else None
    if resume_from is not None:
        weights, saved, state = load_checkpoint(resume_from, with_state=True)
        model_cfg = DaCLIPConfig.from_dict(saved["model"])
        from .factory import create_clip

        model = DaCLIP(create_clip(model_cfg.model, "none", seed=model_cfg.init_seed), model_cfg)
        model.load_state_dict(weights, strict=True)
    else:
        if cfg.resume and dist.main:
            log.info("--resume: no checkpoint under %s yet, starting from step 0", out)
        model, state = build(model_cfg), None
    model.to(device).train()
    task: nn.Module = TrainingTask(model, LossConfig(cfg.degradation_loss, cfg.hq_align_weight))
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # batches without captions (and no HQ term) leave the zero linears out of the loss
        unused = index.num_captioned < index.num_samples and cfg.hq_align_weight == 0
        task = DistributedDataParallel(task, device_ids=[device.index] if device.type == "cuda" else None,
                                       find_unused_parameters=unused)

    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, cfg.warmup))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    step = 0
    if state is not None:  # the scheduler exists before the optimizer state is loaded (it rewrites the lr)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step = int(state["step"])
        rng = state["rng_by_rank"][dist.rank] if dist.rank < len(state["rng_by_rank"]) else state["rng_by_rank"][0]
        set_rng_state(rng)
        if dist.main:
            log.info("resumed from %s at step %d of %d", resume_from, step, total)

    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
        n_train = sum(p.numel() for _, p in model.trainable_parameters())
        log.info(
            "%s: %d trainable / %d parameters; %d samples, %d steps/epoch (global batch %d), %d steps",
            cfg.model, n_train, sum(p.numel() for p in model.parameters()), index.num_samples,
            steps_per_epoch, global_batch, total,
        )

    with_hq = cfg.hq_align_weight > 0
    tokenizer = model.tokenizer
    bar = _progress(total, step, enabled=progress and dist.main)
    summary: dict[str, Any] = {"steps": total, "start_step": step, "val_accuracy": None}
    window = {"loss": 0.0, "correct": 0, "seen": 0, "time": 0.0}
    samples_done, train_time = 0, 0.0
    metrics_path = out / "metrics.jsonl"

    def batches_from(start: int) -> Iterator[dict[str, Any]]:
        loader = make_loader(
            index, image_size=model.image_size, tokenizer=tokenizer, batch_size=cfg.batch_size,
            seed=stream_seed(cfg.seed, start), train=True, with_hq=with_hq, workers=cfg.workers,
            shuffle_buffer=cfg.shuffle_buffer,
        )
        return iter(loader)

    batches = batches_from(step) if step < stop else iter(())
    started = time.monotonic()
    while step < stop:
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        for micro in range(cfg.accum):
            batch = to_device(next(batches), device)
            sync = micro == cfg.accum - 1 or dist.world == 1
            ctx = task.no_sync() if not sync else nullcontext()  # type: ignore[operator]
            with ctx, torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                terms, logits = task(batch)
            scaler.scale(terms["total"] / cfg.accum).backward()
            window["loss"] += float(terms["total"].detach()) / cfg.accum
            window["correct"] += int((logits.detach().argmax(-1) == batch["label"]).sum())
            window["seen"] += len(batch["label"])
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        model.clamp_logit_scale()
        step += 1
        dt = time.perf_counter() - t0
        window["time"] += dt
        train_time += dt
        samples_done += cfg.batch_size * cfg.accum * dist.world

        if bar is not None:
            bar.update(1)
        if cfg.max_minutes is not None and step < stop and _out_of_time(started, cfg.max_minutes, dist, device):
            stop = step  # ends the loop after this step's checkpoint, like --stop-at
            if dist.main:
                log.info("--max-minutes %.1f spent: stopping at step %d of %d", cfg.max_minutes, step, total)
        if step % 10 == 0 or step == stop:
            summary.update(_log_window(window, step, cfg.accum, dist, scheduler, model, bar, metrics_path))
        boundary = step % save_every == 0 or step == stop
        if val_index is not None and (step % val_every == 0 or step == stop):
            val_loader = make_loader(
                val_index, image_size=model.image_size, tokenizer=tokenizer, batch_size=cfg.batch_size,
                train=False, workers=cfg.workers,
            )
            acc = val_accuracy(model, val_loader, device, dist)
            summary["val_accuracy"] = acc
            if dist.main:
                _append_jsonl(metrics_path, {"step": step, "val_accuracy": acc})
                (bar.write if bar is not None else log.info)(f"step {step}: val accuracy {acc:.3f}")
        if boundary:
            states = _gather_rng(dist)
            if dist.main:
                training_state = {
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict() if use_amp else None,
                    "step": step,
                    "rng_by_rank": states,
                }
                config = {"model": model_cfg.to_dict(), "train": dataclasses.asdict(cfg), "step": step}
                save_checkpoint(checkpoint_dir(out, step), state_for_checkpoint(model), config, training_state)
                prune_checkpoints(out, cfg.keep)
            _barrier(dist)
            if step < stop:  # a new stream segment, seeded from the step (what a resume would read)
                batches = batches_from(step)
    if bar is not None:
        bar.close()
    summary["samples_per_s"] = samples_done / train_time if train_time else None
    summary["final_step"] = step
    shutdown_distributed()
    return summary


def _out_of_time(started: float, minutes: float, dist: Dist, device: torch.device) -> bool:
    """Every rank must agree, or DDP would hang: rank 0 decides."""
    spent = torch.tensor([float(time.monotonic() - started > minutes * 60)], device=device)
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.broadcast(spent, src=0)
    return bool(spent.item())


def _find_resume(out: Path) -> Path | None:
    from ..runtime.checkpoint import resolve_checkpoint

    try:
        return resolve_checkpoint(out)
    except FileNotFoundError:
        return None


def _gather_rng(dist: Dist) -> list[Any]:
    from ..runtime.checkpoint import rng_state

    state = rng_state()
    if dist.world == 1:
        return [state]
    import torch.distributed as tdist

    gathered: list[Any] = [None] * dist.world
    tdist.all_gather_object(gathered, state)
    return gathered


def _barrier(dist: Dist) -> None:
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.barrier()


def _progress(total: int, start: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc="train-daclip", unit="step", dynamic_ncols=True, file=sys.stderr)


def _log_window(window, step, accum, dist, scheduler, model, bar, metrics_path) -> dict[str, Any]:
    steps = 10 if step % 10 == 0 else step % 10
    loss = window["loss"] / max(1, steps)
    acc = window["correct"] / max(1, window["seen"])
    rate = window["seen"] * dist.world / window["time"] if window["time"] else 0.0
    row = {
        "step": step,
        "loss": round(loss, 5),
        "accuracy": round(acc, 4),
        "samples_per_s": round(rate, 2),
        "lr": scheduler.get_last_lr()[0],
        "logit_scale": round(float(model.logit_scale.detach().exp()), 3),
    }
    if bar is not None:
        bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.2f}", samples_s=f"{rate:.1f}")
    if dist.main:
        _append_jsonl(metrics_path, row)
    window.update(loss=0.0, correct=0, seen=0, time=0.0)
    return {"loss": loss, "accuracy": acc}


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


# -- CLI ------------------------------------------------------------------------------------------------
@click.command(context_settings={"show_default": True})
@click.option("--shards", "shards", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
              help="Training manifest(s), e.g. manifests/train.parquet (repeatable).")
@click.option("--val", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Validation manifest(s): degradation accuracy at every checkpoint.")
@click.option("--model", default="ViT-B-32", help="open_clip architecture, or 'tiny' (ours, for CPU).")
@click.option("--pretrained", default="laion2b_s34b_b79k",
              help="open_clip tag, a local .safetensors/.bin file, or 'none' (random init).")
@click.option("--control-order", type=click.Choice(CONTROL_ORDERS), default="aligned",
              help="Controller->encoder block pairing: aligned (paper figure) or reversed (DA-CLIP code).")
@click.option("--steps", type=int, default=None, help="Optimizer steps (overrides --epochs).")
@click.option("--epochs", type=int, default=1, help="Epochs of (manifest samples / global batch) steps.")
@click.option("--batch-size", type=int, default=64, help="Per process, per micro-batch.")
@click.option("--accum", type=int, default=1, help="Gradient accumulation micro-batches per step.")
@click.option("--lr", type=float, default=3e-5)
@click.option("--warmup", type=int, default=100, help="Linear warmup steps before the cosine decay.")
@click.option("--weight-decay", type=float, default=0.05, help="On >= 2-D weights only.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
@click.option("--workers", type=int, default=4, help="DataLoader worker processes (0: in the main process).")
@click.option("--threads", type=int, default=None,
              help="torch threads on CPU (default: cores / processes - workers, so loaders are not starved).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder, e.g. runs/NAME.")
@click.option("--resume", is_flag=True, help="Continue from the run folder's latest checkpoint, exactly.")
@click.option("--degradation-loss", type=click.Choice(sorted(DEGRADATION_LOSSES)), default="ce",
              help="ce: cross-entropy over the ten words; infonce: DA-CLIP's in-batch form.")
@click.option("--hq-align-weight", type=float, default=0.0,
              help="Weight of 1-cos(content(LQ), CLIP(HQ)); reads HQ images when > 0.")
@click.option("--seed", type=int, default=0)
@click.option("--save-every", type=int, default=None, help="Checkpoint interval in steps (default: each epoch).")
@click.option("--val-every", type=int, default=None, help="Validation interval in steps (default: at checkpoints).")
@click.option("--keep", type=int, default=2, help="Checkpoints to keep.")
@click.option("--stop-at", type=int, default=None,
              help="Stop after this step but keep the LR schedule of the full run (preemptible jobs).")
@click.option("--max-minutes", type=float, default=None,
              help="Wall-clock budget: stop and checkpoint when spent (resume later with --resume).")
@click.option("--split", "train_split", default=None, help="Use only rows of this split from --shards.")
@click.option("--val-split", default=None, help="Use only rows of this split from --val.")
@click.option("-v", "--verbose", is_flag=True)
def main(verbose: bool, **kwargs: Any) -> None:
    """Train the DA-CLIP controller on a frozen CLIP from WebDataset shards."""
    from pipelines.common.models import ModelUnavailableError

    setup_logging(verbose)
    kwargs["shards"] = tuple(kwargs["shards"])
    kwargs["val"] = tuple(kwargs["val"])
    try:
        cfg = TrainConfig(**kwargs)
        summary = train(cfg)
    except (ModelUnavailableError, ValueError, FileNotFoundError) as exn:
        raise click.ClickException(str(exn)) from None
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps({k: v for k, v in summary.items()}, default=float))


if __name__ == "__main__":
    main()
