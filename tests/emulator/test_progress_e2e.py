"""Progress end to end on the local cloud: HTTP functions, Firestore, the event bridge, the triggers.

Every test uses fresh learner uids, so the tests can run in any order and in parallel. Uploads of the
exercise and project are recorded directly in Firestore (the fields the upload flow writes:
``status: submitted``, ``submission_count``, ``updated_at``).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from shared.events import FIRESTORE_WRITTEN, encode_document_event
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

PID = "prompt-engineering"
MID = f"{PID}-m1"
VIDEO, ARTICLE, EXERCISE, QUIZ, PROJECT = (
    f"{MID}-{kind}" for kind in ("video", "article", "exercise", "quiz", "project")
)
DATABASE = "projects/demo-aibc/databases/(default)"
# generous deadlines: the local cloud's event transport slows down a lot when the machine is busy
SETTLE = 60.0


def ok(reply: requests.Response) -> dict[str, Any]:
    assert reply.status_code == 200, (reply.status_code, reply.text)
    data: dict[str, Any] = reply.json()
    return data


def record_upload(db: Any, uid: str, rid: str) -> None:
    db.document(f"users/{uid}/resource_progress/{rid}").set(
        {"status": "submitted", "submission_count": 1, "updated_at": dt.datetime.now(dt.UTC)},
        merge=True,
    )


def doc(db: Any, path: str) -> dict[str, Any] | None:
    snap = db.document(path).get()
    return snap.to_dict() if snap.exists else None


def module_doc(db: Any, uid: str) -> dict[str, Any] | None:
    return doc(db, f"users/{uid}/module_progress/{MID}")


def pathway_doc(db: Any, uid: str) -> dict[str, Any] | None:
    return doc(db, f"users/{uid}/pathway_progress/{PID}")


def wait_module(db: Any, uid: str, done: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        m = module_doc(db, uid)
        return m if m and m["completed_resources"] == done else None

    return wait_for(probe, what=f"module of {uid} at {done} resources", timeout=SETTLE)


def wait_pathway(db: Any, uid: str, done_resources: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        p = pathway_doc(db, uid)
        return p if p and p["completed_resources"] == done_resources else None

    return wait_for(probe, what=f"pathway of {uid} at {done_resources} resources", timeout=SETTLE)


def wait_pathway_completed(db: Any, uid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        p = pathway_doc(db, uid)
        return p if p and p["completed_at"] is not None else None

    return wait_for(probe, what=f"pathway of {uid} completed", timeout=SETTLE)


def events_of(db: Any, uid: str) -> list[dict[str, Any]]:
    return [s.to_dict() for s in db.collection(f"users/{uid}/progress_events").stream()]


# ---- the happy path ----------------------------------------------------------------------------


def test_completing_the_pathway_rolls_up_and_uncomplete_rolls_back(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str]
) -> None:
    uid = unique("learner")
    token = mint(uid)
    progress = api("progress")
    for rid in (VIDEO, ARTICLE, QUIZ):
        assert ok(progress.post(f"/users/me/resources/{rid}/start", token=token))["status"] == (
            "in_progress"
        )
        body = {"progress_percentage": 60, "time_spent_minutes": 4}
        assert (
            ok(progress.put(f"/users/me/resources/{rid}/progress", token=token, json=body))[
                "time_spent_minutes"
            ]
            == 4
        )
        done = ok(progress.post(f"/api/v1/users/me/resources/{rid}/complete", token=token))
        assert done["status"] == "completed"
        assert done["completed_at"] is not None
    # the exercise and project cannot be completed by hand before an upload...
    assert progress.post(f"/users/me/resources/{EXERCISE}/complete", token=token).status_code == 409
    # ...they count once the upload flow records one
    record_upload(db, uid, EXERCISE)
    record_upload(db, uid, PROJECT)

    module = wait_module(db, uid, 5)
    assert (module["total_resources"], module["percentage"]) == (5, 100.0)
    assert module["completed_at"] is not None
    pathway = wait_pathway_completed(db, uid)
    assert (pathway["completed_modules"], pathway["total_modules"]) == (1, 1)
    assert (pathway["percentage"], pathway["resource_percentage"]) == (100.0, 100.0)

    report = ok(progress.get(f"/users/me/progress/{PID}", token=token))
    assert report["percentage"] == 100.0
    assert report["completed_at"] is not None
    assert [r["resource_id"] for r in report["modules"][0]["resources"]] == [
        VIDEO,
        ARTICLE,
        EXERCISE,
        QUIZ,
        PROJECT,
    ]
    statuses = [r["status"] for r in report["modules"][0]["resources"]]
    assert statuses == ["completed", "completed", "submitted", "completed", "submitted"]

    back = ok(progress.post(f"/users/me/resources/{QUIZ}/uncomplete", token=token))
    assert back["status"] == "in_progress"
    assert back["completed_at"] is None
    module = wait_module(db, uid, 4)
    assert module["percentage"] == 80.0
    assert module["completed_at"] is None
    pathway = wait_pathway(db, uid, 4)
    assert (pathway["completed_modules"], pathway["percentage"]) == (0, 0.0)
    assert pathway["resource_percentage"] == 80.0
    assert pathway["completed_at"] is None
    # history is kept: 3 x (start, update, complete) + the un-complete
    actions = sorted(e["action"] for e in events_of(db, uid))
    assert actions == sorted(["start", "update", "complete"] * 3 + ["uncomplete"])

    listing = ok(api("resources").get(f"/modules/{MID}/resources", token=token))
    assert [r["status"] for r in listing["resources"]] == [
        "completed",
        "completed",
        "submitted",
        "in_progress",
        "submitted",
    ]
    anonymous = ok(api("resources").get(f"/pathways/{PID}/resources"))
    assert all("status" not in r for m in anonymous["modules"] for r in m["resources"])


# ---- at least once, out of order ---------------------------------------------------------------


def _post_event(
    url: str, path: str, new: dict[str, Any] | None, old: dict[str, Any] | None, event_id: str
) -> None:
    body = encode_document_event(database_name=DATABASE, path=path, old=old, new=new)
    reply = requests.post(
        url,
        data=body,
        headers={
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-type": FIRESTORE_WRITTEN,
            "ce-source": f"//firestore.googleapis.com/{DATABASE}",
            "ce-subject": f"documents/{path}",
            "Content-Type": "application/protobuf",
        },
        timeout=30,
    )
    assert reply.status_code in (200, 204), reply.text


def _state(db: Any, uid: str) -> tuple[Any, ...]:
    m = db.document(f"users/{uid}/module_progress/{MID}").get()
    p = db.document(f"users/{uid}/pathway_progress/{PID}").get()
    return (m.to_dict(), m.update_time, p.to_dict(), p.update_time)


def test_duplicates_from_the_bridge_and_five_identical_posts_leave_identical_state(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], bridge: Any, cloud: dict[str, Any]
) -> None:
    bridge.configure(duplicate=True)
    uid = unique("dup")
    token = mint(uid)
    progress = api("progress")
    for rid in (VIDEO, ARTICLE):
        ok(progress.post(f"/users/me/resources/{rid}/complete", token=token))
    record_upload(db, uid, EXERCISE)
    wait_pathway(db, uid, 3)
    bridge.wait_idle(timeout=SETTLE)
    before = _state(db, uid)
    assert before[0]["completed_resources"] == 3
    assert before[2]["completed_resources"] == 3

    rpath = f"users/{uid}/resource_progress/{VIDEO}"
    mpath = f"users/{uid}/module_progress/{MID}"
    video = doc(db, rpath)
    event_id = str(uuid.uuid4())
    for _ in range(5):
        _post_event(
            cloud["functions"]["on_resource_progress_written"], rpath, video, None, event_id
        )
        _post_event(
            cloud["functions"]["on_module_progress_written"], mpath, before[0], None, event_id
        )
    bridge.wait_idle(timeout=SETTLE)
    assert _state(db, uid) == before


def test_events_of_one_resource_in_reverse_order_end_at_the_latest_document(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], bridge: Any, cloud: dict[str, Any]
) -> None:
    uid = unique("rev")
    token = mint(uid)
    progress = api("progress")
    path = f"users/{uid}/resource_progress/{VIDEO}"
    versions: list[dict[str, Any]] = []
    for action in ("start", "complete", "uncomplete"):
        ok(progress.post(f"/users/me/resources/{VIDEO}/{action}", token=token))
        versions.append(doc(db, path) or {})
    bridge.wait_idle(timeout=SETTLE)
    assert [v["status"] for v in versions] == ["in_progress", "completed", "in_progress"]
    # (None -> v0), (v0 -> v1), (v1 -> v2), delivered newest first: the last one delivered claims
    # the resource is merely started, the one before it that it is completed
    olds: list[dict[str, Any] | None] = [None, versions[0], versions[1]]
    url = cloud["functions"]["on_resource_progress_written"]
    for i in reversed(range(3)):
        _post_event(url, path, versions[i], olds[i], str(uuid.uuid4()))
    # and an old "completed" event arriving very late
    _post_event(url, path, versions[1], versions[0], str(uuid.uuid4()))
    bridge.wait_idle(timeout=SETTLE)
    module = module_doc(db, uid)
    assert module is not None
    assert module["completed_resources"] == 0
    assert module["completed_at"] is None
    # the latest document is the truth: complete it again and the module follows
    ok(progress.post(f"/users/me/resources/{VIDEO}/complete", token=token))
    assert wait_module(db, uid, 1)["percentage"] == 20.0


# ---- concurrency -------------------------------------------------------------------------------


class ModuleWatcher:
    """Every snapshot of one module_progress document, from a Firestore listener."""

    def __init__(self, db: Any, uid: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        ref = db.document(f"users/{uid}/module_progress/{MID}")
        self.watch = ref.on_snapshot(self._on)

    def _on(self, snaps: list[Any], _changes: Any, _time: Any) -> None:
        with self.lock:
            self.seen += [s.to_dict() for s in snaps if s.exists]

    def completed_ats(self) -> set[Any]:
        with self.lock:
            return {s["completed_at"] for s in self.seen if s.get("completed_at") is not None}

    def close(self) -> None:
        self.watch.unsubscribe()


@pytest.mark.parametrize("round_", range(20))
def test_two_learner_threads_finishing_a_module_complete_it_exactly_once(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], round_: int
) -> None:
    uid = unique(f"race{round_}")
    token = mint(uid)
    progress = api("progress")
    record_upload(db, uid, EXERCISE)
    record_upload(db, uid, PROJECT)
    ok(progress.post(f"/users/me/resources/{VIDEO}/complete", token=token))
    wait_module(db, uid, 3)
    watcher = ModuleWatcher(db, uid)
    try:
        barrier = threading.Barrier(2)
        replies: dict[str, int] = {}

        def finish(rid: str) -> None:
            session = api("progress")
            barrier.wait()
            replies[rid] = session.post(
                f"/users/me/resources/{rid}/complete", token=token
            ).status_code

        threads = [threading.Thread(target=finish, args=(rid,)) for rid in (ARTICLE, QUIZ)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert replies == {ARTICLE: 200, QUIZ: 200}
        module = wait_module(db, uid, 5)
        pathway = wait_pathway_completed(db, uid)
        assert (pathway["completed_modules"], pathway["completed_resources"]) == (1, 5)
        assert (pathway["total_modules"], pathway["total_resources"]) == (1, 5)
        wait_for(
            lambda: watcher.completed_ats(), what="the listener saw the completion", timeout=SETTLE
        )
        assert watcher.completed_ats() == {module["completed_at"]}
    finally:
        watcher.close()
    completes = [e for e in events_of(db, uid) if e["action"] == "complete"]
    assert sorted(e["resource_id"] for e in completes) == sorted([VIDEO, ARTICLE, QUIZ])


# ---- bad input ---------------------------------------------------------------------------------


def _untouched(db: Any, uid: str) -> bool:
    return [c.id for c in db.document(f"users/{uid}").collections()] == []


def test_bad_input_is_refused_and_writes_nothing(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str]
) -> None:
    uid = unique("bad")
    token = mint(uid)
    progress = api("progress")
    put = f"/users/me/resources/{VIDEO}/progress"

    def code(reply: requests.Response) -> tuple[int, str]:
        return reply.status_code, reply.json()["error"]["code"]

    invalid = [
        {"progress_percentage": 50, "time_spent_minutes": 1, "status": "completed"},
        {"progress_percentage": 101},
        {"progress_percentage": -1},
        {"progress_percentage": 50, "time_spent_minutes": -5},
        {"progress_percentage": 50, "time_spent_minutes": 100_000},
        {"progress_percentage": "50"},
        {},
    ]
    for body in invalid:
        assert code(progress.put(put, token=token, json=body)) == (400, "invalid_argument"), body
    assert code(progress.put(put, token=token, data=b"[1, 2]")) == (400, "invalid_argument")
    assert code(progress.put(put, token=token, data=b"{not json")) == (400, "invalid_argument")

    for method, path in (
        ("POST", "/users/me/resources/no-such-resource/start"),
        ("POST", "/users/me/resources/no-such-resource/complete"),
        ("POST", "/users/me/resources/no-such-resource/uncomplete"),
        ("GET", "/users/me/resources/no-such-resource/progress"),
        ("GET", "/users/me/progress/no-such-pathway"),
        ("POST", "/users/me/resources/__reserved__/start"),
    ):
        assert code(progress.call(method, path, token=token)) == (404, "not_found"), path
    assert code(
        progress.put(
            "/users/me/resources/no-such-resource/progress",
            token=token,
            json={"progress_percentage": 1},
        )
    ) == (404, "not_found")

    # state transitions that are not allowed
    assert code(progress.post(f"/users/me/resources/{VIDEO}/uncomplete", token=token)) == (
        409,
        "failed_precondition",
    )
    assert code(progress.post(f"/users/me/resources/{PROJECT}/complete", token=token)) == (
        409,
        "failed_precondition",
    )

    # another learner's data has no route at all
    victim = unique("victim")
    ok(api("progress").post(f"/users/me/resources/{VIDEO}/start", token=mint(victim)))
    for method, path in (
        ("POST", f"/users/{victim}/resources/{VIDEO}/complete"),
        ("GET", f"/users/{victim}/progress/{PID}"),
        ("GET", f"/users/{victim}/resources/{VIDEO}/progress"),
    ):
        assert code(progress.call(method, path, token=token)) == (404, "not_found")
    assert doc(db, f"users/{victim}/resource_progress/{VIDEO}")["status"] == "in_progress"  # type: ignore[index]

    # missing, expired and forged tokens
    stranger = unique("stranger")
    bad_tokens = {
        "missing": None,
        "expired": mint(stranger, expires_in=-120),
        "other project": mint(stranger, audience="someone-elses-project"),
        "other issuer": mint(stranger, issuer="https://evil.example.com/demo-aibc"),
        "garbage": "not-a-jwt",
    }
    for name, bad in bad_tokens.items():
        for method, path in (
            ("POST", f"/users/me/resources/{VIDEO}/start"),
            ("POST", f"/users/me/resources/{VIDEO}/complete"),
            ("GET", f"/users/me/progress/{PID}"),
        ):
            assert code(progress.call(method, path, token=bad)) == (401, "unauthenticated"), name
        if bad is not None:  # optional auth: a bad token is still 401, never anonymous
            reply = api("resources").get(f"/pathways/{PID}/resources", token=bad)
            assert code(reply) == (401, "unauthenticated"), name

    assert _untouched(db, uid)
    assert _untouched(db, stranger)
