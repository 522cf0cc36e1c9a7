"""Submissions end to end against the local cloud (``make up``).

Bytes are really PUT through the signed URL (to the signature-verifying front of the storage
emulator); the event bridge turns the finished object into a ``finalized`` CloudEvent for
``on_upload_finalized``; state is awaited in Firestore with ``wait_for``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.events import STORAGE_FINALIZED
from tests.emulator.task_calls import task_headers
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"
PNG = (FILES / "sample.png").read_bytes()
PDF = (FILES / "sample.pdf").read_bytes()
MARKDOWN = (FILES / "notes.md").read_bytes()
SCRIPT = (FILES / "script.sh").read_bytes()

IMG_EXERCISE = "image-generation-m1-exercise"
IMG_PROJECT = "image-generation-m1-project"
PE_EXERCISE = "prompt-engineering-m1-exercise"


class Learner:
    """One learner's view of the uploads function, plus the helpers to upload and wait."""

    def __init__(self, uid: str, api: Any, mint: Callable[..., str], db: Any) -> None:
        self.uid = uid
        self.uploads = api("uploads")
        self.token = mint(uid)
        self.db = db

    def ask(self, resource_id: str, name: str, ctype: str, size: int) -> requests.Response:
        return self.uploads.post(
            f"/users/me/resources/{resource_id}/upload-url",
            token=self.token,
            json={"file_name": name, "content_type": ctype, "size_bytes": size},
        )

    def url(self, resource_id: str, name: str, ctype: str, data: bytes) -> dict[str, Any]:
        reply = self.ask(resource_id, name, ctype, len(data))
        assert reply.status_code == 201, reply.text
        body: dict[str, Any] = reply.json()
        return body

    def upload(self, resource_id: str, name: str, ctype: str, data: bytes) -> dict[str, Any]:
        grant = self.url(resource_id, name, ctype, data)
        put = requests.put(grant["upload_url"], data=data, headers=grant["headers"], timeout=30)
        assert put.status_code == 200, put.text
        return grant

    def submission(self, submission_id: str) -> dict[str, Any]:
        snap = self.db.collection("submissions").document(submission_id).get()
        data: dict[str, Any] = snap.to_dict() or {}
        return data

    def wait_status(self, submission_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: (s := self.submission(submission_id)).get("status") == status and s,
            timeout=timeout,
            what=f"submission {submission_id} to be {status}",
        )

    def progress(self, resource_id: str) -> dict[str, Any]:
        ref = self.db.document(f"users/{self.uid}/resource_progress/{resource_id}")
        data: dict[str, Any] = ref.get().to_dict() or {}
        return data

    def module(self, module_id: str) -> dict[str, Any]:
        ref = self.db.document(f"users/{self.uid}/module_progress/{module_id}")
        data: dict[str, Any] = ref.get().to_dict() or {}
        return data

    def wait_module(self, module_id: str, completed: int, timeout: float = 60) -> dict[str, Any]:
        """Wait for the progress triggers to count ``completed`` resources in the module."""
        return wait_for(
            lambda: (m := self.module(module_id)).get("completed_resources") == completed and m,
            timeout=timeout,
            what=f"{module_id} to count {completed} resource(s)",
        )

    def wait_resource(self, resource_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: (p := self.progress(resource_id)).get("status") == status and p,
            timeout=timeout,
            what=f"{resource_id} to be {status}",
        )


@pytest.fixture
def learner(api: Any, mint: Callable[..., str], db: Any) -> Callable[[], Learner]:
    return lambda: Learner(unique("u"), api, mint, db)


def blob(cloud: dict[str, Any], path: str) -> Any:
    from google.cloud import storage

    return storage.Client(project=cloud["project_id"]).bucket(cloud["bucket"]).get_blob(path)


# ---- recording real files --------------------------------------------------------------------


