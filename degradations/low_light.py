"""low-light: an unevenly lit, under-exposed scene captured through a camera pipeline with sensor noise.

Real night and indoor captures (LOL, Wei et al. 2018; SID, Chen et al. 2018; the survey "Lighting the
darkness in the deep learning era", Li et al. 2021) are not a globally darkened photo: a few lamps
and windows leave bright pools next to near-black regions, and the noise is strongest, and
coloured, in the shadows. Version 2 models both (version-1 params, a global exposure scale,
replay through ``degradations.legacy.low_light_v1``).

1. Illumination (linear light, per channel): ``L = ambient + sum(lamps) + sum(windows)``.
   A lamp is a point source at height ``h`` above a Lambertian surface, irradiance
   ``E = peak * cos(theta) / r^2`` normalised to ``peak`` below it, i.e.
   ``peak * (1 + d^2 / h^2) ** -1.5`` at distance ``d`` (the inverse-square law with Lambert's
   cosine). A window (light through a window, a lit doorway, a screen) is a soft-edged rotated
   rectangle of gain ``peak``. Each source has a colour temperature (``warmth``: lamps warm,
   windows and ambient cool to neutral). ``L`` is smooth, so it is evaluated on a grid of at most
   128 px and resized bilinearly: cheap at any image size.
2. Camera pipeline (Brooks et al. 2019, "Unprocessing images for learned raw denoising"): the
   lit linear image goes to camera space (a random convex combination of four cameras' XYZ->cam
   matrices, rows normalised, with sRGB->XYZ) and white balance is undone (red gain
   ``wb[0]`` in 1.9-2.4, blue ``wb[1]`` in 1.5-1.9). Noise is drawn per site of an RGGB Bayer
   mosaic with variance ``a x + b`` (shot noise in its Gaussian form plus read noise,
   log b = 2.18 log a + 1.20 + N(0, 0.26), Brooks' fit) and bilinearly demosaiced; white balance
   (times a per-channel estimate error ``wb_error``) and the colour-correction matrix are then
   re-applied, the result is sRGB-encoded and quantised once. White balance and the CCM amplify
   the red and blue sites' noise and demosaicing spreads it into 2-3 px blotches: this is the
   colour noise of real low-light captures, largest relative to the signal in the shadows. The
   signal itself skips the mosaic (its demosaicing artefacts are not part of the degradation;
   bilinear demosaicing is linear, so the noise can be demosaiced on its own).

Parameters (all recorded; ``seed`` draws the noise field): ``ambient`` and ``ambient_warmth``,
``lamps`` (``x``, ``y`` as fractions of width/height, may lie outside the frame; ``height`` as a
fraction of the long side; ``peak``; ``warmth``), ``windows`` (``x``, ``y`` centre fractions; ``w``,
``h``, ``soft`` fractions of the long side; ``angle`` deg; ``peak``; ``warmth``), ``ccm_weights``
(4), ``wb`` (red, blue), ``wb_error`` (3), ``a``, ``b``, ``seed``.

Presets keep version 1's darkness (LOL's real input PSNR is about 7.8 dB): input PSNR per image on the
bundled photos (astronaut, chelsea, coffee; 20 seeds each), median and min-max: light 11.9 dB,
8.2-16.6; medium 9.6 dB, 6.9-12.5; heavy 7.8 dB, 6.3-8.9 (version 1: 12.1, 9.5, 8.2).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, draw, draw_int, draw_seed, log_uniform
from .color import linear_to_srgb8, uint8_to_linear
from .noise_fields import standard_normal

MAX_GRID_SIDE = 128  # the illumination map is smooth: evaluated at most this size, then resized

# Brooks et al. 2019: XYZ -> camera matrices of four cameras, and linear sRGB -> XYZ (D65).
_XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
])
_RGB2XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041],
])
_LUMA = np.array([0.2126, 0.7152, 0.0722])
# bilinear demosaicing of an RGGB mosaic: red/blue from 1, 2 or 4 neighbours, green from 1 or 4
_K_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4
_K_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4

_COMMON: dict[str, Any] = {
    "lamp_height": (0.06, 0.35), "lamp_warmth": (0.0, 0.7), "window_warmth": (-0.6, 0.2),
    "ambient_warmth": (-0.5, 0.3), "window_size": (0.12, 0.45), "window_soft": (0.01, 0.05),
    "window_angle": (-12.0, 12.0), "red_gain": (1.9, 2.4), "blue_gain": (1.5, 1.9), "wb_error": (0.92, 1.08),
}


class LowLight:
    name = "low-light"
    version = 2
    ranges: dict[str, dict[str, Any]] = {
        "light": {**_COMMON, "ambient": (0.03, 0.08), "lamps": (1, 3), "lamp_peak": (0.35, 1.0), "window_p": 0.35,
                  "window_peak": (0.3, 0.8), "shot": (1e-4, 2e-3)},
        "medium": {**_COMMON, "ambient": (0.012, 0.035), "lamps": (1, 3), "lamp_peak": (0.18, 0.5), "window_p": 0.35,
                   "window_peak": (0.15, 0.4), "shot": (2e-4, 5e-3)},
        "heavy": {**_COMMON, "ambient": (0.006, 0.018), "lamps": (1, 2), "lamp_peak": (0.08, 0.25), "window_p": 0.35,
                  "window_peak": (0.06, 0.2), "shot": (5e-4, 1.2e-2)},
        "random": {**_COMMON, "ambient": (0.006, 0.08), "lamps": (1, 3), "lamp_peak": (0.08, 1.0), "window_p": 0.35,
                   "window_peak": (0.06, 0.8), "shot": (1e-4, 1.2e-2)},
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        lamps = [
            {
                "x": draw(rng, (-0.2, 1.2)), "y": draw(rng, (-0.2, 1.2)), "height": draw(rng, spec["lamp_height"]),
                "peak": draw(rng, spec["lamp_peak"]), "warmth": draw(rng, spec["lamp_warmth"]),
            }
            for _ in range(draw_int(rng, spec["lamps"]))
        ]
        windows = []
        if rng.uniform() < spec["window_p"]:
            windows.append({
                "x": draw(rng, (0.1, 0.9)), "y": draw(rng, (0.1, 0.9)),
                "w": draw(rng, spec["window_size"]), "h": draw(rng, spec["window_size"]),
                "angle": draw(rng, spec["window_angle"]), "soft": draw(rng, spec["window_soft"]),
                "peak": draw(rng, spec["window_peak"]), "warmth": draw(rng, spec["window_warmth"]),
            })
        a = log_uniform(rng, *spec["shot"])
        return {
            "ambient": draw(rng, spec["ambient"]),
            "ambient_warmth": draw(rng, spec["ambient_warmth"]),
            "lamps": lamps,
            "windows": windows,
            "ccm_weights": [float(v) for v in rng.uniform(1e-8, 1.0, size=len(_XYZ2CAMS))],
            "wb": [draw(rng, spec["red_gain"]), draw(rng, spec["blue_gain"])],
            "wb_error": [float(g) for g in rng.uniform(*spec["wb_error"], size=3)],
            "a": a,
            "b": float(math.exp(2.18 * math.log(a) + 1.20 + rng.normal(0.0, 0.26))),
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        lit = uint8_to_linear(img) * illumination_map((h, w), params)
        rgb2cam = rgb_to_camera(params["ccm_weights"])
        wb = np.array([params["wb"][0], 1.0, params["wb"][1]])
        to_raw = np.diag(1.0 / wb) @ rgb2cam  # linear sRGB -> camera space, white balance undone
        to_rgb = np.linalg.inv(rgb2cam) @ np.diag(wb * np.asarray(params["wb_error"], np.float64))
        cam = cv2.transform(lit, to_raw.astype(np.float32))
        rng = np.random.default_rng(int(params["seed"]))
        cam += demosaic(bayer_noise(mosaic(cam), float(params["a"]), float(params["b"]), rng))
        return Result(lq=linear_to_srgb8(cv2.transform(cam, to_rgb.astype(np.float32))))


def warmth_tint(warmth: float) -> np.ndarray:
    """RGB multipliers of a light of ``warmth`` (-1 bluish .. 0 neutral .. 1 tungsten), luminance 1."""
    tint = np.array([1.0 + 0.25 * warmth, 1.0, 1.0 - 0.3 * warmth])
    return tint / float(_LUMA @ tint)


def illumination_map(shape: tuple[int, int], params: dict[str, Any]) -> np.ndarray:
    """HxWx3 float32 gain applied to the linear image: ambient plus lamps plus windows."""
    h, w = shape
    side = max(h, w)
    scale = min(1.0, MAX_GRID_SIDE / side)
    gh, gw = max(1, round(h * scale)), max(1, round(w * scale))
    # grid cell centres in image pixels (the convention cv2.resize interpolates from)
    ys = ((np.arange(gh) + 0.5) * (h / gh))[:, None]
    xs = ((np.arange(gw) + 0.5) * (w / gw))[None, :]
    out = np.zeros((gh, gw, 3), np.float64)
    out += float(params["ambient"]) * warmth_tint(float(params["ambient_warmth"]))
    for lamp in params["lamps"]:
        d2 = (xs - lamp["x"] * w) ** 2 + (ys - lamp["y"] * h) ** 2
        height = max(float(lamp["height"]) * side, 1e-6)
        irradiance = float(lamp["peak"]) * (1.0 + d2 / height**2) ** -1.5
        out += irradiance[:, :, None] * warmth_tint(float(lamp["warmth"]))
    for win in params["windows"]:
        theta = math.radians(float(win["angle"]))
        dx, dy = xs - win["x"] * w, ys - win["y"] * h
        u = dx * math.cos(theta) + dy * math.sin(theta)
        v = -dx * math.sin(theta) + dy * math.cos(theta)
        soft = max(float(win["soft"]) * side, 1e-6)
        inside = _ramp((win["w"] * side / 2 - np.abs(u)) / soft) * _ramp((win["h"] * side / 2 - np.abs(v)) / soft)
        out += (float(win["peak"]) * inside)[:, :, None] * warmth_tint(float(win["warmth"]))
    grid = out.astype(np.float32)
    return grid if (gh, gw) == (h, w) else cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)


def _ramp(t: np.ndarray) -> np.ndarray:
    """Smoothstep from 0 (t <= -0.5) to 1 (t >= 0.5): a soft edge one ``soft`` wide."""
    s = np.clip(t + 0.5, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def rgb_to_camera(weights: list[float]) -> np.ndarray:
    """Brooks' random CCM: a convex combination of XYZ->cam matrices times sRGB->XYZ, rows summing to 1."""
    wts = np.asarray(weights, np.float64)
    xyz2cam = np.tensordot(wts / wts.sum(), _XYZ2CAMS, axes=1)
    rgb2cam = xyz2cam @ _RGB2XYZ
    return rgb2cam / rgb2cam.sum(axis=1, keepdims=True)


