"""Every file the commands write is readable by teammates: the umask's mode (0644 under 022),
never mkstemp's 0600; a killed run's temporary files are removed by the next run."""

from __future__ import annotations

import stat
import sys

from tests.pipelines.hostile import run_measured

SCRIPT = """
import os, sys
os.umask(0o022)
from pathlib import Path
from click.testing import CliRunner
from pipelines.caption.store import join_captions
from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest
root, photos = Path(sys.argv[1]), Path(sys.argv[2])
stale = root / "data/noisy/.sizes.json.dead.tmp"
stale.parent.mkdir(parents=True)
stale.write_text("left by a killed run")
def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
run("synthesize", "--task", "noisy", "--input", photos, "--out", root / "data", "--manifest-dir", root / "m",
    "--val-fraction", "0.5")
assert not stale.exists()
run("merge", root / "m/noisy.parquet", "--train", root / "m/train.parquet", "--val", root / "m/val.parquet")
run("stats", root / "m/noisy.parquet", "--out", root / "stats.json")
frame = read_manifest(root / "m/noisy.parquet")
join_captions([root / "m/noisy.parquet"], {h: "a photo" for h in frame["hq_sha256"]})
run("export-csv", "--manifest", root / "m/noisy.parquet", "--out", root / "csv/train.csv", "--image-root",
    root / "images", "--with-gt")
run("degrade", "--task", "noise", "--out", root / "deg/lq.png", "--maps")
"""


def test_outputs_get_the_umask_mode(tmp_path, inputs):
    run = run_measured([sys.executable, "-c", SCRIPT, tmp_path / "out", inputs])
    assert run["rc"] == 0, run["stderr"]
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"noisy.parquet", "train.parquet", "val.parquet", "noisy.json", "sizes.json", "noisy-000000_stats.json",
            "stats.json", "train.csv", "lq.png", "lq.json"} <= names
    assert any(p.parent.name == "LQ" for p in files) and any(p.parent.name == "GT" for p in files)
    assert {p.relative_to(tmp_path): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
            if stat.S_IMODE(p.stat().st_mode) != 0o644} == {}
    assert not [p for p in files if p.name.endswith(".tmp") or p.name.endswith(".lock")]
