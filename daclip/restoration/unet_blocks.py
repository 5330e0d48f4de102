"""Building blocks of the conditional U-Net (:mod:`daclip.restoration.unet`).

Each block can also take the exact form of DA-CLIP's released U-Net (``config/daclip-sde`` and
``config/wild-ir`` of the reference code), chosen by constructor arguments that the U-Net config
sets: a fixed number of linear-attention heads whose values are averaged over positions, a
channel-LayerNorm pre-norm around the spatial transformer (whose output then keeps that
normalised input too: a double residual), and a gated prompt in place of the prompt bank.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Attention", "ChannelLayerNorm", "Downsample", "LinearAttention", "NoAttention", "PromptModule",
           "ResBlock", "SinusoidalPosEmb", "SpatialTransformer", "Upsample"]


def _groups(channels: int) -> int:
    for g in (32, 16, 8, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(10000) / (half - 1)))
        args = t.float()[:, None] * freqs[None]
        return torch.cat([args.sin(), args.cos()], dim=-1)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a ``B x C x H x W`` map (gain only)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) * (var + self.eps).rsqrt() * self.g


class ResBlock(nn.Module):
    """conv -> x(1+scale)+shift -> SiLU -> conv -> SiLU, plus a (1x1) residual; no normalisation."""

    def __init__(self, dim: int, dim_out: int, time_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, dim_out * 2))
        self.conv1 = nn.Conv2d(dim, dim_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1, bias=False)
        self.res = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.mlp(temb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.conv1(x) * (1 + scale) + shift)
        h = F.silu(self.conv2(h))
        return h + self.res(x)


class LinearAttention(nn.Module):
    """Linear (softmax-kernel) attention, O(HW) memory; pre-norm and residual included.

    ``heads=None``: ``dim // dim_head`` heads (ours); the reference uses 4 heads of 32 at every
    width and divides the values by the number of positions (``average_values``).
    """

    def __init__(self, dim: int, dim_head: int = 32, heads: int | None = None, average_values: bool = False):
        super().__init__()
        self.heads = heads or (max(1, dim // dim_head) if dim >= dim_head else 1)
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.average_values = average_values
        hidden = self.heads * dim_head
        self.norm = ChannelLayerNorm(dim)
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), ChannelLayerNorm(dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(self.norm(x)).reshape(b, 3, self.heads, self.dim_head, h * w).unbind(1)
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        if self.average_values:
            v = v / (h * w)
        ctx = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", ctx, q).reshape(b, -1, h, w)
        return x + self.to_out(out)


class Attention(nn.Module):
    """Multi-head attention on token sequences (scaled_dot_product_attention: memory-efficient kernels)."""

    def __init__(self, dim: int, context_dim: int | None, dim_head: int):
        super().__init__()
        self.heads = max(1, dim // dim_head)
        inner = self.heads * dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if context is None else context
        b = x.shape[0]

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(self.to_q(x)), heads(self.to_k(ctx)), heads(self.to_v(ctx)))
        return self.to_out(out.transpose(1, 2).reshape(b, x.shape[1], -1))


class SpatialTransformer(nn.Module):
    """LDM-style block: GroupNorm, 1x1 in, [self-attn, cross-attn on context, GEGLU FF], zero-init 1x1 out.

    ``prenorm``: the reference's ``Residual(PreNorm(...))`` wrapping, ``x + n + out(n)`` with
    ``n = ChannelLayerNorm(x)``, instead of ``x + out(x)``.
    """

    def __init__(self, dim: int, context_dim: int | None, dim_head: int, prenorm: bool = False):
        super().__init__()
        self.prenorm = ChannelLayerNorm(dim) if prenorm else None
        self.norm = nn.GroupNorm(_groups(dim), dim, eps=1e-6)
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, None, dim_head)
        self.cross = context_dim is not None
        if self.cross:
            self.norm2 = nn.LayerNorm(dim)
            self.attn2 = Attention(dim, context_dim, dim_head)
        self.norm3 = nn.LayerNorm(dim)
        self.ff_in = nn.Linear(dim, dim * 8)  # GEGLU: 2 x 4*dim
        self.ff_out = nn.Linear(dim * 4, dim)
        self.proj_out = nn.Conv2d(dim, dim, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.prenorm is not None:
            return x + self._transform(self.prenorm(x), context)
        return self._transform(x, context)

    def _transform(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        tokens = tokens + self.attn1(self.norm1(tokens))
        if self.cross and context is not None:
            tokens = tokens + self.attn2(self.norm2(tokens), context)
        a, gate = self.ff_in(self.norm3(tokens)).chunk(2, dim=-1)
        tokens = tokens + self.ff_out(a * F.gelu(gate))
        return x + self.proj_out(tokens.transpose(1, 2).reshape(b, c, h, w))


class NoAttention(nn.Module):
    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return x


PROMPT_KINDS = ("bank", "gate")


class PromptModule(nn.Module):
    """Degradation embedding -> a time-embedding offset.

    ``bank`` (ours): softmax weights over ``num_prompts`` learned prompts, mixed and projected.
    ``gate`` (the reference): a softmax over the time-embedding channels scales one learned prompt.
    """

    def __init__(self, context_dim: int, time_dim: int, num_prompts: int, kind: str = "bank"):
        super().__init__()
        gate = kind == "gate"
        self.gate = gate
        out = time_dim if gate else num_prompts
        self.to_weights = nn.Sequential(nn.Linear(context_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, out))
        self.bank = nn.Parameter(torch.rand(1 if gate else num_prompts, time_dim))
        self.proj = nn.Linear(time_dim, time_dim)

    def forward(self, degradation: torch.Tensor) -> torch.Tensor:
        weights = self.to_weights(degradation).softmax(dim=-1)
        return self.proj(weights * self.bank if self.gate else weights @ self.bank)


class Downsample(nn.Module):
    def __init__(self, dim: int, dim_out: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim_out, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, dim: int, dim_out: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
