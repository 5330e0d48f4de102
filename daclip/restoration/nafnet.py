"""A one-step NAFNet restorer, optionally conditioned on DA-CLIP (paper Table 6, daclip-uir #46/#108).

``NAFNet(config)(lq, degradation=None, content=None)`` maps a ``B x 3 x H x W`` image in [0, 1] to
its restoration in one network call: ``lq`` plus a predicted residual. Widths, block counts and the
conditioning live in :class:`NAFNetConfig`, read from the JSON files ``restore_configs/nafnet-*.json``
(key ``"nafnet"``; ``"train"`` holds the recipe they were sized with). Any size works: the input is
padded (replicate) to a multiple of ``2^levels`` and the output cropped back.

How the DA-CLIP embeddings enter (see :mod:`daclip.restoration.nafnet_blocks`): the degradation
embedding ``B x D`` (rescaled to norm ``sqrt(D)``, as is the content one) feeds, in every block, an MLP giving shift/scale for both branches (AdaLN); the
content embedding ``B x D`` is one context token for a cross-attention in the middle (lowest
resolution) blocks. Their output layers start at zero, so an untrained conditioned net equals the
unconditioned one with the same seed.

``condition`` says where the degradation embedding comes from; the network is the same for both
conditioned modes, which is what makes them an ablation of the embedding's source alone:

- ``none``: no conditioning layers; embeddings passed in are ignored.
- ``daclip``: DA-CLIP's image degradation embedding of the LQ image (``model.embed``).
- ``oracle``: the DA-CLIP *text* embedding of the true type's word, scaled to the image embedding's
  norm (``model.embed(..., degradation_text=type)``). It is the target the controller's image
  embedding is trained towards, so it is the embedding a perfect classifier would give: same space,
  same MLP, and a net trained on it can be run on DA-CLIP image embeddings (and vice versa). A
  learned per-type table would be cleaner in isolation but lives in another space, would share no
  weights with the ``daclip`` arm, and needs the true label at test time. Content comes from the
  image in both modes; ``content=None`` skips the cross-attention (benchmarks without a DA-CLIP).

Tiling: :func:`tiled_forward` runs tiles whose cores are aligned to ``2^levels`` and extended by a
margin, keeping only the cores (no blending). With ``pool_radius`` set, the receptive field is
finite (:func:`receptive_radius`), so cores are exact once the margin reaches it; with global
pooling (``pool_radius=None``, original NAFNet) no margin makes tiles exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .nafnet_blocks import NAFBlock

__all__ = ["CONDITIONS", "NAFNet", "NAFNetConfig", "nafnet_config", "receptive_radius", "tiled_forward"]

CONDITIONS = ("none", "daclip", "oracle")


@dataclass(frozen=True)
class NAFNetConfig:
    width: int = 16
    enc_blocks: tuple[int, ...] = (1, 1, 2)  # blocks per encoder level; len = number of down-samplings
    middle_blocks: int = 2
    dec_blocks: tuple[int, ...] = (1, 1, 1)  # blocks per decoder level, from the lowest one up
    condition: str = "none"  # none | daclip | oracle (module docstring)
    embed_dim: int = 512  # DA-CLIP embedding size (ViT-B-32: 512)
    pool_radius: int | None = 128  # channel-attention window radius in input pixels; None = global
    dw_expand: int = 2
    ffn_expand: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "enc_blocks", tuple(int(n) for n in self.enc_blocks))
        object.__setattr__(self, "dec_blocks", tuple(int(n) for n in self.dec_blocks))
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        if len(self.enc_blocks) != len(self.dec_blocks):
            raise ValueError(f"enc_blocks and dec_blocks need one entry per level, got {self.enc_blocks} "
                             f"and {self.dec_blocks}")
        if self.width < 2 or self.width % 2 or self.embed_dim % 2:
            raise ValueError("width and embed_dim must be even and positive")
        if self.pool_radius is not None and self.pool_radius < 1:
            raise ValueError(f"pool_radius must be >= 1 or None, got {self.pool_radius}")

    @property
    def levels(self) -> int:
        return len(self.enc_blocks)

    @property
    def conditioned(self) -> bool:
        return self.condition != "none"

    def radius_at(self, level: int) -> int | None:
        return None if self.pool_radius is None else math.ceil(self.pool_radius / 2**level)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {**d, "enc_blocks": list(self.enc_blocks), "dec_blocks": list(self.dec_blocks)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NAFNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown NAFNet config keys {sorted(unknown)}; valid: {sorted(known)}")
        return cls(**data)


def nafnet_config(name: str, **overrides: Any) -> tuple[NAFNetConfig, dict[str, Any]]:
    """The :class:`NAFNetConfig` and training recipe of a named JSON config (``nafnet-tiny``, ...)."""
    from .model import get_model_config

    raw = get_model_config(name)
    if "nafnet" not in raw:
        raise ValueError(f"restoration config {name!r} is not a NAFNet config (no 'nafnet' key)")
    return NAFNetConfig.from_dict({**raw["nafnet"], **overrides}), dict(raw.get("train", {}))


def receptive_radius(config: NAFNetConfig) -> int | None:
    """An upper bound (input pixels) on how far an output pixel sees; None with global pooling."""
    if config.pool_radius is None:
        return None
    radius = 2  # intro and ending 3x3 convs
    for level, n in enumerate(config.enc_blocks):
        scale = 2**level
        radius += (n + config.dec_blocks[-1 - level]) * (1 + config.radius_at(level)) * scale + 2 * scale
    scale = 2**config.levels
    return radius + config.middle_blocks * (1 + config.radius_at(config.levels)) * scale


class NAFNet(nn.Module):
    def __init__(self, config: NAFNetConfig):
        super().__init__()
        self.config = c = config
        emb = c.embed_dim if c.conditioned else None
        self.intro = nn.Conv2d(3, c.width, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        widths = [c.width * 2**i for i in range(c.levels + 1)]
        for level, n in enumerate(c.enc_blocks):
            self.encoders.append(nn.ModuleList(self._block(widths[level], level, emb) for _ in range(n)))
            self.downs.append(nn.Conv2d(widths[level], widths[level + 1], 2, stride=2))
        self.middle = nn.ModuleList(self._block(widths[-1], c.levels, emb, cross=True)
                                    for _ in range(c.middle_blocks))
        for i, n in enumerate(c.dec_blocks):
            level = c.levels - 1 - i
            self.ups.append(nn.Sequential(nn.Conv2d(widths[level + 1], widths[level] * 4, 1, bias=False),
                                          nn.PixelShuffle(2)))
            self.decoders.append(nn.ModuleList(self._block(widths[level], level, emb) for _ in range(n)))
        self.ending = nn.Conv2d(c.width, 3, 3, padding=1)

    def _block(self, channels: int, level: int, emb: int | None, cross: bool = False) -> NAFBlock:
        c = self.config
        return NAFBlock(channels, c.radius_at(level), emb, cross=cross, dw_expand=c.dw_expand,
                        ffn_expand=c.ffn_expand)

    def forward(self, lq: torch.Tensor, degradation: torch.Tensor | None = None,
                content: torch.Tensor | None = None) -> torch.Tensor:
        """``lq`` B x 3 x H x W -> restored, same shape. ``degradation``/``content``: B x embed_dim
        DA-CLIP embeddings (``degradation`` required unless ``condition == "none"``, which ignores both)."""
        degradation, context = self._conditioning(lq, degradation, content)
        h, w = lq.shape[-2:]
        m = 2**self.config.levels
        x = F.pad(lq, (0, -w % m, 0, -h % m), mode="replicate") if (h % m or w % m) else lq
        x = self.intro(x)
        skips = []
        for blocks, down in zip(self.encoders, self.downs):
            for block in blocks:
                x = block(x, degradation)
            skips.append(x)
            x = down(x)
        for block in self.middle:
            x = block(x, degradation, context)
        for up, blocks, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = up(x) + skip
            for block in blocks:
                x = block(x, degradation)
        return lq + self.ending(x)[..., :h, :w]

    def _conditioning(self, lq: torch.Tensor, degradation: torch.Tensor | None, content: torch.Tensor | None
                      ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not self.config.conditioned:
            return None, None
        if degradation is None:
            raise ValueError(f"this NAFNet is conditioned ({self.config.condition!r}): pass the degradation "
                             "embedding")
        for name, e in (("degradation", degradation), ("content", content)):
            if e is not None and tuple(e.shape) != (lq.shape[0], self.config.embed_dim):
                raise ValueError(f"{name} embedding must be {(lq.shape[0], self.config.embed_dim)}, "
                                 f"got {tuple(e.shape)}")
        # CLIP embeddings carry meaning in their direction: rescale to norm sqrt(D), where the MLP's
        # SimpleGate (a product of two halves) and the attention see unit-variance entries
        scale = math.sqrt(self.config.embed_dim)
        degradation = F.normalize(degradation.to(lq.dtype), dim=-1) * scale
        if content is None:
            return degradation, None
        return degradation, (F.normalize(content.to(lq.dtype), dim=-1) * scale)[:, None, :]


@torch.no_grad()
def tiled_forward(net: NAFNet, lq: torch.Tensor, tile: int | None = 512, margin: int = 32,
                  degradation: torch.Tensor | None = None, content: torch.Tensor | None = None) -> torch.Tensor:
    """``net(lq, ...)`` in tiles of ``tile`` (core) + ``margin`` on each side, keeping the cores.

    Cores start at multiples of ``2^levels`` (the margin is rounded up to one), so each tile sees the
    same down-sampling grid and edge padding as the whole image; cores are exact when the margin is
    at least :func:`receptive_radius`, and close to exact well below it (measured in
    ``bench/onestep_sizing.py``).
    """
    h, w = lq.shape[-2:]
    if not tile or (h <= tile and w <= tile):
        return net(lq, degradation, content)
    m = 2**net.config.levels
    tile, margin = max(m, tile // m * m), math.ceil(margin / m) * m
    out = torch.empty_like(lq)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(0, top - margin), max(0, left - margin)
            t1, l1 = min(h, top + tile + margin), min(w, left + tile + margin)
            res = net(lq[..., t0:t1, l0:l1], degradation, content)
            bottom, right = min(h, top + tile), min(w, left + tile)
            out[..., top:bottom, left:right] = res[..., top - t0 : bottom - t0, left - l0 : right - l0]
    return out