def mosaic(cam: np.ndarray) -> np.ndarray:
    """HxW RGGB Bayer samples of an HxWx3 camera-space image."""
    raw = np.ascontiguousarray(cam[:, :, 1])
    raw[0::2, 0::2] = cam[0::2, 0::2, 0]
    raw[1::2, 1::2] = cam[1::2, 1::2, 2]
    return raw


def bayer_noise(raw: np.ndarray, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """Heteroscedastic Gaussian noise of variance ``a x + b`` at each Bayer site (float32 HxW)."""
    std = np.sqrt(np.maximum(raw, np.float32(0.0)) * np.float32(a) + np.float32(b))
    return standard_normal(rng, raw.shape) * std


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an RGGB mosaic to HxWx3 (reflect-101 borders keep the Bayer phase)."""
    planes = np.zeros((*raw.shape, 3), np.float32)
    planes[0::2, 0::2, 0] = raw[0::2, 0::2]
    planes[0::2, 1::2, 1] = raw[0::2, 1::2]
    planes[1::2, 0::2, 1] = raw[1::2, 0::2]
    planes[1::2, 1::2, 2] = raw[1::2, 1::2]
    out = cv2.filter2D(planes, -1, _K_RB, borderType=cv2.BORDER_REFLECT_101)
    out[:, :, 1] = cv2.filter2D(planes[:, :, 1], -1, _K_G, borderType=cv2.BORDER_REFLECT_101)
    return out
