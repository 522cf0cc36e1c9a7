"""The instructor's excuse screen in a real browser: web/tests/excuses.mjs (playwright-core driving
Debian's chromium, axe-core, screenshots at 1200 and 390 px width in .local/screenshots-excuses/).

This wrapper sets the scene through the real local cloud: an instructor account (email and password
in the Auth emulator, ``instructor`` claim), a pathway whose resources are due 2 days after the
cohort starts, a cohort (the cohorts function, as an admin) that started 3 days ago and that the
instructor teaches, and a learner who completed the article through the progress function and
uploaded the project (both late: due a day ago). The script picks the learner, checks status, due time and late flag, excuses the
learner from the project and takes the excuse back; this wrapper then checks what was stored.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.browser import ROOT, run_journey, run_node
from tests.emulator.test_due_e2e import ok, seed
from tests.emulator.test_submissions_e2e import PDF, Learner
from tests.emulator.test_web_dashboard import make_instructor
from tests.helpers import admin_token, unique

SCREENSHOTS = ROOT / ".local" / "screenshots-excuses"


def test_the_words_of_a_relative_due_date_under_node() -> None:
    run = run_node("due.test.mjs", timeout=120, test_runner=True)
    output = run.stdout + run.stderr
    assert "# fail 0" in run.stdout, output
    assert "# pass 1" in run.stdout, output


@pytest.mark.cloud
@pytest.mark.timeout(420)
def test_an_instructor_excuses_a_learner_and_takes_it_back_in_a_browser(
    stack: dict[str, Any], api: Callable[[str], Any], mint: Callable[..., str], db: Any
) -> None:
    assert "web" in stack, "the local cloud is running without the web page (web/serve.py)"
    run = unique("webexc")
    email, password = f"{run}@example.com", "teach-pass-1"
    teacher = make_instructor(stack, email, password)
    pid, article, project = seed(db)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=3)
    cid, learner = f"{run}-cohort", f"{run}-learner"
    admin, cohorts = admin_token(stack), api("cohorts")
    body = {
        "cohort_id": cid,
        "name": f"Cohort {run}",
        "pathway_ids": [pid],
        "instructor_uids": [teacher],
        "starts_at": started.isoformat(),
    }
    ok(cohorts.post("/cohorts", token=admin, json=body), 201)
    ok(cohorts.put(f"/cohorts/{cid}/members/{learner}", token=admin))
    done = ok(api("progress").post(f"/users/me/resources/{article}/complete", token=mint(learner)))
    assert done["late"] is True
    uploader = Learner(learner, api, mint, db)
    grant = uploader.upload(project, "work.pdf", "application/pdf", PDF)
    uploader.wait_resource(project, "submitted", timeout=120)

    env = {
        **os.environ,
        "EXC_EMAIL": email,
        "EXC_PASSWORD": password,
        "EXC_COHORT": cid,
        "EXC_PATHWAY": pid,
        "EXC_LEARNER": learner,
        "EXC_ARTICLE": article,
        "EXC_PROJECT": project,
        "EXC_DUE": (started + dt.timedelta(days=2)).isoformat(),
        "EXC_SUBMISSION": grant["submission_id"],
    }
    run_journey(
        "excuses.mjs",
        name="excuses",
        timeout=400,
        env=env,
        axe=("excuses desktop", "excuse form", "excuses phone"),
        shots_dir=SCREENSHOTS,
        shots=("excuses-desktop", "excuses-excused", "excuses-taken-back", "excuses-phone"),
    )

    # what the page did is what is stored: excused, then taken back, each audited once
    stored = db.document(f"users/{learner}/resource_progress/{project}").get().to_dict()
    assert stored["excused"] is False
    audit = [
        s.to_dict()
        for s in db.collection("audit_log")
        .where(filter=FieldFilter("user_id", "==", learner))
        .stream()
        if s.to_dict().get("resource_id") == project and s.to_dict().get("submission_id") is None
    ]
    assert sorted((a["action"], a["actor"]) for a in audit) == [
        ("resource_excused", teacher),
        ("resource_unexcused", teacher),
    ]
