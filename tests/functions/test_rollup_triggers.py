"""The rollup triggers driven through functions-framework's own test client.

Real CloudEvent payloads (tests/fixtures) on foreign paths, and undecodable ones, are acknowledged
with no emulator or credentials in the environment and without building any dependency or client; this project's paths, as protobuf and JSON, in binary and structured mode, recompute the
rollups in the local cloud's Firestore (those tests are marked ``cloud``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.events import FIRESTORE_WRITTEN, encode_document_event
from tests.helpers import unique

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "rollups.py")
DATABASE = "projects/demo-aibc/databases/(default)"
TRIGGERS = ["on_resource_progress_written", "on_module_progress_written"]


def client(target: str) -> Any:
    return create_app(target, SOURCE, "cloudevent").test_client()  # type: ignore[no-untyped-call]


def binary(
    c: Any, data: bytes, content_type: str, subject: str, event_id: str | None = None
) -> Any:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id or unique("ev"),
        "ce-type": FIRESTORE_WRITTEN,
        "ce-source": f"//firestore.googleapis.com/{DATABASE}",
        "ce-subject": subject,
        "ce-time": dt.datetime.now(dt.UTC).isoformat(),
        "Content-Type": content_type,
    }
    return c.post("/", headers=headers, data=data)


def structured(c: Any, event: dict[str, Any]) -> Any:
    return c.post(
        "/", headers={"Content-Type": "application/cloudevents+json"}, data=json.dumps(event)
    )


def structured_protobuf(c: Any, data: bytes, subject: str) -> Any:
    return structured(
        c,
        {
            "specversion": "1.0",
            "id": unique("ev"),
            "type": FIRESTORE_WRITTEN,
            "source": f"//firestore.googleapis.com/{DATABASE}",
            "subject": subject,
            "datacontenttype": "application/protobuf",
            "data_base64": base64.b64encode(data).decode(),
        },
    )


def protobuf_from_json_fixture(data: dict[str, Any]) -> bytes:
    from google.events.cloud.firestore_v1.types import DocumentEventData

    payload = DocumentEventData.from_json(json.dumps(data), ignore_unknown_fields=True)
    return bytes(DocumentEventData.serialize(payload))


# ---- foreign and unusable events: 2xx, no repository touched -----------------------------------


@pytest.mark.usefixtures("no_clients")
@pytest.mark.parametrize("target", TRIGGERS)
def test_real_structured_fixture_on_a_foreign_path_is_acknowledged(
    target: str, real_fixture: Any
) -> None:
    reply = structured(client(target), real_fixture("firestore_simple-cloudevent-input.json"))
    assert reply.status_code in (200, 204)


@pytest.mark.usefixtures("no_clients")
@pytest.mark.parametrize("target", TRIGGERS)
def test_real_data_fixture_as_json_and_protobuf_on_a_foreign_path(
    target: str, real_fixture: Any
) -> None:
    data = real_fixture("DocumentEventData-simple.json")
    subject = "documents/gcf-test/2Vm2mI1d0wIaK2Waj5to"
    c = client(target)
    assert binary(c, json.dumps(data).encode(), "application/json", subject).status_code in (
        200,
        204,
    )
    pb = protobuf_from_json_fixture(data)
    assert binary(c, pb, "application/protobuf", subject).status_code in (200, 204)
    assert structured_protobuf(c, pb, subject).status_code in (200, 204)


@pytest.mark.usefixtures("no_clients")
@pytest.mark.parametrize("target", TRIGGERS)
def test_other_users_collections_and_deep_paths_are_acknowledged(target: str) -> None:
    c = client(target)
    for path in (
        "users/u1/progress_events/e1",
        "users/u1/pathway_progress/prompt-engineering",
        "users/u1/resource_progress/r1/x/y",
        "submissions/s1",
    ):
        pb = encode_document_event(database_name=DATABASE, path=path, old=None, new={"a": 1})
        assert binary(c, pb, "application/protobuf", f"documents/{path}").status_code in (200, 204)


@pytest.mark.usefixtures("no_clients")
@pytest.mark.parametrize("target", TRIGGERS)
@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\x00garbage", "application/protobuf"),
        (b"{not json", "application/json"),
        (b"", "application/protobuf"),
    ],
)
def test_undecodable_payloads_are_acknowledged(target: str, data: bytes, content_type: str) -> None:
    reply = binary(client(target), data, content_type, "documents/users/u1/resource_progress/r1")
    assert reply.status_code in (200, 204)


# ---- this project's paths, against the local cloud's Firestore ---------------------------------

RID = "prompt-engineering-m1-video"
MID = "prompt-engineering-m1"
PID = "prompt-engineering"


def _resource_doc(status: str) -> dict[str, Any]:
    return {
        "resource_id": RID,
        "module_id": MID,
        "pathway_id": PID,
        "status": status,
        "submission_count": 0,
    }


def _seed_completed(db: Any, uid: str) -> None:
    db.document(f"users/{uid}/resource_progress/{RID}").set(_resource_doc("completed"))


@pytest.mark.cloud
@pytest.mark.usefixtures("fresh_adapters")
@pytest.mark.parametrize(
    "mode", ["protobuf-binary", "protobuf-structured", "json-binary", "json-structured"]
)
def test_own_path_recomputes_the_module_in_every_encoding(db: Any, mode: str) -> None:
    uid = unique("u")
    _seed_completed(db, uid)
    path = f"users/{uid}/resource_progress/{RID}"
    subject = f"documents/{path}"
    # the event's payload is stale on purpose: the trigger must read the document, not trust it
    old, new = None, _resource_doc("in_progress")
    c = client("on_resource_progress_written")
    pb = encode_document_event(database_name=DATABASE, path=path, old=old, new=new)
    if mode == "protobuf-binary":
        reply = binary(c, pb, "application/protobuf", subject)
    elif mode == "protobuf-structured":
        reply = structured_protobuf(c, pb, subject)
    else:
        from google.events.cloud.firestore_v1.types import DocumentEventData

        as_json = json.loads(DocumentEventData.to_json(DocumentEventData.deserialize(pb)))
        if mode == "json-binary":
            reply = binary(c, json.dumps(as_json).encode(), "application/json", subject)
        else:
            reply = structured(
                c,
                {
                    "specversion": "1.0",
                    "id": unique("ev"),
                    "type": FIRESTORE_WRITTEN,
                    "source": f"//firestore.googleapis.com/{DATABASE}",
                    "subject": subject,
                    "datacontenttype": "application/json",
                    "data": as_json,
                },
            )
    assert reply.status_code in (200, 204), reply.data
    module = db.document(f"users/{uid}/module_progress/{MID}").get().to_dict()
    assert module["completed_resources"] == 1
    assert module["total_resources"] == 5
    assert module["percentage"] == 20.0
    assert module["completed_at"] is None


@pytest.mark.cloud
@pytest.mark.usefixtures("fresh_adapters")
def test_module_event_recomputes_the_pathway_and_duplicates_change_nothing(db: Any) -> None:
    uid = unique("u")
    _seed_completed(db, uid)
    rpath = f"users/{uid}/resource_progress/{RID}"
    rpb = encode_document_event(
        database_name=DATABASE, path=rpath, old=None, new=_resource_doc("completed")
    )
    assert binary(
        client("on_resource_progress_written"), rpb, "application/protobuf", f"documents/{rpath}"
    ).status_code in (200, 204)
    mpath = f"users/{uid}/module_progress/{MID}"
    module = db.document(mpath).get().to_dict()
    mpb = encode_document_event(database_name=DATABASE, path=mpath, old=None, new=module)
    c = client("on_module_progress_written")
    for _ in range(5):  # the same event, five times
        reply = binary(c, mpb, "application/protobuf", f"documents/{mpath}", event_id="same-id")
        assert reply.status_code in (200, 204)
    snap = db.document(f"users/{uid}/pathway_progress/{PID}").get()
    pathway = snap.to_dict()
    assert (pathway["completed_modules"], pathway["total_modules"]) == (0, 1)
    assert (pathway["completed_resources"], pathway["total_resources"]) == (1, 5)
    assert pathway["resource_percentage"] == 20.0
    first_update = snap.update_time
    reply = binary(c, mpb, "application/protobuf", f"documents/{mpath}")
    assert reply.status_code in (200, 204)
    assert db.document(f"users/{uid}/pathway_progress/{PID}").get().update_time == first_update


@pytest.mark.cloud
@pytest.mark.usefixtures("fresh_adapters")
def test_foreign_path_in_the_real_database_writes_nothing(db: Any, real_fixture: Any) -> None:
    uid = unique("u")
    event = real_fixture("firestore_simple-cloudevent-input.json")
    path = f"users/{uid}/notes/n1"
    event = {**event, "subject": f"documents/{path}"}
    for target in TRIGGERS:
        assert structured(client(target), event).status_code in (200, 204)
        pb = encode_document_event(database_name=DATABASE, path=path, old=None, new={"x": 1})
        assert binary(
            client(target), pb, "application/protobuf", f"documents/{path}"
        ).status_code in (
            200,
            204,
        )
    user = db.document(f"users/{uid}")
    assert [c.id for c in user.collections()] == []
    assert list(db.collection("gcf-test").limit(1).stream()) == []
