"""Building blocks of the one-step NAFNet restorer (:mod:`daclip.restoration.nafnet`).

NAFNet (Chen et al., 2022) is activation-free: its non-linearity is :class:`SimpleGate` (split the
channels in two halves and multiply them) and its only global operation is the simplified channel
attention, which scales each channel by a 1x1 conv of its spatial mean. DA-CLIP plugs into it as
its authors describe in daclip-uir issues #46 and #108: in every block an MLP (SimpleGate, then a
linear layer) turns the degradation embedding into AdaLN-style ``shift/scale`` pairs for the input of
the attention-like branch and of the FFN branch, and the blocks at the lowest resolution add a
cross-attention on the content embedding. Both are zero-initialised at their output, so an
untrained conditioned block computes exactly what the unconditioned one does.

Channel attention pools globally in NAFNet, which makes every output pixel depend on the whole
image: tiled inference then differs from whole-image inference everywhere. ``pool_radius`` replaces
the global mean with the mean over a ``(2r+1)^2`` window clipped to the image, the test-time local
converter of the NAFNet authors (TLC, Chu et al., 2022). With ``r`` at least the side of the training
patches, every window covers the whole patch, so training is unchanged (the local mean *is* the
global one there), while large images see the statistics of a training-sized neighbourhood, the
fix TLC proposes for the train/test mismatch of global pooling, and the receptive field is finite.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ChannelAttention", "CrossAttention", "LayerNorm2d", "NAFBlock", "SimpleGate", "box_mean"]


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a ``B x C x H x W`` map, with gain and bias (as NAFNet)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) * (var + self.eps).rsqrt() * self.weight + self.bias


class SimpleGate(nn.Module):
    """Split the last-but-spatial axis (channels for maps, features for vectors) in halves; multiply."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=self.dim)
        return a * b


def _box_mean_1d(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    if radius >= n - 1:  # every window covers the whole axis
        return x.mean(dim=dim, keepdim=True).expand_as(x)
    csum = F.pad(x.cumsum(dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)
    idx = torch.arange(n, device=x.device)
    hi, lo = (idx + radius + 1).clamp(max=n), (idx - radius).clamp(min=0)
    shape = [1] * x.dim()
    shape[dim] = n
    count = (hi - lo).to(x.dtype).reshape(shape)
    return (csum.index_select(dim, hi) - csum.index_select(dim, lo)) / count


def box_mean(x: torch.Tensor, radius: int | None) -> torch.Tensor:
    """Mean over ``(2r+1)^2`` windows clipped to the map (O(1) per pixel); ``None``: the global mean."""
    if radius is None:
        return x.mean(dim=(-2, -1), keepdim=True)
    return _box_mean_1d(_box_mean_1d(x, radius, -1), radius, -2)


class ChannelAttention(nn.Module):
    """NAFNet's simplified channel attention: ``x * conv1x1(mean(x))``, the mean global or windowed."""

    def __init__(self, channels: int, radius: int | None):
        super().__init__()
        self.radius = radius
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv(box_mean(x, self.radius))


class CrossAttention(nn.Module):
    """Pixels (queries) attend to context tokens ``B x N x D``; zero-initialised output projection.

    With DA-CLIP's single content token (N = 1, as in its U-Net) the softmax weight is 1, so this
    adds the same content-dependent vector ``W_out W_v e_c`` to every pixel: a learned, image-wide
    channel bias. It is kept as an attention so several tokens (e.g. patch embeddings) can be passed.
    """

    def __init__(self, channels: int, context_dim: int, dim_head: int = 16):
        super().__init__()
        self.heads = max(1, channels // dim_head)
        inner = self.heads * dim_head
        self.norm = LayerNorm2d(channels)
        self.to_q = nn.Conv2d(channels, inner, 1, bias=False)
        self.to_kv = nn.Linear(context_dim, inner * 2, bias=False)
        self.to_out = nn.Conv2d(inner, channels, 1)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.to_q(self.norm(x)).reshape(b, self.heads, -1, h * w).transpose(-1, -2)
        k, v = self.to_kv(context.to(x.dtype)).chunk(2, dim=-1)
        k, v = (t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2) for t in (k, v))
        out = F.scaled_dot_product_attention(q, k, v)  # B x heads x HW x dim_head
        return x + self.to_out(out.transpose(-1, -2).reshape(b, -1, h, w))


class NAFBlock(nn.Module):
    """NAFNet block; ``embed_dim`` adds the degradation MLP, ``cross`` the content cross-attention.

    ``forward(x, degradation, context)``: ``degradation`` is ``B x embed_dim`` (or None: no
    modulation), ``context`` is ``B x N x embed_dim`` tokens (or None: no cross-attention).
    """

    def __init__(self, c: int, radius: int | None, embed_dim: int | None = None, cross: bool = False,
                 dw_expand: int = 2, ffn_expand: int = 2):
        super().__init__()
        dw, ffn = c * dw_expand, c * ffn_expand
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.sg = SimpleGate()
        self.sca = ChannelAttention(dw // 2, radius)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))
        # conditioning: drawn from a forked RNG so the trunk's initial weights match the unconditioned net
        with torch.random.fork_rng(devices=[]):
            self.mlp = nn.Sequential(SimpleGate(dim=-1), nn.Linear(embed_dim // 2, 4 * c)) if embed_dim else None
            self.cross = CrossAttention(dw // 2, embed_dim) if embed_dim and cross else None
        if self.mlp is not None:
            nn.init.zeros_(self.mlp[1].weight)
            nn.init.zeros_(self.mlp[1].bias)

    def forward(self, x: torch.Tensor, degradation: torch.Tensor | None = None,
                context: torch.Tensor | None = None) -> torch.Tensor:
        mods = None
        if self.mlp is not None and degradation is not None:
            mods = self.mlp(degradation.to(x.dtype))[:, :, None, None].chunk(4, dim=1)
        h = self.norm1(x)
        if mods is not None:
            h = h * (1 + mods[1]) + mods[0]
        h = self.sca(self.sg(self.conv2(self.conv1(h))))
        if self.cross is not None and context is not None:
            h = self.cross(h, context)
        y = x + self.conv3(h) * self.beta
        h = self.norm2(y)
        if mods is not None:
            h = h * (1 + mods[3]) + mods[2]
        return y + self.conv5(self.sg(self.conv4(h))) * self.gamma
