"""Realism figures of raindrop and shadowed, params version 1 (old look) beside version 2. Prints JSON.

    python bench/realism.py [--seeds 12]

On the bundled photos (astronaut, chelsea, coffee), ``--seeds`` seeds each, per severity:
- both: input PSNR per image (median, min, max), as the README's "What each type models" table;
- raindrop: drops per square frame and per megapixel at 512x512, median radius (fraction of the
  short side), fraction of drops below 2 % of the short side, mean of the ``mask`` map (coverage);
- shadowed: median 10-90 % edge width of the matte across its boundary (px at a 512-px short
  side) and the luminance ratio LQ/HQ inside the shadow (matte > 0.9).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import degradations as D  # noqa: E402
from degradations.legacy import raindrop_v1, shadowed_v1  # noqa: E402
from degradations.raindrop import drop_population  # noqa: E402
from degradations.realism import darkening_ratio, edge_width_10_90  # noqa: E402

SAMPLERS = {("raindrop", 1): raindrop_v1.sample, ("shadowed", 1): shadowed_v1.sample}


def params_for(name: str, version: int, seed: int, shape: tuple[int, ...], severity: str) -> dict:
    rng = np.random.default_rng(seed)
    if version == 1:
        return {"name": name, "severity": severity, "version": 1, **SAMPLERS[(name, 1)](rng, shape, severity)}
    return D.sample_params(name, rng, shape, severity)


def drop_radii(params: dict, shape: tuple[int, int]) -> np.ndarray:
    """Drop radii as fractions of the short side, for either version."""
    if params["version"] == 1:
        return np.array([d["radius"] for d in params["drops"]])
    return drop_population(params, shape)["radius"] / min(shape)


def measure(name: str, version: int, photos: dict[str, np.ndarray], seeds: int) -> dict:
    out = {}
    for severity in ("light", "medium", "heavy"):
        psnrs, extra = [], []
        for img in photos.values():
            for seed in range(seeds):
                params = params_for(name, version, seed, img.shape, severity)
                result = D.replay(img, params)
                psnrs.append(D.psnr(img, result.lq))
                if name == "raindrop":
                    radii = drop_radii(params, img.shape[:2])
                    square = len(radii) * min(img.shape[:2]) ** 2 / (img.shape[0] * img.shape[1])
                    extra.append([square, square / (512 * 512 / 1e6), float(np.median(radii)),
                                  float((radii < 0.02).mean()), float(result.maps["mask"].mean() / 255)])
                else:
                    matte = result.maps["matte"].astype(np.float32) / 255
                    width = edge_width_10_90(matte) * 512 / min(img.shape[:2])
                    extra.append([width, darkening_ratio(img, result.lq, matte)])
        e = np.nanmedian(np.array(extra, dtype=np.float64), axis=0)
        row = {"psnr_median": round(float(np.median(psnrs)), 1), "psnr_min": round(min(psnrs), 1),
               "psnr_max": round(max(psnrs), 1)}
        keys = (("drops_per_frame", "drops_per_mp_at_512", "median_radius", "below_2pct", "mask_mean")
                if name == "raindrop" else ("edge_10_90_px_at_512", "darkening_ratio"))
        row.update({k: round(float(v), 4) for k, v in zip(keys, e)})
        out[severity] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    from skimage import data

    photos = {n: np.ascontiguousarray(getattr(data, n)()) for n in ("astronaut", "chelsea", "coffee")}
    report = {f"{name} v{version}": measure(name, version, photos, args.seeds)
              for name in ("raindrop", "shadowed") for version in (1, 2)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
