"""Runs last (pytest collects files by name): after the whole suite, no event was given up.

Tests that exhaust a retry budget on purpose do it with a small per-test budget on their own trigger
and clear what they put in the dead-letter list; anything else there is an event the platform lost.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.cloud


def test_the_dead_letter_list_is_empty_after_the_suite(bridge: Any) -> None:
    assert bridge.dead_letters() == []
