"""The cohort dashboard (issue 12 item 4): the triggers that keep its aggregates, the page served
from them, and a from-scratch recount that verifies (and repairs) them.

Triggers (see :mod:`shared.domain.dashboard` for the rows, the counters and why they stay exact):

- ``progress_written`` (``users/{uid}/resource_progress/{rid}``): for every cohort that
  ``memberships/{uid}`` lists, syncs the learner's row of the resource's pathway: one transaction
  reads the members document, the row, the profile and the resource's progress (all by key; every
  resource of the pathway when the row does not exist yet), rebuilds the row and commits it with
  the counters' delta. No query runs inside it.
- ``member_written`` (``cohorts/{cid}/members/{uid}``): for every pathway the old or the new
  document names, the same sync of the whole row: a learner joining gets a row built from their
  existing progress; a learner leaving (or a pathway leaving the membership) loses the row and its
  counts.

Which row to sync comes from the event; what it holds always comes from the documents read in the
transaction, so duplicates, late events and the two triggers racing all end on the same rows.

The page (``dashboard``): the cohort document (who may see it), the pathway's counter shards, one
page of rows (by uid, cursor) and the inactive rows (``last_activity_at`` before now − N days, a
query on the rows): ``1 + 8 + limit + inactive_limit`` documents at most (plus the catalog, cached
per process), whatever the cohort's size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared import log
from shared.domain import dashboard as agg
from shared.domain.cohorts import Cohort, CohortMember
from shared.domain.dashboard import Row, Shape
from shared.domain.identity import Caller
from shared.domain.models import Id, ResourceType, valid_id
from shared.errors import NotFound, PermissionDenied, UnusableEvent
from shared.events import DocumentChange
from shared.services import catalog as cat
from shared.services.access import teaches
from shared.services.ports import CatalogReader, DashboardStore, Tx
from shared.services.rollups import owned_resource_progress

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- the pathway's shape -----------------------------------------------------------------------


def shape_of(catalog: CatalogReader, pathway_id: str) -> Shape | None:
    """The pathway's modules and resources in catalog order (``None``: no such pathway)."""
    path = catalog.pathways([pathway_id]).get(pathway_id)
    if path is None:
        return None
    mods = catalog.modules(path.module_ids)
    resources = catalog.resources([rid for m in mods.values() for rid in m.resource_ids])
    return Shape(
        pathway_id=pathway_id,
        modules=tuple(
            (m.module_id, tuple(cat.ordered(m.resource_ids, resources)))
            for m in cat.ordered(path.module_ids, mods)
        ),
    )


# ---- the sync of one row -----------------------------------------------------------------------


@dataclass(frozen=True)
class Synced:
    cohort_id: str
    pathway_id: str
    uid: str
    written: bool
    removed: bool = False
    change: dict[str, int] = field(default_factory=dict)


def row_lock(cohort_id: str, pathway_id: str, uid: str) -> str:
    return f"cohorts/{cohort_id}/dashboard/{pathway_id}/rows/{uid}"


def sync_row(
    store: DashboardStore,
    shape: Shape,
    cohort_id: str,
    uid: str,
    resource_ids: Sequence[str] | None = None,
) -> Synced:
    """Bring the learner's row of (cohort, ``shape``'s pathway) in line with the truth, in one
    transaction. ``resource_ids``: the resources known to have changed (``None``: all of them; a
    missing row is always built from all of them)."""
    pid = shape.pathway_id

    def work(tx: Tx) -> Synced:
        member = tx.member(cohort_id, uid)
        old = tx.row(cohort_id, pid, uid)
        if member is None or pid not in member.pathway_ids:
            if old is None:
                return Synced(cohort_id, pid, uid, written=False)
            change = agg.delta(old, None)
            tx.delete_row(cohort_id, pid, uid)
            if change:
                tx.add_counters(cohort_id, pid, uid, change)
            return Synced(cohort_id, pid, uid, written=True, removed=True, change=change)
        profile = tx.learner_profile(uid)
        name, email = (profile.display_name, profile.email) if profile else (None, None)
        full = old is None or resource_ids is None
        ids = shape.resource_ids if full else [r for r in resource_ids or [] if shape.resource(r)]
        progress = tx.progresses(uid, ids) if ids else {}
        entries = agg.sync_entries(
            shape, {} if full or old is None else old.resources, progress, ids
        )
        new = agg.build_row(
            shape,
            cohort_id,
            uid,
            entries,
            joined_at=member.joined_at,
            display_name=name,
            email=email,
        )
        if old is not None and old == new:
            return Synced(cohort_id, pid, uid, written=False)
        change = agg.delta(old, new)
        tx.put_row(new)
        if change:
            tx.add_counters(cohort_id, pid, uid, change)
        return Synced(cohort_id, pid, uid, written=True, change=change)

    return store.transact(work, lock=row_lock(cohort_id, pid, uid))


