"""``on_pathway_progress_written`` driven through functions-framework's own test client, with real
CloudEvent payloads: foreign paths and undecodable payloads are acknowledged without building any
dependency or client; this project's path issues, keeps and revokes certificates in the local
cloud's Firestore (marked ``cloud``): the same event five times, and twelve deliveries at once from
threads, leave exactly one live certificate.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.events import encode_document_event
from tests.functions.test_rollup_triggers import DATABASE, binary, structured
from tests.helpers import unique

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "certificate_trigger.py")
TARGET = "on_pathway_progress_written"
PID = "prompt-engineering"


def client() -> Any:
    return create_app(TARGET, SOURCE, "cloudevent").test_client()  # type: ignore[no-untyped-call]


def post(c: Any, path: str, new: dict[str, Any] | None, event_id: str | None = None) -> Any:
    pb = encode_document_event(database_name=DATABASE, path=path, old=None, new=new)
    return binary(c, pb, "application/protobuf", f"documents/{path}", event_id=event_id)


@pytest.mark.usefixtures("no_clients")
def test_foreign_paths_and_undecodable_payloads_are_acknowledged(real_fixture: Any) -> None:
    c = client()
    assert structured(c, real_fixture("firestore_simple-cloudevent-input.json")).status_code in (
        200,
        204,
    )
    for path in (
        "users/u1/module_progress/m1",
        "users/u1/pathway_progress/p1/x/y",
        "users/__x__/pathway_progress/p1",
        "certificates/c1",
    ):
        assert post(c, path, {"percentage": 100.0}).status_code in (200, 204)
    reply = binary(
        c, b"\xff\x00garbage", "application/protobuf", "documents/users/u/pathway_progress/p"
    )
    assert reply.status_code in (200, 204)


def _complete(db: Any, uid: str, at: dt.datetime) -> dict[str, Any]:
    data = {
        "pathway_id": PID,
        "completed_modules": 1,
        "total_modules": 1,
        "percentage": 100.0,
        "completed_at": at,
    }
    db.document(f"users/{uid}/pathway_progress/{PID}").set(data)
    return data


def _live(db: Any, uid: str) -> list[str]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = db.collection("certificates").where(filter=FieldFilter("uid", "==", uid))
    return [s.id for s in query.stream() if s.to_dict()["revoked_at"] is None]


@pytest.mark.cloud
@pytest.mark.usefixtures("fresh_adapters")
def test_duplicates_and_concurrent_deliveries_issue_one_certificate(db: Any) -> None:
    uid = unique("u")
    db.document(f"users/{uid}").set({"display_name": "Grace Hopper"})
    data = _complete(db, uid, dt.datetime.now(dt.UTC))
    path = f"users/{uid}/pathway_progress/{PID}"
    c = client()
    for _ in range(5):  # the same event five times
        assert post(c, path, data, event_id="same").status_code in (200, 204)
    first = _live(db, uid)
    assert len(first) == 1
    cert = db.document(f"certificates/{first[0]}").get().to_dict()
    assert (cert["display_name"], cert["pathway_title"], cert["status"]) == (
        "Grace Hopper",
        "Prompt Engineering",
        "valid",
    )

    # a second learner: twelve deliveries at once from threads (each its own test client)
    other = unique("u")
    data = _complete(db, other, dt.datetime.now(dt.UTC))
    replies: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: replies.append(
                post(client(), f"users/{other}/pathway_progress/{PID}", data).status_code
            )
        )
        for _ in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(replies)) in ([200], [204], [200, 204])
    live = _live(db, other)
    assert len(live) == 1
    assert (
        db.document(f"users/{other}/certificates/{PID}").get().to_dict()["certificate_id"]
        == (live[0])
    )


@pytest.mark.cloud
@pytest.mark.usefixtures("fresh_adapters")
def test_the_stored_progress_decides_not_the_payload(db: Any) -> None:
    uid = unique("u")
    path = f"users/{uid}/pathway_progress/{PID}"
    stale_complete = {
        "pathway_id": PID,
        "percentage": 100.0,
        "completed_at": dt.datetime.now(dt.UTC),
    }
    db.document(path).set({"pathway_id": PID, "percentage": 50.0, "completed_at": None})
    assert post(client(), path, stale_complete).status_code in (200, 204)
    assert db.document(f"users/{uid}/certificates/{PID}").get().exists is False

    data = _complete(db, uid, dt.datetime.now(dt.UTC))
    assert post(client(), path, {"percentage": 0.0}).status_code in (
        200,
        204,
    )  # stale the other way
    (cid,) = _live(db, uid)
    db.document(path).set({**data, "percentage": 50.0, "completed_at": None})
    assert post(client(), path, data).status_code in (200, 204)  # a late "complete" event
    assert _live(db, uid) == []
    cert = db.document(f"certificates/{cid}").get().to_dict()
    assert cert["status"] == "revoked"
    assert cert["revoked_at"] is not None
