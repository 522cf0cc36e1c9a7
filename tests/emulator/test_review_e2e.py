"""Review with context, revising decisions and bulk approval against the local cloud (``make up``),
with threads hitting it at the same moment where a decision races another.

Each test uses its own learners and instructors (unique ids), so tests may run in parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.test_concurrency_e2e import at_once
from tests.emulator.test_submissions_e2e import IMG_MODULE, IMG_PROJECT, PDF, Learner
from tests.helpers import enrol_in_cohort, unique, wait_for

pytestmark = pytest.mark.cloud


@pytest.fixture
def learner(api: Any, mint: Callable[..., str], db: Any) -> Callable[..., Learner]:
    def make(name: str | None = None) -> Learner:
        me = Learner(unique("u"), api, mint, db)
        if name is not None:
            me.token = mint(me.uid, extra={"name": name})
        return me

    return make


def uploaded(me: Learner, name: str = "v1.pdf") -> dict[str, Any]:
    grant = me.upload(IMG_PROJECT, name, "application/pdf", PDF)
    return me.wait_status(grant["submission_id"], "uploaded", timeout=60)


def audit_entries(db: Any, sid: str) -> list[dict[str, Any]]:
    docs = db.collection("audit_log").where(filter=FieldFilter("submission_id", "==", sid)).stream()
    return [d.to_dict() for d in docs]


def notifications(me: Learner) -> dict[str, dict[str, Any]]:
    docs = me.db.collection(f"users/{me.uid}/notifications").stream()
    return {d.id: d.to_dict() for d in docs}


def find_in_queue(review: Any, token: str, sid: str, **filters: str) -> dict[str, Any]:
    """Page through the (filtered) queue until ``sid`` shows up."""

    def look() -> dict[str, Any] | None:
        cursor: str | None = None
        for _ in range(40):
            params = {**filters, "limit": "50", **({"cursor": cursor} if cursor else {})}
            reply = review.get("/admin/submissions/pending", token=token, params=params)
            assert reply.status_code == 200, reply.text
            page = reply.json()
            for item in page["submissions"]:
                if item["submission_id"] == sid:
                    return dict(item)
            cursor = page["next_cursor"]
            if cursor is None:
                return None
        return None

    return wait_for(look, timeout=30, interval=0.5, what=f"{sid} in the review queue")


def test_the_profile_follows_the_token_and_clients_cannot_write_it(
    learner: Callable[..., Learner], mint: Callable[..., str], db: Any
) -> None:
    me = learner("Ada Lovelace")
    reply = me.uploads.get(f"/users/me/resources/{IMG_PROJECT}/submissions", token=me.token)
    assert reply.status_code == 200, reply.text
    profile = db.document(f"users/{me.uid}").get().to_dict()
    assert (profile["display_name"], profile["email"]) == ("Ada Lovelace", f"{me.uid}@example.com")
    first_stamp = profile["profile_updated_at"]
    # the same claims again: nothing written
    me.uploads.get(f"/users/me/resources/{IMG_PROJECT}/submissions", token=me.token)
    assert db.document(f"users/{me.uid}").get().to_dict()["profile_updated_at"] == first_stamp
    # a changed name reaches the profile on the next call
    renamed = mint(me.uid, extra={"name": "Ada King"})
    me.uploads.get(f"/users/me/resources/{IMG_PROJECT}/submissions", token=renamed)
    assert db.document(f"users/{me.uid}").get().to_dict()["display_name"] == "Ada King"


def test_the_queue_shows_who_what_and_the_earlier_attempts(
    learner: Callable[..., Learner],
    api: Any,
    mint: Callable[..., str],
    db: Any,
    cloud: dict[str, Any],
) -> None:
    me = learner("Grace Hopper")
    review = api("review")
    teacher_uid = unique("teacher")
    enrol_in_cohort(cloud, [me.uid], instructors=[teacher_uid])  # the learner is theirs
    teacher = mint(teacher_uid, instructor=True)
    first = uploaded(me)
    body = {
        "decision": "reject",
        "generation": str(first["gcs_generation"]),
        "grade": 40,
        "comments": "Label the figures.",
    }
    reply = review.post(
        f"/admin/submissions/{first['submission_id']}/review", token=teacher, json=body
    )
    assert reply.status_code == 200, reply.text
    second = uploaded(me, "v2.pdf")
    item = find_in_queue(review, teacher, second["submission_id"], resource_id=IMG_PROJECT)
    assert (item["attempt"], item["learner_name"]) == (2, "Grace Hopper")
    assert item["learner_email"] == f"{me.uid}@example.com"
    resource = db.document(f"resources/{IMG_PROJECT}").get().to_dict()
    pathway = db.document(f"pathways/{resource['pathway_id']}").get().to_dict()
    assert (item["resource_title"], item["pathway_title"]) == (resource["title"], pathway["title"])
    [earlier] = item["earlier_attempts"]
    assert (earlier["submission_id"], earlier["attempt"], earlier["status"]) == (
        first["submission_id"],
        1,
        "rejected",
    )
    assert (earlier["grade"], earlier["review_comments"]) == (40, "Label the figures.")
    # the module filter finds it too; a resource of another module does not
    find_in_queue(review, teacher, second["submission_id"], module_id=IMG_MODULE)
    other = review.get(
        "/admin/submissions/pending",
        token=teacher,
        params={"resource_id": IMG_PROJECT, "pathway_id": "prompt-engineering"},
    )
    assert (other.status_code, other.json()["submissions"]) == (200, [])


def test_reviewed_work_cannot_be_deleted(
    learner: Callable[..., Learner], api: Any, mint: Callable[..., str]
) -> None:
    me = learner()
    sub = uploaded(me)
    sid = sub["submission_id"]
    body = {"decision": "approve", "generation": str(sub["gcs_generation"]), "grade": 80}
    teacher = mint(unique("teacher"), admin=True)
    assert api("review").post(f"/admin/submissions/{sid}/review", token=teacher, json=body).ok
    reply = me.uploads.delete(f"/users/me/submissions/{sid}", token=me.token)
    assert reply.status_code == 409, reply.text
    assert "kept as the record" in reply.json()["error"]["message"]
    assert me.submission(sid)["status"] == "approved"
    assert me.progress(IMG_PROJECT)["status"] == "reviewed"


def test_two_instructors_revising_at_once_one_wins_audited_and_notified_once(
    learner: Callable[..., Learner], api: Any, mint: Callable[..., str], db: Any
) -> None:
    me = learner()
    sub = uploaded(me)
    sid = sub["submission_id"]
    review = api("review")
    first = mint(unique("teacher"), admin=True)
    body = {"decision": "approve", "generation": str(sub["gcs_generation"]), "grade": 90}
    assert review.post(f"/admin/submissions/{sid}/review", token=first, json=body).ok
    me.wait_resource(IMG_PROJECT, "reviewed")
    uids = [unique("teacher") for _ in range(2)]
    teachers = [mint(uid, admin=True) for uid in uids]

    def revise(i: int) -> tuple[int, dict[str, Any]]:
        revision = {
            "decision": "reject",
            "revision": 0,
            "grade": 30 + i,
            "comments": f"Copied work ({i}).",
            "reason": f"reported by reviewer {i}",
        }
        reply = review.post(f"/admin/submissions/{sid}/revise", token=teachers[i], json=revision)
        return reply.status_code, reply.json()

    results = at_once(2, revise)
    assert sorted(status for status, _ in results) == [200, 409], results
    winner = next(i for i, (status, _) in enumerate(results) if status == 200)
    loser = results[1 - winner][1]
    assert loser["error"]["code"] == "failed_precondition"
    final = me.submission(sid)
    assert (final["status"], final["revision"], final["grade"]) == ("rejected", 1, 30 + winner)
    revised = [e for e in audit_entries(db, sid) if e["action"] == "submission_revised"]
    assert len(revised) == 1
    assert revised[0]["details"]["reason"] == f"reported by reviewer {winner}"
    assert (revised[0]["actor"], revised[0]["revision"]) == (uids[winner], 1)
    # the resource follows: nothing approved or awaiting review is left
    me.wait_resource(IMG_PROJECT, "in_progress")
    notes = wait_for(
        lambda: (n := notifications(me)) and f"{sid}-revision-1" in n and n,
        timeout=60,
        what="the revision's notification",
    )
    assert notes[f"{sid}-revision-1"]["decision"] == "reject"
    assert sorted(notes) == sorted([f"{sid}-approve", f"{sid}-revision-1"])
    # a revision naming the old revision again is refused; naming the current one applies
    again = {"decision": "approve", "revision": 1, "grade": 70, "reason": "appeal upheld"}
    assert review.post(f"/admin/submissions/{sid}/revise", token=first, json=again).ok
    me.wait_resource(IMG_PROJECT, "reviewed")
    assert len([e for e in audit_entries(db, sid) if e["action"] == "submission_revised"]) == 2


def test_bulk_approval_racing_single_approvals_notifies_each_learner_once(
    learner: Callable[..., Learner], api: Any, mint: Callable[..., str], db: Any
) -> None:
    learners = [learner() for _ in range(4)]
    subs = at_once(4, lambda i: uploaded(learners[i]))
    review = api("review")
    bulk_uid, single_uid = unique("teacher"), unique("teacher")
    bulk_teacher = mint(bulk_uid, admin=True)
    single_teacher = mint(single_uid, admin=True)
    items = [
        {"submission_id": s["submission_id"], "generation": str(s["gcs_generation"])} for s in subs
    ]

    def act(i: int) -> tuple[str, int, Any]:
        if i < 2:  # the same bulk call twice at once (a client retrying)
            body = {"submissions": items, "grade": 88, "comments": "Good work"}
            reply = review.post("/admin/submissions/bulk-review", token=bulk_teacher, json=body)
            return "bulk", reply.status_code, reply.json()
        s = subs[i - 2]  # another instructor approves two of them one by one
        body = {"decision": "approve", "generation": str(s["gcs_generation"]), "grade": 60}
        reply = review.post(
            f"/admin/submissions/{s['submission_id']}/review", token=single_teacher, json=body
        )
        return "single", reply.status_code, reply.json()

    results = at_once(4, act)
    assert all(status == 200 for kind, status, _ in results if kind == "bulk"), results
    singles = {s["submission_id"]: st for kind, st, s in results if kind == "single" and st == 200}
    assert all(st in (200, 409) for kind, st, _ in results if kind == "single"), results
    bulk_applied: dict[str, int] = {}
    for kind, _, body in results:
        if kind == "bulk":
            for r in body["results"]:
                assert r["status"] in (200, 409), r
                bulk_applied[r["submission_id"]] = bulk_applied.get(r["submission_id"], 0) + int(
                    r["applied"]
                )
    for me, s in zip(learners, subs, strict=True):
        sid = s["submission_id"]
        # each submission was approved by exactly one call
        assert bulk_applied.get(sid, 0) + (1 if sid in singles else 0) == 1, (sid, results)
        final = me.submission(sid)
        assert final["status"] == "approved"
        assert final["grade"] == (60 if sid in singles else 88)
        reviewed = [e for e in audit_entries(db, sid) if e["action"] == "submission_reviewed"]
        assert len(reviewed) == 1
        # the entry is the applied decision's (a second application would have rewritten it)
        assert reviewed[0]["actor"] == (single_uid if sid in singles else bulk_uid)
        assert reviewed[0]["details"]["grade"] == final["grade"]
        notes = wait_for(
            lambda m=me: notifications(m), timeout=60, what=f"the notification of {sid}"
        )
        assert list(notes) == [f"{sid}-approve"]
        events = me.db.collection(f"users/{me.uid}/progress_events").stream()
        actions = [e.to_dict()["action"] for e in events]
        assert actions.count("submission_reviewed") == 1
    # a repeated bulk call later changes nothing: 200 (already approved by this instructor) or
    # 409 (another instructor's decision); the audit entries stay as they were
    before = {s["submission_id"]: audit_entries(db, s["submission_id"]) for s in subs}
    again = review.post(
        "/admin/submissions/bulk-review", token=bulk_teacher, json={"submissions": items}
    )
    assert again.status_code == 200, again.text
    assert again.json()["approved"] == 0
    for s, r in zip(subs, again.json()["results"], strict=True):
        expected = 409 if s["submission_id"] in singles else 200
        assert (r["status"], r["applied"]) == (expected, False), r
        assert audit_entries(db, s["submission_id"]) == before[s["submission_id"]]


def test_a_bulk_request_out_of_bounds_is_400_and_writes_nothing(
    api: Any, mint: Callable[..., str], learner: Callable[..., Learner]
) -> None:
    me = learner()
    sub = uploaded(me)
    teacher = mint(unique("teacher"), admin=True)
    item = {"submission_id": sub["submission_id"], "generation": str(sub["gcs_generation"])}
    review = api("review")
    for body in (
        {"submissions": []},
        {"submissions": [item, item]},
        {
            "submissions": [item]
            + [{"submission_id": f"x{i}", "generation": "1"} for i in range(50)]
        },
        {"submissions": [item], "decision": "reject"},
    ):
        reply = review.post("/admin/submissions/bulk-review", token=teacher, json=body)
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["code"] == "invalid_argument"
    learner_call = review.post(
        "/admin/submissions/bulk-review", token=me.token, json={"submissions": [item]}
    )
    assert learner_call.status_code == 403
    assert me.submission(sub["submission_id"])["status"] == "uploaded"


def test_the_same_revision_sent_twice_at_once_applies_once(
    learner: Callable[..., Learner], api: Any, mint: Callable[..., str], db: Any
) -> None:
    me = learner()
    sub = uploaded(me)
    sid = sub["submission_id"]
    review = api("review")
    teacher = mint(unique("teacher"), admin=True)
    body = {"decision": "reject", "generation": str(sub["gcs_generation"]), "comments": "Blurry."}
    assert review.post(f"/admin/submissions/{sid}/review", token=teacher, json=body).ok
    revision = {"decision": "approve", "revision": 0, "grade": 77, "reason": "legible after all"}
    replies = at_once(
        3,
        lambda _: review.post(f"/admin/submissions/{sid}/revise", token=teacher, json=revision),
    )
    assert [r.status_code for r in replies] == [200] * 3, [r.text for r in replies]
    assert {r.json()["revision"] for r in replies} == {1}
    final = me.submission(sid)
    assert (final["status"], final["revision"], final["grade"]) == ("approved", 1, 77)
    assert len([e for e in audit_entries(db, sid) if e["action"] == "submission_revised"]) == 1
    events = [e.to_dict() for e in me.db.collection(f"users/{me.uid}/progress_events").stream()]
    assert [e["action"] for e in events].count("submission_revised") == 1
    me.wait_resource(IMG_PROJECT, "reviewed")
    notes = wait_for(
        lambda: (n := notifications(me)) and f"{sid}-revision-1" in n and n,
        timeout=60,
        what="the revision's notification",
    )
    assert sorted(notes) == sorted([f"{sid}-reject", f"{sid}-revision-1"])
