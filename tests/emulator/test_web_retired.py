"""A retired pathway on the learner's overview: web/tests/retired.mjs (playwright-core driving
Debian's chromium) against the local cloud, and the pure part under node's test runner.

The card of a pathway retired by ``catalog apply --prune`` is listed after the offered ones, says
it is retired, shows the learner's numbers as they stand and invites nothing; its page says it is
no longer offered, with "Done" disabled and no timer; axe-core finds 0 serious or critical at 1200
and 390 px and on that page. Screenshots go to .local/screenshots/retired/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.browser import ROOT, run_journey, run_node

SHOTS = ROOT / ".local" / "screenshots" / "retired"


@pytest.mark.cloud
@pytest.mark.timeout(240)
def test_a_retired_pathway_is_a_record_not_work_in_progress(stack: dict[str, Any]) -> None:
    run_journey(
        "retired.mjs",
        name="retired",
        timeout=220,
        axe=(
            "overview with a retired pathway",
            "overview with a retired pathway at phone width",
            "a retired pathway's page",
        ),
        shots_dir=SHOTS,
        shots=("overview-retired", "overview-retired-phone", "pathway-retired"),
    )


def test_retired_pathways_are_flagged_and_listed_last_under_node() -> None:
    run = run_node("retired.test.mjs", timeout=120, test_runner=True)
    output = run.stdout + run.stderr
    assert "# fail 0" in run.stdout, output
    assert "# pass 0" not in run.stdout, output
