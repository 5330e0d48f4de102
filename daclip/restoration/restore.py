"""Restore images with a trained IR-SDE: the sampling loop, tiling, and ``daclip restore``.

Large photos are restored tile by tile within a fixed memory budget. The SDE state lives at full
resolution (a few floats per pixel); at every timestep the network runs on overlapping tiles,
``tile_batch`` at a time, and its noise predictions are blended with weights that ramp down
(raised cosine) across each overlap, so seams vanish. The sampler then steps the whole image at once,
with noise drawn for the whole image, so a tiled run draws exactly the same random numbers as
an untiled one. DA-CLIP sees the whole LQ image once (shorter side resized), as in the reference.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch

from pipelines.common.devices import resolve_device
from pipelines.common.images import load_image, save_image

from ..loading import load_encoder, load_restoration
from .arrays import to_tensor, to_uint8
from .model import WEIGHTS, ImageEncoder, LoadedRestoration, embed
from .onestep import LoadedOneStep
from .onestep_restore import onestep_calls, restore_onestep_array
from .precision import PRECISIONS, InferenceMode, prepare
from .samplers import SAMPLERS, make_sampler
from .sde import IRSDE
from .unet import ConditionalUNet

log = logging.getLogger(__name__)

__all__ = ["SamplingConfig", "command", "network_calls", "restore_array", "restore_files", "restore_image",
           "restore_tensor", "tile_grid", "to_tensor", "to_uint8"]


@dataclass(frozen=True)
class SamplingConfig:
    """``sampler``/``clip_x0`` None: the checkpoint's ``sampling`` defaults (see :meth:`resolved`)."""

    sampler: str | None = "posterior"
    steps: int | None = None  # None = all T timesteps
    seed: int = 0
    tile: int | None = 512  # None or 0 = never tile
    overlap: int = 64
    tile_batch: int = 4
    clip_x0: bool | None = True  # clamp the x_0 estimate to [0, 1] at every step ("clip denoised")

    def resolved(self, defaults: dict[str, Any] | None = None) -> SamplingConfig:
        """Fill ``sampler``/``clip_x0`` left as None from a checkpoint's ``sampling`` defaults, then
        from ours (posterior, clip_x0). Converted released U-Nets default to their recipe: no clamp."""
        d = defaults or {}
        return replace(self, sampler=self.sampler or d.get("sampler", "posterior"),
                       clip_x0=self.clip_x0 if self.clip_x0 is not None else bool(d.get("clip_x0", True)))

    def __post_init__(self) -> None:
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; valid: {sorted(SAMPLERS)}")
        if self.tile:
            if self.tile < 16:
                raise ValueError(f"tile must be >= 16 pixels, got {self.tile}")
            if not 0 <= self.overlap < self.tile // 2:
                raise ValueError(f"overlap must be in [0, tile/2), got {self.overlap} for tile {self.tile}")
        if self.tile_batch < 1:
            raise ValueError("tile_batch must be >= 1")


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    w = torch.ones(length, dtype=torch.float32)
    if overlap > 0:
        # raised cosine: a tile's outermost pixels (where zero padding hurts most) weigh almost
        # nothing, and two mirrored ramps sum to exactly 1 across an overlap
        ramp = torch.sin(0.5 * torch.pi * (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap) ** 2
        if ramp_start:
            w[:overlap] = torch.minimum(w[:overlap], ramp)
        if ramp_end:
            w[-overlap:] = torch.minimum(w[-overlap:], ramp.flip(0))
    return w


@dataclass(frozen=True)
class Tile:
    top: int
    left: int
    height: int
    width: int
    weight: torch.Tensor  # height x width blending weight


def tile_grid(height: int, width: int, tile: int | None, overlap: int) -> list[Tile]:
    """Overlapping tiles covering the image; weights ramp only across edges shared with a neighbour."""
    if not tile or (height <= tile and width <= tile):
        return [Tile(0, 0, height, width, torch.ones(height, width))]
    tops, lefts = _starts(height, tile, overlap), _starts(width, tile, overlap)
    tiles = []
    for top in tops:
        th = min(tile, height)
        wy = _ramp(th, overlap, top > 0, top + th < height)
        for left in lefts:
            tw = min(tile, width)
            wx = _ramp(tw, overlap, left > 0, left + tw < width)
            tiles.append(Tile(top, left, th, tw, wy[:, None] * wx[None, :]))
    return tiles


NoiseModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None],
                      torch.Tensor]


