"""The captions store from outside: ``--captions-file`` import and the ``export-csv`` round trip."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from pipelines.caption.store import load_captions
from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest
from tests.pipelines.caption.captioning import ok_rows, run_cli


def test_captions_file_import(dataset, tmp_path):
    rows = ok_rows(dataset)
    per_image = rows.drop_duplicates("hq_sha256").sort_values("source").reset_index(drop=True)
    csv = tmp_path / "mine.csv"
    pd.DataFrame(
        {
            "source": [per_image["source"][0], per_image["source"][1], "/no/such/photo.png"],
            "caption": ["a man  in a\tspace suit", "a cat, sleeping: on a rug", "lost"],
        }
    ).to_csv(csv, index=False)
    result = run_cli(["caption", "--manifest-dir", str(dataset), "--captions-file", str(csv)])
    assert result.exit_code == 0, result.output
    assert "2 captioned" in result.output and "1 captions-file rows unmatched" in result.output

    parquet = tmp_path / "mine.parquet"
    pd.DataFrame({"hq_sha256": [per_image["hq_sha256"][2]], "caption": ["a cup of coffee"]}).to_parquet(
        parquet
    )
    assert run_cli(["caption", "--manifest-dir", str(dataset), "--captions-file", str(parquet)]).exit_code == 0

    rows = ok_rows(dataset)
    expect = {
        per_image["hq_sha256"][0]: "a man in a space suit",
        per_image["hq_sha256"][1]: "a cat, sleeping: on a rug",
        per_image["hq_sha256"][2]: "a cup of coffee",
    }
    assert (rows["caption"] == rows["hq_sha256"].map(expect)).sum() == 12
    assert rows[~rows["hq_sha256"].isin(expect)]["caption"].isna().all()
    store = load_captions(dataset)
    assert set(store["model"]) == {"captions-file:mine.csv", "captions-file:mine.parquet"}


def test_export_csv_round_trip(dataset, tmp_path):
    rows = ok_rows(dataset)
    hashes = sorted(set(rows["hq_sha256"]))
    captions = pd.DataFrame({"hq_sha256": hashes[:3], "caption": ["a man", "a cat: close up", "a red cup"]})
    captions.to_parquet(tmp_path / "c.parquet")
    imported = run_cli(["caption", "--manifest-dir", str(dataset), "--captions-file", str(tmp_path / "c.parquet")])
    assert imported.exit_code == 0, imported.output

    manifest = dataset / "noisy.parquet"
    out, root = tmp_path / "daclip_train.csv", tmp_path / "images"
    result = run_cli(["export-csv", "--manifest", str(manifest), "--out", str(out), "--image-root", str(root)])
    assert result.exit_code == 0, result.output
    assert "skipped 2 rows without a caption" in result.output

    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["filepath", "title"] and len(table) == 6
    frame = read_manifest(manifest).set_index("lq_sha256")
    by_hash = dict(zip(captions["hq_sha256"], captions["caption"]))
    for filepath, title in zip(table["filepath"], table["title"]):
        caption, degradation = title.rsplit(": ", 1)
        data = Path(filepath).read_bytes()
        row = frame.loc[hashlib.sha256(data).hexdigest()]  # the file is the LQ member, byte for byte
        assert Path(filepath) == root.resolve() / "noisy" / "LQ" / f"{row['key']}.png"
        assert degradation == row["degradation"] == "noisy"
        assert caption == by_hash[row["hq_sha256"]]

    args = ["export-csv", "--manifest", str(manifest), "--out", str(tmp_path / "x.csv"), "--image-root", str(root),
            "--missing-caption", "error"]  # fmt: skip
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code != 0 and "no caption" in refused.output and not (tmp_path / "x.csv").exists()
