"""Progress rules and rollup arithmetic: pure functions, no I/O.

Statuses
    ``not_started`` → ``in_progress`` → ``completed`` through the learner's own actions (HTTP);
    ``submitted`` and ``reviewed`` are set by the upload / review flow, never by these rules.

A resource *counts* toward its module when its status is ``completed``, ``submitted`` or
``reviewed``, its completion rule is met (:func:`rule_met`), it is not optional and the learner was
not excused from it. Optional resources and excused ones leave the count: neither numerator nor
denominator (an excuse only for the learner excused).

Completion rules (``Resource.completion``; None is the rule resources had before rules existed:
``upload`` when ``requires_upload``, else ``manual``)
    ``manual``      the learner's ``complete`` (a check-off).
    ``upload``      a valid upload on record (status ``submitted`` or ``reviewed``, which follows the
                    submissions, see ``shared.domain.uploads``).
    ``approved``    an approved submission (status ``reviewed``); the approval itself completes it,
                    in the review's transaction.
    ``min_time``    ``time_spent_minutes`` (the sum of PUT progress heartbeats) >= ``min_minutes``.
    ``score``       the best ``score`` reported with PUT progress (0–100) >= ``pass_score``.
    ``complete`` on a resource whose rule is not met yet is :class:`~shared.errors.Conflict` (409)
    saying what is missing, and records nothing. An ``update`` after which a ``min_time`` or
    ``score`` rule becomes met (it was not before) completes the resource in the same transaction;
    its event says so (``auto_completed`` with the rule). A score for a resource whose rule is not
    ``score`` is :class:`~shared.errors.InvalidArgument` (400).

Due dates and late
    ``late`` is decided when the resource is completed (``complete``, an automatic completion) or an
    upload first takes it to ``submitted``: true when that happens after ``Resource.due_at``.
    It is cleared when the completion is taken back. A due date relative to the learner's cohort
    start (``Resource.due_after``) is resolved to the learner's ``due_at`` first, by the
    transaction that decides (:mod:`shared.domain.due`), so these rules see one due time.

Excuses
    :func:`excuse` / :func:`unexcuse` (an instructor's act) set or clear ``excused`` with who, when
    and why; the status is kept, so un-excusing restores whatever the learner had done.

Actions (each returns a :class:`Outcome`; ``changed=False`` means: write nothing, not even an event)
    ``start``       ``not_started`` → ``in_progress`` (sets ``started_at``). Any other state: no-op,
                    so a retried request is harmless and a finished resource never regresses.
    ``update``      sets ``progress_percentage`` (0–100) and ADDS ``time_spent_minutes`` (0–1440 per
                    call); a ``score`` keeps the best. ``not_started`` becomes ``in_progress``.
                    Other statuses are kept; while a resource counts, its percentage stays 100.
                    It completes a resource only when it makes a ``min_time`` or ``score`` rule
                    met (above). An update adding 0 minutes with the same percentage is a no-op.
    ``complete``    ``not_started`` / ``in_progress`` → ``completed`` (percentage 100,
                    ``completed_at`` now). Already ``completed``, ``submitted`` or ``reviewed``:
                    no-op (retries are safe, an upload is never downgraded). A resource whose rule is
                    not met: :class:`~shared.errors.Conflict` (409) naming what is missing.
    ``uncomplete``  ``completed`` → ``in_progress``; ``completed_at`` and ``late`` cleared, the percentage and
                    minutes are kept. ``in_progress``: no-op (so a retried uncomplete whose first
                    reply was lost still gets 200). ``not_started``: 409 (nothing to take back).
                    ``submitted`` / ``reviewed``: 409 (an upload is withdrawn by deleting the
                    submission, not here).

Rollups (recomputed from the source of truth, never incremented, so they are idempotent under
duplicate events and correct whatever order events arrive in)
    module   ``completed_resources / total_resources`` over the module's non-optional resources
             the learner is not excused from.
    pathway  ``completed_modules / total_modules`` (``percentage``, as the original design) and
             ``completed_resources / total_resources`` across the pathway (``resource_percentage``).
    A level is complete when done == total; an empty level (no counting resources / no modules)
    is vacuously complete at 100 %. Percentages are rounded to 2 decimals.
    ``completed_at`` is set when a level reaches 100 %, kept (the first time) while it stays there,
    and cleared when it drops below. ``updated_at`` changes only when something else changed, which
    is what stops the triggers from looping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.models import (
    CompletionRule,
    DueAfter,
    Module,
    ModuleProgress,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceType,
)
from shared.errors import Conflict, InvalidArgument

COUNTING = frozenset({ResourceStatus.completed, ResourceStatus.submitted, ResourceStatus.reviewed})
# Progress events that are a learner's own action: what the overview's "recent activity" shows.
# Time heartbeats (``update``), the upload and review flow's changes (shown by their own views and
# notifications) and drift repairs are not. Every event carries ``activity: bool``, so the overview
# asks for ``where activity == true order by at desc limit n`` (one page, firestore.indexes.json).
ACTIVITY_ACTIONS = frozenset({"start", "complete", "uncomplete"})


def is_activity(action: str) -> bool:
    return action in ACTIVITY_ACTIONS


UPLOADED = frozenset({ResourceStatus.submitted, ResourceStatus.reviewed})
MAX_MINUTES_PER_UPDATE = 1440

_M = TypeVar("_M", bound=BaseModel)


class Action(StrEnum):
    start = "start"
    update = "update"
    complete = "complete"
    uncomplete = "uncomplete"
    excuse = "excuse"
    unexcuse = "unexcuse"


# ---- request and reply models (the HTTP contract of docs/API.md) -------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProgressUpdate(_Request):
    """Body of ``PUT /users/me/resources/{resource_id}/progress``; minutes are added."""

    progress_percentage: Annotated[int, Field(ge=0, le=100, strict=True)]
    time_spent_minutes: Annotated[int, Field(ge=0, le=MAX_MINUTES_PER_UPDATE, strict=True)] = 0
    score: Annotated[int | None, Field(ge=0, le=100, strict=True)] = Field(
        default=None, description="a quiz score (0-100), only for a resource with completion score"
    )


class ResourceProgressView(BaseModel):
    """One resource's progress as the API returns it (defaults for a resource never started)."""

    resource_id: str
    pathway_id: str
    module_id: str
    status: ResourceStatus
    progress_percentage: int
    time_spent_minutes: int
    submission_count: int
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    updated_at: dt.datetime | None
    score: int | None = None
    late: bool = False
    excused: bool = False
    excuse_reason: str | None = None
    excused_by: str | None = None
    excused_at: dt.datetime | None = None


