"""Distributors and actor pools are found by name; an unknown name is one clear error."""

from __future__ import annotations

import pytest

from pipelines.distribute.actors import map_ray
from pipelines.distribute.local import run_local
from pipelines.distribute.registry import DISTRIBUTOR, get_actor_pool, get_distributor


def test_lookup_by_name():
    assert get_distributor("local") is run_local
    assert get_actor_pool("ray") is map_ray


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown distributor 'spark'; choose from local, ray"):
        get_distributor("spark")
    with pytest.raises(ValueError, match="runs no actor pool; choose from ray"):
        get_actor_pool("local")


def test_an_empty_pool_starts_no_cluster():
    assert list(map_ray(lambda: None, [], None)) == []  # returns before touching Ray


def test_the_flag_offers_every_distributor():
    @DISTRIBUTOR
    def command(distributor):
        return distributor

    assert set(command.__click_params__[0].type.choices) == {"local", "ray"}
