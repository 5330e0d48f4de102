"""``train-restore``: train the IR-SDE restoration U-Net on (LQ, HQ) shards, DA-CLIP conditioned.

One training step: aligned random HQ/LQ patches (flips, transposition), degradations taken in
turn so every type is equally represented, the frozen DA-CLIP's ``(content, degradation)``
embeddings of the LQ patch, a random timestep and noise, and the maximum-likelihood L1 loss of
:meth:`daclip.restoration.sde.IRSDE.loss`. AdamW + (optional warmup then) cosine decay, EMA weights, AMP on CUDA,
torchrun DDP (NCCL on GPUs, gloo on CPU).

For short budgets (about 1k steps on CPU) ``--prediction x0 --loss x0`` trains far faster than the
reference's noise prediction + ML loss, whose clean-image estimate divides the noise error by
``exp(-theta_bar_t dt)`` (down to 0.005): see bench/restore_cpu.py for the measured recipe.

Exact ``--resume``: everything random in a step is a pure function of ``(seed, rank, step)``
(patch positions, flips, timesteps, noise), and the shard streams restart at checkpoint
boundaries with seeds derived from the segment number, so a killed run continues with the same
batches and ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import torch

from pipelines.common.cli import setup_logging

from ..data.pairs import PatchBatches, load_val_samples
from ..data.pairs import derive_seed as _seed
from ..data.prefetch import prefetch
from ..data.shards import split_by_degradation
from ..runtime.checkpoint import rng_state, set_rng_state
from ..runtime.distributed import init_distributed, set_cpu_threads, shutdown_distributed, warmup_cosine
from .evaluate import validate
from .restoration import EMA, RestorationConfig, create_model, embed, load_restoration, save_restoration
from .sde import IRSDE, SDEConfig

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "main", "train"]


@dataclass(frozen=True)
class TrainConfig:
    shards: tuple[str, ...]
    out: str
    model: str = "tiny"
    daclip: str | None = None  # None: unconditioned IR-SDE baseline (--no-daclip)
    split: str | None = "train"
    val: tuple[str, ...] = ()
    val_split: str | None = "val"
    steps: int = 1000
    batch_size: int | None = None  # None: the model config's default
    patch: int | None = None
    lr: float | None = None
    warmup: int = 0  # linear learning-rate warmup steps before the cosine decay
    grad_clip: float | None = None  # clip the gradient norm to this (None: off); guards high learning rates
    prediction: str | None = None  # network output, "noise" or "x0" (default: the model config's, else noise)
    loss: str = "ml"  # "ml": IR-SDE's L1 on the reverse-step mean; "x0": L1 on the implied clean image
    min_lr: float = 1e-6
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    ema_decay: float = 0.995
    ema_every: int = 10
    ckpt_every: int = 1000
    val_every: int = 1000
    val_images: int = 8
    val_crop: int = 128
    val_steps: int | None = None
    log_every: int = 20
    seed: int = 0
    device: str = "cpu"
    amp: bool = True
    shuffle_buffer: int = 64
    resume: bool = False
    time_limit_s: float | None = None  # stop (with a checkpoint) once this much wall time has passed

    def __post_init__(self) -> None:
        if self.steps < 1 or self.ckpt_every < 1 or self.val_every < 1:
            raise ValueError("steps, ckpt_every and val_every must be >= 1")
        if not self.shards:
            raise ValueError("give at least one --shards manifest")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; valid: {sorted(LOSSES)}")
        if self.warmup < 0:
            raise ValueError("warmup must be >= 0")


LOSSES = {"ml": IRSDE.loss, "x0": IRSDE.x0_loss}


# --- training ---------------------------------------------------------------------------------
def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) a restoration model; returns the last logged metrics."""
    from tqdm import tqdm

    dist, device = init_distributed(cfg.device)
    if device.type == "cpu":
        set_cpu_threads(None, workers=0, world=dist.world)  # data is read by one background thread
    out = Path(cfg.out)
    ckpt_dir = out / "checkpoints"
    encoder = None
    context_dim = None
    if cfg.daclip:
        from .. import load as load_daclip

        encoder = load_daclip(cfg.daclip, device=str(device)).eval().requires_grad_(False)
        context_dim = int(encoder.embed_dim)
    daclip_ref = str(Path(cfg.daclip).resolve()) if cfg.daclip else None

    state = None
    if cfg.resume and (ckpt_dir / "latest").exists():
        loaded = load_restoration(out, device="cpu", with_state=True)
        config, net, state = loaded.config, loaded.net, loaded.training_state
        if config.unet.context_dim != context_dim:
            raise click.UsageError(f"--resume: the checkpoint's U-Net has context_dim {config.unet.context_dim}, "
                                   f"this run's DA-CLIP gives {context_dim}")
        ema_weights = loaded.ema
    else:
        config, net = create_model(cfg.model, context_dim, daclip_ref, seed=cfg.seed)
        ema_weights = None
    defaults = config.train
    batch_size = cfg.batch_size or int(defaults.get("batch_size", 8))
    patch = cfg.patch or int(defaults.get("patch", 128))
    lr = cfg.lr or float(defaults.get("lr", 2e-4))
    sde_config = config.sde
    if cfg.prediction is not None and cfg.prediction != sde_config.prediction:
        if state is not None:
            raise click.UsageError(f"--resume: the checkpoint predicts {sde_config.prediction!r}, "
                                   f"not {cfg.prediction!r}")
        sde_config = SDEConfig.from_dict({**sde_config.to_dict(), "prediction": cfg.prediction})
    config = RestorationConfig(name=config.name, unet=config.unet, sde=sde_config, daclip=config.daclip,
                               train={**defaults, "batch_size": batch_size, "patch": patch, "lr": lr,
                                      "loss": cfg.loss})
    sde = IRSDE(config.sde)
    net = net.to(device)
    ema = EMA(net, cfg.ema_decay, cfg.ema_every)
    if ema_weights is not None:
        ema.shadow.load_state_dict(ema_weights.state_dict())
    model = net
    if dist.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)

    opt = torch.optim.AdamW(net.parameters(), lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(cfg.steps, cfg.warmup, min_ratio=cfg.min_lr / lr))
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    start = 0
    if state is not None:  # the scheduler is built before the optimizer state is loaded (it rewrites lr)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])
        start = int(state["step"])
        log.info("resumed from step %d", start)
    if start >= cfg.steps:
        log.info("already trained for %d steps", start)
        return dict(state.get("metrics", {})) if state else {}

    indexes = split_by_degradation(cfg.shards, cfg.split)
    val_samples = load_val_samples(cfg.val, cfg.val_split, cfg.val_images, cfg.val_crop) \
        if cfg.val and dist.main else []
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        log.info("training %s (%.2f M parameters) on %s: %s", config.name,
                 sum(p.numel() for p in net.parameters()) / 1e6, device,
                 ", ".join(f"{k} {v.num_samples}" for k, v in indexes.items()))
    batches = PatchBatches(indexes, batch_size, patch, cfg.seed, dist.rank, cfg.ckpt_every, cfg.shuffle_buffer)

    def checkpoint(step: int, metrics: dict[str, Any]) -> None:
        training_state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                          "ema": ema.state_dict(), "rng": rng_state(), "metrics": metrics,
                          "args": json.loads(json.dumps(asdict(cfg), default=str))}
        if scaler.is_enabled():
            training_state["scaler"] = scaler.state_dict()
        save_restoration(ckpt_dir / f"step_{step:07d}", net, ema, config, training_state)

    metrics: dict[str, Any] = dict(state.get("metrics", {})) if state else {}
    metrics.pop("stopped_by_time_limit", None)
    bar = tqdm(total=cfg.steps, initial=start, desc="train-restore", unit="step",
               disable=not (progress and dist.main), dynamic_ncols=True)
    model.train()
    running, count, t0 = 0.0, 0, time.time()
    t_start = t0
    for step, lq, hq in prefetch(batches(start)):
        gen = torch.Generator().manual_seed(_seed(cfg.seed, dist.rank, step, 2))
        lq, hq = lq.to(device, non_blocking=True), hq.to(device, non_blocking=True)
        content, degradation = embed(encoder, lq)
        t = sde.sample_timesteps(lq.shape[0], gen).to(device)
        noise = torch.randn(lq.shape, generator=gen).to(device)
        x_t = sde.add_noise(hq, lq, noise, t)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            pred = model(x_t, lq, t, content, degradation)
        loss = LOSSES[cfg.loss](sde, sde.noise_from_output(pred.float(), x_t, lq, t), x_t, hq, lq, t)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        sched.step()
        done = step + 1
        ema.update(net, done)
        running += loss.item()
        count += 1
        bar.update(1)
        if done % cfg.log_every == 0 or done == cfg.steps:
            metrics = {**metrics, "step": done, "loss": running / count, "lr": sched.get_last_lr()[0],
                       "steps_per_s": count / max(1e-9, time.time() - t0)}
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}")
            running, count, t0 = 0.0, 0, time.time()
        if val_samples and (done % cfg.val_every == 0 or done == cfg.steps):
            metrics.update(validate(ema.shadow, sde, encoder, val_samples, cfg.val_steps, device))
            bar.write(f"step {done}: val PSNR {metrics['val_psnr']:.2f} dB (LQ {metrics['val_psnr_lq']:.2f} dB)")
        if dist.main and (done % cfg.log_every == 0 or done == cfg.steps):
            with open(out / "log.jsonl", "a") as handle:
                handle.write(json.dumps(metrics) + "\n")
        out_of_time = cfg.time_limit_s is not None and time.time() - t_start > cfg.time_limit_s
        if dist.world > 1 and cfg.time_limit_s is not None:  # every rank stops at the same step
            flag = torch.tensor([float(out_of_time)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            out_of_time = bool(flag.item())
        if out_of_time:
            metrics = {**metrics, "step": done, "stopped_by_time_limit": True}
            if val_samples and done % cfg.val_every and done != cfg.steps:
                metrics.update(validate(ema.shadow, sde, encoder, val_samples, cfg.val_steps, device))
            log.warning("time limit reached: stopping at step %d of %d", done, cfg.steps)
        if done % cfg.ckpt_every == 0 or done == cfg.steps or out_of_time:
            if dist.main:
                checkpoint(done, metrics)
            if dist.world > 1:
                torch.distributed.barrier()
        if done >= cfg.steps or out_of_time:
            break
    bar.close()
    shutdown_distributed()
    return metrics


@click.command("train-restore")
@click.option("--shards", multiple=True, required=True, help="Training manifest(s), e.g. manifests/train.parquet.")
@click.option("--split", default="train", show_default=True, help="Manifest split to train on ('' for all rows).")
@click.option("--daclip", default=None, help="Trained DA-CLIP (run or checkpoint folder) giving the embeddings.")
@click.option("--no-daclip", is_flag=True, help="Train the unconditioned IR-SDE baseline (ablation).")
@click.option("--model", default="tiny", show_default=True, help="Restoration config: tiny, base or a .json path.")
@click.option("--steps", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=None, type=click.IntRange(min=1), help="Per process (default: config).")
@click.option("--patch", default=None, type=click.IntRange(min=8), help="Patch size (default: config; base 256).")
@click.option("--lr", default=None, type=float, help="Peak learning rate (default: config; base 2e-4).")
@click.option("--min-lr", default=1e-6, show_default=True, type=float)
@click.option("--warmup", default=0, show_default=True, type=click.IntRange(min=0),
              help="Linear learning-rate warmup steps before the cosine decay.")
@click.option("--grad-clip", default=None, type=click.FloatRange(min=0, min_open=True),
              help="Clip the gradient norm to this value (default: off).")
@click.option("--prediction", type=click.Choice(["noise", "x0"]), default=None,
              help="Network output: noise (the reference) or x0 (clean image as a residual on the LQ); "
                   "default: the model config's.")
@click.option("--loss", "loss_name", type=click.Choice(sorted(LOSSES)), default="ml", show_default=True,
              help="ml: L1 on the reverse-step mean (IR-SDE); x0: L1 on the implied clean image.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder, e.g. runs/NAME.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/latest (exactly).")
@click.option("--val", multiple=True, help="Validation manifest(s), e.g. manifests/val.parquet.")
@click.option("--val-split", default="val", show_default=True)
@click.option("--val-every", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--val-images", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--val-crop", default=128, show_default=True, type=click.IntRange(min=16))
@click.option("--val-steps", default=None, type=click.IntRange(min=1), help="Sampling steps in validation (T).")
@click.option("--ckpt-every", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--ema-decay", default=0.995, show_default=True, type=float)
@click.option("--ema-every", default=10, show_default=True, type=click.IntRange(min=1),
              help="Update the EMA weights every this many steps.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@click.option("--log-every", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--time-limit", default=None, type=float, help="Stop (with a checkpoint) after this many minutes.")
@click.option("-v", "--verbose", is_flag=True)
def main(shards, split, daclip, no_daclip, model, steps, batch_size, patch, lr, min_lr, warmup, grad_clip, prediction,
         loss_name, out, resume, val, val_split, val_every, val_images, val_crop, val_steps, ckpt_every, ema_decay,
         ema_every, seed, device, no_amp, log_every, time_limit, verbose) -> None:
    """Train the IR-SDE restoration U-Net (DA-CLIP conditioned unless --no-daclip)."""
    setup_logging(verbose)
    if bool(daclip) == bool(no_daclip):
        raise click.UsageError("give --daclip PATH (a trained DA-CLIP) or --no-daclip (unconditioned baseline)")
    cfg = TrainConfig(
        shards=tuple(shards), out=out, model=model, daclip=daclip, split=split or None, val=tuple(val),
        val_split=val_split or None, steps=steps, batch_size=batch_size, patch=patch, lr=lr, min_lr=min_lr,
        warmup=warmup, grad_clip=grad_clip, prediction=prediction, loss=loss_name, ema_decay=ema_decay, ema_every=ema_every, ckpt_every=ckpt_every, val_every=val_every, val_images=val_images, val_crop=val_crop,
        val_steps=val_steps, log_every=log_every, seed=seed, device=device, amp=not no_amp, resume=resume,
        time_limit_s=time_limit * 60 if time_limit else None,
    )
    metrics = train(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
