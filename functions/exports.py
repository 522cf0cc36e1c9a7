"""``exports``: a cohort's progress and grades as CSV and its progress events as xAPI statements
(JSON lines), streamed a page of learners at a time (see :mod:`shared.services.exports`). For the
``admin`` claim or an instructor of the cohort.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from shared.bootstrap import deps
from shared.http import Call, Router, Stream
from shared.services import exports as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("exports")
CSV = "text/csv"
BOM = "\ufeff"  # so that spreadsheets read the file as UTF-8


def _csv(export: service.Export) -> Stream:
    def chunks() -> Iterator[str]:
        yield BOM
        yield from export.chunks

    return Stream(chunks(), CSV, export.filename)


@router.get("/cohorts/{cohort_id}/exports/progress.csv")
def progress_csv(call: Call) -> Stream:
    cid = call.params["cohort_id"]
    query = call.query(service.ProgressQuery)
    return _csv(service.progress_export(call.me, cid, query, deps().export_sources()))


@router.get("/cohorts/{cohort_id}/exports/grades.csv")
def grades_csv(call: Call) -> Stream:
    cid = call.params["cohort_id"]
    query = call.query(service.GradesQuery)
    return _csv(service.grades_export(call.me, cid, query, deps().export_sources()))


@router.get("/cohorts/{cohort_id}/exports/xapi.jsonl")
def xapi_jsonl(call: Call) -> Stream:
    cid = call.params["cohort_id"]
    query = call.query(service.XapiQuery)
    export = service.xapi_export(call.me, cid, query, deps().export_sources())
    return Stream(export.chunks, "application/x-ndjson", export.filename)


def exports(request: flask.Request) -> flask.Response:
    return router(request)
