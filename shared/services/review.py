"""Instructor review: the pending queue with context, approve / reject, revising a decision and
approving several submissions at once.

A review changes the submission and, in the same transaction, the resource status that follows from
all of the learner's submissions for that resource (see ``shared.domain.uploads``), with a progress
event when it changed.

A review applies to the bytes the instructor saw. The queue and the submission views show the
recorded object generation (``gcs_generation``, the one a download URL is pinned to; a string of
digits, as Cloud Storage's JSON API writes generations, because they exceed what a JavaScript
number holds exactly); the review body names it (``generation``), and the review is refused with
409 when the submission's recorded generation is another one (the learner uploaded again through
the still valid URL since the instructor looked): the instructor reloads and reviews what is there
now. (The other choice, refusing every write after the first recorded generation, would take away a
learner's way to fix a mistaken upload before anyone looked.) Of several instructors deciding at
once, exactly one wins; the others get 409.

Reviewed work is the record: a learner cannot delete an approved or rejected submission
(``shared.services.uploads``). A decision can be revised (:func:`revise_submission`): the body
names the ``revision`` the instructor saw (0 for the first decision) and gives a reason; of two
instructors revising at once exactly one wins, the other gets 409. Each applied revision is audited
once (``{submission}-submission_revised-r{n}``) and notified once
(``users/{uid}/notifications/{submission}-revision-{n}``). The same revision sent again by the
same instructor (a client retrying) is answered 200 as it stands, with nothing written or notified.

:func:`bulk_approve` approves up to :data:`MAX_BULK` submissions, each in its own transaction, each
audited and notified once, with a result per item. A repeated call (a client retrying) finds the
ones it approved already approved by the same instructor at the same generation and answers 200
for them again without writing or notifying anything.

The queue (:func:`pending_queue`) is one bounded query (a page of at most :data:`MAX_PAGE`) and then
reads by key only: the learners' profiles, the per-resource indexes of the page's submissions and
the submission documents of at most :data:`MAX_EARLIER` earlier attempts per item (each batched in
one round trip), and the titles from the (cached) catalog.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Hashable, Iterable
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared import log
from shared.domain.identity import Caller
from shared.domain.models import Id, Submission, SubmissionStatus
from shared.errors import AppError, Conflict, InvalidArgument, NotFound
from shared.services import audit
from shared.services.access import require_supervision
from shared.services.cohorts import visible_cohort
from shared.services.ports import (
    CatalogReader,
    CohortStore,
    ProfileStore,
    SubmissionStore,
    TaskQueue,
    Tx,
)
from shared.services.uploads import (
    Clock,
    Generation,
    ResourceState,
    SubmissionSummary,
    SubmissionView,
    submission_lock,
    utcnow,
)

K = TypeVar("K", bound=Hashable)
NOTIFY_TASK = "task_notify_learner"
MAX_PAGE = 100
MAX_EARLIER = 5
MAX_BULK = 50
BULK_WORKERS = 8  # a bulk call's transactions in flight at once
REVIEWED = (SubmissionStatus.approved, SubmissionStatus.rejected)
# The earlier attempts the queue shows: those that had a file (not expired, deleted or pending).
SHOWN_EARLIER = (*REVIEWED, SubmissionStatus.uploaded, SubmissionStatus.invalid)

Comments = Annotated[str, StringConstraints(max_length=5000)]


class PendingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort_id: Id | None = None
    pathway_id: Id | None = None
    module_id: Id | None = None
    resource_id: Id | None = None
    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


class EarlierAttempt(BaseModel):
    """One of the learner's earlier attempts at the resource, as the queue shows it."""

    submission_id: str
    attempt: int
    status: SubmissionStatus
    file_name: str
    uploaded_at: dt.datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    grade: int | None = None
    review_comments: str | None = None
    revision: int = 0
    invalid_reason: str | None = None


class ReviewItem(SubmissionSummary):
    """A queue item with its context."""

    learner_name: str | None = None
    learner_email: str | None = None
    resource_title: str | None = None
    module_title: str | None = None
    pathway_title: str | None = None
    # The most recent earlier attempts (newest first, at most MAX_EARLIER) and how many there are.
    earlier_attempts: list[EarlierAttempt] = Field(default_factory=list)
    earlier_attempts_total: int = 0
    # The resource's due date, and whether this upload was recorded after it.
    due_at: dt.datetime | None = None
    late: bool = False


