"""``make-dataset ingest``: existing paired LQ/GT folders -> the same shards and manifests as ``synthesize``.

Two ways in:

- ``--root datasets/universal``: DA-CLIP's layout ``<split>/<type>/{LQ,GT}/*``; the split comes from
  the folder (``train``/``val``), ``<type>`` must be a DA-CLIP name or alias (anything else is
  reported, never guessed).
- ``--task rainy --lq DIR --hq DIR [--split train|val|auto]`` for any other pair of folders;
  ``auto`` splits by HQ hash like ``synthesize``.

LQ files are paired with GT files by relative path (or by stem when the extensions differ);
``--pair-by sorted`` pairs sorted lists instead, as DA-CLIP's loader does, with a warning. Rows
have ``origin="ingested"`` and ``params=null``; several LQ files may share one GT (variants
``0, 1, ...`` ranked by LQ hash), and they share ``hq_sha256``, so captions are made once per clean
image. LQ/GT size mismatches are errors unless ``--fix-size crop`` (both cropped to the common
top-left region, recorded); nothing is ever resized. Shards are ``<out>/<task>/<task>-ingested-000000.tar``,
manifests ``<manifests>/<task>.ingested.parquet``. Writer, resume, atomicity and ``--part`` are
those of ``synthesize``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

import degradations

from .common import images
from .common.files import write_json_atomic
from .distribute import WorkerDied, run_local
from .manifest import (
    SCHEMA_VERSION,
    assign_split,
    dumps_json,
    make_key,
    sha256_hex,
    shard_stem,
    write_manifest,
)
from .sources import IMAGE_EXTENSIONS, Source, hash_source, in_part, parse_part, source_id
from .stats import format_run_counts
from .synthesize import (
    ConfigMismatch,
    assemble_task,
    check_existing,
    library_versions,
    remove_outputs,
    write_sizes,
)
from .worker import configure_process, read_stats
from .writers import Sample, TarShardWriter

log = logging.getLogger(__name__)

ORIGIN = "ingested"
KIND = "ingested"
SPLITS = ("train", "val")
_progress: Callable[[int], None] | None = None


@dataclass(frozen=True)
class IngestConfig:
    image_format: str = "png"
    max_pixels: int | None = images.DEFAULT_MAX_PIXELS
    fix_size: str = "skip"  # "skip": mismatched pairs are error rows; "crop": crop both to the common size
    shard_size: int = 1000
    val_fraction: float = 0.0  # used by split "auto"

    def __post_init__(self) -> None:
        if self.image_format not in images.FORMATS:
            raise ValueError(f"--image-format must be one of {', '.join(images.FORMATS)}")
        if self.fix_size not in ("skip", "crop"):
            raise ValueError("--fix-size must be 'skip' or 'crop'")
        if self.shard_size < 1:
            raise ValueError("--shard-size must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("--val-fraction must be in [0, 1)")


@dataclass(frozen=True)
class Pair:
    task: str
    split: str  # "train" | "val" | "auto"
    lq: Source
    gt: Source | None
    variant: int = 0
    problem: str | None = None  # set when the pair cannot be made (e.g. no GT file)


@dataclass(frozen=True)
class IngestSpec:
    task: str
    shard_id: int
    pairs: tuple[Pair, ...]
    config: IngestConfig
    out: str

    def stem(self, task: str) -> str:
        return shard_stem(task, self.shard_id, KIND)

    def folder(self, task: str) -> Path:
        return Path(self.out) / task

    def spec_hash(self, task: str) -> str:
        payload = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "task": task,
            "shard_id": self.shard_id,
            "config": asdict(self.config),
            "pairs": [[p.split, p.lq.source, p.lq.sha256, p.gt.source if p.gt else None,
                       p.gt.sha256 if p.gt else None, p.variant, p.problem] for p in self.pairs],
        }
        return sha256_hex(dumps_json(payload).encode("utf-8"))


@dataclass
class IngestReport:
    notes: list[str] = field(default_factory=list)  # unknown folders, unpaired files, warnings
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    duplicates: int = 0
    manifests: list[str] = field(default_factory=list)
    shards_written: int = 0
    shards_skipped: int = 0
    samples_done: int = 0
    duration: float = 0.0

    def format(self) -> str:
        table, shard_line = format_run_counts(self.counts, self.errors, self.shards_written,
                                              self.shards_skipped, self.samples_done, self.duration, unit="pairs")
        lines = [f"note: {n}" for n in self.notes] + table + shard_line
        lines += [f"manifest: {m}" for m in self.manifests]
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------- listing


def _image_files(folder: Path) -> dict[str, Path]:
    """Relative posix path -> file, for image files under ``folder`` (recursive, no hidden files)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                full = Path(root) / name
                out[full.relative_to(folder).as_posix()] = full
    return out


