"""Chaos (issue 10 item 8): a learner journey with the bridge's faults on, then nothing drifted, lost
or doubled.

``CHAOS_LEARNERS`` learners (default 50) at once, each through the real functions: complete three
resources of a module (some take one back), upload a real PNG to the exercise through a signed URL,
and for every fifth an instructor approves it. Meanwhile the bridge drops deliveries and redelivers
them later, reorders them, and makes the two rollup triggers and ``on_upload_finalized`` answer 5xx
for a fraction of calls. Once the bridge has settled (nothing pending), every rollup equals the
count the journey implies, the reconcile's dry run over those learners finds 0 drifted levels, and
every upload is recorded exactly once (one submission, ``submission_count`` 1, one
``upload_recorded`` audit entry).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.emulator.test_submissions_e2e import PNG, Learner
from tests.helpers import unique

pytestmark = pytest.mark.cloud

LEARNERS = int(os.environ.get("CHAOS_LEARNERS", "50"))
WORKERS = 10
SETTLE = 240.0
MODULE = "image-generation-m1"
PATHWAY = "image-generation"
VIDEO, ARTICLE, QUIZ = (f"{MODULE}-{k}" for k in ("video", "article", "quiz"))
EXERCISE = f"{MODULE}-exercise"
MODULE_TOTAL = 5  # video, article, exercise, quiz, project (none optional)
FAULTS: dict[str, Any] = {
    "drop": {"rate": 0.1, "redeliver_after": 3.0},
    "reorder": {"window": 1.0},
    "fail": {
        "on_resource_progress_written": 0.2,
        "on_module_progress_written": 0.2,
        "on_upload_finalized": 0.2,
    },
    "backoff_max": 1.0,
}


def ok(reply: requests.Response) -> dict[str, Any]:
    assert reply.status_code == 200, (reply.status_code, reply.text)
    data: dict[str, Any] = reply.json()
    return data


def audit_actions(db: Any, uid: str) -> list[str]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = db.collection("audit_log").where(filter=FieldFilter("user_id", "==", uid))
    return sorted((d.to_dict() or {}).get("action", "") for d in query.stream())


def test_a_journey_under_bridge_faults_ends_with_no_drift_and_nothing_lost_or_doubled(
    bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    from shared.bootstrap import deps
    from shared.services.reconcile import Tally

    run = unique("chaos")
    learners = [Learner(f"{run}-{i:03d}", api, mint, db) for i in range(LEARNERS)]
    progress, review = api("progress"), api("review")
    teacher = mint(unique("teacher"), admin=True)
    takes_back = {me.uid for i, me in enumerate(learners) if i % 4 == 1}
    reviewed = {me.uid for i, me in enumerate(learners) if i % 5 == 0}
    grants: dict[str, dict[str, Any]] = {}
    stats_before = bridge.stats()
    bridge.configure(**FAULTS)

    def journey(me: Learner) -> None:
        for rid in (VIDEO, ARTICLE, QUIZ):
            ok(progress.post(f"/users/me/resources/{rid}/complete", token=me.token))
        grants[me.uid] = me.upload(EXERCISE, "scene.png", "image/png", PNG)
        if me.uid in takes_back:
            ok(progress.post(f"/users/me/resources/{ARTICLE}/uncomplete", token=me.token))
        if me.uid in reviewed:
            sid = grants[me.uid]["submission_id"]
            seen = me.wait_status(sid, "uploaded", timeout=SETTLE)
            ok(
                review.post(
                    f"/admin/submissions/{sid}/review",
                    token=teacher,
                    json={
                        "decision": "approve",
                        "generation": seen["gcs_generation"],
                        "grade": 90,
                        "comments": "",
                    },
                )
            )

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(journey, learners))  # re-raises the first failure
    bridge.wait_idle(quiet=2.0, timeout=SETTLE)
    stats = bridge.stats()
    faults = {k: v - stats_before["faults"].get(k, 0) for k, v in stats["faults"].items()}
    assert faults.get("dropped", 0) > 0, faults  # the faults did happen
    assert faults.get("failed", 0) > 0, faults

    # nothing lost or doubled: every upload recorded once, its audit entry once
    for me in learners:
        sid = grants[me.uid]["submission_id"]
        sub = me.submission(sid)
        assert sub["status"] == ("approved" if me.uid in reviewed else "uploaded"), me.uid
        exercise = me.progress(EXERCISE)
        assert exercise["submission_count"] == 1, me.uid
        assert exercise["status"] == ("reviewed" if me.uid in reviewed else "submitted"), me.uid
        actions = audit_actions(db, me.uid)
        assert actions.count("upload_recorded") == 1, (me.uid, actions)
        assert actions.count("upload_url_issued") == 1, (me.uid, actions)

    # no drift: the rollups are what the journey implies ...
    for me in learners:
        done = 4 - (me.uid in takes_back)  # video, article, quiz, the uploaded exercise
        module = me.module(MODULE)
        assert (module["completed_resources"], module["total_resources"]) == (done, MODULE_TOTAL)
        path = db.document(f"users/{me.uid}/pathway_progress/{PATHWAY}").get().to_dict() or {}
        assert path.get("completed_resources") == done, me.uid
    # ... and the reconcile's dry run, recounting every level from scratch, finds nothing
    reconciler = dataclasses.replace(deps().reconciler(), dry_run=True)
    tally = Tally()
    for me in learners:
        tally = tally + reconciler.learner(me.uid)
    assert tally.learners == LEARNERS
    assert tally.modules.checked >= LEARNERS
    assert tally.drifted == 0, tally
    assert [e for e in bridge.dead_letters() if run in str(e.get("subject"))] == []
