"""Random camera-shake trajectories and their blur kernels (Boracchi & Foi 2012).

The trajectory is a 2-D random walk with constant speed and inertia, as in Boracchi & Foi's
model and DeblurGAN's ``generate_trajectory.py``: at each step the velocity gets a Gaussian kick
(``gaussian_shake``), a pull back towards the start (``centripetal``, proportional to the
distance travelled) and, rarely, an impulsive near-reversal (``big_shake``); all three are
scaled by the ``anxiety``. DeblurGAN integrates 2000 steps; here :data:`STEPS` coarse steps
represent the same ``exposure * 2000`` reference steps (Brownian scaling: kicks grow with the
square root of the step, drift and shake probability linearly), so a trajectory costs well under
a millisecond and its shape does not depend on the image size.

``exposure`` is the fraction of DeblurGAN's full 2000-step walk that the shutter integrates:
short exposures are nearly straight, full ones curl. The exposed path is then scaled to the
requested arc ``length`` in pixels, densified to 1/4-pixel spacing and splatted bilinearly
("triangle" splatting) into an odd-sized kernel. The points are centred on their mean before
splatting; bilinear splatting keeps first moments, so the kernel's centroid is exactly the
centre pixel and the blurred image stays aligned with the sharp one.
"""

from __future__ import annotations

import cmath
import math

import numpy as np

STEPS = 256  # coarse steps simulated per trajectory
REF_STEPS = 2000  # DeblurGAN's iterations for a full exposure
REF_LENGTH = 60.0  # DeblurGAN's max_len: the unit in which the centripetal pull acts
SPLAT_SPACING = 0.25  # pixels between splatted points along the path


def camera_trajectory(
    rng: np.random.Generator,
    anxiety: float,
    exposure: float,
    centripetal: float,
    big_shake: float,
    gaussian_shake: float,
    angle: float,
    steps: int = STEPS,
) -> np.ndarray:
    """Positions (steps+1, 2) as (x, y) of a random camera path, starting at the origin.

    Units are DeblurGAN's: a full exposure (``exposure=1``) has arc length :data:`REF_LENGTH`.
    ``angle`` is the initial direction in degrees.
    """
    if not 0.0 < exposure <= 1.0:
        raise ValueError(f"exposure must be in (0, 1], got {exposure}")
    if anxiety < 0 or centripetal < 0 or big_shake < 0 or gaussian_shake < 0:
        raise ValueError("anxiety, centripetal, big_shake and gaussian_shake must be non-negative")
    ref_step = REF_LENGTH / (REF_STEPS - 1)
    scale = exposure * REF_STEPS / steps  # reference steps per simulated step
    step = ref_step * scale
    kicks = rng.standard_normal((steps, 2)).tolist()
    shake_draws = rng.random(steps).tolist()
    shake_jitter = rng.random(steps).tolist()

    kick_gain = anxiety * gaussian_shake * math.sqrt(scale) * step
    pull_gain = anxiety * centripetal * scale * step
    p_big = big_shake * anxiety * scale
    v = cmath.exp(1j * math.radians(angle)) * step
    x = 0j
    points = [x]
    for t in range(steps):
        dv = kick_gain * complex(kicks[t][0], kicks[t][1]) - pull_gain * x
        if shake_draws[t] < p_big:  # impulsive shake: the camera jerks back, roughly reversing
            dv += 2.0 * v * cmath.exp(1j * (math.pi + shake_jitter[t] - 0.5))
        v += dv
        speed = abs(v)
        v = v * (step / speed) if speed > 0 else cmath.exp(1j * math.radians(angle)) * step
        x += v
        points.append(x)
    path = np.asarray(points, dtype=np.complex128)
    return np.stack([path.real, path.imag], axis=1)


def psf_from_trajectory(points: np.ndarray, length: float) -> np.ndarray:
    """Splat a constant-speed path, rescaled to arc ``length`` px, into a kernel summing to 1.

    The kernel is square and odd-sized; its centroid is the centre pixel (to float precision).
    """
    pts = np.asarray(points, dtype=np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    arc = float(seg.sum())
    n_dense = max(2, math.ceil(max(length, 0.0) / SPLAT_SPACING) + 1)
    if arc <= 0 or length <= 0:
        dense = np.zeros((n_dense, 2))
    else:  # resample uniformly in arc length, then scale to the requested length
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        s = np.linspace(0.0, arc, n_dense)
        dense = np.stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])], axis=1)
        dense *= length / arc
    dense -= dense.mean(axis=0)
    radius = math.ceil(float(np.abs(dense).max(initial=0.0))) + 1
    size = 2 * radius + 1
    pos = dense + radius
    base = np.floor(pos)
    frac = pos - base
    ix, iy = base[:, 0].astype(np.int64), base[:, 1].astype(np.int64)
    fx, fy = frac[:, 0], frac[:, 1]
    index = np.concatenate(
        [iy * size + ix, iy * size + ix + 1, (iy + 1) * size + ix, (iy + 1) * size + ix + 1]
    )
    weight = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    kernel = np.bincount(index, weights=weight, minlength=size * size).reshape(size, size)
    return (kernel / kernel.sum()).astype(np.float32)


def kernel_centroid(kernel: np.ndarray) -> tuple[float, float]:
    """(x, y) centroid of a kernel in pixel coordinates (the centre of a kxk kernel is (k-1)/2)."""
    k = np.asarray(kernel, dtype=np.float64)
    total = k.sum()
    ys, xs = np.indices(k.shape)
    return float((k * xs).sum() / total), float((k * ys).sum() / total)


def motion_kernel(
    seed: int,
    length: float,
    anxiety: float,
    exposure: float,
    centripetal: float,
    big_shake: float,
    gaussian_shake: float,
    angle: float,
) -> np.ndarray:
    """The blur kernel for one recorded parameter set (pure function of its arguments)."""
    rng = np.random.default_rng(seed)
    points = camera_trajectory(rng, anxiety, exposure, centripetal, big_shake, gaussian_shake, angle)
    return psf_from_trajectory(points, length)
