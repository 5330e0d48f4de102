"""The registry: one implementation per (name, version); replay picks the one a record names."""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D
from degradations.registry import for_record, versions

REVISED = ("low-light", "raindrop", "rainy", "shadowed")  # the types with a version 2


def test_every_type_and_version_is_registered_under_its_own_key():
    for name in D.NAMES:
        known = versions(name)
        assert known == tuple(range(1, len(known) + 1)), (name, known)
        assert len(known) == (2 if name in REVISED else 1), (name, known)
        for version in known:
            deg = D.get(name, version)
            assert (deg.name, deg.version) == (name, version)
            assert isinstance(deg, D.Degradation)
        assert D.get(name) is D.get(name, known[-1]), "no version: the newest"


def test_aliases_reach_every_version():
    assert D.get("rain", 1) is D.get("rainy", 1) and D.get("rain", 1) is not D.get("rain")
    assert versions("shadow") == versions("shadowed") == (1, 2)


def test_records_dispatch_on_their_version():
    assert for_record({"name": "raindrop", "version": 1}) is D.get("raindrop", 1)
    assert for_record({"name": "raindrop", "version": 2}) is D.get("raindrop", 2)
    assert for_record({"name": "low-light"}) is D.get("low-light", 1), "no version recorded: version 1"
    assert for_record({"name": "hazy", "version": 1}) is D.get("hazy")


def test_replay_uses_the_recorded_version(astronaut):
    img = np.ascontiguousarray(astronaut[:64, :96])
    for name in REVISED:
        old = {"name": name, "severity": "medium", "version": 1,
               **D.get(name, 1).sample(np.random.default_rng(0), img.shape, "medium")}
        assert np.array_equal(D.replay(img, old).lq, D.get(name, 1).apply(img, old).lq), name
        new = D.sample_params(name, np.random.default_rng(0), img.shape, "medium")
        assert np.array_equal(D.replay(img, new).lq, D.get(name, 2).apply(img, new).lq), name
    composed = {"name": "compose", "steps": [old, new]}
    expected = D.get("shadowed", 2).apply(D.get("shadowed", 1).apply(img, old).lq, new).lq
    assert np.array_equal(D.replay(img, composed).lq, expected)


@pytest.mark.parametrize("name, version", [("hazy", 2), ("raindrop", 3), ("rainy", 0), ("snowy", "1")])
def test_unknown_version_is_one_clear_error_listing_what_is_known(name, version):
    with pytest.raises(ValueError) as error:
        D.get(name, version)
    message = str(error.value)
    assert f"unknown version {version!r} of degradation {name!r}" in message
    assert "known: motion-blurry v1, hazy v1" in message and "raindrop v1, raindrop v2" in message
    with pytest.raises(ValueError, match="unknown version"):
        D.replay(np.zeros((8, 8, 3), np.uint8), {"name": name, "version": version})


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid names: motion-blurry"):
        D.get("foggy", 1)
