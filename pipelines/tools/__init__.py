"""The dataset tools of ``make-dataset``, one module each, each a typed function plus its click command:
``merge`` (task/part manifests -> train/val), ``verify`` (re-read every member, check hashes),
``stats`` (counts and sizes), ``export`` (DA-CLIP's training CSV), ``preview`` (contact sheets),
``degrade`` (one image), ``migrate`` (older manifests -> the current schema).
"""