def test_real_png_pdf_and_markdown_upload_and_roll_up(
    learner: Callable[[], Learner], cloud: dict[str, Any], db: Any
) -> None:
    me = learner()
    grants = [
        (IMG_EXERCISE, me.upload(IMG_EXERCISE, "my image.png", "image/png", PNG), PNG),
        (IMG_PROJECT, me.upload(IMG_PROJECT, "report.pdf", "application/pdf", PDF), PDF),
        (PE_EXERCISE, me.upload(PE_EXERCISE, "notes.md", "text/markdown", MARKDOWN), MARKDOWN),
    ]
    for resource_id, grant, data in grants:
        sub = me.wait_status(grant["submission_id"], "uploaded")
        assert sub["attempt"] == 1
        assert sub["size_bytes"] == len(data)
        assert sub["gcs_generation"] == blob(cloud, sub["gcs_path"]).generation
        progress = wait_for(lambda r=resource_id: me.progress(r).get("submission_count") == 1)
        assert progress
        assert me.progress(resource_id)["status"] == "submitted"
        assert me.submission(grant["submission_id"])["file_name"] in {
            "my_image.png",
            "report.pdf",
            "notes.md",
        }
        # the owner lists and downloads exactly those bytes
        listed = me.uploads.get(f"/users/me/resources/{resource_id}/submissions", token=me.token)
        assert [s["submission_id"] for s in listed.json()["submissions"]] == [
            grant["submission_id"]
        ]
        link = me.uploads.get(
            f"/users/me/submissions/{grant['submission_id']}/download-url", token=me.token
        )
        assert link.status_code == 200, link.text
        assert requests.get(link.json()["download_url"], timeout=30).content == data

    # submission_count and status roll up to the modules (the progress triggers)
    def module(mid: str) -> dict[str, Any]:
        data: dict[str, Any] = (
            db.document(f"users/{me.uid}/module_progress/{mid}").get().to_dict() or {}
        )
        return data

    img = wait_for(
        lambda: (
            module("image-generation-m1").get("completed_resources") == 2
            and module("image-generation-m1")
        ),
        timeout=60,
        what="image-generation-m1 to count the exercise and the project",
    )
    assert img["total_resources"] == 5
    pe = wait_for(
        lambda: (
            module("prompt-engineering-m1").get("completed_resources") == 1
            and module("prompt-engineering-m1")
        ),
        timeout=60,
        what="prompt-engineering-m1 to count the exercise",
    )
    assert pe["total_resources"] == 5


def test_a_script_renamed_png_is_marked_invalid_and_removed(
    learner: Callable[[], Learner], cloud: dict[str, Any]
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "cute-cat.png", "image/png", SCRIPT)
    sub = me.wait_status(grant["submission_id"], "invalid")
    assert "image/png" in sub["invalid_reason"]
    wait_for(lambda: blob(cloud, sub["gcs_path"]) is None, what="the invalid object to be removed")
    assert me.progress(IMG_EXERCISE).get("submission_count", 0) == 0
    link = me.uploads.get(
        f"/users/me/submissions/{grant['submission_id']}/download-url", token=me.token
    )
    assert link.status_code == 409


def test_an_oversize_put_is_refused_by_the_signed_length_range(
    learner: Callable[[], Learner], bridge: Any
) -> None:
    me = learner()
    grant = me.url(IMG_EXERCISE, "small.png", "image/png", PNG)
    put = requests.put(
        grant["upload_url"], data=PNG + b"\x00" * 64, headers=grant["headers"], timeout=30
    )
    assert put.status_code == 400
    assert b"EntityTooLarge" in put.content
    bridge.wait_idle()
    assert me.submission(grant["submission_id"])["status"] == "pending_upload"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"file_name": "x.png", "content_type": "image/png", "size_bytes": 26 * 1024 * 1024}, 413),
        ({"file_name": "x.png", "content_type": "image/png", "size_bytes": 0}, 400),
        ({"file_name": "x.gif", "content_type": "image/gif", "size_bytes": 10}, 415),
        ({"file_name": "../x.png", "content_type": "image/png", "size_bytes": 10}, 400),
        ({"file_name": "x.pdf", "content_type": "image/png", "size_bytes": 10}, 400),
        ({"file_name": "x.png", "content_type": "image/png", "size_bytes": 10, "x": 1}, 400),
    ],
)
def test_refused_requests_store_nothing(
    learner: Callable[[], Learner], db: Any, body: dict[str, Any], status: int
) -> None:
    me = learner()
    reply = me.uploads.post(
        f"/users/me/resources/{IMG_EXERCISE}/upload-url", token=me.token, json=body
    )
    assert reply.status_code == status, reply.text
    assert "error" in reply.json()
    from google.cloud.firestore_v1.base_query import FieldFilter

    mine = db.collection("submissions").where(filter=FieldFilter("user_id", "==", me.uid)).get()
    assert list(mine) == []


