"""The one registry of entry points (functions/registry.py) is what main.py exports."""

from __future__ import annotations

import main
from functions import registry
from localcloud import entrypoints


def test_main_exports_exactly_the_registered_entry_points() -> None:
    assert sorted(main.__all__) == sorted(registry.ALL)
    assert all(callable(getattr(main, name)) for name in registry.ALL)


def test_every_entry_point_has_one_kind() -> None:
    kinds = [
        registry.HTTP,
        registry.TASKS,
        list(registry.FIRESTORE_TRIGGERS),
        registry.STORAGE_TRIGGERS,
    ]
    flat = [name for kind in kinds for name in kind]
    assert sorted(flat) == sorted(set(flat)) == sorted(registry.ALL)


def test_the_local_cloud_reads_the_same_registry() -> None:
    assert entrypoints.ALL is registry.ALL
    assert entrypoints.FIRESTORE_TRIGGERS is registry.FIRESTORE_TRIGGERS
