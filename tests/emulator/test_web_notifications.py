"""Review notifications and the revise button in a real browser: web/tests/notifications.mjs
(playwright-core driving Debian's chromium) against the local cloud.

The instructor rejects a learner's project on the instructor page and the learner's unread count
rises without a reload; the learner reads the grade and comments and marks it read (the one client
write the rules allow), which holds after a reload; the instructor revises the decision from the
recent decisions and the learner is notified again, with the reason; the instructor downloads the
cohort's progress and grades CSVs from the page (the cohort written as its layout gives it) and
finds the learner's rows in them. axe-core: no serious or
critical violation at desktop and phone width; screenshots in .local/screenshots-notifications/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.browser import ROOT, run_journey

SHOTS = ROOT / ".local" / "screenshots-notifications"


@pytest.mark.cloud
@pytest.mark.timeout(420)
def test_a_learner_sees_reviews_and_revisions_live_and_marks_them_read(
    stack: dict[str, Any],
) -> None:
    assert "web" in stack, "the local cloud is running without the web page (web/serve.py)"
    run_journey(
        "notifications.mjs",
        name="notifications",
        timeout=400,
        axe=(
            "learner, no notifications",
            "learner, one unread notification",
            "instructor, decision revised",
            "learner, notified of the revision",
            "instructor exports",
            "learner notifications (phone)",
            "instructor decisions (phone)",
        ),
        shots_dir=SHOTS,
        shots=(
            "learner-notified",
            "instructor-revised",
            "learner-notified-again",
            "instructor-exports",
            "phone-learner",
        ),
    )
