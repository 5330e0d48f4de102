"""The one manifest validator: every malformed or hostile manifest is one ManifestError naming the
file, the row and the problem, and one line (exit 1) from every command that reads manifests."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest
from pipelines.manifest.validate import ManifestError
from tests.pipelines.hostile import edit_manifest, error_lines


def _wrong_columns(src, out):
    pd.DataFrame({"a": [1]}).to_parquet(out)


def _not_parquet(src, out):
    out.write_bytes(b"PAR1 this is not parquet at all")


def _wrong_type(src, out):
    table = pq.read_table(src)
    index = table.schema.get_field_index("width")
    pq.write_table(table.set_column(index, "width", table.column("width").cast(pa.string())), out)


CASES = {
    "wrong columns": (_wrong_columns, "no column(s) key, degradation"),
    "not parquet": (_not_parquet, "not a readable Parquet manifest"),
    "wrong type": (_wrong_type, "column 'width' has type string"),
    "bad members json": ({"members": "[not json"}, "members is not valid JSON"),
    "members not a list": ({"members": '{"lq.png": 1}'}, "not a JSON list"),
    "unknown degradation": ({"degradation": "/tmp/evil"}, "unknown degradation"),
    "bad key": ({"key": "../"}, "key must be letters"),
    "dotted key": ({"key": "a.b"}, "key must be letters"),
    "member with a slash": ({"members": '["hq.png", "lq/../../x.png"]'}, "is not allowed"),
    "member with dots": ({"members": '["hq.png", "../.lq.bashrc"]'}, "is not allowed"),
    "member of an unknown kind": ({"members": '["hq.png", "lq.exe"]'}, "is not allowed"),
    "shard not a tar": ({"shard": "/etc/passwd"}, "shard must name a .tar file"),
    "bad status": ({"status": "maybe"}, "status must be one of ok, error"),
    "ok row without shard": ({"shard": None}, "ok row without shard"),
}


@pytest.fixture(scope="module")
def bad_manifests(dataset, tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("bad")
    src = dataset / "manifests/noisy.parquet"
    out = {}
    for name, (change, _) in CASES.items():
        path = folder / f"{name.replace(' ', '_')}.parquet"
        change(src, path) if callable(change) else edit_manifest(src, path, **change)
        out[name] = path
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_is_one_manifest_error(bad_manifests, case):
    path = bad_manifests[case]
    with pytest.raises(ManifestError) as info:
        read_manifest(path, status=None)
    message = str(info.value)
    assert message.startswith(str(path)) and CASES[case][1] in message and "\n" not in message
    if case not in ("wrong columns", "not parquet", "wrong type"):
        assert ": row 0 (key " in message


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_manifest_reader_fails_with_one_line(bad_manifests, tmp_path, case):
    path = str(bad_manifests[case])
    commands = {
        "verify": ["verify", "--manifest", path],
        "stats": ["stats", path],
        "export-csv": ["export-csv", "--manifest", path, "--out", str(tmp_path / "x.csv"), "--image-root",
                       str(tmp_path / "img")],
        "merge": ["merge", path, "--train", str(tmp_path / "t.parquet"), "--val", str(tmp_path / "v.parquet")],
        "caption": ["caption", "--manifest-dir", str(tmp_path), "--manifest", path, "--captions-file", path],
    }
    for name, args in commands.items():
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and not isinstance(result.exception, ManifestError), (name, result.output)
        lines = error_lines(result.stderr)
        expected = "no sample manifests" if (name, case) == ("merge", "wrong columns") else CASES[case][1]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], (name, lines)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "t.parquet").exists()


def test_mixtures_aliases_absolute_shards_and_error_rows_are_accepted(dataset, tmp_path):
    src = dataset / "manifests/noisy.parquet"
    for degradation in ("noisy+rainy", "rain", "motion-blurry+jpeg-compressed+low-light"):
        frame = read_manifest(edit_manifest(src, tmp_path / "m.parquet", degradation=degradation), status=None)
        assert set(frame["degradation"]) == {degradation}
    assert frame["shard"].str.startswith("/").all()
    errors = frame[frame["status"] == "error"]
    assert len(errors) and errors["members"].isna().all()


def test_verbose_shows_the_traceback(bad_manifests):
    result = CliRunner().invoke(cli, ["-v", "stats", str(bad_manifests["bad key"])])
    assert result.exit_code == 1 and "Traceback" in result.stderr
    assert error_lines(result.stderr)[-1].startswith("Error: ")
