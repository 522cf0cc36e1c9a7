"""Cloud Tasks: enqueue HTTP tasks for the task_* functions, and check that a call came from the queue.

Enqueue: task names are derived from ids (``expire-{submission}``, ``notify-{submission}-{decision}``),
so a retried request cannot enqueue the same work twice; ``ALREADY_EXISTS`` counts as success.
``CLOUD_TASKS_EMULATOR_HOST`` selects the local emulator (insecure gRPC channel).

Who may call a task handler (the same check everywhere, see :mod:`shared.domain.identity`):
- production: Cloud Tasks attaches an OIDC token for ``TASKS_SERVICE_ACCOUNT`` with the handler's URL
  as audience; Cloud Run checks it for IAM (only that account holds ``run.invoker`` on the task
  handlers) and forwards it with its signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``, in
  ``Authorization`` or, when the caller used it, ``X-Serverless-Authorization`` (which Cloud Run
  then checks instead). The handler checks the forwarded claims: audience = its own URL, email = the
  queue's account, ``email_verified``, Google issuer, not expired.
- locally (``CLOUD_TASKS_EMULATOR_HOST``): the emulator ignores ``oidc_token`` but forwards the
  task's own HTTP headers (gcloud-tasks-emulator 0.6.2, ``_make_task_request``), so each task
  carries ``Authorization: Bearer <header>.<claims>.SIGNATURE_REMOVED_BY_GOOGLE`` with the claims
  Cloud Tasks would mint for the local account (``aibc-tasks-invoker@<project>.iam...`` unless
  ``TASKS_SERVICE_ACCOUNT`` says otherwise), valid for an hour from the task's schedule time.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from typing import Any

from shared import log
from shared.config import Settings, settings
from shared.domain.identity import (
    TokenRefused,
    check_task_claims,
    forwarded_claims,
    forwarded_token,
    task_claims,
)
from shared.errors import PermissionDenied, Unauthenticated

# How long Cloud Tasks waits for a task's answer: the task functions' request timeout
# (deploy/plan.py SIZING["task"], a test ties the two). Cloud Run ends the request there; Cloud
# Tasks' own default (10 min) would outlast it. Locally the emulator fails the attempt at this
# deadline, which is how a batch too long for production shows here (localcloud/tasks_emulator.py).
DISPATCH_DEADLINE_SECONDS = 300

# Cloud Run checks this one for IAM when both are present, and forwards Authorization untouched.
SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization"


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
        from google.protobuf import duration_pb2, timestamp_pb2

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
            if cfg.tasks_service_account:
                headers["Authorization"] = "Bearer " + local_task_token(cfg, url, at)
        elif cfg.tasks_service_account:
            request["oidc_token"] = {
                "service_account_email": cfg.tasks_service_account,
                "audience": url,
            }
        task: dict[str, Any] = {
            "name": f"{parent}/tasks/{task_id}",
            "http_request": request,
            "dispatch_deadline": duration_pb2.Duration(seconds=DISPATCH_DEADLINE_SECONDS),
        }
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


def local_task_token(cfg: Settings, url: str, at: dt.datetime | None = None) -> str:
    """The token a task carries locally: what Cloud Run forwards, minted when the task is due."""
    if not cfg.tasks_service_account:
        raise RuntimeError("TASKS_SERVICE_ACCOUNT is not set")
    issued = int((at or dt.datetime.now(dt.UTC)).timestamp())
    claims = task_claims(audience=url, email=cfg.tasks_service_account, issued_at=issued)
    return forwarded_token(claims)


def forwarded_bearer(headers: Any) -> str | None:
    """The token Cloud Run checked: ``X-Serverless-Authorization`` if present, else ``Authorization``."""
    value = headers.get(SERVERLESS_AUTHORIZATION) or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def verify_task_call(
    headers: Any, entry_point: str, cfg: Settings | None = None, *, now: float | None = None
) -> None:
    """Raise unless the call carries the queue's forwarded OIDC token (see the module docstring).

    ``headers``: anything with a case-insensitive ``get``, such as a flask request's headers.
    """
    cfg = cfg or settings()
    if not cfg.tasks_service_account:
        raise PermissionDenied("TASKS_SERVICE_ACCOUNT is not configured")
    token = forwarded_bearer(headers)
    if token is None:
        log.warning("task call refused", function=entry_point, reason="no token")
        raise Unauthenticated("task calls carry the queue's OIDC token")
    try:
        check_task_claims(
            forwarded_claims(token),
            audience=task_url(cfg, entry_point),
            email=cfg.tasks_service_account,
            now=time.time() if now is None else now,
        )
    except TokenRefused as exc:
        log.warning("task call refused", function=entry_point, reason=str(exc))
        if exc.unauthenticated:
            raise Unauthenticated(str(exc)) from None
        raise PermissionDenied(str(exc)) from None
