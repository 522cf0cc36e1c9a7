"""``review``: the instructor's pending queue and approve / reject (``instructor`` claim required)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.uploads import _store, _tasks, path_id
from shared.http import Call, Router
from shared.services import review as service
from shared.services.uploads import SubmissionView

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("review")


@router.get("/admin/submissions/pending", auth="instructor")
def pending(call: Call) -> service.PendingPage:
    return service.pending_queue(call.query(service.PendingQuery), store=_store())


@router.post("/admin/submissions/{submission_id}/review", auth="instructor")
def review_one(call: Call) -> SubmissionView:
    return service.review_submission(
        call.me,
        path_id(call, "submission_id"),
        call.body(service.ReviewRequest),
        store=_store(),
        tasks=_tasks(),
    )


def review(request: flask.Request) -> flask.Response:
    return router(request)
