"""Cohorts, invite codes and scoped roles against the local cloud (``make up``): threads hitting the
``cohorts`` and ``review`` functions at the same moment, and the documents they leave.

Each test makes its own cohorts, learners and instructors (unique ids).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from shared.domain.cohorts import code_key
from tests.emulator.test_concurrency_e2e import at_once
from tests.emulator.test_review_e2e import find_in_queue, uploaded
from tests.emulator.test_submissions_e2e import Learner
from tests.helpers import admin_token, enrol_in_cohort, ops_cohort, unique

pytestmark = pytest.mark.cloud


@pytest.fixture
def admin(cloud: dict[str, Any]) -> str:
    return admin_token(cloud, unique("admin"))


def make_cohort(cohorts: Any, admin: str, instructors: list[str]) -> str:
    cid = unique("cohort")
    body = {"cohort_id": cid, "name": f"Cohort {cid}", "instructor_uids": instructors}
    body["pathway_ids"] = ["image-generation"]
    reply = cohorts.post("/cohorts", token=admin, json=body)
    assert reply.status_code == 201, reply.text
    return cid


def test_twenty_learners_redeem_a_code_of_ten_uses_at_once_and_exactly_ten_join(
    api: Callable[[str], Any], mint: Callable[..., str], admin: str, db: Any
) -> None:
    cohorts = api("cohorts")
    cid = make_cohort(cohorts, admin, [unique("teacher")])
    made = cohorts.post(f"/cohorts/{cid}/invites", token=admin, json={"max_uses": 10})
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    uids = [unique("u") for _ in range(20)]

    replies = at_once(
        20, lambda i: cohorts.post("/cohorts/join", token=mint(uids[i]), json={"code": code})
    )

    statuses = Counter(r.status_code for r in replies)
    assert statuses == {200: 10, 409: 10}, [r.text for r in replies]
    joined = {uids[i] for i, r in enumerate(replies) if r.status_code == 200}
    assert all(r.json()["joined"] for r in replies if r.status_code == 200)
    for r in replies:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "failed_precondition"
    invite = db.document(f"cohort_invites/{code_key(code)}").get().to_dict()
    assert invite["uses"] == 10
    members = {d.id for d in db.collection(f"cohorts/{cid}/members").stream()}
    assert members == joined
    for uid in uids:
        membership = db.document(f"memberships/{uid}").get().to_dict()
        assert (membership is not None and cid in membership["cohort_ids"]) == (uid in joined)
    # a member redeeming again (a retried request) is 200, joined false, and counts nothing
    winner = next(iter(joined))
    again = cohorts.post("/cohorts/join", token=mint(winner), json={"code": code})
    assert (again.status_code, again.json()["joined"]) == (200, False)
    assert db.document(f"cohort_invites/{code_key(code)}").get().to_dict()["uses"] == 10


def test_bad_expired_and_used_up_codes_are_clear_4xx(
    api: Callable[[str], Any], mint: Callable[..., str], admin: str, db: Any
) -> None:
    cohorts = api("cohorts")
    cid = make_cohort(cohorts, admin, [])
    me_uid = unique("u")
    me = mint(me_uid)
    for body, status, code in (
        ({"code": "no-such-code"}, 404, "not_found"),
        ({"code": ""}, 400, "invalid_argument"),
        ({"code": "x", "extra": 1}, 400, "invalid_argument"),
    ):
        reply = cohorts.post("/cohorts/join", token=me, json=body)
        assert (reply.status_code, reply.json()["error"]["code"]) == (status, code), reply.text
    made = cohorts.post(f"/cohorts/{cid}/invites", token=admin, json={"expires_in_seconds": 60})
    expiring = made.json()["code"]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.document(f"cohort_invites/{code_key(expiring)}").update({"expires_at": past})
    reply = cohorts.post("/cohorts/join", token=me, json={"code": expiring})
    assert (reply.status_code, reply.json()["error"]["code"]) == (410, "gone"), reply.text
    assert not db.document(f"memberships/{me_uid}").get().exists  # nothing written
    used_up = cohorts.post(f"/cohorts/{cid}/invites", token=admin, json={"max_uses": 1}).json()
    assert cohorts.post("/cohorts/join", token=mint(unique("u")), json={"code": used_up["code"]}).ok
    reply = cohorts.post("/cohorts/join", token=me, json={"code": used_up["code"]})
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "failed_precondition")
    # only an admin manages cohorts
    teacher = mint(unique("teacher"), instructor=True)
    for method, path, body in (
        ("post", "/cohorts", {"name": "x"}),
        ("post", f"/cohorts/{cid}/invites", {}),
        ("put", f"/cohorts/{cid}/members/someone", None),
        ("put", f"/cohorts/{cid}/instructors", {"instructor_uids": []}),
    ):
        reply = getattr(cohorts, method)(path, token=teacher, json=body)
        assert reply.status_code == 403, reply.text
    reply = cohorts.post("/cohorts", token=admin, json={"name": "x", "pathway_ids": ["nope"]})
    assert reply.status_code == 400, reply.text


def test_concurrent_add_and_remove_of_the_same_learner_leave_consistent_documents(
    api: Callable[[str], Any], admin: str, db: Any
) -> None:
    cohorts = api("cohorts")
    teachers = [unique("teacher"), unique("teacher")]
    a, b = (make_cohort(cohorts, admin, [t]) for t in teachers)
    uid = unique("u")

    def act(i: int) -> Any:
        cid = (a, b)[i % 2]
        if i % 4 < 2:
            return cohorts.put(f"/cohorts/{cid}/members/{uid}", token=admin)
        return cohorts.delete(f"/cohorts/{cid}/members/{uid}", token=admin)

    for _ in range(3):
        replies = at_once(8, act)
        assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
        membership = db.document(f"memberships/{uid}").get().to_dict() or {"cohort_ids": []}
        members = {
            cid for cid in (a, b) if db.document(f"cohorts/{cid}/members/{uid}").get().exists
        }
        # the membership and the member documents agree, whatever order the calls landed in
        assert set(membership["cohort_ids"]) == members
        want = sorted(t for t, cid in zip(teachers, (a, b), strict=True) if cid in members)
        assert membership.get("instructor_uids", []) == want
    # a final add of both, concurrently: both member documents and one membership naming both
    replies = at_once(2, lambda i: cohorts.put(f"/cohorts/{(a, b)[i]}/members/{uid}", token=admin))
    assert [r.status_code for r in replies] == [200, 200]
    membership = db.document(f"memberships/{uid}").get().to_dict()
    assert (membership["cohort_ids"], membership["instructor_uids"]) == (
        sorted([a, b]),
        sorted(teachers),
    )


def test_an_instructor_sees_and_reviews_only_their_cohorts_learners_and_an_admin_all(
    api: Callable[[str], Any], mint: Callable[..., str], admin: str, db: Any, cloud: dict[str, Any]
) -> None:
    review, uploads = api("review"), api("uploads")
    ivy, otto = unique("ivy"), unique("otto")
    alice, bob = Learner(unique("u"), api, mint, db), Learner(unique("u"), api, mint, db)
    cohort_a = enrol_in_cohort(cloud, [alice.uid], instructors=[ivy])
    cohort_b = enrol_in_cohort(cloud, [bob.uid], instructors=[otto])
    sub_a, sub_b = uploaded(alice), uploaded(bob)
    ivy_token = mint(ivy, instructor=True)

    # the queue: ivy finds alice's, never bob's; the cohort filter of another cohort is a 404
    find_in_queue(review, ivy_token, sub_a["submission_id"])
    find_in_queue(review, ivy_token, sub_a["submission_id"], cohort_id=cohort_a)
    page = review.get("/admin/submissions/pending", token=ivy_token, params={"limit": "100"})
    assert {s["user_id"] for s in page.json()["submissions"]} == {alice.uid}
    other = review.get(
        "/admin/submissions/pending", token=ivy_token, params={"cohort_id": cohort_b}
    )
    assert other.status_code == 404, other.text
    # bob's submission does not exist for ivy: review, revise, bulk and download
    sid_b = sub_b["submission_id"]
    body = {"decision": "approve", "generation": str(sub_b["gcs_generation"]), "grade": 70}
    reply = review.post(f"/admin/submissions/{sid_b}/review", token=ivy_token, json=body)
    assert (reply.status_code, reply.json()["error"]["code"]) == (404, "not_found")
    bulk = review.post(
        "/admin/submissions/bulk-review",
        token=ivy_token,
        json={"submissions": [{"submission_id": sid_b, "generation": body["generation"]}]},
    )
    assert [r["status"] for r in bulk.json()["results"]] == [404]
    download = uploads.get(f"/users/me/submissions/{sid_b}/download-url", token=ivy_token)
    assert download.status_code == 404
    revise = {"decision": "reject", "revision": 0, "comments": "no", "reason": "x"}
    reply = review.post(f"/admin/submissions/{sid_b}/revise", token=ivy_token, json=revise)
    assert reply.status_code == 404
    assert db.document(f"submissions/{sid_b}").get().to_dict()["status"] == "uploaded"
    # alice's she may download and review
    sid_a = sub_a["submission_id"]
    assert uploads.get(f"/users/me/submissions/{sid_a}/download-url", token=ivy_token).ok
    body_a = {"decision": "approve", "generation": str(sub_a["gcs_generation"]), "grade": 90}
    assert review.post(f"/admin/submissions/{sid_a}/review", token=ivy_token, json=body_a).ok
    # the admin sees both and reviews bob's
    find_in_queue(review, admin, sid_b)
    assert review.post(f"/admin/submissions/{sid_b}/review", token=admin, json=body).ok
    # moving ivy onto cohort B (instructors changed) gives her bob's learners' work
    cohorts = api("cohorts")
    change = cohorts.put(
        f"/cohorts/{cohort_b}/instructors", token=admin, json={"instructor_uids": [ivy]}
    )
    assert change.status_code == 200, change.text
    assert change.json()["sync"]["done"]
    assert db.document(f"submissions/{sid_b}").get().to_dict()["instructor_uids"] == [ivy]
    assert uploads.get(f"/users/me/submissions/{sid_b}/download-url", token=ivy_token).ok
    otto_token = mint(otto, instructor=True)
    assert (
        uploads.get(f"/users/me/submissions/{sid_b}/download-url", token=otto_token).status_code
        == 404
    )
    # listings by role
    mine = cohorts.get("/cohorts", token=ivy_token).json()["cohorts"]
    assert {c["cohort_id"] for c in mine} == {cohort_a, cohort_b}
    assert cohorts.get(f"/cohorts/{cohort_a}", token=otto_token).status_code == 404
    enrolled = cohorts.get("/users/me/cohorts", token=alice.token).json()["cohorts"]
    assert [c["cohort_id"] for c in enrolled] == [cohort_a]


def test_the_operator_command_creates_enrols_invites_lists_and_removes(
    cloud: dict[str, Any], db: Any, api: Callable[[str], Any], mint: Callable[..., str]
) -> None:
    cid, teacher, learners = unique("ops"), unique("teacher"), [unique("u"), unique("u")]

    ops = ops_cohort
    [made] = ops(
        "create",
        cid,
        "--name",
        "Ops cohort",
        "--pathway",
        "image-generation",
        "--instructor",
        teacher,
    )
    assert (made["created"], made["instructor_uids"]) == (True, [teacher])
    assert [r["changed"] for r in ops("add", cid, *learners)] == [True, True]
    assert [r["changed"] for r in ops("add", cid, learners[0])] == [False]  # idempotent
    for uid in learners:
        membership = db.document(f"memberships/{uid}").get().to_dict()
        assert (membership["cohort_ids"], membership["instructor_uids"]) == ([cid], [teacher])
        member = db.document(f"cohorts/{cid}/members/{uid}").get().to_dict()
        assert (member["via"], member["pathway_ids"]) == ("operator", ["image-generation"])
    [invite] = ops("invite", cid, "--max-uses", "1")
    joined = api("cohorts").post("/cohorts/join", token=mint(unique("u")), json=invite)
    assert joined.status_code == 400  # the reply's extra fields are refused: only {"code"}
    joiner = unique("u")
    reply = api("cohorts").post("/cohorts/join", token=mint(joiner), json={"code": invite["code"]})
    assert (reply.status_code, reply.json()["cohort_id"]) == (200, cid)
    assert cid in {c["cohort_id"] for c in ops("list", "--instructor-of", teacher)}
    assert [r["changed"] for r in ops("remove", cid, learners[1])] == [True]
    assert not db.document(f"cohorts/{cid}/members/{learners[1]}").get().exists
    assert db.document(f"memberships/{learners[1]}").get().to_dict()["cohort_ids"] == []


def test_creating_one_cohort_twice_at_once_creates_it_once(
    api: Callable[[str], Any], admin: str
) -> None:
    cohorts = api("cohorts")
    cid = unique("cohort")
    body = {"cohort_id": cid, "name": "Twice", "instructor_uids": ["t1"]}
    replies = at_once(6, lambda i: cohorts.post("/cohorts", token=admin, json=body))
    assert sorted(r.status_code for r in replies) == [200] * 5 + [201], [r.text for r in replies]
    other = cohorts.post("/cohorts", token=admin, json={**body, "name": "Another"})
    assert other.status_code == 409


def test_instructors_changed_while_learners_enrol_end_in_step(
    api: Callable[[str], Any], admin: str, db: Any
) -> None:
    """Enrolments racing two changes of the cohort's instructors: every member's membership and
    submission copies end naming the instructors the cohort has at the end."""
    cohorts = api("cohorts")
    cid = make_cohort(cohorts, admin, ["t0"])
    uids = [unique("u") for _ in range(10)]
    changes = [["t1"], ["t1", "t2"]]

    def act(i: int) -> Any:
        if i < len(uids):
            return cohorts.put(f"/cohorts/{cid}/members/{uids[i]}", token=admin)
        new = changes[i - len(uids)]
        return cohorts.put(
            f"/cohorts/{cid}/instructors", token=admin, json={"instructor_uids": new}
        )

    replies = at_once(len(uids) + len(changes), act)
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    final = db.document(f"cohorts/{cid}").get().to_dict()["instructor_uids"]
    assert final in changes
    members = {d.id for d in db.collection(f"cohorts/{cid}/members").stream()}
    assert members == set(uids)
    for uid in uids:
        membership = db.document(f"memberships/{uid}").get().to_dict()
        assert (membership["cohort_ids"], membership["instructor_uids"]) == ([cid], final), uid


def test_the_store_pages_members_and_cohorts_by_id(
    api: Callable[[str], Any], admin: str, db: Any
) -> None:
    from shared.adapters.cohort_store import FirestoreCohortStore

    cohorts = api("cohorts")
    teacher = unique("teacher")
    made = sorted(make_cohort(cohorts, admin, [teacher]) for _ in range(3))
    uids = sorted(unique("u") for _ in range(5))
    for uid in uids:
        assert cohorts.put(f"/cohorts/{made[0]}/members/{uid}", token=admin).ok
    store = FirestoreCohortStore(db)
    pages, after = [], None
    while True:
        page = store.members(made[0], after=after, limit=2)
        pages.append([m.uid for m in page])
        if len(page) < 2:
            break
        after = page[-1].uid
    assert pages == [uids[0:2], uids[2:4], uids[4:5]]
    first = store.list_cohorts(instructor_uid=teacher, after=None, limit=2)
    rest = store.list_cohorts(instructor_uid=teacher, after=first[-1].cohort_id, limit=2)
    assert [c.cohort_id for c in first + rest] == made
    assert store.submission_ids(uids[0]) == []  # no uploads yet
    # the HTTP listing pages the same way
    reply = cohorts.get(f"/cohorts/{made[0]}/members", token=admin, params={"limit": "3"})
    assert [m["uid"] for m in reply.json()["members"]] == uids[:3]
    assert reply.json()["next_cursor"] == uids[2]
