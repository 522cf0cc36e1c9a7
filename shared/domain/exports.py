"""Exports of a cohort, as pure functions: the rows of the progress and grades CSVs and the xAPI
statement of a progress event. No I/O; :mod:`shared.services.exports` feeds them a page of
learners at a time.

CSV cells are made safe for spreadsheets (:func:`cell`): a text cell that a spreadsheet would read
as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading
``'`` (OWASP's advice against CSV injection); numbers are written as numbers. Quoting is the
``csv`` module's (RFC 4180: a cell with a comma, quote or line break is quoted, quotes doubled).
Times are ISO 8601 in UTC.

xAPI (1.0.3): one statement per progress event, its id a UUID derived from the learner and the
event id (:func:`statement_id`, so exporting or pushing again names the same statements); the
actor is an account (``homePage`` and the uid, no name or email); the verb is ADL's
(``initialized``, ``progressed``, ``completed``, ``scored`` for a review, ``attempted`` for an
upload) or, for what ADL has no verb for (re-opening a resource, a deleted, expired or invalid
upload, a repair), one under the platform's own IRI; the object is the resource as an activity
``{base}/resources/{resource_id}`` with its module and pathway as context.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.models import (
    LearnerProfile,
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    Submission,
    SubmissionStatus,
)

Cell = str | int | float | None
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATEMENT_NAMESPACE = uuid.UUID("6f1c3c3e-2b1e-5d55-9c44-7a1d1e0c9b21")
XAPI_VERSION = "1.0.3"
ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITY_TYPES = {
    "video": "https://w3id.org/xapi/video/activity-type/video",
    "article": "http://id.tincanapi.com/activitytype/resource",
    "exercise": "http://adlnet.gov/expapi/activities/assessment",
    "project": "http://adlnet.gov/expapi/activities/assessment",
    "quiz": "http://adlnet.gov/expapi/activities/assessment",
}
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"
PATHWAY_TYPE = "http://adlnet.gov/expapi/activities/course"


# ---- CSV ---------------------------------------------------------------------------------------


def cell(value: Cell) -> str | int | float:
    """One CSV cell: None empty, numbers as they are, text safe from formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def when(at: dt.datetime | None) -> str:
    """A timestamp cell: ISO 8601 in UTC to the second, empty when there is none."""
    if at is None:
        return ""
    return at.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """The rows as CSV text (``\\r\\n`` line ends, as RFC 4180 and spreadsheets expect)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


@dataclass(frozen=True)
class Learner:
    uid: str
    name: str | None = None
    email: str | None = None

    @classmethod
    def of(cls, uid: str, profile: LearnerProfile | None) -> Learner:
        return cls(
            uid, profile.display_name if profile else None, profile.email if profile else None
        )


PROGRESS_HEADER: tuple[str, ...] = (
    "cohort_id",
    "learner_uid",
    "learner_name",
    "learner_email",
    "pathway_id",
    "pathway_title",
    "pathway_percentage",
    "pathway_resource_percentage",
    "pathway_completed_at",
    "module_id",
    "module_title",
    "module_percentage",
    "module_completed_at",
    "resource_id",
    "resource_title",
    "resource_type",
    "optional",
    "status",
    "progress_percentage",
    "time_spent_minutes",
    "submission_count",
    "started_at",
    "completed_at",
    "last_activity_at",
)


@dataclass(frozen=True)
class PathwayShape:
    """A pathway in catalog order: its modules, each with its resources."""

    pathway: Pathway
    modules: tuple[tuple[Module, tuple[Resource, ...]], ...]

    @property
    def resource_ids(self) -> list[str]:
        return [r.resource_id for _, rs in self.modules for r in rs]

    @property
    def module_ids(self) -> list[str]:
        return [m.module_id for m, _ in self.modules]


def progress_rows(
    cohort_id: str,
    learner: Learner,
    shape: PathwayShape,
    resources: dict[str, ResourceProgress],
    modules: dict[str, ModuleProgress],
    pathway: PathwayProgress | None,
) -> Iterator[list[Cell]]:
    """One row per resource of the pathway for one learner, in catalog order; the module and
    pathway columns repeat on each row, so a filter or a pivot table in a spreadsheet needs no
    lookup. A resource never opened is ``not_started`` with zeros; percentages are the stored
    rollups (0 before the learner's first action)."""
    p = shape.pathway
    head: list[Cell] = [cohort_id, learner.uid, learner.name, learner.email]
    head += [p.pathway_id, p.title]
    head += [_pct(pathway.percentage if pathway else 0.0)]
    head += [_pct(pathway.resource_percentage if pathway else 0.0)]
    head += [when(pathway.completed_at if pathway else None)]
    for module, items in shape.modules:
        mp = modules.get(module.module_id)
        mid: list[Cell] = [module.module_id, module.title, _pct(mp.percentage if mp else 0.0)]
        mid += [when(mp.completed_at if mp else None)]
        for r in items:
            rp = resources.get(r.resource_id)
            status = rp.status if rp else ResourceStatus.not_started
            yield [
                *head,
                *mid,
                r.resource_id,
                r.title,
                r.type.value,
                r.optional,
                status.value,
                rp.progress_percentage if rp else 0,
                rp.time_spent_minutes if rp else 0,
                rp.submission_count if rp else 0,
                when(rp.started_at if rp else None),
                when(rp.completed_at if rp else None),
                when(rp.updated_at if rp else None),
            ]


def _pct(value: float) -> float:
    return round(float(value), 1)


GRADES_HEADER: tuple[str, ...] = (
    "cohort_id",
    "learner_uid",
    "learner_name",
    "learner_email",
    "pathway_id",
    "module_id",
    "resource_id",
    "resource_title",
    "submission_id",
    "attempt",
    "status",
    "decision",
    "grade",
    "reviewer_uid",
    "review_comments",
    "revision",
    "revision_reason",
    "file_name",
    "size_bytes",
    "created_at",
    "uploaded_at",
    "reviewed_at",
)

DECISIONS = {SubmissionStatus.approved: "approve", SubmissionStatus.rejected: "reject"}


def grade_order(sub: Submission) -> tuple[str, str, str, int]:
    """Grades rows of a learner: by pathway, module, resource, then attempt."""
    return (sub.pathway_id, sub.module_id, sub.resource_id, sub.attempt)


def grade_row(
    cohort_id: str, learner: Learner, sub: Submission, resource: Resource | None
) -> list[Cell]:
    """One attempt: its decision (empty until reviewed), grade, reviewer and dates; ``revision``
    counts how often the decision was revised (0: the first one stands)."""
    return [
        cohort_id,
        learner.uid,
        learner.name,
        learner.email,
        sub.pathway_id,
        sub.module_id,
        sub.resource_id,
        resource.title if resource else None,
        sub.submission_id,
        sub.attempt,
        sub.status.value,
        DECISIONS.get(sub.status, ""),
        sub.grade,
        sub.reviewed_by,
        sub.review_comments,
        sub.revision,
        sub.revision_reason,
        sub.file_name,
        sub.size_bytes,
        when(sub.created_at),
        when(sub.uploaded_at),
        when(sub.reviewed_at),
    ]


# ---- xAPI --------------------------------------------------------------------------------------


def statement_id(uid: str, event_id: str) -> str:
    """The statement's id: a name-based UUID (v5) of the learner and the event; the same event
    always gives the same id."""
    return str(uuid.uuid5(STATEMENT_NAMESPACE, f"{uid}/{event_id}"))


def verb_for(action: str, to_status: str, base: str) -> tuple[str, str]:
    """(verb IRI, display) for a progress event's action."""
    if action == "start":
        return ADL + "initialized", "initialized"
    if action == "update":
        return ADL + "progressed", "progressed"
    if action == "complete":
        return ADL + "completed", "completed"
    if action in ("submission_reviewed", "submission_revised"):
        return ADL + "scored", "scored"
    if action == "upload_recorded":
        return ADL + "attempted", "attempted"
    if action == "uncomplete":
        return f"{base}/xapi/verbs/reopened", "reopened"
    return f"{base}/xapi/verbs/{action or 'changed'}", (action or "changed").replace("_", " ")


def _duration(minutes: int) -> str:
    return f"PT{max(0, minutes)}M"


def statement(
    uid: str,
    event_id: str,
    event: dict[str, Any],
    *,
    base: str,
    resource: Resource | None = None,
    titles: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The xAPI statement of one ``users/{uid}/progress_events/{event_id}`` document. ``base`` is
    the platform's IRI (actor home page, activity ids); ``titles`` names modules and
    pathways and ``resource`` gives the activity's type and name, when known. Apart from those
    names, only the event's own fields go in, so the statement is the same when built again."""
    titles = titles or {}
    rid = str(event.get("resource_id") or "")
    mid, pid = event.get("module_id"), event.get("pathway_id")
    action, to_status = str(event.get("action") or ""), str(event.get("to_status") or "")
    verb_id, verb_name = verb_for(action, to_status, base)
    at = event.get("at")
    definition: dict[str, Any] = {}
    if resource is not None:
        definition = {"type": ACTIVITY_TYPES[resource.type.value]}
        definition["name"] = {"en-US": resource.title}
    obj: dict[str, Any] = {"objectType": "Activity", "id": f"{base}/resources/{rid}"}
    if definition:
        obj["definition"] = definition
    minutes = int(event.get("time_spent_minutes") or 0)
    extensions: dict[str, Any] = {
        f"{base}/xapi/extensions/action": action,
        f"{base}/xapi/extensions/from_status": event.get("from_status"),
        f"{base}/xapi/extensions/to_status": to_status,
        f"{base}/xapi/extensions/progress_percentage": event.get("progress_percentage"),
    }
    result: dict[str, Any] = {
        "completion": to_status in (ResourceStatus.completed.value, ResourceStatus.reviewed.value),
        "duration": _duration(minutes),
        "extensions": extensions,
    }
    if action in ("submission_reviewed", "submission_revised"):
        result["success"] = to_status in (
            ResourceStatus.completed.value,
            ResourceStatus.reviewed.value,
        )
    context: dict[str, Any] = {"platform": base, "contextActivities": {}}
    if mid:
        context["contextActivities"]["parent"] = [
            _activity(f"{base}/modules/{mid}", MODULE_TYPE, titles.get(str(mid)))
        ]
    if pid:
        context["contextActivities"]["grouping"] = [
            _activity(f"{base}/pathways/{pid}", PATHWAY_TYPE, titles.get(str(pid)))
        ]
    if event.get("submission_id"):
        context["extensions"] = {f"{base}/xapi/extensions/submission_id": event["submission_id"]}
    out: dict[str, Any] = {
        "id": statement_id(uid, event_id),
        "actor": {"objectType": "Agent", "account": {"homePage": base, "name": uid}},
        "verb": {"id": verb_id, "display": {"en-US": verb_name}},
        "object": obj,
        "result": result,
        "context": context,
        "version": XAPI_VERSION,
    }
    if isinstance(at, dt.datetime):
        out["timestamp"] = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return out


def _activity(iri: str, kind: str, title: str | None) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": kind}
    if title:
        definition["name"] = {"en-US": title}
    return {"objectType": "Activity", "id": iri, "definition": definition}
