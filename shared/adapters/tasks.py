"""Cloud Tasks: enqueue HTTP tasks for the task_* functions, and check that a call came from the queue.

Enqueue: task names are derived from ids (``expire-{submission}``, ``notify-{submission}-{decision}``),
so a retried request cannot enqueue the same work twice; ``ALREADY_EXISTS`` counts as success.
``CLOUD_TASKS_EMULATOR_HOST`` selects the local emulator (insecure gRPC channel).

Who may call a task handler:
- production: Cloud Tasks attaches an OIDC token for ``TASKS_SERVICE_ACCOUNT`` with the handler's URL
  as audience; the handler verifies its signature, audience and email.
- locally (only while ``CLOUD_TASKS_EMULATOR_HOST`` is set): the emulator forwards the task's own HTTP
  headers (checked in gcloud-tasks-emulator 0.6.2, ``_make_task_request``), so each task carries
  ``X-Aibc-Task-Secret: $TASKS_LOCAL_SECRET`` (random per ``make up``) and the handler compares it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
from typing import Any

from shared import log
from shared.config import Settings, settings
from shared.errors import PermissionDenied, Unauthenticated

TASK_SECRET_HEADER = "X-Aibc-Task-Secret"  # noqa: S105 - a header name, not a secret


@functools.cache
def tasks_client() -> Any:
    from google.cloud import tasks_v2

    host = settings().tasks_emulator_host
    if host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return tasks_v2.CloudTasksClient()


def task_url(cfg: Settings, entry_point: str) -> str:
    url = cfg.functions_base.get(entry_point.lower())
    if not url:
        raise RuntimeError(f"FUNCTION_URL_{entry_point.upper()} is not set")
    return url


class CloudTasksQueue:
    def __init__(self, cfg: Settings | None = None) -> None:
        self._cfg = cfg

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    def enqueue(
        self,
        entry_point: str,
        task_id: str,
        payload: dict[str, Any],
        *,
        at: dt.datetime | None = None,
    ) -> None:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import tasks_v2
        from google.protobuf import timestamp_pb2

        cfg = self.cfg
        client = tasks_client()
        parent = client.queue_path(cfg.project_id, cfg.region, cfg.tasks_queue)
        url = task_url(cfg, entry_point)
        headers = {"Content-Type": "application/json"}
        request: dict[str, Any] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": url,
            "headers": headers,
            "body": json.dumps(payload).encode(),
        }
        if cfg.tasks_emulator_host:
            if cfg.tasks_local_secret:
                headers[TASK_SECRET_HEADER] = cfg.tasks_local_secret
        elif cfg.tasks_service_account:
            request["oidc_token"] = {
                "service_account_email": cfg.tasks_service_account,
                "audience": url,
            }
        task: dict[str, Any] = {"name": f"{parent}/tasks/{task_id}", "http_request": request}
        if at is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(at.astimezone(dt.UTC).replace(tzinfo=None))
            task["schedule_time"] = stamp
        try:
            client.create_task(parent=parent, task=task)
        except AlreadyExists:
            log.info("task already enqueued", task=task_id, entry_point=entry_point)
            return
        log.info("task enqueued", task=task_id, entry_point=entry_point, at=at)


@functools.cache
def queue() -> CloudTasksQueue:
    return CloudTasksQueue()


def verify_task_call(headers: Any, entry_point: str, cfg: Settings | None = None) -> None:
    """Raise unless the call carries the queue's auth (see the module docstring).

    ``headers``: anything with a case-insensitive ``get``, such as a flask request's headers.
    """
    cfg = cfg or settings()
    if cfg.tasks_emulator_host:
        expected = cfg.tasks_local_secret
        given = headers.get(TASK_SECRET_HEADER)
        if not expected:
            raise PermissionDenied("TASKS_LOCAL_SECRET is not configured")
        if not given:
            raise Unauthenticated(f"task calls carry {TASK_SECRET_HEADER}")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise PermissionDenied("not called by the task queue")
        return
    if not cfg.tasks_service_account:
        raise PermissionDenied("TASKS_SERVICE_ACCOUNT is not configured")
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("task calls carry an OIDC token")
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    try:
        verify: Any = id_token.verify_oauth2_token
        claims: dict[str, Any] = verify(token, Request(), audience=task_url(cfg, entry_point))
    except ValueError:
        raise Unauthenticated("invalid OIDC token") from None
    if claims.get("email") != cfg.tasks_service_account or not claims.get("email_verified"):
        raise PermissionDenied("not called by the task queue's service account")
