"""Fixtures shared by the local cloud's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.bridge_helpers import Recorder


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A recording HTTP endpoint for the bridge to deliver to, closed after the test."""
    rec = Recorder()
    yield rec
    rec.close()
