"""``on_upload_finalized`` driven through functions-framework's own test client.

Real Storage CloudEvents (tests/fixtures, from functions-framework-conformance and
google-cloudevents) name a foreign bucket and a path outside the submission layout: the trigger must
acknowledge them (2xx) with no emulator or credentials in the environment, building no dependency
and no Firestore or Storage client. The same holds for a payload of this project's bucket whose
name is outside the layout, and for undecodable payloads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.events import STORAGE_FINALIZED

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "storage_trigger.py")


@pytest.fixture
def trigger(no_clients: Any) -> Any:
    app = create_app("on_upload_finalized", SOURCE, "cloudevent")  # type: ignore[no-untyped-call]
    return app.test_client()


def structured(client: Any, event: dict[str, Any]) -> Any:
    return client.post(
        "/", headers={"Content-Type": "application/cloudevents+json"}, data=json.dumps(event)
    )


def binary(client: Any, data: dict[str, Any], *, event_id: str = "ev-1") -> Any:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": STORAGE_FINALIZED,
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{data.get('bucket', 'x')}",
        "ce-subject": f"objects/{data.get('name', '')}",
        "Content-Type": "application/json",
    }
    return client.post("/", headers=headers, data=json.dumps(data))


def test_the_real_structured_event_of_a_foreign_bucket_is_acknowledged(
    trigger: Any, real_fixture: Any
) -> None:
    event = real_fixture("storage-cloudevent-input.json")
    assert event["data"]["bucket"] == "some-bucket"
    reply = structured(trigger, event)
    assert reply.status_code == 200


def test_the_real_object_data_in_binary_mode_is_acknowledged(
    trigger: Any, real_fixture: Any
) -> None:
    data = real_fixture("StorageObjectData-simple.json")
    assert binary(trigger, data).status_code == 200


def test_our_bucket_but_a_path_outside_the_layout_is_acknowledged(
    trigger: Any, real_fixture: Any
) -> None:
    data = {**real_fixture("StorageObjectData-simple.json"), "bucket": "demo-aibc-submissions"}
    assert binary(trigger, data).status_code == 200
    data["name"] = "pathways/p/users/u/resources/r/not-a-submission/2025-01-01_00-00-00_x.png"
    assert binary(trigger, data).status_code == 200


@pytest.mark.parametrize(
    "data", [{"bucket": "demo-aibc-submissions"}, {"name": "x"}, {"generation": "nope"}]
)
def test_undecodable_payloads_are_acknowledged(trigger: Any, data: dict[str, Any]) -> None:
    assert binary(trigger, data).status_code == 200