class ReportResource(BaseModel):
    resource_id: str
    title: str
    type: ResourceType
    status: ResourceStatus
    progress_percentage: int
    time_spent_minutes: int
    submission_count: int
    completed_at: dt.datetime | None
    score: int | None = None
    late: bool = False
    excused: bool = False
    excuse_reason: str | None = None
    excused_by: str | None = None
    excused_at: dt.datetime | None = None
    optional: bool = False
    completion: CompletionRule = CompletionRule.manual
    min_minutes: int | None = None
    pass_score: int | None = None
    due_at: dt.datetime | None = Field(
        default=None, description="the learner's due time (absolute, or from their cohort start)"
    )
    due_after: DueAfter | None = Field(
        default=None, description="the catalog's relative rule: due this long after the start"
    )
    # catalog change (issue 13): the resource changed after the learner completed it; a
    # keep_completed change waived it for this learner (it does not count for them)
    updated_since_completion: bool = False
    waived: bool = False


class ReportModule(BaseModel):
    module_id: str
    title: str
    percentage: float
    completed_resources: int
    total_resources: int
    completed_at: dt.datetime | None
    resources: list[ReportResource]


class ProgressReport(BaseModel):
    """``GET /users/me/progress/{pathway_id}``: the stored rollups plus each resource's state."""

    pathway_id: str
    percentage: float
    resource_percentage: float
    completed_modules: int
    total_modules: int
    completed_at: dt.datetime | None
    modules: list[ReportModule]
    # the pathway was retired (catalog apply --prune): this report is the learner's record of it
    retired_at: dt.datetime | None = None


class ListedResource(BaseModel):
    resource_id: str
    title: str
    type: ResourceType
    order: int
    url: str
    duration_minutes: int
    requires_upload: bool
    accepted_file_types: list[str]
    max_file_size_mb: int
    optional: bool
    completion: CompletionRule = CompletionRule.manual
    min_minutes: int | None = None
    pass_score: int | None = None
    due_at: dt.datetime | None = Field(
        default=None,
        description="the due time: absolute, or, with a token, the caller's from their cohort start",
    )
    due_after: DueAfter | None = Field(
        default=None, description="the catalog's relative rule: due this long after the start"
    )
    status: ResourceStatus | None = Field(
        default=None, description="the caller's status; present only when a token is given"
    )


