"""hazy: atmospheric scattering, I = J t + A (1 - t) with t = exp(-beta d).

J is the clean image, A the airlight colour, d a relative depth map and t the transmission,
saved as the ``transmission`` side map (float32 in [t_far, 1]). Haze only lowers contrast
towards A; it never blurs the scene. Depth comes from a provider (``degradations.depth``):

- ``heuristic`` (default, 75 % of samples): a flat-ground perspective prior below a random
  horizon (row 0.25-0.6 of the height, roll +-5 deg, far above it), mixed 80/20 with the
  colour-attenuation cue (Zhu et al. 2015) and refined by a guided filter (radius 3 % of the
  short side, eps 1e-3) so depth edges follow image edges;
- ``uniform`` (25 % of samples): constant depth 0.25-0.6, so the model does not learn that haze
  lives at the top of the frame;
- ``user``: a depth map you computed elsewhere (larger = farther, any units). Params hold only
  JSON scalars, so pass the array separately: ``apply_with_depth(img, params, depth)``, or
  ``Hazy(depth=depth)`` whose ``sample`` records ``{"source": "user"}``. Replaying such params
  needs the same array again.

Depth is relative (0 = at the camera, 1 = the far field: horizon and sky for the heuristic, the
map's maximum for user depth), so the strength is the far-field transmission ``t_far``:
beta = -ln(t_far) / d_far, i.e. t = t_far ** d, and t lies in [t_far, 1].

Parameters (all recorded): ``t_far``; ``airlight`` (3 values, sRGB-encoded: A in 0.7-1.0 plus
a +-0.03 tint per channel); ``domain``: ``srgb`` applies the model to sRGB values as RESIDE (the
DA-CLIP training data) did, ``linear`` applies it to linear radiance (physically exact; A is
decoded to linear too); ``depth``: the provider and its parameters. Presets use ``srgb`` and
differ in t_far (light 0.6-0.75, medium 0.35-0.5, heavy 0.1-0.25); ``random`` draws t_far in
0.1-0.75 and either domain.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Result, check_severity, choose, draw
from .color import linear_to_srgb8, quantize, srgb_to_linear, to_float, uint8_to_linear
from .depth import heuristic_depth, uniform_depth, user_depth

DOMAINS = ("srgb", "linear")
DEPTH_SOURCES = ("heuristic", "uniform", "user")
_COMMON: dict[str, Any] = {
    "airlight": (0.7, 1.0),
    "tint": 0.03,
    "uniform_probability": 0.25,
    "uniform_depth": (0.25, 0.6),
    "horizon": (0.25, 0.6),
    "ground_scale": (0.05, 0.3),
    "roll": (-5.0, 5.0),
    "cap_weight": 0.2,
    "radius_fraction": 0.03,
    "eps": 1e-3,
}


class Hazy:
    name = "hazy"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {"t_far": (0.6, 0.75), "domain": "srgb", **_COMMON},
        "medium": {"t_far": (0.35, 0.5), "domain": "srgb", **_COMMON},
        "heavy": {"t_far": (0.1, 0.25), "domain": "srgb", **_COMMON},
        "random": {"t_far": (0.1, 0.75), "domain": {"srgb": 0.5, "linear": 0.5}, **_COMMON},
    }

    def __init__(self, depth: np.ndarray | None = None) -> None:
        """``depth``: optional user depth map (HxW, larger = farther) used for every image.

        It is validated here (finite, non-negative) and scaled to [0, 1] once.
        """
        self.depth = None if depth is None else user_depth(depth, np.shape(depth)[:2])

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        domain = spec["domain"] if isinstance(spec["domain"], str) else choose(rng, spec["domain"])
        t_far = draw(rng, spec["t_far"])
        base = draw(rng, spec["airlight"])
        tint = rng.uniform(-spec["tint"], spec["tint"], size=3)
        airlight = [float(v) for v in np.clip(base + tint, 0.0, 1.0)]
        depth: dict[str, Any]
        if self.depth is not None:
            depth = {"source": "user"}
        elif rng.random() < spec["uniform_probability"]:
            depth = {"source": "uniform", "value": draw(rng, spec["uniform_depth"])}
        else:
            depth = {
                "source": "heuristic",
                "horizon": draw(rng, spec["horizon"]),
                "ground_scale": draw(rng, spec["ground_scale"]),
                "roll": draw(rng, spec["roll"]),
                "cap_weight": float(spec["cap_weight"]),
                "radius_fraction": float(spec["radius_fraction"]),
                "eps": float(spec["eps"]),
            }
        return {"t_far": t_far, "airlight": airlight, "domain": domain, "depth": depth}

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        if params["depth"]["source"] == "user":
            if self.depth is None:
                raise ValueError(
                    "these hazy params used a user depth map; replay them with "
                    "degradations.hazy.apply_with_depth(img, params, depth) or Hazy(depth=depth).apply"
                )
            return apply_with_depth(img, params, self.depth)
        return haze(img, params, depth_map(img, params["depth"]))


def apply_with_depth(img: np.ndarray, params: dict[str, Any], depth: np.ndarray) -> Result:
    """Apply haze with a user depth map (HxW, finite, >= 0, larger = farther; any units).

    Only ``t_far``, ``airlight`` and ``domain`` are read from ``params``; the depth provider
    recorded there is ignored (set ``params["depth"] = {"source": "user"}`` when you store them).
    """
    return haze(img, params, user_depth(depth, img.shape))


def depth_map(img: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Relative depth in [0, 1] for a recorded built-in provider spec."""
    source = spec["source"]
    if source == "uniform":
        return uniform_depth(img.shape, float(spec["value"]))
    if source == "heuristic":
        return heuristic_depth(
            img,
            horizon=float(spec["horizon"]),
            ground_scale=float(spec["ground_scale"]),
            roll=float(spec["roll"]),
            cap_weight=float(spec["cap_weight"]),
            radius_fraction=float(spec["radius_fraction"]),
            eps=float(spec["eps"]),
        )
    raise ValueError(f"unknown depth source {source!r}; valid: {', '.join(DEPTH_SOURCES)}")


def transmission_map(depth: np.ndarray, t_far: float) -> np.ndarray:
    """t = exp(-beta d) with beta = -ln(t_far) for depth in [0, 1] (1 = far field): float32 in [t_far, 1]."""
    if not 0.0 < t_far <= 1.0:
        raise ValueError(f"t_far must be in (0, 1], got {t_far}")
    t = np.exp(np.clip(depth, 0.0, 1.0) * np.float32(math.log(t_far)))
    return np.clip(t, np.float32(t_far), np.float32(1.0)).astype(np.float32)


def haze(img: np.ndarray, params: dict[str, Any], depth: np.ndarray) -> Result:
    """Composite I = J t + A (1 - t) in the recorded domain; returns LQ and the transmission."""
    t = transmission_map(depth, float(params["t_far"]))
    airlight = np.asarray(params["airlight"], dtype=np.float32)
    domain = params["domain"]
    if domain == "srgb":
        clean = to_float(img)
    elif domain == "linear":
        clean = uint8_to_linear(img)
        airlight = srgb_to_linear(airlight)
    else:
        raise ValueError(f"unknown hazy domain {domain!r}; valid: {', '.join(DOMAINS)}")
    hazy = (clean - airlight) * t[:, :, None] + airlight  # = J t + A (1 - t)
    lq = linear_to_srgb8(hazy) if domain == "linear" else quantize(hazy)
    return Result(lq=lq, maps={"transmission": t})
