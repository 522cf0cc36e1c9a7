"""``resources``: the catalog listing, with the caller's status when a token is given.

``auth="optional"``: no ``Authorization`` header → the listing without ``status``; a header with an
invalid, expired or forged token → 401 (never silently anonymous).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework

from shared.bootstrap import deps
from shared.http import Call, Router
from shared.services import catalog as service
from shared.services.ports import CohortReader

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("resources")


def _uid(call: Call) -> str | None:
    return call.caller.uid if call.caller is not None else None


def _cohorts(call: Call) -> CohortReader | None:
    """Where a signed-in caller's relative due dates count from (not built for anonymous calls)."""
    return deps().cohorts if call.caller is not None else None


@router.get("/pathways/{pathway_id}/resources", auth="optional")
def pathway_resources(call: Call) -> dict[str, Any]:
    d = deps()
    listing = service.list_pathway(
        d.catalog, d.progress, call.params["pathway_id"], _uid(call), _cohorts(call)
    )
    return listing.model_dump(mode="json", exclude_none=True)


@router.get("/modules/{module_id}/resources", auth="optional")
def module_resources(call: Call) -> dict[str, Any]:
    d = deps()
    listing = service.list_module(
        d.catalog, d.progress, call.params["module_id"], _uid(call), _cohorts(call)
    )
    return listing.model_dump(mode="json", exclude_none=True)


@functions_framework.http
def resources(request: flask.Request) -> flask.Response:
    return router(request)
