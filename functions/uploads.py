"""``uploads``: upload URLs, a learner's submissions, download URLs, soft delete (see docs/API.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config import settings
from shared.domain.models import valid_id
from shared.errors import NotFound
from shared.http import Call, Router
from shared.services import uploads as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("uploads")


def path_id(call: Call, name: str) -> str:
    value = call.params[name]
    if not valid_id(value):
        raise NotFound(f"no such {name.removesuffix('_id')}")
    return value


# The adapters' cached factories, looked up at call time (tests may replace them).
def _store() -> service.SubmissionStore:
    from shared.adapters import submission_store

    return submission_store.store()


def _objects() -> service.ObjectStore:
    from shared.adapters import storage

    return storage.objects()


def _tasks() -> service.TaskQueue:
    from shared.adapters import tasks

    return tasks.queue()


@router.post("/users/me/resources/{resource_id}/upload-url")
def upload_url(call: Call) -> tuple[service.UploadUrlReply, int]:
    reply = service.issue_upload_url(
        call.me,
        path_id(call, "resource_id"),
        call.body(service.UploadUrlRequest),
        store=_store(),
        objects=_objects(),
        tasks=_tasks(),
        cfg=settings(),
    )
    return reply, 201


@router.get("/users/me/resources/{resource_id}/submissions")
def my_submissions(call: Call) -> service.SubmissionList:
    return service.list_submissions(call.me, path_id(call, "resource_id"), store=_store())


@router.get("/users/me/submissions/{submission_id}/download-url")
def download_url(call: Call) -> service.DownloadReply:
    return service.download_url(
        call.me, path_id(call, "submission_id"), store=_store(), objects=_objects()
    )


@router.delete("/users/me/submissions/{submission_id}")
def delete_submission(call: Call) -> service.DeleteReply:
    return service.delete_submission(
        call.me, path_id(call, "submission_id"), store=_store(), objects=_objects(), cfg=settings()
    )


def uploads(request: flask.Request) -> flask.Response:
    return router(request)
