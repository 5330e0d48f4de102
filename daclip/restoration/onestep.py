"""The one-step restorer's model: config, factory, checkpoints (NAFNet, see :mod:`daclip.restoration.nafnet`).

A one-step checkpoint is a :mod:`daclip.runtime.checkpoint` folder like an IR-SDE one: ``model.safetensors``
holds the NAFNet weights under ``net.`` and their EMA under ``ema.``, and ``config.json`` says how to
rebuild them::

    {"format": "daclip-onestep/1", "name": "nafnet-demo", "nafnet": {...},
     "daclip": "/abs/path/to/runs/daclip" or null, "train": {...}}

``nafnet.condition`` says what conditions it (``none``, ``daclip`` or ``oracle``); the DA-CLIP is
frozen and stored by reference, resolved as for IR-SDE (:func:`daclip.loading.load_restoration`).
There is no SDE: restoring is one (tiled) network call, :mod:`daclip.restoration.onestep_restore`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..runtime.checkpoint import save_checkpoint
from .model import EMA, WEIGHTS, checkpoint_weights
from .nafnet import NAFNet, NAFNetConfig, nafnet_config, receptive_radius

__all__ = ["FORMAT", "MAX_MARGIN", "LoadedOneStep", "OneStepConfig", "create_onestep", "default_margin",
           "from_weights", "save_onestep"]

FORMAT = "daclip-onestep/1"
MAX_MARGIN = 64  # tile margin cap (pixels): tiles are close to exact well below the receptive radius


@dataclass(frozen=True)
class OneStepConfig:
    name: str
    nafnet: NAFNetConfig
    daclip: str | None = None  # DA-CLIP checkpoint giving the embeddings; None for condition "none"
    train: dict[str, Any] = field(default_factory=dict)

    @property
    def conditioned(self) -> bool:
        return self.nafnet.conditioned

    @property
    def embed_dim(self) -> int | None:
        return self.nafnet.embed_dim if self.conditioned else None

    @property
    def sampling(self) -> dict[str, Any]:
        """No sampler: one network call (the IR-SDE config's sampling defaults have no counterpart)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "nafnet": self.nafnet.to_dict(), "daclip": self.daclip,
                "train": dict(self.train)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OneStepConfig:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a one-step checkpoint config (format {data.get('format')!r}, expected {FORMAT!r})")
        return cls(name=data["name"], nafnet=NAFNetConfig.from_dict(data["nafnet"]), daclip=data.get("daclip"),
                   train=dict(data.get("train", {})))


def create_onestep(name: str, embed_dim: int | None, daclip: str | None = None, condition: str = "none",
                   seed: int = 0) -> tuple[OneStepConfig, NAFNet]:
    """A fresh NAFNet from a named config (``nafnet-tiny``, ``nafnet-demo`` or a .json path).

    ``embed_dim``: the DA-CLIP's (needed unless ``condition == "none"``, where it is ignored)."""
    if condition != "none" and embed_dim is None:
        raise ValueError(f"condition {condition!r} needs a DA-CLIP (its embed_dim)")
    overrides: dict[str, Any] = {"condition": condition}
    if condition != "none":
        overrides["embed_dim"] = int(embed_dim)
    nafnet, train = nafnet_config(name, **overrides)
    config = OneStepConfig(name=Path(name).stem, nafnet=nafnet, daclip=daclip if condition != "none" else None,
                           train=train)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = NAFNet(nafnet)
    return config, net


def default_margin(config: NAFNetConfig) -> int:
    """Tile margin: the receptive radius, capped at :data:`MAX_MARGIN` (the cap with global pooling)."""
    radius = receptive_radius(config)
    return MAX_MARGIN if radius is None else min(radius, MAX_MARGIN)


def save_onestep(folder: str | os.PathLike, net: torch.nn.Module, ema: EMA | None, config: OneStepConfig,
                 training_state: dict[str, Any] | None = None) -> Path:
    return save_checkpoint(folder, checkpoint_weights(net, ema), config.to_dict(), training_state)


@dataclass
class LoadedOneStep:
    """A one-step checkpoint, with the surface of :class:`~daclip.restoration.model.LoadedRestoration`
    its callers use (``inference_net``, ``config.daclip``/``conditioned``/``sampling``); no ``sde``."""

    net: NAFNet  # the raw trained weights (what training resumes from)
    ema: NAFNet | None  # the EMA copy, None if the checkpoint has none
    config: OneStepConfig
    training_state: dict[str, Any] | None

    def inference_net(self, weights: str = "ema") -> NAFNet:
        """``"ema"``: the EMA weights when present (else the raw ones); ``"net"``: the raw ones."""
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
        return self.ema if weights == "ema" and self.ema is not None else self.net


def from_weights(weights: dict[str, torch.Tensor], raw_config: dict[str, Any], device: str | torch.device = "cpu",
                 training_state: dict[str, Any] | None = None) -> LoadedOneStep:
    """A one-step restorer rebuilt from a checkpoint's weights and config (strict)."""
    config = OneStepConfig.from_dict(raw_config)
    net = _net_from(config.nafnet, {k[4:]: v for k, v in weights.items() if k.startswith("net.")})
    ema_state = {k[4:]: v for k, v in weights.items() if k.startswith("ema.")}
    ema = _net_from(config.nafnet, ema_state).to(device).eval().requires_grad_(False) if ema_state else None
    return LoadedOneStep(net=net.to(device), ema=ema, config=config, training_state=training_state)


def _net_from(config: NAFNetConfig, state: dict[str, torch.Tensor]) -> NAFNet:
    net = NAFNet(config)
    net.load_state_dict(state, strict=True)
    return net
