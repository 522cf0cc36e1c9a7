"""``dashboard``: a cohort's progress on a pathway at a glance (the cohort's instructors and admins);
``on_dashboard_progress_written`` and ``on_cohort_member_written``: the triggers that keep the
aggregates it is served from (see :mod:`shared.services.dashboard`).

The triggers decide whether an event is theirs from the event alone, before any dependency is built:
an event on another path, or one that cannot be decoded, is logged and acknowledged. Anything else
that fails raises, so Eventarc delivers the event again (the sync is idempotent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework

from shared import log
from shared.bootstrap import deps
from shared.domain.models import known_id
from shared.errors import UnusableEvent
from shared.events import decode_document_event
from shared.http import Call, Router
from shared.services import dashboard as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("dashboard")


@router.get("/cohorts/{cohort_id}/pathways/{pathway_id}/dashboard")
def cohort_dashboard(call: Call) -> service.DashboardReply:
    d = deps()
    return service.dashboard(
        call.me,
        known_id(call.params["cohort_id"], "cohort"),
        known_id(call.params["pathway_id"], "pathway"),
        call.query(service.DashboardQuery),
        store=d.dashboard,
        catalog=d.catalog,
    )


@router.get("/dashboard/cohorts")
def cohorts(call: Call) -> service.CohortList:
    d = deps()
    return service.my_cohorts(call.me, store=d.dashboard, catalog=d.catalog)


def dashboard(request: flask.Request) -> flask.Response:
    return router(request)


@functions_framework.cloud_event
def on_dashboard_progress_written(cloud_event: Any) -> None:
    try:
        change = decode_document_event(cloud_event)
        service.owned_progress(change)
        d = deps()
        service.progress_written(change, d.catalog, d.dashboard)
    except UnusableEvent as exc:
        log.warning("event dropped", function="on_dashboard_progress_written", reason=exc.message)


@functions_framework.cloud_event
def on_cohort_member_written(cloud_event: Any) -> None:
    try:
        change = decode_document_event(cloud_event)
        service.owned_member(change)
        d = deps()
        service.member_written(change, d.catalog, d.dashboard)
    except UnusableEvent as exc:
        log.warning("event dropped", function="on_cohort_member_written", reason=exc.message)
