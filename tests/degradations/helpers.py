"""Measurements and checks that several per-type test files share (plain functions; fixtures are in conftest)."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path

import cv2
import numpy as np

import degradations as D

PRESETS = ("light", "medium", "heavy")
PHOTOS = ("astronaut", "chelsea", "coffee")
SEEDS = (0, 1, 2)
WEATHER_MAP = {"raindrop": "mask", "rainy": "rain", "snowy": "snow"}  # each weather type's side map
V1_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1_raindrop_shadowed.json"


def gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)


def shift(a: np.ndarray, b: np.ndarray) -> float:
    (dx, dy), _ = cv2.phaseCorrelate(gray(a), gray(b))
    return math.hypot(dx, dy)


def resized(img: np.ndarray, side: int) -> np.ndarray:
    """``img`` with its long side resized to ``side`` (area interpolation)."""
    scale = side / max(img.shape[:2])
    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
    return np.ascontiguousarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA))


def within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] - 1e-12 <= value <= bounds[1] + 1e-12


def inside(value: float, bounds) -> bool:
    lo, hi = (bounds, bounds) if not isinstance(bounds, (tuple, list)) else sorted(bounds)
    return lo - 1e-9 <= value <= hi + 1e-9


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def v1_fixture_cases(name: str) -> list[dict]:
    """The recorded version-1 cases of ``name`` (raindrop or shadowed) from the shared fixture file."""
    cases = json.loads(V1_FIXTURE.read_text())["cases"]
    assert {c["params"]["name"] for c in cases} == {"raindrop", "shadowed"}
    return [c for c in cases if c["params"]["name"] == name]


def psnr_table(photos: dict[str, np.ndarray], name: str) -> dict[str, list[float]]:
    """Input PSNR of ``name`` per preset over :data:`PHOTOS` x :data:`SEEDS`."""
    table: dict[str, list[float]] = {}
    for severity in PRESETS:
        values = []
        for photo in PHOTOS:
            for seed in SEEDS:
                lq, _ = D.degrade(photos[photo], name, seed=seed, severity=severity)
                values.append(D.psnr(photos[photo], lq))
        table[severity] = values
    return table


def check_thread_count_independent(img: np.ndarray, params: dict) -> None:
    """Shards must be byte-identical whatever the worker/thread layout (filter2D may use a DFT)."""
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = D.replay(img, params).lq
        cv2.setNumThreads(4)
        assert np.array_equal(D.replay(img, params).lq, single), params["name"]
    finally:
        cv2.setNumThreads(before)


# ------------------------------------------------------------------ weather (raindrop, rainy, snowy)


def without_veil(params: dict) -> dict:
    params = copy.deepcopy(params)
    if "veil_transmission" in params:
        params["veil_transmission"], params["veil_airlight"] = 1.0, 0.0
    return params


def streak_angle(layer: np.ndarray) -> float:
    """Streak direction (deg from vertical, + = lower end right) from the structure tensor."""
    f = cv2.GaussianBlur(np.pad(layer.astype(np.float32), 4), (0, 0), 2.0)  # smooth out the aliasing
    gy, gx = np.gradient(f.astype(np.float64))
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    # gradients are perpendicular to the streaks: the streak direction is the minor eigenvector
    evals, evecs = np.linalg.eigh(np.array([[jxx, jxy], [jxy, jyy]]))
    vx, vy = evecs[:, 0]
    if vy < 0:
        vx, vy = -vx, -vy
    return float(np.degrees(np.arctan2(vx, vy)))


def check_weather_psnr_bands(name: str, three: dict[str, np.ndarray], bands: dict) -> None:
    """Per-image input PSNR inside each preset's ``(lo, hi, median)`` band (median within +-2.5 dB),
    and monotone in severity."""
    medians = []
    for severity in PRESETS:
        lo, hi, centre = bands[severity]
        values = []
        for img in three.values():
            for seed in SEEDS:
                lq, _ = D.degrade(img, name, seed=seed, severity=severity)
                values.append(D.psnr(img, lq))
        assert lo <= min(values) and max(values) <= hi, (severity, [round(v, 1) for v in values])
        assert abs(float(np.median(values)) - centre) <= 2.5, (severity, float(np.median(values)))
        medians.append(float(np.median(values)))
    assert medians[0] > medians[1] > medians[2], f"severity must be monotone, got {medians}"


def check_side_map_grows(name: str, img: np.ndarray) -> None:
    coverage = []
    for severity in PRESETS:
        params = D.sample_params(name, np.random.default_rng(4), img.shape, severity)
        m = D.get(name).apply(img, params).maps[WEATHER_MAP[name]]
        assert m.shape == img.shape[:2] and m.dtype == np.uint8
        assert m.max() > 128, "the side map must show the particles"
        coverage.append(float(m.astype(np.float64).mean()))
    assert coverage[0] < coverage[1] < coverage[2], coverage


def check_map_zero_means_unchanged(name: str, severity: str, astronaut: np.ndarray) -> None:
    img = astronaut[:200, :240]
    params = without_veil(D.sample_params(name, np.random.default_rng(11), img.shape, severity))
    result = D.get(name).apply(img, params)
    m = result.maps[WEATHER_MAP[name]]
    diff = np.abs(result.lq.astype(np.int16) - img.astype(np.int16)).max(axis=2)
    assert (diff[m == 0] == 0).all(), "a pixel with map value 0 must be unchanged"
    assert (diff > 0).any()
    strong = m > 128
    if strong.any():  # where the particle is nearly opaque the image visibly changed
        assert float((diff[strong] > 0).mean()) > 0.5


def check_same_weather_at_any_resolution(name: str, astronaut: np.ndarray) -> None:
    small = astronaut[::2, ::2].copy()
    params = D.sample_params(name, np.random.default_rng(3), astronaut.shape, "medium")
    big_cover = D.get(name).apply(astronaut, params).maps[WEATHER_MAP[name]].mean()
    small_cover = D.get(name).apply(small, params).maps[WEATHER_MAP[name]].mean()
    assert 0.6 < small_cover / big_cover < 1.6


def check_large_input(name: str) -> None:
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, size=(3000, 4000, 3), dtype=np.uint8)
    lq, params = D.degrade(big, name, seed=1, severity="heavy")
    assert lq.shape == big.shape and lq.dtype == np.uint8
    assert not np.array_equal(lq[::50, ::50], big[::50, ::50])
