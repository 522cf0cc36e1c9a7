"""Completion rules, due dates and excuses end to end on the local cloud (``make up``): the HTTP
functions, Firestore, the event bridge, the upload trigger and the rollup triggers, with threads
where a rule's input races another write.

Each test seeds its own small pathway (unique ids, written straight into the catalog collections:
the functions' catalog cache never caches an unknown id, so it is visible at once) and uses fresh
learners, so tests may run in any order and in parallel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.firestore import to_document
from shared.domain.models import Module, Pathway, Resource, ResourceType
from tests.emulator.test_concurrency_e2e import at_once
from tests.emulator.test_submissions_e2e import PDF, Learner
from tests.helpers import enrol_in_cohort, unique, wait_for

pytestmark = pytest.mark.cloud

SETTLE = 90.0  # generous: other local clouds share the machine


@dataclass(frozen=True)
class Course:
    pathway_id: str
    module_id: str
    manual: str
    time: str  # min_time, 10 minutes
    quiz: str  # score, pass 70
    project: str  # approved (upload), due yesterday
    bonus: str  # optional manual

    @property
    def required(self) -> list[str]:
        return [self.manual, self.time, self.quiz, self.project]


def seed_course(db: Any) -> Course:
    pid = unique("rules")
    mid = f"{pid}-m1"
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    spec: list[tuple[str, ResourceType, dict[str, Any]]] = [
        ("manual", ResourceType.article, {}),
        ("time", ResourceType.video, {"completion": "min_time", "min_minutes": 10}),
        ("quiz", ResourceType.quiz, {"completion": "score", "pass_score": 70}),
        (
            "project",
            ResourceType.project,
            {
                "completion": "approved",
                "requires_upload": True,
                "accepted_file_types": ["application/pdf"],
                "max_file_size_mb": 5,
                "due_at": yesterday,
            },
        ),
        ("bonus", ResourceType.article, {"optional": True}),
    ]
    ids = [f"{mid}-{name}" for name, _, _ in spec]
    for order, ((_, kind, extra), rid) in enumerate(zip(spec, ids, strict=True)):
        res = Resource.model_validate(
            {
                "resource_id": rid,
                "pathway_id": pid,
                "module_id": mid,
                "title": rid,
                "type": kind,
                "order": order,
                **extra,
            }
        )
        db.document(f"resources/{rid}").set(to_document(res))
    module = Module(module_id=mid, pathway_id=pid, title="Rules", order=0, resource_ids=ids)
    db.document(f"modules/{mid}").set(to_document(module))
    path = Pathway(pathway_id=pid, title="Rules", module_ids=[mid])
    db.document(f"pathways/{pid}").set(to_document(path))
    return Course(pid, mid, *ids)


@pytest.fixture
def course(db: Any) -> Course:
    return seed_course(db)


def ok(reply: requests.Response) -> dict[str, Any]:
    assert reply.status_code == 200, (reply.status_code, reply.text)
    data: dict[str, Any] = reply.json()
    return data


def error(reply: requests.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, (reply.status_code, reply.text)
    body: dict[str, Any] = reply.json()["error"]
    assert set(body) >= {"code", "message"}
    return body


def module_of(db: Any, uid: str, course: Course) -> dict[str, Any]:
    snap = db.document(f"users/{uid}/module_progress/{course.module_id}").get()
    return snap.to_dict() or {}


def wait_module(
    db: Any, uid: str, course: Course, done: int, total: int, timeout: float = SETTLE
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        m = module_of(db, uid, course)
        return (
            m if (m.get("completed_resources"), m.get("total_resources")) == (done, total) else None
        )

    return wait_for(probe, timeout=timeout, interval=0.2, what=f"module of {uid} at {done}/{total}")


def wait_pathway(db: Any, uid: str, course: Course, done: int, total: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        snap = db.document(f"users/{uid}/pathway_progress/{course.pathway_id}").get()
        p = snap.to_dict() or {}
        return (
            p if (p.get("completed_resources"), p.get("total_resources")) == (done, total) else None
        )

    return wait_for(probe, timeout=SETTLE, interval=0.2, what=f"pathway of {uid} at {done}/{total}")


def events_of(db: Any, uid: str) -> list[dict[str, Any]]:
    return [s.to_dict() for s in db.collection(f"users/{uid}/progress_events").stream()]


def put(progress: Any, token: str, rid: str, **body: Any) -> requests.Response:
    body.setdefault("progress_percentage", 50)
    return progress.put(f"/users/me/resources/{rid}/progress", token=token, json=body)


def approve(review: Any, teacher: str, submission: dict[str, Any]) -> requests.Response:
    body = {"decision": "approve", "generation": str(submission["gcs_generation"]), "grade": 90}
    return review.post(
        f"/admin/submissions/{submission['submission_id']}/review", token=teacher, json=body
    )


# ---- each rule through the real functions -----------------------------------------------------


def test_each_rule_completes_only_when_met_and_the_approval_finishes_the_pathway(
    api: Callable[[str], Any],
    db: Any,
    mint: Callable[..., str],
    course: Course,
    stack: dict[str, Any],
) -> None:
    me = Learner(unique("u"), api, mint, db)
    progress, review = api("progress"), api("review")
    teacher_uid = unique("teacher")
    teacher = mint(teacher_uid, instructor=True)
    enrol_in_cohort(stack, [me.uid], instructors=[teacher_uid])

    # manual: the check-off
    assert ok(progress.post(f"/users/me/resources/{course.manual}/complete", token=me.token))[
        "status"
    ] == ("completed")
    # min_time: 409 until 10 minutes, then the heartbeat that crosses completes it
    body = error(progress.post(f"/users/me/resources/{course.time}/complete", token=me.token), 409)
    assert "at least 10 minutes" in body["message"]
    assert ok(put(progress, me.token, course.time, time_spent_minutes=6))["status"] == "in_progress"
    crossed = ok(put(progress, me.token, course.time, time_spent_minutes=4))
    assert (crossed["status"], crossed["time_spent_minutes"]) == ("completed", 10)
    assert not crossed["late"]
    # score: bounded, only for a score resource, the best kept, completes at the threshold
    assert error(put(progress, me.token, course.quiz, score=101), 400)["code"]
    assert error(put(progress, me.token, course.quiz, score="90"), 400)["code"]
    assert (
        "takes no score" in error(put(progress, me.token, course.manual, score=90), 400)["message"]
    )
    assert ok(put(progress, me.token, course.quiz, score=60))["score"] == 60
    assert (
        "best so far 60"
        in error(progress.post(f"/users/me/resources/{course.quiz}/complete", token=me.token), 409)[
            "message"
        ]
    )
    passed = ok(put(progress, me.token, course.quiz, score=85))
    assert (passed["status"], passed["score"]) == ("completed", 85)
    # optional: can be done, never counts
    ok(progress.post(f"/users/me/resources/{course.bonus}/complete", token=me.token))
    wait_module(db, me.uid, course, 3, 4)

    # approved: an upload is not enough (and it is late: due yesterday); the approval completes it
    assert error(
        progress.post(f"/users/me/resources/{course.project}/complete", token=me.token), 409
    )["code"]
    grant = me.upload(course.project, "work.pdf", "application/pdf", PDF)
    submission = me.wait_status(grant["submission_id"], "uploaded", timeout=SETTLE)
    waiting = me.wait_resource(course.project, "submitted", timeout=SETTLE)
    assert waiting["late"] is True
    assert waiting.get("completed_at") is None
    assert (
        "instructor approves"
        in error(
            progress.post(f"/users/me/resources/{course.project}/complete", token=me.token), 409
        )["message"]
    )
    queued = review.get(
        "/admin/submissions/pending", token=teacher, params={"resource_id": course.project}
    )
    [item] = ok(queued)["submissions"]
    assert item["late"] is True
    assert item["due_at"] is not None
    ok(approve(review, teacher, submission))
    done = me.wait_resource(course.project, "reviewed", timeout=SETTLE)
    assert done["completed_at"] is not None
    module = wait_module(db, me.uid, course, 4, 4)
    assert module["completed_at"] is not None
    wait_pathway(db, me.uid, course, 4, 4)

    report = ok(progress.get(f"/users/me/progress/{course.pathway_id}", token=me.token))
    rows = {r["resource_id"]: r for r in report["modules"][0]["resources"]}
    assert rows[course.project]["late"] is True
    assert rows[course.project]["completion"] == "approved"
    assert rows[course.time]["min_minutes"] == 10
    assert rows[course.quiz]["pass_score"] == 70
    assert rows[course.bonus]["optional"] is True
    autos = sorted(e["auto_completed"] for e in events_of(db, me.uid) if "auto_completed" in e)
    assert autos == ["min_time", "score"]


def test_excuse_is_instructor_only_audited_and_leaves_the_count(
    api: Callable[[str], Any],
    db: Any,
    mint: Callable[..., str],
    course: Course,
    stack: dict[str, Any],
) -> None:
    uid = unique("u")
    token = mint(uid)
    progress, review = api("progress"), api("review")
    teacher_uid = unique("teacher")
    teacher = mint(teacher_uid, instructor=True)
    enrol_in_cohort(stack, [uid], instructors=[teacher_uid])
    ok(progress.post(f"/users/me/resources/{course.manual}/complete", token=token))
    wait_module(db, uid, course, 1, 4)
    path = f"/admin/users/{uid}/resources/{course.project}/excuse"
    error(review.post(path, token=token, json={"reason": "x"}), 403)
    stranger = mint(unique("other-teacher"), instructor=True)  # teaches other cohorts: 404
    error(review.post(path, token=stranger, json={"reason": "x"}), 404)
    error(review.post(path, token=teacher, json={}), 400)
    error(review.post(path, token=teacher, json={"reason": "  "}), 400)
    error(review.post(path, token=teacher, json={"reason": "x", "extra": 1}), 400)
    error(
        review.post(
            f"/admin/users/{uid}/resources/nope/excuse", token=teacher, json={"reason": "x"}
        ),
        404,
    )
    view = ok(review.post(path, token=teacher, json={"reason": "joined late"}))
    assert (view["excused"], view["excuse_reason"]) == (True, "joined late")
    wait_module(db, uid, course, 1, 3)
    wait_pathway(db, uid, course, 1, 3)
    ok(review.post(path, token=teacher, json={"reason": "again"}))  # a no-op
    entries = [
        d.to_dict()
        for d in db.collection("audit_log").where(filter=FieldFilter("user_id", "==", uid)).stream()
    ]
    assert [(e["action"], e["actor"], e["details"]["reason"]) for e in entries] == [
        ("resource_excused", teacher_uid, "joined late")
    ]
    report = ok(progress.get(f"/users/me/progress/{course.pathway_id}", token=token))
    rows = {r["resource_id"]: r for r in report["modules"][0]["resources"]}
    assert rows[course.project]["excused"] is True
    ok(
        review.post(
            f"/admin/users/{uid}/resources/{course.project}/unexcuse",
            token=teacher,
            json={"reason": "no"},
        )
    )
    wait_module(db, uid, course, 1, 4)


# ---- concurrent ---------------------------------------------------------------------------------


def test_two_tabs_heartbeats_crossing_min_time_complete_it_exactly_once(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], course: Course
) -> None:
    uid = unique("u")
    token = mint(uid)
    ok(put(api("progress"), token, course.time, time_spent_minutes=4))
    tabs = [api("progress") for _ in range(8)]
    # eight heartbeats of 1 minute from two tabs at once: 4 + 8 = 12 crosses 10 in the middle
    replies = at_once(8, lambda i: put(tabs[i], token, course.time, time_spent_minutes=1))
    assert [r.status_code for r in replies] == [200] * 8, [r.text for r in replies]
    final = ok(api("progress").get(f"/users/me/resources/{course.time}/progress", token=token))
    assert (final["status"], final["time_spent_minutes"]) == ("completed", 12)
    completions = [
        e
        for e in events_of(db, uid)
        if e["to_status"] == "completed" and e["from_status"] != "completed"
    ]
    assert len(completions) == 1
    assert sum(1 for e in events_of(db, uid) if "auto_completed" in e) == 1
    assert completions[0]["auto_completed"] == "min_time"
    assert completions[0]["time_spent_minutes"] == 10
    wait_module(db, uid, course, 1, 4)


def test_an_approval_completes_an_approved_resource_while_the_learner_acts(
    api: Callable[[str], Any],
    db: Any,
    mint: Callable[..., str],
    course: Course,
    stack: dict[str, Any],
) -> None:
    me = Learner(unique("u"), api, mint, db)
    teacher_uid = unique("teacher")
    teacher = mint(teacher_uid, instructor=True)
    enrol_in_cohort(stack, [me.uid], instructors=[teacher_uid])
    grant = me.upload(course.project, "work.pdf", "application/pdf", PDF)
    submission = me.wait_status(grant["submission_id"], "uploaded", timeout=SETTLE)
    me.wait_resource(course.project, "submitted", timeout=SETTLE)
    clients = [api("progress") for _ in range(6)]

    def act(i: int) -> requests.Response:
        if i == 0:
            return approve(api("review"), teacher, submission)
        if i == 1:
            return clients[i].post(f"/users/me/resources/{course.manual}/complete", token=me.token)
        if i == 2:
            return put(clients[i], me.token, course.quiz, score=90)
        # the learner keeps the project page open: heartbeats on the resource being approved
        return put(clients[i], me.token, course.project, time_spent_minutes=1)

    replies = at_once(6, act)
    assert [r.status_code for r in replies] == [200] * 6, [r.text for r in replies]
    done = me.wait_resource(course.project, "reviewed", timeout=SETTLE)
    assert done["completed_at"] is not None
    assert done["time_spent_minutes"] == 3  # no heartbeat lost to the approval's write
    reviewed = [
        e
        for e in events_of(db, me.uid)
        if e["to_status"] == "reviewed" and e["from_status"] != "reviewed"
    ]
    assert len(reviewed) == 1
    wait_module(db, me.uid, course, 3, 4)  # manual, quiz, project
    wait_pathway(db, me.uid, course, 3, 4)


def test_excuses_racing_completions_leave_exact_module_numbers(
    api: Callable[[str], Any],
    db: Any,
    mint: Callable[..., str],
    course: Course,
    stack: dict[str, Any],
) -> None:
    learners = [unique("u") for _ in range(4)]
    tokens = {uid: mint(uid) for uid in learners}
    teacher_uid = unique("teacher")
    teacher = mint(teacher_uid, instructor=True)
    enrol_in_cohort(stack, learners, instructors=[teacher_uid])
    clients = [(api("progress"), api("review")) for _ in range(12)]

    def act(i: int) -> requests.Response:
        uid = learners[i // 3]
        progress, review = clients[i]
        kind = i % 3
        if kind == 0:  # the instructor excuses the quiz...
            path = f"/admin/users/{uid}/resources/{course.quiz}/excuse"
            return review.post(path, token=teacher, json={"reason": "exempt"})
        if kind == 1:  # ...while the learner passes it
            return put(progress, tokens[uid], course.quiz, score=100)
        return progress.post(f"/users/me/resources/{course.manual}/complete", token=tokens[uid])

    replies = at_once(12, act)
    assert [r.status_code for r in replies] == [200] * 12, [r.text for r in replies]
    for uid in learners:
        # quiz excused (out of both numbers) whatever the order; manual done: 1 of 3
        module = wait_module(db, uid, course, 1, 3)
        assert module["percentage"] == round(100 / 3, 2)
        wait_pathway(db, uid, course, 1, 3)

    # un-excusing, racing another score report: the passed quiz counts again, 2 of 4
    def back(i: int) -> requests.Response:
        uid = learners[i // 2]
        progress, review = clients[i]
        if i % 2 == 0:
            path = f"/admin/users/{uid}/resources/{course.quiz}/unexcuse"
            return review.post(path, token=teacher, json={"reason": "counts after all"})
        return put(progress, tokens[uid], course.quiz, score=50)

    replies = at_once(8, back)
    assert [r.status_code for r in replies] == [200] * 8, [r.text for r in replies]
    for uid in learners:
        wait_module(db, uid, course, 2, 4)
        audit = [
            d.to_dict()["action"]
            for d in db.collection("audit_log")
            .where(filter=FieldFilter("user_id", "==", uid))
            .stream()
        ]
        assert sorted(audit) == ["resource_excused", "resource_unexcused"]