@torch.no_grad()
def predict_noise(
    net: ConditionalUNet | NoiseModel, x: torch.Tensor, mu: torch.Tensor, t: int, tiles: list[Tile],
    content: torch.Tensor | None, degradation: torch.Tensor | None, tile_batch: int,
    on_tiles: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """The network's noise prediction for a 1 x 3 x H x W state, blended over tiles."""
    if len(tiles) == 1 and tiles[0].height == x.shape[-2] and tiles[0].width == x.shape[-1]:
        out = net(x, mu, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long), content, degradation)
        if on_tiles:
            on_tiles(1)
        return out.float()
    eps = torch.zeros_like(x, dtype=torch.float32)
    wsum = torch.zeros((1, 1, *x.shape[-2:]), device=x.device, dtype=torch.float32)
    for i in range(0, len(tiles), tile_batch):
        group = tiles[i : i + tile_batch]
        # tiles of one batch share a size (edge tiles are shifted inwards, never cropped)
        xs = torch.cat([x[..., g.top : g.top + g.height, g.left : g.left + g.width] for g in group])
        ms = torch.cat([mu[..., g.top : g.top + g.height, g.left : g.left + g.width] for g in group])
        n = len(group)
        ts = torch.full((n * x.shape[0],), t, device=x.device, dtype=torch.long)
        c = content.repeat(n, 1) if content is not None else None
        d = degradation.repeat(n, 1) if degradation is not None else None
        out = net(xs, ms, ts, c, d).float()
        for j, g in enumerate(group):
            w = g.weight.to(x.device)
            sl = (..., slice(g.top, g.top + g.height), slice(g.left, g.left + g.width))
            eps[sl] += out[j * x.shape[0] : (j + 1) * x.shape[0]] * w
            wsum[sl] += w
        if on_tiles:
            on_tiles(n)
    return eps / wsum


