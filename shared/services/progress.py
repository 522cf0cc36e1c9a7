"""Learner progress use cases: the report, one resource's progress, and the four actions.

Every action runs in ONE Firestore transaction (the unit of work's ``transact``, see
``shared.services.ports``): read ``users/{uid}/resource_progress/{rid}`` by key, decide with the pure
rules of :mod:`shared.domain.progress`, and, only if something changed, write the document and
append an event to ``users/{uid}/progress_events`` (so un-complete and reset never lose history;
the event id is deterministic, ``{time}-{resource}-{action}``, and created, never overwritten). A no-op (a
retried ``start`` or ``complete``) writes nothing and replies with the current state.

Unknown resources are 404 before any transaction. The caller is always the token's uid: there is no
way to name another learner.

The report shows the *stored* rollups (what the triggers computed, the same documents the web app
listens to), so right after an action the module numbers may lag the resource by one trigger hop.
A learner who never started gets the same shape with zeros and the catalog's totals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared import log
from shared.domain import catalog_change as change_rules
from shared.domain import progress as rules
from shared.domain.identity import Caller
from shared.domain.models import (
    Id,
    PathwayProgress,
    Resource,
    ResourceProgress,
)
from shared.domain.progress import (
    Action,
    Outcome,
    ProgressReport,
    ProgressUpdate,
    ReportModule,
    ReportResource,
    ResourceProgressView,
)
from shared.services import audit, due
from shared.services import catalog as cat
from shared.services.access import require_supervision
from shared.services.ports import (
    CatalogReader,
    CohortStarts,
    ExcuseLog,
    MembershipReader,
    ProgressStore,
    Tx,
)

Clock = Callable[[], dt.datetime]
MAX_TRAIL = 200


class ExcuseTrailQuery(BaseModel):
    """Query of ``GET /admin/users/{uid}/excuses``."""

    model_config = ConfigDict(extra="forbid")

    pathway_id: Id
    limit: int = Field(default=50, ge=1, le=MAX_TRAIL)


class ExcuseTrailEntry(BaseModel):
    resource_id: str
    action: Literal["excuse", "unexcuse"]
    by: str
    reason: str | None = None
    at: dt.datetime
    status: str | None = None  # the learner's status of the resource then


class ExcuseTrail(BaseModel):
    uid: str
    pathway_id: str
    entries: list[ExcuseTrailEntry]


class ExcuseRequest(BaseModel):
    """Body of ``POST /admin/users/{uid}/resources/{rid}/excuse`` (and ``/unexcuse``)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def progress_lock(uid: str, resource_id: str) -> str:
    """The in-process lock of the transactions writing one resource's progress."""
    return f"users/{uid}/resource_progress/{resource_id}"


def _act(
    catalog: CatalogReader,
    store: ProgressStore,
    uid: str,
    resource_id: str,
    action: Action,
    decide: Callable[[Resource, ResourceProgress | None, dt.datetime], Outcome],
    clock: Clock,
) -> ResourceProgressView:
    res = cat.resource(catalog, resource_id)
    cat.require_offered(catalog, res)

    def work(tx: Tx) -> Outcome:
        # the learner's due time (a relative one: their membership and cohorts, read by key here,
        # so ``late`` is decided with what this transaction read; shared.domain.due)
        mine = due.learner_resource(tx, uid, res)
        outcome = decide(mine, tx.progress(uid, res.resource_id), clock())
        if outcome.changed and change_rules.done(res, outcome.after):
            outcome = dataclasses.replace(outcome, after=_stamped(tx, res, outcome))
        if outcome.changed:
            at = outcome.after.updated_at or clock()
            tx.put_progress(uid, outcome.after)
            tx.add_progress_event(uid, outcome.event_id(at), outcome.event(at))
        return outcome

    outcome = store.transact(work, lock=progress_lock(uid, res.resource_id))
    log.info(
        "progress action",
        action=action.value,
        uid=uid,
        resource_id=res.resource_id,
        from_status=outcome.before.status.value,
        to_status=outcome.after.status.value,
        changed=outcome.changed,
    )
    return rules.view(res, outcome.after)


