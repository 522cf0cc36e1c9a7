"""Every completion path records the ``content_version`` it completed against (issue 13): a
check-off, a score or time heartbeat, a valid upload, an approval, the drift repair; an excuse
keeps what was recorded. The version is the resource document as the completing transaction
reads it (``Tx.resource``), so a stale catalog cache never decides it. Against the fakes of the
ports: assert on the stored state and on the report.
"""

from __future__ import annotations

import pytest

from shared.domain import catalog_change as change
from shared.domain.cohorts import Membership
from shared.domain.identity import Caller
from shared.domain.models import Resource, ResourceProgress, ResourceStatus, SubmissionStatus
from shared.domain.progress import ProgressUpdate
from shared.services import progress as service
from shared.services.progress import ExcuseRequest
from tests.unit.fakes import FakeCatalog, FakeStore
from tests.unit.test_progress_services import Clock
from tests.unit.test_reconcile import FakeLearners, done, inline, one_pathway, submission
from tests.unit.test_uploads_services import PNG, World

S = ResourceStatus
TEACHER = Caller("teacher", instructor=True)


def _bump(resource: Resource, version: int, **fields: object) -> Resource:
    return Resource.model_validate({**resource.model_dump(), **fields, "content_version": version})


@pytest.fixture
def catalog() -> FakeCatalog:
    c = FakeCatalog()
    c.add_pathway("pe", {"pe-m1": [("read", False, False), ("watch", False, False)]})
    c.add_pathway("qz", {"qz-m1": [("quiz", False, False)]})
    c.res["watch"] = _bump(c.res["watch"], 1, completion="min_time", min_minutes=10)
    c.res["quiz"] = _bump(c.res["quiz"], 1, completion="score", pass_score=80)
    return c


@pytest.fixture
def store(catalog: FakeCatalog) -> FakeStore:
    """The stored catalog (what a transaction reads) starts as the cached one."""
    fake = FakeStore(list(catalog.res.values()))
    fake.state.memberships["u1"] = Membership(
        uid="u1", cohort_ids=["c1"], instructor_uids=["teacher"]
    )
    return fake


def _change_content(catalog: FakeCatalog, store: FakeStore, rid: str, version: int) -> None:
    """``catalog apply`` changed the resource: stored and (once refreshed) cached."""
    catalog.res[rid] = store.catalog_resources[rid] = _bump(catalog.res[rid], version)


def _stored(store: FakeStore, rid: str, uid: str = "u1") -> ResourceProgress:
    return store.state.progress[(uid, rid)]


def _flag(catalog: FakeCatalog, store: FakeStore, pathway_id: str, rid: str) -> bool:
    report = service.report(catalog, store, "u1", pathway_id)
    [item] = [r for m in report.modules for r in m.resources if r.resource_id == rid]
    return item.updated_since_completion


# ---- the learner's own actions -----------------------------------------------------------------


