"""``daclip evaluate-restore``: PSNR/SSIM (and LPIPS when available) per degradation on a val split.

Every LQ image is restored at full resolution (tiled when large) with the same sampler options
as ``daclip restore``; metrics are computed on uint8 RGB (or Y) against the HQ image, next to
the LQ input's own scores as the do-nothing baseline. Writes ``metrics.json`` and one sample
grid per degradation, ``grid_<degradation>.png`` (rows of LQ | restored | HQ).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import torch

from pipelines.common.cli import manifest_inputs
from pipelines.common.devices import resolve_device
from pipelines.common.files import safe_join, write_text_atomic
from pipelines.common.images import save_image

from ..data.shards import sample_stream, split_by_degradation
from ..loading import load_encoder, load_restoration
from .metrics import CHANNELS, LpipsUnavailable, lpips_metric, psnr, ssim
from .model import ImageEncoder
from .restore import SamplingConfig, network_calls, restore_array, restore_image, sampling_options
from .sde import IRSDE
from .unet import ConditionalUNet

log = logging.getLogger(__name__)

__all__ = ["EvalConfig", "command", "evaluate_restore", "make_grid", "validate", "validate_with"]


@dataclass(frozen=True)
class EvalConfig:
    shards: tuple[str, ...]
    ckpt: str
    out: str
    split: str | None = "val"
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    channel: str = "rgb"
    crop_border: int = 0
    limit: int | None = None  # images per degradation
    grid_rows: int = 4
    grid_height: int = 192
    weights: str = "ema"
    daclip: str | None = None
    device: str = "cpu"
    lpips: bool = True
    save_images: bool = False
    nr_metrics: bool = True  # NIQE and PIQE of restored and LQ images (no ground truth needed)
    oracle: bool = False  # condition on each type's DA-CLIP text embedding (the ablation's oracle, see embed)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}")
        if self.crop_border < 0:
            raise ValueError("crop_border must be >= 0")


def _fit_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == height:
        return img
    width = max(1, round(w * height / h))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_NEAREST)


def make_grid(rows: list[tuple[np.ndarray, ...]], height: int = 192, gap: int = 4) -> np.ndarray:
    """Rows of images (e.g. LQ | restored | HQ) at a common height on a white canvas."""
    rendered = []
    for row in rows:
        cells = [_fit_height(img, height) for img in row]
        parts = []
        for i, cell in enumerate(cells):
            if i:
                parts.append(np.full((height, gap, 3), 255, np.uint8))
            parts.append(cell)
        rendered.append(np.concatenate(parts, axis=1))
    width = max(r.shape[1] for r in rendered)
    canvas = []
    for i, r in enumerate(rendered):
        if i:
            canvas.append(np.full((gap, width, 3), 255, np.uint8))
        canvas.append(np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255))
    return np.concatenate(canvas, axis=0)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def evaluate_restore(cfg: EvalConfig, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    loaded = load_restoration(cfg.ckpt, device=device)
    net = loaded.inference_net(cfg.weights).eval()
    cfg = replace(cfg, sampling=cfg.sampling.resolved(loaded.config.sampling))
    encoder = load_encoder(loaded.config, device, cfg.daclip)
    if cfg.oracle and encoder is None:
        raise ValueError("--oracle needs a DA-CLIP-conditioned restorer; this one is unconditioned")
    lpips_fn, lpips_status = _lpips(cfg.lpips, device)
    per_type = split_by_degradation(list(cfg.shards), cfg.split)
    total = sum(len(ix.samples) if cfg.limit is None else min(cfg.limit, len(ix.samples))
                for ix in per_type.values())
    images: list[dict[str, Any]] = []
    grids: dict[str, str] = {}
    with tqdm(total=total, desc="evaluate-restore", unit="img", disable=not progress) as bar:
        for name, index in per_type.items():
            rows = []
            for i, sample in enumerate(sample_stream(index, resampled=False, shuffle_buffer=0)):
                if cfg.limit is not None and i >= cfg.limit:
                    break
                lq, hq = sample["lq"], sample.get("hq")  # LQ-only rows (real photos): no-reference metrics only
                bar.set_postfix_str(f"{name} {lq.shape[1]}x{lq.shape[0]} "
                                    f"({network_calls(loaded, *lq.shape[:2], cfg.sampling)} calls)")
                restored = restore_image(loaded, net, encoder, lq, cfg.sampling, device,
                                         degradation_text=name if cfg.oracle else None)
                images.append(_image_scores(sample["key"], name, restored, lq, hq, cfg, lpips_fn))
                if cfg.save_images:
                    # names come from the manifest and the tar: joined only under OUT/images, never outside
                    save_image(restored, safe_join(out, "images", name, f"{sample['key']}.png"))
                if len(rows) < cfg.grid_rows:
                    rows.append((lq, restored) if hq is None else (lq, restored, hq))
                bar.update(1)
            if rows:
                grid_path = save_image(make_grid(rows, cfg.grid_height), safe_join(out, f"grid_{name}.png"))
                grids[name] = grid_path.name
    metric_names = ["psnr", "ssim", "lq_psnr", "lq_ssim"] + (["lpips", "lq_lpips"] if lpips_fn else []) + (
        list(NR_METRICS) if cfg.nr_metrics else [])
    report = _report(cfg, list(per_type), images, grids, lpips_status, metric_names)
    write_text_atomic(json.dumps(report, indent=2) + "\n", out / "metrics.json")
    return report


def _lpips(wanted: bool, device: Any) -> tuple[Any, str]:
    """The LPIPS metric and its status line ("ok", "disabled", or why it is unavailable)."""
    if not wanted:
        return None, "disabled"
    try:
        return lpips_metric(str(device)), "ok"
    except LpipsUnavailable as exn:
        log.warning("%s", exn)
        return None, str(exn)


NR_METRICS = ("niqe", "lq_niqe", "piqe", "lq_piqe")  # lower is better; NaN below two 96 px blocks (NIQE)


def _image_scores(key: str, degradation: str, restored: np.ndarray, lq: np.ndarray, hq: np.ndarray | None,
                  cfg: EvalConfig, lpips_fn: Any) -> dict[str, Any]:
    """One image's row: full-reference metrics against HQ (None for LQ-only rows), no-reference ones."""
    row: dict[str, Any] = {"key": key, "degradation": degradation, "width": lq.shape[1], "height": lq.shape[0]}
    if hq is None:
        row.update(psnr=None, ssim=None, lq_psnr=None, lq_ssim=None)
    else:
        row.update(psnr=psnr(restored, hq, cfg.crop_border, cfg.channel),
                   ssim=ssim(restored, hq, cfg.crop_border, cfg.channel),
                   lq_psnr=psnr(lq, hq, cfg.crop_border, cfg.channel),
                   lq_ssim=ssim(lq, hq, cfg.crop_border, cfg.channel))
    if lpips_fn is not None:
        row["lpips"] = None if hq is None else lpips_fn(restored, hq)
        row["lq_lpips"] = None if hq is None else lpips_fn(lq, hq)
    if cfg.nr_metrics:
        from pipelines.quality.niqe import niqe
        from pipelines.quality.piqe import piqe

        row.update(niqe=niqe(restored), lq_niqe=niqe(lq), piqe=piqe(restored), lq_piqe=piqe(lq))
    return row