class PendingPage(BaseModel):
    submissions: list[ReviewItem]
    next_cursor: str | None


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    # The object generation the instructor reviewed (``gcs_generation`` of the queue item).
    generation: Generation
    grade: int | None = Field(default=None, ge=0, le=100)
    comments: Comments = ""


class ReviseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    # The revision the instructor saw (``revision`` of the submission; 0 = the first decision).
    revision: int = Field(ge=0, le=10_000)
    grade: int | None = Field(default=None, ge=0, le=100)
    comments: Comments = ""
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class BulkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: Id
    generation: Generation


class BulkApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submissions: list[BulkItem] = Field(min_length=1, max_length=MAX_BULK)
    grade: int | None = Field(default=None, ge=0, le=100)
    comments: Comments = ""

    @model_validator(mode="after")
    def _distinct(self) -> BulkApproveRequest:
        ids = [i.submission_id for i in self.submissions]
        if len(set(ids)) != len(ids):
            raise ValueError("each submission may be named once")
        return self


class ItemError(BaseModel):
    code: str
    message: str


class BulkResult(BaseModel):
    submission_id: str
    status: int  # the HTTP status this item alone would have had (200, 404, 409, 503)
    applied: bool = False  # False for a repeated call's item that was approved already
    submission: SubmissionView | None = None
    error: ItemError | None = None


class BulkReply(BaseModel):
    results: list[BulkResult]
    approved: int


