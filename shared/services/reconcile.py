"""Drift repair: recount every learner's rollups (and upload-derived statuses) from the source of truth.

The triggers keep rollups exact as long as every event is delivered. When one is not (a trigger
down past Eventarc's retries, a hand-edited document, a bug), the drift stays until the learner
happens to touch that module again. Reconcile repairs it, in three steps per learner:

1. **Resource statuses** that follow from the learner's submissions: for every resource with a
   submission, or whose status is ``submitted`` / ``reviewed``, the status the per-resource index
   ``users/{uid}/resource_submissions/{rid}`` implies, by the rule every submission change uses
   (:func:`shared.domain.uploads.settle`; :func:`settled`). A repair reads the progress and the
   index BY KEY inside one transaction of the unit of work (no query), writes the progress and
   appends a ``progress_events`` entry (action ``reconcile``, naming the run), as every
   submission-driven change does.
2. **Modules**: ``module_progress`` recounted from ``resource_progress`` with
   :func:`shared.domain.progress.module_rollup`, the rule the module trigger uses.
3. **Pathways**: ``pathway_progress`` recounted from the (repaired) module rollups with
   :func:`shared.domain.progress.pathway_rollup`, the rule the pathway trigger uses.

Checking reads the learner's documents once, outside any transaction (plain queries of the
:class:`~shared.services.ports.LearnerIndex`). Only a pathway with a level that differs from its
recount is repaired, in ONE transaction of the unit of work (:meth:`Reconciler._repair_pathway`):
the catalog version, the drifted modules' resources, the pathway's modules and the pathway, by key;
the module trigger's and the pathway trigger's rules; a write only on change. The transaction reads
the source of truth again and is the authority (the check only says where to look): a learner
acting meanwhile, or a trigger firing on reconcile's own write, ends on the same numbers.
``completed_at`` follows the rollup rule: kept where the stored level was and is complete, set to
the time of its last counting part where it becomes complete, cleared where it is not.

Cost per learner (issue 13; ``make bench-catalog --part cost``, one module of five resources, a
resource added): the page reads about one document per learner and group it scans (names only;
``resource_progress`` costs one per resource document of the learner, as a page reads whole
learners); the check reads every progress document of the learner once; the repair transaction
reads again what it counts (the resources of the drifted modules, the pathway's modules, the
pathway, the catalog version). What went: a second transaction per learner (the pathway's, which
read the catalog version and the just-written module again), and, in a re-evaluation, the
``resource_progress`` scan (see below). What stays, on purpose: the transaction's reads, since
only a transaction that reads what it counts can be the authority.

What counts as drift
    A level whose stored document differs (``updated_at`` aside) from its recount. A module without
    a document and with nothing done is not drift (the pathway rule reads a missing module as 0 of
    its catalog total); neither is a pathway without a document while the learner has no module
    document in it.

Counts, per level (resource statuses, modules, pathways)
    ``checked`` levels examined, ``drifted`` found different from the recount, ``repaired`` of those
    left equal to the recount by the repair transaction (it wrote, or found that a trigger or the
    learner had already put it right: ``written`` counts reconcile's own writes). A dry run checks
    and counts drift and repairs nothing.

Runs are split into lanes, paginated and resumable (:func:`start_run`, :func:`reconcile_batch`).
A run gets one lane per ``lane_size`` learners (an aggregation count of the run's
``pathway_progress`` documents), at most ``max_lanes``: the queue's max concurrent dispatches
(deploy/plan.py: 20), since more lanes would only wait. Lane ``i`` holds the learners whose uid is
in ``(bounds[i-1], bounds[i]]``: the lanes are disjoint and together cover every uid whatever the
bounds are, which only decide how even the lanes are. Each lane is its own chain: a batch handles
at most ``page_size`` learners of its lane after a cursor (the last uid of the previous batch),
records its counts in the run log under ``(lane, batch)`` (a redelivered batch replaces its own
entry, so nothing is counted twice), then enqueues the lane's next batch with a deterministic task
name, ``reconcile-{run}-{lane}-{batch}``. The lane's last batch marks the lane done; the run is
done when every lane is. A batch that fails raises, and Cloud Tasks delivers it again; a batch
that crashed after repairing part of its learners reports, on redelivery, only what was still
drifted. A retried start keeps the first start's lanes (the run log has them) and enqueues nothing
new (the names are taken).

Splitting (:func:`lane_bounds`). Firestore's own way to split a collection-group scan into ranges
is a partition query (``CollectionGroup.get_partitions``, the PartitionQuery RPC); the Firestore
emulator does not implement it (``501 Method google.firestore.v1.Firestore/PartitionQuery is
unimplemented``), and it takes no filter (a run of one pathway would be split by every pathway's
documents), so the local cloud could never exercise it. The bounds are uids instead:

- Firebase Auth uids are 28 characters drawn evenly from ``[0-9A-Za-z]``, so bounds on the first
  two characters (:func:`alphabet_bounds`, 62² cells in byte order) split them evenly at no cost.
  They are checked with one aggregation count per lane (no document read).
- Any other uids (tests, imported accounts with custom ids, a shared prefix such as
  ``bc-1234-000123``) would crowd into a few of those lanes; when a lane counts more than
  :data:`LANE_SLACK` times its share, the bounds are the run's own quantiles instead: the uid
  ``total / lanes`` documents after the previous bound, by an offset query on the same index
  (``lanes - 1`` queries; Firestore bills the skipped index entries as reads: about one per
  learner, paid only when the uids are not Firebase's).

Which learners. A drift repair (``ops reconcile``, the nightly run) pages every learner with a
``resource_progress``, ``module_progress`` or ``pathway_progress`` document (of the pathway).
A re-evaluation (a run carrying a ``catalog_version``) pages the learners with a
``module_progress`` or ``pathway_progress`` document of the pathway: the learners whose numbers a
catalog change moves, as ``catalog plan`` counts them (the module trigger writes a module document
for every resource a learner touches). A learner with resource documents and no module document at
all is a lost trigger: drift, which the nightly repair finds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared import log
from shared.domain import catalog_change as change_rules
from shared.domain import progress as rules
from shared.domain import uploads
from shared.domain.models import (
    Id,
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceSubmissions,
)
from shared.services import catalog as cat
from shared.services import certificates
from shared.services.catalog import CachedCatalog
from shared.services.ports import (
    CatalogReader,
    LearnerIndex,
    LearnerState,
    StateKeys,
    Tx,
    UnitOfWork,
)
from shared.services.uploads import learner_lock

__all__ = ["LearnerState"]  # re-exported: the state a LearnerIndex reads

Clock = Callable[[], dt.datetime]
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
TASK_ENTRY_POINT = "task_reconcile"
DEFAULT_LANE_SIZE = 1000  # learners per lane (RECONCILE_LANE_SIZE)
DEFAULT_MAX_LANES = 20  # the queue's max concurrent dispatches (deploy/plan.py QUEUE_SETTINGS)
LANES_LIMIT = 100  # what a task may name
LANE_SLACK = 1.5  # a lane may hold 1.5 times its share before the bounds are sampled instead
UID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # in byte order


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- counts ------------------------------------------------------------------------------------


class Counts(BaseModel):
    checked: int = 0
    drifted: int = 0
    repaired: int = 0
    written: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            checked=self.checked + other.checked,
            drifted=self.drifted + other.drifted,
            repaired=self.repaired + other.repaired,
            written=self.written + other.written,
        )


class Tally(BaseModel):
    """Counts per level, and the learners they cover."""

    learners: int = 0
    statuses: Counts = Field(default_factory=Counts)
    modules: Counts = Field(default_factory=Counts)
    pathways: Counts = Field(default_factory=Counts)
    # certificate links checked against the pathway progress (Reconciler._certificates); not in
    # ``drifted`` (the rollups' drift), reported beside it
    certificates: Counts = Field(default_factory=Counts)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            learners=self.learners + other.learners,
            statuses=self.statuses + other.statuses,
            modules=self.modules + other.modules,
            pathways=self.pathways + other.pathways,
            certificates=self.certificates + other.certificates,
        )

    @property
    def drifted(self) -> int:
        return self.statuses.drifted + self.modules.drifted + self.pathways.drifted


# ---- the pure decisions ------------------------------------------------------------------------


def settled(
    current: ResourceProgress | None,
    index: ResourceSubmissions | None,
    resource: Resource | None,
    at: dt.datetime,
) -> ResourceProgress | None:
    """The resource progress the learner's per-resource index implies (the rule of
    :func:`shared.domain.uploads.settle_progress`, recording nothing new); ``None``: no change (or
    no progress and a resource the catalog does not know)."""
    statuses = uploads.statuses(index).values() if index is not None else ()
    before = current
    if before is None:
        if resource is None:
            return None
        before = ResourceProgress(
            resource_id=resource.resource_id,
            pathway_id=resource.pathway_id,
            module_id=resource.module_id,
        )
    fresh = uploads.settle(before, statuses, at, resource=resource)
    if fresh is not None and resource is not None:  # issue 13: the version it is completed at
        fresh = change_rules.stamp_completion(resource, current, fresh)
    return fresh


def status_candidates(
    resources: Mapping[str, ResourceProgress],
    indexes: Mapping[str, ResourceSubmissions],
    catalog: Mapping[str, Resource],
    pathway_id: str | None = None,
) -> list[str]:
    """Resources whose status may owe something to submissions (any other status stands), in
    ``pathway_id`` only when given (``catalog``: the catalog's resources among them)."""
    uploaded = {rid for rid, p in resources.items() if p.status in uploads.UPLOAD_STATUSES}
    found = sorted(uploaded | {rid for rid, index in indexes.items() if index.submissions})
    if pathway_id is None:
        return found

    def inside(rid: str) -> bool:
        progress = resources.get(rid)
        if progress is not None and progress.pathway_id == pathway_id:
            return True
        res = catalog.get(rid)
        return res is not None and res.pathway_id == pathway_id

    return [rid for rid in found if inside(rid)]


@dataclass(frozen=True)
class PathwayCatalog:
    """One pathway's catalog, in catalog order."""

    pathway: Pathway
    modules: dict[str, Module]
    resources: dict[str, list[Resource]]  # module id -> its resources, in order
    totals: dict[str, int]  # module id -> counting resources

    @classmethod
    def read(cls, catalog: CatalogReader, pathway: Pathway) -> PathwayCatalog:
        mods = catalog.modules(list(pathway.module_ids))
        found = catalog.resources([rid for m in mods.values() for rid in m.resource_ids])
        resources = {mid: cat.ordered(m.resource_ids, found) for mid, m in mods.items()}
        totals = {mid: rules.count_module(rs, {})[1] for mid, rs in resources.items()}
        return cls(pathway, mods, resources, totals)

    def keys(self) -> StateKeys:
        """A learner's documents this pathway's recount reads."""
        every = [r for mid in self.pathway.module_ids for r in self.resources.get(mid, [])]
        return StateKeys(
            resource_ids=tuple(r.resource_id for r in every),
            module_ids=tuple(m for m in self.pathway.module_ids if m in self.modules),
            pathway_ids=(self.pathway.pathway_id,),
            upload_ids=tuple(r.resource_id for r in every if r.requires_upload),
        )


@dataclass(frozen=True)
class PathwayCheck:
    """A pathway's recount for one learner: what differs from the stored documents."""

    module_ids: list[str]  # every module of the pathway (the checked ones)
    modules: dict[str, ModuleProgress]  # drifted module id -> its recount
    pathway: PathwayProgress | None  # the pathway's recount when it drifted


def module_recount(
    pc: PathwayCatalog,
    module_id: str,
    progress: Mapping[str, ResourceProgress],
    current: ModuleProgress | None,
    now: dt.datetime,
) -> ModuleProgress | None:
    """The module trigger's rule; ``None`` when the stored module is right (or rightly absent)."""
    fresh = change_rules.module_rollup(
        pc.modules[module_id], pc.resources[module_id], progress, current, now
    )
    if current is None and fresh is not None and fresh.completed_resources == 0:
        return None  # absent reads as 0 of its total: nothing to repair
    return fresh


def pathway_recount(
    pc: PathwayCatalog,
    modules: Mapping[str, ModuleProgress],
    current: PathwayProgress | None,
    now: dt.datetime,
) -> PathwayProgress | None:
    """The pathway trigger's rule over ``modules``; ``None`` when the stored pathway is right (or
    rightly absent: no module document in it)."""
    module_ids = list(pc.pathway.module_ids)
    if current is None and not any(mid in modules for mid in module_ids):
        return None
    return change_rules.pathway_rollup(pc.pathway, pc.modules, modules, pc.totals, current, now)


def check_pathway(pc: PathwayCatalog, state: LearnerState, now: dt.datetime) -> PathwayCheck:
    """Recount one pathway of a learner from ``state`` (modules from resources, the pathway from the
    modules as they will be once repaired)."""
    drifted: dict[str, ModuleProgress] = {}
    after: dict[str, ModuleProgress] = {}
    checked = [mid for mid in pc.pathway.module_ids if mid in pc.modules]
    for mid in checked:
        current = state.modules.get(mid)
        fresh = module_recount(pc, mid, state.resources, current, now)
        if fresh is not None:
            drifted[mid] = after[mid] = fresh
        elif current is not None:
            after[mid] = current
    pathway = pathway_recount(pc, after, state.pathways.get(pc.pathway.pathway_id), now)
    return PathwayCheck(checked, drifted, pathway)


def pathways_of(state: LearnerState, catalog: CatalogReader) -> list[str]:
    """Every pathway a learner has a progress document in (catalog ids fill missing fields)."""
    found = set(state.pathways)
    found |= {m.pathway_id for m in state.modules.values() if m.pathway_id}
    found |= {p.pathway_id for p in state.resources.values() if p.pathway_id}
    no_module = [mid for mid, m in state.modules.items() if not m.pathway_id]
    found |= {m.pathway_id for m in catalog.modules(no_module).values()}
    no_pathway = [rid for rid, p in state.resources.items() if not p.pathway_id]
    found |= {r.pathway_id for r in catalog.resources(no_pathway).values()}
    return sorted(found)


# ---- one learner -------------------------------------------------------------------------------


@dataclass
class Reconciler:
    """Checks and repairs learners; holds the ports and the per-run catalog."""

    learners: LearnerIndex
    catalog: CatalogReader
    store: UnitOfWork
    now: Clock = utcnow
    dry_run: bool = False
    run_id: str = "reconcile"  # named by the progress events of status repairs
    # a re-evaluation (issue 13): a pathway's learner is read by key (``PathwayCatalog.keys``),
    # not by listing the learner's documents; a reconcile reads everything (it also repairs the
    # statuses of progress whose resource left the catalog)
    by_key: bool = False
    _pathways: dict[str, PathwayCatalog | None] = field(default_factory=dict)

    @classmethod
    def for_run(
        cls, learners: LearnerIndex, catalog: CatalogReader, store: UnitOfWork
    ) -> Reconciler:
        """A reconciler for one batch or run: ``catalog`` (uncached) is read once per run, so a
        catalog edit is seen by the next run."""
        version = getattr(catalog, "version", None)  # version-checked when the reader can say
        cached = CachedCatalog(catalog, ttl=3600.0, version=version)
        return cls(learners=learners, catalog=cached, store=store)

    def pathway_catalog(self, pathway_id: str) -> PathwayCatalog | None:
        if pathway_id not in self._pathways:
            path = self.catalog.pathways([pathway_id]).get(pathway_id)
            self._pathways[pathway_id] = (
                PathwayCatalog.read(self.catalog, path) if path is not None else None
            )
        return self._pathways[pathway_id]

    def learner(self, uid: str, pathway_id: str | None = None) -> Tally:
        tally = Tally(learners=1)
        scoped = self.pathway_catalog(pathway_id) if self.by_key and pathway_id else None
        state = self.learners.learner_state(uid, scoped.keys() if scoped is not None else None)
        # The rollups are checked against the statuses as repaired (in a dry run: as they would
        # be), so the counts do not depend on whether a trigger has caught up with the repair yet.
        state.resources.update(self._statuses(uid, state, pathway_id, tally.statuses))
        ids = [pathway_id] if pathway_id else pathways_of(state, self.catalog)
        for pid in ids:
            pc = self.pathway_catalog(pid)
            if pc is not None:
                check = self._pathway(uid, pc, state, tally)
                self._certificates(uid, pid, state, check, tally.certificates)
        if tally.drifted or tally.certificates.drifted:  # a WARNING: aibc_reconcile_drift counts
            log.warning(
                "learner drifted" if self.dry_run else "learner reconciled",
                uid=uid,
                **tally.model_dump(exclude={"learners"}),
            )
        return tally

    def _statuses(
        self, uid: str, state: LearnerState, pathway_id: str | None, counts: Counts
    ) -> dict[str, ResourceProgress]:
        """Check (and repair) the upload-derived statuses; returns the drifted ones' recounts."""
        indexes = state.submissions
        ids = sorted({*state.resources, *indexes})
        found = self.catalog.resources(ids)
        drifted: dict[str, ResourceProgress] = {}
        for rid in status_candidates(state.resources, indexes, found, pathway_id):
            counts.checked += 1
            fresh = settled(state.resources.get(rid), indexes.get(rid), found.get(rid), self.now())
            if fresh is None:
                continue
            counts.drifted += 1
            drifted[rid] = fresh
            if self.dry_run:
                continue
            written = self._repair_status(uid, rid, found.get(rid))
            counts.repaired += 1
            counts.written += written is not None
        return drifted

    def _repair_status(
        self, uid: str, resource_id: str, resource: Resource | None
    ) -> ResourceProgress | None:
        """In one transaction: the progress and the index by key, the recount, and (on change)
        the progress and its event."""

        def work(tx: Tx) -> ResourceProgress | None:
            current = tx.progress(uid, resource_id)
            index = tx.resource_submissions(uid, resource_id)
            # the resource as this transaction reads it: the content version a repair that
            # completes the resource records (issue 13); the run's copy if it is gone
            res = tx.resource(resource_id) or resource
            at = self.now()
            fresh = settled(current, index, res, at)
            if fresh is not None:
                tx.put_progress(uid, fresh)
                event_id, event = uploads.progress_event(
                    "reconcile", current, fresh, at, None, run_id=self.run_id
                )
                tx.add_progress_event(uid, event_id, event)
            return fresh

        return self.store.transact(work, lock=learner_lock(uid))

    def _pathway(
        self, uid: str, pc: PathwayCatalog, state: LearnerState, tally: Tally
    ) -> PathwayCheck:
        check = check_pathway(pc, state, self.now())
        tally.modules.checked += len(check.module_ids)
        tally.modules.drifted += len(check.modules)
        tally.pathways.checked += 1
        tally.pathways.drifted += check.pathway is not None
        if self.dry_run or (not check.modules and check.pathway is None):
            return check
        modules, pathway = self._repair_pathway(uid, pc, list(check.modules))
        tally.modules.repaired += len(check.modules)
        tally.modules.written += len(modules)
        tally.pathways.repaired += check.pathway is not None
        tally.pathways.written += pathway is not None
        return check

    # -- certificates (issue 13 remainders): the link against the pathway progress --------------

    def _certificates(
        self, uid: str, pathway_id: str, state: LearnerState, check: PathwayCheck, counts: Counts
    ) -> None:
        """Check (and, unless a dry run, repair) the learner's certificate for the pathway with
        the rule and the transaction of the certificate trigger (``certificates.settle``): a
        100 % pathway without a live certificate gets one, a live one below 100 % is revoked.
        Checked where the learner has a pathway rollup: a link is only ever made from one. Not
        where this run has just rewritten the rollup: that write fires the certificate trigger,
        which settles the link itself (two transactions settling the same link at once only
        contend: measured, the emulator's lock timeouts on 50 learners re-evaluated at once). A
        dry run writes nothing, so it decides against the recount it would have written."""
        if pathway_id not in state.pathways and check.pathway is None:
            return
        if check.pathway is not None and not self.dry_run:
            return  # the trigger of the rollup just written settles it
        counts.checked += 1
        assume = check.pathway if self.dry_run else None
        decision = certificates.settle(
            self.store,
            self.catalog,
            uid,
            pathway_id,
            clock=self.now,
            dry_run=self.dry_run,
            assume=assume,
        )
        if not decision.changed:
            return
        counts.drifted += 1
        if not self.dry_run:
            counts.repaired += 1
            counts.written += 1
        log.info(
            "certificate reconciled" if not self.dry_run else "certificate drifted",
            uid=uid,
            pathway_id=pathway_id,
            issued=decision.issued.certificate_id if decision.issued else None,
            revoked=decision.revoked.certificate_id if decision.revoked else None,
        )

    def _repair_pathway(
        self, uid: str, pc: PathwayCatalog, module_ids: list[str]
    ) -> tuple[dict[str, ModuleProgress], PathwayProgress | None]:
        """In ONE transaction: the catalog version, the drifted modules' resources and every
        module of the pathway and the pathway (by key); the modules' recounts (the module
        trigger's rule) and the pathway's from them (the pathway trigger's); the writes, on change
        only. Returns what was written. One transaction, not one per level: the catalog version
        and the repaired modules are read once, and the pathway is counted from the modules as
        written (the triggers end on the same numbers)."""
        version = cat.known_version(self.catalog)
        all_modules = list(pc.pathway.module_ids)
        resource_ids = [r.resource_id for mid in module_ids for r in pc.resources[mid]]

        def work(tx: Tx) -> tuple[dict[str, ModuleProgress], PathwayProgress | None]:
            if version is not None:
                current_version = tx.catalog_version()
                if current_version > version:
                    raise cat.StaleCatalog(current_version)
            progress = tx.progresses(uid, resource_ids) if resource_ids else {}
            stored = tx.module_progress(uid, all_modules)
            current = tx.pathway_progress(uid, pc.pathway.pathway_id)
            now = self.now()
            written: dict[str, ModuleProgress] = {}
            for mid in module_ids:
                fresh = change_rules.module_rollup(
                    pc.modules[mid], pc.resources[mid], progress, stored.get(mid), now
                )
                if fresh is not None:
                    written[mid] = fresh
            pathway = pathway_recount(pc, {**stored, **written}, current, now)
            for fresh in written.values():
                tx.put_module_progress(uid, fresh)
            if pathway is not None:
                tx.put_pathway_progress(uid, pathway)
            return written, pathway

        lock = f"users/{uid}/pathway_progress/{pc.pathway.pathway_id}"
        return self.store.transact(work, lock=lock)


# ---- batches and runs --------------------------------------------------------------------------

Cursor = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ReconcileBatch(BaseModel):
    """The body of a ``task_reconcile`` task: one batch of one lane of a run."""

    model_config = ConfigDict(extra="forbid")

    run_id: Id
    pathway_id: Id | None = None
    cursor: Cursor | None = None  # the last uid of the previous batch (or the lane's lower bound)
    batch: int = Field(default=0, ge=0, le=1_000_000)
    page_size: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)
    dry_run: bool = False
    # catalog re-evaluation (issue 13): more pathways to recount for every learner the run finds
    # in ``pathway_id`` (a resource moved to another pathway), and the catalog version the run
    # re-evaluates (a batch never counts against an older one: it fails and is delivered again)
    also_pathway_ids: list[Id] = Field(default_factory=list, max_length=50)
    catalog_version: int | None = Field(default=None, ge=0)
    # lanes (issue 13): the lane's index and its last uid (inclusive; None: to the end)
    lane: int = Field(default=0, ge=0, lt=LANES_LIMIT)
    until: Cursor | None = None

    @property
    def reevaluation(self) -> bool:
        """A run carrying a catalog version re-evaluates a catalog change (see the module doc)."""
        return self.catalog_version is not None