def test_a_resource_without_upload_is_409(learner: Callable[[], Learner]) -> None:
    me = learner()
    assert me.ask("image-generation-m1-video", "x.png", "image/png", 10).status_code == 409


def test_the_eleventh_upload_url_in_an_hour_is_429_with_retry_after(
    learner: Callable[[], Learner],
) -> None:
    me = learner()
    for _ in range(10):
        assert me.ask(IMG_EXERCISE, "a.png", "image/png", 100).status_code == 201
    refused = me.ask(IMG_EXERCISE, "a.png", "image/png", 100)
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    # another learner is not affected
    assert learner().ask(IMG_EXERCISE, "a.png", "image/png", 100).status_code == 201


# ---- access ----------------------------------------------------------------------------------


def test_another_learner_cannot_list_download_or_delete(
    learner: Callable[[], Learner],
) -> None:
    alice, bob = learner(), learner()
    grant = alice.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    alice.wait_status(grant["submission_id"], "uploaded")
    sid = grant["submission_id"]
    listed = bob.uploads.get(f"/users/me/resources/{IMG_EXERCISE}/submissions", token=bob.token)
    assert listed.json()["submissions"] == []
    assert (
        bob.uploads.get(f"/users/me/submissions/{sid}/download-url", token=bob.token).status_code
        == 404
    )
    assert bob.uploads.delete(f"/users/me/submissions/{sid}", token=bob.token).status_code == 404
    assert alice.submission(sid)["status"] == "uploaded"
    assert alice.uploads.get(f"/users/me/submissions/{sid}/download-url").status_code == 401


