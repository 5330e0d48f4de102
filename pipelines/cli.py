"""The ``make-dataset`` console script: thin click commands over typed functions.

Each subcommand lives next to the function it wraps and is imported lazily, so
``make-dataset synthesize`` starts without torch or transformers. Expected failures (bad or
hostile manifests and shards, full disks ...) end as one line on stderr and exit code 1
(:func:`pipelines.common.cli.error_boundary`); ``-v`` shows the traceback.
"""

from __future__ import annotations

from .common.cli import console_group

SUBCOMMANDS = {
    "preview": "pipelines.tools.preview:command",
    "degrade": "pipelines.tools.degrade:command",
    "synthesize": "pipelines.synthesize.command:command",
    "merge": "pipelines.tools.merge:command",
    "verify": "pipelines.tools.verify:command",
    "stats": "pipelines.tools.stats:command",
    "caption": "pipelines.caption.command:command",
    "export-csv": "pipelines.tools.export:command",
    "ingest": "pipelines.ingest.command:command",
    "migrate": "pipelines.tools.migrate:command",
    "score": "pipelines.quality.command:command",
}


cli = console_group("Build degradation-aware image-restoration datasets (DA-CLIP style).", SUBCOMMANDS,
                    guarded=True)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