# ---- the triggers ------------------------------------------------------------------------------


def owned_member(change: DocumentChange) -> tuple[str, str]:
    """``(cohort_id, uid)`` of a ``cohorts/{cid}/members/{uid}`` change; else
    :class:`UnusableEvent`. Pure: the trigger asks before any client exists."""
    seg = change.segments
    if len(seg) != 4 or seg[0] != "cohorts" or seg[2] != "members":
        raise UnusableEvent(f"not a cohort members document: {change.path}")
    cohort_id, uid = seg[1], seg[3]
    if not valid_id(cohort_id) or not valid_id(uid):
        raise UnusableEvent(f"unexpected ids in {change.path}")
    return cohort_id, uid


def owned_progress(change: DocumentChange) -> tuple[str, str]:
    return owned_resource_progress(change)


def _pathway_ids(change: DocumentChange) -> list[str]:
    out: dict[str, None] = {}
    for doc in (change.old, change.new):
        ids = (doc or {}).get("pathway_ids")
        if isinstance(ids, list):
            out.update({i: None for i in ids if isinstance(i, str) and valid_id(i)})
    return list(out)


def progress_written(
    change: DocumentChange, catalog: CatalogReader, store: DashboardStore
) -> list[Synced]:
    uid, resource_id = owned_progress(change)
    pathway_id = None
    for doc in (change.new, change.old):
        value = (doc or {}).get("pathway_id")
        if isinstance(value, str) and valid_id(value):
            pathway_id = value
            break
    if pathway_id is None:
        res = catalog.resources([resource_id]).get(resource_id)
        if res is None:
            raise UnusableEvent(f"unknown resource {resource_id}")
        pathway_id = res.pathway_id
    membership = store.membership(uid)
    cohorts = [c for c in (membership.cohort_ids if membership else []) if valid_id(c)]
    if not cohorts:
        return []
    shape = shape_of(catalog, pathway_id)
    if shape is None or shape.resource(resource_id) is None:
        raise UnusableEvent(f"resource {resource_id} is not in pathway {pathway_id}")
    done = [sync_row(store, shape, cid, uid, [resource_id]) for cid in cohorts]
    log.info(
        "dashboard rows synced",
        event_id=change.meta.id,
        uid=uid,
        resource_id=resource_id,
        pathway_id=pathway_id,
        cohorts=len(done),
        written=sum(s.written for s in done),
    )
    return done


def member_written(
    change: DocumentChange, catalog: CatalogReader, store: DashboardStore
) -> list[Synced]:
    cohort_id, uid = owned_member(change)
    done = []
    for pid in _pathway_ids(change):
        shape = shape_of(catalog, pid)
        if shape is None:
            log.warning("unknown pathway in a membership", pathway_id=pid, uid=uid)
            continue
        done.append(sync_row(store, shape, cohort_id, uid))
    log.info(
        "dashboard membership synced",
        event_id=change.meta.id,
        uid=uid,
        cohort_id=cohort_id,
        pathways=len(done),
        written=sum(s.written for s in done),
    )
    return done


# ---- the page ----------------------------------------------------------------------------------


class DashboardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=100)] = 25
    cursor: Id | None = None
    inactive_days: Annotated[int, Field(ge=1, le=365)] = 7
    inactive_limit: Annotated[int, Field(ge=1, le=100)] = 10


class GridRow(BaseModel):
    uid: str
    display_name: str | None
    email: str | None
    percentage: float
    resource_percentage: float
    modules: list[float] = Field(description="percentage per module, in the order of `modules`")
    minutes: int
    awaiting_review: int
    last_activity_at: dt.datetime | None
    completed_at: dt.datetime | None


class ModuleSummary(BaseModel):
    module_id: str
    title: str
    resources: int
    completed_learners: int
    average_percentage: float


class ResourceSummary(BaseModel):
    resource_id: str
    module_id: str
    title: str
    type: ResourceType
    optional: bool
    started: int
    completed: int
    submitted: int
    approved: int


class TimeSpent(BaseModel):
    median_minutes: int | None = Field(
        description="lower bound of the histogram bucket holding the median of total minutes, "
        "over learners who spent any time"
    )
    bucket_minutes: int = Field(description="the bucket's width: 1 means the median is exact")
    learners: int
    method: str = "histogram"


class DayCount(BaseModel):
    date: str
    count: int


class InactiveLearner(BaseModel):
    uid: str
    display_name: str | None
    last_activity_at: dt.datetime | None


class Inactive(BaseModel):
    days: int
    before: dt.datetime
    learners: list[InactiveLearner]
    more: bool


class DashboardReply(BaseModel):
    cohort_id: str
    cohort_name: str
    pathway_id: str
    pathway_title: str
    learners: int
    completed_learners: int
    awaiting_review: int
    modules: list[ModuleSummary]
    resources: list[ResourceSummary]
    time_spent: TimeSpent
    completions: list[DayCount]
    rows: list[GridRow]
    next_cursor: str | None
    inactive: Inactive
    documents_read: int = Field(
        description="Firestore documents this reply read (catalog reads excluded: cached)"
    )


def allowed_cohort(caller: Caller, store: DashboardStore, cohort_id: str) -> Cohort:
    cohort = store.cohort(cohort_id)
    if cohort is None:
        raise NotFound("no such cohort")
    if not teaches(caller, cohort.instructor_uids):
        raise PermissionDenied("only the cohort's instructors and admins see its dashboard")
    return cohort


