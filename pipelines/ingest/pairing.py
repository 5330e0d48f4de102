"""Reader role of ``ingest``: list paired LQ/GT files (or LQ files alone), hash them and number the variants.

LQ files are paired with GT files by relative path (or by stem when the extensions differ);
``--pair-by sorted`` pairs sorted lists instead, as DA-CLIP's loader does, with a warning.
Exact duplicate LQ files are ingested once; several LQ files of one GT are its variants
``0, 1, ...`` ranked by LQ hash. Problems are collected as notes for the summary, never guessed
around.

LQ-only folders (real photos whose clean version nobody has) are listed by
:func:`list_lq_folder`: a folder with ``LQ/`` and no ``GT/``, or with images directly, and every
folder under ``--lq-only``. Their label comes from the folder name (:func:`folder_label`: a type,
an alias, an ``a+b`` mixture, else ``unknown``); their ``Found`` entries carry :data:`LQ_ONLY` in
the GT slot. An LQ file without its GT inside a paired folder (LQ/ beside GT/) stays an error row:
there a missing GT is a pairing problem, not a photo without ground truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import degradations
from degradations.labels import MIXTURE_SEP, UNKNOWN, join_label, split_label

from ..build.sources import (
    IMAGE_EXTENSIONS,
    NO_EXTENSION,
    Source,
    hash_source,
    image_files,
    is_folder,
    skipped_note,
    source_id,
    subfolders,
)
from ..common import remote
from ..common.remote import child

SPLITS = ("train", "val")
LQ_ONLY = "LQ only"  # in Found's GT slot: an LQ image that has no GT by design (not a missing file)
Found = tuple[str, str, str, Path | str, Path | str | None]  # (task, split, lq source, lq path, gt path / None / LQ_ONLY)
Folder = Path | str  # a local folder, or a prefix on object storage (s3://bucket/prefix)


@dataclass(frozen=True)
class Pair:
    task: str
    split: str  # "train" | "val" | "auto"
    lq: Source
    gt: Source | None
    variant: int = 0
    problem: str | None = None  # set when the pair cannot be made (e.g. no GT file)
    lq_only: bool = False  # an LQ image without ground truth by design: an ok row with no HQ member


def _image_files(folder: Folder, boundary: Folder, follow_symlinks: bool, skipped: Counter) -> dict[str, Path | str]:
    """Relative posix path -> file, for the regular image files under ``folder`` (see
    :func:`pipelines.build.sources.image_files`: hidden files, special files and symlinks leaving
    ``boundary`` are skipped and counted; a prefix on object storage is listed recursively)."""
    return image_files(folder, boundary, follow_symlinks=follow_symlinks, skipped=skipped)


def pair_folders(task: str, split: str, lq_dir: Folder, gt_dir: Folder, pair_by: str, notes: list[str],
                 follow_symlinks: bool = False, boundary: Folder | None = None,
                 ) -> list[tuple[str, Path | str, Path | str | None]]:
    """``(lq source, lq path, gt path or None)`` for every LQ file; unpaired GT files are noted, and
    so are the files skipped (symlinks may not leave ``boundary``, default: each folder itself)."""
    label = f"{task} ({split})"
    skipped: Counter = Counter()
    lq_files = _image_files(lq_dir, boundary or lq_dir, follow_symlinks, skipped)
    gt_files = _image_files(gt_dir, boundary or gt_dir, follow_symlinks, skipped)
    skipped.pop(NO_EXTENSION, None)  # as before: files of other kinds beside the images are not news
    note = skipped_note(skipped, label)
    if note:
        notes.append(note)
    if pair_by == "sorted":
        notes.append(f"{label}: pairing by sorted file order (--pair-by sorted); check that the lists line up")
        lq_list, gt_list = sorted(lq_files), sorted(gt_files)
        if len(lq_list) != len(gt_list):
            notes.append(f"{label}: {len(lq_list)} LQ vs {len(gt_list)} GT files; extra files are unpaired")
        return [(str(child(lq_dir, name)), lq_files[name], gt_files[gt_list[i]] if i < len(gt_list) else None)
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
        out.append((str(child(lq_dir, name)), path, gt_files[match] if match else None))
    unpaired = sorted(set(gt_files) - used)
    if unpaired:
        notes.append(f"{label}: {len(unpaired)} GT file(s) without an LQ file, e.g. {unpaired[0]}")
    missing = sum(1 for _, _, gt in out if gt is None)
    if missing:
        notes.append(f"{label}: {missing} LQ file(s) without a GT file (recorded as errors)")
    return out


def folder_label(name: str) -> str:
    """A type folder's label: a type or alias, or a mixture ``a+b`` (also written ``a--b``) in that order."""
    parts = split_label(name.replace("--", MIXTURE_SEP))
    if not parts:
        raise ValueError(f"{name!r} names no degradation type")
    return join_label(parts)


def lq_folder_label(folder: Folder, notes: list[str]) -> str:
    """The label of an LQ-only folder: its name as a type, alias or mixture (:func:`folder_label`),
    else ``unknown`` (noted)."""
    name = remote.basename(folder)
    if name.strip().lower() == UNKNOWN:
        return UNKNOWN
    try:
        return folder_label(name)
    except ValueError:
        notes.append(f"{folder}: '{name}' is not a degradation type or a+b mixture; "
                     f"its images are labelled {UNKNOWN}")
        return UNKNOWN


def parse_label(text: str) -> str:
    """A label given on the command line (``--task`` of LQ-only input): type, alias, mixture or ``unknown``."""
    return UNKNOWN if text.strip().lower() == UNKNOWN else folder_label(text)


