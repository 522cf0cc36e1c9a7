"""The web page in a real browser: web/tests/e2e.mjs (playwright-core driving Debian's chromium).

The script walks a learner from the overview of every pathway through the prompt-engineering
pathway (time spent counted once across two tabs, check-offs, files dropped and queued, one
cancelled and one deleted, uploads through signed URLs, the pathway bar reaching 100 % live), an
instructor's reject and approve, a second learner who sees none of it, and a third who does a
whole journey with the keyboard alone; axe-core checks every view (desktop and phone width) for
serious or critical violations. It exits 0 only when every step held, and leaves screenshots in
.local/screenshots/. The page's pure parts (error sentences, the pre-upload file check) are
tested by web/tests/unit.test.mjs under node's own test runner, which needs no cloud.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.emulator.browser import ROOT, run_journey, run_node

SCREENSHOTS = ROOT / ".local" / "screenshots"


@pytest.mark.cloud
@pytest.mark.timeout(420)
def test_learner_and_instructor_journey_in_a_browser(stack: dict[str, Any]) -> None:
    assert "web" in stack, "the local cloud is running without the web page (web/serve.py)"
    page = requests.get(stack["web"], timeout=10)
    assert page.status_code == 200
    assert "app.js" in page.text

    run_journey(
        "e2e.mjs",
        name="e2e",
        timeout=400,
        axe=("overview", "sign-in"),
        shots_dir=SCREENSHOTS,
        shots=(
            "overview",
            "resource-view",
            "upload-cancelled",
            "phone-overview",
            "phone-resource",
            "keyboard-journey",
            "pathway-complete",
            "learner-sees-approval",
            "second-learner-refused",
        ),
    )


def test_error_sentences_and_file_checks_under_node() -> None:
    run = run_node("unit.test.mjs", timeout=120, test_runner=True)
    output = run.stdout + run.stderr
    assert "# fail 0" in run.stdout, output
    assert "# pass 0" not in run.stdout, output