def test_a_check_off_records_the_version_its_transaction_reads_not_the_cached_one(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    # the apply committed (version 3 stored); this instance's cache still holds version 1
    store.catalog_resources["read"] = _bump(catalog.res["read"], 3)
    service.complete(catalog, store, "u1", "read")
    assert _stored(store, "read").content_version == 3
    catalog.res["read"] = store.catalog_resources["read"]
    assert not _flag(catalog, store, "pe", "read")
    _change_content(catalog, store, "read", 4)
    assert _flag(catalog, store, "pe", "read")


def test_heartbeats_that_meet_min_time_record_the_version(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    clock = Clock()
    half = ProgressUpdate(progress_percentage=50, time_spent_minutes=6)
    service.update(catalog, store, "u1", "watch", half, clock)
    assert _stored(store, "watch").content_version is None  # not done: nothing recorded
    _change_content(catalog, store, "watch", 2)
    service.update(catalog, store, "u1", "watch", half, clock)
    assert (_stored(store, "watch").status, _stored(store, "watch").content_version) == (
        S.completed,
        2,
    )
    assert not _flag(catalog, store, "pe", "watch")
    service.update(catalog, store, "u1", "watch", half, clock)  # more time: still version 2
    assert _stored(store, "watch").content_version == 2
    _change_content(catalog, store, "watch", 3)
    assert _flag(catalog, store, "pe", "watch")


def test_a_passing_score_records_the_version(catalog: FakeCatalog, store: FakeStore) -> None:
    clock = Clock()
    _change_content(catalog, store, "quiz", 5)
    service.update(catalog, store, "u1", "quiz", ProgressUpdate(progress_percentage=100, score=90))
    assert _stored(store, "quiz").content_version == 5
    _change_content(catalog, store, "quiz", 6)
    assert _flag(catalog, store, "qz", "quiz")
    # a better score on a resource already done does not pretend it was redone on version 6
    better = ProgressUpdate(progress_percentage=100, score=95)
    service.update(catalog, store, "u1", "quiz", better, clock)
    assert _stored(store, "quiz").content_version == 5


def test_an_excuse_keeps_the_recorded_version_and_records_none_itself(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    reason = ExcuseRequest(reason="medical")
    service.excuse(catalog, store, TEACHER, "u1", "watch", reason)
    assert _stored(store, "watch").content_version is None  # excused, never done
    service.complete(catalog, store, "u1", "read")
    _change_content(catalog, store, "read", 2)
    service.excuse(catalog, store, TEACHER, "u1", "read", reason)
    assert _stored(store, "read").content_version == 1
    assert _flag(catalog, store, "pe", "read")  # done against 1, excused or not
    service.unexcuse(catalog, store, TEACHER, "u1", "read", reason)
    assert _stored(store, "read").content_version == 1
    # completing while excused is a completion like any other
    _change_content(catalog, store, "watch", 7)
    service.update(
        catalog, store, "u1", "watch", ProgressUpdate(progress_percentage=1, time_spent_minutes=10)
    )
    assert (_stored(store, "watch").excused, _stored(store, "watch").content_version) == (True, 7)


def test_uncompleting_and_completing_again_records_the_version_of_the_second_completion(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    service.complete(catalog, store, "u1", "read")
    _change_content(catalog, store, "read", 2)
    service.uncomplete(catalog, store, "u1", "read")
    assert not _flag(catalog, store, "pe", "read")  # not done: nothing to flag
    service.complete(catalog, store, "u1", "read")
    assert _stored(store, "read").content_version == 2
    assert not _flag(catalog, store, "pe", "read")


# ---- uploads and approvals ---------------------------------------------------------------------


def _upload(w: World) -> str:
    reply = w.issue()
    w.tick(seconds=1)
    w.record(w.upload(reply, PNG))
    return reply.submission_id


def _change_upload_content(w: World, version: int, **fields: object) -> None:
    ruled = _bump(w.store.catalog_resources["ex"], version, **fields)
    w.store.catalog_resources["ex"] = ruled
    w.catalog.res["ex"] = _bump(w.catalog.res["ex"], version, **fields)


def _report_flag(w: World) -> bool:
    report = service.report(w.catalog, w.store, "alice", "image-generation")
    [item] = [r for m in report.modules for r in m.resources if r.resource_id == "ex"]
    return item.updated_since_completion


def test_a_valid_upload_records_the_version_and_a_new_upload_after_a_change_records_the_new() -> (
    None
):
    w = World()
    _change_upload_content(w, 2)
    _upload(w)
    assert (w.progress().status, w.progress().content_version) == (S.submitted, 2)
    assert not _report_flag(w)
    _change_upload_content(w, 3)
    assert _report_flag(w)
    w.tick(minutes=1)
    _upload(w)  # the learner redoes the work against version 3
    assert w.progress().content_version == 3
    assert not _report_flag(w)
    recorded = [e for _, e in w.store.events if e["action"] == "upload_recorded"]
    assert len(recorded) == 2


def test_an_invalid_upload_records_nothing() -> None:
    w = World()
    reply = w.issue()
    w.tick(seconds=1)
    w.record(w.upload(reply, b"not a png at all"))
    assert w.store.state.submissions[reply.submission_id].status == SubmissionStatus.invalid
    assert ("alice", "ex") not in w.store.state.progress or (w.progress().content_version is None)


def test_an_approval_records_the_version_approved_against_not_the_upload_time() -> None:
    w = World()
    _change_upload_content(w, 1, completion="approved")
    first = _upload(w)
    assert (w.progress().status, w.progress().content_version) == (S.submitted, None)
    _change_upload_content(w, 2, completion="approved")
    assert not _report_flag(w)  # awaiting approval is not done: nothing to flag
    w.review(first, "approve")
    assert (w.progress().status, w.progress().content_version) == (S.reviewed, 2)
    _change_upload_content(w, 3, completion="approved")
    assert _report_flag(w)
    # a new attempt, approved after the change: done again, against version 3
    w.tick(minutes=1)
    second = _upload(w)
    assert w.progress().content_version == 2  # an upload is not what completes it here
    w.review(second, "approve")
    assert w.progress().content_version == 3
    assert not _report_flag(w)


# ---- the drift repair ----------------------------------------------------------------------------


def test_a_status_repair_that_completes_a_resource_records_the_version_it_reads() -> None:
    catalog, store = one_pathway(), FakeLearners()
    res = catalog.res["m2-x"]
    store.resources["eve", "m2-x"] = done("eve", "m2-x", "m2", S.in_progress).model_copy(
        update={"completed_at": None}
    )
    store.submissions.append(submission("eve", res, 0, SubmissionStatus.approved))
    # the run read version 1 of the catalog; the apply since stored version 4
    store.uow.state.catalog["m2-x"] = _bump(res, 4)
    inline(catalog, store)
    repaired = store.resources["eve", "m2-x"]
    assert (repaired.status, repaired.content_version) == (S.reviewed, 4)


def test_a_status_repair_of_a_resource_still_done_keeps_its_version() -> None:
    catalog, store = one_pathway(), FakeLearners()
    res = catalog.res["m2-x"]
    store.resources["fay", "m2-x"] = done("fay", "m2-x", "m2", S.submitted).model_copy(
        update={"content_version": 1}
    )
    store.submissions.append(submission("fay", res, 0, SubmissionStatus.approved))
    store.uow.state.catalog["m2-x"] = _bump(res, 4)
    inline(catalog, store)
    repaired = store.resources["fay", "m2-x"]
    assert (repaired.status, repaired.content_version) == (S.reviewed, 1)


# ---- the pure rule ---------------------------------------------------------------------------


def test_only_a_done_resource_is_ever_flagged() -> None:
    res = _bump(
        Resource(
            resource_id="r",
            pathway_id="p",
            module_id="m",
            title="r",
            type="project",
            order=0,
            requires_upload=True,
            accepted_file_types=["image/png"],
            max_file_size_mb=1,
            completion="approved",
        ),
        2,
    )
    waiting = ResourceProgress(resource_id="r", pathway_id="p", module_id="m", status=S.submitted)
    assert not change.done(res, waiting)
    assert not change.updated_since_completion(res, waiting)
    approved = waiting.model_copy(update={"status": S.reviewed})
    assert change.updated_since_completion(res, approved)  # no version recorded: read as 1
    assert change.stamp_completion(res, waiting, approved).content_version == 2
    assert change.stamp_completion(res, approved, approved) is approved
    assert change.stamp_completion(res, approved, approved, redone=True).content_version == 2
    assert change.stamp_completion(res, None, approved, version=9).content_version == 9


def test_the_report_shows_a_content_change_at_once_through_a_warm_cache() -> None:
    """The report reads the catalog version (one read by key) and drops a cache older than it,
    so a learner sees "updated since completion" right after the apply, not 30 s later."""
    from shared.services.catalog import CachedCatalog

    fake = FakeCatalog()
    fake.add_pathway("pe", {"pe-m1": [("read", False, False)]})
    version = [1]
    cached = CachedCatalog(fake, ttl=3600, version=lambda: version[0])
    store = FakeStore(list(fake.res.values()))
    service.complete(cached, store, "u1", "read")
    assert not _flag(cached, store, "pe", "read")  # warms the cache at version 1
    fake.res["read"] = store.catalog_resources["read"] = _bump(fake.res["read"], 2)
    assert not _flag(cached, store, "pe", "read")  # the apply has not bumped the version yet
    version[0] = 2
    assert _flag(cached, store, "pe", "read")
