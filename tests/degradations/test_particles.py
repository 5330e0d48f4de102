"""The particle machinery the weather types share (degradations/particles.py): kernels, layers, working size."""

from __future__ import annotations

import numpy as np
import pytest

from degradations import particles

from .helpers import streak_angle


@pytest.mark.parametrize("angle", [-30.0, 0.0, 17.0])
def test_line_kernel_is_centred_with_unit_peak_and_the_right_length(angle):
    k = particles.line_kernel(40, angle)
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1
    assert k.max() == pytest.approx(1.0)
    ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
    cy, cx = (k * ys).sum() / k.sum(), (k * xs).sum() / k.sum()
    assert abs(cy - k.shape[0] // 2) < 0.3 and abs(cx - k.shape[1] // 2) < 0.3
    extent = np.hypot(*(np.array(k.shape) - 1)) if angle else k.shape[0] - 1
    assert 36 <= extent <= 46
    assert abs(streak_angle(k) - angle) < 2.0


def test_disk_kernel_area_and_tiny_flakes():
    for radius in (1.0, 3.0, 8.0):
        assert particles.disk_kernel(radius).sum() == pytest.approx(np.pi * radius**2, rel=0.1)
    assert particles.disk_kernel(0.3).sum() == pytest.approx(np.pi * 0.09, rel=0.05)


def test_render_layer_reaches_the_borders():
    rng = np.random.default_rng(0)
    kernel = particles.line_kernel(21, 0.0)
    layer = particles.render_layer(rng, (300, 300), 0.01, kernel, 1.0, 1.0)
    border, centre = layer[:10].mean(), layer[100:200].mean()
    assert border > 0.6 * centre, "particles centred outside the frame must reach into it"


def test_work_shape_caps_large_images():
    assert particles.work_shape(512, 512) == (512, 512)
    assert particles.work_shape(3000, 4000) == (768, 1024)
    assert particles.work_shape(1, 1) == (1, 1)
