"""The conditional U-Net: odd sizes, DA-CLIP conditioning."""

from __future__ import annotations

import pytest
import torch

from daclip.restoration.unet import ConditionalUNet, UNetConfig

torch.set_num_threads(1)

SMALL = UNetConfig(nf=8, ch_mult=(1, 2, 2), dim_head=8, num_prompts=4, context_dim=16)


@pytest.mark.parametrize("size", [(33, 47), (16, 16), (5, 9), (1, 1)])
def test_unet_keeps_odd_sizes(size):
    torch.manual_seed(0)
    net = ConditionalUNet(SMALL)
    x = torch.rand(2, 3, *size)
    out = net(x, torch.rand(2, 3, *size), torch.tensor([1, 100]), torch.randn(2, 16), torch.randn(2, 16))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_unet_conditioning_changes_output_and_is_required():
    torch.manual_seed(0)
    net = ConditionalUNet(SMALL)
    # zero-init output projections make the cross-attention a no-op until trained: perturb them
    for m in net.modules():
        if hasattr(m, "proj_out"):
            torch.nn.init.normal_(m.proj_out.weight, std=0.1)
    x, mu, t = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.tensor([50])
    c, d = torch.randn(1, 16), torch.randn(1, 16)
    base = net(x, mu, t, c, d)
    assert not torch.allclose(base, net(x, mu, t, c + 1, d))
    assert not torch.allclose(base, net(x, mu, t, c, d + 1))
    with pytest.raises(ValueError, match="degradation embedding"):
        net(x, mu, t, c, None)
    plain = ConditionalUNet(UNetConfig(nf=8, ch_mult=(1, 2), dim_head=8, context_dim=None))
    assert plain(x, mu, t).shape == x.shape and plain.prompt is None
