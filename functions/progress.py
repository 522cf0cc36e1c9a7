"""``progress``: the learner's own progress (``me`` is always the token's uid).

Routes (see docs/API.md): the pathway report, one resource's progress, ``start``,
``PUT progress``, ``complete`` and ``uncomplete``. Each write is one Firestore transaction that also
appends to ``users/{uid}/progress_events``; the rules are in :mod:`shared.domain.progress`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.bootstrap import deps
from shared.domain.progress import ProgressReport, ProgressUpdate, ResourceProgressView
from shared.http import Call, Router
from shared.services import progress as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("progress")


@router.get("/users/me/progress/{pathway_id}")
def report(call: Call) -> ProgressReport:
    d = deps()
    return service.report(d.catalog, d.progress, call.me.uid, call.params["pathway_id"], d.cohorts)


@router.get("/users/me/resources/{resource_id}/progress")
def one(call: Call) -> ResourceProgressView:
    rid = call.params["resource_id"]
    return service.resource_progress(deps().catalog, deps().progress, call.me.uid, rid)


@router.post("/users/me/resources/{resource_id}/start")
def start(call: Call) -> ResourceProgressView:
    rid = call.params["resource_id"]
    return service.start(deps().catalog, deps().progress, call.me.uid, rid)


@router.put("/users/me/resources/{resource_id}/progress")
def update(call: Call) -> ResourceProgressView:
    body = call.body(ProgressUpdate)
    rid = call.params["resource_id"]
    return service.update(deps().catalog, deps().progress, call.me.uid, rid, body)


@router.post("/users/me/resources/{resource_id}/complete")
def complete(call: Call) -> ResourceProgressView:
    rid = call.params["resource_id"]
    return service.complete(deps().catalog, deps().progress, call.me.uid, rid)


@router.post("/users/me/resources/{resource_id}/uncomplete")
def uncomplete(call: Call) -> ResourceProgressView:
    rid = call.params["resource_id"]
    return service.uncomplete(deps().catalog, deps().progress, call.me.uid, rid)


@functions_framework.http
def progress(request: flask.Request) -> flask.Response:
    return router(request)