class ListedModule(BaseModel):
    module_id: str
    title: str
    order: int
    resources: list[ListedResource]


class PathwayListing(BaseModel):
    pathway_id: str
    title: str
    modules: list[ListedModule]
    retired_at: dt.datetime | None = Field(
        default=None, description="set when the pathway was retired: no longer offered"
    )


# ---- resource rules ----------------------------------------------------------------------------


def has_upload(progress: ResourceProgress) -> bool:
    """A valid upload is on record: the status, which follows the learner's submissions (see
    ``shared.domain.uploads.resource_status``), says so. ``submission_count`` only ever grows (it
    counts recorded uploads), so it cannot tell whether one is still valid after a deletion, a
    rejection or an invalid overwrite."""
    return progress.status in UPLOADED


def rule_met(resource: Resource, progress: ResourceProgress | None) -> bool:
    """Whether the input of the resource's completion rule is there (for ``manual``: always, the
    check-off itself is the act)."""
    rule = resource.rule
    if rule == CompletionRule.manual:
        return True
    if progress is None:
        return False
    if rule == CompletionRule.upload:
        return has_upload(progress)
    if rule == CompletionRule.approved:
        return progress.status == ResourceStatus.reviewed
    if rule == CompletionRule.min_time:
        return progress.time_spent_minutes >= (resource.min_minutes or 0)
    return progress.score is not None and progress.score >= (resource.pass_score or 0)


def missing(resource: Resource, progress: ResourceProgress | None) -> str | None:
    """What the rule still needs, as the 409 of ``complete`` says it; ``None`` when it is met."""
    if rule_met(resource, progress):
        return None
    rule = resource.rule
    if rule == CompletionRule.upload:
        return "this resource is completed by uploading a submission"
    if rule == CompletionRule.approved:
        if progress is not None and progress.status == ResourceStatus.submitted:
            return "this resource is completed when an instructor approves your submission"
        return "this resource is completed by an approved submission: upload one for review"
    if rule == CompletionRule.min_time:
        spent = progress.time_spent_minutes if progress else 0
        return f"this resource needs at least {resource.min_minutes} minutes spent ({spent} so far)"
    best = progress.score if progress else None
    so_far = "no score yet" if best is None else f"best so far {best}"
    return f"this resource needs a score of at least {resource.pass_score} ({so_far})"


def excused(progress: ResourceProgress | None) -> bool:
    return progress is not None and progress.excused


def in_count(resource: Resource, progress: ResourceProgress | None) -> bool:
    """Whether the resource is in this learner's denominator: not optional, not excused."""
    return not resource.optional and not excused(progress)


def counts(resource: Resource, progress: ResourceProgress | None) -> bool:
    """Whether this resource counts as done toward its module (never for optional resources, nor
    for one the learner is excused from: those leave the count)."""
    if not in_count(resource, progress) or progress is None or progress.status not in COUNTING:
        return False
    return rule_met(resource, progress)


def is_late(resource: Resource, at: dt.datetime) -> bool:
    return resource.due_at is not None and at > resource.due_at


def blank(resource: Resource) -> ResourceProgress:
    return ResourceProgress(
        resource_id=resource.resource_id,
        pathway_id=resource.pathway_id,
        module_id=resource.module_id,
    )


EVENT_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"


def event_stamp(at: dt.datetime) -> str:
    """The time part of a progress event id: sorts as the time does."""
    return f"{at.astimezone(dt.UTC):{EVENT_TIME_FORMAT}}"


@dataclass(frozen=True)
class Outcome:
    """The result of an action: the new document, and the event to append when it changed."""

    action: Action
    before: ResourceProgress
    after: ResourceProgress
    changed: bool
    # the rule whose input this action met (an update that completed the resource by itself)
    auto_completed: CompletionRule | None = None
    by: str | None = None  # who excused (or un-excused)
    reason: str | None = None  # and why

    def event_id(self, at: dt.datetime) -> str:
        """The event's deterministic id: ``{time}-{resource}-{action}`` (time first, so the
        collection reads in order)."""
        return f"{event_stamp(at)}-{self.after.resource_id}-{self.action.value}"

    def event(self, at: dt.datetime) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.auto_completed is not None:
            extra["auto_completed"] = self.auto_completed.value
        if self.after.late != self.before.late:
            extra["late"] = self.after.late
        if self.after.score != self.before.score:
            extra["score"] = self.after.score
        if self.after.excused != self.before.excused:
            extra["excused"] = self.after.excused
            extra["by"] = self.by
            extra["reason"] = self.reason
        return {
            **extra,
            "action": self.action.value,
            "activity": is_activity(self.action.value),
            "resource_id": self.after.resource_id,
            "module_id": self.after.module_id,
            "pathway_id": self.after.pathway_id,
            "from_status": self.before.status.value,
            "to_status": self.after.status.value,
            "progress_percentage": self.after.progress_percentage,
            "time_spent_minutes": self.after.time_spent_minutes,
            "at": at,
        }


