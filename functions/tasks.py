"""Task handlers, called by Cloud Tasks only (the router does no user auth; the queue's is checked).

``task_reevaluate_learners`` starts the chained re-evaluation of a pathway's learners (a
``task_reconcile`` run: bounded batches with a cursor; see ``shared.services.tasks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bootstrap import deps
from shared.http import Call, Router
from shared.services import tasks as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

expire_router = Router("task_expire_upload")
notify_router = Router("task_notify_learner")


def _queue_auth(call: Call, entry_point: str) -> None:
    from shared.adapters.tasks import verify_task_call

    verify_task_call(call.request.headers, entry_point)


@expire_router.post("/", auth="none")
def expire(call: Call) -> service.TaskOutcome:
    _queue_auth(call, "task_expire_upload")
    return service.expire_upload(call.body(service.ExpireUpload), store=deps().submissions)


@notify_router.post("/", auth="none")
def notify(call: Call) -> service.TaskOutcome:
    _queue_auth(call, "task_notify_learner")
    return service.notify_learner(call.body(service.NotifyLearner), store=deps().submissions)


def task_expire_upload(request: flask.Request) -> flask.Response:
    return expire_router(request)


def task_notify_learner(request: flask.Request) -> flask.Response:
    return notify_router(request)


reevaluate_router = Router("task_reevaluate_learners")


@reevaluate_router.post("/", auth="none")
def reevaluate(call: Call) -> service.ReevaluateOutcome:
    _queue_auth(call, "task_reevaluate_learners")
    d = deps()
    return service.reevaluate_learners(
        call.body(service.ReevaluateLearners),
        catalog=d.fresh_catalog,
        start=d.start_run,
        task_name=call.request.headers.get("X-CloudTasks-TaskName"),
    )


def task_reevaluate_learners(request: flask.Request) -> flask.Response:
    return reevaluate_router(request)
