"""``--part``: which share of the work this process does, the same rule for every command.

``--part i/N`` runs part ``i`` of ``N`` (0-based); ``--part slurm`` reads it from a SLURM job
array's variables. ``synthesize`` and ``ingest`` keep the shards ``s`` with ``s % N == i``
(:func:`in_part`); ``caption`` keeps the images whose hash falls in part ``i``. ``merge`` (or a
``caption`` run without ``--part``) joins the parts.
"""

from __future__ import annotations

import os

import click

PART_HELP = ("Process only part i of N, e.g. 0/4, or 'slurm' (from the job array variables); "
             "merge (caption: a run without --part) joins the parts.")


def parse_part(text: str | None) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with 0 <= i < N; ``None`` -> ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        i_text, n_text = text.split("/")
        index, count = int(i_text), int(n_text)
    except ValueError:
        raise ValueError(f"--part must look like i/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--part {text}: need 0 <= i < N")
    return index, count


def in_part(shard_id: int, part: tuple[int, int]) -> bool:
    """Static partition of shard ids: shard ``s`` belongs to part ``s % N``."""
    index, count = part
    return shard_id % count == index


def slurm_part(env: dict[str, str] | None = None) -> str | None:
    """``"i/N"`` from a SLURM job array's environment, or None outside an array job."""
    env = dict(os.environ) if env is None else env
    task, count = env.get("SLURM_ARRAY_TASK_ID"), env.get("SLURM_ARRAY_TASK_COUNT")
    if task is None or count is None:
        return None
    first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
    return f"{int(task) - first}/{int(count)}"


def resolve_part(text: str | None, env: dict[str, str] | None = None) -> tuple[int, int]:
    """``--part``: ``None`` (everything), ``"i/N"``, or ``"slurm"`` (from the job array variables)."""
    if text == "slurm":
        text = slurm_part(env)
        if text is None:
            raise ValueError("--part slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT")
    return parse_part(text)


def _part_callback(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> tuple[int, int]:
    try:
        return resolve_part(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


PART = click.option("--part", default=None, callback=_part_callback, help=PART_HELP)
"""The ``--part`` option of every partitioned command: the parameter arrives as ``(i, N)``."""
