"""The one-step NAFNet restorer: odd sizes, exact tiling, DA-CLIP conditioning, safetensors round trip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from daclip.restoration.nafnet import NAFNet, NAFNetConfig, nafnet_config, receptive_radius, tiled_forward
from daclip.restoration.nafnet_blocks import box_mean

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def tiny(condition: str = "none", seed: int = 0, nudge: bool = True, **overrides) -> NAFNet:
    """The ``nafnet-tiny`` net; ``nudge``: give the zero-initialised weights (layer scales, conditioning
    outputs) random values, as training would, so that every branch contributes."""
    config, _ = nafnet_config("nafnet-tiny", condition=condition, **overrides)
    torch.manual_seed(seed)
    net = NAFNet(config).eval()
    if nudge:
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for p in net.parameters():
                if not p.any():
                    p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return net


def embeddings(b: int = 1, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, dim, generator=gen), torch.randn(b, dim, generator=gen)


@pytest.mark.parametrize("size", [(1, 1), (5, 9), (13, 16), (33, 47)])
@pytest.mark.parametrize("condition", ["none", "daclip"])
def test_nafnet_keeps_odd_sizes(size, condition):
    net = tiny(condition)
    x = torch.rand(2, 3, *size)
    d, c = embeddings(2)
    out = net(x, d, c)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_untrained_net_is_the_identity_and_conditioning_starts_as_a_no_op():
    x = torch.rand(1, 3, 20, 24)
    d, c = embeddings()
    # NAFNet's layer scales start at zero: output = input + ending(intro(input))
    plain, cond = tiny("none", nudge=False), tiny("daclip", nudge=False)
    assert torch.equal(plain(x), cond(x, d, c))
    # with a trained-like trunk, zero-init shift/scale and cross-attention output still change nothing
    trunk = {k: v for k, v in tiny("none").state_dict().items()}
    cond.load_state_dict({**cond.state_dict(), **trunk})
    assert torch.allclose(cond(x, d, c), tiny("none")(x), atol=1e-6)


def test_conditioning_changes_the_output_once_nudged():
    net = tiny("daclip")
    x = torch.rand(1, 3, 24, 24)
    d, c = embeddings()
    d2, c2 = embeddings(seed=1)
    base = net(x, d, c)
    assert (net(x, d2, c) - base).abs().max() > 1e-3  # degradation MLP
    assert (net(x, d, c2) - base).abs().max() > 1e-3  # cross-attention on the content token
    assert (net(x, d, None) - base).abs().max() > 1e-3  # content=None skips the cross-attention


def test_none_ignores_any_embedding_and_conditioned_requires_one():
    net = tiny("none")
    x = torch.rand(1, 3, 12, 12)
    d, c = embeddings()
    assert torch.equal(net(x), net(x, d, c))
    assert torch.equal(net(x), net(x, torch.zeros(3, 99), None))  # not even its shape is read
    cond = tiny("oracle")
    with pytest.raises(ValueError, match="degradation embedding"):
        cond(x)
    with pytest.raises(ValueError, match="must be"):
        cond(x, torch.zeros(1, 5))


def test_tiles_are_exact_with_a_receptive_field_margin():
    net = tiny("daclip", pool_radius=2)
    margin = receptive_radius(net.config)
    assert margin == 30
    x = torch.rand(1, 3, 100, 90)
    d, c = embeddings()
    whole = net(x, d, c)
    assert torch.allclose(tiled_forward(net, x, 16, margin, d, c), whole, atol=1e-5)
    # below the margin the cores are close but no longer exact
    err = (tiled_forward(net, x, 16, 4, d, c) - whole).abs().max()
    assert 1e-5 < err < 0.5


def test_global_channel_attention_breaks_tiling():
    net = tiny("none", pool_radius=None)
    assert receptive_radius(net.config) is None
    x = torch.rand(1, 3, 96, 96)
    x[..., :, :48] *= 0.1  # tiles whose statistics differ from the whole image's
    # a margin wider than the windowed net's receptive field, yet far from exact (float error ~1e-7)
    assert (tiled_forward(net, x, 16, 32) - net(x)).abs().max() > 1e-4


def test_window_covering_the_patch_equals_global_pooling():
    """pool_radius >= patch side: training on patches is exactly original NAFNet's global pooling."""
    x = torch.rand(2, 3, 16, 16)
    windowed, pooled = tiny("none", pool_radius=16), tiny("none", pool_radius=None)
    assert torch.allclose(windowed(x), pooled(x), atol=1e-6)


@pytest.mark.parametrize("radius", [1, 3, 7])
def test_box_mean_is_the_clipped_window_average(radius):
    x = torch.rand(2, 3, 11, 17, dtype=torch.float64)
    k = 2 * radius + 1
    ref = F.avg_pool2d(F.pad(x, (radius,) * 4), k, stride=1, count_include_pad=False)
    ones = F.avg_pool2d(F.pad(torch.ones_like(x), (radius,) * 4), k, stride=1, count_include_pad=False)
    assert torch.allclose(box_mean(x, radius), ref / ones, atol=1e-10)


def test_safetensors_round_trip(tmp_path):
    net = tiny("daclip")
    save_file(net.state_dict(), tmp_path / "nafnet.safetensors")
    config = NAFNetConfig.from_dict(net.config.to_dict())
    loaded = NAFNet(config).eval()
    loaded.load_state_dict(load_file(tmp_path / "nafnet.safetensors"), strict=True)
    x = torch.rand(1, 3, 19, 23)
    d, c = embeddings()
    assert torch.equal(loaded(x, d, c), net(x, d, c))


def test_config_validation():
    with pytest.raises(ValueError, match="condition"):
        NAFNetConfig(condition="text")
    with pytest.raises(ValueError, match="one entry per level"):
        NAFNetConfig(enc_blocks=(1, 1), dec_blocks=(1,))
    with pytest.raises(ValueError, match="unknown NAFNet config keys"):
        NAFNetConfig.from_dict({"widht": 8})
    with pytest.raises(ValueError, match="not a NAFNet config"):
        nafnet_config("tiny")
    demo, recipe = nafnet_config("nafnet-demo")
    assert demo.embed_dim == 64 and recipe["patch"] <= demo.pool_radius
