"""The contract every registered degradation type keeps (one test, parametrized over NAMES)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import degradations as D

SEVERITIES = ("light", "medium", "heavy", "random")


def _crop(img: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.ascontiguousarray(img[:h, :w])


@pytest.mark.parametrize("name", D.NAMES)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_deterministic_replay_shape_dtype(name, severity, astronaut):
    img = _crop(astronaut, 129, 161)  # odd sizes on purpose
    lq, params = D.degrade(img, name, seed=7, severity=severity)
    assert lq.shape == img.shape and lq.dtype == np.uint8
    lq2, params2 = D.degrade(img, name, seed=7, severity=severity)
    assert params == params2 and np.array_equal(lq, lq2), "same seed must give the same LQ"
    restored = json.loads(json.dumps(params))
    assert restored == params, "params must round-trip through JSON unchanged"
    assert np.array_equal(D.replay(img, restored).lq, lq), "replay from JSON params must be bit-exact"
    assert params["name"] == name and params["severity"] == severity


@pytest.mark.parametrize("name", D.NAMES)
def test_seed_changes_output_and_global_rng_untouched(name, astronaut):
    img = _crop(astronaut, 96, 128)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    outputs = [D.degrade(img, name, seed=s, severity="random")[0] for s in range(4)]
    assert np.array_equal(np.random.get_state()[1], before), "the global numpy RNG must not be used"
    assert any(not np.array_equal(outputs[0], o) for o in outputs[1:]), "different seeds must differ"
    assert not np.array_equal(outputs[0], img) or name == "jpeg-compressed"


@pytest.mark.parametrize("name", D.NAMES)
@pytest.mark.parametrize("size", [(1, 1), (8, 8), (3, 17), (31, 9)])
def test_tiny_inputs(name, size, astronaut):
    img = _crop(astronaut, *size)
    for severity in SEVERITIES:
        lq, _ = D.degrade(img, name, seed=1, severity=severity)
        assert lq.shape == img.shape and lq.dtype == np.uint8


@pytest.mark.parametrize("name", D.NAMES)
def test_result_maps_are_well_formed(name, astronaut):
    img = _crop(astronaut, 120, 150)
    params = D.sample_params(name, np.random.default_rng(3), img.shape, "heavy")
    result = D.get(name).apply(img, params)
    for key, value in result.maps.items():
        assert isinstance(value, np.ndarray), key
        assert not np.isnan(value.astype(np.float64)).any(), key
        if value.ndim == 2 and value.shape == img.shape[:2]:
            assert value.dtype in (np.uint8, np.float32), (key, value.dtype)
        if value.dtype == np.float32 and key != "kernel":
            assert value.min() >= 0.0 and value.max() <= 1.0, key


@pytest.mark.parametrize("name", D.NAMES)
def test_inputs_of_other_dtypes_are_normalised(name, astronaut):
    img = _crop(astronaut, 64, 80)
    gray = img[:, :, 0]
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    sixteen = img.astype(np.uint16) * 257
    for variant in (gray, rgba, sixteen):
        lq, _ = D.degrade(variant, name, seed=2)
        assert lq.shape == (64, 80, 3) and lq.dtype == np.uint8
    lq_rgba, _ = D.degrade(rgba, name, seed=2)
    lq_rgb, _ = D.degrade(img, name, seed=2)
    assert np.array_equal(lq_rgba, lq_rgb), "opaque RGBA must equal RGB"
    lq16, _ = D.degrade(sixteen, name, seed=2)
    assert np.array_equal(lq16, lq_rgb), "16-bit input must map exactly onto 8-bit"


def test_names_and_aliases():
    assert D.NAMES == (
        "motion-blurry", "hazy", "jpeg-compressed", "low-light", "noisy",
        "raindrop", "rainy", "shadowed", "snowy", "uncompleted",
    )
    aliases = dict(zip(["blur", "haze", "jpeg", "lowlight", "noise", "raindrop", "rain", "shadow", "snow", "inpaint"], D.NAMES))
    for alias, full in aliases.items():
        assert D.canonical_name(alias) == full
        assert D.get(alias) is D.get(full)
    with pytest.raises(ValueError, match="valid names"):
        D.canonical_name("foggy")


def test_sub_seed_is_stable_and_independent():
    a = D.sub_seed(0, "ab" * 32, "rain", 0)
    assert a == D.sub_seed(0, "ab" * 32, "rainy", 0)
    others = {D.sub_seed(0, "ab" * 32, "rain", 1), D.sub_seed(1, "ab" * 32, "rain", 0),
              D.sub_seed(0, "cd" * 32, "rain", 0), D.sub_seed(0, "ab" * 32, "snow", 0)}
    assert a not in others and len(others) == 4
    assert 0 <= a < 2**63


def test_compose_records_every_step_and_replays(astronaut):
    img = _crop(astronaut, 100, 120)
    lq, params = D.compose(img, ["noisy", "jpeg-compressed"], seed=5, severity=["heavy", "heavy"])
    assert [s["name"] for s in params["steps"]] == ["noisy", "jpeg-compressed"]
    assert np.array_equal(D.replay(img, json.loads(json.dumps(params))).lq, lq)