def _outcome(
    action: Action,
    before: ResourceProgress,
    after: ResourceProgress,
    auto: CompletionRule | None = None,
    by: str | None = None,
    reason: str | None = None,
) -> Outcome:
    same = before.model_dump(exclude={"updated_at"}) == after.model_dump(exclude={"updated_at"})
    if same:
        return Outcome(action, before, before, changed=False)
    return Outcome(action, before, after, changed=True, auto_completed=auto, by=by, reason=reason)


def _current(resource: Resource, current: ResourceProgress | None) -> ResourceProgress:
    base = current if current is not None else blank(resource)
    # the catalog is the authority on where a resource lives
    return base.model_copy(
        update={
            "resource_id": resource.resource_id,
            "module_id": resource.module_id,
            "pathway_id": resource.pathway_id,
        }
    )


def start(resource: Resource, current: ResourceProgress | None, now: dt.datetime) -> Outcome:
    before = _current(resource, current)
    if before.status != ResourceStatus.not_started:
        return Outcome(Action.start, before, before, changed=False)
    after = before.model_copy(
        update={
            "status": ResourceStatus.in_progress,
            "started_at": before.started_at or now,
            "updated_at": now,
        }
    )
    return _outcome(Action.start, before, after)


def update(
    resource: Resource,
    current: ResourceProgress | None,
    change: ProgressUpdate,
    now: dt.datetime,
) -> Outcome:
    before = _current(resource, current)
    if change.score is not None and resource.rule != CompletionRule.score:
        raise InvalidArgument(
            f"this resource takes no score: its completion rule is {resource.rule.value}"
        )
    status = before.status
    if status == ResourceStatus.not_started:
        status = ResourceStatus.in_progress
    percentage = change.progress_percentage
    if counts(resource, before) or before.status == ResourceStatus.completed:
        percentage = 100
    score = before.score
    if change.score is not None and (score is None or change.score > score):
        score = change.score
    after = before.model_copy(
        update={
            "status": status,
            "progress_percentage": percentage,
            "time_spent_minutes": before.time_spent_minutes + change.time_spent_minutes,
            "score": score,
            "started_at": before.started_at or now,
            "updated_at": now,
        }
    )
    auto = None
    automatic = resource.rule in (CompletionRule.min_time, CompletionRule.score)
    if (
        automatic
        and after.status not in COUNTING
        and not rule_met(resource, before)
        and rule_met(resource, after)
    ):
        auto = resource.rule
        after = _completed(resource, after, now)
    return _outcome(Action.update, before, after, auto)


def _completed(
    resource: Resource, progress: ResourceProgress, now: dt.datetime
) -> ResourceProgress:
    return progress.model_copy(
        update={
            "status": ResourceStatus.completed,
            "progress_percentage": 100,
            "started_at": progress.started_at or now,
            "completed_at": now,
            "late": is_late(resource, now),
            "updated_at": now,
        }
    )


def complete(resource: Resource, current: ResourceProgress | None, now: dt.datetime) -> Outcome:
    before = _current(resource, current)
    need = missing(resource, before)
    if before.status in COUNTING and need is None:
        return Outcome(Action.complete, before, before, changed=False)
    if need is not None:
        raise Conflict(need)
    return _outcome(Action.complete, before, _completed(resource, before, now))


def uncomplete(resource: Resource, current: ResourceProgress | None, now: dt.datetime) -> Outcome:
    before = _current(resource, current)
    if before.status == ResourceStatus.in_progress:
        return Outcome(Action.uncomplete, before, before, changed=False)
    if before.status != ResourceStatus.completed:
        raise Conflict(f"a resource that is {before.status.value} cannot be uncompleted")
    after = before.model_copy(
        update={
            "status": ResourceStatus.in_progress,
            "completed_at": None,
            "late": False,
            "updated_at": now,
        }
    )
    return _outcome(Action.uncomplete, before, after)


