"""Run a deploy plan for real: each step in order, stopping at the first failure.

A step with ``unless`` is skipped when that read-only check prints anything (the resource is there).
A step marked ``ok_if`` passes when its command fails with one of those messages (the resource is
already there); a step marked ``retry_if`` is tried again, a few times, when it fails with one of
those (IAM sees a new service account only after a few seconds). Everything else must exit 0.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from deploy.plan import FILES_MODULE, FIREBASE, GCLOUD, PYTHON, Step

ROOT = Path(__file__).resolve().parent.parent


class DeployError(Exception):
    def __init__(self, step: Step, returncode: int, output: str) -> None:
        super().__init__(f"step failed (exit {returncode}): {step.line()}")
        self.step = step
        self.returncode = returncode
        self.output = output


def lookup_project_number(project: str) -> str:
    """The one read-only call made before the plan is built (the GCS service agent's address)."""
    done = subprocess.run(
        [GCLOUD, "projects", "describe", project, "--format=value(projectNumber)"],
        check=True,
        capture_output=True,
        text=True,
    )
    number = done.stdout.strip()
    if not number.isdigit():
        raise RuntimeError(f"could not read the project number of {project}: {done.stdout!r}")
    return number


def preflight(root: Path = ROOT) -> list[str]:
    """What is missing on this machine for a real run (empty when ready)."""
    problems = []
    if shutil.which(GCLOUD) is None:
        problems.append("gcloud is not on PATH (install the Google Cloud CLI)")
    if not (root / FIREBASE).exists():
        problems.append(f"{FIREBASE} is missing (run `npm ci` for firebase-tools)")
    if not (root / "web" / "dist" / "index.html").exists():
        problems.append("web/dist is not built (run `npm run build:web`; `make deploy` does)")
    return problems


def run_step(
    step: Step,
    *,
    cwd: Path = ROOT,
    attempts: int = 6,
    pause: float = 10.0,
    out: TextIO = sys.stdout,
) -> str:
    """Run one step; returns "ran" or "existed"; raises ``DeployError`` on failure."""
    argv = step.argv
    if argv[:3] == (PYTHON, "-m", FILES_MODULE):
        argv = (sys.executable, *argv[1:])  # the interpreter running the deploy, not PATH's
    if step.unless:
        check = subprocess.run(step.unless, cwd=cwd, check=False, capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.strip():
            out.write("  (already there: skipped)\n")
            return "existed"
    if not (step.ok_if or step.retry_if):
        plain = subprocess.run(argv, cwd=cwd, check=False)
        if plain.returncode != 0:
            raise DeployError(step, plain.returncode, "")
        return "ran"
    for attempt in range(1, attempts + 1):
        done = subprocess.run(argv, cwd=cwd, check=False, capture_output=True, text=True)
        output = done.stdout + done.stderr
        if done.returncode == 0:
            out.write(output)
            return "ran"
        if any(marker in output for marker in step.ok_if):
            out.write("  (already exists: accepted)\n")
            return "existed"
        if attempt < attempts and any(marker in output for marker in step.retry_if):
            out.write(f"  (not visible yet, retrying in {pause:.0f}s)\n")
            out.flush()
            time.sleep(pause)
            continue
        out.write(output)
        raise DeployError(step, done.returncode, output)
    raise AssertionError("unreachable")  # pragma: no cover


def execute(steps: Sequence[Step], *, cwd: Path = ROOT, out: TextIO = sys.stdout) -> None:
    for index, step in enumerate(steps, start=1):
        out.write(f"[{index}/{len(steps)}] {step.line()}\n")
        out.flush()
        run_step(step, cwd=cwd, out=out)
