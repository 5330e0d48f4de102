"""The one training loop both trainers run on.

A trainer supplies a :class:`Task` (its model, batches and loss, built by a function of
the :class:`RunContext`); everything else is here, written once: the process group and device,
CPU threads, the run folder, exact resume (model, optimizer, schedule, AMP scaler, the task's
own state such as EMA weights, every rank's RNG, and where the data stream restarts), gradient
accumulation and clipping, AMP, the time budget, periodic logging, validation and checkpoints,
pruning and the progress bar.

Exact resume rests on one rule: a task's batch stream is a pure function of the step it starts
at and the checkpoint interval (streams restart at checkpoints), so a run resumed at step s
reads what an uninterrupted run reads after step s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from pipelines.common.locks import output_lock

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .collectives import any_rank, barrier, gather_objects
from .distributed import Dist, init_distributed, set_cpu_threads, shutdown_distributed
from .progress import MetricWindow, progress_bar, say
from .run_folder import RunFolder
from .settings import RunSettings, default_workers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resumed:
    """The checkpoint a run continues from, as read from disk."""

    path: Path
    weights: dict[str, torch.Tensor]
    config: dict[str, Any]
    state: dict[str, Any] | None


@dataclass(frozen=True)
class RunContext:
    """What a trainer's build function gets: settings resolved for this process."""

    settings: RunSettings
    dist: Dist
    device: torch.device
    workers: int
    folder: RunFolder
    resumed: Resumed | None

    def autocast(self, dtype: torch.dtype | None) -> AbstractContextManager:
        """Mixed precision on CUDA when the task asks for it; full precision elsewhere."""
        if dtype is None or self.device.type != "cuda":
            return nullcontext()
        return torch.autocast("cuda", dtype=dtype)