def _stamped(tx: Tx, res: Resource, outcome: Outcome) -> ResourceProgress:
    """Issue 13: the content version a completion records, as this transaction reads the
    resource document (never an older cached one); the cached one if the document is gone."""
    current = tx.resource(res.resource_id)
    version = current.content_version if current is not None else None
    return change_rules.stamp_completion(res, outcome.before, outcome.after, version=version)


def start(
    catalog: CatalogReader, store: ProgressStore, uid: str, resource_id: str, clock: Clock = utcnow
) -> ResourceProgressView:
    return _act(catalog, store, uid, resource_id, Action.start, rules.start, clock)


def complete(
    catalog: CatalogReader, store: ProgressStore, uid: str, resource_id: str, clock: Clock = utcnow
) -> ResourceProgressView:
    return _act(catalog, store, uid, resource_id, Action.complete, rules.complete, clock)


def uncomplete(
    catalog: CatalogReader, store: ProgressStore, uid: str, resource_id: str, clock: Clock = utcnow
) -> ResourceProgressView:
    return _act(catalog, store, uid, resource_id, Action.uncomplete, rules.uncomplete, clock)


def update(
    catalog: CatalogReader,
    store: ProgressStore,
    uid: str,
    resource_id: str,
    change: ProgressUpdate,
    clock: Clock = utcnow,
) -> ResourceProgressView:
    def decide(res: Resource, current: ResourceProgress | None, now: dt.datetime) -> Outcome:
        return rules.update(res, current, change, now)

    return _act(catalog, store, uid, resource_id, Action.update, decide, clock)


# ---- an instructor's excuse ---------------------------------------------------------------------


def excuse(
    catalog: CatalogReader,
    store: ProgressStore,
    me: Caller,
    uid: str,
    resource_id: str,
    req: ExcuseRequest,
    *,
    clock: Clock = utcnow,
) -> ResourceProgressView:
    """Excuse the learner ``uid`` from the resource: one transaction writes the resource progress
    (the input of the module rollup, which the trigger then recounts without it), its event and
    the audit entry. Excusing again is a no-op answered 200."""
    return _excuse(catalog, store, me, uid, resource_id, req, Action.excuse, clock)


def unexcuse(
    catalog: CatalogReader,
    store: ProgressStore,
    me: Caller,
    uid: str,
    resource_id: str,
    req: ExcuseRequest,
    *,
    clock: Clock = utcnow,
) -> ResourceProgressView:
    """Take an excuse back (the resource counts for the learner again), the same way."""
    return _excuse(catalog, store, me, uid, resource_id, req, Action.unexcuse, clock)


def _excuse(
    catalog: CatalogReader,
    store: ProgressStore,
    me: Caller,
    uid: str,
    resource_id: str,
    req: ExcuseRequest,
    action: Action,
    clock: Clock,
) -> ResourceProgressView:
    res = cat.resource(catalog, resource_id)
    decide = rules.excuse if action == Action.excuse else rules.unexcuse

    def work(tx: Tx) -> Outcome:
        # An instructor acts only on the learners of their cohorts (404 otherwise), checked in the
        # transaction that writes, as the review routes do.
        require_supervision(me, uid, tx, what=f"learner {uid}")
        current = tx.progress(uid, res.resource_id)
        now = clock()
        if current is not None and current.updated_at is not None and now <= current.updated_at:
            now = current.updated_at + dt.timedelta(microseconds=1)
        outcome = decide(res, current, me.uid, req.reason, now)
        if outcome.changed:
            tx.put_progress(uid, outcome.after)
            tx.add_progress_event(uid, outcome.event_id(now), outcome.event(now))
            tx.put_audit(
                audit.learner_entry(
                    actor=me.uid,
                    action="resource_excused" if action == Action.excuse else "resource_unexcused",
                    outcome="excused" if action == Action.excuse else "unexcused",
                    uid=uid,
                    resource=res,
                    at=now,
                    reason=req.reason,
                    status=outcome.after.status.value,
                )
            )
        return outcome

    outcome = store.transact(work, lock=progress_lock(uid, res.resource_id))
    log.info(
        "resource excuse",
        action=action.value,
        uid=uid,
        resource_id=res.resource_id,
        instructor=me.uid,
        changed=outcome.changed,
    )
    return rules.view(res, outcome.after)


def resource_progress(
    catalog: CatalogReader, store: ProgressStore, uid: str, resource_id: str
) -> ResourceProgressView:
    res = cat.resource(catalog, resource_id)
    return rules.view(res, store.resources(uid, [res.resource_id]).get(res.resource_id))