def pair_folders(task: str, split: str, lq_dir: Path, gt_dir: Path, pair_by: str,
                 notes: list[str]) -> list[tuple[str, Path, Path | None]]:
    """``(lq source, lq path, gt path or None)`` for every LQ file; unpaired GT files are noted."""
    lq_files, gt_files = _image_files(lq_dir), _image_files(gt_dir)
    label = f"{task} ({split})"
    if pair_by == "sorted":
        notes.append(f"{label}: pairing by sorted file order (--pair-by sorted); check that the lists line up")
        lq_list, gt_list = sorted(lq_files), sorted(gt_files)
        if len(lq_list) != len(gt_list):
            notes.append(f"{label}: {len(lq_list)} LQ vs {len(gt_list)} GT files; extra files are unpaired")
        return [(str(lq_dir / name), lq_files[name], gt_files[gt_list[i]] if i < len(gt_list) else None)
                for i, name in enumerate(lq_list)]
    by_stem: dict[str, list[str]] = {}
    for name in gt_files:
        by_stem.setdefault(name.rsplit(".", 1)[0], []).append(name)
    used: set[str] = set()
    out = []
    for name, path in lq_files.items():
        match = name if name in gt_files else None
        if match is None:
            candidates = by_stem.get(name.rsplit(".", 1)[0], [])
            match = candidates[0] if len(candidates) == 1 else None
        if match is not None:
            used.add(match)
        out.append((str(lq_dir / name), path, gt_files[match] if match else None))
    unpaired = sorted(set(gt_files) - used)
    if unpaired:
        notes.append(f"{label}: {len(unpaired)} GT file(s) without an LQ file, e.g. {unpaired[0]}")
    missing = sum(1 for _, _, gt in out if gt is None)
    if missing:
        notes.append(f"{label}: {missing} LQ file(s) without a GT file (recorded as errors)")
    return out


def list_daclip_tree(root: Path, pair_by: str, notes: list[str]) -> list[tuple[str, str, str, Path, Path | None]]:
    """``(task, split, lq source, lq path, gt path)`` for DA-CLIP's ``<split>/<type>/{LQ,GT}`` layout."""
    if not root.is_dir():
        raise FileNotFoundError(f"--root is not a folder: {root}")
    found = []
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if split_dir.name not in SPLITS:
            notes.append(f"{split_dir}: unknown split folder (expected {' or '.join(SPLITS)}); skipped")
            continue
        for type_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                task = degradations.canonical_name(type_dir.name)
            except ValueError:
                notes.append(f"{type_dir}: unknown degradation type folder '{type_dir.name}' "
                             f"(not one of {', '.join(degradations.NAMES)}); skipped")
                continue
            lq_dir, gt_dir = type_dir / "LQ", type_dir / "GT"
            if not lq_dir.is_dir() or not gt_dir.is_dir():
                notes.append(f"{type_dir}: needs both LQ/ and GT/ folders; skipped")
                continue
            for lq_source, lq_path, gt_path in pair_folders(task, split_dir.name, lq_dir, gt_dir, pair_by, notes):
                found.append((task, split_dir.name, lq_source, lq_path, gt_path))
    if not found:
        raise FileNotFoundError(f"no <split>/<type>/LQ|GT image pairs under {root}")
    return found


