"""Due dates relative to a cohort's start, end to end on the local cloud (``make up``): the cohorts
function sets the starts, learners of two cohorts complete and upload AT ONCE (threads on the real
functions, Firestore transactions, the upload trigger through the event bridge), and each learner's
``late`` flag, due time, review-queue item and instructor report follow THEIR cohort's start.

The test seeds its own pathway (unique ids, written straight into the catalog collections: the
functions' catalog cache never caches an unknown id) and fresh learners and cohorts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import requests

from shared.adapters.firestore import to_document
from shared.domain.models import Module, Pathway, Resource, ResourceType
from tests.conftest import Api
from tests.emulator.test_concurrency_e2e import at_once
from tests.emulator.test_submissions_e2e import PDF, Learner
from tests.helpers import admin_token, ops_cohort, unique

pytestmark = pytest.mark.cloud

SETTLE = 120.0  # generous: other local clouds share the machine
PER_COHORT = 3


def seed(db: Any) -> tuple[str, str, str]:
    """A pathway with a check-off article and an upload project, both due 2 days after the
    learner's cohort starts. Returns (pathway, article, project)."""
    pid = unique("due")
    mid = f"{pid}-m1"
    article, project = f"{mid}-read", f"{mid}-build"
    specs: list[dict[str, Any]] = [
        {"resource_id": article, "type": ResourceType.article},
        {
            "resource_id": project,
            "type": ResourceType.project,
            "requires_upload": True,
            "accepted_file_types": ["application/pdf"],
            "max_file_size_mb": 5,
        },
    ]
    for order, spec in enumerate(specs):
        res = Resource.model_validate(
            {
                **spec,
                "pathway_id": pid,
                "module_id": mid,
                "title": spec["resource_id"],
                "order": order,
                "due_after": {"days": 2},
            }
        )
        db.document(f"resources/{res.resource_id}").set(to_document(res))
    module = Module(
        module_id=mid, pathway_id=pid, title="Due", order=0, resource_ids=[article, project]
    )
    db.document(f"modules/{mid}").set(to_document(module))
    db.document(f"pathways/{pid}").set(
        to_document(Pathway(pathway_id=pid, title="Due", module_ids=[mid]))
    )
    return pid, article, project


def ok(reply: requests.Response, status: int = 200) -> dict[str, Any]:
    assert reply.status_code == status, (reply.status_code, reply.text)
    data: dict[str, Any] = reply.json()
    return data


