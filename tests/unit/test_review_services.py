"""Review with context, revising a decision, bulk approval and learner profiles, against the fakes
of the ports (no I/O): assert on state and on how many documents were read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.identity import Caller
from shared.domain.models import LearnerProfile, ResourceStatus, SubmissionStatus
from shared.errors import Conflict, InvalidArgument, NotFound
from shared.services import review as review_service
from shared.services import tasks as task_service
from shared.services.profiles import ProfileKeeper
from tests.unit.fakes import FakeProfiles
from tests.unit.test_uploads_services import ALICE, BOB, PNG, TEACHER, World

OTHER_TEACHER = Caller("teacher2", instructor=True)


@pytest.fixture
def w() -> World:
    return World()


def uploaded(w: World, me: Caller = ALICE) -> str:
    reply = w.issue(me=me)
    w.tick(seconds=1)
    w.record(w.upload(reply, PNG))
    return reply.submission_id


def bulk(w: World, ids: list[str], me: Caller = TEACHER, **kw: Any) -> Any:
    known = w.store.state.submissions
    items = [
        {"submission_id": i, "generation": str((i in known and known[i].gcs_generation) or 1)}
        for i in ids
    ]
    req = review_service.BulkApproveRequest.model_validate({"submissions": items, **kw})
    return review_service.bulk_approve(me, req, store=w.store, tasks=w.tasks, now=w.now)


def audits(w: World, sid: str) -> list[str]:
    return sorted(k for k in w.store.state.audit if k.startswith(sid))


# ---- the queue with context --------------------------------------------------------------------


def test_a_queue_item_shows_the_learner_titles_attempt_and_earlier_decisions(w: World) -> None:
    w.profiles.put_profile(
        LearnerProfile(user_id="alice", display_name="Alice Liddell", email="alice@example.com")
    )
    first = uploaded(w)
    w.review(first, "reject", comments="Show your prompt.", grade=40)
    second = uploaded(w)
    w.review(second, "reject", comments="Closer.", grade=60)
    expired = w.issue().submission_id  # never uploaded: not an attempt worth showing
    w.store.state.submissions[expired] = w.sub(expired).model_copy(
        update={"status": SubmissionStatus.expired}
    )
    third = uploaded(w)
    page = w.queue()
    [item] = page.submissions
    assert (item.submission_id, item.attempt) == (third, 4)
    assert (item.learner_name, item.learner_email) == ("Alice Liddell", "alice@example.com")
    assert (item.resource_title, item.module_title, item.pathway_title) == (
        "ex",
        "image-generation-m1",
        "Image-Generation",
    )
    assert [
        (e.submission_id, e.attempt, e.status, e.grade, e.review_comments)
        for e in item.earlier_attempts
    ] == [
        (second, 2, SubmissionStatus.rejected, 60, "Closer."),
        (first, 1, SubmissionStatus.rejected, 40, "Show your prompt."),
    ]
    assert item.earlier_attempts_total == 2
    assert all(e.reviewed_by == TEACHER.uid for e in item.earlier_attempts)


def test_the_queue_reads_a_bounded_number_of_documents_by_key(w: World) -> None:
    # one learner with many rejected attempts, and a page of several learners
    for _ in range(review_service.MAX_EARLIER + 3):
        sid = uploaded(w)
        w.review(sid, "reject", comments="again")
    latest = uploaded(w)
    others = [uploaded(w, me=Caller(f"learner{i}")) for i in range(4)]
    reads_before = w.store.key_reads
    page = w.queue(limit=3)
    assert w.store.queries == 1
    item = next(i for i in page.submissions if i.submission_id == latest)
    assert len(item.earlier_attempts) == review_service.MAX_EARLIER
    assert item.earlier_attempts_total == review_service.MAX_EARLIER + 3
    assert [e.attempt for e in item.earlier_attempts] == list(range(8, 3, -1))  # newest first
    # indexes of the page (3) + at most MAX_EARLIER earlier submissions per item
    assert w.store.key_reads - reads_before <= 3 + 3 * review_service.MAX_EARLIER
    assert w.profiles.reads <= 3
    assert {i.submission_id for i in page.submissions} <= {latest, *others}
    with pytest.raises(ValidationError):
        review_service.PendingQuery(limit=review_service.MAX_PAGE + 1)


def test_the_queue_filters_by_pathway_module_and_resource(w: World) -> None:
    sid = uploaded(w)
    for kw in (
        {"pathway_id": "image-generation"},
        {"module_id": "image-generation-m1"},
        {"resource_id": "ex"},
        {"pathway_id": "image-generation", "module_id": "image-generation-m1", "resource_id": "ex"},
    ):
        assert [i.submission_id for i in w.queue(**kw).submissions] == [sid], kw
    for kw in ({"module_id": "other-m1"}, {"resource_id": "other"}):
        assert w.queue(**kw).submissions == [], kw
    queries = w.store.queries
    # filters that cannot all hold: an empty page without a query
    assert w.queue(resource_id="ex", pathway_id="prompt-engineering").submissions == []
    assert w.queue(resource_id="ex", module_id="other-m1").submissions == []
    assert w.queue(module_id="image-generation-m1", pathway_id="other").submissions == []
    assert w.store.queries == queries


def test_an_item_without_a_profile_or_catalog_entry_still_shows(w: World) -> None:
    sid = uploaded(w, me=BOB)
    del w.catalog.res["ex"]
    [item] = w.queue().submissions
    assert (item.submission_id, item.learner_name, item.resource_title) == (sid, None, None)
    assert item.earlier_attempts == []


# ---- deleting reviewed work ---------------------------------------------------------------------


def test_a_learner_may_still_delete_work_nobody_reviewed(w: World) -> None:
    pending = w.issue().submission_id
    waiting = uploaded(w)
    assert w.delete(pending).status == SubmissionStatus.deleted
    assert w.delete(waiting).status == SubmissionStatus.deleted


# ---- revising a decision ------------------------------------------------------------------------


def test_a_revised_rejection_takes_the_resource_back_and_is_audited_and_notified(w: World) -> None:
    sid = uploaded(w)
    w.review(sid, "approve", grade=90)
    assert w.progress().status == ResourceStatus.reviewed
    w.tick(minutes=5)
    view = w.revise(sid, "reject", comments="This is someone else's image.", reason="plagiarism")
    assert (view.status, view.revision, view.revision_reason) == (
        SubmissionStatus.rejected,
        1,
        "plagiarism",
    )
    assert (w.progress().status, w.progress().completed_at) == (ResourceStatus.in_progress, None)
    entry = w.store.state.audit[f"{sid}-submission_revised-r1"]
    assert (entry.outcome, entry.details["previous_status"], entry.details["reason"]) == (
        "rejected",
        "approved",
        "plagiarism",
    )
    assert entry.details["previous_grade"] == 90
    assert f"notify-{sid}-revision-1" in w.tasks.queued
    # revised back: approved again, a second revision, audited and notified on its own
    w.tick(minutes=5)
    w.revise(sid, "approve", grade=75, reason="the learner showed their work")
    assert w.progress().status == ResourceStatus.reviewed
    assert audits(w, sid) == [
        f"{sid}-submission_reviewed",
        f"{sid}-submission_revised-r1",
        f"{sid}-submission_revised-r2",
        f"{sid}-upload_recorded-{w.sub(sid).gcs_generation}",
        f"{sid}-upload_url_issued",
    ]
    assert {f"notify-{sid}-revision-1", f"notify-{sid}-revision-2"} <= set(w.tasks.queued)


def test_a_revision_names_the_revision_it_saw(w: World) -> None:
    sid = uploaded(w)
    w.review(sid, "approve", grade=90)
    w.revise(sid, "approve", grade=80, revision=0, reason="rubric")
    before = (w.sub(sid), dict(w.store.state.audit), dict(w.tasks.queued))
    with pytest.raises(Conflict, match="revised since revision 0"):
        w.revise(sid, "approve", grade=70, revision=0, me=OTHER_TEACHER, reason="rubric too")
    assert (w.sub(sid), w.store.state.audit, w.tasks.queued) == before


def test_the_same_revision_sent_again_writes_and_notifies_nothing(w: World) -> None:
    sid = uploaded(w)
    w.review(sid, "approve", grade=90)
    first = w.revise(sid, "reject", revision=0, comments="Wrong file.", reason="mix-up")
    state = (w.sub(sid), dict(w.store.state.audit), dict(w.store.state.events))
    w.tasks.queued.clear()
    again = w.revise(sid, "reject", revision=0, comments="Wrong file.", reason="mix-up")
    assert again == first
    assert (w.sub(sid), w.store.state.audit, w.store.state.events) == state
    assert w.tasks.queued == {}
    # the same revision number with another content, or from another instructor, is a conflict
    with pytest.raises(Conflict):
        w.revise(sid, "reject", revision=0, comments="Wrong file!", reason="mix-up")
    with pytest.raises(Conflict):
        w.revise(
            sid, "reject", revision=0, comments="Wrong file.", reason="mix-up", me=OTHER_TEACHER
        )


def test_only_a_decision_can_be_revised(w: World) -> None:
    sid = uploaded(w)
    with pytest.raises(Conflict, match="review it first"):
        w.revise(sid, "approve")
    with pytest.raises(NotFound):
        w.revise("f" * 32, "approve")
    w.review(sid, "approve")
    with pytest.raises(InvalidArgument, match="rejection needs comments"):
        w.revise(sid, "reject")
    with pytest.raises(ValidationError):
        review_service.ReviseRequest(decision="approve", revision=0, reason="   ")
    with pytest.raises(ValidationError):
        review_service.ReviseRequest.model_validate({"decision": "approve", "revision": 0})


def test_the_learner_is_notified_once_per_revision(w: World) -> None:
    sid = uploaded(w)
    w.review(sid, "approve", grade=90)
    w.revise(sid, "reject", comments="Wrong file.", reason="mixed up two learners")
    note = task_service.NotifyLearner(submission_id=sid, decision="reject", revision=1)
    assert task_service.notify_learner(note, store=w.store, now=w.now).outcome == "notified"
    assert task_service.notify_learner(note, store=w.store, now=w.now).outcome == "already notified"
    stored = w.store.state.notes[("alice", f"{sid}-revision-1")]
    assert (stored["kind"], stored["decision"], stored["revision"]) == (
        "submission_revised",
        "reject",
        1,
    )
    assert (stored["reason"], stored["comments"]) == ("mixed up two learners", "Wrong file.")
    assert [k for (_, k) in w.store.state.notes] == [f"{sid}-revision-1"]


# ---- bulk approval ------------------------------------------------------------------------------


def test_bulk_approval_answers_per_item_and_approves_each_once(w: World) -> None:
    a, b, c = uploaded(w), uploaded(w, me=BOB), uploaded(w, me=Caller("carol"))
    w.review(c, "approve", grade=50)  # another decision came first
    reply = bulk(w, [a, b, c, "f" * 32], grade=85, comments="Well done")
    assert [(r.submission_id, r.status, r.applied) for r in reply.results] == [
        (a, 200, True),
        (b, 200, True),
        (c, 200, False),  # approved by this instructor at this generation already
        ("f" * 32, 404, False),
    ]
    assert reply.approved == 2
    assert reply.results[3].error is not None
    assert reply.results[3].error.code == "not_found"
    for sid in (a, b):
        assert (w.sub(sid).status, w.sub(sid).grade) == (SubmissionStatus.approved, 85)
        assert f"{sid}-submission_reviewed" in w.store.state.audit
        assert f"notify-{sid}-approve" in w.tasks.queued
    assert w.sub(c).grade == 50  # untouched


def test_a_repeated_bulk_call_writes_and_notifies_nothing_more(w: World) -> None:
    ids = [uploaded(w, me=Caller(f"l{i}")) for i in range(3)]
    bulk(w, ids)
    state = (dict(w.store.state.submissions), dict(w.store.state.audit), dict(w.store.state.events))
    queued, writes = dict(w.tasks.queued), len(w.store.writes)
    w.tasks.queued.clear()
    again = bulk(w, ids)
    assert [(r.status, r.applied) for r in again.results] == [(200, False)] * 3
    assert again.approved == 0
    assert (w.store.state.submissions, w.store.state.audit, w.store.state.events) == state
    assert len(w.store.writes) == writes
    assert w.tasks.queued == {}
    assert len(queued) == 3 + 3  # three expiry tasks, three notifications


def test_bulk_after_another_instructors_decision_or_a_new_file_is_409(w: World) -> None:
    decided = uploaded(w)
    reply = w.issue(me=BOB, size=len(PNG) + 10)
    w.record(w.upload(reply, PNG))
    changed = reply.submission_id
    review_service.review_submission(
        OTHER_TEACHER,
        decided,
        review_service.ReviewRequest(
            decision="approve", generation=str(w.sub(decided).gcs_generation)
        ),
        store=w.store,
        tasks=w.tasks,
        now=w.now,
    )
    stale = str(w.sub(changed).gcs_generation)
    w.tick(minutes=1)
    sub = w.sub(changed)
    w.record(w.objects.put(sub.gcs_path, PNG + b"\x00", "image/png"))
    items = [
        {"submission_id": decided, "generation": str(w.sub(decided).gcs_generation)},
        {"submission_id": changed, "generation": stale},
    ]
    req = review_service.BulkApproveRequest.model_validate({"submissions": items})
    reply = review_service.bulk_approve(TEACHER, req, store=w.store, tasks=w.tasks, now=w.now)
    assert [(r.status, r.applied) for r in reply.results] == [(409, False), (409, False)]
    assert w.sub(decided).reviewed_by == OTHER_TEACHER.uid
    assert w.sub(changed).status == SubmissionStatus.uploaded


def test_a_bulk_request_is_bounded_and_names_each_submission_once() -> None:
    item = {"submission_id": "a" * 32, "generation": "1"}
    many = [{"submission_id": f"{i:032x}", "generation": "1"} for i in range(51)]
    for bad in ({"submissions": []}, {"submissions": many}, {"submissions": [item, item]}):
        with pytest.raises(ValidationError):
            review_service.BulkApproveRequest.model_validate(bad)
    assert (
        len(
            review_service.BulkApproveRequest.model_validate({"submissions": many[:50]}).submissions
        )
        == 50
    )


# ---- learner profiles ---------------------------------------------------------------------------

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_a_profile_is_written_when_missing_or_changed_and_cached_otherwise() -> None:
    keeper, store = ProfileKeeper(), FakeProfiles()
    ada = Caller("ada", name="Ada", email="ada@example.com")
    assert keeper.keep(ada, store, now=lambda: T0) is True
    assert store.docs["ada"] == LearnerProfile(
        user_id="ada", display_name="Ada", email="ada@example.com", profile_updated_at=T0
    )
    reads, writes = store.reads, store.writes
    for _ in range(5):
        assert keeper.keep(ada, store) is False
    assert (store.reads, store.writes) == (reads, writes)  # no I/O while the claims are the same
    renamed = Caller("ada", name="Ada Lovelace", email="ada@example.com")
    assert keeper.keep(renamed, store) is True
    assert store.docs["ada"].display_name == "Ada Lovelace"


def test_a_new_process_reads_an_up_to_date_profile_once_and_writes_nothing() -> None:
    store = FakeProfiles()
    ProfileKeeper().keep(Caller("ada", name="Ada", email="a@x.io"), store)
    fresh = ProfileKeeper()
    writes = store.writes
    assert fresh.keep(Caller("ada", name="Ada", email="a@x.io"), store) is False
    assert fresh.keep(Caller("ada", name="Ada", email="a@x.io"), store) is False
    assert store.writes == writes
    assert store.reads == 2  # one per process


def test_a_token_without_name_or_email_keeps_nothing_and_the_cache_is_bounded() -> None:
    keeper, store = ProfileKeeper(max_cached=2), FakeProfiles()
    assert keeper.keep(Caller("anon"), store) is False
    assert (store.reads, store.writes) == (0, 0)
    for uid in ("a", "b", "c"):
        keeper.keep(Caller(uid, email=f"{uid}@x.io"), store)
    assert len(keeper._seen) <= 2
