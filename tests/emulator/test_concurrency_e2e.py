"""Nothing lost under concurrency: threads hitting the real local cloud at the same moment.

Each test uses its own learners (unique ids), so tests may run in parallel. Every reply is checked:
a 5xx anywhere fails the test (contention must end in a decision, a 429 or a 503, never a crash).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.task_calls import task_headers
from tests.emulator.test_submissions_e2e import (
    IMG_EXERCISE,
    IMG_MODULE,
    IMG_PROJECT,
    PDF,
    PNG,
    Learner,
    blob,
    finalized_event,
)
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud


@pytest.fixture
def learner(api: Any, mint: Callable[..., str], db: Any) -> Callable[[], Learner]:
    return lambda: Learner(unique("u"), api, mint, db)


def at_once(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i in range(n) on n threads released together."""
    start = threading.Barrier(n)

    def run(i: int) -> Any:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_eight_learners_get_upload_urls_at_the_same_moment(
    learner: Callable[[], Learner], db: Any
) -> None:
    learners = [learner() for _ in range(8)]
    replies = at_once(8, lambda i: learners[i].ask(IMG_EXERCISE, "a.png", "image/png", len(PNG)))
    assert [r.status_code for r in replies] == [201] * 8, [r.text for r in replies]
    for me, reply in zip(learners, replies, strict=True):
        assert reply.json()["attempt"] == 1
        index = db.document(f"users/{me.uid}/resource_submissions/{IMG_EXERCISE}").get()
        assert index.to_dict()["attempts"] == 1
        assert list(index.to_dict()["submissions"]) == [reply.json()["submission_id"]]


def test_twelve_learners_uploading_within_a_second_are_all_recorded(
    learner: Callable[[], Learner], db: Any
) -> None:
    learners = [learner() for _ in range(12)]
    grants = at_once(12, lambda i: learners[i].url(IMG_EXERCISE, "a.png", "image/png", PNG))

    def put(i: int) -> int:
        g = grants[i]
        return requests.put(g["upload_url"], data=PNG, headers=g["headers"], timeout=60).status_code

    assert at_once(12, put) == [200] * 12
    for me, grant in zip(learners, grants, strict=True):
        me.wait_status(grant["submission_id"], "uploaded", timeout=120)
    for me in learners:
        progress = me.wait_resource(IMG_EXERCISE, "submitted", timeout=60)
        assert progress["submission_count"] == 1
        module = me.wait_module(IMG_MODULE, 1, timeout=120)
        assert module["total_resources"] == 5
        events = db.collection(f"users/{me.uid}/progress_events").get()
        recorded = [e.to_dict() for e in events if e.to_dict()["action"] == "upload_recorded"]
        assert [(e["from_status"], e["to_status"]) for e in recorded] == [
            ("not_started", "submitted")
        ]


def test_one_learners_thirty_parallel_upload_urls_are_ten_granted_and_twenty_429(
    learner: Callable[[], Learner], db: Any
) -> None:
    me, other = learner(), learner()
    others_took: list[float] = []

    def ask(i: int) -> requests.Response:
        return me.ask(IMG_EXERCISE, "a.png", "image/png", 100)

    def quiet_neighbour() -> None:
        time.sleep(0.2)  # let the burst start first
        started = time.monotonic()
        reply = other.ask(IMG_PROJECT, "a.pdf", "application/pdf", 100)
        others_took.append(time.monotonic() - started)
        assert reply.status_code == 201, reply.text

    neighbour = threading.Thread(target=quiet_neighbour)
    neighbour.start()
    replies = at_once(30, ask)
    neighbour.join()
    codes = sorted(r.status_code for r in replies)
    assert codes == [201] * 10 + [429] * 20, [r.text for r in replies if r.status_code >= 500]
    for r in replies:
        if r.status_code == 429:
            assert 1 <= int(r.headers["Retry-After"]) <= 3600
            assert r.json()["error"]["code"] == "rate_limited"
    granted = [r.json() for r in replies if r.status_code == 201]
    assert sorted(g["attempt"] for g in granted) == list(range(1, 11))
    mine = db.collection("submissions").where(filter=FieldFilter("user_id", "==", me.uid)).get()
    assert len(mine) == 10
    stamps = db.document(f"rate_limits/{me.uid}_upload_url").get().to_dict()["stamps"]
    assert len(stamps) == 10
    # the other learner was served, not queued behind the burst (a generous bound: not a benchmark)
    assert others_took
    assert others_took[0] < 20


