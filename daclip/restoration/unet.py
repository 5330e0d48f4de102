"""The IR-SDE noise-prediction U-Net with DA-CLIP conditioning ("ConditionalUNet").

Input ``[x_t - mu, mu]`` (mu = the degraded image), output the noise ``eps`` of the forward
marginal. Residual blocks carry no normalisation and are modulated by the time embedding
(scale/shift). Attention is used only where it is affordable: linear attention at the higher
resolutions, full self-attention plus cross-attention on the DA-CLIP content embedding at the
lowest resolution. A prompt module turns the degradation embedding into softmax weights over a
learned prompt bank; the mixed prompt is added to the time embedding. Inputs of any size are
reflect-padded to a multiple of ``2^(levels-1)`` and cropped back. Blocks: :mod:`.unet_blocks`.

The released DA-CLIP U-Nets (daclip-sde, wild-ir) are this network with the config fields under
"the reference's layout" set as :mod:`daclip.convert.official_unet` infers them: 4 linear-attention
heads with averaged values, pre-normed spatial transformers from level 3 on (daclip-sde) or at
the lowest level (wild-ir), a gated prompt, padding to ``2^levels``, and (wild-ir) a stride-2
stem that runs the whole U-Net at half resolution.

The network never imports the SDE: it only sees integer timesteps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .unet_blocks import (
    PROMPT_KINDS,
    Downsample,
    LinearAttention,
    NoAttention,
    PromptModule,
    ResBlock,
    SinusoidalPosEmb,
    SpatialTransformer,
    Upsample,
)

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
    # the reference's layout (defaults: ours)
    prompt_kind: str = "bank"  # "gate": softmax over time channels times one learned prompt
    linear_heads: int | None = None  # None: dim // dim_head heads; the reference: 4 at every width
    linear_average_values: bool = False  # divide linear-attention values by H*W
    transformer_from_level: int | None = None  # levels >= this get the transformer; None: the lowest only
    transformer_prenorm: bool = False  # x + LN(x) + transformer(LN(x)) (Residual(PreNorm(...)))
    pad_multiple: int | None = None  # None: 2^(levels-1); the reference: 2^levels
    half_resolution: bool = False  # stride-2 stem and upsampling head around the U-Net (wild-ir)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ch_mult", tuple(int(m) for m in self.ch_mult))
        if not self.ch_mult:
            raise ValueError("ch_mult must have at least one level")
        if self.nf < 1 or any(m < 1 for m in self.ch_mult):
            raise ValueError(f"nf and ch_mult must be positive, got nf={self.nf}, ch_mult={self.ch_mult}")
        if self.prompt_kind not in PROMPT_KINDS:
            raise ValueError(f"prompt_kind must be one of {PROMPT_KINDS}, got {self.prompt_kind!r}")
        if self.pad_multiple is not None and self.pad_multiple < 1:
            raise ValueError(f"pad_multiple must be >= 1, got {self.pad_multiple}")

    @property
    def conditioned(self) -> bool:
        return self.context_dim is not None and (self.use_image_context or self.use_degra_context)

    @property
    def multiple(self) -> int:
        """Inputs are padded to a multiple of this."""
        if self.pad_multiple is not None:
            return self.pad_multiple
        return 2 ** (len(self.ch_mult) - 1 + int(self.half_resolution))

    def uses_transformer(self, level: int) -> bool:
        last = len(self.ch_mult) - 1
        return level == last if self.transformer_from_level is None else level >= self.transformer_from_level

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


# --- the network -----------------------------------------------------------------------------
class ConditionalUNet(nn.Module):
    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        c = config
        nf = c.nf
        time_dim = nf * 4
        self.init_conv = nn.Conv2d(c.in_nc * 2, nf, 7, padding=3, bias=False)
        self.stem = Downsample(nf, nf) if c.half_resolution else None
        self.time_mlp = nn.Sequential(
            SinusoidalPosEmb(nf), nn.Linear(nf, time_dim), nn.GELU(), nn.Linear(time_dim, time_dim)
        )
        self.prompt = (
            PromptModule(c.context_dim, time_dim, c.num_prompts, c.prompt_kind)
            if c.context_dim is not None and c.use_degra_context else None
        )
        cross_dim = c.context_dim if c.context_dim is not None and c.use_image_context else None

        mults = (1, *c.ch_mult)
        pairs = [(nf * mults[i], nf * mults[i + 1]) for i in range(len(c.ch_mult))]
        last = len(pairs) - 1

        def transformer(dim: int) -> nn.Module:
            if not c.full_attention:
                return NoAttention()
            return SpatialTransformer(dim, cross_dim, c.dim_head, prenorm=c.transformer_prenorm)

        def attention(dim: int, level: int) -> nn.Module:
            if c.uses_transformer(level):
                return transformer(dim)
            if not c.linear_attention:
                return NoAttention()
            return LinearAttention(dim, c.dim_head, heads=c.linear_heads, average_values=c.linear_average_values)

        self.downs = nn.ModuleList()
        for i, (dim_in, dim_out) in enumerate(pairs):
            self.downs.append(nn.ModuleList([
                ResBlock(dim_in, dim_in, time_dim),
                ResBlock(dim_in, dim_in, time_dim),
                attention(dim_in, i),
                Downsample(dim_in, dim_out) if i < last else nn.Conv2d(dim_in, dim_out, 3, padding=1),
            ]))
        mid = nf * mults[-1]
        self.mid1 = ResBlock(mid, mid, time_dim)
        self.mid_attn = transformer(mid)
        self.mid2 = ResBlock(mid, mid, time_dim)
        self.ups = nn.ModuleList()
        for i, (dim_in, dim_out) in enumerate(reversed(pairs)):
            self.ups.append(nn.ModuleList([
                ResBlock(dim_out + dim_in, dim_out, time_dim),
                ResBlock(dim_out + dim_in, dim_out, time_dim),
                attention(dim_out, last - i),
                Upsample(dim_out, dim_in) if i < last else nn.Conv2d(dim_out, dim_in, 3, padding=1),
            ]))
        self.head = Upsample(nf, nf) if c.half_resolution else None
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

        ``t``: timesteps (B,) or a scalar. ``content``/``degradation``: DA-CLIP embeddings
        (B x context_dim), required when the config is conditioned.
        """
        c = self.config
        height, width = x_t.shape[-2:]
        x = pad_to_multiple(torch.cat([x_t - mu, mu], dim=1), c.multiple)
        temb = self._time_embedding(t, x, degradation)
        context = None
        if c.context_dim is not None and c.use_image_context:
            if content is None:
                raise ValueError("this model is conditioned on DA-CLIP: pass the content embedding")
            context = content.to(x.dtype)[:, None, :]

        x = self.init_conv(x)
        x_init = x
        if self.stem is not None:
            x = self.stem(x)
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
        if self.head is not None:
            x = self.head(x)
        x = self.final_res(torch.cat([x, x_init], dim=1), temb)
        return self.final_conv(x)[..., :height, :width]

    def _time_embedding(self, t: torch.Tensor, x: torch.Tensor, degradation: torch.Tensor | None) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        temb = self.time_mlp(t)
        if self.prompt is not None:
            if degradation is None:
                raise ValueError("this model is conditioned on DA-CLIP: pass the degradation embedding")
            temb = temb + self.prompt(degradation.to(temb.dtype))
        return temb


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad right/bottom to a multiple: reflect where the image is large enough, else replicate."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
