"""``make-dataset score``: weight-free quality scores of every clean image, as manifest columns."""

from __future__ import annotations

import inspect

import click

from ..common.cli import manifest_inputs
from .gate import DEFAULT_RULE, parse_rule
from .run import score_manifests
from .score import MEASURES

MAX_ERROR_LINES = 50


@click.command("score")
@manifest_inputs(required=True, help="Manifest to score (repeatable; also positional).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the scored manifests (same file names; shard paths are rewritten to match).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Processes.")
@click.option("--reject-if", "reject_if", default=None, metavar="RULE",
              help=f"Mark rows whose scores match RULE (comparisons of q_* names joined by and/or), e.g. "
                   f"'q_blur > 0.4 or q_sigma > 3'; 'default' means '{DEFAULT_RULE}'.")
@click.option("--drop", is_flag=True, help="Leave the rows --reject-if rejects out of the scored manifests.")
def command(manifests: tuple[str, ...], out_dir: str, workers: int, reject_if: str | None, drop: bool) -> None:
    """Score each distinct clean image of MANIFESTS once (blur, noise, blocking, exposure, NIQE,
    PIQE, perceptual hash) and write the manifests again under --out with the q_* columns."""
    from tqdm import tqdm

    if drop and reject_if is None:
        raise click.UsageError("--drop needs --reject-if")
    rule = parse_rule(DEFAULT_RULE if reject_if == "default" else reject_if) if reject_if is not None else None
    bar = tqdm(total=0, desc="scoring", unit="image", dynamic_ncols=True)

    def start(n: int) -> None:
        bar.total = n
        bar.refresh()

    try:
        report = score_manifests(manifests, out_dir, rule=rule, drop=drop, workers=workers,
                                 on_progress=bar.update, on_start=start)
    finally:
        bar.close()
    for line in report.errors[:MAX_ERROR_LINES]:
        click.echo(f"could not score {line}", err=True)
    if len(report.errors) > MAX_ERROR_LINES:
        click.echo(f"... and {len(report.errors) - MAX_ERROR_LINES} more", err=True)
    click.echo(report.format())


command.help = inspect.cleandoc(command.help or "") + "\n\nColumns: " + "; ".join(f"{k}: {v[0]}" for k, v in MEASURES.items())
