"""Completion rules on the learner's page in a real browser: web/tests/rules.e2e.mjs
(playwright-core driving Debian's chromium) on a pathway seeded here with every rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.test_completion_rules_e2e import seed_course

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.cloud
@pytest.mark.timeout(300)
def test_the_learner_sees_rules_due_dates_scores_and_excuses(
    stack: dict[str, Any], db: Any
) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make install` installs it"
    node = shutil.which("node")
    assert node, "node is required"
    assert "web" in stack, "the local cloud is running without the web page (web/serve.py)"
    course = seed_course(db)
    run = subprocess.run(
        [node, str(ROOT / "web" / "tests" / "rules.e2e.mjs"), course.pathway_id, course.module_id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "[rules-e2e] passed: every step held" in run.stdout, output
    assert "axe pathway with an excuse: 0 serious or critical" in run.stdout, output
