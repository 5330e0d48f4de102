"""Assembler role: a run's shard Parquets -> one manifest frame per task.

Rows keep shard order; ``shard`` becomes the tar's path relative to the manifest folder. Two
different input files with identical pixels give one key in two shards: the first keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..manifest.schema import empty_frame, make_key
from .job import ShardJob


def assemble_task(task: str, jobs: Sequence[ShardJob], manifests: Path) -> pd.DataFrame:
    """Concatenate the jobs' shard Parquets of ``task``; rewrite ``shard`` relative to ``manifests``."""
    frames = []
    for job in sorted(jobs, key=lambda j: j.shard_id):
        folder = job.folder(task)
        frame = pq.read_table(folder / f"{job.stem(task)}.parquet").to_pandas()
        rel = os.path.relpath(folder / f"{job.stem(task)}.tar", manifests)
        frame["shard"] = Path(rel).as_posix()
        frames.append(frame)
    if not frames:
        return empty_frame()
    return demote_hq_duplicates(pd.concat(frames, ignore_index=True), task)


def demote_hq_duplicates(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Keep the first (shard order) of rows sharing a key and turn the others into error rows
    (their samples stay unused in the tar)."""
    dup = frame["key"].duplicated(keep="first") & (frame["status"] == "ok")
    if not dup.any():
        return frame
    first_source = frame.drop_duplicates("key", keep="first").set_index("key")["source"]
    frame = frame.copy()
    for i in frame.index[dup]:
        key = frame.at[i, "key"]
        frame.loc[i, ["status", "members", "index_in_shard"]] = ["error", None, None]
        frame.at[i, "error_message"] = f"duplicate: same HQ pixels as {first_source[key]} (sample unused)"
        sha, variant = frame.at[i, "source_sha256"], frame.at[i, "variant"]
        frame.at[i, "key"] = make_key(task, sha, int(variant), error=True)
    return frame
