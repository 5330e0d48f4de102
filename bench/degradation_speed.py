"""Milliseconds per 512x512 image for each degradation type, next to the closest albumentations 2.0.8
transform, timed side by side in the same run on one thread. Prints JSON.

    python bench/degradation_speed.py [--repeats 15] [--severity medium] [--size 512]

Ours is timed as a user runs it: ``sample_params`` + ``apply`` with a fresh seed per call; the
albumentations transform gets a fresh seed per call too (``set_random_seed``). Calls alternate
between the two so background load hits both alike. ``same_physics`` says where the comparison is
like for like (only there does "faster" mean anything); elsewhere albumentations does something
simpler (see the ``note``). A type that is not implemented yet is reported as missing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported
os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"  # before albumentations is imported: no network call

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import degradations as D  # noqa: E402

# name -> (albumentations transform, its settings, same physics?, note)
COUNTERPARTS: dict[str, tuple[str, dict[str, Any], bool, str]] = {
    "motion-blurry": ("MotionBlur", {"blur_limit": (15, 31)}, False,
                      "straight binary line kernel in sRGB; ours: camera-trajectory PSF in linear light"),
    "hazy": ("RandomFog", {"fog_coef_range": (0.3, 0.5)}, False,
             "white circles plus global blur; ours: scattering model with a depth map"),
    "jpeg-compressed": ("ImageCompression", {"quality_range": (20, 20)}, False,
                        "same codec (libjpeg-turbo via cv2), but albumentations encodes the RGB array as if it "
                        "were BGR and skips the colour conversion a correct JPEG needs (its output is ~30 dB "
                        "from a real JPEG of the image); that conversion is the whole time difference"),
    "low-light": ("RandomGamma", {"gamma_limit": (250, 350)}, False,
                  "a gamma LUT; ours: uneven illumination, Bayer shot/read noise through a camera pipeline"),
    "noisy": ("GaussNoise", {"std_range": (25 / 255, 25 / 255)}, True, "AWGN sigma 25 on both sides"),
    "raindrop": ("Spatter", {"mode": "rain"}, False,
                 "tinted additive blobs; ours: dense defocused refractive drops with a flipped, blurred view"),
    "rainy": ("RandomRain", {}, False, "identical straight lines that darken; ours: layered translucent streaks, drop radiance, veil"),
    "shadowed": ("RandomShadow", {"shadow_roi": (0, 0, 1, 1), "num_shadows_limit": (1, 3)}, False,
                 "hard-edged, possibly self-intersecting polygons, uniform scaling; ours: object silhouettes "
                 "with a distance-dependent penumbra, per-channel affine darkening, matte output"),
    "snowy": ("RandomSnow", {}, False, "bleaches bright pixels; ours: layered defocused flakes with streaks"),
    "uncompleted": ("CoarseDropout", {"num_holes_range": (1, 8), "hole_height_range": (0.1, 0.25),
                                      "hole_width_range": (0.1, 0.25), "fill": 255}, False,
                    "rectangles only, no hole-ratio control; ours: brush strokes and boxes in a hole-ratio band"),
}


def _ours(name: str, img: np.ndarray, severity: str) -> Callable[[int], None]:
    deg = D.get(name)

    def run(seed: int) -> None:
        params = D.sample_params(name, np.random.default_rng(seed), img.shape, severity)
        deg.apply(img, params)

    return run


def _albumentations(name: str, img: np.ndarray) -> Callable[[int], None]:
    import albumentations as A

    transform_name, settings, _, _ = COUNTERPARTS[name]
    transform = getattr(A, transform_name)(p=1.0, **settings)

    def run(seed: int) -> None:
        transform.set_random_seed(seed)
        transform(image=img)

    return run


def _time(fn: Callable[[int], None], seed: int) -> float:
    start = time.perf_counter()
    fn(seed)
    return (time.perf_counter() - start) * 1000.0


def bench(img: np.ndarray, repeats: int, severity: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in D.NAMES:
        transform_name, settings, same, note = COUNTERPARTS[name]
        entry: dict[str, Any] = {"albumentations": transform_name, "albumentations_settings": settings,
                                 "same_physics": same, "note": note}
        try:
            ours = _ours(name, img, severity)
            ours(0)  # warm-up (imports, tables)
        except Exception as exc:  # a type another engineer has not finished: report, do not crash
            entry.update(status="missing", error=f"{type(exc).__name__}: {exc}")
            results[name] = entry
            continue
        theirs = _albumentations(name, img)
        theirs(0)
        ours_ms, theirs_ms = [], []
        for seed in range(1, repeats + 1):  # alternate, so background load hits both alike
            ours_ms.append(_time(ours, seed))
            theirs_ms.append(_time(theirs, seed))
        ours_median, theirs_median = statistics.median(ours_ms), statistics.median(theirs_ms)
        entry.update(
            status="ok",
            ms=round(ours_median, 2),
            albumentations_ms=round(theirs_median, 2),
            ratio=round(ours_median / theirs_median, 2) if theirs_median > 0 else None,
            within_60ms=ours_median <= 60.0,
        )
        if same:
            entry["faster_than_albumentations"] = ours_median < theirs_median
        results[name] = entry
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per type (median reported)")
    parser.add_argument("--severity", default="medium", choices=D.SEVERITIES)
    parser.add_argument("--size", type=int, default=512, help="square image side in pixels")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    from skimage import data

    img = np.ascontiguousarray(cv2.resize(data.astronaut(), (args.size, args.size), interpolation=cv2.INTER_AREA))
    import albumentations

    report = {
        "unit": f"ms per {args.size}x{args.size} image, median of {args.repeats}, one thread",
        "severity": args.severity,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
                     "albumentations": albumentations.__version__},
        "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()},
        "types": bench(img, args.repeats, args.severity),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
