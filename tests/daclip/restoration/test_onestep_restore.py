"""One-step restore: one tiled call, DA-CLIP seen once on the whole image, conditioning that matters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from daclip.loading import load
from daclip.restoration.arrays import to_tensor, to_uint8
from daclip.restoration.nafnet import NAFNet, nafnet_config, receptive_radius
from daclip.restoration.onestep_restore import onestep_calls, restore_onestep, restore_onestep_array


def _net(condition: str = "none", nudge: bool = True, **overrides) -> NAFNet:
    config, _ = nafnet_config("nafnet-tiny", condition=condition, embed_dim=64, **overrides)
    torch.manual_seed(0)
    net = NAFNet(config).eval()
    if nudge:  # give the zero-initialised layers (layer scales, conditioning outputs) values, as training would
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in net.parameters():
                if not p.any():
                    p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return net


@pytest.fixture(scope="module")
def encoder(tiny_daclip):
    return load(tiny_daclip).eval().requires_grad_(False)


@pytest.fixture()
def img() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)


def test_one_call_on_the_whole_image(img):
    net = _net()
    out = restore_onestep_array(net, None, img, tile=None)
    with torch.no_grad():
        assert out.dtype == np.uint8 and np.array_equal(out, to_uint8(net(to_tensor(img)).clamp(0, 1)))
    assert not np.array_equal(out, img)


def test_tiles_match_the_whole_image_with_the_receptive_margin(img):
    net = _net()
    lq = to_tensor(img)
    whole = restore_onestep(net, lq, tile=None)
    radius = receptive_radius(net.config)
    tiled = restore_onestep(net, lq, tile=16, margin=radius)
    assert torch.allclose(whole, tiled, atol=1e-5)
    assert whole.min() >= 0 and whole.max() <= 1
    calls = []
    restore_onestep_array(net, None, img, tile=16, on_tiles=calls.append)
    assert calls == [onestep_calls(net, 37, 53, 16)] == [3 * 4]
    assert onestep_calls(net, 37, 53, None) == onestep_calls(net, 37, 53, 64) == 1


def test_none_ignores_the_encoder_and_the_oracle_word(img, encoder):
    net = _net("none")
    plain = restore_onestep_array(net, None, img, None)
    assert np.array_equal(plain, restore_onestep_array(net, encoder, img, None, degradation_text="rainy"))


def test_conditioning_changes_the_output_once_nudged(img, encoder):
    net = _net("daclip")
    image = restore_onestep_array(net, encoder, img, None)
    noisy = restore_onestep_array(net, encoder, img, None, degradation_text="noisy")
    rainy = restore_onestep_array(net, encoder, img, None, degradation_text="rainy")
    assert not np.array_equal(noisy, rainy) and not np.array_equal(image, noisy)
    assert np.array_equal(noisy, restore_onestep_array(net, encoder, img, None, degradation_text="noisy"))
    untrained = _net("daclip", nudge=False)  # zero-init conditioning: a no-op until trained
    assert np.array_equal(restore_onestep_array(untrained, encoder, img, None, degradation_text="rainy"),
                          restore_onestep_array(_net("none", nudge=False), None, img, None))
    with pytest.raises(ValueError, match="degradation embedding"):
        restore_onestep_array(net, None, img, None)
