"""Exports of a cohort (issue 12 item 5): the progress CSV, the grades CSV and the progress events
as xAPI statements (JSON lines), streamed.

Never the whole cohort in memory: the members are read a page at a time
(``cohorts/{cohort_id}/members``, :data:`PAGE_SIZE` uids), and each learner of the page by key or
by one small query (:class:`~shared.services.ports.ExportReads`), ``workers`` learners at once,
their text handed on in member order as soon as it is ready. What may fail for a reason the caller
should hear (no such cohort, not theirs, a pathway the cohort does not have) is checked before the
first byte: :func:`open_export` raises, the stream has not started. A failure after that (the
database unavailable for longer than the client library retries) ends the stream early: the
response is cut off (no final chunk), so a client cannot take a partial file for a whole one.

Who may export: the ``admin`` claim, or the ``instructor`` claim of a uid in the cohort's
``instructor_uids``. A learner is refused (403); an instructor of other cohorts gets 404, as for a
cohort that does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared import log
from shared.domain import exports as rows
from shared.domain.cohorts import Cohort
from shared.domain.identity import Caller
from shared.domain.models import Id, Resource
from shared.errors import NotFound, PermissionDenied
from shared.services import catalog as cat
from shared.services.access import teaches
from shared.services.ports import CatalogReader, ExportReads, ProfileStore

T = TypeVar("T")
PAGE_SIZE = 100  # members read per page
WORKERS = 8  # learners of a page read at once
EVENT_PAGE = 500  # progress events read per query
Kind = Literal["progress", "grades", "xapi"]


class ProgressQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pathway: Id | None = None


class GradesQuery(ProgressQuery):
    pass


class XapiQuery(ProgressQuery):
    since: AwareDatetime | None = None


@dataclass(frozen=True)
class Sources:
    reads: ExportReads
    profiles: ProfileStore
    catalog: CatalogReader
    base: str  # the platform's IRI (xAPI actor home page and activity ids)
    page_size: int = PAGE_SIZE
    workers: int = WORKERS


def authorize(me: Caller, cohort_id: str, reads: ExportReads) -> Cohort:
    cohort = reads.cohort(cohort_id)
    if not me.admin and not me.instructor:
        raise PermissionDenied("exports need the admin claim or an instructor of the cohort")
    if cohort is None or not teaches(me, cohort.instructor_uids):
        raise NotFound(f"no cohort {cohort_id}")
    return cohort


def pathways_of(cohort: Cohort, pathway: str | None) -> list[str]:
    if pathway is None:
        return list(cohort.pathway_ids)
    if pathway not in cohort.pathway_ids:
        raise NotFound(f"cohort {cohort.cohort_id} has no pathway {pathway}")
    return [pathway]


def shape(catalog: CatalogReader, pathway_id: str) -> rows.PathwayShape:
    tree = cat.pathway_tree(catalog, pathway_id)
    return rows.PathwayShape(
        tree.pathway, tuple((m.module, tuple(m.resources)) for m in tree.modules)
    )


def member_pages(reads: ExportReads, cohort_id: str, page_size: int) -> Iterator[list[str]]:
    after: str | None = None
    while True:
        uids = [m.uid for m in reads.members(cohort_id, after=after, limit=page_size)]
        if uids:
            yield uids
        if len(uids) < page_size:
            return
        after = uids[-1]


def _in_order(src: Sources, cohort_id: str, each: Callable[[str, rows.Learner], T]) -> Iterator[T]:
    """``each`` of every member, in member order: a page at a time, ``workers`` at once."""
    with ThreadPoolExecutor(max_workers=max(1, src.workers)) as pool:
        for uids in member_pages(src.reads, cohort_id, src.page_size):
            people = src.profiles.profiles(uids)
            learners = [rows.Learner.of(u, people.get(u)) for u in uids]
            yield from pool.map(lambda p: each(p.uid, p), learners)


@dataclass(frozen=True)
class Export:
    """A checked export, ready to stream."""

    cohort: Cohort
    kind: Kind
    chunks: Iterator[str]

    @property
    def filename(self) -> str:
        ext = "jsonl" if self.kind == "xapi" else "csv"
        return f"{self.cohort.cohort_id}-{self.kind}.{ext}"


def progress_export(me: Caller, cohort_id: str, query: ProgressQuery, src: Sources) -> Export:
    cohort = authorize(me, cohort_id, src.reads)
    shapes = [shape(src.catalog, p) for p in pathways_of(cohort, query.pathway)]

    def learner(uid: str, who: rows.Learner) -> str:
        out: list[list[rows.Cell]] = []
        for s in shapes:
            res, mods, path = src.reads.learner_progress(
                uid, s.resource_ids, s.module_ids, s.pathway.pathway_id
            )
            out.extend(rows.progress_rows(cohort.cohort_id, who, s, res, mods, path))
        return rows.csv_text(out)

    def chunks() -> Iterator[str]:
        yield rows.csv_text([rows.PROGRESS_HEADER])
        yield from _in_order(src, cohort.cohort_id, learner)

    return Export(cohort, "progress", _logged(chunks(), cohort.cohort_id, "progress"))


def grades_export(me: Caller, cohort_id: str, query: GradesQuery, src: Sources) -> Export:
    cohort = authorize(me, cohort_id, src.reads)
    shapes = [shape(src.catalog, p) for p in pathways_of(cohort, query.pathway)]
    titles = _resources(shapes)
    uploads = [rid for rid, r in titles.items() if r.requires_upload]

    def learner(uid: str, who: rows.Learner) -> str:
        subs = src.reads.learner_submissions(uid, uploads)
        subs.sort(key=rows.grade_order)
        return rows.csv_text(
            rows.grade_row(cohort.cohort_id, who, s, titles.get(s.resource_id)) for s in subs
        )

    def chunks() -> Iterator[str]:
        yield rows.csv_text([rows.GRADES_HEADER])
        yield from _in_order(src, cohort.cohort_id, learner)

    return Export(cohort, "grades", _logged(chunks(), cohort.cohort_id, "grades"))


def xapi_export(me: Caller, cohort_id: str, query: XapiQuery, src: Sources) -> Export:
    cohort = authorize(me, cohort_id, src.reads)
    return Export(cohort, "xapi", xapi_lines(cohort, query, src))


def xapi_lines(cohort: Cohort, query: XapiQuery, src: Sources) -> Iterator[str]:
    """The statements as JSON lines, a learner's lines together (checked pathways first)."""
    shapes = [shape(src.catalog, p) for p in pathways_of(cohort, query.pathway)]

    def chunks() -> Iterator[str]:
        for batch in statement_batches(cohort, shapes, query.since, src):
            yield "".join(json.dumps(s, separators=(",", ":")) + "\n" for s in batch)

    return _logged(chunks(), cohort.cohort_id, "xapi")


