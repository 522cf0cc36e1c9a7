"""Instructor review: the pending queue (oldest upload first, by cursor) and approve / reject.

A review changes the submission and, in the same transaction, the resource status that follows from
all of the learner's submissions for that resource (see ``shared.domain.uploads``), with a progress
event when it changed.

A review applies to the bytes the instructor saw. The queue and the submission views show the
recorded object generation (``gcs_generation``, the one a download URL is pinned to; a string of
digits, as Cloud Storage's JSON API writes generations, because they exceed what a JavaScript
number holds exactly); the review body names it (``generation``), and the review is refused with 409 when the submission's recorded
generation is another one (the learner uploaded again through the still valid URL since the
instructor looked): the instructor reloads and reviews what is there now. (The other choice,
refusing every write after the first recorded generation, would take away a learner's way to fix a
mistaken upload before anyone looked.) Of several instructors deciding at once, exactly one
wins; the others get 409.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared import log
from shared.domain.identity import Caller
from shared.domain.models import Id, SubmissionStatus
from shared.errors import Conflict, InvalidArgument, NotFound
from shared.services import audit
from shared.services.ports import SubmissionStore, TaskQueue, Tx
from shared.services.uploads import (
    Clock,
    Generation,
    ResourceState,
    SubmissionSummary,
    SubmissionView,
    submission_lock,
    utcnow,
)

NOTIFY_TASK = "task_notify_learner"


class PendingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pathway_id: Id | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


class PendingPage(BaseModel):
    submissions: list[SubmissionSummary]
    next_cursor: str | None


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    # The object generation the instructor reviewed (``gcs_generation`` of the queue item).
    generation: Generation
    grade: int | None = Field(default=None, ge=0, le=100)
    comments: Annotated[str, StringConstraints(max_length=5000)] = ""


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


def pending_queue(query: PendingQuery, *, store: SubmissionStore) -> PendingPage:
    after = decode_cursor(query.cursor) if query.cursor else None
    subs = store.pending(query.pathway_id, query.limit + 1, after)
    page, more = subs[: query.limit], len(subs) > query.limit
    items = [SubmissionSummary.of(s) for s in page]
    last = page[-1] if page else None
    next_cursor = None
    if more and last is not None and last.uploaded_at is not None:
        next_cursor = encode_cursor(last.uploaded_at, last.submission_id)
    return PendingPage(submissions=items, next_cursor=next_cursor)


def review_submission(
    me: Caller,
    submission_id: str,
    req: ReviewRequest,
    *,
    store: SubmissionStore,
    tasks: TaskQueue,
    now: Clock = utcnow,
) -> SubmissionView:
    if req.decision == "reject" and not req.comments.strip():
        raise InvalidArgument("a rejection needs comments for the learner")
    approved = req.decision == "approve"

    def work(tx: Tx) -> SubmissionView:
        sub = tx.submission(submission_id)
        if sub is None or sub.status == SubmissionStatus.deleted:
            raise NotFound(f"no submission {submission_id}")
        if sub.status != SubmissionStatus.uploaded:
            raise Conflict(f"submission {submission_id} is {sub.status}, not awaiting review")
        if str(sub.gcs_generation) != req.generation:
            raise Conflict(
                f"the file of submission {submission_id} changed since generation "
                f"{req.generation} was reviewed (now {sub.gcs_generation}): review it again"
            )
        state = ResourceState.read(tx, sub.user_id, sub.resource_id)
        at = state.stamp(now())
        reviewed = sub.model_copy(
            update={
                "status": SubmissionStatus.approved if approved else SubmissionStatus.rejected,
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
        return SubmissionView.of(reviewed)

    view = store.transact(work, lock=submission_lock(submission_id))
    try:
        tasks.enqueue(
            NOTIFY_TASK,
            f"notify-{submission_id}-{req.decision}",
            {"submission_id": submission_id, "decision": req.decision},
        )
    except Exception as exc:  # noqa: BLE001 - the review stands; the notification is best effort
        log.error(
            "could not enqueue the notification", submission_id=submission_id, error=repr(exc)
        )
    log.info(
        "submission reviewed",
        submission_id=submission_id,
        user_id=view.user_id,
        reviewer=me.uid,
        decision=req.decision,
    )
    return view
