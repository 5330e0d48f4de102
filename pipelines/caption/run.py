"""The run of ``make-dataset caption``: BLIP captions for the clean images behind every manifest.

DA-CLIP captions the *clean* image and pairs the caption with each degraded copy. Here each
unique clean image (by ``hq_sha256``) is captioned once, in batches, from the shards' ``hq``
members; results go to ``manifests/captions.parquet`` and are joined into the ``caption``
column of every manifest. The flow is a visible list of steps:

1. :func:`plan_images`: unique clean images of the manifests, with their tar member offsets;
2. :func:`load_captions`: captions already made (a rerun only does what is missing);
3. :class:`Captioner`: batched ``generate`` with BLIP (torch/transformers imported lazily);
4. :func:`write_captions`: the store, written atomically (also every ``flush_seconds``);
5. :func:`join_captions`: fill each manifest's ``caption`` column, written atomically.

Rows without an HQ image (real photos ingested without ground truth) are skipped and counted;
``--on lq`` captions their LQ image instead (rows with an HQ still get their clean image's
caption). The store records which image each caption came from (``image``: ``hq`` | ``lq``) and
keys it by that image's sha256, so deduplication, resume and ``--part`` work the same way.

``--part i/N`` (or ``--part slurm``) runs write ``captions.part-i-of-N.parquet`` and leave the manifests alone; a
run without ``--part`` folds the part files into ``captions.parquet`` and joins. A run holds the
manifest folders (:mod:`pipelines.common.locks`; parts share them). Shards are read through the
safe tar reader and images checked against ``max_pixels`` before they are decoded.

On object storage (``--manifest-dir s3://bucket/prefix/manifests``) shards are read from the store,
the store and the manifests are written back as whole objects (one put each: the captions store
first, then each changed manifest), and the run holds the prefix with a lock object
(:mod:`pipelines.common.store_locks`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..common import remote
from ..common.locks import output_locks
from ..common.store_locks import store_locks
from .blip import Captioner, ImageRef, caption_refs
from .config import CaptionConfig, CaptionReport, CaptionRuntime
from .plan import list_manifests, plan_images
from .ray import caption_refs_pooled
from .store import (
    CAPTIONS_FILE,
    Checkpoint,
    import_captions,
    join_captions,
    load_captions,
    merge_rows,
    part_files,
    part_path,
    target_rows,
    write_captions,
)

log = logging.getLogger(__name__)


def caption_manifests(
    manifests_dir: str | os.PathLike = "manifests",
    config: CaptionConfig | None = None,
    runtime: CaptionRuntime | None = None,
    manifests: Sequence[str | os.PathLike] | None = None,
    captions_file: str | os.PathLike | None = None,
    captioner: Captioner | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CaptionReport:
    """Caption every unique clean image of the manifests once and join captions into them.

    ``config`` says what to caption, ``runtime`` how to run it. ``manifests`` defaults to every
    manifest in ``manifests_dir`` (the captions store lives there too). ``captions_file`` imports
    captions instead of running BLIP. ``captioner`` lets callers pass an already loaded model. ``progress(n, total)`` is called after each
    batch with the images just done and the number to do.
    """
    config, runtime = config or CaptionConfig(), runtime or CaptionRuntime()
    if captions_file is not None and config.partitioned:
        raise ValueError("--captions-file imports everything at once; drop --part")
    folder = remote.as_path(manifests_dir)
    paths = [remote.as_path(p) for p in manifests] if manifests else list_manifests(folder)
    if not paths:
        raise FileNotFoundError(f"no manifests in {folder}")
    part = "caption-part-{}-of-{}".format(*config.part) if config.partitioned else None
    if remote.is_url(folder) or any(remote.is_url(p) for p in paths):
        if not all(remote.is_url(p) for p in (folder, *paths)):
            raise ValueError(f"--manifest-dir {folder} and the manifests: put all on object storage or all on local disk")
        lock = store_locks({folder, *(p.rsplit("/", 1)[0] for p in paths)}, part)
    else:
        lock = output_locks({folder: 0, **{p.parent: 0 for p in paths}}, part)
    with lock:
        return _caption(folder, paths, config, runtime, captions_file, captioner, progress)


def _caption(folder: Path | str, paths: list[Path | str], config: CaptionConfig, runtime: CaptionRuntime,
             captions_file: str | os.PathLike | None, captioner: Captioner | None,
             progress: Callable[[int, int], None] | None) -> CaptionReport:
    start = time.perf_counter()
    store = load_captions(folder)
    target = part_path(folder, config.part) if config.partitioned else remote.child(folder, CAPTIONS_FILE)

    have = () if config.overwrite else set(store.loc[store["caption"].notna(), "hq_sha256"])
    plan = plan_images(paths, config.part, skip=have, on=config.on)
    todo = plan.refs
    already = plan.unique_images - len(todo)
    captioned = errors = unmatched = 0
    new_rows: list[dict[str, Any]] = []

    if captions_file is not None:
        imported, unmatched, empty = import_captions(captions_file, paths, on=config.on)
        wanted = {r.hq_sha256 for r in todo}
        imported = [row for row in imported if row["hq_sha256"] in wanted]
        new_rows.extend(imported)
        captioned, errors = len(imported), empty
        if unmatched or empty:
            log.warning("%s: %d rows matched no image, %d had an empty caption", captions_file, unmatched, empty)
    elif todo:
        if captioner is None and runtime.distributor == "local":
            captioner = Captioner.load(config.model, runtime.device, runtime.dtype, config.generation)
        new_rows = _caption_missing(captioner, todo, config, runtime, target_rows(store, target), target, progress)
        captioned = sum(1 for r in new_rows if r["caption"] is not None)
        errors = len(new_rows) - captioned

    merged = merge_rows(store, new_rows)
    if config.partitioned:
        updated = with_caption = 0
        log.info("part %d/%d done; run without --part to merge the parts and fill the manifests", *config.part)
    else:
        if new_rows or part_files(folder) or not remote.path_exists(target):
            write_captions(merged, target)
            for stale in part_files(folder):  # folded into captions.parquet above
                remote.remove_path(stale)
        ok = merged[merged["caption"].notna()]
        updated, with_caption = join_captions(paths, dict(zip(ok["hq_sha256"], ok["caption"])))
    return CaptionReport(
        manifests=len(paths),
        rows=plan.rows,
        unique_images=plan.unique_images,
        already_captioned=already,
        captioned=captioned,
        errors=errors,
        unmatched=unmatched,
        rows_with_caption=with_caption,
        manifests_updated=updated,
        seconds=time.perf_counter() - start,
        store=str(target),
        without_hq=plan.without_hq,
    )


def _caption_missing(
    captioner: Captioner | None,
    todo: Sequence[ImageRef],
    config: CaptionConfig,
    runtime: CaptionRuntime,
    keep: pd.DataFrame,
    target: Path | str,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    """Run BLIP over ``todo``; checkpoint ``keep`` + new rows to ``target`` every ``flush_seconds``
    and on the way out (also when killed), so a rerun only does what is still missing."""
    if progress is not None:
        progress(0, len(todo))
    with Checkpoint(keep, target, runtime.flush_seconds) as checkpoint:

        def on_batch(rows: list[dict[str, Any]]) -> None:
            if progress is not None:
                progress(len(rows), len(todo))
            checkpoint.add(rows)

        if captioner is None:  # --distributor ray: the pool's actors load BLIP, rows are committed here
            caption_refs_pooled(config, runtime, todo, on_batch)
        else:
            caption_refs(captioner, todo, runtime.batch_size, runtime.workers, on_batch, config.max_pixels)
    for row in checkpoint.rows:
        if row["error"]:
            log.warning("no caption for %s: %s", row["hq_sha256"], row["error"])
    return checkpoint.rows


