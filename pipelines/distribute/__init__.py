"""Running work items through one worker function, anywhere; outputs never depend on where.

- ``registry``: distributors by name (``--distributor``), the ``--distributor`` / ``--ray-address`` options;
- ``local``: ``run_local``, this process or a spawn process pool;
- ``ray``: ``run_ray``, one Ray task per item, and the cluster session;
- ``parts``: all of ``--part i/N`` / ``--part slurm`` (parsing, the SLURM array, the click option),
  shared by ``synthesize``, ``ingest`` and ``caption``;
- ``progress``: the progress callback a worker is given.
"""
