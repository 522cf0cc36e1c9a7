"""Shared fixtures.

Unit tests need nothing. Tests marked ``cloud`` use the local cloud that ``make up`` (or ``make
test``) started and described in ``.local/stack.json``; without it they fail, loudly, rather than
skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import settings as hypothesis_settings

from localcloud import tokens
from shared.config import settings

# Properties check what holds, not how fast: Hypothesis' per-example deadline (200 ms) failed a pure
# test on a machine loaded by the local cloud. Timing belongs in the benchmarks.
hypothesis_settings.register_profile("repo", deadline=None)
hypothesis_settings.load_profile("repo")

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = ROOT / ".local" / "stack.json"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_environ() -> Iterator[None]:
    """Each test sees the environment it started with, and freshly read settings."""
    saved = dict(os.environ)
    settings.cache_clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    settings.cache_clear()


def load_stack() -> dict[str, Any]:
    if not STACK_FILE.exists():
        pytest.fail("the local cloud is not running: start it with `make up` (make test does)")
    stack: dict[str, Any] = json.loads(STACK_FILE.read_text())
    return stack


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    return load_stack()


def cloud_environ(stack: dict[str, Any]) -> dict[str, str]:
    """As a function sees the local cloud (Storage: the backend; the front wants signed URLs)."""
    from localcloud.stackenv import client_environ

    return client_environ(stack)


@pytest.fixture
def cloud(stack: dict[str, Any]) -> dict[str, Any]:
    """The stack, with this process's environment pointed at its emulators."""
    os.environ.update(cloud_environ(stack))
    settings.cache_clear()
    return stack


@pytest.fixture
def db(cloud: dict[str, Any]) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=cloud["project_id"])


@pytest.fixture(scope="session")
def mint() -> Callable[..., str]:
    """``mint(uid, instructor=False, **kw)`` returns an unsigned emulator ID token."""
    return tokens.mint


class Api:
    """Calls one function of the stack with a token: ``api.get("/path", token=...)``."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()

    def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)


@pytest.fixture
def api(cloud: dict[str, Any]) -> Callable[[str], Api]:
    """``api("progress").post(...)``: an HTTP client for one entry point of the stack."""
    return lambda name: Api(cloud["functions"][name])


@pytest.fixture
def bridge(cloud: dict[str, Any]) -> Iterator[Any]:
    """The event bridge's control API; restores its start-up settings (no faults) after the test."""
    from localcloud.bridge_client import BridgeClient

    client = BridgeClient(cloud["bridge"])
    yield client
    client.reset()


@pytest.fixture(scope="session")
def real_fixture() -> Callable[[str], dict[str, Any]]:
    """A real CloudEvent payload from tests/fixtures (origins in tests/fixtures/SOURCES.md)."""

    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
        return data

    return load