def excuse(
    resource: Resource,
    current: ResourceProgress | None,
    by: str,
    reason: str,
    now: dt.datetime,
) -> Outcome:
    """An instructor excuses the learner from the resource: it leaves their count (status and
    everything the learner did are kept). Already excused: no-op (the first excuse stands)."""
    before = _current(resource, current)
    if before.excused:
        return Outcome(Action.excuse, before, before, changed=False)
    after = before.model_copy(
        update={
            "excused": True,
            "excused_by": by,
            "excused_at": now,
            "excuse_reason": reason,
            "updated_at": now,
        }
    )
    return _outcome(Action.excuse, before, after, by=by, reason=reason)


def unexcuse(
    resource: Resource,
    current: ResourceProgress | None,
    by: str,
    reason: str,
    now: dt.datetime,
) -> Outcome:
    """The excuse taken back: the resource counts for the learner again, as their status says.
    Not excused: no-op."""
    before = _current(resource, current)
    if not before.excused:
        return Outcome(Action.unexcuse, before, before, changed=False)
    after = before.model_copy(
        update={
            "excused": False,
            "excused_by": None,
            "excused_at": None,
            "excuse_reason": None,
            "updated_at": now,
        }
    )
    return _outcome(Action.unexcuse, before, after, by=by, reason=reason)


def view(resource: Resource, current: ResourceProgress | None) -> ResourceProgressView:
    doc = _current(resource, current)
    return ResourceProgressView.model_validate(doc.model_dump())


# ---- rollups -----------------------------------------------------------------------------------


def ratio(done: int, total: int) -> float:
    return 100.0 if total == 0 else round(100.0 * done / total, 2)


def completed_at(
    previous: dt.datetime | None, complete: bool, now: dt.datetime
) -> dt.datetime | None:
    if not complete:
        return None
    return previous or now


def count_module(
    resources: Iterable[Resource], progress: Mapping[str, ResourceProgress]
) -> tuple[int, int]:
    """``(completed, total)`` over the module's non-optional resources the learner is not excused
    from."""
    required = [r for r in resources if in_count(r, progress.get(r.resource_id))]
    done = sum(1 for r in required if counts(r, progress.get(r.resource_id)))
    return done, len(required)


def module_rollup(
    module: Module,
    resources: Sequence[Resource],
    progress: Mapping[str, ResourceProgress],
    current: ModuleProgress | None,
    now: dt.datetime,
) -> ModuleProgress | None:
    """The module's progress from its resources'; ``None`` when nothing but time changed."""
    done, total = count_module((r for r in resources if r.module_id == module.module_id), progress)
    fresh = ModuleProgress(
        module_id=module.module_id,
        pathway_id=module.pathway_id,
        completed_resources=done,
        total_resources=total,
        percentage=ratio(done, total),
        completed_at=completed_at(current.completed_at if current else None, done == total, now),
        updated_at=now,
    )
    return _changed(fresh, current)


def module_is_complete(progress: ModuleProgress) -> bool:
    return progress.completed_resources >= progress.total_resources


def pathway_rollup(
    pathway_id: str,
    module_ids: Sequence[str],
    modules: Mapping[str, ModuleProgress],
    catalog_totals: Mapping[str, int],
    current: PathwayProgress | None,
    now: dt.datetime,
) -> PathwayProgress | None:
    """The pathway's progress from its modules' stored progress (a module never touched counts
    0 of its catalog total). ``None`` when nothing but time changed."""
    done_modules = done_resources = total_resources = 0
    for mid in module_ids:
        mp = modules.get(mid)
        if mp is None:
            total = catalog_totals.get(mid, 0)
            mp = ModuleProgress(module_id=mid, pathway_id=pathway_id, total_resources=total)
        done_modules += module_is_complete(mp)
        done_resources += mp.completed_resources
        total_resources += mp.total_resources
    total_modules = len(module_ids)
    fresh = PathwayProgress(
        pathway_id=pathway_id,
        completed_modules=done_modules,
        total_modules=total_modules,
        percentage=ratio(done_modules, total_modules),
        completed_resources=done_resources,
        total_resources=total_resources,
        resource_percentage=ratio(done_resources, total_resources),
        completed_at=completed_at(
            current.completed_at if current else None, done_modules == total_modules, now
        ),
        updated_at=now,
    )
    return _changed(fresh, current)


def _changed(fresh: _M, current: _M | None) -> _M | None:
    if current is None:
        return fresh
    if fresh.model_dump(exclude={"updated_at"}) == current.model_dump(exclude={"updated_at"}):
        return None
    return fresh