def test_a_non_instructor_gets_403_on_review(
    learner: Callable[[], Learner], api: Any, mint: Callable[..., str]
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    me.wait_status(grant["submission_id"], "uploaded")
    review = api("review")
    assert review.get("/admin/submissions/pending", token=me.token).status_code == 403
    reply = review.post(
        f"/admin/submissions/{grant['submission_id']}/review",
        token=me.token,
        json={"decision": "approve", "grade": 100, "comments": ""},
    )
    assert reply.status_code == 403
    assert me.submission(grant["submission_id"])["status"] == "uploaded"


def test_the_owner_soft_deletes_and_the_object_is_kept(
    learner: Callable[[], Learner], cloud: dict[str, Any], db: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    sub = me.wait_status(grant["submission_id"], "uploaded")
    gone = me.uploads.delete(f"/users/me/submissions/{grant['submission_id']}", token=me.token)
    assert gone.status_code == 200
    assert me.submission(grant["submission_id"])["status"] == "deleted"
    assert blob(cloud, sub["gcs_path"]) is not None  # DELETE_REMOVES_OBJECT is false locally
    audit = db.document(f"audit_log/{grant['submission_id']}-submission_deleted").get().to_dict()
    assert audit["actor"] == me.uid


# ---- the resource status follows the learner's submissions ------------------------------------

IMG_MODULE = "image-generation-m1"


def test_deleting_the_only_upload_awaiting_review_takes_it_out_of_the_module(
    learner: Callable[[], Learner], bridge: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    me.wait_status(grant["submission_id"], "uploaded")
    submitted = me.wait_resource(IMG_EXERCISE, "submitted")
    assert submitted["completed_at"] is not None
    me.wait_module(IMG_MODULE, 1)

    gone = me.uploads.delete(f"/users/me/submissions/{grant['submission_id']}", token=me.token)
    assert gone.status_code == 200, gone.text
    progress = me.progress(IMG_EXERCISE)  # written in the delete's own transaction
    assert progress["status"] == "in_progress"
    assert progress["completed_at"] is None
    assert progress["submission_count"] == 1  # it counts recorded uploads
    module = me.wait_module(IMG_MODULE, 0)
    assert module["total_resources"] == 5
    bridge.wait_idle()
    assert me.module(IMG_MODULE)["completed_resources"] == 0
    assert me.progress(IMG_EXERCISE)["status"] == "in_progress"


def test_rejecting_an_older_attempt_keeps_the_newer_upload_submitted(
    learner: Callable[[], Learner], api: Any, mint: Callable[..., str], bridge: Any
) -> None:
    me = learner()
    teacher = mint(unique("teacher"), admin=True)
    review = api("review")
    older = me.upload(IMG_PROJECT, "v1.pdf", "application/pdf", PDF)
    me.wait_status(older["submission_id"], "uploaded")
    newer = me.upload(IMG_PROJECT, "v2.pdf", "application/pdf", PDF)
    assert newer["attempt"] == 2
    me.wait_status(newer["submission_id"], "uploaded")
    me.wait_module(IMG_MODULE, 1)

    def decide(submission_id: str, comments: str) -> None:
        reply = review.post(
            f"/admin/submissions/{submission_id}/review",
            token=teacher,
            json={
                "decision": "reject",
                "generation": me.submission(submission_id)["gcs_generation"],
                "grade": None,
                "comments": comments,
            },
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "rejected"

    decide(older["submission_id"], "Superseded by your second attempt.")
    assert me.progress(IMG_PROJECT)["status"] == "submitted"  # the newer one awaits review
    bridge.wait_idle()
    assert me.module(IMG_MODULE)["completed_resources"] == 1

    decide(newer["submission_id"], "Add the prompt you used.")
    progress = me.progress(IMG_PROJECT)
    assert (progress["status"], progress["completed_at"]) == ("in_progress", None)
    assert progress["submission_count"] == 2
    me.wait_module(IMG_MODULE, 0)


def test_an_invalid_overwrite_of_a_valid_upload_takes_it_out_of_the_module(
    learner: Callable[[], Learner], cloud: dict[str, Any], bridge: Any
) -> None:
    me = learner()
    # one URL big enough for either file: the learner PUTs a PNG, then a script over it
    grant = me.url(IMG_EXERCISE, "mine.png", "image/png", PNG + b"\x00" * len(SCRIPT))
    first = requests.put(grant["upload_url"], data=PNG, headers=grant["headers"], timeout=30)
    assert first.status_code == 200, first.text
    valid = me.wait_status(grant["submission_id"], "uploaded")
    me.wait_resource(IMG_EXERCISE, "submitted")
    me.wait_module(IMG_MODULE, 1)

    again = requests.put(grant["upload_url"], data=SCRIPT, headers=grant["headers"], timeout=30)
    assert again.status_code == 200, again.text
    invalid = me.wait_status(grant["submission_id"], "invalid")
    assert invalid["gcs_generation"] != valid["gcs_generation"]
    assert "image/png" in invalid["invalid_reason"]
    progress = me.progress(IMG_EXERCISE)  # written with the invalid verdict, in one transaction
    assert (progress["status"], progress["completed_at"]) == ("in_progress", None)
    assert progress["submission_count"] == 1  # only the valid generation was counted
    wait_for(lambda: blob(cloud, invalid["gcs_path"]) is None, what="the script to be removed")
    me.wait_module(IMG_MODULE, 0)
    bridge.wait_idle()
    assert me.module(IMG_MODULE)["completed_resources"] == 0


# ---- at-least-once delivery ------------------------------------------------------------------


def finalized_event(obj: Any, bucket: str) -> dict[str, Any]:
    """A structured-mode CloudEvent built from the stack's real object, as Eventarc sends it."""
    return {
        "specversion": "1.0",
        "type": STORAGE_FINALIZED,
        "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "subject": f"objects/{obj.name}",
        "id": unique("replay"),
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "bucket": bucket,
            "name": obj.name,
            "generation": str(obj.generation),
            "metageneration": str(obj.metageneration),
            "size": str(obj.size),
            "contentType": obj.content_type,
            "kind": "storage#object",
        },
    }


def test_the_same_finalized_event_five_times_counts_once(
    learner: Callable[[], Learner], cloud: dict[str, Any], bridge: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    sub = me.wait_status(grant["submission_id"], "uploaded")
    bridge.wait_idle()
    event = finalized_event(blob(cloud, sub["gcs_path"]), cloud["bucket"])
    url = cloud["functions"]["on_upload_finalized"]
    for _ in range(5):
        reply = requests.post(
            url,
            data=json.dumps(event),
            headers={"Content-Type": "application/cloudevents+json"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
    assert me.progress(IMG_EXERCISE)["submission_count"] == 1
    assert me.submission(grant["submission_id"])["counted_generations"] == [sub["gcs_generation"]]

    # a new generation, its event replayed five times at once while the bridge delivers it too:
    # the transaction, not only the fast path, keeps the count at one per generation
    put = requests.put(grant["upload_url"], data=PNG, headers=grant["headers"], timeout=30)
    assert put.status_code == 200
    fresh = finalized_event(blob(cloud, sub["gcs_path"]), cloud["bucket"])
    assert fresh["data"]["generation"] != str(sub["gcs_generation"])

    def replay(_: int) -> int:
        """Deliver until acknowledged, as Eventarc does: a 5xx (say, transaction contention
        that outlasted its attempts) is redelivered."""

        def deliver() -> int | None:
            status = requests.post(
                url,
                data=json.dumps(fresh),
                headers={"Content-Type": "application/cloudevents+json"},
                timeout=60,
            ).status_code
            assert status < 400 or status >= 500, status
            return status if status < 300 else None

        return wait_for(deliver, timeout=60, interval=0.2, what="the replay to be acknowledged")

    with ThreadPoolExecutor(max_workers=5) as pool:
        assert list(pool.map(replay, range(5))) == [200] * 5
    bridge.wait_idle()
    assert me.progress(IMG_EXERCISE)["submission_count"] == 2
    assert len(me.submission(grant["submission_id"])["counted_generations"]) == 2


def test_duplicate_delivery_by_the_bridge_counts_once(
    learner: Callable[[], Learner], bridge: Any
) -> None:
    bridge.configure(duplicate=True)
    me = learner()
    grant = me.upload(PE_EXERCISE, "notes.md", "text/markdown", MARKDOWN)
    me.wait_status(grant["submission_id"], "uploaded")
    bridge.wait_idle()
    assert me.progress(PE_EXERCISE)["submission_count"] == 1


def test_an_overwrite_through_the_same_url_is_a_new_generation(
    learner: Callable[[], Learner], cloud: dict[str, Any], bridge: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    first = me.wait_status(grant["submission_id"], "uploaded")
    again = requests.put(grant["upload_url"], data=PNG, headers=grant["headers"], timeout=30)
    assert again.status_code == 200
    second = wait_for(
        lambda: (
            (s := me.submission(grant["submission_id"]))["gcs_generation"]
            != first["gcs_generation"]
            and s
        ),
        what="the new generation to be recorded",
    )
    assert second["status"] == "uploaded"
    assert second["gcs_generation"] == blob(cloud, second["gcs_path"]).generation
    bridge.wait_idle()
    assert me.progress(IMG_EXERCISE)["submission_count"] == 2
    assert len(me.submission(grant["submission_id"])["counted_generations"]) == 2


# ---- Cloud Tasks -----------------------------------------------------------------------------


def test_an_unused_upload_url_is_expired_by_its_task_handler(
    learner: Callable[[], Learner], cloud: dict[str, Any]
) -> None:
    me = learner()
    grant = me.url(IMG_EXERCISE, "never.png", "image/png", PNG)
    url = cloud["functions"]["task_expire_upload"]
    body = {"submission_id": grant["submission_id"]}
    # without the queue's auth the handler refuses and changes nothing
    assert requests.post(url, json=body, timeout=30).status_code == 401
    wrong = requests.post(
        url,
        json=body,
        headers=task_headers(cloud, "task_expire_upload", audience_of="review"),
        timeout=30,
    )
    assert wrong.status_code == 403
    assert me.submission(grant["submission_id"])["status"] == "pending_upload"
    # the scheduled delivery, as the queue makes it
    secret = task_headers(cloud, "task_expire_upload")
    done = requests.post(url, json=body, headers=secret, timeout=30)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "expired"
    assert me.submission(grant["submission_id"])["status"] == "expired"
    again = requests.post(url, json=body, headers=secret, timeout=30)
    assert again.json()["outcome"] == "already expired"


def test_the_tasks_emulator_dispatches_a_scheduled_expiry(
    learner: Callable[[], Learner], cloud: dict[str, Any]
) -> None:
    me = learner()
    grant = me.url(IMG_EXERCISE, "never.png", "image/png", PNG)
    os.environ.update(
        {
            "FUNCTION_URL_TASK_EXPIRE_UPLOAD": cloud["functions"]["task_expire_upload"],
            "FUNCTION_REGION": cloud.get("region", "us-central1"),
        }
    )
    from shared.adapters import tasks
    from shared.config import settings

    settings.cache_clear()
    tasks.tasks_client.cache_clear()  # a client for this environment, forgotten afterwards
    try:
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        tasks.CloudTasksQueue().enqueue(
            "task_expire_upload",
            f"test-expire-{grant['submission_id']}",
            {"submission_id": grant["submission_id"]},
            at=at,
        )
        me.wait_status(grant["submission_id"], "expired", timeout=30)
    finally:
        tasks.tasks_client.cache_clear()


def test_reject_then_resubmit_as_attempt_two_then_approve(
    learner: Callable[[], Learner], api: Any, mint: Callable[..., str], db: Any
) -> None:
    me = learner()
    teacher = mint(unique("teacher"), admin=True)
    review = api("review")
    first = me.upload(IMG_PROJECT, "v1.pdf", "application/pdf", PDF)
    me.wait_status(first["submission_id"], "uploaded")

    # the queue, filtered by pathway, paginated by cursor, holds it
    def queued(pathway: str) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            params = {"pathway_id": pathway, "limit": 50, **({"cursor": cursor} if cursor else {})}
            page = review.get("/admin/submissions/pending", token=teacher, params=params)
            assert page.status_code == 200, page.text
            ids += [s["submission_id"] for s in page.json()["submissions"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return ids

    assert first["submission_id"] in queued("image-generation")
    assert first["submission_id"] not in queued("prompt-engineering")

    generation = me.submission(first["submission_id"])["gcs_generation"]
    rejected = review.post(
        f"/admin/submissions/{first['submission_id']}/review",
        token=teacher,
        json={
            "decision": "reject",
            "generation": generation,
            "grade": None,
            "comments": "Add the prompt you used.",
        },
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert me.progress(IMG_PROJECT)["status"] == "in_progress"
    twice = review.post(
        f"/admin/submissions/{first['submission_id']}/review",
        token=teacher,
        json={"decision": "approve", "generation": generation, "grade": 90, "comments": ""},
    )
    assert twice.status_code == 409

    second = me.upload(IMG_PROJECT, "v2.pdf", "application/pdf", PDF)
    assert second["attempt"] == 2
    me.wait_status(second["submission_id"], "uploaded")
    approved = review.post(
        f"/admin/submissions/{second['submission_id']}/review",
        token=teacher,
        json={
            "decision": "approve",
            "generation": me.submission(second["submission_id"])["gcs_generation"],
            "grade": 92,
            "comments": "Well done.",
        },
    )
    assert approved.status_code == 200, approved.text
    assert me.submission(second["submission_id"])["grade"] == 92
    assert me.progress(IMG_PROJECT)["status"] == "reviewed"
    assert me.progress(IMG_PROJECT)["submission_count"] == 2

    # the notification tasks ran through the tasks emulator
    def note(sid: str, decision: str) -> dict[str, Any] | None:
        ref = db.document(f"users/{me.uid}/notifications/{sid}-{decision}")
        data: dict[str, Any] | None = ref.get().to_dict()
        return data

    rejected_note = wait_for(lambda: note(first["submission_id"], "reject"), what="reject note")
    assert rejected_note["comments"] == "Add the prompt you used."
    approved_note = wait_for(lambda: note(second["submission_id"], "approve"), what="approve note")
    assert approved_note["grade"] == 92
    audit = db.document(f"audit_log/{second['submission_id']}-submission_reviewed").get().to_dict()
    assert audit["outcome"] == "approved"


def test_reevaluating_a_module_recomputes_its_learners(
    learner: Callable[[], Learner], cloud: dict[str, Any], db: Any
) -> None:
    me = learner()
    grant = me.upload(IMG_EXERCISE, "mine.png", "image/png", PNG)
    me.wait_status(grant["submission_id"], "uploaded")
    ref = db.document(f"users/{me.uid}/module_progress/image-generation-m1")
    wait_for(
        lambda: (ref.get().to_dict() or {}).get("completed_resources") == 1,
        timeout=60,
        what="the module rollup",
    )
    ref.update({"completed_resources": 0, "total_resources": 99})  # drifted from the catalog
    reply = requests.post(
        cloud["functions"]["task_reevaluate_learners"],
        json={"module_id": "image-generation-m1"},
        headers=task_headers(cloud, "task_reevaluate_learners"),
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["outcome"] == "started"  # a chained task_reconcile run walks the learners
    wait_for(
        lambda: (ref.get().to_dict() or {}).get("total_resources") == 5,
        timeout=120,
        what="the re-evaluation run to repair the module",
    )
    fixed = ref.get().to_dict()
    assert (fixed["completed_resources"], fixed["total_resources"]) == (1, 5)
