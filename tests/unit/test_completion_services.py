"""Completion rules, due dates and excuses through the use cases (progress, rollups, uploads,
review), against the fakes of the ports: assert on the stored state."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.domain.cohorts import Membership
from shared.domain.identity import Caller
from shared.domain.models import CompletionRule, Resource, ResourceStatus
from shared.domain.progress import ProgressUpdate
from shared.errors import Conflict, InvalidArgument, NotFound
from shared.services import progress as service
from shared.services.progress import ExcuseRequest
from shared.services.reconcile import settled
from tests.unit.fakes import FakeCatalog, FakeStore
from tests.unit.test_progress_services import Clock, settle
from tests.unit.test_uploads_services import ALICE, PNG, World

S = ResourceStatus
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TEACHER = Caller("teacher", instructor=True)


def _ruled(catalog: FakeCatalog, rid: str, **fields: object) -> Resource:
    """Give catalog resource ``rid`` a completion rule (or a due date)."""
    res = Resource.model_validate({**catalog.res[rid].model_dump(), **fields})
    catalog.res[rid] = res
    return res


@pytest.fixture
def catalog() -> FakeCatalog:
    c = FakeCatalog()
    c.add_pathway(
        "pe",
        {"pe-m1": [("read", False, False), ("watch", False, False), ("quiz", False, False)]},
    )
    _ruled(c, "watch", completion="min_time", min_minutes=10, due_at=T0 + dt.timedelta(hours=1))
    _ruled(c, "quiz", completion="score", pass_score=80)
    return c


@pytest.fixture
def store() -> FakeStore:
    """The learner u1 is in a cohort TEACHER teaches (an instructor acts on those learners only)."""
    fake = FakeStore()
    fake.state.memberships["u1"] = Membership(
        uid="u1", cohort_ids=["c1"], instructor_uids=["teacher"]
    )
    return fake


def test_an_instructor_cannot_excuse_a_learner_outside_their_cohorts(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    stranger = Caller("stranger", instructor=True)
    with pytest.raises(NotFound, match="no learner u1"):
        service.excuse(catalog, store, stranger, "u1", "quiz", ExcuseRequest(reason="x"))
    with pytest.raises(NotFound, match="no learner u2"):  # and no document for an unknown uid
        service.excuse(catalog, store, TEACHER, "u2", "quiz", ExcuseRequest(reason="x"))
    assert store.state.progress == {}
    admin = Caller("root", admin=True)
    assert service.excuse(catalog, store, admin, "u1", "quiz", ExcuseRequest(reason="x")).excused


def heartbeat(
    catalog: FakeCatalog,
    store: FakeStore,
    rid: str,
    *,
    minutes: int = 0,
    score: int | None = None,
    clock: Clock | None = None,
) -> service.ResourceProgressView:
    body = ProgressUpdate(progress_percentage=50, time_spent_minutes=minutes, score=score)
    return service.update(catalog, store, "u1", rid, body, clock or Clock())


def test_heartbeats_crossing_min_time_complete_once_with_an_event(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    clock = Clock()
    assert heartbeat(catalog, store, "watch", minutes=6, clock=clock).status == S.in_progress
    done = heartbeat(catalog, store, "watch", minutes=6, clock=clock)
    assert done.status == S.completed
    assert done.time_spent_minutes == 12
    assert not done.late
    heartbeat(catalog, store, "watch", minutes=6, clock=clock)
    autos = [e for _, e in store.events if e.get("auto_completed")]
    assert [(e["auto_completed"], e["to_status"]) for e in autos] == [("min_time", "completed")]
    settle(catalog, store, "u1")
    assert store.mp[("u1", "pe-m1")].completed_resources == 1


def test_complete_before_the_rule_is_met_is_409_and_writes_nothing(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    clock = Clock()
    heartbeat(catalog, store, "quiz", score=50, clock=clock)
    before = list(store.writes)
    with pytest.raises(Conflict, match="score of at least 80 \\(best so far 50\\)"):
        service.complete(catalog, store, "u1", "quiz")
    with pytest.raises(Conflict, match="at least 10 minutes"):
        service.complete(catalog, store, "u1", "watch")
    assert store.writes == before
    passed = heartbeat(catalog, store, "quiz", score=80, clock=clock)
    assert (passed.status, passed.score) == (S.completed, 80)


def test_a_score_for_another_rule_is_400(catalog: FakeCatalog, store: FakeStore) -> None:
    with pytest.raises(InvalidArgument, match="takes no score"):
        heartbeat(catalog, store, "read", score=90)
    assert store.writes == []


def test_an_excuse_is_audited_and_leaves_the_learners_count(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    clock = Clock()
    service.complete(catalog, store, "u1", "read", clock)
    heartbeat(catalog, store, "watch", minutes=10, clock=clock)
    settle(catalog, store, "u1")
    assert store.mp[("u1", "pe-m1")].completed_resources == 2
    assert store.mp[("u1", "pe-m1")].total_resources == 3
    view = service.excuse(
        catalog, store, TEACHER, "u1", "quiz", ExcuseRequest(reason="  exempt "), clock=clock
    )
    assert view.excused
    assert view.excuse_reason == "exempt"
    [entry] = store.state.audit.values()
    assert (entry.action, entry.actor, entry.user_id, entry.resource_id) == (
        "resource_excused",
        "teacher",
        "u1",
        "quiz",
    )
    assert entry.details["reason"] == "exempt"
    assert entry.submission_id is None
    settle(catalog, store, "u1")
    module = store.mp[("u1", "pe-m1")]
    assert (module.completed_resources, module.total_resources, module.percentage) == (2, 2, 100.0)
    assert module.completed_at is not None
    assert store.pp[("u1", "pe")].completed_modules == 1
    # excusing again writes nothing; un-excusing brings it back into the count
    writes = list(store.writes)
    service.excuse(catalog, store, TEACHER, "u1", "quiz", ExcuseRequest(reason="x"), clock=clock)
    assert store.writes == writes
    service.unexcuse(
        catalog, store, TEACHER, "u1", "quiz", ExcuseRequest(reason="back"), clock=clock
    )
    settle(catalog, store, "u1")
    assert store.mp[("u1", "pe-m1")].total_resources == 3
    assert store.mp[("u1", "pe-m1")].completed_at is None
    assert sorted(e.action for e in store.state.audit.values()) == [
        "resource_excused",
        "resource_unexcused",
    ]
    excuse_events = [e for _, e in store.events if e["action"] in ("excuse", "unexcuse")]
    assert [(e["action"], e["excused"], e["by"]) for e in excuse_events] == [
        ("excuse", True, "teacher"),
        ("unexcuse", False, "teacher"),
    ]


def test_an_excuse_names_a_known_resource(catalog: FakeCatalog, store: FakeStore) -> None:
    with pytest.raises(NotFound):
        service.excuse(catalog, store, TEACHER, "u1", "nope", ExcuseRequest(reason="x"))


def test_the_report_shows_rules_due_dates_late_and_excuses(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    late_clock = Clock()
    late_clock.ticks = iter(range(7200, 10**6))  # two hours in: past "watch"'s due date
    heartbeat(catalog, store, "watch", minutes=10, clock=late_clock)
    service.excuse(catalog, store, TEACHER, "u1", "quiz", ExcuseRequest(reason="r"))
    report = service.report(catalog, store, "u1", "pe")
    by_id = {r.resource_id: r for r in report.modules[0].resources}
    assert by_id["watch"].late
    assert by_id["watch"].completion == CompletionRule.min_time
    assert by_id["watch"].min_minutes == 10
    assert by_id["watch"].due_at == T0 + dt.timedelta(hours=1)
    assert (by_id["quiz"].excused, by_id["quiz"].pass_score) == (True, 80)
    assert by_id["read"].completion == CompletionRule.manual


# ---- rules that follow the submissions ----------------------------------------------------------


def _approved_world(due: dt.datetime | None = None) -> World:
    w = World()
    ruled = Resource.model_validate(
        {**w.store.catalog_resources["ex"].model_dump(), "completion": "approved", "due_at": due}
    )
    w.store.catalog_resources["ex"] = ruled
    w.catalog.res["ex"] = ruled
    return w


def test_an_approval_completes_an_approved_resource_in_the_review() -> None:
    w = _approved_world()
    reply = w.issue()
    w.tick(seconds=1)
    w.record(w.upload(reply, PNG))
    assert w.progress().status == S.submitted
    assert w.progress().completed_at is None
    with pytest.raises(Conflict, match="when an instructor approves"):
        service.complete(w.catalog, w.store, "alice", "ex")
    w.tick(seconds=5)
    w.review(reply.submission_id, "approve")
    assert w.progress().status == S.reviewed
    assert w.progress().completed_at == w.now()
    marked = [(e["action"], e.get("completed")) for _, e in w.store.events]
    assert marked == [("upload_recorded", None), ("submission_reviewed", True)]


def test_an_upload_after_the_due_date_is_late_in_the_progress_and_the_queue() -> None:
    due = World().now() + dt.timedelta(minutes=1)
    w = _approved_world(due=due)
    on_time = w.issue()
    w.tick(seconds=1)
    w.record(w.upload(on_time, PNG))
    assert not w.progress().late
    [item] = w.queue().submissions
    assert (item.late, item.due_at) == (False, due)
    w.review(on_time.submission_id, "reject", comments="again")
    assert not w.progress().late
    w.tick(minutes=5)
    late = w.issue()
    w.tick(seconds=1)
    w.record(w.upload(late, PNG))
    assert w.progress().late
    assert [e.get("late") for _, e in w.store.events] == [None, None, True]
    [item] = w.queue().submissions
    assert item.late
    assert ALICE.uid == item.user_id


def test_the_drift_repair_agrees_with_the_approved_rule_and_keeps_late() -> None:
    due = World().now() + dt.timedelta(minutes=1)
    w = _approved_world(due=due)
    w.tick(minutes=5)
    reply = w.issue()
    w.tick(seconds=1)
    w.record(w.upload(reply, PNG))
    waiting = w.progress()
    assert (waiting.status, waiting.late, waiting.completed_at) == (S.submitted, True, None)
    index = w.store.state.index[("alice", "ex")]
    resource = w.store.catalog_resources["ex"]
    # nothing drifted: awaiting approval is not complete, and the late flag stays
    assert settled(waiting, index, resource, w.now()) is None
    w.review(reply.submission_id, "approve")
    index = w.store.state.index[("alice", "ex")]
    assert settled(w.progress(), index, resource, w.now()) is None