def dashboard(
    caller: Caller,
    cohort_id: str,
    pathway_id: str,
    query: DashboardQuery,
    *,
    store: DashboardStore,
    catalog: CatalogReader,
    clock: Clock = utcnow,
) -> DashboardReply:
    cohort = allowed_cohort(caller, store, cohort_id)
    if pathway_id not in cohort.pathway_ids:
        raise NotFound("this cohort does not follow that pathway")
    shape = shape_of(catalog, pathway_id)
    path = catalog.pathways([pathway_id]).get(pathway_id)
    if shape is None or path is None:
        raise NotFound("no such pathway")
    shards = store.counters(cohort_id, pathway_id)
    counters = agg.counter_view(agg.sum_counters(shards))
    page = store.rows_page(cohort_id, pathway_id, query.cursor, query.limit + 1)
    before = clock() - dt.timedelta(days=query.inactive_days)
    idle = store.inactive(cohort_id, pathway_id, before, query.inactive_limit + 1)
    reads = 1 + max(1, len(shards)) + max(1, len(page)) + max(1, len(idle))

    top, res, mod = counters.get("", {}), counters.get("res", {}), counters.get("mod", {})
    learners = top.get("learners", 0)
    mods = catalog.modules(shape.module_ids)
    modules = []
    for mid, module_resources in shape.modules:
        pct_sum = mod.get(f"{mid}.pct_x100", 0) / 100.0
        modules.append(
            ModuleSummary(
                module_id=mid,
                title=mods[mid].title if mid in mods else mid,
                resources=len(module_resources),
                completed_learners=mod.get(f"{mid}.completed", 0),
                average_percentage=round(pct_sum / learners, 2) if learners else 0.0,
            )
        )
    resources = [
        ResourceSummary(
            resource_id=r.resource_id,
            module_id=mid,
            title=r.title,
            type=r.type,
            optional=r.optional,
            **{name: res.get(f"{r.resource_id}.{name}", 0) for name in agg.BIT_NAMES},
        )
        for mid, rs in shape.modules
        for r in rs
    ]
    histogram = {int(k): v for k, v in counters.get("time", {}).items() if k.isdigit()}
    median = agg.median_from_histogram(histogram)
    rows = page[: query.limit]
    return DashboardReply(
        cohort_id=cohort_id,
        cohort_name=cohort.name,
        pathway_id=pathway_id,
        pathway_title=path.title,
        learners=learners,
        completed_learners=top.get("completed_learners", 0),
        awaiting_review=top.get("awaiting_review", 0),
        modules=modules,
        resources=resources,
        time_spent=TimeSpent(
            median_minutes=median.minutes, bucket_minutes=median.width, learners=median.learners
        ),
        completions=[
            DayCount(date=d, count=n) for d, n in sorted(counters.get("done", {}).items()) if n
        ],
        rows=[_grid_row(shape, r) for r in rows],
        next_cursor=rows[-1].uid if len(page) > query.limit else None,
        inactive=Inactive(
            days=query.inactive_days,
            before=before,
            learners=[
                InactiveLearner(
                    uid=r.uid, display_name=r.display_name, last_activity_at=r.last_activity_at
                )
                for r in idle[: query.inactive_limit]
            ],
            more=len(idle) > query.inactive_limit,
        ),
        documents_read=reads,
    )


class CohortPathway(BaseModel):
    pathway_id: str
    title: str


class CohortChoice(BaseModel):
    cohort_id: str
    name: str
    pathways: list[CohortPathway]


class CohortList(BaseModel):
    cohorts: list[CohortChoice]


MAX_COHORTS = 200


def my_cohorts(caller: Caller, *, store: DashboardStore, catalog: CatalogReader) -> CohortList:
    """The cohorts whose dashboard the caller may open (admins: all, up to 200; instructors: those
    listing them; anyone else: none)."""
    if caller.admin:
        found = store.list_cohorts(instructor_uid=None, after=None, limit=MAX_COHORTS)
    elif caller.instructor:
        found = store.list_cohorts(instructor_uid=caller.uid, after=None, limit=MAX_COHORTS)
    else:
        found = []
    paths = catalog.pathways(sorted({p for c in found for p in c.pathway_ids if valid_id(p)}))
    return CohortList(
        cohorts=[
            CohortChoice(
                cohort_id=c.cohort_id,
                name=c.name or c.cohort_id,
                pathways=[
                    CohortPathway(pathway_id=p, title=paths[p].title)
                    for p in c.pathway_ids
                    if p in paths
                ],
            )
            for c in found
            if teaches(caller, c.instructor_uids)
        ]
    )


def _grid_row(shape: Shape, row: Row) -> GridRow:
    return GridRow(
        uid=row.uid,
        display_name=row.display_name,
        email=row.email,
        percentage=row.percentage,
        resource_percentage=row.resource_percentage,
        modules=[row.modules.get(mid, 0.0) for mid in shape.module_ids],
        minutes=row.minutes,
        awaiting_review=row.awaiting_review,
        last_activity_at=row.last_activity_at,
        completed_at=row.completed_at,
    )


# ---- verify: a from-scratch recount ------------------------------------------------------------


@dataclass
class Drift:
    """What differs between the aggregates and a recount from the learners' documents."""

    cohort_id: str
    pathway_id: str
    learners: int = 0
    rows_off: list[str] = field(default_factory=list)  # uids whose row is missing, extra or wrong
    counters_off: dict[str, tuple[int, int]] = field(default_factory=dict)  # name: (kept, recount)
    live_off: tuple[int, int] | None = None  # (kept, recount) awaiting review of this pathway

    @property
    def total(self) -> int:
        return len(self.rows_off) + len(self.counters_off) + (self.live_off is not None)


