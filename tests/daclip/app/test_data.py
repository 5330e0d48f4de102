"""The app's data layer: filtering, members by offset, pixels equal to the shard's, bad manifests."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from daclip.app.data import Dataset, Filter, open_dataset
from degradations import NAMES
from pipelines.common.bounded import Limits
from pipelines.common.images import decode_rgb
from pipelines.common.tars import iter_members


@pytest.fixture(scope="module")
def dataset(app_data):
    return open_dataset([app_data["manifests"], app_data["bad"]])


def test_bad_manifest_is_one_line_and_the_rest_opens(dataset, app_data):
    assert len(dataset.errors) == 1 and str(app_data["bad"]) in dataset.errors[0]
    assert "\n" not in dataset.errors[0]
    assert set(dataset.choices("degradation")) == {"noisy", "hazy", "motion-blurry"}


def test_filters(dataset):
    everything = dataset.select(Filter())
    assert len(everything) == len(dataset.frame)
    errors = dataset.select(Filter(status=("error",)))
    assert len(errors) and (dataset.frame.iloc[errors]["status"] == "error").all()
    hazy_ok = dataset.select(Filter(degradation=("hazy",), status=("ok",)))
    assert set(dataset.frame.iloc[hazy_ok]["degradation"]) == {"hazy"}
    assert dataset.summary(hazy_ok)["status"] == {"ok": len(hazy_ok)}
    assert len(dataset.select(Filter(caption="no such caption"))) == 0
    page = dataset.page(everything, 1, 5)
    assert list(page["row"]) == list(everything[5:10])


def test_opening_reads_no_shard(app_data):
    fresh = open_dataset([app_data["manifests"]])
    assert fresh._indexes == {}
    row = int(fresh.select(Filter(status=("ok",)))[0])
    fresh.view(row)
    assert list(fresh._indexes) == [fresh.frame.iloc[row]["shard_path"]]  # only that row's shard, once


def test_members_by_offset_equal_the_shard(dataset):
    row = int(dataset.select(Filter(degradation=("hazy",), status=("ok",)))[0])
    record = dataset.frame.iloc[row]
    members = dict(iter_members(record["shard_path"]))
    view = dataset.view(row)
    for stem in ("lq", "hq", "transmission"):
        assert np.array_equal(view.images[stem], decode_rgb(members[f"{record['key']}.{stem}.png"]))
    assert view.params["name"] == "hazy" and view.error is None and not view.problems
    with pytest.raises(KeyError):
        dataset.member(row, "../../etc/passwd")


def test_side_maps_and_replay(dataset):
    row = int(dataset.select(Filter(degradation=("motion-blurry",), status=("ok",)))[0])
    assert "kernel" in dataset.view(row).images
    result = dataset.replay(row)
    assert result.matches and "byte-identical" in result.message


def crafted(dataset, params: object) -> tuple:
    """A copy of ``dataset`` whose first motion-blurry row records ``params`` instead, and that row."""
    row = int(dataset.select(Filter(degradation=("motion-blurry",), status=("ok",)))[0])
    frame = dataset.frame.copy()
    frame.loc[frame.index[row], "params"] = params if isinstance(params, str) else json.dumps(params)
    return Dataset(frame=frame, replay_limits=Limits(seconds=20, memory_bytes=256 * 1024**2)), row


def test_crafted_compose_is_refused_before_any_replay(dataset, monkeypatch):
    monkeypatch.setattr("daclip.app.data.run_bounded", lambda *a, **k: pytest.fail("replay attempted"))
    many, row = crafted(dataset, {"name": "compose", "steps": [{"name": "noisy"}] * 5000})
    assert many.replay(row).message == f"replay refused: compose record has 5000 steps; at most {len(NAMES)}"
    deep, row = crafted(dataset, "[" * 50_000 + "]" * 50_000)
    result = deep.replay(row)
    assert not result.matches and result.message.startswith("replay refused: params JSON nests too deeply")


def test_crafted_giant_resize_is_stopped_with_one_line(dataset):
    huge = {"name": "wild-resize", "order": 1, "width": 64_000, "height": 48_000, "scale": 0.001,
            "interpolation": "cubic"}
    back = {**huge, "order": 3, "width": 64, "height": 48, "scale": None}
    giant, row = crafted(dataset, {"name": "compose", "chain": "wild", "version": 1, "steps": [huge, back]})
    started = time.monotonic()
    result = giant.replay(row)
    assert result.message == "replay stopped: it needed more than 256 MiB" and result.lq is None
    assert time.monotonic() - started < 10


def test_error_row(dataset):
    row = int(dataset.select(Filter(status=("error",)))[0])
    view = dataset.view(row)
    assert "truncated or corrupt" in view.error and view.images == {}
    assert not dataset.replay(row).matches
    with pytest.raises(IndexError):
        dataset.view(len(dataset.frame))


def test_parameter_range_filter_and_histograms(dataset):
    from daclip.app.params import parse_conditions

    hazy = dataset.select(Filter(degradation=("hazy",), status=("ok",)))
    t_far = dataset.param_table().values(hazy, "t_far")
    cut = float(np.median(t_far))
    low = dataset.select(Filter(degradation=("hazy",), params=f"t_far < {cut}"))
    assert len(low) and set(low) < set(hazy)
    assert (dataset.param_table().values(low, "t_far") < cut).all()
    both = dataset.select(Filter(params=f"t_far < {cut} and t_far >= 0"))
    assert set(both) == set(low)  # rows without the parameter (other types, error rows) never pass
    assert len(dataset.select(Filter(params="quality < 0"))) == 0
    with pytest.raises(ValueError, match="quality < 20"):
        parse_conditions("quality is small")
    bars = dataset.histograms(dataset.select(Filter(status=("ok",))))
    assert "hazy t_far" in bars and f"(n={len(hazy)})" in bars["hazy t_far"]
