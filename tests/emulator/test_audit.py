"""The audit log, read back: uploads, failed uploads, reviews and deletions each leave an entry with
actor, action, target ids and outcome (issue 5). Everything goes through HTTP and real signed PUTs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

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
    instructor = mint(instructor_uid, instructor=True)

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
        json={"decision": "approve", "grade": 88, "comments": "Clear and complete."},
    )
    assert review.status_code == 200, review.text
    deleted = api("uploads").delete(f"/users/me/submissions/{kept}", token=token)
    assert deleted.status_code == 200, deleted.text

    def entries() -> list[dict[str, Any]]:
        docs = db.collection("audit_log").where("user_id", "==", uid).stream()
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