def build_pairs(found: Sequence[tuple[str, str, str, Path, Path | None]], notes: list[str]) -> dict[str, list[Pair]]:
    """Hash files, drop exact duplicate LQ files, rank variants per GT; task -> pairs in plan order."""
    gt_hashes: dict[Path, Source] = {}
    by_task: dict[str, dict[str, Pair]] = {}
    duplicates = 0
    for task, split, lq_source, lq_path, gt_path in found:
        lq = hash_source(Source(source=lq_source, path=str(lq_path)))
        gt = None
        if gt_path is not None:
            if gt_path not in gt_hashes:
                gt_hashes[gt_path] = hash_source(Source(source=str(gt_path), path=str(gt_path)))
            gt = gt_hashes[gt_path]
        problem = None if gt is not None else f"no GT file for {Path(lq_source).name}"
        pair = Pair(task=task, split=split, lq=lq, gt=gt, problem=problem)
        ident = source_id(lq)
        seen = by_task.setdefault(task, {})
        if ident in seen:
            duplicates += 1
            keep = min(seen[ident], pair, key=lambda p: p.lq.source)
            notes.append(f"duplicate LQ file {max(seen[ident].lq.source, pair.lq.source)} "
                         f"(same bytes as {keep.lq.source}): ingested once")
            seen[ident] = keep
        else:
            seen[ident] = pair
    out = {}
    for task, pairs in by_task.items():
        ordered = sorted(pairs.values(), key=lambda p: (source_id(p.gt) if p.gt else "~", source_id(p.lq)))
        ranked, counter = [], Counter()
        for pair in ordered:
            group = source_id(pair.gt) if pair.gt else source_id(pair.lq)
            ranked.append(Pair(pair.task, pair.split, pair.lq, pair.gt, variant=counter[group], problem=pair.problem))
            counter[group] += 1
        out[task] = ranked
    return out


# ----------------------------------------------------------------------------------------- worker


def set_progress_sink(sink: Callable[[int], None] | None) -> None:
    global _progress
    _progress = sink


def _decode(src: Source, max_pixels: int | None, what: str) -> np.ndarray | str:
    if src.error:
        return f"{what}: {src.error}"
    try:
        data = Path(src.path).read_bytes()
    except OSError as exc:
        return f"{what}: cannot read file: {exc.strerror or exc}"
    if sha256_hex(data) != src.sha256:
        return f"{what}: file changed after it was listed; rerun"
    try:
        return images.load_image(data, max_pixels=max_pixels)
    except images.ImageError as exc:
        return f"{what}: {exc}"
    except Exception as exc:
        return f"{what}: cannot decode image: {type(exc).__name__}: {exc}"


def _row(pair: Pair, split: str, **fields: Any) -> dict[str, Any]:
    row = {"degradation": pair.task, "origin": ORIGIN, "split": split, "source": pair.lq.source,
           "source_sha256": pair.lq.sha256, "variant": pair.variant, "params": None, "seed": None,
           "severity": None, "caption": None}
    row.update(fields)
    return row


def _error(writer: TarShardWriter, pair: Pair, cfg: IngestConfig, message: str) -> None:
    sid = source_id(pair.lq)
    split = assign_split(sid, cfg.val_fraction) if pair.split == "auto" else pair.split
    writer.add_row(_row(pair, split, key=make_key(pair.task, sid, pair.variant, error=True), status="error",
                        error_message=message))


def ingest_pair(pair: Pair, cfg: IngestConfig, gt_cache: dict[str, Any], writer: TarShardWriter) -> None:
    if pair.problem or pair.gt is None:
        _error(writer, pair, cfg, pair.problem or "no GT file")
        return
    if pair.gt.sha256 not in gt_cache:
        gt_cache.clear()  # pairs are ordered by GT: keep only the current one
        gt_cache[pair.gt.sha256] = _decode(pair.gt, cfg.max_pixels, "GT")
    gt = gt_cache[pair.gt.sha256]
    lq = _decode(pair.lq, cfg.max_pixels, "LQ")
    for value in (gt, lq):
        if isinstance(value, str):
            _error(writer, pair, cfg, value)
            return
    size_fix = None
    if gt.shape != lq.shape:
        (gh, gw), (lh, lw) = gt.shape[:2], lq.shape[:2]
        if cfg.fix_size == "skip":
            _error(writer, pair, cfg, f"size mismatch: LQ {lw}x{lh} vs GT {gw}x{gh} "
                                      "(--fix-size crop crops both to the common region)")
            return
        h, w = min(gh, lh), min(gw, lw)
        size_fix = {"lq": [lw, lh], "gt": [gw, gh], "cropped_to": [w, h]}
        gt, lq = np.ascontiguousarray(gt[:h, :w]), np.ascontiguousarray(lq[:h, :w])
    fmt = cfg.image_format
    hq_bytes, lq_bytes = images.encode_image(gt, fmt), images.encode_image(lq, fmt)
    hq_sha, lq_sha = sha256_hex(hq_bytes), sha256_hex(lq_bytes)
    key = make_key(pair.task, hq_sha, pair.variant)
    if writer.has_key(key):
        _error(writer, pair, cfg, "duplicate: same GT pixels and variant as another pair in this shard")
        return
    split = assign_split(hq_sha, cfg.val_fraction) if pair.split == "auto" else pair.split
    height, width = gt.shape[:2]
    meta = {"key": key, "degradation": pair.task, "origin": ORIGIN, "params": None, "split": split,
            "variant": pair.variant, "source": pair.lq.source, "source_sha256": pair.lq.sha256,
            "gt_source": pair.gt.source, "gt_source_sha256": pair.gt.sha256, "hq_sha256": hq_sha,
            "lq_sha256": lq_sha, "width": width, "height": height, "size_fix": size_fix, "image_format": fmt}
    members = {f"hq.{fmt}": hq_bytes, f"lq.{fmt}": lq_bytes, "json": dumps_json(meta).encode("utf-8")}
    row = _row(pair, split, hq_sha256=hq_sha, lq_sha256=lq_sha, width=width, height=height, status="ok",
               error_message=None)
    writer.write(Sample(key=key, members=members, row=row))


