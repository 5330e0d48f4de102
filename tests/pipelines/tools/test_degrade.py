"""``make-dataset degrade``: one file in, LQ + replayable params (+ maps) out."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

import degradations as D
from pipelines.cli import cli
from pipelines.common.images import load_image, save_image


def test_degrade_writes_lq_params_and_maps_that_replay(tmp_path, astronaut):
    src = tmp_path / "in.png"
    save_image(astronaut[:96, :128], src)
    out = tmp_path / "out" / "rain.png"
    result = CliRunner().invoke(cli, ["degrade", str(src), "--task", "rain", "--severity", "heavy", "--seed", "4",
                                      "--out", str(out), "--maps"])
    assert result.exit_code == 0, result.output
    params = json.loads(out.with_suffix(".json").read_text())
    assert params["name"] == "rainy" and params["severity"] == "heavy"
    clean = load_image(src)
    assert np.array_equal(load_image(out), D.replay(clean, params).lq)
    assert (tmp_path / "out" / "rain.rain.png").exists()


def test_degrade_chains_tasks_and_reports_bad_names(tmp_path, astronaut):
    src = tmp_path / "in.png"
    save_image(astronaut[:64, :64], src)
    out = tmp_path / "mix.png"
    ok = CliRunner().invoke(cli, ["degrade", str(src), "--task", "blur", "--task", "noise", "--task", "jpeg",
                                  "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    params = json.loads(out.with_suffix(".json").read_text())
    assert [s["name"] for s in params["steps"]] == ["motion-blurry", "noisy", "jpeg-compressed"]
    bad = CliRunner().invoke(cli, ["degrade", str(src), "--task", "foggy", "--out", str(tmp_path / "x.png")])
    assert bad.exit_code != 0 and "valid names" in bad.output and "Traceback" not in bad.output


def test_unwritable_output_is_one_line(tmp_path, astronaut):
    (tmp_path / "file").write_text("a file, not a folder")
    result = CliRunner().invoke(cli, ["degrade", "--task", "noise", "--out", str(tmp_path / "file/lq.png")])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: [Errno"), result.output
    assert "Traceback" not in result.output