class ScheduledRun(BaseModel):
    """The body a scheduler sends to ``task_reconcile`` (a static one, e.g. ``{}`` from Cloud
    Scheduler): the day's run, ``nightly-{YYYYMMDD}[-{pathway}]``, started in lanes. A retry of
    that call on the same day starts the same run again: the run log keeps the first start's lanes
    and the queue refuses the lanes' first batches, already named."""

    model_config = ConfigDict(extra="forbid")

    pathway_id: Id | None = None
    page_size: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)
    dry_run: bool = False

    def first_batch(self, now: dt.datetime) -> ReconcileBatch:
        run_id = f"nightly-{now:%Y%m%d}" + (f"-{self.pathway_id}" if self.pathway_id else "")
        return ReconcileBatch(
            run_id=run_id[:128],
            pathway_id=self.pathway_id,
            page_size=self.page_size,
            dry_run=self.dry_run,
        )


class BatchResult(BaseModel):
    batch: int
    cursor: str | None
    next_cursor: str | None  # None: this was the lane's last batch
    tally: Tally
    finished_at: dt.datetime
    started_at: dt.datetime | None = None  # (issue 13) what a batch takes: finished - started
    lane: int = 0

    @property
    def seconds(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()


class RunStarted(BaseModel):
    """What :func:`start_run` did: the run's lanes, as the run log holds them."""

    run_id: str
    lanes: int
    bounds: list[str]


class LaneReport(BaseModel):
    lane: int
    done: bool = False
    batches: int = 0
    learners: int = 0
    peak_batch_seconds: float = 0.0


class RunReport(BaseModel):
    run_id: str
    pathway_id: str | None = None
    dry_run: bool = False
    done: bool = False
    batches: int = 0
    tally: Tally = Field(default_factory=Tally)
    lanes: list[LaneReport] = Field(default_factory=list)

    @property
    def peak_batch_seconds(self) -> float:
        return max((lane.peak_batch_seconds for lane in self.lanes), default=0.0)


class RunLog(Protocol):
    """``reconcile_runs/{run_id}``: the run's parameters and lanes, each batch's result by
    (lane, index), and which lanes are done."""

    def start_run(
        self, task: ReconcileBatch, at: dt.datetime, bounds: Sequence[str] = ()
    ) -> list[str]:
        """Record the run and its lane bounds unless it is recorded already; returns the bounds
        the run has (a start that is retried keeps the first start's lanes)."""
        ...

    def record_batch(self, task: ReconcileBatch, result: BatchResult) -> None:
        """Store ``result`` under ``(task.lane, task.batch)`` (replacing a previous delivery's);
        when it is the lane's last batch, mark the lane done, and the run done once every lane
        of it is (a run recorded without lanes has one)."""
        ...

    def is_done(self, run_id: str) -> bool:
        """Whether every lane of the run is done (one document read, for polling)."""
        ...

    def report(self, run_id: str) -> RunReport | None: ...


class BatchQueue(Protocol):
    def enqueue(self, entry_point: str, task_id: str, payload: dict[str, object]) -> None: ...


def task_name(run_id: str, lane: int, batch: int) -> str:
    """The Cloud Tasks name of a batch: a redelivered batch cannot enqueue its successor twice,
    nor a retried start a lane twice."""
    return f"reconcile-{run_id}-{lane}-{batch}"


def summarize(run_id: str, meta: Mapping[str, object], batches: Iterable[BatchResult]) -> RunReport:
    """A run's report from its stored batches (each (lane, index) once) and its lanes."""
    by_index = {(b.lane, b.batch): b for b in batches}
    tally = Tally()
    lanes: dict[int, LaneReport] = {}
    count = meta.get("lanes")
    for index in range(count if isinstance(count, int) and count > 0 else 1):
        lanes[index] = LaneReport(lane=index)
    finished = meta.get("lanes_done")
    done_lanes = {int(x) for x in finished} if isinstance(finished, list) else set()
    for b in by_index.values():
        tally = tally + b.tally
        entry = lanes.setdefault(b.lane, LaneReport(lane=b.lane))
        entry.batches += 1
        entry.learners += b.tally.learners
        entry.peak_batch_seconds = max(entry.peak_batch_seconds, b.seconds)
        if b.next_cursor is None:
            done_lanes.add(b.lane)
    for entry in lanes.values():
        entry.done = entry.lane in done_lanes
    pathway = meta.get("pathway_id")
    return RunReport(
        run_id=run_id,
        pathway_id=pathway if isinstance(pathway, str) else None,
        dry_run=bool(meta.get("dry_run", False)),
        done=bool(meta.get("done", False)),
        batches=len(by_index),
        tally=tally,
        lanes=[lanes[k] for k in sorted(lanes)],
    )


# ---- lanes -------------------------------------------------------------------------------------


def lane_count(learners: int, lane_size: int, max_lanes: int) -> int:
    """How many lanes a run of ``learners`` gets: one per ``lane_size`` learners (rounded up), at
    least one, at most ``max_lanes`` (the queue's concurrent dispatches: more would only wait)."""
    wanted = -(-max(learners, 0) // max(lane_size, 1))
    return max(1, min(max_lanes, wanted, LANES_LIMIT))


def alphabet_bounds(lanes: int) -> list[str]:
    """``lanes - 1`` two-character bounds that split uids drawn uniformly from
    :data:`UID_ALPHABET` (Firebase Auth's 28-character uids) into equal ranges: lane ``i`` holds
    the uids ``<= bounds[i]`` (and ``> bounds[i - 1]``)."""
    size = len(UID_ALPHABET)
    cells = size * size
    out: list[str] = []
    for i in range(1, lanes):
        cell = i * cells // lanes - 1
        out.append(UID_ALPHABET[cell // size] + UID_ALPHABET[cell % size])
    return out


def balanced(counts: Sequence[int], slack: float = LANE_SLACK) -> bool:
    """Whether no lane holds more than ``slack`` times its fair share (and a learner more)."""
    total = sum(counts)
    if not counts or total == 0:
        return True
    return max(counts) <= slack * total / len(counts) + 1


def lane_bounds(index: LearnerIndex, pathway_id: str | None, lanes: int, total: int) -> list[str]:
    """Bounds (ascending uids, ``lanes - 1`` of them at most) splitting the run's learners into
    ranges of about the same size; see the module docstring for the choice. Any bounds are
    correct (the ranges are disjoint and cover every uid); these are balanced:

    1. the :func:`alphabet_bounds` when an aggregation count of each range finds them balanced
       (real Firebase uids: ``lanes`` count queries, no document read);
    2. else quantiles of the learners themselves: the uid ``total / lanes`` places after the
       previous bound, by an offset query (its skipped entries are billed as reads: about one per
       learner; any uid distribution: test uids, imported ones, one shared prefix)."""
    if lanes <= 1:
        return []
    guess = alphabet_bounds(lanes)
    ranges = list(zip([None, *guess], [*guess, None], strict=True))
    if balanced([index.learner_count(pathway_id, lo, hi) for lo, hi in ranges]):
        return guess
    lanes = min(lanes, total)
    step = max(1, -(-total // max(lanes, 1)))
    bounds: list[str] = []
    for _ in range(lanes - 1):
        found = index.learner_at(bounds[-1] if bounds else None, step - 1, pathway_id)
        if found is None:
            break
        bounds.append(found)
    return bounds


def lane_tasks(first: ReconcileBatch, bounds: Sequence[str]) -> list[ReconcileBatch]:
    """The first batch of every lane: lane ``i`` holds the uids in ``(bounds[i-1], bounds[i]]``."""
    lows: list[str | None] = [None, *bounds]
    highs: list[str | None] = [*bounds, None]
    return [
        first.model_copy(update={"lane": i, "cursor": lo, "until": hi, "batch": 0})
        for i, (lo, hi) in enumerate(zip(lows, highs, strict=True))
    ]


# ---- one batch, a run --------------------------------------------------------------------------


def reconcile_batch(
    task: ReconcileBatch,
    *,
    reconciler: Reconciler,
    runs: RunLog,
    queue: BatchQueue | None,
    page_size: int = DEFAULT_PAGE_SIZE,
    workers: int = 1,
) -> BatchResult:
    """Reconcile one page of learners of the task's lane, record the result, then enqueue the
    lane's next batch (``queue`` ``None``: the caller runs the next batch itself, see
    :func:`run_inline`)."""
    size = task.page_size or page_size
    reconciler = dataclasses.replace(
        reconciler, dry_run=task.dry_run, run_id=task.run_id, by_key=task.reevaluation
    )
    started_at = reconciler.now()
    if task.catalog_version is not None:
        cat.require_version(reconciler.catalog, task.catalog_version)
    uids = reconciler.learners.learner_page(
        task.cursor, size, task.pathway_id, task.until, with_resources=not task.reevaluation
    )
    scopes: list[str | None] = [task.pathway_id, *task.also_pathway_ids]

    def one(uid: str) -> Tally:
        found = Tally()
        for scope in scopes:
            found = found + reconciler.learner(uid, scope)
        return found if len(scopes) == 1 else found.model_copy(update={"learners": 1})

    tally = Tally()
    if workers > 1 and len(uids) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(one, uids):
                tally = tally + found
    else:
        for uid in uids:
            tally = tally + one(uid)
    next_cursor = uids[-1] if len(uids) >= size else None
    result = BatchResult(
        lane=task.lane,
        batch=task.batch,
        cursor=task.cursor,
        next_cursor=next_cursor,
        tally=tally,
        finished_at=reconciler.now(),
        started_at=started_at,
    )
    runs.record_batch(task, result)
    log.info(
        "reconcile batch",
        run_id=task.run_id,
        lane=task.lane,
        batch=task.batch,
        learners=len(uids),
        drifted=tally.drifted,
        last=next_cursor is None,
    )
    if next_cursor is not None and queue is not None:
        following = task.model_copy(update={"cursor": next_cursor, "batch": task.batch + 1})
        queue.enqueue(
            TASK_ENTRY_POINT,
            task_name(task.run_id, task.lane, following.batch),
            following.model_dump(mode="json", exclude_none=True),
        )
    return result


def start_run(
    task: ReconcileBatch,
    *,
    runs: RunLog,
    queue: BatchQueue,
    learners: LearnerIndex | None = None,
    lane_size: int = DEFAULT_LANE_SIZE,
    max_lanes: int = DEFAULT_MAX_LANES,
    now: Clock = utcnow,
) -> RunStarted:
    """Split the run into lanes (``learners`` ``None``: one), record it, and enqueue the first
    batch of every lane (as the run log holds them: a retried start enqueues nothing new)."""
    first = task.model_copy(update={"cursor": None, "until": None, "batch": 0, "lane": 0})
    bounds: list[str] = []
    if learners is not None:
        total = learners.learner_count(first.pathway_id)
        lanes = lane_count(total, lane_size, max_lanes)
        bounds = lane_bounds(learners, first.pathway_id, lanes, total)
    bounds = runs.start_run(first, now(), bounds)
    for lane in lane_tasks(first, bounds):
        queue.enqueue(
            TASK_ENTRY_POINT,
            task_name(lane.run_id, lane.lane, 0),
            lane.model_dump(mode="json", exclude_none=True),
        )
    log.info("reconcile run started", run_id=first.run_id, lanes=len(bounds) + 1)
    return RunStarted(run_id=first.run_id, lanes=len(bounds) + 1, bounds=bounds)


def run_inline(
    task: ReconcileBatch,
    *,
    reconciler: Reconciler,
    runs: RunLog,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> RunReport:
    """Every batch of a run in this process, one after the other (one lane); the run is logged as
    by tasks."""
    current = task.model_copy(update={"cursor": None, "until": None, "batch": 0, "lane": 0})
    runs.start_run(current, reconciler.now())
    while True:
        result = reconcile_batch(
            current, reconciler=reconciler, runs=runs, queue=None, page_size=page_size
        )
        if result.next_cursor is None:
            break
        current = current.model_copy(
            update={"cursor": result.next_cursor, "batch": current.batch + 1}
        )
    report = runs.report(task.run_id)
    if report is None:
        raise RuntimeError(f"the run log has no run {task.run_id}")
    return report
