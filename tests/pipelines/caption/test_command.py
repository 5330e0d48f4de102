"""The ``caption`` command line: ``--part i/N`` and ``--part slurm`` through the shared
:mod:`pipelines.distribute.parts`, and the earlier spelling ``--manifests``."""

from __future__ import annotations

import pandas as pd

from pipelines.caption.blip import Captioner
from pipelines.caption.store import read_store
from tests.pipelines.caption.captioning import ok_rows, run_cli


def test_part_i_of_n_and_slurm_then_a_whole_run_joins(dataset, captioner, monkeypatch):
    monkeypatch.setattr(Captioner, "load", classmethod(lambda cls, *a, **k: captioner))
    args = ["caption", "--manifest-dir", str(dataset), "--workers", "0"]
    first = run_cli([*args, "--part", "0/2"])
    assert first.exit_code == 0, first.output
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    second = run_cli([*args, "--part", "slurm"])  # array task 4 of 3..4: part 1/2
    assert second.exit_code == 0, second.output

    parts = [read_store(dataset / f"captions.part-{i:05d}-of-00002.parquet") for i in range(2)]
    assert not (dataset / "captions.parquet").exists() and ok_rows(dataset)["caption"].isna().all()
    halves = [set(part["hq_sha256"]) for part in parts]
    assert halves[0] and halves[1] and not halves[0] & halves[1]
    assert halves[0] | halves[1] == set(ok_rows(dataset)["hq_sha256"])

    joined = run_cli(args)  # no --part: folds the parts and joins, captioning nothing new
    assert joined.exit_code == 0 and "0 captioned" in joined.output, joined.output
    store = read_store(dataset / "captions.parquet")
    pd.testing.assert_frame_equal(store.sort_values("hq_sha256").reset_index(drop=True),
                                  pd.concat(parts).sort_values("hq_sha256").reset_index(drop=True))
    assert ok_rows(dataset)["caption"].notna().all()


def test_part_slurm_outside_an_array_job_is_refused(dataset, monkeypatch):
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(name, raising=False)
    result = run_cli(["caption", "--manifest-dir", str(dataset), "--part", "slurm"])
    assert result.exit_code == 2 and "SLURM_ARRAY_TASK_ID" in result.output
    assert run_cli(["caption", "--manifest-dir", str(dataset), "--part", "2/2"]).exit_code == 2


def test_old_spelling_manifests_still_works(dataset, tmp_path):
    first = sorted(set(ok_rows(dataset)["hq_sha256"]))[0]
    pd.DataFrame({"hq_sha256": [first], "caption": ["a photo"]}).to_csv(tmp_path / "c.csv", index=False)
    result = run_cli(["caption", "--manifests", str(dataset), "--captions-file", str(tmp_path / "c.csv")])
    assert result.exit_code == 0 and "1 captioned" in result.output, result.output
    assert read_store(dataset / "captions.parquet")["hq_sha256"].tolist() == [first]
    help_text = run_cli(["caption", "--help"]).output
    assert "--manifest-dir" in help_text and "--manifests" not in help_text
