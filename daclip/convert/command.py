"""``daclip convert SRC --out DIR``: a released DA-CLIP file -> our checkpoint folder.

SRC is read with ``torch.load(weights_only=True)`` only, and its kind comes from its keys: a
DA-CLIP controller (open_clip's training format ``{"state_dict": ...}``, with or without DDP's
``module.`` prefix, or a bare state dict) or a restoration U-Net (``save_network``'s plain state
dict). The folder holds ``model.safetensors`` and ``config.json``: our model config plus a
``source`` record (file name, sha256, kind, the original config). Loading it, or SRC itself
(converted in memory), gives the same model: :func:`daclip.load`, :func:`daclip.load_restorer`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import click
import torch

from ..restoration.model import RestorationConfig
from ..restoration.sde import SDEConfig
from .errors import ConversionError, short_list
from .official_daclip import REQUIRED as DACLIP_KEYS
from .official_daclip import convert_daclip, looks_like_daclip
from .official_unet import REQUIRED as UNET_KEYS
from .official_unet import convert_unet, looks_like_unet

__all__ = ["KINDS", "command", "convert", "convert_file", "read_state"]

KINDS = ("daclip", "unet")
SDE = {"T": 100, "max_sigma": 50 / 255, "eps": 0.005, "schedule": "cosine"}  # options/test.yml of both
RECIPE = {"sampler": "posterior", "clip_x0": False}  # test.py: reverse_posterior, no clamping
TRAIN = {"patch": 256, "batch_size": 16, "lr": 0.0002}  # options/train.yml (daclip-sde)


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a released file: weights-only unpickling, ``state_dict`` unwrapped, ``module.`` stripped."""
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # not a zip archive (legacy format): no mmap
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exn:  # any unreadable or unsafe pickle becomes one line
        first = (str(exn).strip().splitlines() or [type(exn).__name__])[0]
        raise ConversionError(f"{path}: not a weights-only PyTorch checkpoint ({first})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError(f"{path}: not a state dict (expected a dict of tensors, or {{'state_dict': ...}})")
    if all(str(k).startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def detect_kind(state: dict[str, torch.Tensor], path: str | os.PathLike = "") -> str:
    keys = set(state)
    if looks_like_daclip(keys):
        return "daclip"
    if looks_like_unet(keys):
        return "unet"
    raise ConversionError(
        f"{path or 'source'} is neither a DA-CLIP checkpoint (missing {', '.join(DACLIP_KEYS)}) nor a DA-CLIP U-Net "
        f"(missing {', '.join(k for k in UNET_KEYS if k not in keys)}); unexpected keys: {short_list(keys)}"
    )


def _setting(original: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A U-Net ``--config``: ``network_G.setting``, ``network_G`` or a whole options dict (with ``sde``)."""
    if not original:
        return None, dict(SDE)
    sde = dict(SDE)
    if isinstance(original.get("sde"), dict):
        given = original["sde"]
        sde.update({k: given[k] for k in ("T", "max_sigma", "eps", "schedule") if k in given})
        sde["max_sigma"] = sde["max_sigma"] / 255 if sde["max_sigma"] >= 1 else sde["max_sigma"]
    node = original.get("network_G", original)
    return node.get("setting", node), sde


def convert_state(state: dict[str, torch.Tensor], kind: str | None = None, original: dict[str, Any] | None = None,
                  source: dict[str, Any] | None = None, daclip: str | None = None
                  ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(weights, config)`` of our checkpoint for a released state dict."""
    kind = kind or detect_kind(state)
    record = dict(source or {}, kind=kind)
    if kind == "daclip":
        config, used, weights = convert_daclip(state, original, source=record.get("file", ""))
        return weights, {"model": config.to_dict(), "source": {**record, "original_config": used}}
    setting, sde = _setting(original)
    unet, used, weights = convert_unet(state, setting)
    variant = "wild-ir" if unet.half_resolution else "daclip-sde"
    config = RestorationConfig(name=f"released-{variant}", unet=unet, sde=SDEConfig.from_dict(sde), daclip=daclip,
                               train=dict(TRAIN), sampling=dict(RECIPE))
    return ({f"net.{k}": v for k, v in weights.items()},
            {**config.to_dict(), "source": {**record, "variant": variant, "original_config": used}})


def convert_file(path: str | os.PathLike, kind: str | None = None, original: dict[str, Any] | None = None,
                 daclip: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Convert a released file in memory; ``kind`` ("daclip"/"unet") is checked when given."""
    state = read_state(path)
    found = detect_kind(state, path)
    if kind is not None and kind != found:
        raise ConversionError(f"{path} holds a {found} checkpoint, not a {kind} one")
    source = {"file": Path(path).name, "sha256": sha256(path)}
    return convert_state(state, found, original, source, daclip)


def convert(src: str | os.PathLike, out: str | os.PathLike, original: dict[str, Any] | None = None,
            daclip: str | None = None) -> dict[str, Any]:
    """Write our checkpoint folder for ``src``; returns its config."""
    from ..runtime.checkpoint import save_checkpoint

    daclip_ref = str(Path(daclip).resolve()) if daclip else None
    weights, config = convert_file(src, original=original, daclip=daclip_ref)
    save_checkpoint(out, weights, config)
    return config


@click.command("convert")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Checkpoint folder to write.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The original config: open_clip model JSON (DA-CLIP) or network_G / its setting (U-Net, JSON).")
@click.option("--daclip", default=None,
              help="U-Net only: the converted DA-CLIP folder to record as its conditioning model.")
def command(src: str, out: str, config_path: str | None, daclip: str | None) -> None:
    """Convert a released DA-CLIP file (controller .pt or restoration U-Net .pth) into OUT."""
    try:
        original = json.loads(Path(config_path).read_text()) if config_path else None
        config = convert(src, out, original, daclip)
    except (ConversionError, json.JSONDecodeError) as exn:
        raise click.ClickException(str(exn)) from None
    source = config["source"]
    what = "DA-CLIP " + config["model"]["model"] if source["kind"] == "daclip" else f"U-Net ({source['variant']})"
    click.echo(f"converted {source['file']} ({what}, sha256 {source['sha256'][:16]}) into {out}")
