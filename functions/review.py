"""``review``: the instructor's pending queue and approve / reject (``instructor`` claim required).

A review names the object generation the instructor saw (see :mod:`shared.services.review`).
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
    return service.pending_queue(call.query(service.PendingQuery), store=deps().submissions)


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


def review(request: flask.Request) -> flask.Response:
    return router(request)