def all_members(store: DashboardStore, cohort_id: str, page: int = 500) -> Iterator[CohortMember]:
    """Every member of the cohort, a page at a time (uid order)."""
    after: str | None = None
    while True:
        found = store.members(cohort_id, after=after, limit=page)
        yield from found
        if len(found) < page:
            return
        after = found[-1].uid


def expected_rows(store: DashboardStore, shape: Shape, cohort_id: str) -> dict[str, Row]:
    """Every row as a from-scratch build from the members and their documents would make it."""
    out = {}
    for member in all_members(store, cohort_id):
        if shape.pathway_id not in member.pathway_ids:
            continue
        progress, (name, email) = store.truth(member.uid, shape.resource_ids)
        entries = agg.sync_entries(shape, {}, progress, shape.resource_ids)
        out[member.uid] = agg.build_row(
            shape,
            cohort_id,
            member.uid,
            entries,
            joined_at=member.joined_at,
            display_name=name,
            email=email,
        )
    return out


def verify(store: DashboardStore, shape: Shape, cohort_id: str) -> Drift:
    """Compare rows, counters and the live count with a recount (reads the whole cohort: an
    operator's and a test's tool, never the page's). Rows are compared without their labels
    (name, email), which follow the profile only on the learner's next event on that pathway."""
    pid = shape.pathway_id
    expected = expected_rows(store, shape, cohort_id)
    kept = {r.uid: r for r in store.all_rows(cohort_id, pid)}
    drift = Drift(cohort_id, pid, learners=len(expected))
    expected = {u: _counted(r) for u, r in expected.items()}
    kept = {u: _counted(r) for u, r in kept.items()}
    drift.rows_off = sorted(
        u for u in expected.keys() | kept.keys() if expected.get(u) != kept.get(u)
    )
    want = agg.recount(expected.values())
    have = agg.sum_counters(store.counters(cohort_id, pid))
    drift.counters_off = {
        k: (have.get(k, 0), want.get(k, 0))
        for k in sorted(want.keys() | have.keys())
        if have.get(k, 0) != want.get(k, 0)
    }
    live = agg.sum_counters(store.live_counts(cohort_id)).get(f"pathways.{pid}", 0)
    if live != want.get("awaiting_review", 0):
        drift.live_off = (live, want.get("awaiting_review", 0))
    return drift


def _counted(row: Row) -> Row:
    """The row without its labels (name, email): those are the profile's as of the learner's last
    event on that pathway, not counts."""
    return row.model_copy(update={"display_name": None, "email": None})


@dataclass(frozen=True)
class Repaired:
    rows: int
    counters: dict[str, int]  # the correction applied to the counters


def repair(store: DashboardStore, shape: Shape, cohort_id: str, uids: Iterable[str]) -> Repaired:
    """Sync the named learners' rows in full (the triggers' own transaction), then bring the
    counters to the sum of the stored rows with one correcting increment.

    The first step keeps ``counters == sum(rows)`` wherever it held; the second restores it where a
    row or a counter was edited by hand. The second compares a snapshot of the rows with one of the
    counters, so run it while the cohort is quiet (a learner acting meanwhile can make the
    correction wrong; verify again afterwards)."""
    rows = sum(sync_row(store, shape, cohort_id, uid).written for uid in uids)
    pid = shape.pathway_id
    want = agg.recount(store.all_rows(cohort_id, pid))
    have = agg.sum_counters(store.counters(cohort_id, pid))
    fix = {k: want.get(k, 0) - have.get(k, 0) for k in want.keys() | have.keys()}
    fix = {k: v for k, v in sorted(fix.items()) if v}
    if fix:

        def work(tx: Tx) -> None:
            tx.add_counters(cohort_id, pid, "repair", fix)

        store.transact(work, lock=f"cohorts/{cohort_id}/dashboard/{pid}/repair")
    return Repaired(rows, fix)