def when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def test_learners_of_two_cohorts_with_different_starts_complete_and_upload_at_once(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], stack: dict[str, Any]
) -> None:
    pid, article, project = seed(db)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    started_early = now - dt.timedelta(days=3)  # due a day ago: late
    started_later = now - dt.timedelta(days=1)  # due tomorrow: on time
    cohorts, admin = api("cohorts"), admin_token(stack)
    teacher_uid = unique("teacher")
    teacher = mint(teacher_uid, instructor=True)
    early, later = unique("early"), unique("later")
    # one cohort created with its start, the other given it afterwards (PUT .../start)
    body = {"cohort_id": early, "name": "Early", "pathway_ids": [pid]}
    made = ok(
        cohorts.post(
            "/cohorts",
            token=admin,
            json={**body, "instructor_uids": [teacher_uid], "starts_at": started_early.isoformat()},
        ),
        201,
    )
    assert when(made["starts_at"]) == started_early
    body = {
        "cohort_id": later,
        "name": "Later",
        "pathway_ids": [pid],
        "instructor_uids": [teacher_uid],
    }
    assert ok(cohorts.post("/cohorts", token=admin, json=body), 201)["starts_at"] is None
    bad = cohorts.put(
        f"/cohorts/{later}/start", token=admin, json={"starts_at": "2026-01-01T00:00"}
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]) >= {"code", "message"}
    assert (
        cohorts.put(f"/cohorts/{later}/start", token=teacher, json={"starts_at": None}).status_code
        == 403
    )
    moved = ok(
        cohorts.put(
            f"/cohorts/{later}/start", token=admin, json={"starts_at": started_later.isoformat()}
        )
    )
    assert (moved["changed"], when(moved["cohort"]["starts_at"])) == (True, started_later)

    learners = [Learner(unique("u"), api, mint, db) for _ in range(2 * PER_COHORT)]
    cohort_of = {me.uid: early if i < PER_COHORT else later for i, me in enumerate(learners)}
    for me in learners:
        ok(cohorts.put(f"/cohorts/{cohort_of[me.uid]}/members/{me.uid}", token=admin))
    due_of = {
        early: started_early + dt.timedelta(days=2),
        later: started_later + dt.timedelta(days=2),
    }

    # every learner completes the article and uploads the project at the same moment
    def act(i: int) -> Any:
        me = learners[i // 2]
        if i % 2 == 0:
            reply = Api(stack["functions"]["progress"]).post(
                f"/users/me/resources/{article}/complete", token=me.token
            )
            return ok(reply)
        return me.upload(project, "work.pdf", "application/pdf", PDF)

    replies = at_once(4 * PER_COHORT, act)
    for i, me in enumerate(learners):
        completed = replies[2 * i]
        assert completed["status"] == "completed"
        assert completed["late"] is (cohort_of[me.uid] == early), (me.uid, completed)

    grants = {me.uid: replies[2 * i + 1]["submission_id"] for i, me in enumerate(learners)}
    for me in learners:
        waiting = me.wait_resource(project, "submitted", timeout=SETTLE)
        assert waiting["late"] is (cohort_of[me.uid] == early), (me.uid, waiting)
        stored = db.document(f"users/{me.uid}/resource_progress/{article}").get().to_dict()
        assert stored["late"] is (cohort_of[me.uid] == early)
        sub = me.wait_status(grants[me.uid], "uploaded", timeout=SETTLE)
        assert sub["due_at"] == due_of[cohort_of[me.uid]]

    # the review queue: each item's due time and late flag are its learner's
    queue = ok(
        api("review").get(
            "/admin/submissions/pending", token=teacher, params={"resource_id": project}
        )
    )
    items = {item["user_id"]: item for item in queue["submissions"]}
    assert set(items) == {me.uid for me in learners}
    for uid, item in items.items():
        assert when(item["due_at"]) == due_of[cohort_of[uid]]
        assert item["late"] is (cohort_of[uid] == early)

    # the learner's listing and report, and the instructor's view of the learner, show it too
    resources, progress = api("resources"), api("progress")
    for me in learners:
        due = due_of[cohort_of[me.uid]]
        listing = ok(resources.get(f"/pathways/{pid}/resources", token=me.token))
        listed = {r["resource_id"]: r for r in listing["modules"][0]["resources"]}
        assert when(listed[article]["due_at"]) == due
        assert listed[article]["due_after"] == {"days": 2, "hours": 0}
        report = ok(progress.get(f"/users/me/progress/{pid}", token=me.token))
        rows = {r["resource_id"]: r for r in report["modules"][0]["resources"]}
        assert when(rows[project]["due_at"]) == due
        seen = ok(api("review").get(f"/admin/users/{me.uid}/progress/{pid}", token=teacher))
        assert seen["modules"][0]["resources"] == report["modules"][0]["resources"]
    anonymous = ok(resources.get(f"/pathways/{pid}/resources"))
    assert "due_at" not in anonymous["modules"][0]["resources"][0]
    stranger = mint(unique("stranger"), instructor=True)
    hidden = api("review").get(f"/admin/users/{learners[0].uid}/progress/{pid}", token=stranger)
    assert hidden.status_code == 404


def test_the_excuse_trail_lists_who_excused_whom_when_and_why_to_their_instructors_only(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], stack: dict[str, Any]
) -> None:
    pid, article, project = seed(db)
    teacher_uid = unique("teacher")
    teacher, review = mint(teacher_uid, instructor=True), api("review")
    me = unique("u")
    cid = unique("c")
    admin = admin_token(stack)
    body = {"cohort_id": cid, "name": cid, "pathway_ids": [pid], "instructor_uids": [teacher_uid]}
    ok(api("cohorts").post("/cohorts", token=admin, json=body), 201)
    ok(api("cohorts").put(f"/cohorts/{cid}/members/{me}", token=admin))
    trail = f"/admin/users/{me}/excuses"
    assert ok(review.get(trail, token=teacher, params={"pathway_id": pid}))["entries"] == []
    for action, rid, reason in (
        ("excuse", project, "medical leave"),
        ("excuse", article, "covered in class"),
        ("unexcuse", project, "back now"),
    ):
        url = f"/admin/users/{me}/resources/{rid}/{action}"
        ok(review.post(url, token=teacher, json={"reason": reason}))
    entries = ok(review.get(trail, token=teacher, params={"pathway_id": pid}))["entries"]
    assert [(e["action"], e["resource_id"], e["reason"], e["by"]) for e in entries] == [
        ("unexcuse", project, "back now", teacher_uid),
        ("excuse", article, "covered in class", teacher_uid),
        ("excuse", project, "medical leave", teacher_uid),
    ]
    limited = ok(review.get(trail, token=teacher, params={"pathway_id": pid, "limit": 1}))
    assert [e["reason"] for e in limited["entries"]] == ["back now"]
    other = ok(review.get(trail, token=teacher, params={"pathway_id": unique("p")}))
    assert other["entries"] == []
    stranger = mint(unique("stranger"), instructor=True)
    assert review.get(trail, token=stranger, params={"pathway_id": pid}).status_code == 404
    bad = review.get(trail, token=teacher, params={"pathway_id": pid, "limit": 0})
    assert bad.status_code == 400
    assert set(bad.json()["error"]) >= {"code", "message"}
    assert review.get(trail, token=teacher).status_code == 400  # pathway_id is required


