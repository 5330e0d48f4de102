"""Tiled restoration: same result as untiled away from seams, small error across them, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from daclip.restoration.model import create_model
from daclip.restoration.restore import SamplingConfig, restore_array, restore_tensor, tile_grid
from daclip.restoration.sde import IRSDE

torch.set_num_threads(1)


class LocalModel:
    """A deterministic stand-in for the U-Net with a 3x3 receptive field (records input sizes).

    It predicts the noise as if the clean image were a 3x3 blur of the LQ image, so its x_0
    estimate is stable (like a trained network's) and tile borders (zero padding) show up as
    local errors, as they would with a real network.
    """

    def __init__(self, sde: IRSDE):
        self.sde = sde
        self.kernel = torch.full((3, 1, 3, 3), 1 / 9)
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, x, mu, t, content=None, degradation=None):
        self.calls.append(tuple(x.shape))
        x0 = F.conv2d(mu, self.kernel, padding=1, groups=3)
        return (x - self.sde.marginal_mean(x0, mu, t)) / self.sde.marginal_std(t, x)


def _coverage(h: int, w: int, tile: int, overlap: int) -> torch.Tensor:
    count = torch.zeros(h, w)
    for g in tile_grid(h, w, tile, overlap):
        count[g.top : g.top + g.height, g.left : g.left + g.width] += 1
    return count


@pytest.mark.parametrize("sampler", ["posterior", "em"])
def test_tiled_equals_untiled_away_from_seams(sampler):
    h, w, tile, overlap, steps = 96, 136, 64, 16, 6
    gen = torch.Generator().manual_seed(1)
    lq = torch.rand(1, 3, h, w, generator=gen)
    sde = IRSDE()
    full = restore_tensor(LocalModel(sde), sde, lq, SamplingConfig(sampler=sampler, steps=steps, seed=5, tile=None))
    model = LocalModel(sde)
    tiled = restore_tensor(model, sde, lq, SamplingConfig(sampler=sampler, steps=steps, seed=5, tile=tile,
                                                          overlap=overlap, tile_batch=2))
    assert len(tile_grid(h, w, tile, overlap)) == 6
    diff = (full - tiled).abs().amax(1)[0]
    # pixels far (> steps receptive-field radii) from any area two tiles share are identical
    shared = (_coverage(h, w, tile, overlap) > 1).float()[None, None]
    near = F.max_pool2d(shared, 2 * (steps + 1) + 1, stride=1, padding=steps + 1)[0, 0] > 0
    assert (~near).sum() > 0.15 * h * w
    assert diff[~near].max().item() < 1e-5
    # across the seams the error stays small
    assert diff.max().item() < 2 / 255 and diff.mean().item() < 1e-4
    assert max(c[-1] * c[-2] * c[0] for c in model.calls) <= 2 * tile * tile


def test_sampling_is_deterministic_for_a_seed():
    torch.manual_seed(0)
    config, net = create_model("tiny", context_dim=None)
    sde = IRSDE(config.sde)
    img = (np.random.default_rng(0).random((40, 36, 3)) * 255).astype(np.uint8)
    a = restore_array(net.eval(), sde, None, img, SamplingConfig(sampler="em", steps=4, seed=3))
    b = restore_array(net.eval(), sde, None, img, SamplingConfig(sampler="em", steps=4, seed=3))
    c = restore_array(net.eval(), sde, None, img, SamplingConfig(sampler="em", steps=4, seed=4))
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_large_image_runs_in_tiles_of_bounded_size():
    model = LocalModel(IRSDE())
    lq = torch.rand(1, 3, 300, 410)
    out = restore_tensor(model, model.sde, lq, SamplingConfig(steps=2, tile=64, overlap=8, tile_batch=3))
    assert out.shape == lq.shape and torch.isfinite(out).all()
    assert all(c[0] <= 3 and c[-2] <= 64 and c[-1] <= 64 for c in model.calls)
    # every pixel covered, every tile the full tile size (edge tiles shift inwards)
    grid = tile_grid(300, 410, 64, 8)
    assert {(g.height, g.width) for g in grid} == {(64, 64)}
    assert _coverage(300, 410, 64, 8).min() >= 1


def test_bad_tiling_options_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        SamplingConfig(tile=64, overlap=40)
    with pytest.raises(ValueError, match="sampler"):
        SamplingConfig(sampler="ddim")
