"""``task_reconcile``: one batch of a drift-repair run, called by Cloud Tasks only (the queue's auth is
checked, as for every task handler). See :mod:`shared.services.reconcile` for what it repairs and how
a run is chained and resumed; ``python -m ops reconcile`` starts a run and reports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http import Call, Router
from shared.services import reconcile as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router(service.TASK_ENTRY_POINT)


@router.post("/", auth="none")
def reconcile(call: Call) -> service.BatchResult:
    from shared.adapters import learners
    from shared.adapters.tasks import queue, verify_task_call

    verify_task_call(call.request.headers, service.TASK_ENTRY_POINT)
    return service.reconcile_batch(
        call.body(service.ReconcileBatch),
        reconciler=learners.reconciler(),
        runs=learners.run_log(),
        queue=queue(),
        page_size=learners.page_size(),
    )


def task_reconcile(request: flask.Request) -> flask.Response:
    return router(request)
