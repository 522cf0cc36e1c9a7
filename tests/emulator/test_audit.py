"""The audit log, read back: uploads, failed uploads, reviews and deletions each leave an entry with
actor, action, target ids and outcome (issue 5). Everything goes through HTTP and real signed PUTs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"
EXERCISE = "prompt-engineering-m1-exercise"
PROJECT = "prompt-engineering-m1-project"


def _upload(api: Any, token: str, resource_id: str, name: str, ctype: str, data: bytes) -> str:
    reply = api("uploads").post(
        f"/users/me/resources/{resource_id}/upload-url",
        token=token,
        json={"file_name": name, "content_type": ctype, "size_bytes": len(data)},
    )
    assert reply.status_code == 201, reply.text
    grant = reply.json()
    put = requests.put(grant["upload_url"], data=data, headers=grant["headers"], timeout=30)
    assert put.status_code == 200, put.text
    submission_id: str = grant["submission_id"]
    return submission_id


def test_audit_log_records_uploads_failures_reviews_and_deletions(
    api: Any, mint: Callable[..., str], db: Any
) -> None:
    uid = unique("audited")
    token = mint(uid)
    instructor_uid = unique("teacher")
    instructor = mint(instructor_uid, admin=True)

    good = _upload(
        api, token, EXERCISE, "notes.md", "text/markdown", (FILES / "notes.md").read_bytes()
    )
    bad = _upload(
        api, token, PROJECT, "diagram.png", "image/png", (FILES / "script.sh").read_bytes()
    )
    kept = _upload(
        api, token, PROJECT, "report.pdf", "application/pdf", (FILES / "sample.pdf").read_bytes()
    )

    def status(sid: str) -> str | None:
        data = db.document(f"submissions/{sid}").get().to_dict() or {}
        return data.get("status")

    wait_for(lambda: status(good) == "uploaded", what="the markdown upload to be recorded")
    wait_for(lambda: status(bad) == "invalid", what="the disguised script to be refused")
    wait_for(lambda: status(kept) == "uploaded", what="the PDF upload to be recorded")

    review = api("review").post(
        f"/admin/submissions/{good}/review",
        token=instructor,
        json={
            "decision": "approve",
            "generation": db.document(f"submissions/{good}").get().to_dict()["gcs_generation"],
            "grade": 88,
            "comments": "Clear and complete.",
        },
    )
    assert review.status_code == 200, review.text
    deleted = api("uploads").delete(f"/users/me/submissions/{kept}", token=token)
    assert deleted.status_code == 200, deleted.text

    def entries() -> list[dict[str, Any]]:
        docs = db.collection("audit_log").where(filter=FieldFilter("user_id", "==", uid)).stream()
        return [d.to_dict() for d in docs]

    wanted = {
        ("upload_recorded", good),
        ("upload_invalid", bad),
        ("submission_reviewed", good),
        ("submission_deleted", kept),
    }
    log = wait_for(
        lambda: (e := entries()) and wanted <= {(x["action"], x["submission_id"]) for x in e} and e,
        what="the four audit entries",
    )
    by_key = {(x["action"], x["submission_id"]): x for x in log}
    for action, sid in wanted:
        entry = by_key[(action, sid)]
        assert entry["user_id"] == uid
        assert entry["pathway_id"] == "prompt-engineering"
        assert entry["resource_id"] in (EXERCISE, PROJECT)
        assert entry["at"] is not None
    assert by_key[("upload_recorded", good)]["outcome"] == "ok"
    assert by_key[("upload_invalid", bad)]["outcome"] == "invalid"
    assert by_key[("submission_reviewed", good)]["actor"] == instructor_uid
    assert by_key[("submission_reviewed", good)]["outcome"] == "approved"
    assert by_key[("submission_deleted", kept)]["actor"] == uid
    assert by_key[("submission_deleted", kept)]["outcome"] == "deleted"
    # Nothing in an error reply or the audit log names another learner.
    assert all(x["user_id"] == uid for x in log)


def test_a_put_after_approval_is_removed_and_audited(
    api: Any, mint: Callable[..., str], db: Any, cloud: dict[str, Any]
) -> None:
    from google.cloud import storage

    uid = unique("late")
    token = mint(uid)
    png = (FILES / "sample.png").read_bytes()
    reply = api("uploads").post(
        f"/users/me/resources/{EXERCISE}/upload-url",
        token=token,
        json={"file_name": "sample.png", "content_type": "image/png", "size_bytes": len(png)},
    )
    grant = reply.json()
    sid = grant["submission_id"]
    assert requests.put(grant["upload_url"], data=png, headers=grant["headers"], timeout=30).ok

    def submission() -> dict[str, Any]:
        data: dict[str, Any] = db.document(f"submissions/{sid}").get().to_dict() or {}
        return data

    wait_for(lambda: submission().get("status") == "uploaded", what="the upload to be recorded")
    approve = api("review").post(
        f"/admin/submissions/{sid}/review",
        token=mint(unique("teacher"), admin=True),
        json={
            "decision": "approve",
            "generation": submission()["gcs_generation"],
            "grade": 95,
            "comments": "",
        },
    )
    assert approve.status_code == 200, approve.text
    # The URL is still valid for an hour: a second PUT lands in the bucket as a new generation.
    assert requests.put(grant["upload_url"], data=png, headers=grant["headers"], timeout=30).ok
    blob_path = submission()["gcs_path"]
    bucket = storage.Client(project=cloud["project_id"]).bucket(cloud["bucket"])

    def refused() -> list[dict[str, Any]]:
        docs = (
            db.collection("audit_log")
            .where(filter=FieldFilter("submission_id", "==", sid))
            .stream()
        )
        return [d.to_dict() for d in docs if d.to_dict()["action"] == "upload_refused"]

    entry = wait_for(refused, what="the late upload to be refused")[0]
    assert entry["outcome"] == "refused"
    wait_for(lambda: bucket.get_blob(blob_path) is None, what="the unvetted bytes to be removed")
    assert submission()["status"] == "approved"
    progress = db.document(f"users/{uid}/resource_progress/{EXERCISE}").get().to_dict()
    assert progress["status"] == "reviewed"
