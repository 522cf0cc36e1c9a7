"""How learners' numbers follow a catalog change (issue 13): pure functions, no I/O.

Every module and pathway rollup (the triggers, catalog re-evaluation, reconcile) goes through
:func:`module_rollup` / :func:`pathway_rollup` here, which wrap the counting rules of
:mod:`shared.domain.progress` with three things a changing catalog needs:

``content_version``
    A rollup records the ``content_version`` of the module (pathway) it was counted against.
    ``catalog apply`` bumps a version whenever the level's content changes, so a rollup older than
    the catalog can be told apart from one counted after the change.

``change_policy`` of the pathway (copied onto its modules)
    ``recount``: the numbers follow the current catalog (a resource added to a finished module
    makes it 5/6 and clears ``completed_at``; removing it again makes it complete again).
    ``keep_completed``: a learner whose level was complete when it was last counted, against a
    version older than the one a resource (module) started counting at (``counts_since_version``,
    set by ``catalog apply`` when a resource is added, moved in, made required or its completion
    rule changes; when a module is added to the pathway), has that resource (module) *waived*: it is
    listed in ``waived_resource_ids`` (``waived_module_ids``) of the learner's rollup and leaves
    the count, so the level stays complete with its ``completed_at``. Learners who had not finished
    count it. A waiver is dropped when its resource (module) leaves the level.

``retired_at`` of a pathway (``catalog apply --prune``)
    is copied onto every learner's pathway rollup, so a pruned pathway's rollups are marked as the
    learner's archived record (counted as before; nothing deleted) by the re-evaluation run the
    prune starts and by any trigger that counts it afterwards; a pathway named by the files again
    loses the mark the same way.

``completed_at`` of a level that becomes complete
    is the moment its last counting part was completed (the latest ``completed_at`` of its counting
    resources, or of its modules), not the moment of the recount, whenever every part records it
    (otherwise now). So a level made incomplete by an added resource and complete again by its
    removal gets exactly its old ``completed_at`` back, and a from-scratch recount agrees with the
    triggers. A level that stays complete keeps its ``completed_at`` (the rule of
    :mod:`shared.domain.progress`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TypeVar

from shared.domain import progress as rules
from shared.domain.models import (
    ChangePolicy,
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
)

_M = TypeVar("_M", ModuleProgress, PathwayProgress)


def _version(version: int, current: ModuleProgress | PathwayProgress | None) -> int | None:
    """The version a rollup records; none (read as 1) while the catalog is at 1 and the stored
    rollup records none, so documents from before versions existed are not rewritten for it."""
    if version == 1 and (current is None or current.content_version is None):
        return None
    return version


def _settled_at(
    times: Sequence[dt.datetime | None], previous: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """When a level became complete: kept if it was, else the latest part's completion."""
    if previous is not None:
        return previous
    if times and all(t is not None for t in times):
        return max(t for t in times if t is not None)
    return now


def module_waivers(
    module: Module,
    resources: Sequence[Resource],
    progress: Mapping[str, ResourceProgress],
    current: ModuleProgress | None,
) -> list[str]:
    """The resources of ``module`` waived for this learner (see the module docstring)."""
    ids = {r.resource_id for r in resources}
    waived = [w for w in (current.waived_resource_ids if current else []) if w in ids]
    if (
        module.change_policy != ChangePolicy.keep_completed
        or current is None
        or current.completed_at is None
    ):
        return waived
    seen = current.content_version or 1
    for r in resources:
        new = r.counts_since_version > seen and not r.optional
        if new and r.resource_id not in waived and not rules.counts(r, progress.get(r.resource_id)):
            waived.append(r.resource_id)
    return waived


def module_rollup(
    module: Module,
    resources: Sequence[Resource],
    progress: Mapping[str, ResourceProgress],
    current: ModuleProgress | None,
    now: dt.datetime,
) -> ModuleProgress | None:
    """The module's progress; ``None`` when nothing but time changed."""
    own = [r for r in resources if r.module_id == module.module_id]
    waived = module_waivers(module, own, progress, current)
    counted = [r for r in own if r.resource_id not in waived]
    fresh = rules.module_rollup(module, counted, progress, current, now)
    base = fresh if fresh is not None else current
    if base is None:  # pragma: no cover - module_rollup returns a document when there is none
        return None
    done_at = base.completed_at
    if done_at is not None:
        required = [r for r in counted if not r.optional]
        times = [progress[r.resource_id].completed_at for r in required]
        done_at = _settled_at(times, current.completed_at if current else None, now)
    result = base.model_copy(
        update={
            "content_version": _version(module.content_version, current),
            "waived_resource_ids": sorted(waived),
            "completed_at": done_at,
            "updated_at": now,
        }
    )
    return _changed(result, current)


