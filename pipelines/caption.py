"""``make-dataset caption``: BLIP captions for the clean images behind every manifest.

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

``--part i/N`` runs write ``captions.part-i-of-N.parquet`` and leave the manifests alone; a
run without ``--part`` folds the part files into ``captions.parquet`` and joins. A run holds the
manifest folders (:mod:`pipelines.common.locks`; parts share them). Shards are read through the
safe tar reader and images checked against ``max_pixels`` before they are decoded.

On object storage (``--manifests s3://bucket/prefix/manifests``) shards are read from the store,
the store and the manifests are written back as whole objects (one put each: the captions store
first, then each changed manifest), and the run holds the prefix with a lock object
(:mod:`pipelines.common.store_locks`).

Roles: this module (configuration, the run, the command), ``caption_plan`` (which images, where),
``captioner`` (BLIP, the shard dataset), ``caption_store`` (the store, the join, the import);
the public names of the other three are re-exported here.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pandas as pd

from . import sources
from .build_cli import DISTRIBUTOR, RAY_ADDRESS
from .caption_plan import ON, Plan, list_manifests, member_offsets, plan_images
from .caption_store import (
    CAPTIONS_FILE,
    CAPTIONS_SCHEMA,
    Checkpoint,
    clean_caption,
    import_captions,
    join_captions,
    load_captions,
    merge_rows,
    part_files,
    part_path,
    target_rows,
    write_captions,
)
from .captioner import DEFAULT_MODEL, DTYPES, Captioner, GenerationSettings, ImageRef, caption_refs
from .common import remote
from .common.cli import FolderOrURL, LocalOrURL
from .common.images import DEFAULT_MAX_PIXELS
from .common.locks import output_locks
from .common.models import ModelUnavailableError
from .common.store_locks import store_locks

__all__ = [
    "CAPTIONS_FILE", "CAPTIONS_SCHEMA", "DEFAULT_MODEL", "CaptionConfig", "CaptionReport", "Captioner",
    "GenerationSettings", "ImageRef", "Plan", "caption_manifests", "clean_caption", "command", "import_captions",
    "join_captions", "list_manifests", "load_captions", "member_offsets", "plan_images",
]  # fmt: skip

log = logging.getLogger(__name__)


# --- Configuration and results ---


@dataclass(frozen=True)
class CaptionConfig:
    """Everything ``caption_manifests`` needs, built once at the CLI edge."""

    model: str = DEFAULT_MODEL
    batch_size: int = 16
    device: str = "auto"  # auto | cpu | cuda (or cuda:N)
    dtype: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU) | fp32 | fp16 | bf16
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    workers: int = 2  # DataLoader processes decoding and preprocessing images
    part: tuple[int, int] = (0, 1)  # (i, N): only hashes whose first 15 hex digits % N == i
    overwrite: bool = False  # re-caption images that already have a caption
    flush_seconds: float = 60.0  # checkpoint the store this often
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # larger images get an error row, never decoded
    distributor: str = "local"  # local | ray (pipelines.caption_ray: a pool of BLIP actors)
    ray_address: str | None = None  # default: RAY_ADDRESS, else a local cluster
    gpus_per_actor: float | None = None  # default: 1 when the cluster has GPUs, else 0
    actors: int | None = None  # default: GPUs / gpus_per_actor, or the cluster's CPUs
    on: str = "hq"  # hq: rows without HQ are skipped; lq: they get their LQ image's caption

    def __post_init__(self) -> None:
        if self.on not in ON:
            raise ValueError(f"on must be one of {ON}, got {self.on!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        index, count = self.part
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"part must be i/N with 0 <= i < N, got {index}/{count}")

    @property
    def partitioned(self) -> bool:
        return self.part[1] > 1


@dataclass(frozen=True)
class CaptionReport:
    manifests: int  # manifests read
    rows: int  # ok rows in them
    unique_images: int  # distinct hq_sha256 (in this part)
    already_captioned: int  # skipped because a caption exists
    captioned: int  # new captions made (or imported)
    errors: int  # images that got no caption this run
    unmatched: int  # --captions-file rows that matched no image
    rows_with_caption: int  # ok manifest rows with a caption after the join
    manifests_updated: int
    seconds: float
    store: str  # path of the captions file written
    without_hq: int = 0  # ok rows skipped for lacking an HQ image (--on hq)


# --- The whole command as one function ---


def caption_manifests(
    manifests_dir: str | os.PathLike = "manifests",
    config: CaptionConfig | None = None,
    manifests: Sequence[str | os.PathLike] | None = None,
    captions_file: str | os.PathLike | None = None,
    captioner: Captioner | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CaptionReport:
    """Caption every unique clean image of the manifests once and join captions into them.

    ``manifests`` defaults to every manifest in ``manifests_dir`` (the captions store lives
    there too). ``captions_file`` imports captions instead of running BLIP. ``captioner``
    lets callers pass an already loaded model. ``progress(n, total)`` is called after each
    batch with the images just done and the number to do.
    """
    config = config or CaptionConfig()
    if captions_file is not None and config.partitioned:
        raise ValueError("--captions-file imports everything at once; drop --part")
    folder = remote.as_path(manifests_dir)
    paths = [remote.as_path(p) for p in manifests] if manifests else list_manifests(folder)
    if not paths:
        raise FileNotFoundError(f"no manifests in {folder}")
    part = "caption-part-{}-of-{}".format(*config.part) if config.partitioned else None
    if remote.is_url(folder) or any(remote.is_url(p) for p in paths):
        if not all(remote.is_url(p) for p in (folder, *paths)):
            raise ValueError(f"--manifests {folder} and the manifests: put all on object storage or all on local disk")
        lock = store_locks({folder, *(p.rsplit("/", 1)[0] for p in paths)}, part)
    else:
        lock = output_locks({folder: 0, **{p.parent: 0 for p in paths}}, part)
    with lock:
        return _caption(folder, paths, config, captions_file, captioner, progress)


def _caption(folder: Path | str, paths: list[Path | str], config: CaptionConfig, captions_file: str | os.PathLike | None,
             captioner: Captioner | None, progress: Callable[[int, int], None] | None) -> CaptionReport:
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
            log.warning(
                "%s: %d rows matched no image, %d had an empty caption", captions_file, unmatched, empty
            )
    elif todo:
        if captioner is None and config.distributor == "local":
            captioner = Captioner.load(config.model, config.device, config.dtype, config.generation)
        new_rows = _caption_missing(captioner, todo, config, target_rows(store, target), target, progress)
        captioned = sum(1 for r in new_rows if r["caption"] is not None)
        errors = len(new_rows) - captioned

    merged = merge_rows(store, new_rows)
    if config.partitioned:
        updated = with_caption = 0
        log.info(
            "part %d/%d done; run without --part to merge the parts and fill the manifests", *config.part
        )
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
    keep: pd.DataFrame,
    target: Path | str,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    """Run BLIP over ``todo``; checkpoint ``keep`` + new rows to ``target`` every ``flush_seconds``
    and on the way out (also when killed), so a rerun only does what is still missing."""
    if progress is not None:
        progress(0, len(todo))
    with Checkpoint(keep, target, config.flush_seconds) as checkpoint:

        def on_batch(rows: list[dict[str, Any]]) -> None:
            if progress is not None:
                progress(len(rows), len(todo))
            checkpoint.add(rows)

        if captioner is None:  # --distributor ray: the actors load BLIP, rows are committed here
            from .caption_ray import caption_refs_ray

            caption_refs_ray(config, todo, on_batch)
        else:
            caption_refs(captioner, todo, config.batch_size, config.workers, on_batch, config.max_pixels)
    for row in checkpoint.rows:
        if row["error"]:
            log.warning("no caption for %s: %s", row["hq_sha256"], row["error"])
    return checkpoint.rows


# --- CLI ---


def parse_part(ctx: click.Context | None, param: click.Parameter | None, value: str) -> tuple[int, int]:
    """Click callback for ``--part i/N`` (0 <= i < N), the rule ``synthesize`` uses."""
    try:
        return sources.parse_part(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("caption")
@click.option(
    "--manifests",
    "manifests_dir",
    type=FolderOrURL,
    default=Path("manifests"),
    show_default=True,
    help="Manifest folder (or s3://bucket/prefix); captions.parquet is written here.",
)
@click.option(
    "--manifest",
    "manifest_files",
    multiple=True,
    type=LocalOrURL,
    help="Only these manifests (repeatable; default: every manifest in --manifests).",
)
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Hub id or local folder of a BLIP captioner.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--dtype", type=click.Choice(DTYPES), default="auto", show_default=True,
              help="auto: fp16 on CUDA, fp32 on CPU.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--num-beams", type=click.IntRange(min=1), default=1, show_default=True, help="1 = greedy.")
@click.option("--prompt", default=None, help='Conditional captioning prefix, e.g. "a photography of".')
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Image-decoding DataLoader workers.")
@click.option("--part", default="0/1", show_default=True, callback=parse_part, help="Caption only part i of N (0-based).")
@click.option("--overwrite", is_flag=True, help="Re-caption images that already have a caption.")
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1),
              help="Images with more pixels (read from their headers) get no caption.")
@click.option(
    "--captions-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Import captions (CSV/TSV/Parquet: caption + hq_sha256 or source) instead of running BLIP.",
)
@click.option("--on", type=click.Choice(ON), default="hq", show_default=True,
              help="Image to caption: hq (the clean image; rows without one are skipped and counted), or lq: "
                   "rows without HQ get their LQ image's caption (rows with HQ keep the clean one's).")
@DISTRIBUTOR
@RAY_ADDRESS
@click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=None,
              help="With --distributor ray: GPUs per BLIP actor (default: 1 when the cluster has GPUs, else 0).")
@click.option("--actors", type=click.IntRange(min=1), default=None,
              help="With --distributor ray: BLIP actors (default: GPUs / --gpus-per-actor, else the cluster's CPUs).")
def command(
    manifests_dir: Path | str, manifest_files: tuple[str, ...], model: str, batch_size: int, device: str,
    dtype: str, max_new_tokens: int, num_beams: int, prompt: str | None, workers: int, part: tuple[int, int],
    overwrite: bool, max_pixels: int, captions_file: Path | None, on: str, distributor: str,
    ray_address: str | None, gpus_per_actor: float | None, actors: int | None,
) -> None:
    """Caption each unique clean image once with BLIP and fill the manifests' caption column."""
    from tqdm import tqdm

    config = CaptionConfig(
        model=model,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        generation=GenerationSettings(
            max_new_tokens=max_new_tokens, num_beams=num_beams, prompt=prompt or None
        ),
        workers=workers,
        part=part,
        overwrite=overwrite,
        max_pixels=max_pixels,
        distributor=distributor,
        ray_address=ray_address,
        gpus_per_actor=gpus_per_actor,
        actors=actors,
        on=on,
    )
    bar = tqdm(total=0, unit="img", desc="caption", dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done)

    try:
        report = caption_manifests(
            manifests_dir,
            config,
            manifests=manifest_files or None,
            captions_file=captions_file,
            progress=progress,
        )
    except ModelUnavailableError as error:  # the rest go through make-dataset's error boundary
        raise click.ClickException(str(error)) from None
    finally:
        bar.close()
    click.echo(
        f"{report.unique_images} unique {'images' if on == 'lq' else 'clean images'} in {report.rows} rows of "
        f"{report.manifests} manifests: "
        f"{report.captioned} captioned, {report.already_captioned} already had one, {report.errors} errors"
        + (f", {report.unmatched} captions-file rows unmatched" if captions_file else "")
        + f"; {report.rows_with_caption}/{report.rows} rows now have a caption "
        f"({report.manifests_updated} manifests updated, store {report.store}, {report.seconds:.1f}s)"
        + (f"; skipped {report.without_hq} rows without an HQ image (--on lq captions their LQ image)"
           if report.without_hq else "")
    )
    if report.errors:
        click.echo(f"{report.errors} images got no caption (see the log); a rerun retries them", err=True)
