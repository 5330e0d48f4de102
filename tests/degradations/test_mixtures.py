"""Mixtures: the ordering rule, sampling, CDD-11, task seeds, and the wild chain's records and ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest

import degradations as D
from degradations import mixtures as M
from degradations import wild as W
from degradations.labels import split_label


@pytest.fixture(scope="module")
def small(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[::16, ::16])  # 32 x 32


def test_sampled_mixtures_follow_the_ordering_rule():
    rng = np.random.default_rng(0)
    seen_sizes = set()
    for _ in range(500):
        names = M.sample_mixture(rng, M.DEFAULT_POOL, (2, 4))
        assert M.follows_rule(names), names
        assert "uncompleted" not in names and not {"rainy", "snowy"} <= set(names)
        stages = [M.ORDER.index(n) for n in names]
        assert stages == sorted(stages)
        seen_sizes.add(len(names))
    assert seen_sizes == {2, 3, 4}


def test_ordering_rule_puts_scene_before_camera_before_storage():
    assert M.ordered(["jpeg", "noise", "haze", "lowlight", "raindrop"]) == (
        "hazy", "raindrop", "low-light", "noisy", "jpeg-compressed")
    assert M.ordered(["uncompleted", "shadowed"]) == ("shadowed", "uncompleted")
    assert M.parse_pool("jpeg,haze, rain") == ("hazy", "rainy", "jpeg-compressed")


def test_cdd11_is_exactly_its_eleven_combinations():
    expected = {frozenset(x) for x in [
        {"low-light"}, {"hazy"}, {"rainy"}, {"snowy"}, {"low-light", "hazy"}, {"low-light", "rainy"},
        {"low-light", "snowy"}, {"hazy", "rainy"}, {"hazy", "snowy"}, {"low-light", "hazy", "rainy"},
        {"low-light", "hazy", "snowy"}]}
    assert len(M.CDD11) == 11 and {frozenset(split_label(t)) for t in M.CDD11} == expected
    assert all(M.follows_rule(split_label(t)) and M.canonical_task(t) == t for t in M.CDD11)


@pytest.mark.parametrize("bad", ["rainy+snowy", "rain+rain", "rain+fog", "", "cdd11"])
def test_bad_tasks_raise(bad):
    with pytest.raises(ValueError):
        M.canonical_task(bad)


def test_sizes_and_pools_are_checked():
    assert M.parse_sizes("2-3") == (2, 3) and M.parse_sizes("3") == (3, 3)
    for bad in ("1", "3-2", "a", "2-3-4"):
        with pytest.raises(ValueError):
            M.parse_sizes(bad)
    with pytest.raises(ValueError, match="allows no mixture"):
        M.check_mix(("rainy", "snowy"), (2, 2))


def test_task_seed_keeps_single_types_and_separates_mixtures():
    sha = "ab" * 32
    assert M.task_seed(3, sha, "rainy", 1) == D.sub_seed(3, sha, "rainy", 1)
    seeds = {M.task_seed(3, sha, t, 1) for t in ("rainy", "hazy+rainy", "rainy+hazy", "mix", "wild")}
    assert len(seeds) == 5


def test_mixture_records_replay_bit_exact_and_match_compose(small):
    record = M.sample_task("low-light+hazy+rainy", np.random.default_rng(7), small.shape, "heavy")
    lq, composed = D.compose(small, ["low-light", "hazy", "rainy"], seed=7, severity="heavy")
    assert record == composed and np.array_equal(D.replay(small, record).lq, lq)
    for seed in range(4):
        mixed = M.sample_task("mix", np.random.default_rng(seed), small.shape, pool=M.DEFAULT_POOL, sizes=(2, 3))
        names = [step["name"] for step in mixed["steps"]]
        assert M.label_of(mixed) == "+".join(names) and M.follows_rule(names)
        assert mixed["mixture"] == {"from": list(M.DEFAULT_POOL), "size": [2, 3]}
        assert np.array_equal(D.replay(small, mixed).lq, D.replay(small.copy(), mixed).lq)


def _check_wild_ranges(step: dict, order: int) -> None:
    name = step["name"]
    if name == "wild-blur":
        sizes = W.kernel_sizes(5 if order == 2 else 10)
        assert step["kernel_size"] in sizes and (sizes[0], sizes[-1]) == ((5, 9) if order == 2 else (5, 19))
        lo_sigma, hi_sigma = {1: (0.2, 2.2), 2: (0.2, 1.5), 3: (0.2, 1.0)}[order]
        if step["kernel"] == "sinc":
            lo = math.pi / 3 if step["kernel_size"] < 13 else math.pi / 5
            assert lo <= step["omega_c"] <= math.pi
        elif "sigma_x" in step:
            assert lo_sigma <= step["sigma_x"] <= hi_sigma and lo_sigma <= step["sigma_y"] <= hi_sigma
            assert -math.pi <= step["theta"] <= math.pi
        if step["kernel"].startswith("generalized"):
            assert 0.5 <= step["beta"] <= 2.0
        if step["kernel"].startswith("plateau"):
            assert 1.0 <= step["beta"] <= 1.5
        if step["deblur"]:
            assert step["kernel_size"] < 8 and step["kernel"] != "sinc"
    elif name == "wild-resize":
        assert step["interpolation"] in ("area", "cubic", "linear")
        if order == 1:
            assert 0.5 <= step["scale"] <= 1.4
    elif name == "wild-noise":
        if step["gaussian"]:
            assert 1.0 <= step["gaussian"]["sigma"] <= 5.0
        if step["poisson"]:
            assert 0.01 <= step["poisson"]["scale"] <= 0.5
    else:
        lo, hi = (60, 95) if order == 1 else (80, 100)
        assert lo <= step["quality_drawn"] <= hi and step["quality"] == int(step["quality_drawn"])


def test_wild_chain_records_every_step_in_the_original_ranges(small):
    kernels, orders = set(), set()
    for seed in range(150):
        params = W.sample(np.random.default_rng(seed), small.shape)
        steps = params["steps"]
        assert steps and params["name"] == "compose" and params["chain"] == "wild"
        assert params["label"] == M.label_of(params) and M.follows_rule(split_label(params["label"]))
        assert [s["order"] for s in steps] == sorted(s["order"] for s in steps)
        resizes = [s for s in steps if s["name"] == "wild-resize"]
        assert len(resizes) == (2 if params["plan"]["resize"] else 0)
        if resizes:
            assert (resizes[-1]["width"], resizes[-1]["height"]) == (small.shape[1], small.shape[0])
        for step in steps:
            _check_wild_ranges(step, step["order"])
            kernels.add(step.get("kernel"))
            orders.add((step["order"], step["name"]))
    assert {"iso", "aniso", "sinc"} <= kernels and len(orders) >= 8


def test_wild_replay_is_bit_exact_and_pixel_aligned(small):
    for seed in range(6):
        params = W.sample(np.random.default_rng(seed), small.shape)
        first, again = D.replay(small, params).lq, D.replay(small.copy(), params).lq
        assert first.shape == small.shape and first.dtype == np.uint8 and np.array_equal(first, again)

