"""Fixtures for driving the entry points through functions-framework's test client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared import bootstrap
from shared.adapters import firestore, storage

CREDENTIAL_ENV = (
    "FIRESTORE_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
    "FIREBASE_AUTH_EMULATOR_HOST",
    "CLOUD_TASKS_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


def _clear_clients() -> None:
    firestore.client.cache_clear()
    storage.storage_client.cache_clear()


@pytest.fixture
def no_clients() -> Iterator[bootstrap.Deps]:
    """No emulator and no credentials in the environment, fresh real dependencies: the test's
    events must be acknowledged without building any dependency or client (a client built here
    could not even find credentials)."""
    for name in CREDENTIAL_ENV:
        os.environ.pop(name, None)
    os.environ["GOOGLE_CLOUD_PROJECT"] = "demo-aibc"
    os.environ["SUBMISSIONS_BUCKET"] = "demo-aibc-submissions"
    _clear_clients()
    with bootstrap.override() as deps:
        yield deps
        assert deps.built == set(), f"an unusable event built {sorted(deps.built)}"
    assert firestore.client.cache_info().currsize == 0, "a Firestore client was created"
    assert storage.storage_client.cache_info().currsize == 0, "a Storage client was created"


@pytest.fixture
def fresh_adapters() -> Iterator[bootstrap.Deps]:
    """Real dependencies built against this test's environment, forgotten afterwards."""
    _clear_clients()
    with bootstrap.override() as deps:
        yield deps
    _clear_clients()
