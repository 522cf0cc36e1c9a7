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


def run_journey(
    script: str,
    *args: str,
    name: str,
    timeout: float,
    axe: tuple[str, ...] = (),
    shots_dir: Path | None = None,
    shots: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """A chromium journey of web/tests/ (its harness, web/tests/harness.mjs, prints
    ``[name] passed: every step held`` and ``axe <view>: N serious or critical``): it passed, axe
    found nothing serious or critical on each view of ``axe``, and ``shots_dir`` holds a
    screenshot named after each of ``shots`` and no ``FAILED-*`` one."""
    run = run_node(script, *args, timeout=timeout, env=env)
    output = run.stdout + run.stderr
    assert f"[{name}] passed: every step held" in run.stdout, output
    for view in axe:
        assert f"axe {view}: 0 serious or critical" in run.stdout, (view, output)
    if shots_dir is not None:
        taken = sorted(p.name for p in shots_dir.glob("*.png"))
        for shot in shots:
            assert any(shot in t for t in taken), (shot, taken)
        assert not any(t.startswith("FAILED") for t in taken), taken
    return run