def statements(cohort: Cohort, query: XapiQuery, src: Sources) -> Iterator[dict[str, Any]]:
    """Every statement of the cohort's learners (for the LRS push), in member then event order."""
    shapes = [shape(src.catalog, p) for p in pathways_of(cohort, query.pathway)]
    for batch in statement_batches(cohort, shapes, query.since, src):
        yield from batch


def statement_batches(
    cohort: Cohort,
    shapes: Sequence[rows.PathwayShape],
    since: dt.datetime | None,
    src: Sources,
) -> Iterator[list[dict[str, Any]]]:
    wanted = {s.pathway.pathway_id for s in shapes}
    resources = _resources(shapes)
    titles = {s.pathway.pathway_id: s.pathway.title for s in shapes}
    titles.update({m.module_id: m.title for s in shapes for m, _ in s.modules})

    def learner(uid: str, _who: rows.Learner) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = src.reads.progress_events(uid, since, after, EVENT_PAGE)
            for event_id, event in page:
                if event.get("pathway_id") in wanted:
                    rid = str(event.get("resource_id") or "")
                    out.append(
                        rows.statement(
                            uid,
                            event_id,
                            event,
                            base=src.base,
                            resource=resources.get(rid),
                            titles=titles,
                        )
                    )
            if len(page) < EVENT_PAGE:
                return out
            after = page[-1][0]

    yield from _in_order(src, cohort.cohort_id, learner)


def _resources(shapes: Sequence[rows.PathwayShape]) -> dict[str, Resource]:
    return {r.resource_id: r for s in shapes for _, rs in s.modules for r in rs}


def _logged(chunks: Iterator[str], cohort_id: str, kind: str) -> Iterator[str]:
    """The chunks, with a log line at the end (or when the stream breaks off)."""
    sent = 0
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
    except GeneratorExit:
        log.info("export abandoned by the client", cohort_id=cohort_id, kind=kind, chars=sent)
        raise
    except Exception as exc:
        log.error("export broke off", cohort_id=cohort_id, kind=kind, chars=sent, error=repr(exc))
        raise
    log.info("export sent", cohort_id=cohort_id, kind=kind, chars=sent)
