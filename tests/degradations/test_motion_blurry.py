"""motion-blurry: the documented PSNR band, a normalised centred kernel, linear-light convolution
without shift, and output independent of OpenCV's thread count."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

import degradations as D
from degradations.color import linear_to_srgb, quantize, to_float, uint8_to_linear
from degradations.motion_blurry import MAX_DIRECT_TAPS, _strips, blur_linear, convolve, kernel_for
from degradations.trajectory import kernel_centroid, motion_kernel

from .helpers import PRESETS, check_thread_count_independent, psnr_table, shift, within

# Input PSNR (dB) on the bundled photos, as documented in the README (measured over 60 samples
# per cell; the bands are the measured extremes, rounded outwards).
PSNR_BANDS = {"light": (22.0, 40.0), "medium": (19.0, 35.0), "heavy": (16.5, 31.5)}


@pytest.fixture(scope="module")
def psnr_by_severity(photos) -> dict[str, list[float]]:
    return psnr_table(photos, "motion-blurry")


@pytest.mark.parametrize("severity", PRESETS)
def test_input_psnr_inside_documented_band(severity, psnr_by_severity):
    lo, hi = PSNR_BANDS[severity]
    values = psnr_by_severity[severity]
    assert all(lo <= v <= hi for v in values), f"motion-blurry/{severity}: {np.round(values, 2)} outside [{lo}, {hi}]"


def test_heavier_presets_degrade_more_on_average(psnr_by_severity):
    means = [float(np.mean(psnr_by_severity[s])) for s in PRESETS]
    assert means[0] > means[1] > means[2], means


@pytest.mark.parametrize("severity", ("light", "medium", "heavy", "random"))
def test_sampled_values_stay_in_documented_ranges(severity):
    shape = (384, 640, 3)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        blur_spec = D.get("blur").ranges[severity]
        p = D.sample_params("blur", rng, shape, severity)
        assert within(p["length_at_512"], blur_spec["length_at_512"])
        assert p["length"] == pytest.approx(p["length_at_512"] * 384 / 512)
        for key in ("anxiety", "centripetal", "big_shake", "gaussian_shake", "angle"):
            assert within(p[key], blur_spec[key]), key
        assert p["exposure"] in blur_spec["exposure"]
        assert p["noise_sigma"] == 0.0 or (severity == "random" and within(p["noise_sigma"], (1.0, 3.0)))


@pytest.mark.parametrize("severity", ("light", "medium", "heavy", "random"))
def test_blur_kernel_is_normalised_and_centred(severity):
    for seed in range(25):
        params = D.sample_params("blur", np.random.default_rng(seed), (512, 768, 3), severity)
        kernel = kernel_for(params)
        assert kernel.dtype == np.float32 and kernel.ndim == 2
        assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
        assert kernel.min() >= 0 and kernel.sum() == pytest.approx(1.0, abs=1e-5)
        cx, cy = kernel_centroid(kernel)
        centre = (kernel.shape[0] - 1) / 2
        assert math.hypot(cx - centre, cy - centre) < 0.5, (seed, cx, cy, centre)


def test_blur_length_is_honoured_and_scales_with_resolution():
    # With zero anxiety the trajectory is a straight line: its extent is the requested length.
    for length, angle in ((5.0, 0.0), (17.0, 90.0), (40.0, 33.0)):
        kernel = motion_kernel(0, length, 0.0, 1.0, 0.3, 0.1, 5.0, angle)
        ys, xs = np.nonzero(kernel > 1e-6)
        extent = math.hypot(xs.max() - xs.min(), ys.max() - ys.min())
        assert length - 0.5 <= extent <= length + 2.0, (length, extent)
    small = D.sample_params("blur", np.random.default_rng(4), (512, 512, 3), "heavy")
    large = D.sample_params("blur", np.random.default_rng(4), (1024, 1536, 3), "heavy")
    assert large["length"] == pytest.approx(2 * small["length"])
    assert kernel_for(large).shape[0] > 1.6 * kernel_for(small).shape[0]


def _reference_blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Independent FFT convolution in linear light with the kernel's centroid at the origin."""
    lin = uint8_to_linear(img).astype(np.float64)
    h, w = lin.shape[:2]
    cx, cy = kernel_centroid(kernel)
    pad = kernel.shape[0]
    padded = np.pad(lin, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    big_h, big_w = padded.shape[:2]
    kp = np.zeros((big_h, big_w))
    kp[: kernel.shape[0], : kernel.shape[1]] = kernel
    fy, fx = np.fft.fftfreq(big_h)[:, None], np.fft.fftfreq(big_w)[None, :]
    otf = np.fft.fft2(kp) * np.exp(2j * np.pi * (fx * cx + fy * cy))
    out = np.fft.ifft2(np.fft.fft2(padded, axes=(0, 1)) * otf[:, :, None], axes=(0, 1)).real
    return quantize(linear_to_srgb(out[pad : pad + h, pad : pad + w].astype(np.float32)))


@pytest.mark.parametrize("severity", PRESETS)
def test_blur_is_centred_linear_light_convolution_without_shift(severity, photos):
    """LQ equals the HQ convolved in linear light with the PSF centred on its centroid.

    Phase correlation of HQ against LQ is ill-posed for blur (the phase-only spectrum of a line
    kernel peaks at its end points: a perfectly centred 34-px line reads as a 13-px shift), so
    the shift is measured against that centred reference, which has the same blur.
    """
    img = photos["chelsea"]
    for seed in (0, 1):
        params = D.sample_params("blur", np.random.default_rng(seed), img.shape, severity)
        result = D.get("blur").apply(img, params)
        reference = _reference_blur(img, result.maps["kernel"])
        assert np.abs(reference.astype(np.int16) - result.lq).max() <= 1
        assert shift(reference, result.lq) < 0.5
    # The check can fail: the same kernel moved 3 px off-centre is caught.
    kernel = result.maps["kernel"]
    off = np.zeros((kernel.shape[0] + 6, kernel.shape[1] + 6), np.float32)
    off[3:-3, 6:] = kernel
    assert shift(reference, quantize(blur_linear(img, off))) > 2.0


def test_strip_convolution_equals_full_filter2d(astronaut):
    """The fast path (thin kernels cut into direct-filtered strips) computes the same convolution."""
    for seed, severity in ((0, "light"), (1, "medium"), (2, "heavy"), (3, "heavy")):
        kernel = kernel_for(D.sample_params("blur", np.random.default_rng(seed), astronaut.shape, severity))
        for h, w in ((2, 3), (17, 9), (200, 301)):
            lin = uint8_to_linear(np.ascontiguousarray(astronaut[:h, :w]))
            full = cv2.filter2D(lin, -1, cv2.flip(kernel, -1), borderType=cv2.BORDER_REFLECT)
            assert np.abs(convolve(lin, kernel) - full).max() < 1e-5, (seed, h, w)


def test_blur_domain_is_recorded_and_honoured(astronaut):
    params = D.sample_params("blur", np.random.default_rng(2), astronaut.shape, "heavy")
    assert params["domain"] == "linear"
    kernel = kernel_for(params)
    srgb = D.get("blur").apply(astronaut, {**params, "domain": "srgb"}).lq
    expected = quantize(
        cv2.filter2D(to_float(astronaut), -1, cv2.flip(kernel, -1), borderType=cv2.BORDER_REFLECT)
    )
    assert np.abs(srgb.astype(np.int16) - expected).max() <= 1
    linear = D.get("blur").apply(astronaut, params).lq
    assert linear.mean() > srgb.mean(), "averaging radiance spreads highlights: brighter than sRGB averaging"
    with pytest.raises(ValueError, match="domain"):
        D.get("blur").apply(astronaut, {**params, "domain": "log"})


def test_blur_replays_on_images_smaller_than_the_kernel(astronaut):
    params = D.sample_params("blur", np.random.default_rng(0), astronaut.shape, "heavy")
    for h, w in ((1, 1), (2, 3), (8, 8), (5, 41)):
        lq = D.get("blur").apply(np.ascontiguousarray(astronaut[:h, :w]), params).lq
        assert lq.shape == (h, w, 3) and lq.dtype == np.uint8


def test_output_does_not_depend_on_opencv_thread_count(astronaut):
    """Shards must be byte-identical whatever the worker/thread layout (filter2D may use a DFT)."""
    img = np.ascontiguousarray(astronaut[:300, :412])
    params = D.sample_params("motion-blurry", np.random.default_rng(9), img.shape, "heavy")
    long_blur = {**params, "length": 300.0}  # too many taps for direct strips: the DFT path
    assert sum(n * m for _, n, _, m in _strips(cv2.flip(kernel_for(long_blur), -1))) > MAX_DIRECT_TAPS
    for case in (params, long_blur):
        check_thread_count_independent(img, case)
