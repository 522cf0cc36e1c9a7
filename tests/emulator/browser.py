"""What the browser tests share: one script of web/tests/ run under node (playwright-core driving
Debian's chromium for the journeys; node's own test runner for the page's pure parts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


def run_node(
    script: str,
    *args: str,
    timeout: float,
    test_runner: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``node [--test] web/tests/<script> args...`` from the repository root; fails the test
    (with everything the script printed) unless it exits 0. A journey (not ``test_runner``) needs
    Debian's chromium."""
    node = shutil.which("node")
    assert node, "node is required"
    if not test_runner:
        assert CHROMIUM.exists(), "Debian's chromium is missing: `make install` installs it"
    argv = [node, *(["--test"] if test_runner else []), str(ROOT / "web" / "tests" / script)]
    run = subprocess.run(
        [*argv, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run
