"""The dashboard's triggers driven through functions-framework's own test client.

Events on paths they do not own, and undecodable payloads, are acknowledged with no emulator or
credentials in the environment and without building any dependency or client. A members document
event in protobuf (what production sends) builds the learner's row in the local cloud's Firestore
from the learner's existing progress, and the same event again changes nothing (marked ``cloud``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.events import encode_document_event
from tests.functions.test_rollup_triggers import DATABASE, binary
from tests.helpers import unique

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "dashboard.py")
TRIGGERS = ["on_dashboard_progress_written", "on_cohort_member_written"]
PID = "prompt-engineering"
RID = "prompt-engineering-m1-video"


def client(target: str) -> Any:
    return create_app(target, SOURCE, "cloudevent").test_client()  # type: ignore[no-untyped-call]


@pytest.mark.usefixtures("no_clients")
@pytest.mark.parametrize("target", TRIGGERS)
def test_foreign_and_deep_paths_are_acknowledged_without_any_client(target: str) -> None:
    c = client(target)
    for path in (
        "users/u1/module_progress/m1",
        "users/u1/resource_progress/r1/x/y",
        "cohorts/c1",
        "cohorts/c1/dashboard/p1/rows/u1",
        "cohorts/c1/live_counts/0",
        "cohorts/__c__/members/u1",
        "memberships/u1",
        "submissions/s1",
    ):
        pb = encode_document_event(database_name=DATABASE, path=path, old=None, new={"a": 1})
        reply = binary(c, pb, "application/protobuf", f"documents/{path}")
        assert reply.status_code in (200, 204), (path, reply.data)


@pytest.mark.usefixtures("no_clients")
@pytest.mark.parametrize("target", TRIGGERS)
@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"\xff\x00garbage", "application/protobuf"), (b"{not json", "application/json")],
)
def test_undecodable_payloads_are_acknowledged(target: str, data: bytes, content_type: str) -> None:
    reply = binary(client(target), data, content_type, "documents/cohorts/c1/members/u1")
    assert reply.status_code in (200, 204)


@pytest.mark.cloud
@pytest.mark.usefixtures("fresh_adapters")
def test_a_members_event_builds_the_row_from_existing_progress_once(db: Any) -> None:
    cid, uid = unique("cohort"), unique("u")
    db.document(f"users/{uid}/resource_progress/{RID}").set(
        {
            "resource_id": RID,
            "module_id": f"{PID}-m1",
            "pathway_id": PID,
            "status": "completed",
            "time_spent_minutes": 7,
            "updated_at": dt.datetime.now(dt.UTC),
        }
    )
    member = {
        "uid": uid,
        "cohort_id": cid,
        "pathway_ids": [PID],
        "joined_at": dt.datetime.now(dt.UTC),
    }
    db.document(f"cohorts/{cid}/members/{uid}").set(member)
    path = f"cohorts/{cid}/members/{uid}"
    pb = encode_document_event(database_name=DATABASE, path=path, old=None, new=member)
    c = client("on_cohort_member_written")
    assert binary(c, pb, "application/protobuf", f"documents/{path}").status_code in (200, 204)
    row_ref = db.document(f"cohorts/{cid}/dashboard/{PID}/rows/{uid}")
    row = row_ref.get()
    assert row.to_dict()["minutes"] == 7
    assert row.to_dict()["modules"] == {f"{PID}-m1": 20.0}
    counters = [
        d.to_dict() for d in db.collection(f"cohorts/{cid}/dashboard/{PID}/counters").stream()
    ]
    assert sum(d["learners"] for d in counters) == 1
    # the same event again: nothing written
    assert binary(
        c, pb, "application/protobuf", f"documents/{path}", event_id=unique("again")
    ).status_code in (200, 204)
    assert row_ref.get().update_time == row.update_time
    again = [d.to_dict() for d in db.collection(f"cohorts/{cid}/dashboard/{PID}/counters").stream()]
    assert again == counters
