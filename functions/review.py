"""``review``: the instructor's pending queue with context, approve / reject, revise a decision and
approve several at once (``instructor`` or ``admin`` claim required; an instructor sees and acts
on the learners of their cohorts only: shared.services.access, 404 for anyone else's).

A review names the object generation the instructor saw, a revision the revision it saw (see
:mod:`shared.services.review`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bootstrap import deps
from shared.domain.models import known_id
from shared.http import Call, Router
from shared.services import review as service
from shared.services.uploads import SubmissionView

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("review")


@router.get("/admin/submissions/pending", auth="instructor")
def pending(call: Call) -> service.PendingPage:
    d = deps()
    return service.pending_queue(
        call.me,
        call.query(service.PendingQuery),
        store=d.submissions,
        profiles=d.profiles,
        catalog=d.catalog,
        cohorts=d.cohorts,
    )


@router.post("/admin/submissions/bulk-review", auth="instructor")
def bulk_review(call: Call) -> service.BulkReply:
    d = deps()
    return service.bulk_approve(
        call.me, call.body(service.BulkApproveRequest), store=d.submissions, tasks=d.tasks
    )


@router.post("/admin/submissions/{submission_id}/review", auth="instructor")
def review_one(call: Call) -> SubmissionView:
    d = deps()
    return service.review_submission(
        call.me,
        known_id(call.params["submission_id"], "submission"),
        call.body(service.ReviewRequest),
        store=d.submissions,
        tasks=d.tasks,
    )


@router.post("/admin/submissions/{submission_id}/revise", auth="instructor")
def revise_one(call: Call) -> SubmissionView:
    d = deps()
    return service.revise_submission(
        call.me,
        known_id(call.params["submission_id"], "submission"),
        call.body(service.ReviseRequest),
        store=d.submissions,
        tasks=d.tasks,
    )


def review(request: flask.Request) -> flask.Response:
    return router(request)
