"""The low shared layer, used by ``pipelines`` and ``daclip`` alike; imports nothing else of ours
but ``degradations``.

``files`` (atomic writes), ``images`` (the one image decoder and encoder), ``cli`` (console-script
helpers: logging, lazy subcommands), ``devices`` (the one device resolver), ``models`` (the one
pretrained-model source resolver and its offline error).
"""
