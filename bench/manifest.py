"""Reading and merging a large manifest: the old per-row shard resolution against the new one,
timed side by side in the same run on a synthetic manifest. Prints JSON.

    python bench/manifest.py                       # 1.5 M rows; the old way timed on 150 k of them
    python bench/manifest.py --rows 200000 --old-rows 50000

The old ``read_manifest`` resolved a path per row (``Path.resolve`` on every row) and ``merge``
computed ``os.path.relpath`` per row; both are timed on ``--old-rows`` rows (they take minutes on
the full manifest) and scaled to the full count, next to the new code run on every row: the raw
Parquet read, the validator alone, ``read_manifest`` (validation included) and ``merge`` into
train and val.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipelines.manifest.schema import SCHEMA, read_manifest, write_manifest  # noqa: E402
from pipelines.manifest.validate import validate_table  # noqa: E402
from pipelines.tools.merge import merge  # noqa: E402

TASKS = ("noisy", "rainy", "hazy", "jpeg-compressed")
PER_SHARD = 1000


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` ok rows shaped like synthesize's: 1000 per shard, four tasks, a 10 % val split."""
    rng = np.random.default_rng(seed)
    hashes = [f"{a:016x}{b:016x}{c:016x}{d:016x}" for a, b, c, d in rng.integers(0, 2**63, size=(rows, 4))]
    task = np.array(TASKS)[np.arange(rows) % len(TASKS)]
    shard_id = np.arange(rows) // PER_SHARD
    return pd.DataFrame({
        "key": [f"{t}_{h[:20]}_0" for t, h in zip(task, hashes)],
        "degradation": task,
        "origin": "synthesized",
        "split": np.where(rng.random(rows) < 0.1, "val", "train"),
        "shard": [f"../data/{t}/{t}-{s:06d}.tar" for t, s in zip(task, shard_id)],
        "index_in_shard": (np.arange(rows) % PER_SHARD).astype(np.int32),
        "hq_sha256": hashes,
        "lq_sha256": hashes,
        "source_sha256": hashes,
        "width": np.int32(512),
        "height": np.int32(512),
        "source": [f"photos/{h[:12]}.png" for h in hashes],
        "severity": "medium",
        "variant": np.int32(0),
        "members": '["hq.png","json","lq.png"]',
        "status": "ok",
    })


def old_read(path: Path) -> pd.DataFrame:
    """The read_manifest before this change: one ``resolve`` per row."""
    frame = pq.read_table(path).to_pandas()
    base = path.resolve().parent
    frame["shard_path"] = [str((base / s).resolve()) if isinstance(s, str) and s else None for s in frame["shard"]]
    return frame


def old_relative(frame: pd.DataFrame, out: Path) -> list[str | None]:
    """merge's shard rewrite before this change: one ``relpath`` per row."""
    base = out.resolve().parent
    return [Path(os.path.relpath(p, base)).as_posix() if isinstance(p, str) else None for p in frame["shard_path"]]


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--old-rows", type=int, default=150_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-manifest-"))
    try:
        manifests = tmp / "manifests"
        build_s, _ = timed(lambda: write_manifest(synthetic(args.rows), manifests / "all.parquet"))
        write_manifest(synthetic(args.old_rows, seed=1), manifests / "sample.parquet")
        full, sample = manifests / "all.parquet", manifests / "sample.parquet"

        raw_s, table = timed(pq.read_table, full)
        validate_s, _ = timed(validate_table, table, full, SCHEMA)
        to_pandas_s, _ = timed(table.to_pandas)
        new_read_s, frame = timed(read_manifest, full, None)
        old_sample_s, old_frame = timed(old_read, sample)
        new_sample_s, new_frame = timed(read_manifest, sample, None)
        assert list(old_frame["shard_path"]) == list(new_frame["shard_path"])
        old_rel_s, _ = timed(old_relative, old_frame, tmp / "out" / "train.parquet")
        merge_s, report = timed(merge, [full], train=tmp / "out/train.parquet", val=tmp / "out/val.parquet")
        scale = args.rows / args.old_rows

        result = {
            "rows": args.rows,
            "shards": -(-args.rows // PER_SHARD),
            "old_rows_timed": args.old_rows,
            "manifest_mb": round(full.stat().st_size / 2**20, 1),
            "build_s": round(build_s, 2),
            "raw_read_s": round(raw_s + to_pandas_s, 2),
            "validate_s": round(validate_s, 2),
            "read_manifest_new_s": round(new_read_s, 2),
            "read_manifest_old_s_scaled": round(old_sample_s * scale, 1),
            "read_manifest_speedup": round(old_sample_s / new_sample_s, 1),
            "merge_new_s": round(merge_s, 2),
            "merge_old_s_scaled": round((old_sample_s + old_rel_s) * scale + merge_s, 1),
            "merged_rows": report.rows,
            "note": "old figures: the per-row steps timed on old_rows rows, scaled linearly to rows "
                    "(merge_old adds them to the new merge's other work)",
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
        }
        assert len(frame) == args.rows
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
