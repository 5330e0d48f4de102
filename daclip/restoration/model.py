"""The restoration model: factory (JSON configs in ``restore_configs/``), EMA, checkpoints, conditioning.

A restoration checkpoint is a :mod:`daclip.runtime.checkpoint` folder whose ``model.safetensors`` holds
the U-Net weights under ``net.`` and their EMA under ``ema.``, and whose ``config.json`` says how
to rebuild everything::

    {"format": "daclip-restore/1", "name": "tiny", "unet": {...}, "sde": {...},
     "daclip": "/abs/path/to/runs/daclip" or null, "train": {...}}

The DA-CLIP that conditions the U-Net is frozen and stored by reference (its own checkpoint).
``train-restore`` records an absolute path; a relative one (``"../daclip"``, as in
``demo_weights/restore``) is resolved against the checkpoint folder, so the pair can move together.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ..runtime.checkpoint import save_checkpoint
from .sde import IRSDE, SDEConfig
from .unet import ConditionalUNet, UNetConfig

__all__ = [
    "EMA",
    "FORMAT",
    "WEIGHTS",
    "ImageEncoder",
    "LoadedRestoration",
    "RestorationConfig",
    "add_model_config",
    "create_model",
    "embed",
    "get_model_config",
    "list_models",
    "save_restoration",
]

FORMAT = "daclip-restore/1"
_CONFIG_DIR = Path(__file__).with_name("restore_configs")
_EXTRA_CONFIGS: dict[str, Path] = {}


class ImageEncoder(Protocol):
    """What restoration needs from DA-CLIP (``daclip.load`` returns one)."""

    embed_dim: int
    image_size: int

    def preprocess_tensor(self, x: torch.Tensor) -> torch.Tensor: ...

    def encode_image(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


# --- configs ---------------------------------------------------------------------------------
def list_models() -> list[str]:
    return sorted({p.stem for p in _CONFIG_DIR.glob("*.json")} | set(_EXTRA_CONFIGS))


def add_model_config(path: str | os.PathLike) -> None:
    """Register a JSON config kept outside the package under its file stem."""
    path = Path(path)
    _EXTRA_CONFIGS[path.stem] = path


def get_model_config(name: str) -> dict[str, Any]:
    """A fresh copy of a named config, or of a JSON file given by path."""
    path = _EXTRA_CONFIGS.get(name) or _CONFIG_DIR / f"{name}.json"
    if not path.exists():
        candidate = Path(name)
        if candidate.suffix == ".json" and candidate.exists():
            path = candidate
        else:
            raise ValueError(f"unknown restoration model {name!r}; valid: {list_models()} or a path to a .json")
    return json.loads(path.read_text())


@dataclass(frozen=True)
class RestorationConfig:
    name: str
    unet: UNetConfig
    sde: SDEConfig = field(default_factory=SDEConfig)
    daclip: str | None = None  # DA-CLIP checkpoint that gives the embeddings; None = unconditioned
    train: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)  # sampler defaults this model was made for

    @property
    def conditioned(self) -> bool:
        return self.unet.conditioned

    @property
    def embed_dim(self) -> int | None:
        """The DA-CLIP embedding size the U-Net takes (None: unconditioned)."""
        return self.unet.context_dim

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "unet": self.unet.to_dict(), "sde": self.sde.to_dict(),
                "daclip": self.daclip, "train": dict(self.train), "sampling": dict(self.sampling)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestorationConfig:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a restoration checkpoint config (format {data.get('format')!r}, "
                             f"expected {FORMAT!r})")
        return cls(name=data["name"], unet=UNetConfig.from_dict(data["unet"]),
                   sde=SDEConfig.from_dict(data["sde"]), daclip=data.get("daclip"), train=data.get("train", {}),
                   sampling=data.get("sampling", {}))


def create_model(
    name: str, context_dim: int | None, daclip: str | None = None, seed: int = 0
) -> tuple[RestorationConfig, ConditionalUNet]:
    """Build a fresh U-Net from a named config; ``context_dim=None`` gives the unconditioned baseline."""
    raw = get_model_config(name)
    unet = UNetConfig.from_dict({**raw.get("unet", {}), "context_dim": context_dim})
    config = RestorationConfig(
        name=Path(name).stem, unet=unet, sde=SDEConfig.from_dict(raw.get("sde", {})),
        daclip=daclip, train=dict(raw.get("train", {})),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ConditionalUNet(unet)
    return config, net


# --- EMA -------------------------------------------------------------------------------------
class EMA:
    """Exponential moving average of weights, updated every ``update_every`` steps.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` over updates n, so short runs get a
    useful average too (the reference uses ema-pytorch, beta 0.995, every 10 steps).
    """

    def __init__(self, model: nn.Module, decay: float = 0.995, update_every: int = 10):
        self.decay = decay
        self.update_every = update_every
        self.num_updates = 0
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        if step % self.update_every:
            return
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        self.num_updates += 1
        for ema_v, v in zip(self.shadow.state_dict().values(), model.state_dict().values()):
            if ema_v.dtype.is_floating_point:
                ema_v.lerp_(v.detach(), 1 - d)
            else:
                ema_v.copy_(v)

    def state_dict(self) -> dict[str, Any]:
        return {"num_updates": self.num_updates, "decay": self.decay, "update_every": self.update_every}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.num_updates = int(state["num_updates"])


# --- checkpoints -----------------------------------------------------------------------------
def checkpoint_weights(net: nn.Module, ema: EMA | None) -> dict[str, torch.Tensor]:
    """What a restoration checkpoint's ``model.safetensors`` holds: ``net.*`` and ``ema.*`` weights."""
    weights = {f"net.{k}": v for k, v in _unwrap(net).state_dict().items()}
    if ema is not None:
        weights.update({f"ema.{k}": v for k, v in ema.shadow.state_dict().items()})
    return weights


def save_restoration(
    folder: str | os.PathLike, net: nn.Module, ema: EMA | None, config: RestorationConfig,
    training_state: dict[str, Any] | None = None,
) -> Path:
    return save_checkpoint(folder, checkpoint_weights(net, ema), config.to_dict(), training_state)


@dataclass
class LoadedRestoration:
    net: ConditionalUNet  # the raw trained weights (what training resumes from)
    ema: ConditionalUNet | None  # the EMA copy, None if the checkpoint has none
    config: RestorationConfig
    sde: IRSDE
    training_state: dict[str, Any] | None

    def inference_net(self, weights: str = "ema") -> ConditionalUNet:
        """``"ema"``: the EMA weights when present (else the raw ones); ``"net"``: the raw ones."""
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
        return self.ema if weights == "ema" and self.ema is not None else self.net

    @property
    def unet(self) -> ConditionalUNet:
        """The network to sample with: ``unet(x_t, mu, t, content=..., degradation=...)`` -> noise."""
        return self.inference_net("ema")


WEIGHTS = ("ema", "net")


def from_weights(weights: dict[str, torch.Tensor], raw_config: dict[str, Any], device: str | torch.device = "cpu",
                 training_state: dict[str, Any] | None = None) -> LoadedRestoration:
    """A restoration model rebuilt from a checkpoint's weights and config."""
    config = RestorationConfig.from_dict(raw_config)
    net = _net_from(config.unet, {k[4:]: v for k, v in weights.items() if k.startswith("net.")})
    ema_state = {k[4:]: v for k, v in weights.items() if k.startswith("ema.")}
    ema = _net_from(config.unet, ema_state).to(device).eval().requires_grad_(False) if ema_state else None
    return LoadedRestoration(net=net.to(device), ema=ema, config=config, sde=IRSDE(config.sde),
                             training_state=training_state)


def _net_from(config: UNetConfig, state: dict[str, torch.Tensor]) -> ConditionalUNet:
    """A U-Net holding a copy of ``state`` (strict; copied into its own aligned memory: see
    :func:`daclip.controller.model.from_weights`)."""
    net = ConditionalUNet(config)
    net.load_state_dict(state, strict=True)
    return net


def _unwrap(net: nn.Module) -> nn.Module:
    return net.module if hasattr(net, "module") else net


# --- conditioning ----------------------------------------------------------------------------
@torch.no_grad()
def embed(
    encoder: ImageEncoder | None, lq: torch.Tensor, degradation_text: str | Sequence[str] | None = None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """DA-CLIP ``(content, degradation)`` embeddings of LQ images (B x 3 x H x W in [0, 1]), as float32.

    The whole image is seen at once (shorter side resized to the CLIP size, centre crop), as in
    the reference; ``encoder=None`` (unconditioned model) returns ``(None, None)``.

    ``degradation_text`` (e.g. ``"rainy"``, the true type) is the oracle of the conditioning
    ablation: the degradation embedding becomes that word's DA-CLIP text embedding (the target the
    controller is trained towards), scaled to the image embedding's norm; the content embedding is
    the image's as usual. A sequence gives one word per image of the batch.
    """
    if encoder is None:
        return None, None
    content, degradation = encoder.encode_image(encoder.preprocess_tensor(lq))
    if degradation_text is not None:
        words = [degradation_text] if isinstance(degradation_text, str) else list(degradation_text)
        text = encoder.encode_text(encoder.tokenize(words), normalize=True).to(degradation)
        degradation = text.expand_as(degradation) * degradation.norm(dim=-1, keepdim=True)
    return content.float().to(lq.device), degradation.float().to(lq.device)
