"""jpeg-compressed: real baseline JPEG through OpenCV (libjpeg-turbo), encoded from BGR.

albumentations' ImageCompression hands RGB arrays to ``cv2.imencode``, so its luma/chroma
transform runs with red and blue swapped; here the array is converted to BGR first, so the
artifacts are those of an actual JPEG of the image.

Parameters: ``quality`` (IJG quality factor), ``subsampling`` (420 / 422 / 444 chroma), and an
optional second compression (``double``) on a grid shifted by (dx, dy) pixels, as in
double-JPEG (FBCNN) data. The shift is undone after decoding, so LQ stays pixel-aligned.
Presets: QF 40 / 20 / 10 (10 is DA-CLIP's setting); ``random`` covers QF 10-90, all
subsamplings and double compression with probability 0.25.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, choose, draw_int

_SAMPLING = {
    420: cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    422: cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    444: cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
}


class JpegCompressed:
    name = "jpeg-compressed"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {"quality": 40, "subsampling": 420},
        "medium": {"quality": 20, "subsampling": 420},
        "heavy": {"quality": 10, "subsampling": 420},
        "random": {
            "quality": (10, 90),
            "subsampling": {"420": 0.6, "422": 0.2, "444": 0.2},
            "double_probability": 0.25,
            "second_quality": (30, 95),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        sub = spec["subsampling"]
        params: dict[str, Any] = {
            "quality": draw_int(rng, spec["quality"]),
            "subsampling": int(choose(rng, sub)) if isinstance(sub, dict) else int(sub),
            "double": None,
        }
        if rng.random() < spec.get("double_probability", 0.0):
            params["double"] = {
                "quality": draw_int(rng, spec["second_quality"]),
                "dx": int(rng.integers(0, 8)),
                "dy": int(rng.integers(0, 8)),
            }
        return params

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        out = jpeg_roundtrip(img, params["quality"], params["subsampling"])
        second = params.get("double")
        if second:
            dy, dx = second["dy"], second["dx"]
            shifted = np.pad(out, ((dy, 0), (dx, 0), (0, 0)), mode="reflect" if min(out.shape[:2]) > 8 else "edge")
            out = jpeg_roundtrip(shifted, second["quality"], params["subsampling"])[dy:, dx:]
        return Result(lq=np.ascontiguousarray(out))


def jpeg_roundtrip(img: np.ndarray, quality: int, subsampling: int = 420) -> np.ndarray:
    """Encode an RGB uint8 image as JPEG (via BGR) and decode it back to RGB."""
    flags = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality), int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR), _SAMPLING[subsampling]]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), flags)
    if not ok:
        raise RuntimeError("OpenCV failed to encode JPEG")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR_RGB)