def _report(cfg: EvalConfig, types: list[str], images: list[dict[str, Any]], grids: dict[str, str],
            lpips_status: str, metric_names: list[str]) -> dict[str, Any]:
    """metrics.json: the settings, the mean of each metric per degradation and over them, every image's row."""
    per_degradation = {}
    for name in types:
        rows = [r for r in images if r["degradation"] == name]
        if rows:
            per_degradation[name] = {"n": len(rows), **{m: _mean([r[m] for r in rows]) for m in metric_names}}
    return {
        "checkpoint": str(Path(cfg.ckpt)),
        "settings": {
            **{k: v for k, v in asdict(cfg).items() if k not in ("sampling", "shards")},
            "shards": list(cfg.shards), "sampling": asdict(cfg.sampling),
            "ssim": "Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, per channel", "peak": 255,
        },
        "lpips": lpips_status,
        "per_degradation": per_degradation,
        "mean_over_degradations": {m: _mean([v[m] for v in per_degradation.values()]) for m in metric_names},
        "grids": grids,
        "images": images,
    }


def validate(
    net: ConditionalUNet, sde: IRSDE, encoder: ImageEncoder | None, samples: list[dict[str, Any]],
    steps: int | None, device: str | torch.device,
) -> dict[str, float]:
    """Mean PSNR of restored validation crops (posterior sampler, seed 0, untiled) and of their LQ inputs."""
    sampling = SamplingConfig(sampler="posterior", steps=steps, seed=0, tile=None)
    return validate_with(lambda s: restore_array(net, sde, encoder, s["lq"], sampling, device), samples)


