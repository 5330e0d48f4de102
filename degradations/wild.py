"""The "wild" chain: high-order blur -> resize -> noise -> JPEG, as the in-the-wild follow-up of DA-CLIP
trains on (Luo et al., "Photo-realistic image restoration in the wild with controlled vision-language
models", CVPRW 2024; ``random_degrade`` in daclip-uir's ``data/deg_util.py``).

Three orders, each a random permutation of its operations (Real-ESRGAN style):

1. blur (p 0.8: kernel 5..19, sinc p 0.1, sigma 0.2..2.2), resize (p 0.8 for the whole chain: scale
   0.5..1.4, area/cubic/linear), noise (p 0.4), JPEG (p 0.4, quality 60..95);
2. blur (p 0.4: kernel 5..9, sinc p 0.1, sigma 0.2..1.5), noise (p 0.2);
3. blur (p 0.8: kernel 5..19, sinc p 0.8, sigma 0.2..1.0), resize back to the input size, JPEG
   (p 0.4, quality 80..100).

Noise is Gaussian (p 0.6: sigma 1..5, grey p 0.4) and/or Poisson (p 0.4: scale 0.01..0.5, grey p 0.4),
then quantised to 8 bits. Blur kernels are the mixed set (iso 0.35, aniso 0.2, generalized iso 0.1 /
aniso 0.03, plateau iso 0.1 / aniso 0.03, defocus 0.1, box 0.03, line 0.03) with multiplicative
kernel noise 0.9..1.1; a 5 or 7 px non-sinc kernel is Wiener-deconvolved with p 0.1 (ringing), then
blended back with p 0.1. Left out, because they need PSF data files the original ships as pickles:
the ``psf`` kernel (its 0.03 is renormalised away) and the under-display-camera filter branch.

:func:`sample` draws every value (a compose-style record, ``{"name": "compose", "chain": "wild",
"steps": [...]}``, one step per applied operation), :func:`apply` is pure. The image is float32 in
[0, 1] between steps, as in the original; the output is uint8, the size of the input (a downscale is
always scaled back), pixel-aligned with it. A chain that applies nothing is drawn again, so every
sample is degraded. The label names the DA-CLIP types the chain contains, in the mixture ordering
rule: blur and resize -> ``motion-blurry`` (the one blur type of the ten), noise -> ``noisy``,
JPEG -> ``jpeg-compressed``; the paper's own tags (``blur``, ``ringing artifact``, ``noise``,
``jpeg block``) are kept in ``deg_list``.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .base import Result, draw_seed

CHAIN = "wild"
VERSION = 1
MAX_DRAWS = 100  # a chain applying nothing is drawn again (probability about 1e-3 each time)

BLUR_PROB, RESIZE_PROB, NOISE_PROB, JPEG_PROB = 0.8, 0.8, 0.4, 0.4
SCALE_RANGE = (0.5, 1.4)
INTERPOLATIONS = {"area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}
KERNEL_PROBS = {"iso": 0.35, "aniso": 0.2, "generalized_iso": 0.1, "generalized_aniso": 0.03, "plateau_iso": 0.1,
                "plateau_aniso": 0.03, "defocus": 0.1, "box": 0.03, "line": 0.03}
KERNEL_NOISE = (0.9, 1.1)  # multiplicative noise of the (generalized) Gaussian kernels
BETA_G, BETA_P = (0.5, 2.0), (1.0, 1.5)
GAUSS_PROB, GAUSS_SIGMA, POISSON_SCALE, GRAY_PROB = 0.6, (1.0, 5.0), (0.01, 0.5), 0.4
WIENER_K, WIENER_PAD = 0.006, 20

# (operation, probability, options) per order; blur options: (max_radius, sinc_prob, sigma range)
FIRST = {"blur": (BLUR_PROB, (10, 0.1, (0.2, 2.2))), "resize": (None, None), "noise": (NOISE_PROB, None),
         "jpeg": (JPEG_PROB, (60.0, 95.0))}
SECOND = {"blur": (BLUR_PROB * 0.5, (5, 0.1, (0.2, 1.5))), "noise": (NOISE_PROB * 0.5, None)}
THIRD = {"blur": (BLUR_PROB, (10, 0.8, (0.2, 1.0))), "resize": (None, None), "jpeg": (JPEG_PROB, (80.0, 100.0))}
DEBLUR_PROB, DEBLUR_MAX_KERNEL, BLEND_PROB, BLEND_RANGE = 0.1, 8, 0.1, (0.1, 0.5)
MAX_STEPS = len(FIRST) + len(SECOND) + len(THIRD)  # each operation of each order at most once

TYPE_OF_OP = {"wild-blur": "motion-blurry", "wild-resize": "motion-blurry", "wild-noise": "noisy",
              "wild-jpeg": "jpeg-compressed"}
LABEL_ORDER = ("motion-blurry", "noisy", "jpeg-compressed")  # the mixture ordering rule's camera -> storage


def kernel_sizes(max_radius: int) -> list[int]:
    """Odd kernel sizes ``5 .. 2 * max_radius - 1`` (5..19 for 10, 5..9 for 5)."""
    return [2 * v + 1 for v in range(2, max_radius)]


# ------------------------------------------------------------------ sampling


def _sample_blur(rng: np.random.Generator, order: int, options: tuple) -> dict[str, Any]:
    max_radius, sinc_prob, sigma_range = options
    size = int(rng.choice(kernel_sizes(max_radius)))
    step: dict[str, Any] = {"name": "wild-blur", "order": order, "kernel_size": size, "deblur": False, "blend": None}
    if rng.uniform() < sinc_prob:
        lo = math.pi / 3 if size < 13 else math.pi / 5
        step.update(kernel="sinc", omega_c=float(rng.uniform(lo, math.pi)))
        return step
    names = list(KERNEL_PROBS)
    p = np.asarray([KERNEL_PROBS[n] for n in names])
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    step["kernel"] = kind
    if kind in ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"):
        sigma_x = float(rng.uniform(*sigma_range))
        if kind.endswith("aniso"):
            step.update(sigma_x=sigma_x, sigma_y=float(rng.uniform(*sigma_range)),
                        theta=float(rng.uniform(-math.pi, math.pi)))
        else:
            step.update(sigma_x=sigma_x, sigma_y=sigma_x, theta=0.0)
        if kind.startswith(("generalized", "plateau")):
            lo, hi = BETA_G if kind.startswith("generalized") else BETA_P
            step["beta"] = float(rng.uniform(lo, 1.0) if rng.uniform() < 0.5 else rng.uniform(1.0, hi))
        if not kind.startswith("plateau"):
            step["noise_seed"] = draw_seed(rng)
    elif kind == "line":
        line_size = size - 10 if size > 15 else size
        step.update(line_size=line_size, line_index=int(rng.integers(0, 2 * line_size - 2)))
    if size < DEBLUR_MAX_KERNEL and rng.uniform() < DEBLUR_PROB:
        step["deblur"] = True
        if rng.uniform() < BLEND_PROB:
            step["blend"] = float(rng.uniform(*BLEND_RANGE))
    return step


def _sample_noise(rng: np.random.Generator, order: int) -> dict[str, Any]:
    gaussian = poisson = None
    if rng.uniform() < GAUSS_PROB:
        gaussian = {"sigma": float(rng.uniform(*GAUSS_SIGMA)), "gray": bool(rng.uniform() < GRAY_PROB)}
    if rng.uniform() < 1 - GAUSS_PROB:
        poisson = {"scale": float(rng.uniform(*POISSON_SCALE)), "gray": bool(rng.uniform() < GRAY_PROB)}
    return {"name": "wild-noise", "order": order, "gaussian": gaussian, "poisson": poisson, "seed": draw_seed(rng)}


def _sample_jpeg(rng: np.random.Generator, order: int, quality_range: tuple[float, float]) -> dict[str, Any]:
    drawn = float(rng.uniform(*quality_range))
    return {"name": "wild-jpeg", "order": order, "quality": int(drawn), "quality_drawn": drawn}


def _sample_resize(rng: np.random.Generator, order: int, size: tuple[int, int], scale: float | None) -> dict[str, Any]:
    interpolation = list(INTERPOLATIONS)[int(rng.integers(len(INTERPOLATIONS)))]
    return {"name": "wild-resize", "order": order, "width": size[0], "height": size[1], "scale": scale,
            "interpolation": interpolation}


def _draw_chain(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    height, width = int(shape[0]), int(shape[1])
    plan = {"first": [str(x) for x in rng.permutation(list(FIRST))],
            "second": [str(x) for x in rng.permutation(list(SECOND))],
            "third": [str(x) for x in rng.permutation(list(THIRD))],
            "resize": bool(rng.uniform() < RESIZE_PROB)}
    steps: list[dict[str, Any]] = []
    for order, table in ((1, FIRST), (2, SECOND), (3, THIRD)):
        for op in plan[("first", "second", "third")[order - 1]]:
            prob, options = table[op]
            if op == "resize":
                if not plan["resize"]:
                    continue
                if order == 1:
                    scale = float(rng.uniform(*SCALE_RANGE))
                    size = (max(1, int(width / scale)), max(1, int(height / scale)))
                    steps.append(_sample_resize(rng, order, size, scale))
                else:
                    steps.append(_sample_resize(rng, order, (width, height), None))
            elif rng.uniform() < prob:
                if op == "blur":
                    steps.append(_sample_blur(rng, order, options))
                elif op == "noise":
                    steps.append(_sample_noise(rng, order))
                else:
                    steps.append(_sample_jpeg(rng, order, options))
    return steps, plan


def label_of(steps: list[dict[str, Any]]) -> str:
    """The DA-CLIP types the chain contains, in the ordering rule (see the module docstring)."""
    present = {TYPE_OF_OP[step["name"]] for step in steps}
    return "+".join(name for name in LABEL_ORDER if name in present)


def deg_list(steps: list[dict[str, Any]]) -> list[str]:
    """The paper's text tags of the chain, in application order (as ``random_degrade`` appends them)."""
    tags: list[str] = []
    for step in steps:
        if step["name"] in ("wild-blur", "wild-resize"):
            tags.append("blur")
            if step.get("kernel") == "sinc" or step.get("deblur"):
                tags.append("ringing artifact")
        elif step["name"] == "wild-noise":
            tags.append("noise")
        else:
            tags.append("jpeg block")
    return tags


