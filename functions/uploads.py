"""``uploads``: upload URLs, a learner's submissions, download URLs, soft delete (see docs/API.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bootstrap import deps
from shared.domain.models import known_id
from shared.http import Call, Router
from shared.services import uploads as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("uploads")


@router.post("/users/me/resources/{resource_id}/upload-url")
def upload_url(call: Call) -> tuple[service.UploadUrlReply, int]:
    d = deps()
    reply = service.issue_upload_url(
        call.me,
        known_id(call.params["resource_id"], "resource"),
        call.body(service.UploadUrlRequest),
        store=d.submissions,
        objects=d.objects,
        tasks=d.tasks,
        cfg=d.settings,
        catalog=d.catalog,
    )
    return reply, 201


@router.get("/users/me/resources/{resource_id}/submissions")
def my_submissions(call: Call) -> service.SubmissionList:
    rid = known_id(call.params["resource_id"], "resource")
    return service.list_submissions(call.me, rid, store=deps().submissions)


@router.get("/users/me/submissions/{submission_id}/download-url")
def download_url(call: Call) -> service.DownloadReply:
    d = deps()
    sid = known_id(call.params["submission_id"], "submission")
    return service.download_url(
        call.me, sid, store=d.submissions, objects=d.objects, memberships=d.cohorts
    )


@router.delete("/users/me/submissions/{submission_id}")
def delete_submission(call: Call) -> service.DeleteReply:
    d = deps()
    sid = known_id(call.params["submission_id"], "submission")
    return service.delete_submission(
        call.me, sid, store=d.submissions, objects=d.objects, cfg=d.settings
    )


def uploads(request: flask.Request) -> flask.Response:
    return router(request)
