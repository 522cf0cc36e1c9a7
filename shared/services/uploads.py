"""Submission use cases: issue an upload URL, record what arrived, list, download, delete.

Every use case takes its ports (``shared.services.ports``) as arguments (a
:class:`~shared.services.ports.SubmissionStore`, an :class:`~shared.services.ports.ObjectStore`, a
:class:`~shared.services.ports.TaskQueue`, the settings and a clock), so unit tests run them against
small in-memory fakes and the functions run them against Firestore, Cloud Storage and Cloud Tasks.

Every change of a submission's state goes through :class:`ResourceState`, which reads the learner's
per-resource index ``users/{uid}/resource_submissions/{rid}`` and the resource progress BY KEY,
and recomputes the resource status from the statuses the index holds, in the same transaction (the
rule, and what ``submission_count`` counts, are in ``shared.domain.uploads``). When the progress
changes, the transaction also appends the change to ``users/{uid}/progress_events``. No use case
runs a query inside a transaction: in Firestore (and, much worse, in its emulator) a query in a
transaction locks the queried range and conflicts with every insert into the collection.

Sizes: ``declared_size_bytes`` is the size the learner declared when the URL was issued (the signed
URL's ``x-goog-content-length-range`` allows at most that much); EVERY object generation written
through that URL is judged against it, never against an earlier generation's size.
``size_bytes`` is the size of the recorded object (the declared size until one is recorded).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from shared import log
from shared.config import Settings
from shared.domain import catalog_change as change_rules
from shared.domain import uploads as rules
from shared.domain.identity import Caller
from shared.domain.models import (
    CompletionRule,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceSubmissions,
    Submission,
)
from shared.domain.models import SubmissionStatus as S
from shared.errors import Conflict, InvalidArgument, NotFound, RateLimited
from shared.events import StorageObject
from shared.services import audit, due
from shared.services import catalog as cat
from shared.services.access import may_supervise
from shared.services.ports import (
    CatalogReader,
    MembershipReader,
    ObjectStore,
    SubmissionStore,
    TaskQueue,
    Tx,
)
from shared.services.ports import SignedRequest as SignedRequest  # re-exported for the adapters

Clock = Callable[[], dt.datetime]
Detector = Callable[[bytes], list[rules.Detected]]

SIGNED_URL_TTL = dt.timedelta(hours=1)
EXPIRY_GRACE = dt.timedelta(minutes=2)
EXPIRE_TASK = "task_expire_upload"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- the resource progress that follows the submissions --------------------------------------


@dataclass(frozen=True)
class ResourceState:
    """A learner's resource as one transaction read it (by key): its progress and its index of
    submissions.

    Every use case that changes a submission's state reads this (before any write) and stores the
    new submission through :meth:`write`, which also stores the index and the progress the
    submissions now imply (``rules.settle_progress``), with a progress event when it changed, so the
    resource status never disagrees with the submissions and no change goes unrecorded.
    """

    progress: ResourceProgress | None
    index: ResourceSubmissions
    # The catalog's resource when the caller has it: its completion rule and due date decide
    # ``completed_at`` and ``late`` (``shared.domain.uploads.settle``).
    resource: Resource | None = None

    @classmethod
    def read(
        cls, tx: Tx, uid: str, resource_id: str, resource: Resource | None = None
    ) -> ResourceState:
        if resource is not None:  # the learner's due time (shared.domain.due), read by key here
            resource = due.learner_resource(tx, uid, resource)
        return cls(
            tx.progress(uid, resource_id), tx.resource_submissions(uid, resource_id), resource
        )

    def stamp(self, now: dt.datetime) -> dt.datetime:
        """The time of this change: ``now`` (read inside the transaction, after its reads), but
        never earlier than the progress it changes, so ``updated_at`` and the time-ordered ids of
        ``progress_events`` follow the order in which the changes committed, even when clocks
        or a retried transaction disagree."""
        last = self.progress.updated_at if self.progress else None
        if last is not None and now <= last:
            return last + dt.timedelta(microseconds=1)
        return now

    def write(
        self,
        tx: Tx,
        written: Submission,
        at: dt.datetime,
        *,
        action: str,
        recorded_upload: bool = False,
        generation: int | None = None,
    ) -> ResourceStatus:
        """Store ``written``, the index and, when it changed, the progress and its event; returns
        the resource status."""
        progress = rules.settle_progress(
            self.progress,
            rules.statuses(self.index),
            written,
            at,
            recorded_upload=recorded_upload,
            resource=self.resource,
        )
        base = progress if progress is not None else self.progress
        if base is not None:  # issue 13: the content version it was completed against
            stamped = self._stamped(tx, written, base, recorded_upload)
            if stamped is not base:
                progress = stamped.model_copy(update={"updated_at": at})
        tx.put_submission(written)
        index = rules.with_submission(self.index, written)
        tx.put_resource_submissions(index.model_copy(update={"updated_at": at}))
        if progress is not None:
            tx.put_progress(written.user_id, progress)
            event_id, event = rules.progress_event(
                action, self.progress, progress, at, written.submission_id, generation
            )
            tx.add_progress_event(written.user_id, event_id, event)
            return progress.status
        return self.progress.status if self.progress else ResourceStatus.not_started

    def _stamped(
        self, tx: Tx, written: Submission, progress: ResourceProgress, recorded_upload: bool
    ) -> ResourceProgress:
        """``progress`` recording the resource's ``content_version`` (read by key in this
        transaction, before any write) when the submission change completes the resource, or
        does again what completes it: a new valid upload (an approval under ``approved``)."""
        if progress.status not in rules.UPLOAD_STATUSES:
            return progress
        resource = tx.resource(written.resource_id) or self.resource
        if resource is None:
            return progress
        if resource.rule == CompletionRule.approved:
            redone = written.status == S.approved
        else:
            redone = recorded_upload and written.status == S.uploaded
        return change_rules.stamp_completion(resource, self.progress, progress, redone=redone)


def learner_lock(uid: str) -> str:
    """The in-process lock of a learner's submission transactions (see ``SubmissionStore``)."""
    return f"users/{uid}/submissions"


