"""Dataset building: list and decode clean photos, degrade, caption, write WebDataset shards
and Parquet manifests, and the ``make-dataset`` CLI. Never imports ``daclip``.

Roles, one subpackage each (each ``__init__`` names its modules' roles):

- ``manifest``: the one schema (``schema``: keys, member names, atomic Parquet I/O,
  ``read_manifest``) and the one validator behind it (``validate``);
- ``build``: the driver ``synthesize`` and ``ingest`` share (plan -> check/overwrite ->
  distribute -> assemble -> sizes and run record -> summary), the job interface, the reader
  (``sources``), rows, writers, resume, assembly, object-storage staging, the build commands'
  click options;
- ``distribute``: distributors by name (the local pool, Ray) and all of ``--part i/N`` /
  ``--part slurm``, shared by ``synthesize``, ``ingest`` and ``caption``;
- ``synthesize``: clean photos -> degraded shards (listing -> source groups -> ``ShardSpec`` jobs);
- ``ingest``: existing LQ/GT folders -> the same shards (pairing -> ``IngestSpec`` jobs);
- ``caption``: BLIP captions of the clean images (plan, BLIP, store and join, Ray actors);
- ``tools``: ``merge``, ``verify``, ``stats``, ``export`` (DA-CLIP's CSV), ``preview`` (contact
  sheets), ``degrade`` (one image), ``migrate``;
- ``common``: the low shared layer: ``files`` (atomic writes with the umask's mode, ``safe_join``,
  ``open_regular``, ``open_input``), ``remote`` (object storage through fsspec), ``locks`` and
  ``store_locks`` (one run per output folder or prefix), ``tars`` (the safe tar reader),
  ``images`` (the one decoder, pixel limit checked from headers), ``cli`` (click helpers, the
  error boundary, ``OldSpellings``, ``manifest_inputs``), ``devices``, ``models``, ``bounded``;
- ``cli``: the ``make-dataset`` group, subcommands imported lazily.

Trust: manifests and shards may come from anyone. They are read only through ``read_manifest``
(validated), the safe tar reader and the guarded decoder; they may point anywhere to *read*,
never decide where anything is *written*.
"""
