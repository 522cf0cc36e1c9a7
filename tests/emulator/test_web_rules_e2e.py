"""Completion rules on the learner's page in a real browser: web/tests/rules.e2e.mjs
(playwright-core driving Debian's chromium) on a pathway seeded here with every rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.browser import run_journey
from tests.emulator.test_completion_rules_e2e import seed_course


@pytest.mark.cloud
@pytest.mark.timeout(300)
def test_the_learner_sees_rules_due_dates_scores_and_excuses(
    stack: dict[str, Any], db: Any
) -> None:
    assert "web" in stack, "the local cloud is running without the web page (web/serve.py)"
    course = seed_course(db)
    run_journey(
        "rules.e2e.mjs",
        course.pathway_id,
        course.module_id,
        name="rules-e2e",
        timeout=280,
        axe=("pathway with rules", "pathway with an excuse"),
    )
