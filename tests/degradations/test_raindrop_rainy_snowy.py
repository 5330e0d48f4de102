"""Weather types (raindrop, rainy, snowy): documented PSNR bands, side maps that match what changed,
the physics each claims (refracted drops, streak direction, snow colour), and the shared kernels."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest

import degradations as D
from degradations import particles
from degradations.raindrop import drop_population

WEATHER = ("raindrop", "rainy", "snowy")
MAP_KEY = {"raindrop": "mask", "rainy": "rain", "snowy": "snow"}

# Per-image input PSNR bands (dB) documented in the README (raindrop) or each module's docstring (min-max over the bundled
# photos and 12 seeds), and the median they are centred on (checked within +-2.5 dB on 3 seeds).
BANDS = {
    ("raindrop", "light"): (28.0, 42.0, 33.5),
    ("raindrop", "medium"): (20.0, 31.5, 25.6),
    ("raindrop", "heavy"): (16.0, 27.0, 20.3),
    ("rainy", "light"): (22.5, 35.5, 28.0),
    ("rainy", "medium"): (17.0, 26.5, 21.6),
    ("rainy", "heavy"): (10.0, 15.5, 12.7),
    ("snowy", "light"): (24.0, 28.5, 26.1),
    ("snowy", "medium"): (16.0, 21.5, 18.7),
    ("snowy", "heavy"): (11.0, 16.0, 13.2),
}
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def three(photos):
    return {k: photos[k] for k in ("astronaut", "chelsea", "coffee")}


@pytest.mark.parametrize("name", WEATHER)
def test_input_psnr_inside_documented_bands_and_monotone(name, three):
    medians = []
    for severity in ("light", "medium", "heavy"):
        lo, hi, centre = BANDS[(name, severity)]
        values = []
        for img in three.values():
            for seed in SEEDS:
                lq, _ = D.degrade(img, name, seed=seed, severity=severity)
                values.append(D.psnr(img, lq))
        assert lo <= min(values) and max(values) <= hi, (severity, [round(v, 1) for v in values])
        assert abs(float(np.median(values)) - centre) <= 2.5, (severity, float(np.median(values)))
        medians.append(float(np.median(values)))
    assert medians[0] > medians[1] > medians[2], f"severity must be monotone, got {medians}"


@pytest.mark.parametrize("name", WEATHER)
def test_side_map_is_nonempty_and_grows_with_severity(name, astronaut):
    coverage = []
    for severity in ("light", "medium", "heavy"):
        params = D.sample_params(name, np.random.default_rng(4), astronaut.shape, severity)
        m = D.get(name).apply(astronaut, params).maps[MAP_KEY[name]]
        assert m.shape == astronaut.shape[:2] and m.dtype == np.uint8
        assert m.max() > 128, "the side map must show the particles"
        coverage.append(float(m.astype(np.float64).mean()))
    assert coverage[0] < coverage[1] < coverage[2], coverage


def _without_veil(params: dict) -> dict:
    params = copy.deepcopy(params)
    if "veil_transmission" in params:
        params["veil_transmission"], params["veil_airlight"] = 1.0, 0.0
    return params


@pytest.mark.parametrize("name", WEATHER)
@pytest.mark.parametrize("severity", ["medium", "heavy", "random"])
def test_map_zero_means_pixel_unchanged_and_changes_sit_on_the_map(name, severity, astronaut):
    img = astronaut[:200, :240]
    params = _without_veil(D.sample_params(name, np.random.default_rng(11), img.shape, severity))
    result = D.get(name).apply(img, params)
    m = result.maps[MAP_KEY[name]]
    diff = np.abs(result.lq.astype(np.int16) - img.astype(np.int16)).max(axis=2)
    assert (diff[m == 0] == 0).all(), "a pixel with map value 0 must be unchanged"
    assert (diff > 0).any()
    strong = m > 128
    if strong.any():  # where the particle is nearly opaque the image visibly changed
        assert float((diff[strong] > 0).mean()) > 0.5


def test_rain_is_a_screen_blend_and_the_veil_lifts_everything(astronaut):
    img = astronaut[:160, :160]
    params = D.sample_params("rainy", np.random.default_rng(2), img.shape, "heavy")
    assert params["veil_transmission"] < 1.0, "heavy rain has a veil"
    params["drop_radiance"] = 1.0  # white drops: Yang's screen blend (a grey drop may darken bright pixels)
    no_veil = D.get("rainy").apply(img, _without_veil(params))
    assert (no_veil.lq >= img).all(), "screen blending only brightens"
    veiled = D.get("rainy").apply(img, params)
    assert np.array_equal(veiled.maps["rain"], no_veil.maps["rain"])
    below = (no_veil.lq.astype(float) < params["veil_airlight"] * 255 - 10).all(axis=2)
    above = (no_veil.lq.astype(float) > params["veil_airlight"] * 255 + 10).all(axis=2)
    assert below.any() and above.any()
    assert (veiled.lq[below] > no_veil.lq[below]).all(), "the veil lifts what is darker than the airlight"
    assert (veiled.lq[above] < no_veil.lq[above]).all(), "and dims what is brighter"


def _streak_angle(layer: np.ndarray) -> float:
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


@pytest.mark.parametrize("angle", [-25.0, -8.0, 0.0, 12.0, 28.0])
def test_rain_streaks_follow_the_sampled_angle(angle, astronaut):
    img = astronaut[:256, :256]
    params = D.sample_params("rainy", np.random.default_rng(5), img.shape, "medium")
    params["angle"] = angle
    for layer in params["layers"]:
        layer["angle"] = angle
    rain = D.get("rainy").apply(img, params).maps["rain"]
    assert abs(_streak_angle(rain) - angle) < 3.0
    # and the sampler's per-layer angles stay around the shared direction
    sampled = D.sample_params("rainy", np.random.default_rng(6), img.shape, "heavy")
    assert all(abs(layer["angle"] - sampled["angle"]) <= 5.0 for layer in sampled["layers"])


def _one_drop(drop: dict, defocus: float) -> dict:
    return {"name": "raindrop", "severity": "medium", "version": 1, "drops": [drop], "defocus": defocus,
            "seed": 0}


def test_raindrop_shows_an_inverted_view_of_the_scene():
    # a vertical ramp, dark at the top: inside a drop the ramp must run the other way (a lens flips it)
    h = w = 256
    ramp = np.repeat(np.linspace(0, 255, h, dtype=np.float32)[:, None], w, axis=1)
    img = np.dstack([ramp, ramp, 255 - ramp]).round().astype(np.uint8)
    drop = {"x": 0.5, "y": 0.5, "radius": 0.12, "aspect": 1.0, "tail": 0.0, "zoom": 3.0, "rim": 0.0,
            "highlight": 0.0}
    result = D.replay(img, _one_drop(drop, defocus=1.0))
    lq, mask = result.lq.astype(np.float64), result.maps["mask"]
    r = 0.12 * h
    upper, lower = int(h / 2 - 0.5 * r), int(h / 2 + 0.5 * r)
    assert mask[upper, w // 2] == 255 and mask[lower, w // 2] == 255
    assert lq[upper, w // 2, 0] > lq[lower, w // 2, 0] + 20, "the drop's view must be upside down"
    assert np.abs(np.diff(lq[upper:lower, w // 2, 0])).max() < 30, "minified, blurred, no seams"
    assert mask[10, 10] == 0 and mask.astype(np.float64).mean() > 0.5 * np.pi * r * r * 255 / (h * w)


def test_raindrop_rim_is_darker_than_the_centre():
    img = np.full((200, 200, 3), 160, np.uint8)  # flat grey: only the drop's shading changes it
    drop = {"x": 0.5, "y": 0.5, "radius": 0.15, "aspect": 1.0, "tail": 0.0, "zoom": 3.0, "rim": 0.3,
            "highlight": 0.0}
    lq = D.replay(img, _one_drop(drop, defocus=0.5)).lq.astype(int)
    r = 0.15 * 200
    assert lq[100, 100, 0] == 160
    assert lq[100, int(100 + 0.9 * r), 0] < 150


def test_snow_is_near_white_with_a_blue_tint(astronaut):
    black = np.zeros((192, 192, 3), np.uint8)
    params = _without_veil(D.sample_params("snowy", np.random.default_rng(9), black.shape, "heavy"))
    result = D.get("snowy").apply(black, params)
    snow = result.maps["snow"].astype(np.float64)
    dense = snow >= 128
    assert dense.sum() > 50
    colour = (result.lq[dense] / (snow[dense, None] / 255.0)).mean(axis=0)  # on black, lq = Z * C
    assert np.allclose(colour, np.array(params["color"]) * 255, atol=4.0)
    assert colour.min() > 0.85 * 255 and colour[2] >= colour[0]
    assert params["color"][2] >= params["color"][1] >= params["color"][0]


@pytest.mark.parametrize("name", WEATHER)
def test_params_mean_the_same_weather_at_any_resolution(name, astronaut):
    small = astronaut[::2, ::2].copy()
    params = D.sample_params(name, np.random.default_rng(3), astronaut.shape, "medium")
    big_cover = D.get(name).apply(astronaut, params).maps[MAP_KEY[name]].mean()
    small_cover = D.get(name).apply(small, params).maps[MAP_KEY[name]].mean()
    assert 0.6 < small_cover / big_cover < 1.6


def test_large_input_works():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, size=(3000, 4000, 3), dtype=np.uint8)
    for name in WEATHER:
        lq, params = D.degrade(big, name, seed=1, severity="heavy")
        assert lq.shape == big.shape and lq.dtype == np.uint8
        assert not np.array_equal(lq[::50, ::50], big[::50, ::50])


def _inside(value: float, bounds) -> bool:
    lo, hi = (bounds, bounds) if not isinstance(bounds, (tuple, list)) else sorted(bounds)
    return lo - 1e-9 <= value <= hi + 1e-9


@pytest.mark.parametrize("severity", ["light", "medium", "heavy", "random"])
def test_sampled_values_stay_inside_the_documented_ranges(severity):
    shape = (300, 400, 3)
    for seed in range(8):
        rng = np.random.default_rng(seed)
        spec = D.get("rainy").ranges[severity]
        p = D.get("rainy").sample(rng, shape, severity)
        assert _inside(len(p["layers"]), spec["layers"]) and _inside(p["angle"], spec["angle"])
        for layer in p["layers"]:
            keys = ("diameter", "width", "density", "intensity", "blur")
            assert all(_inside(layer[k], spec[k]) for k in keys)
            assert 0.0 < layer["length"] <= 0.25  # derived from exposure and drop speed
        assert _inside(p["exposure"], spec["exposure"]) and _inside(p["drop_radiance"], spec["radiance"])
        assert p["veil_transmission"] == 1.0 or _inside(p["veil_transmission"], spec["transmission"])
        spec = D.get("snowy").ranges[severity]
        p = D.get("snowy").sample(rng, shape, severity)
        assert _inside(len(p["layers"]), spec["layers"]) and _inside(p["angle"], spec["angle"])
        for layer in p["layers"]:
            keys = ("radius", "density", "opacity", "defocus", "streak")
            assert all(_inside(layer[k], spec[k]) for k in keys)
        spec = D.get("raindrop").ranges[severity]
        p = D.get("raindrop").sample(rng, shape, severity)
        assert _inside(p["radius"][0], spec["r_min"]) and _inside(p["radius"][1], spec["r_max"])
        assert all(_inside(p[k], spec[k]) for k in ("count", "size_exponent", "zoom", "brightness", "defocus"))
        drops = drop_population(p, shape[:2])
        assert len(drops["radius"]) == round(p["count"] * shape[0] * shape[1] / min(shape[:2]) ** 2)
        side = min(shape[:2])
        assert (drops["radius"] >= p["radius"][0] * side - 1e-9).all()
        assert (drops["radius"] <= p["radius"][1] * side + 1e-9).all()
        assert ((drops["x"] >= 0) & (drops["x"] <= shape[1]) & (drops["y"] >= 0) & (drops["y"] <= shape[0])).all()


# shared machinery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [-30.0, 0.0, 17.0])
def test_line_kernel_is_centred_with_unit_peak_and_the_right_length(angle):
    k = particles.line_kernel(40, angle)
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1
    assert k.max() == pytest.approx(1.0)
    ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
    cy, cx = (k * ys).sum() / k.sum(), (k * xs).sum() / k.sum()
    assert abs(cy - k.shape[0] // 2) < 0.3 and abs(cx - k.shape[1] // 2) < 0.3
    extent = np.hypot(*(np.array(k.shape) - 1)) if angle else k.shape[0] - 1
    assert 36 <= extent <= 46
    assert abs(_streak_angle(k) - angle) < 2.0


def test_disk_kernel_area_and_tiny_flakes():
    for radius in (1.0, 3.0, 8.0):
        assert particles.disk_kernel(radius).sum() == pytest.approx(np.pi * radius**2, rel=0.1)
    assert particles.disk_kernel(0.3).sum() == pytest.approx(np.pi * 0.09, rel=0.05)


def test_render_layer_reaches_the_borders():
    rng = np.random.default_rng(0)
    kernel = particles.line_kernel(21, 0.0)
    layer = particles.render_layer(rng, (300, 300), 0.01, kernel, 1.0, 1.0)
    border, centre = layer[:10].mean(), layer[100:200].mean()
    assert border > 0.6 * centre, "particles centred outside the frame must reach into it"


def test_work_shape_caps_large_images():
    assert particles.work_shape(512, 512) == (512, 512)
    assert particles.work_shape(3000, 4000) == (768, 1024)
    assert particles.work_shape(1, 1) == (1, 1)