def test_five_instructors_approving_one_submission_at_once_decide_once(
    learner: Callable[[], Learner], api: Any, mint: Callable[..., str], db: Any, bridge: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_PROJECT, "v1.pdf", "application/pdf", PDF)
    sub = me.wait_status(grant["submission_id"], "uploaded")
    teachers = [unique("teacher") for _ in range(5)]
    tokens = [mint(t, admin=True) for t in teachers]
    review = api("review")

    def approve(i: int) -> requests.Response:
        return review.post(
            f"/admin/submissions/{grant['submission_id']}/review",
            token=tokens[i],
            json={
                "decision": "approve",
                "generation": sub["gcs_generation"],
                "grade": 80 + i,
                "comments": "",
            },
        )

    replies = at_once(5, approve)
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 409, 409, 409, 409], [r.text for r in replies]
    winner = next(i for i, r in enumerate(replies) if r.status_code == 200)
    stored = me.submission(grant["submission_id"])
    assert (stored["status"], stored["reviewed_by"], stored["grade"]) == (
        "approved",
        teachers[winner],
        80 + winner,
    )
    audits = [
        a.to_dict()
        for a in db.collection("audit_log")
        .where(filter=FieldFilter("submission_id", "==", grant["submission_id"]))
        .get()
        if a.to_dict()["action"] == "submission_reviewed"
    ]
    assert [a["actor"] for a in audits] == [teachers[winner]]
    note = wait_for(
        lambda: db.collection(f"users/{me.uid}/notifications").get(),
        timeout=60,
        what="the learner's notification",
    )
    bridge.wait_idle()
    assert [n.id for n in note] == [f"{grant['submission_id']}-approve"]
    assert len(db.collection(f"users/{me.uid}/notifications").get()) == 1
    assert me.progress(IMG_PROJECT)["status"] == "reviewed"


