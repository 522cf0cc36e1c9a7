"""The cohort dashboard in a real browser: web/tests/dashboard.mjs (playwright-core driving Debian's
chromium, axe-core, screenshots at desktop and 390 px width in .local/screenshots-dashboard/).

This wrapper sets the scene through the real local cloud: an instructor account (email and
password in the Auth emulator, ``instructor`` claim), a cohort on two pathways that lists them,
30 learners (cohort documents written as the cohort flows write them): 12 act through the
``progress`` function, 6 joined weeks ago and never did anything (inactive). It waits until the
triggers have built every row, then runs the script, which signs in as the instructor, reads the
grid (two pages), the chart and the inactive list, then uploads as two learners (signed URLs) and
watches the live awaiting-review count go from 0 to 1 to 2 without a reload.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.emulator.browser import ROOT, run_journey, run_node
from tests.emulator.test_dashboard_e2e import join, make_cohort
from tests.helpers import unique, wait_for

SCREENSHOTS = ROOT / ".local" / "screenshots-dashboard"
PATHWAY = "prompt-engineering"
OTHER = "image-generation"
LEARNERS = 30
ACTIVE = 12
IDLE = 6


def make_instructor(stack: dict[str, Any], email: str, password: str) -> str:
    base = f"http://{stack['emulators']['auth']}/identitytoolkit.googleapis.com/v1"
    reply = requests.post(
        f"{base}/accounts:signUp?key=fake",
        json={"email": email, "password": password, "returnSecureToken": True},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    uid: str = reply.json()["localId"]
    update = requests.post(
        f"{base}/projects/{stack['project_id']}/accounts:update",
        json={"localId": uid, "customAttributes": json.dumps({"instructor": True})},
        headers={"Authorization": "Bearer owner"},
        timeout=10,
    )
    assert update.status_code == 200, update.text
    return uid


@pytest.mark.cloud
@pytest.mark.timeout(420)
def test_the_cohort_dashboard_in_a_browser(
    stack: dict[str, Any], api: Any, mint: Callable[..., str], db: Any, bridge: Any
) -> None:
    run = unique("webdash")
    email, password = f"{run}@example.com", "teach-pass-1"
    teacher = make_instructor(stack, email, password)
    cid = f"{run}-cohort"
    make_cohort(db, cid, [teacher], [PATHWAY, OTHER])
    uids = [f"{run}-l{i:02d}" for i in range(LEARNERS)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda uid: join(db, cid, uid, [PATHWAY, OTHER], [teacher]), uids))
    weeks_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=21)
    idle = uids[-IDLE:]
    for uid in idle:  # joined three weeks ago, never did anything
        db.document(f"cohorts/{cid}/members/{uid}").update({"joined_at": weeks_ago})
    progress = api("progress")

    def act(i: int) -> None:
        token = mint(uids[i], extra={"name": f"Learner {i:02d}"})
        for kind in ("video", "article", "quiz")[: 1 + i % 3]:
            reply = progress.post(f"/users/me/resources/{PATHWAY}-m1-{kind}/complete", token=token)
            assert reply.status_code == 200, reply.text

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(act, range(ACTIVE)))
    bridge.wait_idle(quiet=2.0, timeout=240)
    rows = db.collection(f"cohorts/{cid}/dashboard/{PATHWAY}/rows")
    wait_for(lambda: len(list(rows.stream())) == LEARNERS, timeout=120, what="every row")
    for uid in idle:
        wait_for(
            lambda uid=uid: (
                (rows.document(uid).get().to_dict() or {}).get("last_activity_at")
                < dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
            ),
            timeout=120,
            what=f"{uid}'s row to show the old join",
        )

    env = {
        **os.environ,
        "DASH_EMAIL": email,
        "DASH_PASSWORD": password,
        "DASH_COHORT": cid,
        "DASH_PATHWAY": PATHWAY,
        "DASH_LEARNERS": str(LEARNERS),
        "DASH_IDLE": ",".join(idle),
        "DASH_UPLOADERS": ",".join(mint(uid) for uid in uids[:2]),
        "DASH_ACTIVE_UID": uids[2],
        "DASH_ACTIVE_PCT": "60 %",  # uids[2] completed video, article and quiz: 3 of 5
    }
    run_journey(
        "dashboard.mjs",
        name="dashboard",
        timeout=400,
        env=env,
        axe=("dashboard desktop", "dashboard phone"),
        shots_dir=SCREENSHOTS,
        shots=("dashboard-desktop", "dashboard-phone", "dashboard-live-count"),
    )


def test_the_dashboards_pure_helpers_under_node() -> None:
    run = run_node("dashboard.test.mjs", timeout=120, test_runner=True)
    output = run.stdout + run.stderr
    assert "# fail 0" in run.stdout, output
    assert "# pass 3" in run.stdout, output
