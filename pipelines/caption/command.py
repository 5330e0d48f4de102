"""``make-dataset caption``: the click command over :func:`pipelines.caption.run.caption_manifests`."""

from __future__ import annotations

from pathlib import Path

import click

from ..common.cli import FolderOrURL, OldSpellings, manifest_inputs
from ..common.images import DEFAULT_MAX_PIXELS
from ..common.models import ModelUnavailableError
from ..distribute.parts import PART
from ..distribute.registry import DISTRIBUTOR, RAY_ADDRESS
from .blip import DEFAULT_MODEL, DTYPES, GenerationSettings
from .config import CaptionConfig, CaptionRuntime
from .plan import ON
from .run import caption_manifests


@click.command("caption")
@click.option("--manifest-dir", "--manifests", "manifests_dir", cls=OldSpellings, type=FolderOrURL,
              default=Path("manifests"), show_default=True,
              help="Manifest folder (or s3://bucket/prefix); captions.parquet is written here.")
@manifest_inputs(help="Only these manifests (repeatable, or positional; default: every manifest in --manifest-dir).")
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
@PART
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
    manifests_dir: Path | str, manifests: tuple[str, ...], model: str, batch_size: int, device: str,
    dtype: str, max_new_tokens: int, num_beams: int, prompt: str | None, workers: int, part: tuple[int, int],
    overwrite: bool, max_pixels: int, captions_file: Path | None, on: str, distributor: str,
    ray_address: str | None, gpus_per_actor: float | None, actors: int | None,
) -> None:
    """Caption each unique clean image once with BLIP and fill the manifests' caption column."""
    from tqdm import tqdm

    generation = GenerationSettings(max_new_tokens=max_new_tokens, num_beams=num_beams, prompt=prompt or None)
    config = CaptionConfig(model=model, generation=generation, on=on, part=part, overwrite=overwrite,
                           max_pixels=max_pixels)
    runtime = CaptionRuntime(batch_size=batch_size, device=device, dtype=dtype, workers=workers,
                             distributor=distributor, ray_address=ray_address, gpus_per_actor=gpus_per_actor,
                             actors=actors)
    bar = tqdm(total=0, unit="img", desc="caption", dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done)

    try:
        report = caption_manifests(manifests_dir, config, runtime, manifests=manifests or None,
                                   captions_file=captions_file, progress=progress)
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
