"""The catalog as code (issue 13): one YAML file per pathway in ``catalog/pathways/``, validated with
the domain models, planned against Firestore and applied idempotently.

    python -m catalog check              # validate the files (errors name file, line and field)
    python -m catalog plan               # what apply would change, and how many learners it moves
    python -m catalog apply              # write it, bump content_version, enqueue re-evaluation
    python -m catalog apply --prune      # ... and retire the stored pathways the files no longer name

``files`` reads and validates the files, ``plan`` is the pure difference between two catalogs,
``store`` reads and writes Firestore and enqueues the re-evaluation runs. An operator tool: it is not
deployed with the functions (PyYAML is a dev requirement only).
"""
