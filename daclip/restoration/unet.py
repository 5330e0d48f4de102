"""The IR-SDE noise-prediction U-Net with DA-CLIP conditioning ("ConditionalUNet").

Input ``[x_t - mu, mu]`` (mu = the degraded image), output the noise ``eps`` of the forward
marginal. Residual blocks carry no normalisation and are modulated by the time embedding
(scale/shift). Attention is used only where it is affordable: linear attention at the higher
resolutions, full self-attention plus cross-attention on the DA-CLIP content embedding at the
lowest resolution. A prompt module turns the degradation embedding into softmax weights over a
learned prompt bank; the mixed prompt is added to the time embedding. Inputs of any size are
reflect-padded to a multiple of ``2^(levels-1)`` and cropped back.

The network never imports the SDE: it only sees integer timesteps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConditionalUNet", "UNetConfig"]


@dataclass(frozen=True)
class UNetConfig:
    in_nc: int = 3
    out_nc: int = 3
    nf: int = 64
    ch_mult: tuple[int, ...] = (1, 2, 4, 8)
    context_dim: int | None = 512  # DA-CLIP embed dim; None = unconditioned IR-SDE baseline
    use_image_context: bool = True  # cross-attention on the content embedding
    use_degra_context: bool = True  # prompt module on the degradation embedding
    num_prompts: int = 16  # size of the learned prompt bank
    dim_head: int = 32
    linear_attention: bool = True  # linear attention at the higher-resolution levels
    full_attention: bool = True  # self (+cross) attention transformer at the lowest resolution

    def __post_init__(self) -> None:
        object.__setattr__(self, "ch_mult", tuple(int(m) for m in self.ch_mult))
        if not self.ch_mult:
            raise ValueError("ch_mult must have at least one level")
        if self.nf < 1 or any(m < 1 for m in self.ch_mult):
            raise ValueError(f"nf and ch_mult must be positive, got nf={self.nf}, ch_mult={self.ch_mult}")

    @property
    def conditioned(self) -> bool:
        return self.context_dim is not None and (self.use_image_context or self.use_degra_context)

    @property
    def multiple(self) -> int:
        """Inputs are padded to a multiple of this."""
        return 2 ** (len(self.ch_mult) - 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ch_mult"] = list(self.ch_mult)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown U-Net config keys {unknown}; valid: {sorted(known)}")
        return cls(**data)


# --- building blocks -------------------------------------------------------------------------
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
    """Linear (softmax-kernel) attention, O(HW) memory; pre-norm and residual included."""

    def __init__(self, dim: int, dim_head: int = 32):
        super().__init__()
        self.heads = max(1, dim // dim_head) if dim >= dim_head else 1
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        hidden = self.heads * dim_head
        self.norm = ChannelLayerNorm(dim)
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), ChannelLayerNorm(dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(self.norm(x)).reshape(b, 3, self.heads, self.dim_head, h * w).unbind(1)
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
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
    """LDM-style block: GroupNorm, 1x1 in, [self-attn, cross-attn on context, GEGLU FF], zero-init 1x1 out."""

    def __init__(self, dim: int, context_dim: int | None, dim_head: int):
        super().__init__()
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


class PromptModule(nn.Module):
    """Degradation embedding -> softmax weights over a learned prompt bank -> a time-embedding offset."""

    def __init__(self, context_dim: int, time_dim: int, num_prompts: int):
        super().__init__()
        self.to_weights = nn.Sequential(
            nn.Linear(context_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, num_prompts)
        )
        self.bank = nn.Parameter(torch.rand(num_prompts, time_dim))
        self.proj = nn.Linear(time_dim, time_dim)

    def forward(self, degradation: torch.Tensor) -> torch.Tensor:
        weights = self.to_weights(degradation).softmax(dim=-1)
        return self.proj(weights @ self.bank)


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


# --- the network -----------------------------------------------------------------------------
class ConditionalUNet(nn.Module):
    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        c = config
        nf = c.nf
        time_dim = nf * 4
        self.init_conv = nn.Conv2d(c.in_nc * 2, nf, 7, padding=3, bias=False)
        self.time_mlp = nn.Sequential(
            SinusoidalPosEmb(nf), nn.Linear(nf, time_dim), nn.GELU(), nn.Linear(time_dim, time_dim)
        )
        self.prompt = (
            PromptModule(c.context_dim, time_dim, c.num_prompts)
            if c.context_dim is not None and c.use_degra_context else None
        )
        cross_dim = c.context_dim if c.context_dim is not None and c.use_image_context else None

        mults = (1, *c.ch_mult)
        pairs = [(nf * mults[i], nf * mults[i + 1]) for i in range(len(c.ch_mult))]
        last = len(pairs) - 1

        def attention(dim: int, lowest: bool) -> nn.Module:
            if lowest:
                return SpatialTransformer(dim, cross_dim, c.dim_head) if c.full_attention else NoAttention()
            return LinearAttention(dim, c.dim_head) if c.linear_attention else NoAttention()

        self.downs = nn.ModuleList()
        for i, (dim_in, dim_out) in enumerate(pairs):
            self.downs.append(nn.ModuleList([
                ResBlock(dim_in, dim_in, time_dim),
                ResBlock(dim_in, dim_in, time_dim),
                attention(dim_in, i == last),
                Downsample(dim_in, dim_out) if i < last else nn.Conv2d(dim_in, dim_out, 3, padding=1),
            ]))
        mid = nf * mults[-1]
        self.mid1 = ResBlock(mid, mid, time_dim)
        self.mid_attn = SpatialTransformer(mid, cross_dim, c.dim_head) if c.full_attention else NoAttention()
        self.mid2 = ResBlock(mid, mid, time_dim)
        self.ups = nn.ModuleList()
        for i, (dim_in, dim_out) in enumerate(reversed(pairs)):
            self.ups.append(nn.ModuleList([
                ResBlock(dim_out + dim_in, dim_out, time_dim),
                ResBlock(dim_out + dim_in, dim_out, time_dim),
                attention(dim_out, i == 0),
                Upsample(dim_out, dim_in) if i < last else nn.Conv2d(dim_out, dim_in, 3, padding=1),
            ]))
        self.final_res = ResBlock(nf * 2, nf, time_dim)
        self.final_conv = nn.Conv2d(nf, c.out_nc, 3, padding=1)

    def forward(
        self,
        x_t: torch.Tensor,
        mu: torch.Tensor,
        t: torch.Tensor,
        content: torch.Tensor | None = None,
        degradation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the noise of ``x_t`` (B x 3 x H x W, any H, W) given the LQ image ``mu``.

        ``t``: integer timesteps (B,) or a scalar. ``content``/``degradation``: DA-CLIP
        embeddings (B x context_dim), required when the config is conditioned.
        """
        c = self.config
        height, width = x_t.shape[-2:]
        x = pad_to_multiple(torch.cat([x_t - mu, mu], dim=1), c.multiple)
        t = torch.as_tensor(t, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        temb = self.time_mlp(t)
        if self.prompt is not None:
            if degradation is None:
                raise ValueError("this model is conditioned on DA-CLIP: pass the degradation embedding")
            temb = temb + self.prompt(degradation.to(temb.dtype))
        context = None
        if c.context_dim is not None and c.use_image_context:
            if content is None:
                raise ValueError("this model is conditioned on DA-CLIP: pass the content embedding")
            context = content.to(x.dtype)[:, None, :]

        x = self.init_conv(x)
        x_init = x
        skips = []
        for block1, block2, attn, down in self.downs:
            x = block1(x, temb)
            skips.append(x)
            x = attn(block2(x, temb), context)
            skips.append(x)
            x = down(x)
        x = self.mid2(self.mid_attn(self.mid1(x, temb), context), temb)
        for block1, block2, attn, up in self.ups:
            x = block1(torch.cat([x, skips.pop()], dim=1), temb)
            x = block2(torch.cat([x, skips.pop()], dim=1), temb)
            x = up(attn(x, context))
        x = self.final_res(torch.cat([x, x_init], dim=1), temb)
        return self.final_conv(x)[..., :height, :width]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad right/bottom to a multiple: reflect where the image is large enough, else replicate."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
