"""The ``make-dataset`` console script: thin click commands over typed functions.

Each subcommand lives next to the function it wraps and is imported lazily, so
``make-dataset synthesize`` starts without torch or transformers. Expected failures (bad or
hostile manifests and shards, full disks ...) end as one line on stderr and exit code 1
(:func:`pipelines.common.cli.error_boundary`); ``-v`` shows the traceback.
"""

from __future__ import annotations

from .common.cli import console_group

SUBCOMMANDS = {
    "preview": "pipelines.preview:command",
    "degrade": "pipelines.degrade:command",
    "synthesize": "pipelines.synthesize:command",
    "merge": "pipelines.merge:command",
    "verify": "pipelines.verify:command",
    "stats": "pipelines.stats:command",
    "caption": "pipelines.caption:command",
    "export-csv": "pipelines.export:command",
    "ingest": "pipelines.ingest:command",
    "migrate": "pipelines.migrate:command",
}


cli = console_group("Build degradation-aware image-restoration datasets (DA-CLIP style).", SUBCOMMANDS,
                    guarded=True)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