def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, Any]:
    """A full, replayable wild-chain record for an image of ``shape``."""
    for _ in range(MAX_DRAWS):
        steps, plan = _draw_chain(rng, shape)
        if steps:
            return {"name": "compose", "chain": CHAIN, "version": VERSION, "plan": plan, "steps": steps,
                    "label": label_of(steps), "deg_list": deg_list(steps)}
    raise RuntimeError("the wild chain drew no operation in 100 tries")  # pragma: no cover (p ~ 1e-300)


# ------------------------------------------------------------------ kernels


def _grid(size: int) -> np.ndarray:
    ax = np.arange(-(size // 2), size // 2 + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    return np.stack([xx, yy], axis=-1)


def _quadratic(step: dict[str, Any], size: int) -> np.ndarray:
    """``x^T Sigma^-1 x`` over the kernel grid, Sigma rotated by theta."""
    sx, sy, theta = step["sigma_x"], step["sigma_y"], step["theta"]
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    sigma = rot @ np.diag([sx * sx, sy * sy]) @ rot.T
    grid = _grid(size)
    return np.sum((grid @ np.linalg.inv(sigma)) * grid, axis=-1)


def _line_kernel(size: int, index: int) -> np.ndarray:
    """One of the ``2 * size - 2`` lines through the centre (pyblur's line dictionary)."""
    from skimage.draw import line

    half = (size - 1) // 2
    ends = [(i, 0) for i in range(half, size)] + [(size - 1, j) for j in range(1, size)] + \
        [(i, 0) for i in range(1, half)]
    r0, c0 = ends[index]
    kernel = np.zeros((size, size), np.float64)
    rr, cc = line(r0, c0, size - 1 - r0, size - 1 - c0)
    kernel[rr, cc] = 1.0
    return kernel


def _defocus_kernel(size: int) -> np.ndarray:
    centre = size // 2
    yy, xx = np.mgrid[0:size, 0:size]
    kernel = (((yy - centre) ** 2 + (xx - centre) ** 2) < (centre + 1) ** 2).astype(np.float64)
    if size in (3, 5):
        kernel[0, 0] = kernel[0, -1] = kernel[-1, 0] = kernel[-1, -1] = 0.0
    return kernel


def _sinc_kernel(size: int, omega: float) -> np.ndarray:
    from scipy import special

    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.sqrt((xx - c) ** 2 + (yy - c) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = omega * special.j1(omega * r) / (2 * np.pi * r)
    kernel[size // 2, size // 2] = omega**2 / (4 * np.pi)
    return kernel


def blur_kernel(step: dict[str, Any]) -> np.ndarray:
    """The normalised kernel a ``wild-blur`` step records."""
    size, kind = step["kernel_size"], step["kernel"]
    if kind == "sinc":
        kernel = _sinc_kernel(size, step["omega_c"])
    elif kind in ("iso", "aniso"):
        kernel = np.exp(-0.5 * _quadratic(step, size))
    elif kind.startswith("generalized"):
        kernel = np.exp(-0.5 * np.power(_quadratic(step, size), step["beta"]))
    elif kind.startswith("plateau"):
        kernel = np.reciprocal(np.power(_quadratic(step, size), step["beta"]) + 1)
    elif kind == "defocus":
        kernel = _defocus_kernel(size)
    elif kind == "box":
        kernel = np.ones((size, size), np.float64)
    elif kind == "line":
        kernel = _line_kernel(step["line_size"], step["line_index"])
    else:
        raise ValueError(f"unknown wild blur kernel {kind!r}")
    kernel = kernel / np.sum(kernel)
    if step.get("noise_seed") is not None:
        kernel = kernel * np.random.default_rng(step["noise_seed"]).uniform(*KERNEL_NOISE, size=kernel.shape)
        kernel = kernel / np.sum(kernel)
    return kernel


# ------------------------------------------------------------------ operations (float32 in [0, 1])


def _wiener(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    out = np.empty_like(img)
    for ch in range(img.shape[2]):
        padded = np.pad(img[..., ch].astype(np.float64), WIENER_PAD, mode="symmetric")
        pad = (padded.shape[0] - kernel.shape[0], padded.shape[1] - kernel.shape[1])
        k = np.pad(kernel, (((pad[0] + 1) // 2, pad[0] // 2), ((pad[1] + 1) // 2, pad[1] // 2)))
        k = np.fft.fft2(np.fft.ifftshift(k))
        k = np.conj(k) / (np.abs(k) ** 2 + WIENER_K)
        filtered = np.real(np.fft.ifft2(np.fft.fft2(padded) * k))
        out[..., ch] = filtered[WIENER_PAD:-WIENER_PAD, WIENER_PAD:-WIENER_PAD]
    return out


def _blur(img: np.ndarray, step: dict[str, Any]) -> np.ndarray:
    kernel = blur_kernel(step)
    blurred = cv2.filter2D(img, -1, kernel.astype(np.float32))
    if not step.get("deblur"):
        return blurred
    out = _wiener(blurred, kernel)
    if step.get("blend") is not None:
        p = step["blend"]
        out = cv2.addWeighted(blurred, p, out, 1 - p, 0)
    return out


def _noise(img: np.ndarray, step: dict[str, Any]) -> np.ndarray:
    rng = np.random.default_rng(step["seed"])
    if step["gaussian"]:
        g = step["gaussian"]
        shape = img.shape[:2] if g["gray"] else img.shape
        noise = rng.standard_normal(shape).astype(np.float32) * np.float32(g["sigma"] / 255.0)
        if g["gray"]:
            noise = np.repeat(noise[..., None], 3, axis=2)
        img = np.clip(img + noise, 0, 1)
    if step["poisson"]:
        p = step["poisson"]
        base = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if p["gray"] else img
        base = np.clip(np.rint(base * 255.0), 0, 255) / 255.0
        vals = 2 ** np.ceil(np.log2(len(np.unique(base))))
        noise = (rng.poisson(base * vals) / vals).astype(np.float32) - base
        if p["gray"]:
            noise = np.repeat(noise[..., None], 3, axis=2)
        img = np.clip(img + noise * p["scale"], 0, 1).astype(np.float32)
    return (np.clip(np.rint(img * 255.0), 0, 255) / 255.0).astype(np.float32)


def _jpeg(img: np.ndarray, step: dict[str, Any]) -> np.ndarray:
    bgr = cv2.cvtColor(np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(step["quality"])])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _resize(img: np.ndarray, step: dict[str, Any]) -> np.ndarray:
    return cv2.resize(img, (step["width"], step["height"]), interpolation=INTERPOLATIONS[step["interpolation"]])


OPERATIONS = {"wild-blur": _blur, "wild-noise": _noise, "wild-jpeg": _jpeg, "wild-resize": _resize}


def apply(img: np.ndarray, params: dict[str, Any]) -> Result:
    """Run a recorded wild chain on an RGB uint8 image; the LQ has the input's size."""
    current = np.ascontiguousarray(img, dtype=np.float32) / np.float32(255.0)
    for step in params["steps"]:
        current = OPERATIONS[step["name"]](current, step)
        if current.ndim == 2:  # cv2 drops a singleton channel axis; images here are always RGB
            raise RuntimeError(f"{step['name']} lost the colour channels")
    if current.shape[:2] != img.shape[:2]:
        raise RuntimeError(f"wild chain ended at {current.shape[:2]}, expected {img.shape[:2]}")
    return Result(lq=np.clip(np.rint(current * 255.0), 0, 255).astype(np.uint8))
