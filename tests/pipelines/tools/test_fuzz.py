"""Random byte flips and truncations of a valid shard and a valid manifest: every reading command
(verify, stats, merge, export-csv, caption with a tiny BLIP) succeeds or fails with one line,
never a traceback, a hang or unbounded memory. Seeded; all cases run in one child process."""

from __future__ import annotations

import json
import shutil
import sys

from pipelines.caption.store import join_captions
from pipelines.manifest.schema import read_manifest
from tests.pipelines.hostile import run_measured

CASES = 30

CHILD = """
import json, random, shutil, signal, sys
from pathlib import Path
from click.testing import CliRunner
from pipelines.caption.blip import Captioner
from pipelines.cli import cli
from tests.pipelines.tiny_blip import build_tiny_blip

base, work, cases = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
captioner = Captioner.load(str(build_tiny_blip(work / "blip", image_size=32)), device="cpu")
Captioner.load = classmethod(lambda cls, *a, **k: captioner)  # load the model once, not per case


def expire(signum, frame):
    raise TimeoutError("hang")


signal.signal(signal.SIGALRM, expire)
rng = random.Random(1234)
results = []
for case in range(cases):
    root = work / f"case{case}"
    shutil.copytree(base, root)
    manifest = root / "manifests/noisy.parquet"
    target = manifest if case % 2 else root / "data/noisy/noisy-000001.tar"
    data = bytearray(target.read_bytes())
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    else:
        del data[rng.randrange(len(data)):]
    target.write_bytes(bytes(data))
    commands = {
        "verify": ["verify", "--manifest", manifest],
        "stats": ["stats", manifest],
        "merge": ["merge", manifest, "--train", root / "m/train.parquet", "--val", root / "m/val.parquet"],
        "export-csv": ["export-csv", "--manifest", manifest, "--out", root / "x/train.csv", "--image-root", root / "x"],
        "caption": ["caption", "--manifest-dir", root / "manifests", "--manifest", manifest, "--workers", "0"],
    }
    for name, args in commands.items():
        signal.alarm(30)
        try:
            result = CliRunner().invoke(cli, [str(a) for a in args])
        finally:
            signal.alarm(0)
        error = result.exception
        escaped = None if error is None or isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
        lines = [l for l in result.stderr.replace("\\r", "\\n").splitlines() if l.startswith("Error")]
        results.append({"case": case, "target": target.name, "command": name, "code": result.exit_code,
                        "escaped": escaped, "traceback": "Traceback" in result.output, "error_lines": lines})
    shutil.rmtree(root)
print(json.dumps(results))
"""


def test_flipped_and_truncated_inputs_never_crash_hang_or_blow_up(dataset, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(dataset, base)
    manifest = base / "manifests/noisy.parquet"
    join_captions([manifest], {h: "a photo" for h in read_manifest(manifest)["hq_sha256"]})
    run = run_measured([sys.executable, "-c", CHILD, base, tmp_path / "work", CASES], timeout=240)
    assert run["rc"] == 0, run["stderr"][-3000:]
    results = json.loads(run["stdout"].strip().splitlines()[-1])
    assert len(results) == CASES * 5
    bad = [r for r in results if r["escaped"] or r["traceback"] or r["code"] not in (0, 1)
           or (r["code"] == 1 and r["command"] != "verify" and len(r["error_lines"]) != 1)]
    assert not bad, bad[:5]
    assert any(r["code"] == 1 for r in results) and any(r["code"] == 0 for r in results)
    assert run["rss_mb"] < 2500, run["rss_mb"]  # torch and BLIP take about 1 GB of it
