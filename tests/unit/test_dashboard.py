"""The cohort dashboard's aggregates (shared/domain/dashboard.py, shared/services/dashboard.py)
against an in-memory fake of the ``DashboardStore`` port.

The property: learners act (their resource progress changes), join and leave cohorts; every change
produces an event, and events are delivered any number of times (at least once after their change)
in any order, interleaved with further changes. Once every event has been handled at least once
after the last change, the rows equal a from-scratch build from the final truth and the counters
(the sum of the increments the triggers applied) equal a recount computed independently of the
service, with no stored state. Nothing is ever read inside a transaction after a write, and no
query runs inside one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import dashboard as agg
from shared.domain.cohorts import Cohort, CohortMember, Membership
from shared.domain.dashboard import Row
from shared.domain.identity import Caller
from shared.domain.models import LearnerProfile, ResourceProgress, ResourceStatus
from shared.errors import NotFound, PermissionDenied, UnusableEvent
from shared.events import DocumentChange, EventMeta
from shared.services import dashboard as service
from tests.unit.fakes import FakeCatalog, FakeCohortReads

T = TypeVar("T")
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
PID = "pw"
MODULES = {
    "pw-m1": [("pw-m1-a", False, False), ("pw-m1-b", True, False), ("pw-m1-c", False, True)],
    "pw-m2": [("pw-m2-a", False, False), ("pw-m2-b", True, False)],
}
RIDS = [rid for items in MODULES.values() for rid, _, _ in items]
UPLOAD_RIDS = {rid for items in MODULES.values() for rid, up, _ in items if up}


# ---- the fake --------------------------------------------------------------------------------


@dataclass
class World:
    """The truth (progress, members, profiles) and the aggregates (rows, counter shards)."""

    progress: dict[tuple[str, str], ResourceProgress] = field(default_factory=dict)
    members: dict[tuple[str, str], CohortMember] = field(default_factory=dict)
    profiles: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    cohorts: dict[str, Cohort] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    shards: dict[tuple[str, str, int], Counter[str]] = field(default_factory=dict)
    live: dict[tuple[str, int], Counter[str]] = field(default_factory=dict)
    transactions: int = 0

    @property
    def memberships(self) -> dict[str, Membership]:
        """``memberships/{uid}`` as the cohort flows keep it: the cohorts the learner is in."""
        cohorts: dict[str, set[str]] = {}
        for c, u in self.members:
            cohorts.setdefault(u, set()).add(c)
        return {u: Membership(uid=u, cohort_ids=sorted(cs)) for u, cs in cohorts.items()}


class FakeTx:
    """The dashboard's part of the ``Tx`` port (the unit of work's transaction)."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.writes: list[Callable[[], None]] = []

    def _read(self) -> None:
        assert not self.writes, "a read after a write inside a transaction"

    def member(self, cohort_id: str, uid: str) -> CohortMember | None:
        self._read()
        return self.w.members.get((cohort_id, uid))

    def row(self, cohort_id: str, pathway_id: str, uid: str) -> Row | None:
        self._read()
        row = self.w.rows.get((cohort_id, pathway_id, uid))
        return None if row is None else row.model_copy(deep=True)

    def learner_profile(self, uid: str) -> LearnerProfile | None:
        self._read()
        if uid not in self.w.profiles:
            return None
        name, email = self.w.profiles[uid]
        return LearnerProfile(user_id=uid, display_name=name, email=email)

    def progresses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        self._read()
        return {r: self.w.progress[(uid, r)] for r in resource_ids if (uid, r) in self.w.progress}

    def put_row(self, row: Row) -> None:
        def write() -> None:
            self.w.rows[(row.cohort_id, row.pathway_id, row.uid)] = row

        self.writes.append(write)

    def delete_row(self, cohort_id: str, pathway_id: str, uid: str) -> None:
        self.writes.append(lambda: self.w.rows.pop((cohort_id, pathway_id, uid), None) and None)

    def add_counters(self, cohort_id: str, pathway_id: str, uid: str, change: Any) -> None:
        shard = agg.shard_of(uid)

        def write() -> None:
            self.w.shards.setdefault((cohort_id, pathway_id, shard), Counter()).update(change)
            awaiting = change.get("awaiting_review", 0)
            if awaiting:
                live = self.w.live.setdefault((cohort_id, shard), Counter())
                live.update({"awaiting_review": awaiting, f"pathways.{pathway_id}": awaiting})

        self.writes.append(write)