def _has_images(folder: Folder) -> bool:
    """Image files directly in ``folder`` (not in its subfolders)."""
    if remote.is_url(folder):
        names = set(remote.listdir(str(folder))) - set(remote.subfolders(str(folder)))
    else:
        names = {p.name for p in Path(folder).iterdir() if p.is_file()}
    return any(Path(n).suffix.lower() in IMAGE_EXTENSIONS and not n.startswith(".") for n in names)


def _is_lq_only(folder: Folder) -> bool:
    """An LQ/ folder without GT/, or image files directly (and no LQ/ or GT/)."""
    inside = set(subfolders(folder))
    return "GT" not in inside and ("LQ" in inside or _has_images(folder))


def list_lq_folder(label: str, split: str, folder: Folder, notes: list[str], follow_symlinks: bool = False,
                   boundary: Folder | None = None) -> list[Found]:
    """Every image under ``folder`` as an LQ-only entry of ``label`` (skipped files are noted)."""
    skipped: Counter = Counter()
    files = _image_files(folder, boundary or folder, follow_symlinks, skipped)
    skipped.pop(NO_EXTENSION, None)
    note = skipped_note(skipped, f"{label} ({split})")
    if note:
        notes.append(note)
    return [(label, split, str(child(folder, name)), path, LQ_ONLY) for name, path in files.items()]


def _list_lq_only(folder: Folder, split: str, root: Folder, notes: list[str], follow_symlinks: bool) -> list[Found]:
    """An LQ-only type folder: its LQ/ if it has one, else its own images (GT/ is never read)."""
    inside = set(subfolders(folder))
    has_lq, has_gt = "LQ" in inside, "GT" in inside
    if not has_lq and has_gt:
        notes.append(f"{folder}: no LQ/ folder beside GT/; skipped")
        return []
    if not has_lq and not _has_images(folder):
        notes.append(f"{folder}: no LQ/ folder and no images directly in it; skipped")
        return []
    if has_gt:
        notes.append(f"{folder}: GT/ not read (--lq-only)")
    return list_lq_folder(lq_folder_label(folder, notes), split, child(folder, "LQ") if has_lq else folder, notes,
                          follow_symlinks, boundary=root)


def list_daclip_tree(root: Folder, pair_by: str, notes: list[str], follow_symlinks: bool = False,
                     lq_only: bool = False) -> list[Found]:
    """``(task, split, lq source, lq path, gt path)`` for DA-CLIP's ``<split>/<type>/{LQ,GT}`` layout
    (a local folder or a prefix on object storage).

    A type folder without GT/ (LQ/ only, or images directly) is LQ-only, and so is a folder at the
    top that is not a split (its split is ``auto``); ``lq_only`` makes every folder LQ-only.
    """
    if not is_folder(root):
        raise FileNotFoundError(f"--root is not a folder: {root}")
    found: list[Found] = []
    for split in subfolders(root):
        split_dir = child(root, split)
        if split not in SPLITS:
            if lq_only or _is_lq_only(split_dir):
                found += _list_lq_only(split_dir, "auto", root, notes, follow_symlinks)
                continue
            notes.append(f"{split_dir}: unknown split folder (expected {' or '.join(SPLITS)}); skipped")
            continue
        for type_name in subfolders(split_dir):
            type_dir = child(split_dir, type_name)
            if lq_only or _is_lq_only(type_dir):
                found += _list_lq_only(type_dir, split, root, notes, follow_symlinks)
                continue
            try:
                task = folder_label(type_name)
            except ValueError:
                notes.append(f"{type_dir}: unknown degradation type folder '{type_name}' "
                             f"(not one of {', '.join(degradations.NAMES)} or an a+b mixture of them); skipped")
                continue
            lq_dir, gt_dir = child(type_dir, "LQ"), child(type_dir, "GT")
            if not {"LQ", "GT"} <= set(subfolders(type_dir)):
                notes.append(f"{type_dir}: needs both LQ/ and GT/ folders; skipped")
                continue
            for lq_source, lq_path, gt_path in pair_folders(task, split, lq_dir, gt_dir, pair_by, notes,
                                                            follow_symlinks, boundary=root):
                found.append((task, split, lq_source, lq_path, gt_path))
    if not found:
        raise FileNotFoundError(f"no <split>/<type>/LQ|GT image pairs (or LQ-only folders) under {root}")
    return found


def build_pairs(found: Sequence[Found], notes: list[str]) -> dict[str, list[Pair]]:
    """Hash files, drop exact duplicate LQ files, rank variants per GT; task -> pairs in plan order."""
    gt_hashes: dict[Path | str, Source] = {}
    by_task: dict[str, dict[str, Pair]] = {}
    duplicates = 0
    for task, split, lq_source, lq_path, gt_path in found:
        lq = hash_source(Source(source=lq_source, path=str(lq_path)))
        gt = None
        lq_only = isinstance(gt_path, str) and gt_path == LQ_ONLY
        if gt_path is not None and not lq_only:
            if gt_path not in gt_hashes:
                gt_hashes[gt_path] = hash_source(Source(source=str(gt_path), path=str(gt_path)))
            gt = gt_hashes[gt_path]
        problem = None if gt is not None or lq_only else f"no GT file for {Path(lq_source).name}"
        pair = Pair(task=task, split=split, lq=lq, gt=gt, problem=problem, lq_only=lq_only)
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
            ranked.append(replace(pair, variant=counter[group]))
            counter[group] += 1
        out[task] = ranked
    return out