def test_a_review_of_a_file_that_changed_since_is_409(
    learner: Callable[[], Learner], api: Any, mint: Callable[..., str], cloud: dict[str, Any]
) -> None:
    me = learner()
    grant = me.url(IMG_EXERCISE, "a.png", "image/png", PNG + b"\x00" * 64)
    put = requests.put(grant["upload_url"], data=PNG, headers=grant["headers"], timeout=30)
    assert put.status_code == 200, put.text
    seen = me.wait_status(grant["submission_id"], "uploaded")
    # the learner uploads again, larger but within what was declared: still valid
    again = requests.put(
        grant["upload_url"], data=PNG + b"\x00" * 64, headers=grant["headers"], timeout=30
    )
    assert again.status_code == 200, again.text
    newer = wait_for(
        lambda: (
            (s := me.submission(grant["submission_id"]))["gcs_generation"] != seen["gcs_generation"]
            and s
        ),
        what="the second generation to be recorded",
    )
    assert (newer["status"], newer["size_bytes"]) == ("uploaded", len(PNG) + 64)
    teacher = mint(unique("teacher"), admin=True)
    review = api("review")
    path = f"/admin/submissions/{grant['submission_id']}/review"
    stale = review.post(
        path,
        token=teacher,
        json={"decision": "approve", "generation": seen["gcs_generation"], "grade": 90},
    )
    assert stale.status_code == 409, stale.text
    assert "changed since" in stale.json()["error"]["message"]
    assert me.submission(grant["submission_id"])["status"] == "uploaded"
    fresh = review.post(
        path,
        token=teacher,
        json={"decision": "approve", "generation": newer["gcs_generation"], "grade": 90},
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["gcs_generation"] == str(newer["gcs_generation"])


def test_one_finalize_event_delivered_five_times_at_once_is_recorded_once(
    learner: Callable[[], Learner], cloud: dict[str, Any], bridge: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    path = me.submission(grant["submission_id"])["gcs_path"]
    obj = wait_for(lambda: blob(cloud, path), what="the object to exist in the bucket")
    event = json.dumps(finalized_event(obj, cloud["bucket"]))
    url = cloud["functions"]["on_upload_finalized"]

    def deliver(_: int) -> tuple[int, float]:
        started = time.monotonic()
        status = requests.post(
            url,
            data=event,
            headers={"Content-Type": "application/cloudevents+json"},
            timeout=60,
        ).status_code
        return status, time.monotonic() - started

    results = at_once(5, deliver)  # while the bridge delivers the same object's event too
    assert [status for status, _ in results] == [200] * 5
    sub = me.wait_status(grant["submission_id"], "uploaded")
    bridge.wait_idle()
    assert me.submission(grant["submission_id"])["counted_generations"] == [obj.generation]
    assert sub["gcs_generation"] == obj.generation
    assert me.progress(IMG_EXERCISE)["submission_count"] == 1
    # quickly: no copy waited out a lock timeout (a generous deadline, not a benchmark)
    assert max(took for _, took in results) < 10, results


def test_a_delete_racing_reviews_and_expiry_ends_consistent(
    learner: Callable[[], Learner], api: Any, mint: Callable[..., str], cloud: dict[str, Any]
) -> None:
    me = learner()
    grant = me.upload(IMG_PROJECT, "v1.pdf", "application/pdf", PDF)
    sub = me.wait_status(grant["submission_id"], "uploaded")
    me.wait_resource(IMG_PROJECT, "submitted")
    sid = grant["submission_id"]
    review = api("review")
    teacher = mint(unique("teacher"), admin=True)
    expire_url = cloud["functions"]["task_expire_upload"]
    secret = task_headers(cloud, "task_expire_upload")

    def act(i: int) -> tuple[str, int]:
        if i == 0:
            return "delete", me.uploads.delete(
                f"/users/me/submissions/{sid}", token=me.token
            ).status_code
        if i < 4:
            body = {"decision": "approve", "generation": sub["gcs_generation"], "grade": 70}
            reply = review.post(f"/admin/submissions/{sid}/review", token=teacher, json=body)
            return "review", reply.status_code
        reply = requests.post(expire_url, json={"submission_id": sid}, headers=secret, timeout=60)
        return "expire", reply.status_code

    results = at_once(6, act)
    assert all(status < 500 for _, status in results), results
    approvals = [status for kind, status in results if kind == "review"]
    assert approvals.count(200) <= 1
    assert set(approvals) <= {200, 404, 409}
    final = me.submission(sid)
    progress = me.progress(IMG_PROJECT)
    index = me.db.document(f"users/{me.uid}/resource_submissions/{IMG_PROJECT}").get().to_dict()
    events = [e.to_dict() for e in me.db.collection(f"users/{me.uid}/progress_events").get()]
    assert progress["submission_count"] == 1
    if dict(results)["delete"] == 409:
        # an approval committed first: reviewed work is the record, the delete is refused
        assert approvals.count(200) == 1
        assert final["status"] == "approved"
        assert (progress["status"], index["submissions"][sid]["status"]) == ("reviewed", "approved")
        assert [e["action"] for e in events].count("submission_deleted") == 0
        assert events[-1]["to_status"] == "reviewed"
        return
    # the delete committed first: no approval can follow, nothing valid is left
    assert dict(results)["delete"] == 200
    assert approvals.count(200) == 0
    assert final["status"] == "deleted"
    assert final["reviewed_by"] is None
    assert (progress["status"], progress["completed_at"]) == ("in_progress", None)
    assert index["submissions"][sid]["status"] == "deleted"
    assert events[-1]["to_status"] == "in_progress"
    assert [e["action"] for e in events].count("submission_deleted") == 1
