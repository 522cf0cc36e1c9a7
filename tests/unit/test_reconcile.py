"""Drift repair (shared/services/reconcile.py) against hand-written fakes of its ports.

The property: whatever the stored rollups and upload-derived statuses are, one run leaves every
level equal to a from-scratch recount (computed here independently of the service, from the
domain rules with no stored state), keeps ``completed_at`` where the level was and is complete,
reports exactly the levels that differed as drifted and repaired, and a second run finds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain import progress as rules
from shared.domain import uploads
from shared.domain.models import (
    ModuleProgress,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceSubmissions,
    Submission,
    SubmissionStatus,
)
from shared.services import reconcile as service
from shared.services.ports import StateKeys
from shared.services.reconcile import (
    BatchResult,
    LearnerState,
    ReconcileBatch,
    Reconciler,
    RunReport,
    Tally,
)
from tests.unit.fakes import FakeCatalog, FakeStore, FakeTx

T = TypeVar("T")

S = ResourceStatus
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


# ---- fakes -------------------------------------------------------------------------------------


class FakeLearners:
    """The learner documents and submissions: the ``LearnerIndex`` port (plain reads) over the one
    fake of the unit of work (:class:`tests.unit.fakes.FakeStore`), which the reconciler repairs
    through. ``submissions`` is the source the per-resource indexes are derived from (as the
    submission use cases keep them)."""

    def __init__(self) -> None:
        self.uow = FakeStore()
        self.submissions: list[Submission] = []
        self.pages: list[tuple[str | None, str | None]] = []  # (after, until) of each page read
        self.state_reads: list[tuple[str, StateKeys | None]] = []  # each learner_state call

    @property
    def resources(self) -> dict[tuple[str, str], ResourceProgress]:
        return self.uow.state.progress

    @property
    def modules(self) -> dict[tuple[str, str], ModuleProgress]:
        return self.uow.state.modules

    @property
    def pathways(self) -> dict[tuple[str, str], PathwayProgress]:
        return self.uow.state.pathways

    @property
    def writes(self) -> int:
        return len(self.uow.state.written)

    @property
    def rollup_writes(self) -> int:
        """Writes but the certificates' (a run leaves the certificate of a rollup it rewrote to
        the trigger that write fires, which these fakes do not run: the next run settles it)."""
        return sum(1 for path in self.uow.state.written if "certificates/" not in path)

    @property
    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return self.uow.events

    def _index(self) -> None:
        index: dict[tuple[str, str], ResourceSubmissions] = {}
        for s in self.submissions:
            key = (s.user_id, s.resource_id)
            empty = ResourceSubmissions(resource_id=s.resource_id, user_id=s.user_id)
            index[key] = uploads.with_submission(index.get(key, empty), s)
        self.uow.state.index = index

    def transact(self, work: Callable[[FakeTx], T], *, lock: str) -> T:
        self._index()
        return self.uow.transact(work, lock=lock)

    def learner_page(
        self,
        after: str | None,
        limit: int,
        pathway_id: str | None,
        until: str | None = None,
        *,
        with_resources: bool = True,
    ) -> list[str]:
        self.pages.append((after, until))
        docs = [
            *((u, p.pathway_id) for (u, _), p in self.resources.items() if with_resources),
            *((u, m.pathway_id) for (u, _), m in self.modules.items()),
            *((u, pid) for (u, pid) in self.pathways),
        ]
        uids = {u for u, pid in docs if pathway_id is None or pid == pathway_id}
        inside = [u for u in uids if (after is None or u > after) and (until is None or u <= until)]
        return sorted(inside)[:limit]

    def _lane_docs(self, pathway_id: str | None) -> list[str]:
        """The owners of the pathway documents (of ``pathway_id``), in document-name order."""
        return sorted(u for (u, pid) in self.pathways if pathway_id is None or pid == pathway_id)

    def learner_count(
        self, pathway_id: str | None, after: str | None = None, until: str | None = None
    ) -> int:
        return sum(
            (after is None or u > after) and (until is None or u <= until)
            for u in self._lane_docs(pathway_id)
        )

    def learner_at(self, after: str | None, skip: int, pathway_id: str | None) -> str | None:
        later = [u for u in self._lane_docs(pathway_id) if after is None or u > after]
        return later[skip] if skip < len(later) else None

    def learner_state(self, uid: str, keys: StateKeys | None = None) -> LearnerState:
        self._index()
        self.state_reads.append((uid, keys))
        state = LearnerState(
            uid=uid,
            resources={r: p for (u, r), p in self.resources.items() if u == uid},
            modules={m: p for (u, m), p in self.modules.items() if u == uid},
            pathways={p: v for (u, p), v in self.pathways.items() if u == uid},
            submissions={r: i for (u, r), i in self.uow.state.index.items() if u == uid},
        )
        if keys is None:
            return state
        # by key, as the adapter reads: only the named documents (and the indexes of progress
        # with an upload status)
        resources = {r: p for r, p in state.resources.items() if r in keys.resource_ids}
        uploaded = {r for r, p in resources.items() if p.status in uploads.UPLOAD_STATUSES}
        return LearnerState(
            uid=uid,
            resources=resources,
            modules={m: p for m, p in state.modules.items() if m in keys.module_ids},
            pathways={p: v for p, v in state.pathways.items() if p in keys.pathway_ids},
            submissions={
                r: i for r, i in state.submissions.items() if r in keys.upload_ids or r in uploaded
            },
        )


class FakeRunLog:
    """``reconcile_runs`` as :class:`shared.adapters.learners.FirestoreRunLog` keeps it."""

    def __init__(self) -> None:
        self.meta: dict[str, dict[str, object]] = {}
        self.batches: dict[str, dict[tuple[int, int], BatchResult]] = {}
        self.records = 0

    def start_run(
        self, task: ReconcileBatch, at: dt.datetime, bounds: Sequence[str] = ()
    ) -> list[str]:
        found = self.meta.get(task.run_id)
        if found is not None and isinstance(found.get("bounds"), list):
            return list(found["bounds"])  # type: ignore[call-overload]
        self.meta[task.run_id] = {
            "pathway_id": task.pathway_id,
            "dry_run": task.dry_run,
            "lanes": len(bounds) + 1,
            "bounds": list(bounds),
        }
        return list(bounds)

    def record_batch(self, task: ReconcileBatch, result: BatchResult) -> None:
        self.records += 1
        meta = self.meta.setdefault(task.run_id, {"pathway_id": task.pathway_id})
        self.batches.setdefault(task.run_id, {})[result.lane, result.batch] = result
        if result.next_cursor is None:
            done = {*meta.get("lanes_done", []), result.lane}  # type: ignore[misc]
            meta["lanes_done"] = sorted(done)
            if len(done) >= meta.get("lanes", 1):  # type: ignore[operator]
                meta["done"] = True

    def is_done(self, run_id: str) -> bool:
        return bool(self.meta.get(run_id, {}).get("done"))

    def report(self, run_id: str) -> RunReport | None:
        if run_id not in self.meta:
            return None
        return service.summarize(run_id, self.meta[run_id], self.batches.get(run_id, {}).values())


class FakeQueue:
    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, object]] = {}
        self.order: list[str] = []

    def enqueue(self, entry_point: str, task_id: str, payload: dict[str, object]) -> None:
        assert entry_point == "task_reconcile"
        if task_id not in self.tasks:  # Cloud Tasks: ALREADY_EXISTS for a name in use
            self.tasks[task_id] = payload
            self.order.append(task_id)


def reconciler(catalog: FakeCatalog, store: FakeLearners, now: dt.datetime = NOW) -> Reconciler:
    return Reconciler(learners=store, catalog=catalog, store=store, now=lambda: now)


def inline(
    catalog: FakeCatalog,
    store: FakeLearners,
    *,
    run_id: str = "run-1",
    pathway_id: str | None = None,
    page_size: int = 2,
    now: dt.datetime = NOW,
    dry_run: bool = False,
) -> RunReport:
    task = ReconcileBatch(run_id=run_id, pathway_id=pathway_id, dry_run=dry_run)
    return service.run_inline(
        task, reconciler=reconciler(catalog, store, now), runs=FakeRunLog(), page_size=page_size
    )


# ---- the from-scratch recount, independent of the service ---------------------------------------


def scratch_statuses(store: FakeLearners, catalog: FakeCatalog) -> dict[tuple[str, str], S]:
    """Every resource status as the submissions dictate (others unchanged)."""
    out = {key: p.status for key, p in store.resources.items()}
    by_key: dict[tuple[str, str], list[SubmissionStatus]] = {}
    for s in store.submissions:
        by_key.setdefault((s.user_id, s.resource_id), []).append(s.status)
    for key in {*out, *by_key}:
        out[key] = uploads.resource_status(out.get(key, S.not_started), by_key.get(key, []))
    return out


def scratch_modules(
    catalog: FakeCatalog, statuses: dict[tuple[str, str], S], uid: str
) -> dict[str, tuple[int, int]]:
    """(done, total) of every module for ``uid``, counted straight from the catalog rules."""
    out = {}
    for mid, mod in catalog.mods.items():
        required = [catalog.res[r] for r in mod.resource_ids if not catalog.res[r].optional]
        done = 0
        for r in required:
            status = statuses.get((uid, r.resource_id))
            if status is None or status not in rules.COUNTING:
                continue
            if r.requires_upload and status not in rules.UPLOADED:
                continue
            done += 1
        out[mid] = (done, len(required))
    return out


def assert_exact(
    catalog: FakeCatalog,
    before: FakeLearners,
    after: FakeLearners,
    uids: Sequence[str],
) -> None:
    statuses = scratch_statuses(before, catalog)
    uids = sorted(visited(before))
    for key, status in statuses.items():
        if key[0] not in uids:
            continue  # only submissions, no progress document: not a learner the run visits
        got = after.resources[key].status if key in after.resources else S.not_started
        assert got == status, key
    for uid in uids:
        counts = scratch_modules(catalog, statuses, uid)
        for mid, (done, total) in counts.items():
            stored = after.modules.get((uid, mid))
            if stored is None:
                assert done == 0, (uid, mid)
                assert (uid, mid) not in before.modules, (uid, mid)
                continue
            assert (stored.completed_resources, stored.total_resources) == (done, total)
            assert stored.percentage == rules.ratio(done, total)
            assert (stored.completed_at is not None) == (done == total)
            old = before.modules.get((uid, mid))
            if old is not None and old.completed_at is not None and done == total:
                assert stored.completed_at == old.completed_at, "completed_at kept"
        for pid, path in catalog.paths.items():
            mids = path.module_ids
            stored_p = after.pathways.get((uid, pid))
            if stored_p is None:
                assert not any((uid, m) in after.modules for m in mids), (uid, pid)
                assert (uid, pid) not in before.pathways
                continue
            done_mods = sum(counts[m][0] == counts[m][1] for m in mids)
            done_res = sum(counts[m][0] for m in mids)
            total_res = sum(counts[m][1] for m in mids)
            assert (stored_p.completed_modules, stored_p.total_modules) == (done_mods, len(mids))
            assert (stored_p.completed_resources, stored_p.total_resources) == (
                done_res,
                total_res,
            )
            assert stored_p.percentage == rules.ratio(done_mods, len(mids))
            assert stored_p.resource_percentage == rules.ratio(done_res, total_res)
            complete = done_mods == len(mids)
            assert (stored_p.completed_at is not None) == complete
            old_p = before.pathways.get((uid, pid))
            if old_p is not None and old_p.completed_at is not None and complete:
                assert stored_p.completed_at == old_p.completed_at, "completed_at kept"


# ---- generated states --------------------------------------------------------------------------

module_shapes = st.lists(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=0, max_size=3),
    min_size=1,
    max_size=3,
)
statuses = st.sampled_from(list(S))
sub_statuses = st.sampled_from(list(SubmissionStatus))
stamps = st.one_of(st.none(), st.just(T0))


def build_catalog(shapes: list[list[list[tuple[bool, bool]]]]) -> FakeCatalog:
    catalog = FakeCatalog()
    for p, mods in enumerate(shapes):
        pid = f"p{p}"
        catalog.add_pathway(
            pid,
            {
                f"{pid}-m{m}": [
                    (f"{pid}-m{m}-r{r}", upload, optional)
                    for r, (upload, optional) in enumerate(items)
                ]
                for m, items in enumerate(mods)
            },
        )
    return catalog


@st.composite
def worlds(draw: st.DrawFn) -> tuple[FakeCatalog, FakeLearners, list[str]]:
    shapes = draw(st.lists(module_shapes, min_size=1, max_size=2))
    catalog = build_catalog(shapes)
    uids = [f"u{i}" for i in range(draw(st.integers(1, 4)))]
    store = FakeLearners()
    for uid in uids:
        for rid, res in catalog.res.items():
            if draw(st.booleans()):
                status = draw(statuses)
                store.resources[uid, rid] = ResourceProgress(
                    resource_id=rid,
                    pathway_id=res.pathway_id,
                    module_id=res.module_id,
                    status=status,
                    started_at=None if status == S.not_started else T0,
                    completed_at=T0 if status in rules.COUNTING else None,
                )
            if res.requires_upload:
                for n in range(draw(st.integers(0, 2))):
                    store.submissions.append(submission(uid, res, n, draw(sub_statuses)))
        for mid, mod in catalog.mods.items():
            if draw(st.booleans()):
                done, total = draw(st.integers(0, 4)), draw(st.integers(0, 4))
                store.modules[uid, mid] = ModuleProgress(
                    module_id=mid,
                    pathway_id=mod.pathway_id,
                    completed_resources=done,
                    total_resources=total,
                    percentage=draw(st.sampled_from([0.0, 50.0, 100.0])),
                    completed_at=draw(stamps),
                    updated_at=T0,
                )
        for pid, path in catalog.paths.items():
            if draw(st.booleans()):
                store.pathways[uid, pid] = PathwayProgress(
                    pathway_id=pid,
                    completed_modules=draw(st.integers(0, 3)),
                    total_modules=len(path.module_ids),
                    completed_resources=draw(st.integers(0, 6)),
                    total_resources=draw(st.integers(0, 6)),
                    percentage=draw(st.sampled_from([0.0, 100.0])),
                    resource_percentage=draw(st.sampled_from([0.0, 100.0])),
                    completed_at=draw(stamps),
                    updated_at=T0,
                )
    return catalog, store, uids


def submission(uid: str, res: Resource, n: int, status: SubmissionStatus) -> Submission:
    return Submission(
        submission_id=f"{uid}-{res.resource_id}-{n}",
        user_id=uid,
        resource_id=res.resource_id,
        module_id=res.module_id,
        pathway_id=res.pathway_id,
        attempt=n + 1,
        file_name="a.pdf",
        content_type="application/pdf",
        size_bytes=10,
        gcs_bucket="b",
        gcs_path="p",
        status=status,
    )


def copy(store: FakeLearners) -> FakeLearners:
    out = FakeLearners()
    out.resources.update(store.resources)
    out.modules.update(store.modules)
    out.pathways.update(store.pathways)
    out.submissions.extend(store.submissions)
    return out


def visited(store: FakeLearners) -> set[str]:
    """The learners a run visits: those with any progress document."""
    return {u for (u, _) in [*store.resources, *store.modules, *store.pathways]}


def pathways_with_documents(store: FakeLearners, uid: str) -> set[str]:
    found = {p.pathway_id for (u, _), p in store.resources.items() if u == uid}
    found |= {m.pathway_id for (u, _), m in store.modules.items() if u == uid}
    return found | {p for (u, p) in store.pathways if u == uid}


def expected_drift(catalog: FakeCatalog, before: FakeLearners, uids: Sequence[str]) -> Tally:
    """The drift in ``before`` per level, counted from the definitions (not by the service)."""
    tally = Tally()
    statuses = scratch_statuses(before, catalog)
    uids = sorted(visited(before))
    repaired: set[tuple[str, str]] = set()  # (uid, pathway) of a repaired status
    for key, status in statuses.items():
        if key[0] not in uids:
            continue
        current = before.resources.get(key)
        has_subs = any((s.user_id, s.resource_id) == key for s in before.submissions)
        if has_subs or (current is not None and current.status in rules.UPLOADED):
            tally.statuses.checked += 1
            if (current.status if current else S.not_started) != status:
                tally.statuses.drifted += 1
                repaired.add((key[0], catalog.res[key[1]].pathway_id))
    for uid in uids:
        counts = scratch_modules(catalog, statuses, uid)
        inside = pathways_with_documents(before, uid) | {p for u, p in repaired if u == uid}
        tally.pathways.checked += len(inside)
        tally.modules.checked += sum(len(catalog.paths[p].module_ids) for p in inside)
        touched = set()
        for mid, (done, total) in counts.items():
            stored = before.modules.get((uid, mid))
            if stored is None:
                tally.modules.drifted += done > 0
                if done > 0:
                    touched.add(mid)
                continue
            touched.add(mid)
            right = (
                stored.completed_resources == done
                and stored.total_resources == total
                and stored.percentage == rules.ratio(done, total)
                and (stored.completed_at is not None) == (done == total)
            )
            tally.modules.drifted += not right
        for pid, path in catalog.paths.items():
            mids = path.module_ids
            stored_p = before.pathways.get((uid, pid))
            present = any(m in touched for m in mids)
            if stored_p is None and not present:
                continue  # no pathway document needed
            if stored_p is None:
                tally.pathways.drifted += 1
                continue
            done_mods = sum(counts[m][0] == counts[m][1] for m in mids)
            done_res = sum(counts[m][0] for m in mids)
            total_res = sum(counts[m][1] for m in mids)
            right = (
                stored_p.completed_modules == done_mods
                and stored_p.total_modules == len(mids)
                and stored_p.completed_resources == done_res
                and stored_p.total_resources == total_res
                and stored_p.percentage == rules.ratio(done_mods, len(mids))
                and stored_p.resource_percentage == rules.ratio(done_res, total_res)
                and (stored_p.completed_at is not None) == (done_mods == len(mids))
            )
            tally.pathways.drifted += not right
    return tally


# ---- properties --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(worlds(), st.integers(1, 3))
def test_any_drifted_state_is_repaired_to_exactly_the_recount_and_a_second_run_finds_none(
    world: tuple[FakeCatalog, FakeLearners, list[str]], page_size: int
) -> None:
    catalog, store, uids = world
    before = copy(store)
    report = inline(catalog, store, page_size=page_size)
    assert_exact(catalog, before, store, uids)

    want = expected_drift(catalog, before, uids)
    assert report.done
    assert report.tally.learners == len(visited(before))
    for level in ("statuses", "modules", "pathways"):
        got, exp = getattr(report.tally, level), getattr(want, level)
        assert got.drifted == exp.drifted, level
        assert got.repaired == got.drifted, level
    assert report.tally.modules.checked == want.modules.checked
    assert report.tally.statuses.checked == want.statuses.checked
    assert report.tally.pathways.checked == want.pathways.checked

    writes = store.rollup_writes
    again = inline(catalog, store, run_id="run-2", page_size=page_size, now=LATER)
    assert again.tally.drifted == 0
    assert store.rollup_writes == writes, "a clean state is checked without a single write"


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_a_dry_run_reports_the_drift_and_changes_nothing(
    world: tuple[FakeCatalog, FakeLearners, list[str]],
) -> None:
    catalog, store, uids = world
    before = copy(store)
    report = inline(catalog, store, dry_run=True)
    assert (store.resources, store.modules, store.pathways) == (
        before.resources,
        before.modules,
        before.pathways,
    )
    assert report.tally.drifted == expected_drift(catalog, before, uids).drifted
    assert report.tally.modules.repaired == report.tally.pathways.repaired == 0


# ---- examples ----------------------------------------------------------------------------------


def one_pathway() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add_pathway(
        "p",
        {
            "m1": [("m1-a", False, False), ("m1-b", False, False)],
            "m2": [("m2-a", False, False), ("m2-x", True, False)],
        },
    )
    return catalog


def done(uid: str, rid: str, mid: str, status: S = S.completed) -> ResourceProgress:
    return ResourceProgress(
        resource_id=rid, pathway_id="p", module_id=mid, status=status, completed_at=T0
    )


def complete_learner(store: FakeLearners, catalog: FakeCatalog, uid: str) -> None:
    """Every resource done and every rollup right, completed at T0."""
    for rid, res in catalog.res.items():
        status = S.reviewed if res.requires_upload else S.completed
        store.resources[uid, rid] = done(uid, rid, res.module_id, status)
        if res.requires_upload:
            store.submissions.append(submission(uid, res, 0, SubmissionStatus.approved))
    for mid in catalog.mods:
        store.modules[uid, mid] = ModuleProgress(
            module_id=mid,
            pathway_id="p",
            completed_resources=2,
            total_resources=2,
            percentage=100.0,
            completed_at=T0,
        )
    store.pathways[uid, "p"] = PathwayProgress(
        pathway_id="p",
        completed_modules=2,
        total_modules=2,
        percentage=100.0,
        completed_resources=4,
        total_resources=4,
        resource_percentage=100.0,
        completed_at=T0,
    )


def test_a_completed_pathway_with_wrong_counts_is_repaired_and_keeps_its_completed_at() -> None:
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "alice")
    store.modules["alice", "m1"] = store.modules["alice", "m1"].model_copy(
        update={"percentage": 42.0}
    )
    store.pathways["alice", "p"] = store.pathways["alice", "p"].model_copy(
        update={"completed_resources": 1, "resource_percentage": 25.0}
    )
    report = inline(catalog, store)
    assert report.tally.modules.model_dump() == {
        "checked": 2,
        "drifted": 1,
        "repaired": 1,
        "written": 1,
    }
    assert report.tally.pathways.model_dump() == {
        "checked": 1,
        "drifted": 1,
        "repaired": 1,
        "written": 1,
    }
    assert store.modules["alice", "m1"].percentage == 100.0
    assert store.modules["alice", "m1"].completed_at == T0
    path = store.pathways["alice", "p"]
    assert (path.completed_resources, path.resource_percentage, path.completed_at) == (4, 100.0, T0)


def test_a_learner_whose_module_was_lost_gets_it_back_completed_when_its_last_resource_was() -> (
    None
):
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "bob")
    del store.modules["bob", "m2"]
    store.pathways["bob", "p"] = store.pathways["bob", "p"].model_copy(
        update={"completed_modules": 1, "percentage": 50.0, "completed_at": None}
    )
    report = inline(catalog, store)
    assert (report.tally.modules.drifted, report.tally.pathways.drifted) == (1, 1)
    # not the time of the repair: when the learner completed its last resource (and so the
    # pathway's last module), as a from-scratch count says (shared/domain/catalog_change.py)
    last = max(p.completed_at for (uid, _), p in store.resources.items() if uid == "bob")
    assert store.modules["bob", "m2"].completed_at == last
    assert store.pathways["bob", "p"].completed_at == last


def test_an_approved_upload_whose_status_was_lost_counts_again() -> None:
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "carol")
    store.resources["carol", "m2-x"] = store.resources["carol", "m2-x"].model_copy(
        update={"status": S.in_progress, "completed_at": None}
    )
    report = inline(catalog, store)
    assert report.tally.statuses.model_dump() == {
        "checked": 1,
        "drifted": 1,
        "repaired": 1,
        "written": 1,
    }
    assert store.resources["carol", "m2-x"].status == S.reviewed
    assert report.tally.modules.drifted == report.tally.pathways.drifted == 0
    # the repair is recorded as every submission-driven change is, naming the run
    [(uid, event)] = store.events
    assert uid == "carol"
    assert (event["action"], event["from_status"], event["to_status"]) == (
        "reconcile",
        "in_progress",
        "reviewed",
    )
    assert event["run_id"] == "run-1"
    assert store.uow.locks[0] == "users/carol/submissions"


def test_a_submitted_status_without_any_submission_is_taken_back() -> None:
    catalog, store = one_pathway(), FakeLearners()
    store.resources["dan", "m2-x"] = done("dan", "m2-x", "m2", S.submitted)
    store.modules["dan", "m2"] = ModuleProgress(
        module_id="m2", pathway_id="p", completed_resources=1, total_resources=2, percentage=50.0
    )
    report = inline(catalog, store)
    assert store.resources["dan", "m2-x"].status == S.in_progress
    assert store.resources["dan", "m2-x"].completed_at is None
    assert store.modules["dan", "m2"].completed_resources == 0
    assert report.tally.statuses.drifted == 1
    assert report.tally.modules.drifted == 1
    assert report.tally.pathways.drifted == 1  # it had no document although a module had one


def test_a_status_repair_decides_on_what_its_transaction_reads_not_on_the_check() -> None:
    """An upload recorded between the check (a plain read) and the repair's transaction: the
    repair reads the per-resource index again, by key, and leaves the now right status alone."""
    catalog, store = one_pathway(), FakeLearners()
    planted = done("hal", "m2-x", "m2", S.submitted).model_copy(update={"started_at": T0})
    store.resources["hal", "m2-x"] = planted  # "submitted" with nothing behind it
    stale = store.learner_state("hal")
    store.submissions.append(submission("hal", catalog.res["m2-x"], 0, SubmissionStatus.uploaded))
    store.learner_state = lambda uid, keys=None: stale  # type: ignore[method-assign]
    report = inline(catalog, store)
    assert report.tally.statuses.model_dump() == {
        "checked": 1,
        "drifted": 1,
        "repaired": 1,
        "written": 0,
    }
    assert store.resources["hal", "m2-x"].status == S.submitted
    assert store.events == []


def test_untouched_levels_are_not_drift() -> None:
    """A learner who only started a resource: no module or pathway document is needed."""
    catalog, store = one_pathway(), FakeLearners()
    store.resources["erin", "m1-a"] = ResourceProgress(
        resource_id="m1-a", pathway_id="p", module_id="m1", status=S.in_progress
    )
    report = inline(catalog, store)
    assert report.tally.drifted == 0
    assert store.writes == 0


def test_the_pathway_filter_only_touches_that_pathways_documents() -> None:
    catalog = one_pathway()
    catalog.add_pathway("q", {"q1": [("q1-a", False, False)]})
    store = FakeLearners()
    store.resources["fay", "q1-a"] = ResourceProgress(
        resource_id="q1-a", pathway_id="q", module_id="q1", status=S.completed
    )
    store.resources["gus", "m1-a"] = done("gus", "m1-a", "m1")
    report = inline(catalog, store, pathway_id="p")
    assert report.tally.learners == 1
    assert ("fay", "q1") not in store.modules
    assert store.modules["gus", "m1"].completed_resources == 1


# ---- batches -----------------------------------------------------------------------------------


def drifted_learners(n: int) -> tuple[FakeCatalog, FakeLearners]:
    catalog, store = one_pathway(), FakeLearners()
    for i in range(n):
        store.resources[f"u{i:02d}", "m1-a"] = done(f"u{i:02d}", "m1-a", "m1")
    return catalog, store


def test_batches_chain_through_the_queue_with_deterministic_names() -> None:
    catalog, store = drifted_learners(5)
    runs, queue = FakeRunLog(), FakeQueue()
    service.start_run(
        ReconcileBatch(run_id="r1", page_size=2), runs=runs, queue=queue, now=lambda: NOW
    )
    handled = 0
    while handled < len(queue.order):
        task = ReconcileBatch.model_validate(queue.tasks[queue.order[handled]])
        service.reconcile_batch(task, reconciler=reconciler(catalog, store), runs=runs, queue=queue)
        handled += 1
    assert queue.order == ["reconcile-r1-0-0", "reconcile-r1-0-1", "reconcile-r1-0-2"]
    report = runs.report("r1")
    assert report is not None
    assert report.done
    assert (report.batches, report.tally.learners) == (3, 5)
    assert (report.tally.modules.drifted, report.tally.pathways.drifted) == (5, 5)


def test_a_redelivered_batch_is_not_counted_twice_and_enqueues_its_successor_once() -> None:
    catalog, store = drifted_learners(4)
    runs, queue = FakeRunLog(), FakeQueue()
    first = ReconcileBatch(run_id="r2", page_size=2)
    runs.start_run(first, NOW)
    one = service.reconcile_batch(
        first, reconciler=reconciler(catalog, store), runs=runs, queue=queue
    )
    again = service.reconcile_batch(
        first, reconciler=reconciler(catalog, store), runs=runs, queue=queue
    )
    assert one.next_cursor == again.next_cursor == "u01"
    assert queue.order == ["reconcile-r2-0-1"]
    report = runs.report("r2")
    assert report is not None
    assert not report.done
    # the redelivery found the drift already repaired; its entry replaced the first one
    assert (report.batches, report.tally.learners, report.tally.modules.drifted) == (1, 2, 0)


def test_a_full_last_page_ends_with_an_empty_batch() -> None:
    catalog, store = drifted_learners(2)
    report = inline(catalog, store, page_size=2)
    assert (report.batches, report.tally.learners, report.done) == (2, 2, True)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"run_id": "../x"},
        {"run_id": "r", "page_size": 0},
        {"run_id": "r", "page_size": 10_000},
        {"run_id": "r", "cursor": ""},
        {"run_id": "r", "batch": -1},
        {"run_id": "r", "surprise": 1},
    ],
)
def test_a_malformed_batch_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReconcileBatch.model_validate(body)


def test_a_scheduled_start_names_the_run_after_the_day_so_a_retry_continues_it() -> None:
    at = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    first = service.ScheduledRun().first_batch(at)
    retry = service.ScheduledRun().first_batch(at + dt.timedelta(hours=2))
    assert first == retry
    assert (first.run_id, first.batch, first.cursor) == ("nightly-20261125", 0, None)
    one = service.ScheduledRun(pathway_id="p", page_size=5).first_batch(at)
    assert (one.run_id, one.pathway_id, one.page_size) == ("nightly-20261125-p", "p", 5)
    with pytest.raises(ValidationError):
        service.ScheduledRun.model_validate({"cursor": "u1"})