def process_ingest_shard(spec: IngestSpec) -> dict[str, Any]:
    """Write one ingested shard (all its pairs); returns its stats with ``skipped``."""
    done = read_stats(spec.folder(spec.task), spec.stem(spec.task))
    if done is not None and done.get("spec_hash") == spec.spec_hash(spec.task) and \
            (spec.folder(spec.task) / f"{spec.stem(spec.task)}.tar").is_file():
        if _progress:
            _progress(len(spec.pairs))
        return {**done, "skipped": True}
    writer = TarShardWriter(spec.folder(spec.task), spec.stem(spec.task))
    gt_cache: dict[str, Any] = {}
    try:
        for pair in spec.pairs:
            try:
                ingest_pair(pair, spec.config, gt_cache, writer)
            except Exception as exc:  # never lose a row
                _error(writer, pair, spec.config, f"cannot ingest pair: {type(exc).__name__}: {exc}")
            if _progress:
                _progress(1)
        extra = {"task": spec.task, "shard_id": spec.shard_id, "spec_hash": spec.spec_hash(spec.task), "kind": KIND}
        return {**writer.close(extra), "skipped": False}
    except BaseException:
        writer.abort()
        raise


# ----------------------------------------------------------------------------------------- driver


def manifest_name(task: str, part: tuple[int, int]) -> str:
    index, count = part
    return f"{task}.{KIND}" if count == 1 else f"{task}.{KIND}.part-{index}-of-{count}"