_RULE_FIELDS = {"title", "type", "optional", "min_minutes", "pass_score", "due_after"}


def report(
    catalog: CatalogReader,
    store: ProgressStore,
    uid: str,
    pathway_id: str,
    cohorts: CohortStarts | None = None,
) -> ProgressReport:
    """The learner's report of a pathway; each resource's ``due_at`` is their due time (a relative
    one from their cohort's start, read through ``cohorts``)."""
    cat.catch_up(catalog)  # issue 13: a change applied a moment ago is in the report at once
    tree = cat.pathway_tree(catalog, pathway_id)
    docs = store.resources(uid, tree.resource_ids)
    dues = due.due_times(cohorts, uid, (r for m in tree.modules for r in m.resources))
    module_ids = [m.module.module_id for m in tree.modules]
    mods = store.modules(uid, module_ids)
    path = store.pathway(uid, tree.pathway.pathway_id)
    modules = []
    total_resources = 0
    for m in tree.modules:
        stored = mods.get(m.module.module_id)
        _, total = rules.count_module(m.resources, {})
        total_resources += total
        resources = []
        waived = set(stored.waived_resource_ids) if stored else set()
        for r in m.resources:
            v = rules.view(r, docs.get(r.resource_id))
            resources.append(
                ReportResource(
                    **v.model_dump(),
                    **r.model_dump(include=_RULE_FIELDS),
                    completion=r.rule,
                    due_at=dues.get(r.resource_id),
                    updated_since_completion=change_rules.updated_since_completion(
                        r, docs.get(r.resource_id)
                    ),
                    waived=r.resource_id in waived,
                )
            )
        modules.append(
            ReportModule(
                module_id=m.module.module_id,
                title=m.module.title,
                percentage=stored.percentage if stored else rules.ratio(0, total),
                completed_resources=stored.completed_resources if stored else 0,
                total_resources=stored.total_resources if stored else total,
                completed_at=stored.completed_at if stored else None,
                resources=resources,
            )
        )
    if path is None:
        path = PathwayProgress(
            pathway_id=tree.pathway.pathway_id,
            total_modules=len(module_ids),
            total_resources=total_resources,
            percentage=rules.ratio(0, len(module_ids)),
            resource_percentage=rules.ratio(0, total_resources),
        )
    return ProgressReport(
        pathway_id=tree.pathway.pathway_id,
        percentage=path.percentage,
        resource_percentage=path.resource_percentage,
        completed_modules=path.completed_modules,
        total_modules=path.total_modules,
        completed_at=path.completed_at,
        modules=modules,
        retired_at=tree.pathway.retired_at,
    )


def learner_report(
    me: Caller,
    catalog: CatalogReader,
    store: ProgressStore,
    cohorts: CohortStarts,
    uid: str,
    pathway_id: str,
) -> ProgressReport:
    """``GET /admin/users/{uid}/progress/{pathway_id}``: a learner's report as the learner sees
    it (status, late, excused, due time per resource), for an instructor of one of their cohorts
    or an admin (404 otherwise, shared.services.access)."""
    require_supervision(me, uid, cohorts, what=f"learner {uid}")
    return report(catalog, store, uid, pathway_id, cohorts)


def excuse_trail(
    me: Caller, memberships: MembershipReader, log: ExcuseLog, uid: str, query: ExcuseTrailQuery
) -> ExcuseTrail:
    """``GET /admin/users/{uid}/excuses?pathway_id=``: who excused or un-excused the learner from
    which resource of the pathway, when and why (the audit entries, the latest first), scoped as
    the excuse itself (404 outside the caller's cohorts)."""
    require_supervision(me, uid, memberships, what=f"learner {uid}")
    entries = log.excuse_entries(uid, query.pathway_id, query.limit)
    return ExcuseTrail(
        uid=uid,
        pathway_id=query.pathway_id,
        entries=[
            ExcuseTrailEntry(
                resource_id=e.resource_id,
                action="excuse" if e.action == "resource_excused" else "unexcuse",
                by=e.actor,
                reason=e.details.get("reason"),
                at=e.at,
                status=e.details.get("status"),
            )
            for e in entries
        ],
    )