class Task(Protocol):
    """A model, its batches and its loss: all a trainer writes itself."""

    name: str  # the console script, shown on the progress bar
    module: nn.Module  # what is trained (DDP wraps it) and what ``loss`` calls
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    total_steps: int
    log_every: int  # the trainer's default --log-every
    accum: int  # micro-batches per optimizer step
    samples_per_step: int  # samples one rank reads per optimizer step
    amp_dtype: torch.dtype | None  # autocast dtype on CUDA (float16 adds a grad scaler); None: off
    grad_clip: float | None
    find_unused_parameters: bool  # for DDP, when some parameters get no gradient in some steps

    def describe(self) -> str: ...
    def config_record(self) -> dict[str, Any]: ...
    def batches(self, start: int, save_every: int) -> Iterator[Any]: ...
    def loss(self, module: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]: ...
    def after_step(self, step: int) -> None: ...
    def summarize(self, sums: dict[str, float], steps: int) -> dict[str, float]: ...
    def validate(self, step: int) -> dict[str, Any] | None: ...
    def format_validation(self, step: int, metrics: dict[str, Any]) -> str: ...
    def checkpoint(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


def run(build: Callable[[RunContext], Task], settings: RunSettings) -> dict[str, Any]:
    """Train (or resume) the task ``build`` makes; return a summary of the run."""
    dist, device = init_distributed(settings.device)
    try:
        return _run(build, settings, dist, device)
    finally:
        shutdown_distributed()


def _run(build: Callable[[RunContext], Task], settings: RunSettings, dist: Dist,
         device: torch.device) -> dict[str, Any]:
    workers = settings.workers if settings.workers is not None else default_workers(dist.world)
    if device.type == "cpu":
        set_cpu_threads(settings.threads, workers, dist.world)
    torch.manual_seed(settings.seed + dist.rank)
    folder = RunFolder(Path(settings.out))
    with contextlib.ExitStack() as held:
        if dist.main:  # one run at a time per folder (the lock names the holder's pid); then clean up after dead ones
            held.enter_context(output_lock(folder.root, clean_depth=0))
            folder.remove_stale_checkpoints()
        folder.prepare(settings.resume, settings.overwrite, main=dist.main)
        barrier(dist)
        resumed = _load_resume(folder) if settings.resume else None
        if settings.resume and resumed is None and dist.main:
            log.info("--resume: no checkpoint under %s yet, starting from step 0", folder.root)
        ctx = RunContext(settings, dist, device, workers, folder, resumed)
        task = build(ctx)
        try:
            return _train(task, ctx)
        finally:
            task.close()


def _load_resume(folder: RunFolder) -> Resumed | None:
    path = folder.latest()
    if path is None:
        return None
    weights, config, state = load_checkpoint(path, with_state=True)
    return Resumed(path, weights, config, state)


@dataclass
class _Intervals:
    """When a run stops, logs, validates and checkpoints (in steps)."""

    total: int
    stop: int
    save_every: int
    val_every: int
    log_every: int

    @classmethod
    def of(cls, task: Task, settings: RunSettings) -> _Intervals:
        total = task.total_steps
        save_every = settings.save_interval(total)
        return cls(total=total, stop=min(total, settings.stop_at) if settings.stop_at else total,
                   save_every=save_every, val_every=settings.val_every or save_every,
                   log_every=settings.log_every or task.log_every)


@dataclass
class _Progress:
    """What the loop keeps between steps: the run's summary, the metric window, throughput."""

    summary: dict[str, Any]
    bar: Any
    window: MetricWindow = dataclasses.field(default_factory=MetricWindow)
    samples_done: int = 0
    train_seconds: float = 0.0


def _train(task: Task, ctx: RunContext) -> dict[str, Any]:
    settings, dist = ctx.settings, ctx.dist
    every = _Intervals.of(task, settings)
    module = _parallel(task, ctx)
    scaler = torch.amp.GradScaler("cuda", enabled=ctx.device.type == "cuda" and task.amp_dtype == torch.float16)

    step, summary = 0, {}
    state = ctx.resumed.state if ctx.resumed is not None else None
    if state is not None:
        step, summary = _restore(task, scaler, state, dist, every.save_every)
        if dist.main:
            log.info("resumed from %s at step %d of %d", ctx.resumed.path, step, every.total)
    summary.update(steps=every.total, start_step=step)
    if step >= every.stop:
        log.info("already trained for %d of %d steps", step, every.stop)
        return {**summary, "final_step": step}
    if dist.main:
        _write_run_record(task, ctx, every)
        log.info("%s; %d steps from step %d, checkpoint every %d", task.describe(), every.total, step,
                 every.save_every)

    progress = _Progress(summary, progress_bar(task.name, every.total, step, enabled=settings.progress and dist.main))
    summary["stopped_by_time_limit"] = False
    try:
        step = _steps(task, ctx, module, scaler, every, step, progress)
    finally:
        if progress.bar is not None:
            progress.bar.close()
    summary["final_step"] = step
    summary["samples_per_s"] = progress.samples_done / progress.train_seconds if progress.train_seconds else None
    return summary


def _parallel(task: Task, ctx: RunContext) -> nn.Module:
    """The task's module, wrapped in DistributedDataParallel when there are several ranks."""
    if ctx.dist.world == 1:
        return task.module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(task.module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                                   find_unused_parameters=task.find_unused_parameters)


def _write_run_record(task: Task, ctx: RunContext, every: _Intervals) -> None:
    ctx.folder.root.mkdir(parents=True, exist_ok=True)
    ctx.folder.write_config({"trainer": task.name, "run": _jsonable(dataclasses.asdict(ctx.settings)),
                             "task": task.config_record(), "resolved": {
                                 "save_every": every.save_every, "val_every": every.val_every,
                                 "log_every": every.log_every, "workers": ctx.workers, "device": str(ctx.device),
                                 "world_size": ctx.dist.world, "threads": torch.get_num_threads()}})


def _steps(task: Task, ctx: RunContext, module: nn.Module, scaler: torch.amp.GradScaler, every: _Intervals,
           step: int, progress: _Progress) -> int:
    """Train from ``step`` to the stop step (or the time limit); returns the last step trained."""
    settings, dist, summary = ctx.settings, ctx.dist, progress.summary
    batches = task.batches(step, every.save_every)
    started = time.monotonic()
    stop = every.stop
    while step < stop:
        t0 = time.perf_counter()
        _optimizer_step(task, module, scaler, batches, progress.window, step, dist)
        step += 1
        task.after_step(step)
        seconds = time.perf_counter() - t0
        progress.window.tick(seconds)
        progress.train_seconds += seconds
        progress.samples_done += task.samples_per_step * dist.world
        if progress.bar is not None:
            progress.bar.update(1)

        if settings.max_minutes is not None and step < stop and any_rank(
                time.monotonic() - started > settings.max_minutes * 60, dist, ctx.device):
            stop = step  # this step is the last: it is logged, validated and checkpointed
            summary["stopped_by_time_limit"] = True
            if dist.main:
                say(progress.bar, log, f"--max-minutes {settings.max_minutes:g} spent: stopping at step {step} "
                                       f"of {every.total}")
        if step % every.log_every == 0 or step == stop:
            _log_metrics(task, ctx, progress, step)
        if settings.val and (step % every.val_every == 0 or step == stop):
            _validate(task, ctx, progress, step)
        if step % every.save_every == 0 or step == stop:
            _save(task, ctx, scaler, step, every.save_every, {**summary, "final_step": step})
    return step


def _optimizer_step(task: Task, module: nn.Module, scaler: torch.amp.GradScaler, batches: Iterator[Any],
                    window: MetricWindow, step: int, dist: Dist) -> None:
    """One optimizer step over ``task.accum`` micro-batches (gradients synchronised on the last)."""
    task.optimizer.zero_grad(set_to_none=True)
    for micro in range(task.accum):
        batch = next(batches)
        last = micro == task.accum - 1 or dist.world == 1
        with nullcontext() if last else module.no_sync():  # type: ignore[operator]
            loss, stats = task.loss(module, batch, step)
            scaler.scale(loss if task.accum == 1 else loss / task.accum).backward()
        window.add(stats)
    if task.grad_clip:
        scaler.unscale_(task.optimizer)
        torch.nn.utils.clip_grad_norm_(task.module.parameters(), task.grad_clip)
    scaler.step(task.optimizer)
    scaler.update()
    task.scheduler.step()


def _log_metrics(task: Task, ctx: RunContext, progress: _Progress, step: int) -> None:
    window, world = progress.window, ctx.dist.world
    row = {"step": step, **task.summarize(window.sums, window.steps),
           "lr": task.scheduler.get_last_lr()[0], **window.rates(task.samples_per_step * world)}
    window.reset()
    progress.summary.update({k: v for k, v in row.items() if k != "step"})
    if ctx.dist.main:
        ctx.folder.append_metrics(row)
    if progress.bar is not None:
        progress.bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k in ("loss", "accuracy", "samples_per_s")})


