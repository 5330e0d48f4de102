"""Benchmark ``make-dataset score``'s per-image work against the PNG decode floor, side by side.

512x512 crops of scikit-image's photos are PNG-encoded (``encode_image``, as shards store HQ
images). The floor decodes them (``decode_rgb``, the shard decoder); the scored run decodes
them and calls ``score_image``. One process, one thread (OpenCV and BLAS pinned to 1). Runs are
interleaved and the best of ``--repeats`` is kept, and each measure is also timed alone.

    python bench/quality_speed.py --images 20 --repeats 3

Prints JSON: images/s of the floor and of decode + score, their ratio, and ms per measure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pipelines.common.images import decode_rgb, encode_image  # noqa: E402
from pipelines.quality.score import MEASURES, score_image  # noqa: E402

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "motorcycle")


def inputs(n: int, side: int = 512) -> list[bytes]:
    from skimage import data

    out = []
    for i in range(n):
        name = PHOTOS[i % len(PHOTOS)]
        img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        out.append(encode_image(np.ascontiguousarray(np.roll(img, 7 * i, axis=1))))
    return out


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    pngs = inputs(args.images)
    score_image(decode_rgb(pngs[0]))  # warm caches (pristine model, shape grid, lazy imports)
    floor, scored = [], []
    for _ in range(args.repeats):
        floor.append(timed(decode_rgb, pngs))
        scored.append(timed(lambda b: score_image(decode_rgb(b)), pngs))
    rgbs = [decode_rgb(b) for b in pngs]
    per_measure = {name: round(1000 * min(timed(fn, rgbs) for _ in range(args.repeats)) / len(rgbs), 2)
                   for name, (_, fn) in MEASURES.items() if fn is not None}
    floor_rate, score_rate = args.images / min(floor), args.images / min(scored)
    print(json.dumps({
        "images": args.images, "size": "512x512", "threads": 1, "repeats": args.repeats,
        "decode_floor_images_per_s": round(floor_rate, 1),
        "decode_and_score_images_per_s": round(score_rate, 1),
        "of_the_floor": round(score_rate / floor_rate, 3),
        "ms_per_measure": per_measure,
        "python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
    }, indent=2))


if __name__ == "__main__":
    main()