def submission_lock(submission_id: str) -> str:
    return f"submissions/{submission_id}"


# ---- request and reply models -----------------------------------------------------------------


def _digits(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# An object generation on the wire: a string of digits, as Cloud Storage's JSON API writes it
# (generations exceed 2^53, which a JavaScript number cannot hold); an integer is accepted too.
Generation = Annotated[
    str, BeforeValidator(_digits), StringConstraints(pattern=r"^[1-9][0-9]{0,19}$")
]


class UploadUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: Annotated[str, StringConstraints(max_length=1024)]
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    size_bytes: int = Field(ge=0, le=5 * 1024**3)


class UploadUrlReply(BaseModel):
    submission_id: str
    attempt: int
    upload_url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_at: dt.datetime


class SubmissionSummary(BaseModel):
    """A submission as the review queue lists it (docs/API.md); the learner's view adds the outcome."""

    submission_id: str
    user_id: str
    resource_id: str
    module_id: str
    pathway_id: str
    attempt: int
    file_name: str
    content_type: str
    size_bytes: int
    status: S
    # The recorded object generation: what a download serves and what a review must name.
    gcs_generation: Generation | None = None
    created_at: dt.datetime | None = None
    uploaded_at: dt.datetime | None = None

    @classmethod
    def of(cls, s: Submission) -> Self:
        return cls.model_validate(s.model_dump(include=set(cls.model_fields)))


class SubmissionView(SubmissionSummary):
    invalid_reason: str | None = None
    reviewed_at: dt.datetime | None = None
    review_comments: str | None = None
    grade: int | None = None
    # How often the decision was revised; a revision names it (see ``shared.services.review``).
    revision: int = 0
    revision_reason: str | None = None


class SubmissionList(BaseModel):
    submissions: list[SubmissionView]


class DownloadReply(BaseModel):
    submission_id: str
    download_url: str
    method: Literal["GET"] = "GET"
    expires_at: dt.datetime


class DeleteReply(BaseModel):
    submission_id: str
    status: S


# ---- upload-url ------------------------------------------------------------------------------


def issue_upload_url(
    me: Caller,
    resource_id: str,
    req: UploadUrlRequest,
    *,
    store: SubmissionStore,
    objects: ObjectStore,
    tasks: TaskQueue,
    cfg: Settings,
    catalog: CatalogReader,
    now: Clock = utcnow,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> UploadUrlReply:
    """``catalog``: where the resource's pathway is read, to refuse an upload to a retired one
    (:func:`shared.services.catalog.require_offered`)."""
    resource = store.get_resource(resource_id)
    if resource is None:
        raise NotFound(f"no resource {resource_id}")
    if not resource.requires_upload:
        raise Conflict(f"resource {resource_id} takes no upload")
    cat.require_offered(catalog, resource)
    if not rules.valid_uid(me.uid):
        raise InvalidArgument("this account id cannot own uploads")
    content_type = rules.normalise_content_type(req.content_type)
    file_name = rules.check_declared_upload(
        file_name=req.file_name,
        content_type=content_type,
        size_bytes=req.size_bytes,
        accepted_types=resource.accepted_file_types,
        max_file_size_mb=resource.max_file_size_mb,
    )
    at = now()
    ttl = dt.timedelta(seconds=max(1, min(cfg.upload_url_ttl_seconds, 3600)))
    submission_id = new_id()
    key = rules.object_key(
        pathway_id=resource.pathway_id,
        user_id=me.uid,
        resource_id=resource.resource_id,
        submission_id=submission_id,
        at=at,
        file_name=file_name,
    )

    def work(tx: Tx) -> Submission:
        decision = rules.rate_limit(
            tx.rate_stamps(me.uid), at, limit=cfg.upload_rate_limit_per_hour
        )
        index = tx.resource_submissions(me.uid, resource.resource_id)
        # The learner's cohorts and instructors, copied onto the submission (the review queue's
        # scope and the rules read them); kept in step by shared.services.cohorts.
        membership = tx.membership(me.uid)
        if not decision.allowed:
            # Refused: nothing is written (the window is only pruned on the next allowed call).
            raise RateLimited(
                f"at most {cfg.upload_rate_limit_per_hour} upload URLs per hour",
                retry_after_seconds=decision.retry_after_seconds,
            )
        sub = Submission(
            submission_id=submission_id,
            user_id=me.uid,
            resource_id=resource.resource_id,
            module_id=resource.module_id,
            pathway_id=resource.pathway_id,
            attempt=index.attempts + 1,
            file_name=file_name,
            content_type=content_type,
            size_bytes=req.size_bytes,
            declared_size_bytes=req.size_bytes,
            gcs_bucket=cfg.bucket,
            gcs_path=key.path,
            status=S.pending_upload,
            created_at=at,
            expires_at=at + ttl,
            cohort_ids=membership.cohort_ids if membership else [],
            instructor_uids=membership.instructor_uids if membership else [],
        )
        tx.put_rate_stamps(me.uid, decision.stamps)
        tx.put_submission(sub)
        tx.put_resource_submissions(
            rules.with_submission(index, sub).model_copy(update={"updated_at": at})
        )
        tx.put_audit(
            audit.entry(
                actor=me.uid,
                action="upload_url_issued",
                outcome="ok",
                submission=sub,
                at=at,
                attempt=sub.attempt,
                size_bytes=sub.size_bytes,
                content_type=content_type,
            )
        )
        return sub

    sub = store.transact(work, lock=learner_lock(me.uid))
    signed = objects.signed_put(
        cfg.bucket, key.path, content_type=content_type, max_bytes=req.size_bytes, ttl=ttl
    )
    assert sub.expires_at is not None
    _enqueue_expiry(tasks, sub.submission_id, sub.expires_at + EXPIRY_GRACE)
    log.info(
        "upload url issued",
        uid=me.uid,
        resource_id=resource_id,
        submission_id=sub.submission_id,
        attempt=sub.attempt,
    )
    return UploadUrlReply(
        submission_id=sub.submission_id,
        attempt=sub.attempt,
        upload_url=signed.url,
        headers=signed.headers,
        expires_at=sub.expires_at,
    )


def _enqueue_expiry(tasks: TaskQueue, submission_id: str, at: dt.datetime) -> None:
    try:
        tasks.enqueue(
            EXPIRE_TASK, f"expire-{submission_id}", {"submission_id": submission_id}, at=at
        )
    except Exception as exc:  # noqa: BLE001 - the URL is issued; an unexpired pending doc is harmless
        log.error("could not enqueue the expiry task", submission_id=submission_id, error=repr(exc))


# ---- reading and deleting --------------------------------------------------------------------

REVIEWED = (S.approved, S.rejected)


def list_submissions(me: Caller, resource_id: str, *, store: SubmissionStore) -> SubmissionList:
    subs = [s for s in store.list_submissions(me.uid, resource_id) if s.status != S.deleted]
    subs.sort(key=lambda s: s.created_at or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    return SubmissionList(submissions=[SubmissionView.of(s) for s in subs])


def _visible(
    me: Caller, submission_id: str, store: SubmissionStore, *, staff: MembershipReader | None
) -> Submission:
    """The submission, when it is the caller's own or (given ``staff``, the memberships) one of
    a learner the caller supervises (:func:`shared.services.access.may_supervise`); else 404."""
    sub = store.get_submission(submission_id)
    if sub is None or sub.status == S.deleted:
        raise NotFound(f"no submission {submission_id}")
    if sub.user_id != me.uid and (staff is None or not may_supervise(me, sub.user_id, staff)):
        raise NotFound(f"no submission {submission_id}")
    return sub


def download_url(
    me: Caller,
    submission_id: str,
    *,
    store: SubmissionStore,
    objects: ObjectStore,
    memberships: MembershipReader,
    now: Clock = utcnow,
) -> DownloadReply:
    sub = _visible(me, submission_id, store, staff=memberships)
    if sub.status not in (S.uploaded, S.approved, S.rejected):
        raise Conflict(f"submission {submission_id} has no file ({sub.status})")
    # Pinned to the vetted generation: a later overwrite is never what a download serves.
    url = objects.signed_get(
        sub.gcs_bucket,
        sub.gcs_path,
        ttl=SIGNED_URL_TTL,
        download_name=sub.file_name,
        generation=sub.gcs_generation,
    )
    return DownloadReply(
        submission_id=submission_id, download_url=url, expires_at=now() + SIGNED_URL_TTL
    )


def delete_submission(
    me: Caller,
    submission_id: str,
    *,
    store: SubmissionStore,
    objects: ObjectStore,
    cfg: Settings,
    now: Clock = utcnow,
) -> DeleteReply:
    def work(tx: Tx) -> Submission | None:
        sub = tx.submission(submission_id)
        if sub is None or sub.user_id != me.uid:
            raise NotFound(f"no submission {submission_id}")
        if sub.status == S.deleted:
            return None  # already deleted: the same reply, nothing written
        if sub.status in REVIEWED:
            raise Conflict(
                f"submission {submission_id} was {sub.status} by an instructor: reviewed work is "
                "kept as the record and cannot be deleted"
            )
        state = ResourceState.read(tx, sub.user_id, sub.resource_id)
        at = state.stamp(now())
        deleted = sub.model_copy(update={"status": S.deleted, "deleted_at": at})
        resource_status = state.write(tx, deleted, at, action="submission_deleted")
        tx.put_audit(
            audit.entry(
                actor=me.uid,
                action="submission_deleted",
                outcome="deleted",
                submission=sub,
                at=at,
                previous_status=str(sub.status),
                object_removed=cfg.delete_removes_object,
                resource_status=str(resource_status),
            )
        )
        return deleted

    deleted = store.transact(work, lock=learner_lock(me.uid))
    if deleted is not None and cfg.delete_removes_object:
        objects.delete(deleted.gcs_bucket, deleted.gcs_path, None)
    log.info("submission deleted", uid=me.uid, submission_id=submission_id)
    return DeleteReply(submission_id=submission_id, status=S.deleted)


# ---- the finalized event ---------------------------------------------------------------------

RECORDABLE = (S.pending_upload, S.uploaded, S.expired)


def detect_types(head: bytes) -> list[rules.Detected]:
    """What ``puremagic`` sees in the first bytes (pure computation, no I/O)."""
    import puremagic

    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return []
    except Exception:  # noqa: BLE001 - a detector crash must not make the upload valid
        return [rules.Detected("application/octet-stream", "")]
    return [rules.Detected(m.mime_type or "", m.extension or "") for m in matches]


def relevant_upload(obj: StorageObject, cfg: Settings) -> rules.ObjectKey | None:
    """The submission object an event names, or None when the event is not this function's (another
    bucket, a name outside the layout). Pure: a trigger asks this before any client exists."""
    ids = {"bucket": obj.bucket, "object": obj.name, "generation": obj.generation}
    if obj.bucket != cfg.bucket:
        _ignored("foreign bucket", **ids)
        return None
    key = rules.parse_object_path(obj.name)
    if key is None:
        _ignored("object outside the submission layout", **ids)
    return key


def record_upload(
    obj: StorageObject,
    *,
    store: SubmissionStore,
    objects: ObjectStore,
    cfg: Settings,
    detect: Detector = detect_types,
    now: Clock = utcnow,
) -> str:
    """Record a finished upload once per object generation; returns what happened (for logs)."""
    ids = {"bucket": obj.bucket, "object": obj.name, "generation": obj.generation}
    key = relevant_upload(obj, cfg)
    if key is None:
        return "ignored:not a submission object"
    sub = store.get_submission(key.submission_id)
    if sub is None or sub.gcs_path != obj.name or sub.user_id != key.user_id:
        return _ignored("no submission for this object", **ids)
    if obj.generation in sub.counted_generations:
        unvetted = sub.status not in RECORDABLE and sub.gcs_generation != obj.generation
        if sub.status == S.invalid or unvetted:
            objects.delete(obj.bucket, obj.name, obj.generation)  # finish an interrupted removal
        return _ignored("generation already recorded", submission_id=sub.submission_id, **ids)
    if sub.status not in RECORDABLE:
        return _refuse_late_upload(obj, sub, store=store, objects=objects, now=now)
    resource = store.get_resource(sub.resource_id)
    if resource is None:
        return _ignored("the resource is gone", submission_id=sub.submission_id, **ids)
    head = objects.read_head(obj.bucket, obj.name, obj.generation, rules.HEAD_BYTES)
    if head is None:
        return _ignored("this generation no longer exists", submission_id=sub.submission_id, **ids)
    reason = rules.upload_verdict(
        declared_type=sub.content_type,
        # Every generation against what was declared for the URL, not an earlier object's size.
        declared_size=sub.declared_size_bytes or sub.size_bytes,
        object_content_type=obj.content_type,
        object_size=obj.size,
        accepted_types=resource.accepted_file_types,
        max_file_size_mb=resource.max_file_size_mb,
        head=head,
        detected=detect(head),
    )

    def work(tx: Tx) -> str:
        current = tx.submission(sub.submission_id)
        if current is None or obj.generation in current.counted_generations:
            return "duplicate"
        if current.status not in RECORDABLE:
            return f"skipped:{current.status}"
        state = ResourceState.read(tx, current.user_id, current.resource_id, resource)
        at = state.stamp(now())
        generations = [*current.counted_generations, obj.generation]
        if reason is not None:
            # An invalid new generation replaces whatever the object held: the submission no
            # longer has a valid file, so the resource may drop back from ``submitted``.
            invalid = current.model_copy(
                update={
                    "status": S.invalid,
                    "invalid_reason": reason,
                    "gcs_generation": obj.generation,
                    "counted_generations": generations,
                }
            )
            resource_status = state.write(
                tx, invalid, at, action="upload_invalid", generation=obj.generation
            )
            tx.put_audit(
                audit.entry(
                    actor=audit.SYSTEM,
                    action="upload_invalid",
                    outcome="invalid",
                    submission=current,
                    at=at,
                    generation=obj.generation,
                    reason=reason,
                    size_bytes=obj.size,
                    previous_status=str(current.status),
                    resource_status=str(resource_status),
                )
            )
            return "invalid"
        uploaded = current.model_copy(
            update={
                "status": S.uploaded,
                "gcs_generation": obj.generation,
                "uploaded_at": at,
                "size_bytes": obj.size,
                "counted_generations": generations,
                # the learner's due time when this upload was recorded (the queue's ``late``)
                "due_at": state.resource.due_at if state.resource else None,
            }
        )
        resource_status = state.write(
            tx,
            uploaded,
            at,
            action="upload_recorded",
            recorded_upload=True,
            generation=obj.generation,
        )
        tx.put_audit(
            audit.entry(
                actor=current.user_id,
                action="upload_recorded",
                outcome="ok",
                submission=current,
                at=at,
                generation=obj.generation,
                size_bytes=obj.size,
                overwrite=bool(current.counted_generations) or None,
                resource_status=str(resource_status),
            )
        )
        return "recorded"

    outcome = store.transact(work, lock=learner_lock(sub.user_id))
    if outcome == "invalid":
        objects.delete(obj.bucket, obj.name, obj.generation)
    log.info(
        "upload event handled",
        outcome=outcome,
        reason=reason,
        submission_id=sub.submission_id,
        uid=sub.user_id,
        resource_id=sub.resource_id,
        event_id=obj.meta.id,
        **ids,
    )
    return outcome


def _refuse_late_upload(
    obj: StorageObject,
    sub: Submission,
    *,
    store: SubmissionStore,
    objects: ObjectStore,
    now: Clock,
) -> str:
    """A new generation written (through a still valid signed URL) after the submission was
    reviewed, deleted or found invalid: nobody vetted these bytes, and a download must never serve
    them, so the generation is removed and the refusal audited, once per generation."""

    def work(tx: Tx) -> str:
        current = tx.submission(sub.submission_id)
        if current is None or obj.generation in current.counted_generations:
            return "duplicate"
        if current.status in RECORDABLE:
            return "retry"  # it became recordable meanwhile: let the event be delivered again
        at = now()
        seen = current.model_copy(
            update={"counted_generations": [*current.counted_generations, obj.generation]}
        )
        tx.put_submission(seen)
        tx.put_audit(
            audit.entry(
                actor=current.user_id,
                action="upload_refused",
                outcome="refused",
                submission=current,
                at=at,
                generation=obj.generation,
                reason=f"the submission is already {current.status}",
                size_bytes=obj.size,
            )
        )
        return "refused"

    outcome = store.transact(work, lock=learner_lock(sub.user_id))
    if outcome == "retry":
        raise RuntimeError("submission state changed while refusing a late upload; redeliver")
    if outcome in ("refused", "duplicate"):
        objects.delete(obj.bucket, obj.name, obj.generation)
    log.info(
        "late upload refused",
        outcome=outcome,
        status=str(sub.status),
        submission_id=sub.submission_id,
        uid=sub.user_id,
        event_id=obj.meta.id,
        generation=obj.generation,
    )
    return f"refused:{sub.status}" if outcome == "refused" else outcome


def _ignored(why: str, **fields: Any) -> str:
    log.info("upload event ignored", reason=why, **fields)
    return f"ignored:{why}"
