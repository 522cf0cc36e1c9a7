"""``task_reconcile``: one batch of a drift-repair run, called by Cloud Tasks only (the queue's auth is
checked, as for every task handler). See :mod:`shared.services.reconcile` for what it repairs and how
a run is chained and resumed; ``python -m ops reconcile`` starts a run and reports it.

A body without ``run_id`` (``{}``, or only ``pathway_id`` / ``page_size`` / ``dry_run``) starts the
day's run, ``nightly-{YYYYMMDD}``, in lanes (it enqueues each lane's first batch and replies with
the lanes): what a nightly Cloud Scheduler job sends (an HTTP target with an
OIDC token for the tasks invoker account and this function's URL as audience, as Cloud Tasks does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bootstrap import deps
from shared.http import Call, Router
from shared.services import reconcile as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router(service.TASK_ENTRY_POINT)


@router.post("/", auth="none")
def reconcile(call: Call) -> service.BatchResult | service.RunStarted:
    from shared.adapters.tasks import verify_task_call

    verify_task_call(call.request.headers, service.TASK_ENTRY_POINT)
    data = call.request.get_json(silent=True)
    d = deps()
    if isinstance(data, dict) and "run_id" not in data:  # a scheduler starting the day's run
        first = call.body(service.ScheduledRun).first_batch(service.utcnow())
        return d.start_run(first)
    task = call.body(service.ReconcileBatch)
    return service.reconcile_batch(
        task,
        reconciler=d.reconciler(),
        runs=d.runs,
        queue=d.tasks,
        page_size=d.reconcile_page_size,
        workers=d.reconcile_workers,
    )


def task_reconcile(request: flask.Request) -> flask.Response:
    return router(request)