def _validate(task: Task, ctx: RunContext, progress: _Progress, step: int) -> None:
    metrics = task.validate(step)
    if metrics:
        progress.summary.update(metrics)
        if ctx.dist.main:
            ctx.folder.append_metrics({"step": step, **metrics})
            say(progress.bar, log, task.format_validation(step, metrics))


def _restore(task: Task, scaler: torch.amp.GradScaler, state: dict[str, Any], dist: Dist,
             save_every: int) -> tuple[int, dict[str, Any]]:
    """Load everything a checkpoint's training state holds; the scheduler exists before the
    optimizer state is loaded (building it rewrites the learning rate)."""
    task.optimizer.load_state_dict(state["optimizer"])
    task.scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    task.load_state_dict(state.get("task", state))  # checkpoints from before the runtime kept it at the top
    rngs = state.get("rng_by_rank") or [state["rng"]]
    set_rng_state(rngs[dist.rank] if dist.rank < len(rngs) else rngs[0])
    saved_every = (state.get("data") or {}).get("save_every")
    if saved_every is not None and saved_every != save_every and dist.main:
        log.warning("--save-every %d differs from the %d this run was saved with: data streams restart at "
                    "other steps, so batches differ from an uninterrupted run", save_every, saved_every)
    return int(state["step"]), dict(state.get("summary") or {})


def _save(task: Task, ctx: RunContext, scaler: torch.amp.GradScaler, step: int, save_every: int,
          summary: dict[str, Any]) -> None:
    states = gather_objects(rng_state(), ctx.dist)
    if ctx.dist.main:
        weights, config = task.checkpoint(step)
        training_state = {
            "optimizer": task.optimizer.state_dict(),
            "scheduler": task.scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "step": step,
            "rng_by_rank": states,
            "task": task.state_dict(),
            "data": {"save_every": save_every},
            "summary": _jsonable(summary),
        }
        save_checkpoint(ctx.folder.checkpoint(step), weights, config, training_state)
        ctx.folder.prune(ctx.settings.keep)
    barrier(ctx.dist)


def _jsonable(obj: Any) -> Any:
    """Settings and summaries as plain JSON values (tuples become lists, paths strings)."""
    import json

    return json.loads(json.dumps(obj, default=str))
