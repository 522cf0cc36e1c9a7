"""The recent decisions list (``review.decided_queue``) over the fakes: order, paging, fields."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.domain.identity import Caller
from shared.domain.models import Submission, SubmissionStatus
from shared.errors import InvalidArgument
from shared.services import review
from tests.unit.fakes import T0, FakeCatalog, FakeProfiles, FakeStore

ADMIN = Caller("root", admin=True)


def _sub(n: int, status: SubmissionStatus, minutes: int) -> Submission:
    return Submission(
        submission_id=f"s{n}",
        user_id=f"u{n}",
        resource_id="r2",
        module_id="m1",
        pathway_id="p1",
        attempt=1,
        file_name="a.pdf",
        content_type="application/pdf",
        size_bytes=1,
        gcs_bucket="b",
        gcs_path=f"p/{n}",
        status=status,
        reviewed_by="teach",
        reviewed_at=T0 + dt.timedelta(minutes=minutes),
        grade=n,
        revision=n % 2,
        instructor_uids=["teach"] if n % 2 == 0 else ["other"],
    )


def test_the_latest_decision_comes_first_a_page_at_a_time() -> None:
    store = FakeStore()
    for n, (status, minutes) in enumerate(
        [
            (SubmissionStatus.approved, 5),
            (SubmissionStatus.approved, 9),
            (SubmissionStatus.rejected, 20),
            (SubmissionStatus.approved, 1),
            (SubmissionStatus.uploaded, 30),
        ]
    ):
        store.state.submissions[f"s{n}"] = _sub(n, status, minutes)
    catalog, profiles = FakeCatalog(), FakeProfiles()
    catalog.add_pathway("p1", {"m1": [("r2", True, False)]})
    first = review.decided_queue(
        ADMIN, review.DecidedQuery(limit=2), store=store, profiles=profiles, catalog=catalog
    )
    assert [i.submission_id for i in first.submissions] == ["s1", "s0"]
    assert [(i.grade, i.revision, i.reviewed_by) for i in first.submissions] == [
        (1, 1, "teach"),
        (0, 0, "teach"),
    ]
    assert first.submissions[0].resource_title == "r2"
    assert first.next_cursor is not None
    rest = review.decided_queue(
        ADMIN,
        review.DecidedQuery(limit=2, cursor=first.next_cursor),
        store=store,
        profiles=profiles,
        catalog=catalog,
    )
    assert [i.submission_id for i in rest.submissions] == ["s3"]
    assert rest.next_cursor is None
    rejected = review.decided_queue(
        ADMIN,
        review.DecidedQuery(status="rejected"),
        store=store,
        profiles=profiles,
        catalog=catalog,
    )
    assert [i.submission_id for i in rejected.submissions] == ["s2"]
    with pytest.raises(InvalidArgument):
        review.decided_queue(
            ADMIN, review.DecidedQuery(cursor="x"), store=store, profiles=profiles, catalog=catalog
        )


def test_an_instructor_sees_the_decisions_on_their_own_learners_only() -> None:
    store = FakeStore()
    for n in range(4):
        store.state.submissions[f"s{n}"] = _sub(n, SubmissionStatus.approved, n)
    catalog, profiles = FakeCatalog(), FakeProfiles()
    catalog.add_pathway("p1", {"m1": [("r2", True, False)]})
    mine = review.decided_queue(
        Caller("teach", instructor=True),
        review.DecidedQuery(),
        store=store,
        profiles=profiles,
        catalog=catalog,
    )
    assert [i.submission_id for i in mine.submissions] == ["s2", "s0"]
    everyone = review.decided_queue(
        ADMIN, review.DecidedQuery(), store=store, profiles=profiles, catalog=catalog
    )
    assert [i.submission_id for i in everyone.submissions] == ["s3", "s2", "s1", "s0"]
