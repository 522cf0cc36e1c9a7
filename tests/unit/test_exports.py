"""The exports' pure parts (rows, cells, statements) and the service over fakes of its ports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest

from shared.domain import exports as rows
from shared.domain.cohorts import Cohort
from shared.domain.identity import Caller
from shared.domain.models import (
    LearnerProfile,
    ModuleProgress,
    PathwayProgress,
    ResourceProgress,
    ResourceStatus,
    Submission,
    SubmissionStatus,
)
from shared.errors import NotFound, PermissionDenied
from shared.services import exports as service
from tests.unit.fakes import T0, FakeCatalog, FakeExportReads, FakeProfiles

BASE = "https://demo.web.app"
ADMIN = Caller("root", admin=True)
TEACHER = Caller("teach", instructor=True)
OTHER_TEACHER = Caller("other", instructor=True)
LEARNER = Caller("u1")


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---- cells and CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (True, "true"),
        (-3, -3),
        (12.5, 12.5),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_prefixed(
    value: Any, written: Any
) -> None:
    assert rows.cell(value) == written


def test_csv_quotes_commas_quotes_and_line_breaks_and_reads_back_the_same() -> None:
    tricky = ['Ann, "the" learner', "two\nlines", "=1+2", "ok"]
    text = rows.csv_text([tricky])
    assert text == '"Ann, ""the"" learner","two\nlines",\'=1+2,ok\r\n'
    assert parse(text) == [['Ann, "the" learner', "two\nlines", "'=1+2", "ok"]]


def test_times_are_utc_iso_to_the_second() -> None:
    at = dt.datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert rows.when(at) == "2026-03-04T03:06:07Z"
    assert rows.when(None) == ""


# ---- progress rows ------------------------------------------------------------------------------


def _catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add_pathway(
        "p1",
        {"m1": [("r1", False, False), ("r2", True, False)], "m2": [("r3", False, True)]},
    )
    catalog.add_pathway("p2", {"m9": [("r9", False, False)]})
    return catalog


def test_one_row_per_resource_in_catalog_order_with_module_and_pathway_columns() -> None:
    shape = service.shape(_catalog(), "p1")
    res = {
        "r1": ResourceProgress(
            resource_id="r1",
            pathway_id="p1",
            module_id="m1",
            status=ResourceStatus.completed,
            progress_percentage=100,
            time_spent_minutes=12,
            started_at=T0,
            completed_at=T0 + dt.timedelta(minutes=20),
            updated_at=T0 + dt.timedelta(minutes=20),
        )
    }
    mods = {"m1": ModuleProgress(module_id="m1", pathway_id="p1", percentage=50.0)}
    path = PathwayProgress(pathway_id="p1", percentage=0.0, resource_percentage=33.33)
    learner = rows.Learner("u1", "Ann", "ann@example.com")
    out = list(rows.progress_rows("c1", learner, shape, res, mods, path))
    assert len(out) == 3
    header = rows.PROGRESS_HEADER
    first = dict(zip(header, out[0], strict=True))
    assert first == {
        "cohort_id": "c1",
        "learner_uid": "u1",
        "learner_name": "Ann",
        "learner_email": "ann@example.com",
        "pathway_id": "p1",
        "pathway_title": "P1",
        "pathway_percentage": 0.0,
        "pathway_resource_percentage": 33.3,
        "pathway_completed_at": "",
        "module_id": "m1",
        "module_title": "m1",
        "module_percentage": 50.0,
        "module_completed_at": "",
        "resource_id": "r1",
        "resource_title": "r1",
        "resource_type": "article",
        "optional": False,
        "status": "completed",
        "progress_percentage": 100,
        "time_spent_minutes": 12,
        "submission_count": 0,
        "started_at": "2026-01-01T00:00:00Z",
        "completed_at": "2026-01-01T00:20:00Z",
        "last_activity_at": "2026-01-01T00:20:00Z",
    }
    untouched = dict(zip(header, out[2], strict=True))
    assert (untouched["resource_id"], untouched["module_id"]) == ("r3", "m2")
    assert (untouched["status"], untouched["module_percentage"]) == ("not_started", 0.0)
    assert untouched["optional"] is True


# ---- grade rows ---------------------------------------------------------------------------------


def _sub(uid: str, rid: str, attempt: int, status: SubmissionStatus, **more: Any) -> Submission:
    return Submission(
        submission_id=f"{uid}-{rid}-{attempt}",
        user_id=uid,
        resource_id=rid,
        module_id="m1",
        pathway_id="p1",
        attempt=attempt,
        file_name="work.pdf",
        content_type="application/pdf",
        size_bytes=10,
        gcs_bucket="b",
        gcs_path=f"{uid}/{rid}/{attempt}",
        status=status,
        **more,
    )


def test_a_grade_row_names_the_decision_only_once_reviewed() -> None:
    learner = rows.Learner("u1", None, None)
    reviewed = _sub(
        "u1",
        "r2",
        2,
        SubmissionStatus.approved,
        grade=90,
        reviewed_by="teach",
        reviewed_at=T0,
        review_comments="good",
        revision=1,
        revision_reason="regraded",
        uploaded_at=T0,
    )
    row = dict(zip(rows.GRADES_HEADER, rows.grade_row("c1", learner, reviewed, None), strict=True))
    assert (row["decision"], row["grade"], row["reviewer_uid"]) == ("approve", 90, "teach")
    assert (row["revision"], row["revision_reason"]) == (1, "regraded")
    assert row["reviewed_at"] == "2026-01-01T00:00:00Z"
    waiting = _sub("u1", "r2", 3, SubmissionStatus.uploaded)
    row = dict(zip(rows.GRADES_HEADER, rows.grade_row("c1", learner, waiting, None), strict=True))
    assert (row["decision"], row["grade"], row["reviewer_uid"]) == ("", None, None)


# ---- xAPI ---------------------------------------------------------------------------------------


def _event(action: str, to_status: str, **more: Any) -> dict[str, Any]:
    return {
        "action": action,
        "resource_id": "r1",
        "module_id": "m1",
        "pathway_id": "p1",
        "from_status": "not_started",
        "to_status": to_status,
        "progress_percentage": 40,
        "time_spent_minutes": 7,
        "at": T0,
        **more,
    }


@pytest.mark.parametrize(
    ("action", "to_status", "verb"),
    [
        ("start", "in_progress", "http://adlnet.gov/expapi/verbs/initialized"),
        ("update", "in_progress", "http://adlnet.gov/expapi/verbs/progressed"),
        ("complete", "completed", "http://adlnet.gov/expapi/verbs/completed"),
        ("submission_reviewed", "reviewed", "http://adlnet.gov/expapi/verbs/scored"),
        ("submission_revised", "in_progress", "http://adlnet.gov/expapi/verbs/scored"),
        ("upload_recorded", "submitted", "http://adlnet.gov/expapi/verbs/attempted"),
        ("uncomplete", "in_progress", f"{BASE}/xapi/verbs/reopened"),
    ],
)
def test_each_action_has_its_verb(action: str, to_status: str, verb: str) -> None:
    made = rows.statement("u1", "e1", _event(action, to_status), base=BASE)
    assert made["verb"]["id"] == verb


def test_a_statement_is_deterministic_and_names_the_learner_by_account_only() -> None:
    catalog = _catalog()
    resource = catalog.res["r1"]
    event = _event("submission_reviewed", "reviewed", submission_id="s1")
    one = rows.statement("u1", "20260101-r1-x", event, base=BASE, resource=resource)
    again = rows.statement("u1", "20260101-r1-x", dict(event), base=BASE, resource=resource)
    assert one == again
    assert uuid.UUID(one["id"]).version == 5
    assert one["id"] != rows.statement("u2", "20260101-r1-x", event, base=BASE)["id"]
    assert one["actor"] == {"objectType": "Agent", "account": {"homePage": BASE, "name": "u1"}}
    assert one["object"]["id"] == f"{BASE}/resources/r1"
    assert one["object"]["definition"]["name"] == {"en-US": "r1"}
    assert one["result"]["completion"] is True
    assert one["result"]["success"] is True
    assert one["result"]["duration"] == "PT7M"
    assert one["timestamp"] == "2026-01-01T00:00:00Z"
    assert one["context"]["contextActivities"]["grouping"][0]["id"] == f"{BASE}/pathways/p1"
    assert one["context"]["extensions"] == {f"{BASE}/xapi/extensions/submission_id": "s1"}
    json.dumps(one)  # serialisable as it stands


# ---- the service over fakes ---------------------------------------------------------------------


def _sources(page_size: int = 2, workers: int = 3) -> tuple[service.Sources, FakeExportReads]:
    reads = FakeExportReads()
    reads.state.cohorts["c1"] = Cohort(
        cohort_id="c1", name="Cohort", pathway_ids=["p1"], instructor_uids=["teach"]
    )
    profiles = FakeProfiles()
    for n in range(5):
        uid = f"u{n}"
        reads.enrol("c1", uid)
        profiles.docs[uid] = LearnerProfile(user_id=uid, display_name=f"=Name {n}", email=None)
    src = service.Sources(reads, profiles, _catalog(), BASE, page_size=page_size, workers=workers)
    return src, reads


def test_who_may_export() -> None:
    src, reads = _sources()
    assert service.authorize(ADMIN, "c1", reads).cohort_id == "c1"
    assert service.authorize(TEACHER, "c1", reads).cohort_id == "c1"
    with pytest.raises(NotFound):
        service.authorize(OTHER_TEACHER, "c1", reads)
    with pytest.raises(PermissionDenied):
        service.authorize(LEARNER, "c1", reads)
    with pytest.raises(NotFound):
        service.authorize(ADMIN, "nope", reads)
    with pytest.raises(NotFound):
        service.progress_export(ADMIN, "c1", service.ProgressQuery(pathway="p2"), src)


def test_the_progress_export_pages_through_every_member_in_order() -> None:
    src, reads = _sources(page_size=2)
    reads.progress["u3"] = {
        "r2": ResourceProgress(
            resource_id="r2", pathway_id="p1", module_id="m1", status=ResourceStatus.submitted
        )
    }
    export = service.progress_export(TEACHER, "c1", service.ProgressQuery(), src)
    assert export.filename == "c1-progress.csv"
    table = parse("".join(export.chunks))
    assert table[0] == list(rows.PROGRESS_HEADER)
    assert [r[1] for r in table[1:]] == [f"u{n}" for n in range(5) for _ in range(3)]
    assert {r[2] for r in table[1:]} == {f"'=Name {n}" for n in range(5)}
    u3 = [r for r in table[1:] if r[1] == "u3"]
    assert [r[17] for r in u3] == ["not_started", "submitted", "not_started"]
    assert reads.pages == 3  # 2 + 2 + 1: the last short page ends it


def test_the_grades_export_lists_every_attempt_of_the_cohorts_pathways() -> None:
    src, reads = _sources()
    reads.subs["u1"] = [
        _sub("u1", "r2", 2, SubmissionStatus.approved, grade=80, reviewed_by="teach"),
        _sub("u1", "r2", 1, SubmissionStatus.rejected, review_comments="redo"),
    ]
    other = _sub("u1", "r9", 1, SubmissionStatus.approved).model_copy(update={"pathway_id": "p2"})
    reads.subs["u1"].append(other)
    table = parse("".join(service.grades_export(ADMIN, "c1", service.GradesQuery(), src).chunks))
    assert table[0] == list(rows.GRADES_HEADER)
    body = [dict(zip(rows.GRADES_HEADER, r, strict=True)) for r in table[1:]]
    assert [(r["attempt"], r["decision"], r["grade"]) for r in body] == [
        ("1", "reject", ""),
        ("2", "approve", "80"),
    ]
    assert body[0]["resource_title"] == "r2"


def test_the_xapi_export_pages_events_and_keeps_the_pathway_asked_for() -> None:
    src, reads = _sources()
    reads.events["u2"] = {
        f"2026010{d}T000000000000Z-r1-start": _event("start", "in_progress") for d in (1, 2, 3)
    }
    reads.events["u2"]["20260104T000000000000Z-r9-start"] = _event(
        "start", "in_progress", pathway_id="p2", resource_id="r9"
    )
    lines = "".join(service.xapi_export(ADMIN, "c1", service.XapiQuery(), src).chunks)
    made = [json.loads(line) for line in lines.splitlines()]
    assert len(made) == 3
    assert len({m["id"] for m in made}) == 3
    since = service.XapiQuery(since=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    later = "".join(service.xapi_export(ADMIN, "c1", since, src).chunks).splitlines()
    assert [json.loads(x)["id"] for x in later] == [m["id"] for m in made[1:]]