@torch.no_grad()
def restore_tensor(
    net: ConditionalUNet | NoiseModel, sde: IRSDE, lq: torch.Tensor, sampling: SamplingConfig,
    content: torch.Tensor | None = None, degradation: torch.Tensor | None = None,
    on_tiles: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Run the reverse SDE from ``lq + lambda z`` (1 x 3 x H x W in [0, 1]); returns the last mean."""
    if lq.dim() != 4 or lq.shape[0] != 1:
        raise ValueError(f"restore one image at a time (1 x 3 x H x W), got {tuple(lq.shape)}")
    sampling = sampling.resolved()
    generator = torch.Generator().manual_seed(sampling.seed)
    sampler = make_sampler(sampling.sampler, sde, sampling.steps, clip_x0=sampling.clip_x0)
    tiles = tile_grid(lq.shape[-2], lq.shape[-1], sampling.tile, sampling.overlap)
    x = sde.start_state(lq, generator)
    for i, t in enumerate(sampler.timesteps):
        out = predict_noise(net, x, lq, t, tiles, content, degradation, sampling.tile_batch, on_tiles)
        eps = sde.noise_from_output(out, x, lq, t)  # blending outputs = blending eps: the map is affine
        step = sampler.step(eps, t, x, generator, mu=lq)
        last = i == len(sampler.timesteps) - 1
        x = step.prev_sample_mean if last else step.prev_sample
    return x


def num_network_calls(height: int, width: int, sde: IRSDE, sampling: SamplingConfig) -> int:
    return len(sde.timesteps(sampling.steps)) * len(tile_grid(height, width, sampling.tile, sampling.overlap))


def restore_array(
    net: ConditionalUNet, sde: IRSDE, encoder: ImageEncoder | None, img: np.ndarray, sampling: SamplingConfig,
    device: str | torch.device = "cpu", on_tiles: Callable[[int], None] | None = None,
    degradation_text: str | None = None,
) -> np.ndarray:
    """Restore one HxWx3 uint8 RGB image; returns HxWx3 uint8. ``degradation_text``: condition on that
    degradation word instead of the image's degradation embedding (the ablation's oracle, see ``embed``)."""
    lq = to_tensor(img, device)
    content, degradation = embed(encoder, lq, degradation_text)
    return to_uint8(restore_tensor(net, sde, lq, sampling, content, degradation, on_tiles))


def restore_image(
    loaded: LoadedRestoration | LoadedOneStep, net: torch.nn.Module, encoder: ImageEncoder | None, img: np.ndarray,
    sampling: SamplingConfig, device: str | torch.device = "cpu", on_tiles: Callable[[int], None] | None = None,
    degradation_text: str | None = None,
) -> np.ndarray:
    """Restore one HxWx3 uint8 image with ``net`` (one of ``loaded``'s weights), whatever its kind:
    the SDE loop for IR-SDE, one tiled call for a one-step model (only ``sampling.tile`` applies)."""
    if isinstance(loaded, LoadedOneStep):
        return restore_onestep_array(net, encoder, img, sampling.tile, device, on_tiles, degradation_text)
    return restore_array(net, loaded.sde, encoder, img, sampling, device, on_tiles, degradation_text)


def network_calls(loaded: LoadedRestoration | LoadedOneStep, height: int, width: int, sampling: SamplingConfig) -> int:
    """Network calls :func:`restore_image` makes for a ``height`` x ``width`` image (its progress total)."""
    if isinstance(loaded, LoadedOneStep):
        return onestep_calls(loaded.net, height, width, sampling.tile)
    return num_network_calls(height, width, loaded.sde, sampling)


# --- files -----------------------------------------------------------------------------------
def restore_files(
    images: list[Path], out: Path, ckpt: str, sampling: SamplingConfig, device: str = "cpu",
    daclip: str | None = None, weights: str = "ema", overwrite: bool = False, progress: bool = True,
    mode: InferenceMode = InferenceMode(),
) -> list[Path]:
    """Restore image files into ``out`` (``<stem>.png``); existing outputs are kept unless ``overwrite``.
    ``mode``: precision, compile, memory layout of the network (:mod:`daclip.restoration.precision`)."""
    from tqdm import tqdm

    names = [out / f"{Path(p).stem}.png" for p in images]
    dupes = {n.name for n in names if names.count(n) > 1}
    if dupes:
        raise click.UsageError(f"several inputs would write the same output name: {sorted(dupes)}")
    device = resolve_device(device)
    loaded = load_restoration(ckpt, device=device)
    net = loaded.inference_net(weights).eval()
    if mode != InferenceMode() and isinstance(loaded, LoadedOneStep):
        raise ValueError("--precision/--compile/--channels-last apply to IR-SDE models for now, not one-step ones")
    run = net if mode == InferenceMode() else prepare(net, mode, device)
    encoder = load_encoder(loaded.config, device, daclip)
    sampling = sampling.resolved(loaded.config.sampling)
    written = []
    for src, dst in zip(images, names):
        if dst.exists() and not overwrite:
            log.info("skip %s (exists)", dst)
            continue
        img = load_image(src)
        total = network_calls(loaded, img.shape[0], img.shape[1], sampling)
        with tqdm(total=total, desc=Path(src).name, unit="tile", disable=not progress) as bar:
            restored = restore_image(loaded, run, encoder, img, sampling, device, bar.update)
        written.append(save_image(restored, dst))
    return written


def sampling_options(command: Callable) -> Callable:
    """The sampling flags ``daclip restore`` and ``evaluate-restore`` share; the command receives
    ``sampling`` (a :class:`SamplingConfig`), ``weights``, ``daclip`` and ``device``. A one-step
    (NAFNet) checkpoint uses only ``--tile`` (tile core; margin: its receptive radius, at most 64 px),
    ``--weights``, ``--daclip`` and ``--device``; the other sampling flags are ignored."""
    options = [
        click.option("--steps", type=int, default=None,
                     help="Sampling steps (default: all T=100). Like --sampler, --clip-x0, --seed, --overlap and "
                          "--tile-batch, ignored for one-step (NAFNet) models: they restore in one call."),
        click.option("--sampler", type=click.Choice(sorted(SAMPLERS)), default=None,
                     help="Default: the checkpoint's (posterior; converted released models: posterior)."),
        click.option("--clip-x0/--no-clip-x0", default=None,
                     help="Clamp the clean-image estimate to [0, 1] at every sampling step (default: on; "
                          "off for converted released models, as their reference recipe)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--tile", type=int, default=512, show_default=True,
                     help="Tile size in pixels (0: no tiling); one-step models: the tile core, plus a margin of "
                          "the receptive radius (at most 64 px) on each side."),
        click.option("--overlap", type=int, default=64, show_default=True, help="Tile overlap in pixels."),
        click.option("--tile-batch", type=int, default=4, show_default=True, help="Tiles per network call."),
        click.option("--weights", type=click.Choice(WEIGHTS), default="ema", show_default=True),
        click.option("--daclip", default=None, help="DA-CLIP checkpoint to use instead of the one the config names."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ..."),
    ]

    @functools.wraps(command)
    def wrapper(steps, sampler, clip_x0, seed, tile, overlap, tile_batch, **kwargs):
        try:
            sampling = SamplingConfig(sampler=sampler, steps=steps, clip_x0=clip_x0, seed=seed, tile=tile or None,
                                      overlap=overlap, tile_batch=tile_batch)
        except ValueError as exn:
            raise click.BadParameter(str(exn)) from exn
        return command(sampling=sampling, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


@click.command("restore")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--ckpt", required=True, help="Restoration checkpoint folder or run folder (train-restore --out).")
@sampling_options
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="Network precision: bf16 (CPU or GPU with bf16) or fp16 (CUDA) autocast; see bench/restore_speed.py.")
@click.option("--compile", "compile_net", is_flag=True, help="torch.compile the network (first call is slow).")
@click.option("--channels-last", is_flag=True, help="NHWC memory layout for the convolutions.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def command(images, out, ckpt, sampling, weights, daclip, device, precision, compile_net, channels_last,
            overwrite) -> None:
    """Restore IMAGES (any size; large ones in tiles) into OUT/<name>.png.

    CKPT is an IR-SDE model (sampled with the flags below) or a one-step NAFNet (one tiled call:
    the sampling flags other than --tile are ignored)."""
    try:
        mode = InferenceMode(precision, compile=compile_net, channels_last=channels_last)
        written = restore_files(list(images), out, ckpt, sampling, device=device, daclip=daclip, weights=weights,
                                overwrite=overwrite, mode=mode)
    except ValueError as exn:  # a mode this device or model cannot run (fp16 on a CPU, ...): one line
        raise click.ClickException(str(exn)) from None
    click.echo(f"restored {len(written)} image(s) into {out}")
