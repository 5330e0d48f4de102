"""Planning role of ``make-dataset caption``: which images to caption, and where their bytes are.

:func:`plan_images` reads the manifests' ok rows, keeps one row per unique image of this
``--part``, drops those already captioned, and finds each member's byte offset in its tar from the
headers alone, so the captioner reads each image with one seek. The image of a row is its ``hq``
member (``hq_sha256``); a row without HQ (ingested without ground truth) is skipped and counted
with ``on="hq"``, and gives its ``lq`` member (``lq_sha256``) with ``on="lq"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..common import remote
from ..common.tars import member_index
from ..manifest.schema import HQ, LQ, read_manifest
from .blip import ImageRef
from .store import CAPTIONS_FILE, PART_PREFIX, caption_key

ON = (HQ, LQ)  # caption --on: the HQ image (DA-CLIP's way), or the LQ image where there is no HQ


def list_manifests(manifests_dir: str | os.PathLike) -> list[Path | str]:
    """Every manifest in the folder (or prefix on object storage) except the captions store (and its part files)."""
    if remote.is_url(manifests_dir):
        return [remote.join(manifests_dir, name) for name in remote.listdir(manifests_dir)
                if name.endswith(".parquet") and _is_manifest_name(name)]
    folder = Path(manifests_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"manifest folder not found: {folder}")
    return sorted(
        p
        for p in folder.glob("*.parquet")
        if _is_manifest_name(p.name)
    )


def _is_manifest_name(name: str) -> bool:
    return not name.startswith(".") and name != CAPTIONS_FILE and not name.startswith(PART_PREFIX)


def _member(key: str, members: Any, stem: str = HQ) -> str | None:
    suffixes = json.loads(members) if isinstance(members, str) else []  # checked by the validator
    return next((f"{key}.{suffix}" for suffix in suffixes if suffix.startswith(f"{stem}.")), None)


def _in_part(hq_sha256: str, part: tuple[int, int]) -> bool:
    index, count = part
    return count == 1 or int(hq_sha256[:15], 16) % count == index


def member_offsets(shard_path: str, wanted: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Byte offset and size of the data of the wanted members of an uncompressed tar.

    Reads tar headers only (the data is skipped; every header is checked by the safe tar
    reader, :func:`pipelines.common.tars.member_index`), so workers can later read each image
    with one seek instead of re-scanning the tar.
    """
    return member_index(shard_path, set(wanted))


@dataclass(frozen=True)
class CaptionPlan:
    refs: tuple[ImageRef, ...]  # the images to caption, in shard order
    unique_images: int  # distinct images of the manifests (in this part), skipped ones included
    rows: int  # ok rows of the manifests
    without_hq: int = 0  # ok rows skipped because they have no HQ image (on="hq")


def plan_images(manifests: Sequence[Path | str], part: tuple[int, int] = (0, 1), skip: Iterable[str] = (),
                on: str = HQ) -> CaptionPlan:
    """Unique images (by hash) of the manifests' ok rows, less the ``skip`` hashes: each row's HQ
    image, and with ``on="lq"`` the LQ image of a row that has no HQ.

    When several rows share an image, the first by (shard, key) is read. Only the shards
    holding images to caption have their headers read. Images come back ordered by shard and
    offset, so shards are read front to back.
    """
    if on not in ON:
        raise ValueError(f"on must be one of {ON}, got {on!r}")
    columns = ["key", "hq_sha256", "lq_sha256", "shard_path", "members"]
    frames = [read_manifest(path, status="ok")[columns] for path in manifests]
    if not frames:
        return CaptionPlan((), 0, 0)
    rows = pd.concat(frames, ignore_index=True)
    total_rows = len(rows)
    without_hq = int(rows["hq_sha256"].isna().sum()) if on == HQ else 0
    keys = [caption_key(h, lq, on) for h, lq in zip(rows["hq_sha256"], rows["lq_sha256"])]
    rows = rows.assign(hq_sha256=keys, image=[HQ if isinstance(h, str) else LQ for h in rows["hq_sha256"]])
    rows = rows[rows["hq_sha256"].notna() & rows["shard_path"].notna()]
    rows = rows[[_in_part(h, part) for h in rows["hq_sha256"]]]
    rows = rows.sort_values(["hq_sha256", "shard_path", "key"], kind="mergesort")
    rows = rows.drop_duplicates("hq_sha256", keep="first")
    unique = len(rows)
    rows = rows[~rows["hq_sha256"].isin(set(skip))]

    refs: list[ImageRef] = []
    for shard_path, group in rows.groupby("shard_path", sort=True):
        images = dict(zip(group["hq_sha256"], group["image"]))
        names = {h: _member(k, m, images[h]) for h, k, m in zip(group["hq_sha256"], group["key"], group["members"])}
        offsets = (
            member_offsets(shard_path, (n for n in names.values() if n)) if remote.path_exists(shard_path) else {}
        )
        for hq_sha256, name in names.items():
            offset, size = offsets.get(name, (-1, 0)) if name else (-1, 0)
            refs.append(ImageRef(hq_sha256, shard_path, name or "", offset, size, image=images[hq_sha256]))
    refs.sort(key=lambda r: (r.shard_path, r.offset, r.hq_sha256))
    return CaptionPlan(tuple(refs), unique, total_rows, without_hq)