def test_admins_setting_a_start_at_once_change_it_once_and_the_operator_command_sets_it(
    api: Callable[[str], Any], db: Any, stack: dict[str, Any]
) -> None:
    import os
    import subprocess
    import sys

    cid, admin = unique("start"), admin_token(stack)
    ok(
        api("cohorts").post(
            "/cohorts", token=admin, json={"cohort_id": cid, "name": cid, "pathway_ids": []}
        ),
        201,
    )
    start = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)
    # the same start from six admins at the same moment: one transaction changes it, the others
    # find it set (Firestore serialises them on the cohort document)
    replies = at_once(
        6,
        lambda i: Api(stack["functions"]["cohorts"]).put(
            f"/cohorts/{cid}/start",
            token=admin,
            json={"starts_at": start.astimezone(dt.timezone(dt.timedelta(hours=i))).isoformat()},
        ),
    )
    bodies = [ok(r) for r in replies]
    assert sorted(b["changed"] for b in bodies) == [False] * 5 + [True]
    assert all(when(b["cohort"]["starts_at"]) == start for b in bodies)
    assert db.document(f"cohorts/{cid}").get().to_dict()["starts_at"] == start

    def ops(*argv: str) -> dict[str, Any]:
        [line] = [x for x in ops_cohort(*argv) if "cohort" in x]
        return line

    moved = ops("start", cid, "2026-09-08T10:00:00+01:00")
    assert (moved["changed"], when(moved["cohort"]["starts_at"])) == (
        True,
        dt.datetime(2026, 9, 8, 9, 0, tzinfo=dt.UTC),
    )
    cleared = ops("start", cid, "none")
    assert (cleared["changed"], cleared["cohort"]["starts_at"]) == (True, None)
    assert db.document(f"cohorts/{cid}").get().to_dict()["starts_at"] is None
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
    naive = subprocess.run(
        [sys.executable, "-m", "ops", "cohort", "start", cid, "2026-09-08T10:00:00"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert naive.returncode == 2
    assert "time zone" in naive.stderr
