"""Small helpers for tests: polling with a deadline (never a fixed sleep), unique ids, HTTP calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def admin_token(stack: dict[str, Any], uid: str = "test-admin") -> str:
    """An ID token with the ``admin`` claim for the stack's project."""
    from localcloud.tokens import mint

    return mint(uid, admin=True, project_id=stack["project_id"])


def enrol_in_cohort(
    stack: dict[str, Any], learners: list[str], *, instructors: list[str], cohort_id: str = ""
) -> str:
    """Put ``learners`` in a cohort taught by ``instructors`` through the ``cohorts`` function, as
    an admin (a fresh cohort unless ``cohort_id`` is given; it is created when missing). Returns
    the cohort id. Instructor tokens act only on their cohorts' learners (shared/services/access)."""
    import requests

    base = stack["functions"]["cohorts"]
    headers = {"Authorization": f"Bearer {admin_token(stack)}"}
    cid = cohort_id or unique("cohort")
    with requests.Session() as http:
        if http.get(f"{base}/cohorts/{cid}", headers=headers, timeout=30).status_code == 404:
            body = {"cohort_id": cid, "name": cid, "instructor_uids": instructors}
            made = http.post(f"{base}/cohorts", json=body, headers=headers, timeout=30)
            assert made.status_code in (200, 201), made.text
        for uid in learners:
            put = http.put(f"{base}/cohorts/{cid}/members/{uid}", headers=headers, timeout=60)
            assert put.status_code == 200, put.text
    return cid


def ops_cohort(*argv: str) -> list[dict[str, Any]]:
    """``python -m ops cohort ...`` against the local cloud (no ``GOOGLE_CLOUD_PROJECT``): the JSON
    lines it prints, not its structured logs. Fails the test on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
    done = subprocess.run(
        [sys.executable, "-m", "ops", "cohort", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if "severity" not in line]  # not the structured logs
