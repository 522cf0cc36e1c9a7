"""Progress rules and rollup arithmetic: pure functions, no I/O.

Statuses
    ``not_started`` → ``in_progress`` → ``completed`` through the learner's own actions (HTTP);
    ``submitted`` and ``reviewed`` are set by the upload / review flow, never by these rules.

A resource *counts* toward its module when its status is ``completed``, ``submitted`` or
``reviewed``. A resource with ``requires_upload`` counts only once a valid upload is recorded
(status ``submitted`` or ``reviewed``, which follows the submissions). Optional resources never count,
neither in the numerator nor in the denominator.

Actions (each returns a :class:`Outcome`; ``changed=False`` means: write nothing, not even an event)
    ``start``       ``not_started`` → ``in_progress`` (sets ``started_at``). Any other state: no-op,
                    so a retried request is harmless and a finished resource never regresses.
    ``update``      sets ``progress_percentage`` (0–100) and ADDS ``time_spent_minutes`` (0–1440 per
                    call). ``not_started`` becomes ``in_progress``. Other statuses are kept; while a
                    resource counts, its percentage stays 100. It never completes a resource by
                    itself: completion is an explicit ``complete``. An update adding 0 minutes with
                    the same percentage is a no-op.
    ``complete``    ``not_started`` / ``in_progress`` → ``completed`` (percentage 100,
                    ``completed_at`` now). Already ``completed``, ``submitted`` or ``reviewed``:
                    no-op (retries are safe, an upload is never downgraded). A ``requires_upload``
                    resource without a recorded upload: :class:`~shared.errors.Conflict` (409).
    ``uncomplete``  ``completed`` → ``in_progress``; ``completed_at`` cleared, the percentage and
                    minutes are kept. ``in_progress``: no-op (so a retried uncomplete whose first
                    reply was lost still gets 200). ``not_started``: 409 (nothing to take back).
                    ``submitted`` / ``reviewed``: 409 (an upload is withdrawn by deleting the
                    submission, not here).

Rollups (recomputed from the source of truth, never incremented, so they are idempotent under
duplicate events and correct whatever order events arrive in)
    module   ``completed_resources / total_resources`` over the module's non-optional resources.
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
    Module,
    ModuleProgress,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceType,
)
from shared.errors import Conflict

COUNTING = frozenset({ResourceStatus.completed, ResourceStatus.submitted, ResourceStatus.reviewed})
UPLOADED = frozenset({ResourceStatus.submitted, ResourceStatus.reviewed})
MAX_MINUTES_PER_UPDATE = 1440

_M = TypeVar("_M", bound=BaseModel)


class Action(StrEnum):
    start = "start"
    update = "update"
    complete = "complete"
    uncomplete = "uncomplete"


# ---- request and reply models (the HTTP contract of docs/API.md) -------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProgressUpdate(_Request):
    """Body of ``PUT /users/me/resources/{resource_id}/progress``; minutes are added."""

    progress_percentage: Annotated[int, Field(ge=0, le=100, strict=True)]
    time_spent_minutes: Annotated[int, Field(ge=0, le=MAX_MINUTES_PER_UPDATE, strict=True)] = 0


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


class ReportResource(BaseModel):
    resource_id: str
    title: str
    type: ResourceType
    status: ResourceStatus
    progress_percentage: int
    time_spent_minutes: int
    submission_count: int
    completed_at: dt.datetime | None
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


# ---- resource rules ----------------------------------------------------------------------------


def has_upload(progress: ResourceProgress) -> bool:
    """A valid upload is on record: the status, which follows the learner's submissions (see
    ``shared.domain.uploads.resource_status``), says so. ``submission_count`` only ever grows (it
    counts recorded uploads), so it cannot tell whether one is still valid after a deletion, a
    rejection or an invalid overwrite."""
    return progress.status in UPLOADED


def counts(resource: Resource, progress: ResourceProgress | None) -> bool:
    """Whether this resource counts as done toward its module (never for optional resources)."""
    if resource.optional or progress is None or progress.status not in COUNTING:
        return False
    return not resource.requires_upload or has_upload(progress)


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

    def event_id(self, at: dt.datetime) -> str:
        """The event's deterministic id: ``{time}-{resource}-{action}`` (time first, so the
        collection reads in order)."""
        return f"{event_stamp(at)}-{self.after.resource_id}-{self.action.value}"

    def event(self, at: dt.datetime) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "resource_id": self.after.resource_id,
            "module_id": self.after.module_id,
            "pathway_id": self.after.pathway_id,
            "from_status": self.before.status.value,
            "to_status": self.after.status.value,
            "progress_percentage": self.after.progress_percentage,
            "time_spent_minutes": self.after.time_spent_minutes,
            "at": at,
        }


def _outcome(action: Action, before: ResourceProgress, after: ResourceProgress) -> Outcome:
    same = before.model_dump(exclude={"updated_at"}) == after.model_dump(exclude={"updated_at"})
    if same:
        return Outcome(action, before, before, changed=False)
    return Outcome(action, before, after, changed=True)


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
    status = before.status
    if status == ResourceStatus.not_started:
        status = ResourceStatus.in_progress
    percentage = change.progress_percentage
    if counts(resource, before) or before.status == ResourceStatus.completed:
        percentage = 100
    after = before.model_copy(
        update={
            "status": status,
            "progress_percentage": percentage,
            "time_spent_minutes": before.time_spent_minutes + change.time_spent_minutes,
            "started_at": before.started_at or now,
            "updated_at": now,
        }
    )
    return _outcome(Action.update, before, after)


def complete(resource: Resource, current: ResourceProgress | None, now: dt.datetime) -> Outcome:
    before = _current(resource, current)
    if before.status in COUNTING:
        return Outcome(Action.complete, before, before, changed=False)
    if resource.requires_upload and not has_upload(before):
        raise Conflict("this resource is completed by uploading a submission")
    after = before.model_copy(
        update={
            "status": ResourceStatus.completed,
            "progress_percentage": 100,
            "started_at": before.started_at or now,
            "completed_at": now,
            "updated_at": now,
        }
    )
    return _outcome(Action.complete, before, after)


def uncomplete(resource: Resource, current: ResourceProgress | None, now: dt.datetime) -> Outcome:
    before = _current(resource, current)
    if before.status == ResourceStatus.in_progress:
        return Outcome(Action.uncomplete, before, before, changed=False)
    if before.status != ResourceStatus.completed:
        raise Conflict(f"a resource that is {before.status.value} cannot be uncompleted")
    after = before.model_copy(
        update={"status": ResourceStatus.in_progress, "completed_at": None, "updated_at": now}
    )
    return _outcome(Action.uncomplete, before, after)


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
    """``(completed, total)`` over the non-optional resources of a module."""
    required = [r for r in resources if not r.optional]
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