def validate_with(restore: Callable[[dict[str, Any]], np.ndarray], samples: list[dict[str, Any]]) -> dict[str, float]:
    """Mean PSNR of ``restore(sample)`` and of the LQ inputs against the HQ images (finite pairs only)."""
    restored, degraded = [], []
    for s in samples:
        restored.append(psnr(restore(s), s["hq"]))
        degraded.append(psnr(s["lq"], s["hq"]))
    finite = [(r, d) for r, d in zip(restored, degraded) if math.isfinite(r) and math.isfinite(d)]
    return {
        "val_psnr": float(np.mean([r for r, _ in finite])) if finite else float("nan"),
        "val_psnr_lq": float(np.mean([d for _, d in finite])) if finite else float("nan"),
        "val_images": len(samples),
    }


@click.command("evaluate-restore")
@manifest_inputs(click.STRING, required=True, old_spellings=("--shards",),
                 help="Manifest, e.g. manifests/val.parquet (repeatable; also positional).")
@click.option("--split", default="val", show_default=True, help="Manifest split ('' for all rows).")
@click.option("--ckpt", required=True, help="Restoration checkpoint or run folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for metrics.json and grids.")
@sampling_options
@click.option("--channel", type=click.Choice(CHANNELS), default="rgb", show_default=True,
              help="Measure on RGB or on BT.601 Y.")
@click.option("--crop-border", type=click.IntRange(min=0), default=0, show_default=True,
              help="Pixels cut from each side before measuring (the reference code used 4).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many images per degradation.")
@click.option("--grid-rows", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--no-lpips", is_flag=True, help="Do not try LPIPS.")
@click.option("--no-nr-metrics", is_flag=True, help="Skip NIQE/PIQE (no-reference; they also score LQ-only rows).")
@click.option("--save-images", is_flag=True, help="Also write every restored image under OUT/images/.")
@click.option("--oracle", is_flag=True,
              help="Condition on the true type's DA-CLIP text embedding instead of the image's (conditioning "
                   "ablation; DA-CLIP-conditioned models only).")
def command(manifests, split, ckpt, out, sampling, channel, crop_border, limit, grid_rows, weights, daclip, no_lpips,
            no_nr_metrics, save_images, oracle, device) -> None:
    """Restore a validation split and report PSNR/SSIM (and NIQE/PIQE) per degradation (JSON + sample grids).

    CKPT is an IR-SDE or a one-step (NAFNet) model; the latter ignores the sampling flags but --tile."""
    try:
        cfg = EvalConfig(shards=tuple(manifests), ckpt=ckpt, out=out, split=split or None, sampling=sampling,
                         channel=channel, crop_border=crop_border, limit=limit, grid_rows=grid_rows,
                         weights=weights, daclip=daclip, device=device, lpips=not no_lpips,
                         nr_metrics=not no_nr_metrics, save_images=save_images, oracle=oracle)
    except ValueError as exn:
        raise click.BadParameter(str(exn)) from exn
    report = evaluate_restore(cfg)
    click.echo(json.dumps({"lpips": report["lpips"], "per_degradation": report["per_degradation"],
                           "mean_over_degradations": report["mean_over_degradations"]}, indent=2))
