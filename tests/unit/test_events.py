"""The one event decoder, on the real payloads of tests/fixtures, in JSON and protobuf."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from shared.errors import UnusableEvent
from shared.events import (
    decode_document_event,
    decode_storage_event,
    encode_document_event,
)

DB = "projects/project-id/databases/(default)"


def _event(whole: dict[str, Any], **overrides: Any) -> CloudEvent:
    attrs = {k: v for k, v in whole.items() if k != "data"}
    data = overrides.pop("data", whole.get("data"))
    attrs.update(overrides)
    return CloudEvent(attrs, data)


def test_firestore_json_fixture_decodes(real_fixture: Callable[[str], dict[str, Any]]) -> None:
    change = decode_document_event(_event(real_fixture("firestore_simple-cloudevent-input.json")))
    assert change.path == "gcf-test/2Vm2mI1d0wIaK2Waj5to"
    assert change.old == {"another test": "asd", "count": 3, "foo": "bar"}
    assert change.new == {"another test": "asd", "count": 4, "foo": "bar"}
    assert change.meta.id == "aaaaaa-1111-bbbb-2222-cccccccccccc"
    assert change.new_update_time == dt.datetime(2020, 4, 23, 12, 0, 27, 247187, tzinfo=dt.UTC)


def test_firestore_protobuf_form_of_the_fixture_decodes_the_same(
    real_fixture: Callable[[str], dict[str, Any]],
) -> None:
    from google.events.cloud.firestore_v1.types import DocumentEventData

    whole = real_fixture("firestore_simple-cloudevent-input.json")
    data_only = real_fixture("DocumentEventData-simple.json")
    as_proto = DocumentEventData.serialize(
        DocumentEventData.from_json(json.dumps(data_only), ignore_unknown_fields=True)
    )
    from_json = decode_document_event(_event(whole))
    from_proto = decode_document_event(
        _event(whole, data=as_proto, datacontenttype="application/protobuf")
    )
    assert (from_proto.path, from_proto.old, from_proto.new) == (
        from_json.path,
        from_json.old,
        from_json.new,
    )
    # Structured mode with base64 data (as some transports carry protobuf) decodes too.
    from_b64 = decode_document_event(
        _event(
            whole, data=base64.b64encode(as_proto).decode(), datacontenttype="application/protobuf"
        )
    )
    assert from_b64.new == from_json.new


def test_encoder_round_trips_every_value_kind() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    new = {
        "s": "x",
        "i": 7,
        "f": 1.5,
        "b": True,
        "n": None,
        "t": when,
        "a": [1, "two", {"three": 3}],
        "m": {"nested": {"deep": False}},
    }
    body = encode_document_event(
        database_name=DB,
        path="users/u/resource_progress/r",
        old=None,
        new=new,
        new_update_time=when,
    )
    change = decode_document_event(
        CloudEvent(
            {
                "type": "google.cloud.firestore.document.v1.written",
                "source": "//firestore.googleapis.com/" + DB,
                "subject": "documents/users/u/resource_progress/r",
                "datacontenttype": "application/protobuf",
            },
            body,
        )
    )
    assert change.old is None
    assert change.new == new
    assert change.segments == ["users", "u", "resource_progress", "r"]
    assert change.new_update_time == when


def test_deleted_document_has_old_value_only() -> None:
    body = encode_document_event(
        database_name=DB, path="users/u/module_progress/m", old={"x": 1}, new=None
    )
    change = decode_document_event(
        CloudEvent({"type": "google.cloud.firestore.document.v1.written", "source": "s"}, body)
    )
    assert (change.path, change.old, change.new) == ("users/u/module_progress/m", {"x": 1}, None)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\x00garbage-not-protobuf\x12\x99", "application/protobuf"),
        (b"{not json", "application/json"),
        (None, "application/json"),
        ("***", "application/protobuf"),
    ],
)
def test_undecodable_firestore_payloads_are_unusable(data: Any, content_type: str) -> None:
    event = CloudEvent(
        {
            "type": "google.cloud.firestore.document.v1.written",
            "source": "s",
            "datacontenttype": content_type,
        },
        data,
    )
    with pytest.raises(UnusableEvent):
        decode_document_event(event)


def test_wrong_event_type_is_unusable(real_fixture: Callable[[str], dict[str, Any]]) -> None:
    storage = _event(real_fixture("storage-cloudevent-input.json"))
    with pytest.raises(UnusableEvent):
        decode_document_event(storage)
    firestore = _event(real_fixture("firestore_simple-cloudevent-input.json"))
    with pytest.raises(UnusableEvent):
        decode_storage_event(firestore)


def test_storage_fixture_decodes(real_fixture: Callable[[str], dict[str, Any]]) -> None:
    obj = decode_storage_event(_event(real_fixture("storage-cloudevent-input.json")))
    assert (obj.bucket, obj.name, obj.generation, obj.size, obj.content_type) == (
        "some-bucket",
        "folder/Test.cs",
        1587627537231057,
        352,
        "text/plain",
    )
    data_only = real_fixture("StorageObjectData-simple.json")
    raw = decode_storage_event(
        CloudEvent(
            {"type": "google.cloud.storage.object.v1.finalized", "source": "s"},
            json.dumps(data_only).encode(),
        )
    )
    assert raw.name == obj.name


def test_storage_payload_without_name_is_unusable() -> None:
    with pytest.raises(UnusableEvent):
        decode_storage_event(
            CloudEvent(
                {"type": "google.cloud.storage.object.v1.finalized", "source": "s"}, {"x": 1}
            )
        )
