"""The composition root: nothing is built until first use, and one override replaces anything."""

from __future__ import annotations

import importlib
import sys

import pytest

from shared import bootstrap
from shared.adapters import firestore, storage
from tests.unit.fakes import FakeStore, FakeTasks


def test_loading_every_entry_point_builds_nothing() -> None:
    firestore.client.cache_clear()
    storage.storage_client.cache_clear()
    with bootstrap.override() as deps:
        for name in [m for m in sys.modules if m == "main" or m.startswith("functions.")]:
            del sys.modules[name]
        importlib.import_module("main")
        assert deps.built == set()
    assert firestore.client.cache_info().currsize == 0
    assert storage.storage_client.cache_info().currsize == 0


def test_each_dependency_is_built_once_on_first_use() -> None:
    with bootstrap.override() as deps:
        first = deps.tasks
        assert deps.built == {"tasks"}
        assert deps.tasks is first
        assert deps.submissions is deps.submissions
        assert deps.built == {"tasks", "submissions"}
    assert firestore.client.cache_info().currsize == 0  # a store opens no client until used


def test_override_replaces_what_it_is_given_and_restores_afterwards() -> None:
    store, tasks = FakeStore(), FakeTasks()
    outer = bootstrap.deps()
    with bootstrap.override(submissions=store, tasks=tasks) as deps:
        assert bootstrap.deps() is deps
        assert deps.submissions is store
        assert deps.tasks is tasks
        assert deps.built == set()
    assert bootstrap.deps() is outer


def test_an_unknown_dependency_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown dependencies"), bootstrap.override(nope=1):
        pass
