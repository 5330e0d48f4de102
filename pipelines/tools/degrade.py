"""``make-dataset degrade``: degrade one image file and keep its params, to try a type by hand.

Writes the LQ image, ``<output>.json`` (the replayable params) and, with ``--maps``, each side
map next to it (``<output>.<map>.png`` / ``.npy``). Several ``--task`` options are chained with
:func:`degradations.compose`, in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

import degradations as D

from ..common.cli import OldSpellings
from ..common.files import write_bytes_atomic, write_json_atomic
from ..common.images import encode_map, load_image, save_image


def degrade_file(
    image: Path | None, tasks: Sequence[str], output: Path, severity: str = "medium", seed: int = 0,
    with_maps: bool = False, max_side: int | None = None, hq_output: Path | None = None,
) -> dict[str, Any]:
    """Degrade ``image`` (default: scikit-image's astronaut) and write LQ, params and maps; ``max_side``
    first downscales it (area filter), ``hq_output`` also writes the clean image that was degraded."""
    if image is None:
        from skimage import data

        img = np.ascontiguousarray(data.astronaut())
    else:
        img = load_image(image)
    if max_side and max(img.shape[:2]) > max_side:
        import cv2

        scale = max_side / max(img.shape[:2])
        size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    if hq_output is not None:
        save_image(img, hq_output)
    if len(tasks) == 1:
        _, params = D.degrade(img, tasks[0], seed=seed, severity=severity)
    else:
        _, params = D.compose(img, tasks, seed=seed, severity=severity)
    result = D.replay(img, params)
    save_image(result.lq, output)
    write_json_atomic(params, output.with_suffix(".json"))
    if with_maps:
        for name, array in result.maps.items():
            ext, data_bytes = encode_map(array, img.shape)
            write_bytes_atomic(data_bytes, output.with_suffix(f".{name}.{ext}"))
    return params


@click.command("degrade")
@click.argument("image", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", "tasks", multiple=True, required=True,
              help="Degradation name or alias; repeat it to chain several (blur, then noise, then jpeg, ...).")
@click.option("--severity", type=click.Choice(D.SEVERITIES), default="medium", show_default=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--out", "-o", "--output", "output", cls=OldSpellings, type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="LQ image to write (.png, .jpg or .webp); params go to the same name with .json.")
@click.option("--maps", "with_maps", is_flag=True, help="Also write the side maps (mask, transmission, kernel, ...).")
@click.option("--max-side", type=click.IntRange(1), default=None, help="Downscale the image to this longest side first.")
@click.option("--hq", "hq_output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the clean image that was degraded (after --max-side) here.")
def command(image: Path | None, tasks: tuple[str, ...], severity: str, seed: int, output: Path,
            with_maps: bool, max_side: int | None, hq_output: Path | None) -> None:
    """Degrade one IMAGE (default: scikit-image's astronaut) and record every sampled parameter."""
    if image is None:
        click.echo("no IMAGE given: using scikit-image's astronaut sample photo")
    try:
        params = degrade_file(image, tasks, output, severity=severity, seed=seed, with_maps=with_maps,
                              max_side=max_side, hq_output=hq_output)
    except ValueError as exc:  # unknown task, unreadable image, unsupported suffix
        raise click.ClickException(str(exc)) from exc
    names = [step["name"] for step in params["steps"]] if "steps" in params else [params["name"]]
    click.echo(f"wrote {output} ({' + '.join(names)}, {severity}, seed {seed}) and {output.with_suffix('.json')}")