class FakeDashboardStore(FakeCohortReads):
    """The ``DashboardStore`` port: the cohort reads over the world, its rows and counters."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.state = world  # type: ignore[assignment]  # cohorts, members and memberships

    def transact(self, work: Callable[[Any], T], *, lock: str) -> T:
        tx = FakeTx(self.w)
        result = work(tx)
        for write in tx.writes:  # committed together, only when the function returned
            write()
        self.w.transactions += 1
        return result

    def counters(self, cohort_id: str, pathway_id: str) -> list[dict[str, int]]:
        return [
            dict(v)
            for (c, p, _), v in sorted(self.w.shards.items())
            if (c, p) == (cohort_id, pathway_id)
        ]

    def live_counts(self, cohort_id: str) -> list[dict[str, int]]:
        return [dict(v) for (c, _), v in sorted(self.w.live.items()) if c == cohort_id]

    def rows_page(
        self, cohort_id: str, pathway_id: str, after: str | None, limit: int
    ) -> list[Row]:
        rows = sorted(
            (r for (c, p, u), r in self.w.rows.items() if (c, p) == (cohort_id, pathway_id)),
            key=lambda r: r.uid,
        )
        return [r for r in rows if after is None or r.uid > after][:limit]

    def inactive(
        self, cohort_id: str, pathway_id: str, before: dt.datetime, limit: int
    ) -> list[Row]:
        rows = [
            r
            for (c, p, _), r in self.w.rows.items()
            if (c, p) == (cohort_id, pathway_id)
            and r.last_activity_at is not None
            and r.last_activity_at < before
        ]
        return sorted(rows, key=lambda r: (r.last_activity_at, r.uid))[:limit]

    def all_rows(self, cohort_id: str, pathway_id: str) -> list[Row]:
        return [r for (c, p, _), r in self.w.rows.items() if (c, p) == (cohort_id, pathway_id)]

    def truth(
        self, uid: str, resource_ids: Sequence[str]
    ) -> tuple[dict[str, ResourceProgress], tuple[str | None, str | None]]:
        progress = {
            r: self.w.progress[(uid, r)] for r in resource_ids if (uid, r) in self.w.progress
        }
        return progress, self.w.profiles.get(uid, (None, None))


def catalog() -> FakeCatalog:
    c = FakeCatalog()
    c.add_pathway(PID, MODULES)
    return c


def change(path: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> DocumentChange:
    meta = EventMeta(id="ev", type="t", source="s", subject=path, time=None)
    return DocumentChange(meta=meta, path=path, old=old, new=new, new_update_time=None)


# ---- an independent recount: straight from the rules, no stored state -------------------------


def independent_row(w: World, cohort_id: str, uid: str) -> dict[str, Any] | None:
    member = w.members.get((cohort_id, uid))
    if member is None or PID not in member.pathway_ids:
        return None
    bits: dict[str, set[str]] = {}
    minutes = 0
    for rid in RIDS:
        p = w.progress.get((uid, rid))
        if p is None:
            continue
        names = set()
        if p.status != ResourceStatus.not_started:
            names.add("started")
        if p.status in (ResourceStatus.submitted, ResourceStatus.reviewed) or (
            p.status == ResourceStatus.completed and rid not in UPLOAD_RIDS
        ):
            names.add("completed")
        if p.status in (ResourceStatus.submitted, ResourceStatus.reviewed):
            names.add("submitted")
        if p.status == ResourceStatus.reviewed:
            names.add("approved")
        bits[rid] = names
        minutes += p.time_spent_minutes
    module_done = {}
    for mid, items in MODULES.items():
        required = [rid for rid, _, optional in items if not optional]
        module_done[mid] = sum("completed" in bits.get(r, set()) for r in required) == len(required)
    return {
        "bits": bits,
        "minutes": minutes,
        "complete": all(module_done.values()),
        "mods": module_done,
    }


def independent_counters(w: World, cohort_id: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for c, uid in w.members:
        if c != cohort_id:
            continue
        row = independent_row(w, cohort_id, uid)
        if row is None:
            continue
        out["learners"] += 1
        out["completed_learners"] += row["complete"]
        out[f"time.{agg.time_bucket(row['minutes'])}"] += 1
        for rid, names in row["bits"].items():
            for name in names:
                out[f"res.{rid}.{name}"] += 1
            out["awaiting_review"] += "submitted" in names and "approved" not in names
        for mid, done in row["mods"].items():
            out[f"mod.{mid}.completed"] += done
    return out


def kept(w: World, cohort_id: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for (c, p, _), shard in w.shards.items():
        if (c, p) == (cohort_id, PID):
            total.update(shard)
    return total


def comparable(counters: Counter[str]) -> dict[str, int]:
    """Without the names the independent recount does not compute (dates, percentage sums)."""
    return {
        k: v
        for k, v in counters.items()
        if v != 0 and not k.startswith("done.") and not k.endswith(".pct_x100")
    }


# ---- pure rules --------------------------------------------------------------------------------


def rp(
    rid: str, status: ResourceStatus, minutes: int = 0, at: dt.datetime = T0
) -> ResourceProgress:
    return ResourceProgress(
        resource_id=rid,
        pathway_id=PID,
        module_id=rid.rsplit("-", 1)[0],
        status=status,
        time_spent_minutes=minutes,
        updated_at=at,
        completed_at=at if status != ResourceStatus.in_progress else None,
    )


def shape() -> agg.Shape:
    shaped = service.shape_of(catalog(), PID)
    assert shaped is not None
    return shaped


def test_entry_bits_follow_the_status_and_an_upload_resource_completes_only_with_an_upload() -> (
    None
):
    s = shape()
    upload = s.resource("pw-m1-b")
    plain = s.resource("pw-m1-a")
    assert upload is not None
    assert plain is not None
    assert agg.entry_of(plain, None) is None
    assert agg.entry_of(plain, rp("pw-m1-a", ResourceStatus.not_started)) is None
    assert agg.entry_of(plain, rp("pw-m1-a", ResourceStatus.in_progress, 5)).bits == agg.STARTED  # type: ignore[union-attr]
    done = agg.entry_of(plain, rp("pw-m1-a", ResourceStatus.completed))
    assert done is not None
    assert done.bits == agg.STARTED | agg.COMPLETED
    assert done.done_at == T0
    odd = agg.entry_of(upload, rp("pw-m1-b", ResourceStatus.completed))
    assert odd is not None
    assert odd.bits == agg.STARTED
    sub = agg.entry_of(upload, rp("pw-m1-b", ResourceStatus.submitted))
    assert sub is not None
    assert sub.bits == agg.STARTED | agg.COMPLETED | agg.SUBMITTED
    rev = agg.entry_of(upload, rp("pw-m1-b", ResourceStatus.reviewed))
    assert rev is not None
    assert rev.bits == 15


def test_a_row_counts_modules_without_optional_resources_and_completes_at_the_last_completion() -> (
    None
):
    s = shape()
    later = T0 + dt.timedelta(days=2)
    progress = {
        "pw-m1-a": rp("pw-m1-a", ResourceStatus.completed, 10),
        "pw-m1-b": rp("pw-m1-b", ResourceStatus.submitted, 20),
        "pw-m2-a": rp("pw-m2-a", ResourceStatus.completed, 5, later),
        "pw-m2-b": rp("pw-m2-b", ResourceStatus.reviewed, 1),
    }
    entries = agg.sync_entries(s, {}, progress, s.resource_ids)
    row = agg.build_row(s, "c1", "u1", entries, joined_at=T0, display_name="U", email=None)
    assert row.modules == {"pw-m1": 100.0, "pw-m2": 100.0}
    assert row.percentage == 100.0
    assert row.completed_at == later
    assert row.minutes == 36
    assert row.awaiting_review == 1
    assert row.last_activity_at == later
    # one resource taken back: the module and the pathway drop, completed_at is cleared
    progress["pw-m2-a"] = rp("pw-m2-a", ResourceStatus.in_progress, 5, later)
    again = agg.build_row(
        s,
        "c1",
        "u1",
        agg.sync_entries(s, entries, progress, ["pw-m2-a"]),
        joined_at=T0,
        display_name="U",
        email=None,
    )
    assert again.modules == {"pw-m1": 100.0, "pw-m2": 50.0}
    assert again.completed_at is None
    assert again.resource_percentage == 75.0
    change = agg.delta(row, again)
    assert change["completed_learners"] == -1
    assert change["res.pw-m2-a.completed"] == -1
    assert "res.pw-m2-a.started" not in change
    assert "learners" not in change
    assert agg.delta(again, again) == {}


def test_the_histogram_median_is_exact_below_two_hours_and_within_its_bucket_above() -> None:
    values = [0, 3, 7, 7, 50, 119, 400, 2000]
    hist = Counter(agg.time_bucket(v) for v in values)
    median = agg.median_from_histogram(hist)
    assert median.minutes == agg.median_exact(values) == 50
    assert median.width == 1
    assert median.learners == 7
    big = [500, 505, 1300, 1301, 1302]
    m = agg.median_from_histogram(Counter(agg.time_bucket(v) for v in big))
    exact = agg.median_exact(big)
    assert m.minutes is not None
    assert exact is not None
    assert m.minutes <= exact < m.minutes + m.width
    assert agg.median_from_histogram({}).minutes is None


@given(st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=40))
def test_the_histogram_median_brackets_the_exact_median(values: list[int]) -> None:
    m = agg.median_from_histogram(Counter(agg.time_bucket(v) for v in values))
    exact = agg.median_exact(values)
    if exact is None:
        assert m.minutes is None
    else:
        assert m.minutes is not None
        assert m.minutes <= exact < m.minutes + m.width


# ---- the property: any order, any duplicates --------------------------------------------------

STATUSES = [
    ResourceStatus.not_started,
    ResourceStatus.in_progress,
    ResourceStatus.completed,
    ResourceStatus.submitted,
    ResourceStatus.reviewed,
]
UIDS = ["u1", "u2", "u3"]
COHORTS = ["c1", "c2"]

write_progress = st.tuples(
    st.just("progress"),
    st.sampled_from(UIDS),
    st.sampled_from(RIDS),
    st.sampled_from(STATUSES),
    st.integers(min_value=0, max_value=300),
)
write_member = st.tuples(
    st.just("member"),
    st.sampled_from(UIDS),
    st.sampled_from(COHORTS),
    st.sampled_from([None, (PID,), ("other",), (PID, "other")]),
    st.integers(min_value=0, max_value=300),
)
deliver = st.tuples(st.just("deliver"), st.integers(min_value=0, max_value=10_000))
steps = st.lists(st.one_of(write_progress, write_member, deliver, deliver), max_size=60)


def handle(event: tuple[Any, ...], w: World, store: FakeDashboardStore, cat: FakeCatalog) -> None:
    kind, path, old, new = event
    if kind == "progress":
        service.progress_written(change(path, old, new), cat, store)
    else:
        service.member_written(change(path, old, new), cat, store)


@settings(max_examples=150, deadline=None)
@given(steps, st.randoms(use_true_random=False), st.integers(min_value=0, max_value=3))
def test_any_order_and_any_duplicates_end_on_a_from_scratch_recount(
    plan: list[tuple[Any, ...]], rnd: Any, extra_duplicates: int
) -> None:
    w = World()
    store = FakeDashboardStore(w)
    cat = catalog()
    pending: list[tuple[Any, ...]] = []  # events, each owed at least one delivery
    delivered: list[tuple[Any, ...]] = []  # may come again (duplicates, late redeliveries)
    clock = T0
    for step in plan:
        clock += dt.timedelta(minutes=7)
        if step[0] == "progress":
            _, uid, rid, status, minutes = step
            path = f"users/{uid}/resource_progress/{rid}"
            old = w.progress.get((uid, rid))
            new = rp(rid, status, minutes, clock)
            w.progress[(uid, rid)] = new
            pending.append(("progress", path, old and old.model_dump(), new.model_dump()))
        elif step[0] == "member":
            _, uid, cid, pathways, _ = step
            path = f"cohorts/{cid}/members/{uid}"
            old_m = w.members.get((cid, uid))
            if pathways is None:
                w.members.pop((cid, uid), None)
                new_doc = None
            else:
                joined = old_m.joined_at if old_m else clock
                w.members[(cid, uid)] = CohortMember(
                    uid=uid, cohort_id=cid, pathway_ids=list(pathways), joined_at=joined
                )
                new_doc = {"uid": uid, "pathway_ids": list(pathways), "joined_at": joined}
            old_doc = old_m and old_m.model_dump()
            pending.append(("member", path, old_doc, new_doc))
        else:
            pool = pending + delivered
            if not pool:
                continue
            i = step[1] % len(pool)
            event = pool[i]
            if i < len(pending):
                pending.pop(i)
                delivered.append(event)
            handle(event, w, store, cat)
    # the rest arrive in any order, some more than once; every pending one at least once
    tail = pending + [rnd.choice(delivered) for _ in range(extra_duplicates) if delivered]
    rnd.shuffle(tail)
    for event in tail:
        handle(event, w, store, cat)

    s = shape()
    for cid in COHORTS:
        assert comparable(kept(w, cid)) == comparable(independent_counters(w, cid))
        expected = service.expected_rows(store, s, cid)
        stored = {u: r for (c, p, u), r in w.rows.items() if (c, p) == (cid, PID)}
        assert stored == expected
        assert {k: v for k, v in kept(w, cid).items() if v} == agg.recount(expected.values())
        drift = service.verify(store, s, cid)
        assert drift.total == 0, drift
        # handling everything once more changes nothing
    before = (dict(w.rows), {k: dict(v) for k, v in w.shards.items()})
    for event in delivered + pending:
        handle(event, w, store, cat)
    assert (dict(w.rows), {k: dict(v) for k, v in w.shards.items()}) == before


def test_verify_finds_a_hand_edited_counter_and_a_wrong_row() -> None:
    w = World()
    store = FakeDashboardStore(w)
    cat = catalog()
    w.members[("c1", "u1")] = CohortMember(
        uid="u1", cohort_id="c1", pathway_ids=[PID], joined_at=T0
    )
    w.progress[("u1", "pw-m1-a")] = rp("pw-m1-a", ResourceStatus.completed, 3)
    service.member_written(
        change("cohorts/c1/members/u1", None, {"pathway_ids": [PID]}), cat, store
    )
    s = shape()
    assert service.verify(store, s, "c1").total == 0
    w.shards[("c1", PID, agg.shard_of("u1"))]["res.pw-m1-a.completed"] += 1
    w.rows[("c1", PID, "u1")] = w.rows[("c1", PID, "u1")].model_copy(update={"minutes": 99})
    drift = service.verify(store, s, "c1")
    assert drift.rows_off == ["u1"]
    assert drift.counters_off == {"res.pw-m1-a.completed": (2, 1)}


# ---- the triggers' event handling and the page ------------------------------------------------


def test_events_on_other_paths_or_unknown_resources_are_unusable() -> None:
    store = FakeDashboardStore(World())
    with pytest.raises(UnusableEvent):
        service.owned_member(change("cohorts/c1/other/u1", None, {}))
    with pytest.raises(UnusableEvent):
        service.owned_member(change("cohorts/__x__/members/u1", None, {}))
    with pytest.raises(UnusableEvent):
        service.owned_progress(change("users/u1/module_progress/m", None, {}))
    w = World()
    w.members[("c1", "u1")] = CohortMember(uid="u1", cohort_id="c1", pathway_ids=[PID])
    with pytest.raises(UnusableEvent):
        service.progress_written(
            change("users/u1/resource_progress/nope", None, {}), catalog(), FakeDashboardStore(w)
        )
    # a learner in no cohort: nothing to do, no transaction
    assert (
        service.progress_written(
            change("users/u9/resource_progress/pw-m1-a", None, {"pathway_id": PID}),
            catalog(),
            store,
        )
        == []
    )
    assert store.w.transactions == 0


def seeded_page_world(learners: int) -> tuple[World, FakeDashboardStore, FakeCatalog]:
    w = World()
    store = FakeDashboardStore(w)
    cat = catalog()
    w.cohorts["c1"] = Cohort(
        cohort_id="c1", name="C one", pathway_ids=[PID], instructor_uids=["ivy"]
    )
    for i in range(learners):
        uid = f"u{i:02d}"
        at = T0 + dt.timedelta(days=i)
        w.members[("c1", uid)] = CohortMember(
            uid=uid, cohort_id="c1", pathway_ids=[PID], joined_at=T0
        )
        w.profiles[uid] = (f"Learner {i}", f"{uid}@example.com")
        if i % 2:
            w.progress[(uid, "pw-m1-a")] = rp("pw-m1-a", ResourceStatus.completed, 10 * i, at)
        service.member_written(
            change(f"cohorts/c1/members/{uid}", None, {"pathway_ids": [PID]}), cat, store
        )
    return w, store, cat


def test_the_page_is_served_from_the_aggregates_paged_with_the_inactive_list() -> None:
    _w, store, cat = seeded_page_world(7)
    now = T0 + dt.timedelta(days=10)
    admin = Caller(uid="root", admin=True)
    query = service.DashboardQuery(limit=3, inactive_days=5, inactive_limit=2)
    page = service.dashboard(admin, "c1", PID, query, store=store, catalog=cat, clock=lambda: now)
    assert page.learners == 7
    assert page.cohort_name == "C one"
    assert [r.uid for r in page.rows] == ["u00", "u01", "u02"]
    assert page.next_cursor == "u02"
    assert page.rows[1].modules == [50.0, 0.0]
    assert page.rows[1].display_name == "Learner 1"
    by_id = {r.resource_id: r for r in page.resources}
    assert by_id["pw-m1-a"].completed == 3
    assert by_id["pw-m1-a"].started == 3
    assert by_id["pw-m1-b"].started == 0
    assert page.time_spent.median_minutes == 30
    assert page.time_spent.learners == 3
    # inactive: last activity before day 5 (joined day 0; odd learners active on day i)
    assert [x.uid for x in page.inactive.learners] == ["u00", "u02"]
    assert page.inactive.more
    assert page.documents_read <= 1 + 8 + 4 + 3
    second = service.dashboard(
        admin,
        "c1",
        PID,
        query.model_copy(update={"cursor": "u05"}),
        store=store,
        catalog=cat,
        clock=lambda: now,
    )
    assert [r.uid for r in second.rows] == ["u06"]
    assert second.next_cursor is None


def test_only_admins_and_the_cohorts_instructors_see_the_dashboard() -> None:
    _w, store, cat = seeded_page_world(1)
    q = service.DashboardQuery()
    service.dashboard(Caller(uid="ivy", instructor=True), "c1", PID, q, store=store, catalog=cat)
    with pytest.raises(PermissionDenied):  # an instructor of other cohorts
        service.dashboard(
            Caller(uid="ian", instructor=True), "c1", PID, q, store=store, catalog=cat
        )
    with pytest.raises(PermissionDenied):  # listed, but the claim is gone
        service.dashboard(Caller(uid="ivy"), "c1", PID, q, store=store, catalog=cat)
    with pytest.raises(PermissionDenied):  # a learner of the cohort
        service.dashboard(Caller(uid="u00"), "c1", PID, q, store=store, catalog=cat)
    with pytest.raises(NotFound):
        service.dashboard(Caller(uid="root", admin=True), "nope", PID, q, store=store, catalog=cat)
    with pytest.raises(NotFound):  # a pathway the cohort does not follow
        service.dashboard(
            Caller(uid="root", admin=True), "c1", "other", q, store=store, catalog=cat
        )


def test_the_cohort_list_shows_admins_everything_and_instructors_their_own() -> None:
    w, store, cat = seeded_page_world(1)
    w.cohorts["c2"] = Cohort(cohort_id="c2", name="", pathway_ids=[PID, "gone"])
    mine = service.my_cohorts(Caller(uid="ivy", instructor=True), store=store, catalog=cat)
    assert [c.cohort_id for c in mine.cohorts] == ["c1"]
    assert [p.title for p in mine.cohorts[0].pathways] == ["Pw"]
    everything = service.my_cohorts(Caller(uid="root", admin=True), store=store, catalog=cat)
    assert [(c.cohort_id, c.name) for c in everything.cohorts] == [("c1", "C one"), ("c2", "c2")]
    assert [p.pathway_id for p in everything.cohorts[1].pathways] == [PID]  # unknown ones left out
    assert service.my_cohorts(Caller(uid="ivy"), store=store, catalog=cat).cohorts == []


def test_repair_restores_rows_and_counters_after_hand_edits() -> None:
    w, store, _cat = seeded_page_world(4)
    s = shape()
    key = ("c1", PID, "u01")
    w.rows[key] = w.rows[key].model_copy(update={"minutes": 999, "modules": {"pw-m1": 0.0}})
    w.shards[("c1", PID, agg.shard_of("u02"))]["learners"] += 5
    drift = service.verify(store, s, "c1")
    assert drift.rows_off == ["u01"]
    assert "learners" in drift.counters_off
    fixed = service.repair(store, s, "c1", drift.rows_off)
    assert fixed.rows == 1
    assert service.verify(store, s, "c1").total == 0
    assert service.repair(store, s, "c1", []).counters == {}  # nothing left to correct