def pathway_rollup(
    pathway: Pathway,
    modules_catalog: Mapping[str, Module],
    modules: Mapping[str, ModuleProgress],
    catalog_totals: Mapping[str, int],
    current: PathwayProgress | None,
    now: dt.datetime,
) -> PathwayProgress | None:
    """The pathway's progress from its modules' stored progress; ``None`` when nothing but time
    changed."""
    module_ids = list(pathway.module_ids)

    def complete(mid: str) -> bool:
        mp = modules.get(mid)
        if mp is None:
            return catalog_totals.get(mid, 0) == 0
        return rules.module_is_complete(mp)

    waived = [m for m in (current.waived_module_ids if current else []) if m in module_ids]
    if (
        pathway.change_policy == ChangePolicy.keep_completed
        and current is not None
        and current.completed_at is not None
    ):
        seen = current.content_version or 1
        for mid in module_ids:
            mod = modules_catalog.get(mid)
            new = mod is not None and mod.counts_since_version > seen
            if new and mid not in waived and not complete(mid):
                waived.append(mid)
    counted = [m for m in module_ids if m not in waived]
    fresh = rules.pathway_rollup(pathway.pathway_id, counted, modules, catalog_totals, current, now)
    base = fresh if fresh is not None else current
    if base is None:  # pragma: no cover
        return None
    done_at = base.completed_at
    if done_at is not None:
        times = [
            modules[m].completed_at if m in modules else None
            for m in counted
            if catalog_totals.get(m, 0) > 0 or m in modules
        ]
        done_at = _settled_at(times, current.completed_at if current else None, now)
    result = base.model_copy(
        update={
            "content_version": _version(pathway.content_version, current),
            "waived_module_ids": sorted(waived),
            "retired_at": pathway.retired_at,
            "completed_at": done_at,
            "updated_at": now,
        }
    )
    return _changed(result, current)


def done(resource: Resource, progress: ResourceProgress | None) -> bool:
    """The learner has done the resource: a counting status and its completion rule met (an
    excuse aside: it takes the resource out of the count, not out of what the learner did)."""
    return (
        progress is not None
        and progress.status in rules.COUNTING
        and rules.rule_met(resource, progress)
    )


def stamp_completion(
    resource: Resource,
    before: ResourceProgress | None,
    after: ResourceProgress,
    *,
    version: int | None = None,
    redone: bool = False,
) -> ResourceProgress:
    """``after`` recording the ``content_version`` it was completed against (what the report
    compares, :func:`updated_since_completion`) when it is now :func:`done` and was not, or when
    ``redone`` (the act that meets the rule happened again on a resource already done: a new
    valid upload under ``upload``, an approval under ``approved``, so the learner who redoes the
    work after the content changed is up to date again).

    ``version``: the resource's ``content_version`` as the completing transaction read it (every
    completion path reads the resource document by key inside its transaction, so a completion
    that commits after a ``catalog apply`` records the new version, whatever a cache held);
    ``None``: ``resource``'s own. A resource that stops being done keeps what it recorded (it is
    read only while it is done, and the next completion records anew)."""
    if done(resource, after) and (redone or not done(resource, before)):
        stamped = version if version is not None else resource.content_version
        if after.content_version != stamped:
            return after.model_copy(update={"content_version": stamped})
    return after


def updated_since_completion(resource: Resource, progress: ResourceProgress | None) -> bool:
    """The resource changed after the learner completed it (only while it is done; a progress
    from before versions were recorded reads as version 1)."""
    if progress is None or not done(resource, progress):
        return False
    return (progress.content_version or 1) < resource.content_version


def _changed(fresh: _M, current: _M | None) -> _M | None:
    if current is None:
        return fresh
    if fresh.model_dump(exclude={"updated_at"}) == current.model_dump(exclude={"updated_at"}):
        return None
    return fresh
