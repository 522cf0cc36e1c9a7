"""Submission use cases against small in-memory fakes of their ports (no I/O): assert on state."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from shared.config import Settings
from shared.domain.cohorts import Membership
from shared.domain.identity import Caller
from shared.domain.models import (
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceType,
    Submission,
    SubmissionStatus,
)
from shared.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PathwayRetired,
    RateLimited,
    UnsupportedMediaType,
)
from shared.events import EventMeta, StorageObject
from shared.services import review as review_service
from shared.services import tasks as task_service
from shared.services import uploads as service
from tests.unit.fakes import FakeCatalog as CatalogFake
from tests.unit.fakes import FakeObjects, FakeProfiles, FakeStore, FakeTasks

T = TypeVar("T")
FILES = Path(__file__).resolve().parent.parent / "fixtures" / "files"
BUCKET = "demo-aibc-submissions"
T0 = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
ALICE = Caller("alice")
BOB = Caller("bob")
TEACHER = Caller("teacher", instructor=True)
ADMIN = Caller("root", admin=True)

CFG = Settings(
    project_id="demo-aibc",
    bucket=BUCKET,
    region="us-central1",
    tasks_queue="aibc-default",
    tasks_emulator_host=None,
    functions_base={},
    cors_origins=(),
    upload_rate_limit_per_hour=10,
    upload_url_ttl_seconds=3600,
    delete_removes_object=False,
    signing_key_file=None,
    storage_public_endpoint=None,
    tasks_service_account=None,
)


def resource(rid: str, *, upload: bool = True, types: list[str] | None = None) -> Resource:
    return Resource(
        resource_id=rid,
        pathway_id="image-generation",
        module_id="image-generation-m1",
        title=rid,
        type=ResourceType.exercise if upload else ResourceType.video,
        order=0,
        requires_upload=upload,
        accepted_file_types=types or ["image/png", "application/pdf", "text/markdown"],
        max_file_size_mb=1,
    )


class World:
    def __init__(self) -> None:
        self.store = FakeStore([resource("ex"), resource("video", upload=False)])
        self.profiles = FakeProfiles()
        self.catalog = CatalogFake()
        self.catalog.add_pathway("image-generation", {"image-generation-m1": [("ex", True, False)]})
        self.objects = FakeObjects()
        self.tasks = FakeTasks()
        self.clock = T0
        self.ids = (f"{i:032x}" for i in itertools.count(1))
        # the learners are in a cohort that teacher and teacher2 teach (scope: access.py)
        for uid in ("alice", "bob", "carol", *(f"l{i}" for i in range(10))):
            self.store.state.memberships[uid] = Membership(
                uid=uid, cohort_ids=["c1"], instructor_uids=["teacher", "teacher2"]
            )

    def now(self) -> dt.datetime:
        return self.clock

    def tick(self, **kw: float) -> None:
        self.clock += dt.timedelta(**kw)

    def issue(
        self,
        me: Caller = ALICE,
        rid: str = "ex",
        name: str = "sample.png",
        ctype: str = "image/png",
        size: int | None = None,
    ) -> service.UploadUrlReply:
        if size is None:
            size = (FILES / name).stat().st_size if (FILES / name).exists() else 100
        req = service.UploadUrlRequest(file_name=name, content_type=ctype, size_bytes=size)
        return service.issue_upload_url(
            me,
            rid,
            req,
            store=self.store,
            objects=self.objects,
            tasks=self.tasks,
            cfg=CFG,
            catalog=self.catalog,
            now=self.now,
            new_id=lambda: next(self.ids),
        )

    def upload(
        self, reply: service.UploadUrlReply, data: bytes, ctype: str | None = None
    ) -> StorageObject:
        sub = self.sub(reply.submission_id)
        return self.objects.put(sub.gcs_path, data, ctype or sub.content_type)

    def record(self, obj: StorageObject) -> str:
        return service.record_upload(
            obj, store=self.store, objects=self.objects, cfg=CFG, now=self.now
        )

    def delete(self, submission_id: str, me: Caller = ALICE) -> service.DeleteReply:
        return service.delete_submission(
            me, submission_id, store=self.store, objects=self.objects, cfg=CFG, now=self.now
        )

    def sub(self, submission_id: str) -> Submission:
        return self.store.state.submissions[submission_id]

    def progress(self, uid: str = "alice", rid: str = "ex") -> ResourceProgress:
        return self.store.state.progress[(uid, rid)]

    def review(self, submission_id: str, decision: str, **kw: Any) -> service.SubmissionView:
        # By default the instructor reviews the generation recorded now.
        known = self.store.state.submissions.get(submission_id)
        kw.setdefault("generation", str((known and known.gcs_generation) or 1))
        req = review_service.ReviewRequest(decision=decision, **kw)
        return review_service.review_submission(
            TEACHER, submission_id, req, store=self.store, tasks=self.tasks, now=self.now
        )

    def revise(
        self, submission_id: str, decision: str, me: Caller = TEACHER, **kw: Any
    ) -> service.SubmissionView:
        known = self.store.state.submissions.get(submission_id)
        kw.setdefault("revision", known.revision if known else 0)
        kw.setdefault("reason", "second look")
        req = review_service.ReviseRequest(decision=decision, **kw)
        return review_service.revise_submission(
            me, submission_id, req, store=self.store, tasks=self.tasks, now=self.now
        )

    def queue(self, **kw: Any) -> review_service.PendingPage:
        me = kw.pop("me", ADMIN)
        return review_service.pending_queue(
            me,
            review_service.PendingQuery(**kw),
            store=self.store,
            profiles=self.profiles,
            catalog=self.catalog,
            cohorts=self.store,
        )


@pytest.fixture
def w() -> World:
    return World()


PNG = (FILES / "sample.png").read_bytes()
PDF = (FILES / "sample.pdf").read_bytes()
SCRIPT = (FILES / "script.sh").read_bytes()


# ---- upload-url ------------------------------------------------------------------------------


def test_upload_url_creates_a_pending_submission_and_an_expiry_task(w: World) -> None:
    reply = w.issue()
    sub = w.sub(reply.submission_id)
    assert sub.status == SubmissionStatus.pending_upload
    assert sub.attempt == 1
    assert sub.gcs_path == (
        f"pathways/image-generation/users/alice/resources/ex/{reply.submission_id}"
        "/2025-06-01_12-00-00_sample.png"
    )
    assert reply.headers == {
        "Content-Type": "image/png",
        "x-goog-content-length-range": f"1,{len(PNG)}",
    }
    assert reply.expires_at == T0 + dt.timedelta(hours=1)
    entry, payload, at = w.tasks.queued[f"expire-{reply.submission_id}"]
    assert (entry, payload) == ("task_expire_upload", {"submission_id": reply.submission_id})
    assert at is not None
    assert at >= reply.expires_at
    assert f"{reply.submission_id}-upload_url_issued" in w.store.state.audit


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"rid": "nope"}, NotFound),
        ({"rid": "video"}, Conflict),
        ({"name": "x.webp", "ctype": "image/webp"}, UnsupportedMediaType),
        ({"name": "../x.png"}, InvalidArgument),
        ({"name": "x.pdf"}, InvalidArgument),
        ({"size": 0}, InvalidArgument),
    ],
)
def test_refusals_store_nothing(w: World, kw: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        w.issue(**kw)
    assert w.store.state.submissions == {}
    assert w.store.state.rates == {}
    assert w.tasks.queued == {}


def test_the_eleventh_url_within_an_hour_is_refused_with_retry_after(w: World) -> None:
    for _ in range(10):
        w.issue()
        w.tick(minutes=1)
    with pytest.raises(RateLimited) as exc:
        w.issue()
    assert exc.value.headers["Retry-After"] == str(50 * 60)
    assert len(w.store.state.submissions) == 10
    w.tick(minutes=50)
    assert w.issue().attempt == 11


# ---- the finalized event ---------------------------------------------------------------------


def test_a_valid_upload_is_recorded_once_however_often_the_event_arrives(w: World) -> None:
    reply = w.issue()
    obj = w.upload(reply, PNG)
    assert w.record(obj) == "recorded"
    for _ in range(4):
        assert w.record(obj).startswith("ignored:generation already recorded")
    sub = w.sub(reply.submission_id)
    assert sub.status == SubmissionStatus.uploaded
    assert sub.gcs_generation == obj.generation
    assert w.progress().submission_count == 1
    assert w.progress().status == ResourceStatus.submitted
    assert w.progress().completed_at == w.progress().started_at == T0
    assert w.progress().module_id == "image-generation-m1"
    assert f"{reply.submission_id}-upload_recorded-{obj.generation}" in w.store.state.audit


def test_a_script_declared_as_png_is_invalid_and_removed(w: World) -> None:
    reply = w.issue(size=len(SCRIPT))
    obj = w.upload(reply, SCRIPT)
    assert w.record(obj) == "invalid"
    sub = w.sub(reply.submission_id)
    assert sub.status == SubmissionStatus.invalid
    assert sub.invalid_reason
    assert "image/png" in sub.invalid_reason
    assert sub.gcs_path not in w.objects.blobs
    assert ("alice", "ex") not in w.store.state.progress
    # a redelivery changes nothing and retries the removal
    assert w.record(obj).startswith("ignored:")
    assert w.objects.deleted == [(sub.gcs_path, obj.generation)] * 2


def test_an_overwrite_is_a_new_generation_counted_once_more(w: World) -> None:
    reply = w.issue()
    first = w.upload(reply, PNG)
    w.record(first)
    second = w.upload(reply, PNG[:-1] + b"\x00")  # still a PNG by its magic bytes
    assert w.record(second) == "recorded"
    assert w.record(second).startswith("ignored:")
    # the first generation's event arriving late finds the generation counted
    assert w.record(first).startswith("ignored:generation already recorded")
    assert w.sub(reply.submission_id).gcs_generation == second.generation
    assert w.progress().submission_count == 2


@pytest.mark.parametrize(
    "tweak",
    [
        lambda o: replace(o, bucket="some-bucket"),
        lambda o: replace(o, name="folder/Test.cs"),
        lambda o: replace(o, name=o.name.replace("0" * 31 + "1", "f" * 32)),
    ],
)
def test_foreign_objects_are_acknowledged_without_writes(
    w: World, tweak: Callable[[StorageObject], StorageObject]
) -> None:
    reply = w.issue()
    obj = tweak(w.upload(reply, PNG))
    before = (dict(w.store.state.submissions), dict(w.store.state.audit))
    assert w.record(obj).startswith("ignored:")
    assert (w.store.state.submissions, w.store.state.audit) == before
    assert w.store.state.progress == {}


def test_a_reviewed_resource_stays_reviewed_on_a_new_upload(w: World) -> None:
    first = w.issue()
    w.record(w.upload(first, PNG))
    w.review(first.submission_id, "approve", grade=90)
    second = w.issue(name="sample.pdf", ctype="application/pdf")
    w.record(w.upload(second, PDF))
    assert w.progress().status == ResourceStatus.reviewed
    assert w.progress().submission_count == 2


def test_an_upload_that_lands_after_the_expiry_task_is_still_recorded(w: World) -> None:
    reply = w.issue()
    task_service.expire_upload(
        task_service.ExpireUpload(submission_id=reply.submission_id), store=w.store, now=w.now
    )
    assert w.sub(reply.submission_id).status == SubmissionStatus.expired
    # Storage refuses a PUT after the URL expires, so any object that exists arrived in time.
    assert w.record(w.upload(reply, PNG)) == "recorded"


def test_a_stored_type_other_than_declared_is_invalid(w: World) -> None:
    reply = w.issue()
    assert w.record(w.upload(reply, PNG, ctype="image/jpeg")) == "invalid"


# ---- reading, downloading, deleting ----------------------------------------------------------


def test_listing_is_newest_first_and_per_learner(w: World) -> None:
    a1 = w.issue()
    w.tick(seconds=5)
    a2 = w.issue()
    w.issue(me=BOB)
    listed = service.list_submissions(ALICE, "ex", store=w.store).submissions
    assert [s.submission_id for s in listed] == [a2.submission_id, a1.submission_id]
    assert [s.attempt for s in listed] == [2, 1]


def test_download_is_for_the_owner_or_an_instructor(w: World) -> None:
    reply = w.issue()
    with pytest.raises(Conflict):  # nothing uploaded yet
        service.download_url(
            ALICE, reply.submission_id, store=w.store, objects=w.objects, memberships=w.store
        )
    vetted = w.upload(reply, PNG)
    w.record(vetted)
    for who in (ALICE, TEACHER):
        got = service.download_url(
            who, reply.submission_id, store=w.store, objects=w.objects, memberships=w.store
        )
        assert got.download_url.endswith(f"?generation={vetted.generation}")  # pinned
    with pytest.raises(NotFound):
        service.download_url(
            BOB, reply.submission_id, store=w.store, objects=w.objects, memberships=w.store
        )


def test_delete_is_soft_and_never_touches_another_learners(w: World) -> None:
    reply = w.issue()
    w.record(w.upload(reply, PNG))
    with pytest.raises(NotFound):
        service.delete_submission(
            BOB, reply.submission_id, store=w.store, objects=w.objects, cfg=CFG
        )
    assert w.sub(reply.submission_id).status == SubmissionStatus.uploaded
    service.delete_submission(ALICE, reply.submission_id, store=w.store, objects=w.objects, cfg=CFG)
    sub = w.sub(reply.submission_id)
    assert sub.status == SubmissionStatus.deleted
    assert sub.gcs_path in w.objects.blobs  # kept: DELETE_REMOVES_OBJECT is false
    assert f"{reply.submission_id}-submission_deleted" in w.store.state.audit
    assert service.list_submissions(ALICE, "ex", store=w.store).submissions == []
    with pytest.raises(NotFound):
        service.download_url(
            ALICE, reply.submission_id, store=w.store, objects=w.objects, memberships=w.store
        )


def test_delete_can_remove_the_object(w: World) -> None:
    reply = w.issue()
    w.record(w.upload(reply, PNG))
    cfg = replace(CFG, delete_removes_object=True)
    service.delete_submission(ALICE, reply.submission_id, store=w.store, objects=w.objects, cfg=cfg)
    assert w.sub(reply.submission_id).gcs_path not in w.objects.blobs


# ---- the resource status follows the submissions ----------------------------------------------


def test_deleting_the_only_upload_awaiting_review_takes_the_resource_back(w: World) -> None:
    reply = w.issue()
    w.record(w.upload(reply, PNG))
    assert w.progress().status == ResourceStatus.submitted
    assert w.progress().completed_at == T0
    w.tick(minutes=1)
    service.delete_submission(
        ALICE, reply.submission_id, store=w.store, objects=w.objects, cfg=CFG, now=w.now
    )
    progress = w.progress()
    assert progress.status == ResourceStatus.in_progress
    assert progress.completed_at is None
    assert progress.started_at == T0
    assert progress.updated_at == w.clock
    assert progress.submission_count == 1  # recorded uploads; a delete does not undo one
    audit = w.store.state.audit[f"{reply.submission_id}-submission_deleted"]
    assert audit.details["resource_status"] == "in_progress"
    # deleting again changes nothing
    service.delete_submission(ALICE, reply.submission_id, store=w.store, objects=w.objects, cfg=CFG)
    assert w.progress() == progress


def test_deleting_one_of_two_uploads_keeps_the_resource_submitted(w: World) -> None:
    first, second = w.issue(), w.issue()
    w.record(w.upload(first, PNG))
    w.record(w.upload(second, PNG))
    service.delete_submission(ALICE, first.submission_id, store=w.store, objects=w.objects, cfg=CFG)
    assert w.progress().status == ResourceStatus.submitted
    assert w.progress().completed_at == T0
    service.delete_submission(
        ALICE, second.submission_id, store=w.store, objects=w.objects, cfg=CFG
    )
    assert w.progress().status == ResourceStatus.in_progress
    assert w.progress().submission_count == 2


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_reviewed_work_is_the_record_and_cannot_be_deleted(w: World, decision: str) -> None:
    reply = w.issue()
    w.record(w.upload(reply, PNG))
    w.review(reply.submission_id, decision, grade=70, comments="seen")
    before = (w.sub(reply.submission_id), w.progress(), dict(w.store.state.audit))
    with pytest.raises(Conflict, match="reviewed work is kept as the record"):
        w.delete(reply.submission_id)
    assert (w.sub(reply.submission_id), w.progress(), w.store.state.audit) == before
    assert w.objects.deleted == []


def test_rejecting_an_older_attempt_keeps_a_newer_upload_submitted(w: World) -> None:
    older = w.issue()
    w.record(w.upload(older, PNG))
    w.tick(minutes=1)
    newer = w.issue(name="sample.pdf", ctype="application/pdf")
    w.record(w.upload(newer, PDF))
    w.tick(minutes=1)
    w.review(older.submission_id, "reject", comments="The second one is better.")
    assert w.sub(older.submission_id).status == SubmissionStatus.rejected
    assert w.progress().status == ResourceStatus.submitted  # the newer upload awaits review
    assert w.progress().completed_at == T0
    audit = w.store.state.audit[f"{older.submission_id}-submission_reviewed"]
    assert audit.details["resource_status"] == "submitted"
    w.review(newer.submission_id, "reject", comments="Not yet.")
    assert w.progress().status == ResourceStatus.in_progress
    assert w.progress().completed_at is None


def test_rejecting_a_newer_attempt_after_an_approval_stays_reviewed(w: World) -> None:
    first = w.issue()
    w.record(w.upload(first, PNG))
    w.review(first.submission_id, "approve", grade=90)
    second = w.issue()
    w.record(w.upload(second, PNG))
    w.review(second.submission_id, "reject", comments="Keep the first.")
    assert w.progress().status == ResourceStatus.reviewed


def test_an_invalid_overwrite_of_a_valid_upload_takes_the_resource_back(w: World) -> None:
    reply = w.issue(size=max(len(PNG), len(SCRIPT)))
    first = w.upload(reply, PNG)
    assert w.record(first) == "recorded"
    assert w.progress().status == ResourceStatus.submitted
    w.tick(minutes=1)
    second = w.upload(reply, SCRIPT)  # the same URL, a new generation holding a script
    assert w.record(second) == "invalid"
    sub = w.sub(reply.submission_id)
    assert sub.status == SubmissionStatus.invalid
    assert sub.gcs_generation == second.generation
    progress = w.progress()
    assert progress.status == ResourceStatus.in_progress
    assert progress.completed_at is None
    assert progress.submission_count == 1  # only the valid generation was counted
    assert sub.gcs_path not in w.objects.blobs
    audit = w.store.state.audit[f"{reply.submission_id}-upload_invalid-{second.generation}"]
    assert audit.details["previous_status"] == "uploaded"
    assert audit.details["resource_status"] == "in_progress"
    # redelivered: nothing changes
    assert w.record(second).startswith("ignored:")
    assert w.progress() == progress


def test_an_invalid_overwrite_keeps_another_upload_submitted(w: World) -> None:
    other = w.issue()
    w.record(w.upload(other, PNG))
    reply = w.issue(size=max(len(PNG), len(SCRIPT)))
    w.record(w.upload(reply, PNG))
    assert w.record(w.upload(reply, SCRIPT)) == "invalid"
    assert w.progress().status == ResourceStatus.submitted
    assert w.progress().submission_count == 2


def test_an_expired_url_leaves_the_resource_as_it_was(w: World) -> None:
    uploaded = w.issue()
    w.record(w.upload(uploaded, PNG))
    before = w.progress()
    unused = w.issue()
    w.tick(hours=2)
    task = task_service.ExpireUpload(submission_id=unused.submission_id)
    assert task_service.expire_upload(task, store=w.store, now=w.now).outcome == "expired"
    assert w.progress() == before  # nothing written: updated_at unchanged too
    lonely = World()
    never = lonely.issue()
    task = task_service.ExpireUpload(submission_id=never.submission_id)
    task_service.expire_upload(task, store=lonely.store, now=lonely.now)
    assert lonely.store.state.progress == {}


# ---- review and tasks ------------------------------------------------------------------------


def test_reject_then_resubmit_as_attempt_two_then_approve(w: World) -> None:
    first = w.issue()
    w.record(w.upload(first, PNG))
    with pytest.raises(InvalidArgument):
        w.review(first.submission_id, "reject")  # a rejection needs comments
    w.review(first.submission_id, "reject", comments="Show your prompt too.")
    assert w.sub(first.submission_id).status == SubmissionStatus.rejected
    assert w.progress().status == ResourceStatus.in_progress
    assert w.progress().submission_count == 1
    with pytest.raises(Conflict):
        w.review(first.submission_id, "approve")
    second = w.issue()
    assert second.attempt == 2
    w.record(w.upload(second, PNG))
    w.review(second.submission_id, "approve", grade=95, comments="Great")
    assert w.sub(second.submission_id).grade == 95
    assert w.progress().status == ResourceStatus.reviewed
    assert w.progress().submission_count == 2
    assert set(w.tasks.queued) >= {
        f"notify-{first.submission_id}-reject",
        f"notify-{second.submission_id}-approve",
    }


def test_reviewing_what_is_not_uploaded_is_409(w: World) -> None:
    reply = w.issue()
    with pytest.raises(Conflict):
        w.review(reply.submission_id, "approve")
    with pytest.raises(NotFound):
        w.review("f" * 32, "approve")


def test_the_pending_queue_is_oldest_first_by_cursor_and_filterable(w: World) -> None:
    ids = []
    for _ in range(5):
        reply = w.issue()
        w.tick(seconds=1)
        w.record(w.upload(reply, PNG))
        ids.append(reply.submission_id)
    seen: list[str] = []
    cursor = None
    while True:
        page = w.queue(limit=2, cursor=cursor)
        seen += [s.submission_id for s in page.submissions]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids
    assert w.queue(pathway_id="prompt-engineering").submissions == []
    with pytest.raises(InvalidArgument):
        w.queue(cursor="garbage")


def test_expire_and_notify_tasks_are_idempotent(w: World) -> None:
    reply = w.issue()
    task = task_service.ExpireUpload(submission_id=reply.submission_id)
    assert task_service.expire_upload(task, store=w.store, now=w.now).outcome == "expired"
    assert task_service.expire_upload(task, store=w.store, now=w.now).outcome.startswith("already")
    uploaded = w.issue()
    w.record(w.upload(uploaded, PNG))
    done = task_service.ExpireUpload(submission_id=uploaded.submission_id)
    assert task_service.expire_upload(done, store=w.store, now=w.now).outcome == "already uploaded"
    w.review(uploaded.submission_id, "approve", grade=80)
    note = task_service.NotifyLearner(submission_id=uploaded.submission_id, decision="approve")
    assert task_service.notify_learner(note, store=w.store, now=w.now).outcome == "notified"
    assert task_service.notify_learner(note, store=w.store, now=w.now).outcome == "already notified"
    stored = w.store.state.notes[("alice", f"{uploaded.submission_id}-approve")]
    assert stored["grade"] == 80
    assert stored["decision"] == "approve"


# ---- re-evaluating learners ------------------------------------------------------------------


class FakeCatalog:
    def __init__(self, module: Any, resources: list[Resource]) -> None:
        self.module = module
        self.res = {r.resource_id: r for r in resources}

    def pathways(self, ids: Any) -> dict[str, Any]:
        return {}

    def modules(self, ids: Any) -> dict[str, Any]:
        return {m: self.module for m in ids if m == self.module.module_id}

    def resources(self, ids: Any) -> dict[str, Resource]:
        return {i: self.res[i] for i in ids if i in self.res}


def test_reevaluate_starts_one_chained_run_for_the_modules_pathway_and_a_redelivery_no_other() -> (
    None
):
    from shared.bootstrap import override
    from shared.domain.models import Module
    from tests.unit.fakes import FakeTasks
    from tests.unit.test_reconcile import FakeLearners, FakeRunLog

    video = resource("video", upload=False)
    mod = Module(
        module_id="image-generation-m1",
        pathway_id="image-generation",
        title="M1",
        order=0,
        resource_ids=["video", "ex"],
    )
    catalog = FakeCatalog(mod, [video, resource("ex")])
    runs, queue = FakeRunLog(), FakeTasks()
    learners = FakeLearners()  # three learners in the pathway: three lanes of one
    for uid in ("ann", "bob", "cy"):
        learners.pathways[uid, "image-generation"] = PathwayProgress(pathway_id="image-generation")
    task = task_service.ReevaluateLearners(module_id=mod.module_id, catalog_version=7)
    with override(runs=runs, tasks=queue, learners=learners, reconcile_lane_size=1) as d:
        for _ in range(2):  # delivered twice, under the same task name
            first = task_service.reevaluate_learners(
                task, catalog=catalog, start=d.start_run, task_name="q/tasks/t1", now=lambda: T0
            )
        unknown = task_service.ReevaluateLearners(module_id="nope")
        refused = task_service.reevaluate_learners(unknown, catalog=catalog, start=d.start_run)
    assert (first.outcome, first.pathway_id) == ("started", "image-generation")
    assert first.run_id == "reevaluate-image-generation-t1"
    # in lanes, as catalog apply starts runs (Deps.start_run); the learners are walked by
    # task_reconcile, batch after batch: only each lane's first batch is queued, once
    assert first.lanes == 3
    prefix = "reconcile-reevaluate-image-generation-t1"
    assert sorted(queue.queued) == [f"{prefix}-0-0", f"{prefix}-1-0", f"{prefix}-2-0"]
    for entry, payload, _ in queue.queued.values():
        assert entry == "task_reconcile"
        assert payload["pathway_id"] == "image-generation"
        assert payload["catalog_version"] == 7
    assert "cursor" not in queue.queued[f"{prefix}-0-0"][1]  # the first lane starts at the start
    assert refused.outcome == "unknown module"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_put_after_the_review_is_refused_removed_and_audited_once(
    w: World, decision: str
) -> None:
    reply = w.issue()
    vetted = w.upload(reply, PNG)
    w.record(vetted)
    w.review(reply.submission_id, decision, grade=70, comments="seen")
    status_after_review = w.sub(reply.submission_id).status
    progress_after_review = w.progress()
    late = w.upload(reply, PNG[:-1] + b"\x01")  # the signed URL is still valid
    assert w.record(late) == f"refused:{status_after_review}"
    assert w.objects.deleted[-1] == (late.name, late.generation)
    assert late.name not in w.objects.blobs
    sub = w.sub(reply.submission_id)
    assert (sub.status, sub.gcs_generation) == (status_after_review, vetted.generation)
    assert w.progress() == progress_after_review
    refused = [a for a in w.store.state.audit.values() if a.action == "upload_refused"]
    assert [(a.generation, a.outcome) for a in refused] == [(late.generation, "refused")]
    # redelivered: no second audit entry, and the removal is finished if it had been interrupted
    assert w.record(late).startswith("ignored:generation already recorded")
    assert len([a for a in w.store.state.audit.values() if a.action == "upload_refused"]) == 1


def test_a_put_after_a_deletion_is_refused_and_removed(w: World) -> None:
    reply = w.issue()
    w.record(w.upload(reply, PNG))
    service.delete_submission(
        ALICE, reply.submission_id, store=w.store, objects=w.objects, cfg=CFG, now=w.now
    )
    late = w.upload(reply, PNG)
    assert w.record(late) == "refused:deleted"
    assert late.name not in w.objects.blobs
    assert w.sub(reply.submission_id).status == SubmissionStatus.deleted


# ---- sizes, review binding, progress events, the index --------------------------------------


def test_every_generation_is_judged_against_the_declared_size(w: World) -> None:
    big = PNG + b"\x00" * 100  # still a PNG by its magic bytes
    reply = w.issue(size=len(big))
    assert w.record(w.upload(reply, PNG)) == "recorded"
    assert w.sub(reply.submission_id).size_bytes == len(PNG)
    # a second, larger upload through the same URL, within the declared size, stays valid
    w.tick(minutes=1)
    assert w.record(w.upload(reply, big)) == "recorded"
    sub = w.sub(reply.submission_id)
    assert (sub.status, sub.size_bytes, sub.declared_size_bytes) == (
        SubmissionStatus.uploaded,
        len(big),
        len(big),
    )
    # ... and one larger than declared is not (the signed URL would refuse it anyway)
    w.tick(minutes=1)
    assert w.record(w.upload(reply, big + b"\x00")) == "invalid"
    assert w.sub(reply.submission_id).invalid_reason == "the file is larger than declared"


def test_a_review_names_the_generation_it_saw_and_a_changed_file_is_409(w: World) -> None:
    reply = w.issue(size=len(PNG) + 10)
    seen = w.upload(reply, PNG)
    w.record(seen)
    queued = w.queue()
    assert queued.submissions[0].gcs_generation == str(seen.generation)  # digits, as GCS writes
    w.tick(minutes=1)
    newer = w.upload(reply, PNG + b"\x00")
    assert w.record(newer) == "recorded"
    with pytest.raises(Conflict, match="changed since"):
        w.review(reply.submission_id, "approve", generation=seen.generation, grade=90)
    assert w.sub(reply.submission_id).status == SubmissionStatus.uploaded
    assert f"{reply.submission_id}-submission_reviewed" not in w.store.state.audit
    view = w.review(reply.submission_id, "approve", generation=newer.generation, grade=90)
    assert (view.status, view.gcs_generation) == (SubmissionStatus.approved, str(newer.generation))
    # a generation larger than 2^53 (JavaScript loses those as numbers) is compared exactly
    with pytest.raises(Conflict):
        w.review(reply.submission_id, "approve", generation="1795633634055496400")


def test_every_change_of_the_resource_appends_a_progress_event(w: World) -> None:
    first = w.issue()
    w.tick(minutes=1)
    w.record(w.upload(first, PNG))  # not_started -> submitted
    w.tick(minutes=1)
    second = w.issue()
    w.tick(minutes=1)
    w.record(w.upload(second, PNG))  # submission_count 1 -> 2
    w.tick(minutes=1)
    w.review(first.submission_id, "approve", grade=90)  # -> reviewed
    w.tick(minutes=1)
    w.revise(first.submission_id, "reject", comments="Not this one.")  # -> submitted (2nd waits)
    w.tick(minutes=1)
    w.delete(second.submission_id)  # -> in_progress
    events = sorted((eid, e) for (uid, eid), e in w.store.state.events.items() if uid == "alice")
    assert [(e["action"], e["from_status"], e["to_status"]) for _, e in events] == [
        ("upload_recorded", "not_started", "submitted"),
        ("upload_recorded", "submitted", "submitted"),
        ("submission_reviewed", "submitted", "reviewed"),
        ("submission_revised", "reviewed", "submitted"),
        ("submission_deleted", "submitted", "in_progress"),
    ]
    # an event that changes nothing (a duplicate delivery) appends nothing
    before = dict(w.store.state.events)
    w.record(
        StorageObject(
            EventMeta("again", "", "", "", None),
            BUCKET,
            w.sub(second.submission_id).gcs_path,
            w.sub(second.submission_id).gcs_generation or 0,
            len(PNG),
            "image/png",
        )
    )
    assert w.store.state.events == before


def test_attempts_come_from_the_index_read_by_key(w: World) -> None:
    replies = [w.issue() for _ in range(3)]
    assert [r.attempt for r in replies] == [1, 2, 3]
    index = w.store.state.index[("alice", "ex")]
    assert index.attempts == 3
    assert set(index.submissions) == {r.submission_id for r in replies}
    assert w.issue(me=BOB).attempt == 1
    # every submission transaction of a learner names the learner's lock
    assert set(w.store.locks) == {service.learner_lock("alice"), service.learner_lock("bob")}


def test_a_change_is_never_stamped_before_the_progress_it_changes(w: World) -> None:
    reply = w.issue()
    w.tick(minutes=5)
    w.record(w.upload(reply, PNG))
    recorded = w.progress().updated_at
    assert recorded is not None
    w.tick(minutes=-10)  # a server whose clock is behind, or a request that read the clock early
    w.delete(reply.submission_id)
    assert w.progress().updated_at == recorded + dt.timedelta(microseconds=1)
    ordered = [e["action"] for (_, _), e in sorted(w.store.state.events.items())]
    assert ordered == ["upload_recorded", "submission_deleted"]


def test_an_upload_url_for_a_retired_pathway_is_refused_and_writes_nothing(w: World) -> None:
    path = w.catalog.paths["image-generation"]
    w.catalog.paths["image-generation"] = path.model_copy(
        update={"retired_at": T0 - dt.timedelta(days=1)}
    )
    with pytest.raises(PathwayRetired) as refused:
        w.issue()
    assert (refused.value.status, refused.value.code) == (409, "pathway_retired")
    assert w.store.state.written == []
    assert w.tasks.queued == {}
