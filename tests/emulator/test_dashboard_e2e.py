"""The cohort dashboard through the real local cloud (issue 12 item 4): concurrent learners, the
bridge delivering every event twice and out of order, learners joining and leaving meanwhile; once
the bridge is idle every aggregate equals a from-scratch recount (0 drift), and the HTTP function
serves it to the cohort's instructor only.

Cohorts are made by writing their documents as the shared layout gives them (``cohorts/{cid}``,
``cohorts/{cid}/members/{uid}`` and ``memberships/{uid}`` in one transaction): the cohort flows are
another part of the product.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.emulator.test_submissions_e2e import PNG, Learner
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

PATHWAY = "image-generation"
MODULE = "image-generation-m1"
VIDEO, ARTICLE, QUIZ = (f"{MODULE}-{k}" for k in ("video", "article", "quiz"))
EXERCISE = f"{MODULE}-exercise"
LEARNERS = int(os.environ.get("DASHBOARD_LEARNERS", "16"))
SETTLE = 240.0


# ---- cohort documents, as the cohort flows write them ------------------------------------------


def make_cohort(db: Any, cohort_id: str, instructors: list[str], pathways: list[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    db.document(f"cohorts/{cohort_id}").set(
        {
            "cohort_id": cohort_id,
            "name": f"Cohort {cohort_id}",
            "pathway_ids": pathways,
            "instructor_uids": instructors,
            "created_at": now,
            "updated_at": now,
        }
    )


def join(db: Any, cohort_id: str, uid: str, pathways: list[str], instructors: list[str]) -> None:
    """The members document and ``memberships/{uid}``, in one transaction."""
    from google.cloud import firestore

    @firestore.transactional  # type: ignore[misc]
    def work(tx: Any) -> None:
        mine = db.document(f"memberships/{uid}")
        snap = mine.get(transaction=tx)
        data = snap.to_dict() or {} if snap.exists else {}
        now = dt.datetime.now(dt.UTC)
        tx.set(
            db.document(f"cohorts/{cohort_id}/members/{uid}"),
            {
                "uid": uid,
                "cohort_id": cohort_id,
                "pathway_ids": pathways,
                "joined_at": now,
                "via": "operator",
            },
        )
        cohorts = sorted({*data.get("cohort_ids", []), cohort_id})
        tx.set(
            mine,
            {"uid": uid, "cohort_ids": cohorts, "instructor_uids": instructors, "updated_at": now},
        )

    work(db.transaction())


def leave(db: Any, cohort_id: str, uid: str) -> None:
    from google.cloud import firestore

    @firestore.transactional  # type: ignore[misc]
    def work(tx: Any) -> None:
        mine = db.document(f"memberships/{uid}")
        snap = mine.get(transaction=tx)
        data = snap.to_dict() or {} if snap.exists else {}
        tx.delete(db.document(f"cohorts/{cohort_id}/members/{uid}"))
        cohorts = [c for c in data.get("cohort_ids", []) if c != cohort_id]
        tx.set(mine, {"uid": uid, "cohort_ids": cohorts, "updated_at": dt.datetime.now(dt.UTC)})

    work(db.transaction())


def ok(reply: requests.Response) -> dict[str, Any]:
    assert reply.status_code == 200, (reply.status_code, reply.text)
    data: dict[str, Any] = reply.json()
    return data


def verify(cohort_id: str) -> Any:
    from shared.adapters.dashboard_store import FirestoreDashboardStore
    from shared.adapters.progress_store import FirestoreCatalog
    from shared.services import dashboard

    shape = dashboard.shape_of(FirestoreCatalog(), PATHWAY)
    assert shape is not None
    return dashboard.verify(FirestoreDashboardStore(), shape, cohort_id)


# ---- the run -----------------------------------------------------------------------------------


def test_concurrent_learners_under_duplicate_and_reordered_delivery_leave_zero_drift(
    bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    cid = unique("cohort")
    teacher = unique("teacher")
    make_cohort(db, cid, [teacher], [PATHWAY])
    progress, review, board = api("progress"), api("review"), api("dashboard")
    learners = [Learner(f"{cid}-{i:02d}", api, mint, db) for i in range(LEARNERS)]
    early = learners[: LEARNERS // 2]  # joined before they act; the others join mid-way
    leavers = {me.uid for me in learners[-2:]}
    uploaders = {me.uid for me in learners[::4]}
    approved = {me.uid for me in learners[::8]}
    for me in early:
        join(db, cid, me.uid, [PATHWAY], [teacher])
    teacher_token = mint(teacher, instructor=True)
    before = bridge.stats()["faults"]
    bridge.configure(duplicate=True, reorder={"window": 1.0})

    def journey(me: Learner) -> None:
        rnd = random.Random(me.uid)
        steps = rnd.randint(6, 10)
        joins_at = -1 if me in early else rnd.randint(1, steps - 1)
        for step in range(steps):
            if step == joins_at:
                join(db, cid, me.uid, [PATHWAY], [teacher])
            rid = rnd.choice([VIDEO, ARTICLE, QUIZ])
            action = rnd.choice(["start", "complete", "complete", "uncomplete", "time"])
            if action == "time":
                reply = progress.put(
                    f"/users/me/resources/{rid}/progress",
                    token=me.token,
                    json={"progress_percentage": 40, "time_spent_minutes": rnd.randint(1, 90)},
                )
            else:
                reply = progress.post(f"/users/me/resources/{rid}/{action}", token=me.token)
            # uncompleting what was never started is a 409, as documented
            assert reply.status_code in (200, 409), (reply.status_code, reply.text)
        if me.uid in uploaders:
            grant = me.upload(EXERCISE, "scene.png", "image/png", PNG)
            seen = me.wait_status(grant["submission_id"], "uploaded", timeout=SETTLE)
            if me.uid in approved:
                ok(
                    review.post(
                        f"/admin/submissions/{grant['submission_id']}/review",
                        token=mint(unique("reviewer"), extra={"admin": True}),
                        json={
                            "decision": "approve",
                            "generation": seen["gcs_generation"],
                            "grade": 90,
                            "comments": "",
                        },
                    )
                )
        if me.uid in leavers:
            leave(db, cid, me.uid)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(journey, learners))
    bridge.wait_idle(quiet=2.0, timeout=SETTLE)
    faults = bridge.stats()["faults"]
    assert faults.get("reordered", 0) > before.get("reordered", 0), faults

    # The bridge is idle; an event the emulator has not pushed yet may still arrive: the aggregates
    # must converge on the recount, and stay there.
    drift = verify(cid)
    deadline = time.monotonic() + 60
    while drift.total and time.monotonic() < deadline:
        bridge.wait_idle(quiet=2.0, timeout=SETTLE)
        drift = verify(cid)
    assert drift.learners == LEARNERS - len(leavers)
    assert drift.total == 0, drift

    page = ok(board.get(f"/cohorts/{cid}/pathways/{PATHWAY}/dashboard", token=teacher_token))
    assert page["learners"] == LEARNERS - len(leavers)
    stayed = [me for me in learners if me.uid not in leavers]
    waiting = sum(1 for me in stayed if me.uid in uploaders and me.uid not in approved)
    assert page["awaiting_review"] == waiting
    exercise = next(r for r in page["resources"] if r["resource_id"] == EXERCISE)
    assert exercise["submitted"] == sum(1 for me in stayed if me.uid in uploaders)
    assert exercise["approved"] == sum(1 for me in stayed if me.uid in approved)
    assert {r["uid"] for r in page["rows"]} == {me.uid for me in stayed}
    for row in page["rows"]:  # each grid cell is the learner's own module rollup
        module = db.document(f"users/{row['uid']}/module_progress/{MODULE}").get().to_dict() or {}
        assert row["modules"] == [module.get("percentage", 0.0)], row["uid"]
    assert page["documents_read"] <= 1 + 8 + LEARNERS + 1 + 11
    live = [d.to_dict() or {} for d in db.collection(f"cohorts/{cid}/live_counts").stream()]
    assert sum(d.get("awaiting_review", 0) for d in live) == waiting


def test_the_dashboard_is_for_the_cohorts_instructors_and_admins_only(
    api: Any, mint: Callable[..., str], db: Any
) -> None:
    cid = unique("cohort")
    teacher, learner = unique("teacher"), unique("learner")
    make_cohort(db, cid, [teacher], [PATHWAY])
    join(db, cid, learner, [PATHWAY], [teacher])
    board = api("dashboard")
    path = f"/cohorts/{cid}/pathways/{PATHWAY}/dashboard"
    for token in (mint(teacher, instructor=True), mint(unique("root"), extra={"admin": True})):
        page = ok(board.get(path, token=token))
        assert page["cohort_id"] == cid
    cases = [
        (mint(unique("other"), instructor=True), path, 403),  # an instructor of other cohorts
        (mint(teacher), path, 403),  # listed, but without the instructor claim
        (mint(learner), path, 403),  # a learner of the cohort
        (None, path, 401),
        (
            mint(teacher, instructor=True),
            f"/cohorts/{unique('nope')}/pathways/{PATHWAY}/dashboard",
            404,
        ),
        (
            mint(teacher, instructor=True),
            f"/cohorts/{cid}/pathways/prompt-engineering/dashboard",
            404,
        ),
        (mint(teacher, instructor=True), path + "?limit=0", 400),
        (mint(teacher, instructor=True), path + "?inactive_days=x", 400),
        (mint(teacher, instructor=True), path + "?cursor=..%2F", 400),
        (mint(teacher, instructor=True), path + "?bogus=1", 400),
    ]
    for token, url, status in cases:
        reply = board.get(url, token=token)
        assert reply.status_code == status, (url, reply.status_code, reply.text)
        assert set(reply.json()["error"]) == {"code", "message"}
    assert board.post(path, token=mint(teacher, instructor=True)).status_code == 405


def test_a_learner_joining_gets_a_row_from_existing_progress_and_leaving_removes_its_counts(
    bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    cid = unique("cohort")
    make_cohort(db, cid, [], [PATHWAY])
    uid = unique("learner")
    progress = api("progress")
    token = mint(uid)
    ok(progress.post(f"/users/me/resources/{VIDEO}/complete", token=token))
    ok(progress.post(f"/users/me/resources/{ARTICLE}/complete", token=token))
    bridge.wait_idle(quiet=1.0, timeout=SETTLE)  # no cohort yet: nothing counted anywhere
    join(db, cid, uid, [PATHWAY], [])
    row = f"cohorts/{cid}/dashboard/{PATHWAY}/rows/{uid}"
    data = wait_for(lambda: db.document(row).get().to_dict(), timeout=60, what="the row")
    assert data["modules"] == {MODULE: 40.0}
    leave(db, cid, uid)
    wait_for(lambda: not db.document(row).get().exists, timeout=60, what="the row to go")
    bridge.wait_idle(quiet=1.0, timeout=SETTLE)
    drift = verify(cid)
    assert drift.total == 0, drift
    assert drift.learners == 0
    from shared.domain.dashboard import sum_counters

    shards = [
        d.to_dict() or {}
        for d in db.collection(f"cohorts/{cid}/dashboard/{PATHWAY}/counters").stream()
    ]
    from shared.domain.dashboard import flatten

    assert sum_counters(flatten(s) for s in shards) == {}  # every count taken back


def test_the_operators_verify_finds_a_hand_edited_row_and_repairs_it(
    bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    from ops.dashboard import main as ops_dashboard

    cid = unique("cohort")
    make_cohort(db, cid, [], [PATHWAY])
    uid = unique("learner")
    ok(api("progress").post(f"/users/me/resources/{VIDEO}/complete", token=mint(uid)))
    join(db, cid, uid, [PATHWAY], [])
    row = db.document(f"cohorts/{cid}/dashboard/{PATHWAY}/rows/{uid}")
    wait_for(
        lambda: (row.get().to_dict() or {}).get("modules") == {MODULE: 20.0},
        timeout=SETTLE,
        what="the joined learner's row",
    )
    bridge.wait_idle(quiet=1.0, timeout=SETTLE)
    assert ops_dashboard(["verify", "--cohort", cid]) == 0
    row.update({"minutes": 999, "modules": {MODULE: 0.0}})  # a hand edit
    assert ops_dashboard(["verify", "--cohort", cid]) == 1
    assert ops_dashboard(["verify", "--cohort", cid, "--repair"]) == 1  # reported, then repaired
    assert ops_dashboard(["verify", "--cohort", cid]) == 0
    assert (row.get().to_dict() or {})["modules"] == {MODULE: 20.0}