def encode_cursor(uploaded_at: dt.datetime, submission_id: str) -> str:
    raw = json.dumps([uploaded_at.astimezone(dt.UTC).isoformat(), submission_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, submission_id = json.loads(raw)
        at = dt.datetime.fromisoformat(when)
        if not isinstance(submission_id, str) or at.tzinfo is None:
            raise ValueError("bad cursor")
        return at.astimezone(dt.UTC), submission_id  # out of range in UTC: OverflowError
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise InvalidArgument("cursor is not one this API returned") from None


# ---- the queue ---------------------------------------------------------------------------------


def _scope(query: PendingQuery, catalog: CatalogReader) -> tuple[str, str] | Literal[False] | None:
    """The one filter the query runs with (the narrowest given), or False when the filters cannot
    all hold (a resource outside the given module or pathway)."""
    if query.resource_id:
        res = catalog.resources([query.resource_id]).get(query.resource_id)
        if res is not None and (
            (query.module_id and res.module_id != query.module_id)
            or (query.pathway_id and res.pathway_id != query.pathway_id)
        ):
            return False
        return ("resource_id", query.resource_id)
    if query.module_id:
        mod = catalog.modules([query.module_id]).get(query.module_id)
        if mod is not None and query.pathway_id and mod.pathway_id != query.pathway_id:
            return False
        return ("module_id", query.module_id)
    if query.pathway_id:
        return ("pathway_id", query.pathway_id)
    return None


def _audience(me: Caller, query: PendingQuery, cohorts: CohortStore) -> tuple[str, str] | None:
    """Whose submissions the queue may show: a cohort's (``cohort_ids`` array-contains; an
    instructor must teach it, else 404), else an instructor's learners (``instructor_uids``
    array-contains the caller), else (an admin) everyone's. Both fields are copied onto each
    submission from the learner's membership (shared.services.cohorts)."""
    if query.cohort_id:
        if not me.admin:
            visible_cohort(me, query.cohort_id, store=cohorts)
        return ("cohort_ids", query.cohort_id)
    if me.admin:
        return None
    return ("instructor_uids", me.uid)


def pending_queue(
    me: Caller,
    query: PendingQuery,
    *,
    store: SubmissionStore,
    profiles: ProfileStore,
    catalog: CatalogReader,
    cohorts: CohortStore,
) -> PendingPage:
    """One page of the queue: one bounded query (scoped to the caller's learners), then reads by
    key for the context."""
    after = decode_cursor(query.cursor) if query.cursor else None
    audience = _audience(me, query, cohorts)
    scope = _scope(query, catalog)
    if scope is False:
        return PendingPage(submissions=[], next_cursor=None)
    subs = store.pending(scope, query.limit + 1, after, audience=audience)
    page, more = subs[: query.limit], len(subs) > query.limit
    last = page[-1] if page else None
    next_cursor = None
    if more and last is not None and last.uploaded_at is not None:
        next_cursor = encode_cursor(last.uploaded_at, last.submission_id)
    return PendingPage(
        submissions=with_context(page, store=store, profiles=profiles, catalog=catalog),
        next_cursor=next_cursor,
    )


def with_context(
    page: list[Submission],
    *,
    store: SubmissionStore,
    profiles: ProfileStore,
    catalog: CatalogReader,
) -> list[ReviewItem]:
    """The page's items with the learner's name, the titles and the earlier attempts (reads by key,
    each kind in one batch)."""
    if not page:
        return []
    people = profiles.profiles(_distinct(s.user_id for s in page))
    resources = catalog.resources(_distinct(s.resource_id for s in page))
    modules = catalog.modules(_distinct(s.module_id for s in page))
    pathways = catalog.pathways(_distinct(s.pathway_id for s in page))
    indexes = store.indexes(_distinct((s.user_id, s.resource_id) for s in page))
    earlier_ids: dict[str, list[str]] = {}
    totals: dict[str, int] = {}
    for s in page:
        index = indexes.get((s.user_id, s.resource_id))
        entries = sorted(
            (
                (e.attempt, sid)
                for sid, e in (index.submissions.items() if index else ())
                if e.attempt < s.attempt and e.status in SHOWN_EARLIER
            ),
            reverse=True,
        )
        totals[s.submission_id] = len(entries)
        earlier_ids[s.submission_id] = [sid for _, sid in entries[:MAX_EARLIER]]
    earlier = store.submissions([sid for ids in earlier_ids.values() for sid in ids])
    items = []
    for s in page:
        person = people.get(s.user_id)
        res, mod, path = (
            resources.get(s.resource_id),
            modules.get(s.module_id),
            pathways.get(s.pathway_id),
        )
        # the learner's due time recorded with the upload (shared.domain.due), else the catalog's
        due_at = s.due_at if s.due_at is not None else (res.due_at if res else None)
        attempts = [
            EarlierAttempt.model_validate(earlier[sid].model_dump(include=_EARLIER_FIELDS))
            for sid in earlier_ids[s.submission_id]
            if sid in earlier
        ]
        items.append(
            ReviewItem.model_validate(
                {
                    **SubmissionSummary.of(s).model_dump(),
                    "learner_name": person.display_name if person else None,
                    "learner_email": person.email if person else None,
                    "resource_title": res.title if res else None,
                    "module_title": mod.title if mod else None,
                    "pathway_title": path.title if path else None,
                    "earlier_attempts": attempts,
                    "earlier_attempts_total": totals[s.submission_id],
                    "due_at": due_at,
                    "late": due_at is not None
                    and s.uploaded_at is not None
                    and s.uploaded_at > due_at,
                }
            )
        )
    return items


_EARLIER_FIELDS = set(EarlierAttempt.model_fields)


def _distinct(values: Iterable[K]) -> list[K]:
    return list(dict.fromkeys(values))


# ---- recent decisions (to revise one) ------------------------------------------------------------


class DecidedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["approved", "rejected"] = "approved"
    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


class DecidedItem(ReviewItem):
    """A reviewed submission with its context and the decision (what a revision starts from)."""

    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    review_comments: str | None = None
    grade: int | None = None
    revision: int = 0
    revision_reason: str | None = None


class DecidedPage(BaseModel):
    submissions: list[DecidedItem]
    next_cursor: str | None


_DECISION_FIELDS = {"reviewed_by", "reviewed_at", "review_comments", "grade", "revision"}
_DECISION_FIELDS |= {"revision_reason"}


def decided_queue(
    me: Caller,
    query: DecidedQuery,
    *,
    store: SubmissionStore,
    profiles: ProfileStore,
    catalog: CatalogReader,
) -> DecidedPage:
    """Approved (or rejected) submissions, the latest decision first: one bounded query (a page
    of at most :data:`MAX_PAGE`), then the same reads by key as the pending queue. An instructor
    sees the decisions on their cohorts' learners (``instructor_uids``, as the pending queue); an
    admin everyone's."""
    after = decode_cursor(query.cursor) if query.cursor else None
    instructor = None if me.admin else me.uid
    subs = store.decided(
        SubmissionStatus(query.status), query.limit + 1, after, instructor=instructor
    )
    page, more = subs[: query.limit], len(subs) > query.limit
    last = page[-1] if page else None
    next_cursor = None
    if more and last is not None and last.reviewed_at is not None:
        next_cursor = encode_cursor(last.reviewed_at, last.submission_id)
    items = with_context(page, store=store, profiles=profiles, catalog=catalog)
    return DecidedPage(
        submissions=[
            DecidedItem.model_validate(
                {**item.model_dump(), **sub.model_dump(include=_DECISION_FIELDS)}
            )
            for item, sub in zip(items, page, strict=True)
        ],
        next_cursor=next_cursor,
    )


# ---- deciding ----------------------------------------------------------------------------------


def _check_decision(decision: str, comments: str) -> bool:
    if decision == "reject" and not comments.strip():
        raise InvalidArgument("a rejection needs comments for the learner")
    return decision == "approve"


def _status(approved: bool) -> SubmissionStatus:
    return SubmissionStatus.approved if approved else SubmissionStatus.rejected


def _notify(tasks: TaskQueue, task_id: str, payload: dict[str, object]) -> None:
    try:
        tasks.enqueue(NOTIFY_TASK, task_id, payload)
    except Exception as exc:  # noqa: BLE001 - the decision stands; the notification is best effort
        log.error(
            "could not enqueue the notification",
            submission_id=payload.get("submission_id"),
            error=repr(exc),
        )


def _decide(
    me: Caller,
    submission_id: str,
    req: ReviewRequest,
    *,
    store: SubmissionStore,
    now: Clock,
    repeat_ok: bool = False,
) -> tuple[SubmissionView, bool]:
    """The first decision, in one transaction: (the submission, whether this call applied it).
    ``repeat_ok``: a submission this instructor already decided the same way at the same
    generation is answered as it stands (a repeated bulk call), without a write."""
    approved = _check_decision(req.decision, req.comments)

    def work(tx: Tx) -> tuple[SubmissionView, bool]:
        sub = tx.submission(submission_id)
        if sub is None or sub.status == SubmissionStatus.deleted:
            raise NotFound(f"no submission {submission_id}")
        require_supervision(me, sub.user_id, tx, what=f"submission {submission_id}")
        same = (
            sub.status == _status(approved)
            and sub.reviewed_by == me.uid
            and sub.revision == 0
            and str(sub.gcs_generation) == req.generation
        )
        if repeat_ok and same:
            return SubmissionView.of(sub), False
        if sub.status != SubmissionStatus.uploaded:
            raise Conflict(f"submission {submission_id} is {sub.status}, not awaiting review")
        if str(sub.gcs_generation) != req.generation:
            raise Conflict(
                f"the file of submission {submission_id} changed since generation "
                f"{req.generation} was reviewed (now {sub.gcs_generation}): review it again"
            )
        state = ResourceState.read(
            tx, sub.user_id, sub.resource_id, store.get_resource(sub.resource_id)
        )
        at = state.stamp(now())
        reviewed = sub.model_copy(
            update={
                "status": _status(approved),
                "reviewed_by": me.uid,
                "reviewed_at": at,
                "review_comments": req.comments,
                "grade": req.grade,
            }
        )
        # The resource follows all of the learner's submissions: rejecting an older attempt while a
        # newer one awaits review leaves it ``submitted``; an approval anywhere keeps it ``reviewed``.
        resource_status = state.write(tx, reviewed, at, action="submission_reviewed")
        tx.put_audit(
            audit.entry(
                actor=me.uid,
                action="submission_reviewed",
                outcome="approved" if approved else "rejected",
                submission=sub,
                at=at,
                grade=req.grade,
                reviewed_generation=req.generation,
                resource_status=str(resource_status),
            )
        )
        return SubmissionView.of(reviewed), True

    return store.transact(work, lock=submission_lock(submission_id))


def review_submission(
    me: Caller,
    submission_id: str,
    req: ReviewRequest,
    *,
    store: SubmissionStore,
    tasks: TaskQueue,
    now: Clock = utcnow,
) -> SubmissionView:
    view, _ = _decide(me, submission_id, req, store=store, now=now)
    _notify(
        tasks,
        f"notify-{submission_id}-{req.decision}",
        {"submission_id": submission_id, "decision": req.decision},
    )
    log.info(
        "submission reviewed",
        submission_id=submission_id,
        uid=view.user_id,
        reviewer=me.uid,
        decision=req.decision,
    )
    return view


def revise_submission(
    me: Caller,
    submission_id: str,
    req: ReviseRequest,
    *,
    store: SubmissionStore,
    tasks: TaskQueue,
    now: Clock = utcnow,
) -> SubmissionView:
    """A new decision, grade and comments for a reviewed submission, with a reason."""
    approved = _check_decision(req.decision, req.comments)

    def work(tx: Tx) -> tuple[SubmissionView, bool]:
        sub = tx.submission(submission_id)
        if sub is None or sub.status == SubmissionStatus.deleted:
            raise NotFound(f"no submission {submission_id}")
        require_supervision(me, sub.user_id, tx, what=f"submission {submission_id}")
        repeated = (
            sub.revision == req.revision + 1
            and sub.reviewed_by == me.uid
            and sub.status == _status(approved)
            and (sub.grade, sub.review_comments, sub.revision_reason)
            == (req.grade, req.comments, req.reason)
        )
        if repeated:  # this very revision, sent again (a client retrying): answered as it stands
            return SubmissionView.of(sub), False
        if sub.status not in REVIEWED:
            raise Conflict(
                f"submission {submission_id} is {sub.status}: only a decision can be revised "
                "(review it first)"
            )
        if sub.revision != req.revision:
            raise Conflict(
                f"the decision on submission {submission_id} was revised since revision "
                f"{req.revision} (now {sub.revision}): reload it and revise again"
            )
        state = ResourceState.read(
            tx, sub.user_id, sub.resource_id, store.get_resource(sub.resource_id)
        )
        at = state.stamp(now())
        revision = sub.revision + 1
        revised = sub.model_copy(
            update={
                "status": _status(approved),
                "reviewed_by": me.uid,
                "reviewed_at": at,
                "review_comments": req.comments,
                "grade": req.grade,
                "revision": revision,
                "revision_reason": req.reason,
            }
        )
        # An approval revised to a rejection takes the resource back (unless another attempt is
        # approved or awaits review), and the other way round: the one rule of shared.domain.uploads.
        resource_status = state.write(tx, revised, at, action="submission_revised")
        tx.put_audit(
            audit.entry(
                actor=me.uid,
                action="submission_revised",
                outcome="approved" if approved else "rejected",
                submission=sub,
                at=at,
                revision=revision,
                previous_status=str(sub.status),
                previous_grade=sub.grade,
                previous_reviewer=sub.reviewed_by,
                grade=req.grade,
                reason=req.reason,
                resource_status=str(resource_status),
            )
        )
        return SubmissionView.of(revised), True

    view, applied = store.transact(work, lock=submission_lock(submission_id))
    if not applied:
        return view
    _notify(
        tasks,
        f"notify-{submission_id}-revision-{view.revision}",
        {"submission_id": submission_id, "decision": req.decision, "revision": view.revision},
    )
    log.info(
        "submission decision revised",
        submission_id=submission_id,
        uid=view.user_id,
        reviewer=me.uid,
        decision=req.decision,
        revision=view.revision,
    )
    return view


def bulk_approve(
    me: Caller,
    req: BulkApproveRequest,
    *,
    store: SubmissionStore,
    tasks: TaskQueue,
    now: Clock = utcnow,
    workers: int = BULK_WORKERS,
) -> BulkReply:
    """Approve each named submission in its own transaction (``workers`` at a time; they share
    nothing, each names its own lock); one result per item, in the order asked."""

    def approve(item: BulkItem) -> BulkResult:
        one = ReviewRequest(
            decision="approve", generation=item.generation, grade=req.grade, comments=req.comments
        )
        try:
            view, applied = _decide(
                me, item.submission_id, one, store=store, now=now, repeat_ok=True
            )
        except AppError as exc:
            error = ItemError(code=exc.code, message=exc.message)
            return BulkResult(submission_id=item.submission_id, status=exc.status, error=error)
        if applied:
            _notify(
                tasks,
                f"notify-{item.submission_id}-approve",
                {"submission_id": item.submission_id, "decision": "approve"},
            )
        return BulkResult(
            submission_id=item.submission_id, status=200, applied=applied, submission=view
        )

    if workers <= 1 or len(req.submissions) == 1:
        results = [approve(item) for item in req.submissions]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, len(req.submissions))) as pool:
            results = list(pool.map(approve, req.submissions))
    approved = sum(1 for r in results if r.applied)
    log.info("bulk approval", reviewer=me.uid, asked=len(req.submissions), approved=approved)
    return BulkReply(results=results, approved=approved)