def ingest(
    found: Sequence[tuple[str, str, str, Path, Path | None]],
    config: IngestConfig,
    out: str | os.PathLike = "data",
    manifests: str | os.PathLike = "manifests",
    workers: int = 1,
    part: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    notes: list[str] | None = None,
    command: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest listed pairs (see :func:`list_daclip_tree` / :func:`pair_folders`) into shards + manifests."""
    start = time.perf_counter()
    out, manifests = Path(out), Path(manifests)
    report = IngestReport(notes=list(notes or []))
    by_task = build_pairs(found, report.notes)
    report.duplicates = sum(1 for n in report.notes if n.startswith("duplicate LQ"))
    all_specs: dict[str, list[IngestSpec]] = {}
    for task, pairs in by_task.items():
        size = config.shard_size
        all_specs[task] = [IngestSpec(task, i // size, tuple(pairs[i : i + size]), config, str(out))
                           for i in range(0, len(pairs), size)]
    specs = [s for task in sorted(all_specs) for s in all_specs[task] if in_part(s.shard_id, part)]
    for task in sorted(all_specs):
        own = [s for s in all_specs[task] if in_part(s.shard_id, part)]
        if overwrite:
            remove_outputs(own, [task], out, manifests, [manifest_name(task, part)], kind=KIND,
                           whole_folder=part[1] == 1)
        check_existing(all_specs[task], [task], out, kind=KIND)
    if on_plan:
        on_plan(sum(len(s.pairs) for s in specs))
    for stats in run_local(process_ingest_shard, specs, workers, initializer=configure_process,
                           on_progress=on_progress, progress_setter=set_progress_sink):
        if stats.get("skipped"):
            report.shards_skipped += 1
        else:
            report.shards_written += 1
            report.samples_done += int(stats.get("count", 0))
    for task in sorted(all_specs):
        own = [s for s in all_specs[task] if in_part(s.shard_id, part)]
        frame = assemble_task(task, own, out, manifests)
        name = manifest_name(task, part)
        write_manifest(frame, manifests / f"{name}.parquet")
        report.manifests.append(str(manifests / f"{name}.parquet"))
        write_sizes(out / task)
        for (split, status), n in frame.groupby(["split", "status"], dropna=False).size().items():
            report.counts[(task, str(split), str(status))] = int(n)
        report.errors.update(frame.loc[frame["status"] != "ok", "error_message"].fillna("").tolist())
        write_json_atomic(_record(task, config, out, manifests, part, own, frame, report, command, workers),
                          manifests / f"{name}.json")
    report.duration = time.perf_counter() - start
    return report


def _record(task, config, out, manifests, part, specs, frame: pd.DataFrame, report, command, workers) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "origin": ORIGIN,
        "config": asdict(config),
        "out": os.path.relpath(out / task, manifests),
        "part": f"{part[0]}/{part[1]}",
        "shards": [f"{s.stem(task)}.tar" for s in specs],
        "rows": len(frame),
        "ok": int((frame["status"] == "ok").sum()) if len(frame) else 0,
        "errors": int((frame["status"] != "ok").sum()) if len(frame) else 0,
        "notes": report.notes,
        "versions": library_versions(),
        "run": {"command": command, "workers": workers},
    }


@click.command("ingest")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="DA-CLIP layout: <root>/<train|val>/<type>/{LQ,GT}/*.")
@click.option("--task", default=None, help="Degradation of --lq/--hq (name or alias).")
@click.option("--lq", "lq_dir", type=click.Path(file_okay=False, exists=True), default=None, help="LQ folder.")
@click.option("--hq", "--gt", "hq_dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="GT (clean) folder.")
@click.option("--split", default="auto", show_default=True, type=click.Choice(["train", "val", "auto"]),
              help="Split of --lq/--hq pairs; auto assigns by HQ hash with --val-fraction.")
@click.option("--val-fraction", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0, max_open=True))
@click.option("--pair-by", default="name", show_default=True, type=click.Choice(["name", "sorted"]),
              help="Pair LQ and GT by file name, or by sorted order (DA-CLIP's loader; warned).")
@click.option("--fix-size", default="skip", show_default=True, type=click.Choice(["skip", "crop"]),
              help="LQ/GT size mismatch: record an error (skip) or crop both to the common region.")
@click.option("--out", default="data", show_default=True, type=click.Path(file_okay=False))
@click.option("--manifests", default="manifests", show_default=True, type=click.Path(file_okay=False))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--shard-size", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--image-format", default="png", show_default=True, type=click.Choice(images.FORMATS))
@click.option("--max-pixels", default=images.DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1))
@click.option("--overwrite", is_flag=True)
@click.option("--part", default=None, help="Process only partition i of N shards, e.g. 0/4.")
def command(root, task, lq_dir, hq_dir, split, val_fraction, pair_by, fix_size, out, manifests, workers,
            shard_size, image_format, max_pixels, overwrite, part) -> None:
    """Bring existing paired LQ/GT datasets into shards and manifests."""
    from tqdm import tqdm

    notes: list[str] = []
    try:
        config = IngestConfig(image_format=image_format, max_pixels=max_pixels, fix_size=fix_size,
                              shard_size=shard_size, val_fraction=val_fraction)
        part_tuple = parse_part(part)
        if root is not None:
            if task or lq_dir or hq_dir:
                raise ValueError("give either --root, or --task with --lq and --hq")
            found = list_daclip_tree(Path(root), pair_by, notes)
        else:
            if not (task and lq_dir and hq_dir):
                raise ValueError("give --root DIR, or --task NAME --lq DIR --hq DIR")
            name = degradations.canonical_name(task)
            found = [(name, split, s, lq, gt) for s, lq, gt in
                     pair_folders(name, split, Path(lq_dir), Path(hq_dir), pair_by, notes)]
            if not found:
                raise FileNotFoundError(f"no image files in {lq_dir}")
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    bar: dict[str, Any] = {}
    try:
        report = ingest(found, config, out=out, manifests=manifests, workers=workers, part=part_tuple,
                        overwrite=overwrite, notes=notes, command=" ".join(["make-dataset", *sys.argv[1:]]),
                        on_plan=lambda n: bar.setdefault("bar", tqdm(total=n, desc="ingesting", unit="pair",
                                                                       dynamic_ncols=True)),
                        on_progress=lambda n: bar["bar"].update(n))
    except (ConfigMismatch, WorkerDied) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc}\n(completed shards are kept; rerun the same command to resume)") from None
    finally:
        if "bar" in bar:
            bar["bar"].close()
    click.echo(report.format())
