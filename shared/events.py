"""The one event decoder (and its encoder, with which tests build production-shaped payloads).

Firestore ``google.cloud.firestore.document.v1.written`` events carry ``DocumentEventData`` either as
``application/protobuf`` bytes (what production sends) or as ``application/json``; CloudEvents arrive
in binary or structured mode (functions-framework turns both into a ``CloudEvent``). Storage
``object.v1.finalized`` events carry ``StorageObjectData`` as JSON. Whatever cannot be decoded raises
:class:`~shared.errors.UnusableEvent`, which triggers acknowledge and drop.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from shared.errors import UnusableEvent

FIRESTORE_WRITTEN = "google.cloud.firestore.document.v1.written"
STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"


@dataclass(frozen=True)
class EventMeta:
    id: str
    type: str
    source: str
    subject: str
    time: dt.datetime | None


@dataclass(frozen=True)
class DocumentChange:
    """A decoded Firestore write. ``path`` is relative to the database, e.g. ``users/u/x/y``."""

    meta: EventMeta
    path: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    new_update_time: dt.datetime | None

    @property
    def segments(self) -> list[str]:
        return self.path.split("/")


@dataclass(frozen=True)
class StorageObject:
    meta: EventMeta
    bucket: str
    name: str
    generation: int
    size: int
    content_type: str | None


def _meta(event: Any) -> EventMeta:
    try:
        attrs = event.get_attributes() if hasattr(event, "get_attributes") else dict(event)
    except Exception:  # noqa: BLE001 - anything that is not a CloudEvent is unusable
        raise UnusableEvent("not a CloudEvent") from None
    raw_time = attrs.get("time")
    when: dt.datetime | None = None
    if isinstance(raw_time, str):
        try:
            when = dt.datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
        except ValueError:
            when = None
    return EventMeta(
        id=str(attrs.get("id", "")),
        type=str(attrs.get("type", "")),
        source=str(attrs.get("source", "")),
        subject=str(attrs.get("subject", "") or ""),
        time=when,
    )


def _data(event: Any) -> Any:
    return event.get_data() if hasattr(event, "get_data") else event.get("data")


def _content_type(event: Any) -> str:
    attrs = event.get_attributes() if hasattr(event, "get_attributes") else event
    return str(attrs.get("datacontenttype") or "application/json").lower()


# ---- Firestore --------------------------------------------------------------------------------


def decode_document_event(event: Any) -> DocumentChange:
    from google.events.cloud.firestore_v1.types import DocumentEventData

    meta = _meta(event)
    if meta.type and meta.type != FIRESTORE_WRITTEN:
        raise UnusableEvent(f"unexpected event type {meta.type}")
    data = _data(event)
    try:
        if isinstance(data, bytes | bytearray):
            if "json" in _content_type(event) and bytes(data).lstrip()[:1] == b"{":
                payload = DocumentEventData.from_json(bytes(data), ignore_unknown_fields=True)
            else:
                payload = DocumentEventData.deserialize(bytes(data))
        elif isinstance(data, dict):
            payload = DocumentEventData.from_json(json.dumps(data), ignore_unknown_fields=True)
        elif isinstance(data, str):
            payload = DocumentEventData.deserialize(base64.b64decode(data, validate=True))
        else:
            raise UnusableEvent("no Firestore payload")
    except UnusableEvent:
        raise
    except Exception as exc:  # noqa: BLE001 - the payload is garbage: acknowledge and drop
        raise UnusableEvent(f"undecodable Firestore payload ({type(exc).__name__})") from None
    pb = DocumentEventData.pb(payload)
    old = _fields(pb.old_value) if pb.HasField("old_value") else None
    new = _fields(pb.value) if pb.HasField("value") else None
    name = pb.value.name if pb.HasField("value") else pb.old_value.name
    path = _relative_path(name) or _subject_path(meta.subject)
    if not path:
        raise UnusableEvent("event names no document")
    update_time = None
    if pb.HasField("value") and pb.value.HasField("update_time"):
        update_time = pb.value.update_time.ToDatetime(tzinfo=dt.UTC)
    return DocumentChange(meta=meta, path=path, old=old, new=new, new_update_time=update_time)


def _relative_path(name: str) -> str:
    marker = "/documents/"
    return name.split(marker, 1)[1] if marker in name else ""


def _subject_path(subject: str) -> str:
    return subject[len("documents/") :] if subject.startswith("documents/") else ""


def _fields(document_pb: Any) -> dict[str, Any]:
    return {key: value_to_python(v) for key, v in document_pb.fields.items()}


def value_to_python(v: Any) -> Any:
    kind = v.WhichOneof("value_type")
    if kind is None or kind == "null_value":
        return None
    if kind == "timestamp_value":
        return v.timestamp_value.ToDatetime(tzinfo=dt.UTC)
    if kind == "array_value":
        return [value_to_python(x) for x in v.array_value.values]
    if kind == "map_value":
        return {k: value_to_python(x) for k, x in v.map_value.fields.items()}
    if kind == "geo_point_value":
        return (v.geo_point_value.latitude, v.geo_point_value.longitude)
    return getattr(v, kind)


def python_to_value(value: Any) -> Any:
    """A Python value (as the Firestore client returns it) as a ``google.events`` ``Value`` pb."""
    from google.events.cloud.firestore_v1.types import Value

    v = Value.pb(Value())
    if value is None:
        v.null_value = 0
    elif isinstance(value, bool):
        v.boolean_value = value
    elif isinstance(value, int):
        v.integer_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, str):
        v.string_value = value
    elif isinstance(value, bytes):
        v.bytes_value = value
    elif isinstance(value, dt.datetime):
        v.timestamp_value.FromDatetime(value.astimezone(dt.UTC).replace(tzinfo=None))
    elif isinstance(value, list | tuple):
        v.array_value.SetInParent()
        for item in value:
            v.array_value.values.append(python_to_value(item))
    elif isinstance(value, dict):
        v.map_value.SetInParent()
        for key, item in value.items():
            v.map_value.fields[key].CopyFrom(python_to_value(item))
    elif hasattr(value, "path") and hasattr(value, "_client"):  # DocumentReference
        v.reference_value = str(value.path)
    elif hasattr(value, "latitude"):
        v.geo_point_value.latitude = value.latitude
        v.geo_point_value.longitude = value.longitude
    else:
        v.string_value = str(value)
    return v


def encode_document_event(
    *,
    database_name: str,
    path: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    new_update_time: dt.datetime | None = None,
) -> bytes:
    """``DocumentEventData`` as protobuf bytes, as Eventarc delivers it (tests build events with it)."""
    from google.events.cloud.firestore_v1.types import DocumentEventData

    pb = DocumentEventData.pb(DocumentEventData())
    name = f"{database_name}/documents/{path}"
    for target, fields in ((pb.old_value, old), (pb.value, new)):
        if fields is None:
            continue
        target.name = name
        for key, item in fields.items():
            target.fields[key].CopyFrom(python_to_value(item))
    if new is not None and new_update_time is not None:
        pb.value.update_time.FromDatetime(new_update_time.astimezone(dt.UTC).replace(tzinfo=None))
    if old is not None and new is not None:
        pb.update_mask.field_paths.extend(
            sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        )
    return bytes(pb.SerializeToString())


# ---- Storage ----------------------------------------------------------------------------------


def decode_storage_event(event: Any) -> StorageObject:
    meta = _meta(event)
    if meta.type and meta.type != STORAGE_FINALIZED:
        raise UnusableEvent(f"unexpected event type {meta.type}")
    data = _data(event)
    try:
        if isinstance(data, bytes | bytearray):
            data = json.loads(bytes(data))
        if not isinstance(data, dict):
            raise UnusableEvent("no Storage payload")
        return StorageObject(
            meta=meta,
            bucket=str(data["bucket"]),
            name=str(data["name"]),
            generation=int(data.get("generation") or 0),
            size=int(data.get("size") or 0),
            content_type=data.get("contentType"),
        )
    except UnusableEvent:
        raise
    except (KeyError, TypeError, ValueError):
        raise UnusableEvent("undecodable Storage payload") from None
