"""``daclip app`` on a large manifest: open it and build the first page of the Dataset tab, timed.
Prints JSON.

    python bench/app.py                 # 100 k rows
    python bench/app.py --rows 500000

A real dataset is synthesized (bundled photos, two types, 48 px), then its rows are repeated with
fresh keys into one ``--rows`` manifest that points at those few real shards. Timed, as the app
does them: ``open_dataset`` (``read_manifest`` with validation; no shard is read), the first
page (filter, one page of the table, summary counts), and showing the first row (its shard's
member index, read once, then the members by offset). The baseline beside it is the plain
Parquet read of the same file.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from daclip.app.data import Filter, open_dataset  # noqa: E402
from daclip.app.dataset_tab import PAGE_SIZE  # noqa: E402
from pipelines.cli import cli as dataset_cli  # noqa: E402
from pipelines.manifest.schema import read_manifest, write_manifest  # noqa: E402


def build(root: Path, rows: int) -> Path:
    result = CliRunner().invoke(dataset_cli, ["synthesize", "--task", "noisy", "--task", "jpeg", "--max-side", "48",
                                              "--out", str(root / "data"), "--manifests", str(root / "m")])
    assert result.exit_code == 0, result.output
    small = pd.concat([read_manifest(p, status=None) for p in sorted((root / "m").glob("*.parquet"))],
                      ignore_index=True).drop(columns=["shard_path"])
    repeats = -(-rows // len(small))
    big = pd.concat([small] * repeats, ignore_index=True).iloc[:rows].copy()
    copy = np.repeat(np.arange(repeats), len(small))[:rows]
    big["key"] = [k if c == 0 else f"{k}x{c}" for k, c in zip(big["key"], copy)]  # unique; copies 1+ are rows only
    big["variant"] = (big["variant"].fillna(0).astype(np.int64) + copy).astype("int32")
    big["caption"] = [f"a photo number {i}" for i in range(rows)]
    return write_manifest(big.sort_values("key", ignore_index=True), root / "m" / "big.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp), args.rows)
        t0 = time.perf_counter()
        pq.read_table(path).to_pandas()
        t_raw = time.perf_counter() - t0

        t0 = time.perf_counter()
        dataset = open_dataset([path])
        t_open = time.perf_counter() - t0
        rows = dataset.select(Filter())
        dataset.page(rows, 0, PAGE_SIZE)
        dataset.summary(rows)
        t_page = time.perf_counter() - t0
        assert not dataset._indexes, "opening read a shard"

        t1 = time.perf_counter()
        first = int(dataset.select(Filter(status=("ok",)))[0])
        dataset.select(Filter(caption="number 99999"))
        dataset.view(first)
        t_row = time.perf_counter() - t1
    print(json.dumps({
        "rows": args.rows, "parquet_read_s": round(t_raw, 3), "open_dataset_s": round(t_open, 3),
        "first_page_s": round(t_page, 3), "target_first_page_s": 2.0,
        "first_row_view_s (+ caption search)": round(t_row, 3), "shards_indexed": len(dataset._indexes),
        "python": platform.python_version(), "machine": platform.machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
