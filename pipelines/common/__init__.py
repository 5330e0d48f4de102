"""The low shared layer, used by ``pipelines`` and ``daclip`` alike; imports nothing else of ours
but ``degradations``.

``files`` (atomic writes with the umask's mode, ``safe_join`` for paths built from data,
``open_regular`` for inputs), ``locks`` (one run per output folder; stale temporary files),
``tars`` (the safe tar reader), ``images`` (the one image decoder and encoder; ``decode_rgb`` and
``check_pixels`` check the pixel count from the header first), ``cli`` (console-script helpers:
logging, lazy subcommands, the error boundary), ``devices`` (the one device resolver), ``models``
(the one pretrained-model source resolver and its offline error), ``bounded`` (one call in a child
process with a time and memory limit, for work that data from someone else decides).
"""
