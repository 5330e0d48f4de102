"""Realism figures of the four revised types, params version 1 (old look) beside version 2. Prints JSON.

    python bench/realism.py [--seeds 12] [--types raindrop,shadowed,low-light,rainy]

On the bundled photos (astronaut, chelsea, coffee), ``--seeds`` seeds each, per severity, the
median over images and seeds (see ``degradations.realism`` for what each measure means):
- all: input PSNR per image (median, min, max), as the README's "What each type models" table;
- raindrop: drops per square frame and per megapixel at 512x512, median radius (fraction of the
  short side), fraction of drops below 2 % of the short side, mean of the ``mask`` map (coverage);
- shadowed: median 10-90 % edge width of the matte across its boundary (px at a 512-px short
  side) and the luminance ratio LQ/HQ inside the shadow (matte > 0.9);
- low-light (photos at a 512-px long side): spatial variation of the illumination (CV of the
  blurred LQ/HQ linear-luminance ratio), relative chroma noise in the shadows over the highlights,
  and chroma over luma noise in the shadows (noise = LQ minus the same render with ``a = b = 0``);
- rainy (photos at a 512-px long side): from the ``rain`` map, streak coverage (pixels >= 0.1),
  streaks per megapixel, median streak width (px at 512) and median peak opacity.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import degradations as D  # noqa: E402
from degradations.raindrop import drop_population  # noqa: E402
from degradations.realism import (  # noqa: E402
    darkening_ratio,
    edge_width_10_90,
    illumination_cv,
    rain_streak_stats,
    shadow_chroma_noise,
)

TYPES = ("raindrop", "shadowed", "low-light", "rainy")
RESIZED = {"low-light", "rainy"}  # measured at a 512-px long side (the others on the photos as bundled)
SIDE = 512


def params_for(name: str, version: int, seed: int, shape: tuple[int, ...], severity: str) -> dict:
    rng = np.random.default_rng(seed)
    if version == 1:
        return {"name": name, "severity": severity, "version": 1, **D.get(name, 1).sample(rng, shape, severity)}
    return D.sample_params(name, rng, shape, severity)


def drop_radii(params: dict, shape: tuple[int, int]) -> np.ndarray:
    """Drop radii as fractions of the short side, for either version."""
    if params["version"] == 1:
        return np.array([d["radius"] for d in params["drops"]])
    return drop_population(params, shape)["radius"] / min(shape)


def raindrop_figures(img: np.ndarray, params: dict, result: D.Result) -> list[float]:
    radii = drop_radii(params, img.shape[:2])
    square = len(radii) * min(img.shape[:2]) ** 2 / (img.shape[0] * img.shape[1])
    return [square, square / (512 * 512 / 1e6), float(np.median(radii)),
            float((radii < 0.02).mean()), float(result.maps["mask"].mean() / 255)]


def shadowed_figures(img: np.ndarray, params: dict, result: D.Result) -> list[float]:
    matte = result.maps["matte"].astype(np.float32) / 255
    width = edge_width_10_90(matte) * 512 / min(img.shape[:2])
    return [width, darkening_ratio(img, result.lq, matte)]


def low_light_figures(img: np.ndarray, params: dict, result: D.Result) -> list[float]:
    clean = D.replay(img, {**params, "a": 0.0, "b": 0.0}).lq  # the same render without sensor noise
    dark_over_bright, chroma_over_luma = shadow_chroma_noise(clean, result.lq)
    return [illumination_cv(img, result.lq), dark_over_bright, chroma_over_luma]


def rainy_figures(img: np.ndarray, params: dict, result: D.Result) -> list[float]:
    s = rain_streak_stats(result.maps["rain"], params["angle"])
    return [s["coverage"], s["per_mp"], s["width"], s["peak"]]


FIGURES: dict[str, tuple[Callable[[np.ndarray, dict, D.Result], list[float]], tuple[str, ...]]] = {
    "raindrop": (raindrop_figures,
                 ("drops_per_frame", "drops_per_mp_at_512", "median_radius", "below_2pct", "mask_mean")),
    "shadowed": (shadowed_figures, ("edge_10_90_px_at_512", "darkening_ratio")),
    "low-light": (low_light_figures, ("illumination_cv", "chroma_noise_dark_over_bright", "chroma_over_luma_dark")),
    "rainy": (rainy_figures, ("streak_coverage", "streaks_per_mp", "streak_width_px_at_512", "streak_peak_opacity")),
}


def measure(name: str, version: int, photos: dict[str, np.ndarray], seeds: int) -> dict:
    figures, keys = FIGURES[name]
    out = {}
    for severity in ("light", "medium", "heavy"):
        psnrs, extra = [], []
        for img in photos.values():
            for seed in range(seeds):
                params = params_for(name, version, seed, img.shape, severity)
                result = D.replay(img, params)
                psnrs.append(D.psnr(img, result.lq))
                extra.append(figures(img, params, result))
        e = np.nanmedian(np.array(extra, dtype=np.float64), axis=0)
        row = {"psnr_median": round(float(np.median(psnrs)), 1), "psnr_min": round(min(psnrs), 1),
               "psnr_max": round(max(psnrs), 1)}
        row.update({k: round(float(v), 4) for k, v in zip(keys, e)})
        out[severity] = row
    return out


def long_side(img: np.ndarray, side: int) -> np.ndarray:
    """``img`` scaled so that its long side is ``side`` px (area filter down, cubic up)."""
    scale = side / max(img.shape[:2])
    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(img, size, interpolation=interpolation))


def parse_types(values: list[str], parser: argparse.ArgumentParser) -> list[str]:
    chosen = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in TYPES]
    if unknown or not chosen:
        parser.error(f"--types: choose from {', '.join(TYPES)} (got {', '.join(unknown) or 'nothing'})")
    return [t for t in TYPES if t in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--types", nargs="+", default=[",".join(TYPES)], metavar="TYPE",
                        help=f"subset of {', '.join(TYPES)} (comma- or space-separated)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    types = parse_types(args.types, parser)
    from skimage import data

    photos = {n: np.ascontiguousarray(getattr(data, n)()) for n in ("astronaut", "chelsea", "coffee")}
    resized = {n: long_side(img, SIDE) for n, img in photos.items()}
    report = {f"{name} v{version}": measure(name, version, resized if name in RESIZED else photos, args.seeds)
              for name in types for version in (1, 2)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
