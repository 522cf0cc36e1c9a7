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
from shared.domain.progress import ProgressReport, ResourceProgressView
from shared.http import Call, Router
from shared.services import progress
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


@router.get("/admin/submissions/decided", auth="instructor")
def decided(call: Call) -> service.DecidedPage:
    d = deps()
    return service.decided_queue(
        call.me,
        call.query(service.DecidedQuery),
        store=d.submissions,
        profiles=d.profiles,
        catalog=d.catalog,
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


# ---- excusing a learner from a resource (shared.services.progress.excuse) ----
# Authorization: the instructor claim, as every route of this function (``auth="instructor"``),
# and the learner in the caller's cohorts (shared.services.access, checked in the transaction).


def _learner(call: Call) -> tuple[str, str]:
    """The learner and resource a route names."""
    return known_id(call.params["uid"], "learner"), call.params["resource_id"]


@router.post("/admin/users/{uid}/resources/{resource_id}/excuse", auth="instructor")
def excuse(call: Call) -> ResourceProgressView:
    uid, rid = _learner(call)
    d = deps()
    body = call.body(progress.ExcuseRequest)
    return progress.excuse(d.catalog, d.progress, call.me, uid, rid, body)


@router.post("/admin/users/{uid}/resources/{resource_id}/unexcuse", auth="instructor")
def unexcuse(call: Call) -> ResourceProgressView:
    uid, rid = _learner(call)
    d = deps()
    body = call.body(progress.ExcuseRequest)
    return progress.unexcuse(d.catalog, d.progress, call.me, uid, rid, body)


@router.get("/admin/users/{uid}/progress/{pathway_id}", auth="instructor")
def learner_report(call: Call) -> ProgressReport:
    """A learner's progress in a pathway as they see it (status, late, excused, due time), for the
    instructor's excuse screen (web/src/excuses.js)."""
    uid = known_id(call.params["uid"], "learner")
    d = deps()
    pid = call.params["pathway_id"]
    return progress.learner_report(call.me, d.catalog, d.progress, d.cohorts, uid, pid)


@router.get("/admin/users/{uid}/excuses", auth="instructor")
def excuse_trail(call: Call) -> progress.ExcuseTrail:
    """The learner's excuse trail in a pathway (the audit entries), scoped as the excuse."""
    uid = known_id(call.params["uid"], "learner")
    d = deps()
    query = call.query(progress.ExcuseTrailQuery)
    return progress.excuse_trail(call.me, d.cohorts, d.excuse_log, uid, query)


def review(request: flask.Request) -> flask.Response:
    return router(request)
