"""Progress, catalog and rollup use cases against small hand-written fakes of their repositories."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import progress as rules
from shared.domain.models import (
    ResourceProgress,
    ResourceStatus,
)
from shared.domain.progress import ProgressUpdate
from shared.errors import Conflict, NotFound, UnusableEvent
from shared.events import DocumentChange, EventMeta
from shared.services import catalog as catalog_service
from shared.services import progress as service
from shared.services import rollups
from shared.services.catalog import CachedCatalog
from tests.unit.fakes import FakeCatalog, FakeStore

S = ResourceStatus
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.ticks = itertools.count()

    def __call__(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=next(self.ticks))


def change(
    path: str, new: dict[str, object] | None, old: dict[str, object] | None = None
) -> DocumentChange:
    meta = EventMeta(id="e1", type="t", source="s", subject="", time=None)
    return DocumentChange(meta=meta, path=path, old=old, new=new, new_update_time=None)


@pytest.fixture
def catalog() -> FakeCatalog:
    c = FakeCatalog()
    c.add_pathway(
        "pe",
        {
            "pe-m1": [("v", False, False), ("ex", True, False), ("q", False, False)],
            "pe-m2": [("a", False, False), ("bonus", False, True)],
        },
    )
    return c


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def settle(catalog: FakeCatalog, store: FakeStore, uid: str) -> None:
    """Deliver one event per resource and per module (what the bridge does after the writes)."""
    for (u, rid), doc in list(store.rp.items()):
        if u == uid:
            rollups.resource_progress_written(
                change(f"users/{uid}/resource_progress/{rid}", doc.model_dump()), catalog, store
            )
    for (u, mid), mdoc in list(store.mp.items()):
        if u == uid:
            rollups.module_progress_written(
                change(f"users/{uid}/module_progress/{mid}", mdoc.model_dump()), catalog, store
            )


# ---- actions -----------------------------------------------------------------------------------


def test_actions_write_the_document_and_an_event(catalog: FakeCatalog, store: FakeStore) -> None:
    clock = Clock()
    view = service.start(catalog, store, "u1", "v", clock)
    assert view.status == S.in_progress
    view = service.update(
        catalog,
        store,
        "u1",
        "v",
        ProgressUpdate(progress_percentage=40, time_spent_minutes=10),
        clock,
    )
    view = service.update(
        catalog,
        store,
        "u1",
        "v",
        ProgressUpdate(progress_percentage=60, time_spent_minutes=5),
        clock,
    )
    assert (view.progress_percentage, view.time_spent_minutes) == (60, 15)
    view = service.complete(catalog, store, "u1", "v", clock)
    assert view.status == S.completed
    assert view.completed_at is not None
    actions = [e["action"] for _, e in store.events]
    assert actions == ["start", "update", "update", "complete"]
    view = service.uncomplete(catalog, store, "u1", "v", clock)
    assert view.status == S.in_progress
    assert view.completed_at is None
    assert [e["to_status"] for _, e in store.events][-1] == "in_progress"
    assert len(store.events) == 5  # history kept through the un-complete


def test_retried_actions_write_nothing(catalog: FakeCatalog, store: FakeStore) -> None:
    service.complete(catalog, store, "u1", "v")
    before = list(store.writes)
    service.complete(catalog, store, "u1", "v")
    service.start(catalog, store, "u1", "v")
    assert store.writes == before


def test_unknown_resource_is_404_and_writes_nothing(catalog: FakeCatalog, store: FakeStore) -> None:
    for act in (service.start, service.complete, service.uncomplete):
        with pytest.raises(NotFound):
            act(catalog, store, "u1", "nope")
    with pytest.raises(NotFound):
        service.resource_progress(catalog, store, "u1", "__reserved__")
    assert store.writes == []


def test_complete_without_upload_is_409(catalog: FakeCatalog, store: FakeStore) -> None:
    with pytest.raises(Conflict):
        service.complete(catalog, store, "u1", "ex")
    assert store.writes == []


def test_resource_progress_defaults_when_never_started(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    view = service.resource_progress(catalog, store, "u1", "ex")
    assert view.status == S.not_started
    assert (view.module_id, view.pathway_id) == ("pe-m1", "pe")


def test_report_of_a_new_learner_has_zeros_and_catalog_totals(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    rep = service.report(catalog, store, "u1", "pe")
    assert rep.percentage == 0.0
    assert (rep.completed_modules, rep.total_modules) == (0, 2)
    assert [m.module_id for m in rep.modules] == ["pe-m1", "pe-m2"]
    assert [m.total_resources for m in rep.modules] == [3, 1]
    assert [r.resource_id for r in rep.modules[0].resources] == ["v", "ex", "q"]
    assert all(r.status == S.not_started for m in rep.modules for r in m.resources)
    with pytest.raises(NotFound):
        service.report(catalog, store, "u1", "nope")


def test_completing_everything_rolls_up_and_uncomplete_rolls_back(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    uid = "u1"
    for rid in ("v", "q", "a"):
        service.complete(catalog, store, uid, rid)
    # the upload flow records the exercise's upload
    store.rp[(uid, "ex")] = ResourceProgress(
        resource_id="ex", pathway_id="", module_id="", status=S.submitted, submission_count=1
    )
    settle(catalog, store, uid)
    rep = service.report(catalog, store, uid, "pe")
    assert (rep.percentage, rep.resource_percentage) == (100.0, 100.0)
    assert rep.completed_at is not None
    assert all(m.completed_at is not None for m in rep.modules)
    service.uncomplete(catalog, store, uid, "v")
    settle(catalog, store, uid)
    rep = service.report(catalog, store, uid, "pe")
    assert rep.modules[0].completed_resources == 2
    assert rep.modules[0].completed_at is None
    assert rep.modules[1].completed_at is not None
    assert (rep.completed_modules, rep.percentage, rep.resource_percentage) == (1, 50.0, 75.0)
    assert rep.completed_at is None


def test_listing_in_catalog_order_with_status_only_for_a_caller(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    service.start(catalog, store, "u1", "q")
    anonymous = catalog_service.list_pathway(catalog, store, "pe", None)
    assert [m.module_id for m in anonymous.modules] == ["pe-m1", "pe-m2"]
    assert all(r.status is None for m in anonymous.modules for r in m.resources)
    mine = catalog_service.list_module(catalog, store, "pe-m1", "u1")
    assert [(r.resource_id, r.status) for r in mine.resources] == [
        ("v", S.not_started),
        ("ex", S.not_started),
        ("q", S.in_progress),
    ]
    assert mine.resources[1].requires_upload
    with pytest.raises(NotFound):
        catalog_service.list_module(catalog, store, "nope", "u1")


def test_cached_catalog_reads_each_document_once_per_ttl(catalog: FakeCatalog) -> None:
    now = [0.0]
    cached = CachedCatalog(catalog, ttl=30.0, clock=lambda: now[0])
    cached.resources(["v", "q"])
    cached.resources(["v", "q", "nope"])
    assert catalog.reads == 3  # v, q; then only the unknown id again
    now[0] = 31.0
    cached.resources(["v"])
    assert catalog.reads == 4


# ---- rollup triggers ---------------------------------------------------------------------------


def test_foreign_paths_are_unusable_and_write_nothing(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    for path in (
        "gcf-test/2Vm2mI1d0wIaK2Waj5to",
        "users/u1/resource_progress",
        "users/u1/other/v",
        "users/u1/resource_progress/v/extra/x",
        "users/__x__/resource_progress/v",
    ):
        with pytest.raises(UnusableEvent):
            rollups.resource_progress_written(change(path, {"module_id": "pe-m1"}), catalog, store)
        with pytest.raises(UnusableEvent):
            rollups.module_progress_written(change(path, {"pathway_id": "pe"}), catalog, store)
    with pytest.raises(UnusableEvent):  # an id the catalog does not know
        rollups.resource_progress_written(
            change("users/u1/resource_progress/zz", {}), catalog, store
        )
    assert store.writes == []


def test_deleted_document_finds_its_module_in_the_catalog(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    service.complete(catalog, store, "u1", "v")
    settle(catalog, store, "u1")
    del store.rp[("u1", "v")]
    written = rollups.resource_progress_written(
        change("users/u1/resource_progress/v", None, None), catalog, store
    )
    assert written is not None
    assert written.completed_resources == 0


def test_rollups_write_only_on_change(catalog: FakeCatalog, store: FakeStore) -> None:
    service.complete(catalog, store, "u1", "v")
    settle(catalog, store, "u1")
    writes = list(store.writes)
    settle(catalog, store, "u1")  # every event again
    assert store.writes == writes


def test_a_trigger_with_nothing_to_write_only_peeks_and_opens_no_transaction(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    service.complete(catalog, store, "u1", "v")
    path = "users/u1/resource_progress/v"
    locks = len(store.locks)
    first = rollups.resource_progress_written(change(path, {"module_id": "pe-m1"}), catalog, store)
    assert first is not None
    assert first.completed_resources == 1
    # a change: ONE transaction writes the module and its pathway
    assert store.locks[locks:] == ["users/u1/pathway_progress/pe"]
    pathway = store.state.pathways[("u1", "pe")]
    assert pathway.completed_resources == 1  # before any module event was delivered
    # the module write's own event then finds the pathway right: a peek, no transaction
    locks = len(store.locks)
    module_event = change("users/u1/module_progress/pe-m1", {"pathway_id": "pe"})
    assert rollups.module_progress_written(module_event, catalog, store) is None
    assert len(store.locks) == locks
    peeks, locks = store.peeks, len(store.locks)
    again = rollups.resource_progress_written(change(path, {"module_id": "pe-m1"}), catalog, store)
    assert again is None
    assert store.peeks == peeks + 1
    assert len(store.locks) == locks
    store.rp[("u1", "q")] = store.rp[("u1", "v")].model_copy(update={"resource_id": "q"})
    third = rollups.resource_progress_written(change(path, {"module_id": "pe-m1"}), catalog, store)
    assert third is not None
    assert third.completed_resources == 2


Act = tuple[str, str, str]
actions = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2"]),
        st.sampled_from(["start", "update", "complete", "uncomplete", "upload"]),
        st.sampled_from(["v", "ex", "q", "a", "bonus"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(acts=actions, data=st.data())
def test_any_actions_and_any_delivery_order_give_the_scratch_count(
    acts: list[Act], data: st.DataObject
) -> None:
    """Actions write documents; each write queues an event. Events are delivered at random moments,
    in random order, some twice; at the end every queued event is delivered (at least once), again
    shuffled. The stored rollups then equal a from-scratch count of the final resource documents."""
    catalog = FakeCatalog()
    catalog.add_pathway(
        "pe",
        {
            "pe-m1": [("v", False, False), ("ex", True, False), ("q", False, False)],
            "pe-m2": [("a", False, False), ("bonus", False, True)],
        },
    )
    store = FakeStore()
    clock = Clock()
    pending: list[DocumentChange] = []

    def queue_resource(uid: str, rid: str) -> None:
        doc = store.rp.get((uid, rid))
        pending.append(
            change(f"users/{uid}/resource_progress/{rid}", doc.model_dump() if doc else None)
        )

    def deliver(ev: DocumentChange) -> None:
        if "/resource_progress/" in ev.path:
            written = rollups.resource_progress_written(ev, catalog, store, clock)
            if written is not None:  # the module write is itself an event
                uid = ev.path.split("/")[1]
                pending.append(
                    change(f"users/{uid}/module_progress/{written.module_id}", written.model_dump())
                )
        else:
            rollups.module_progress_written(ev, catalog, store, clock)

    for uid, act, rid in acts:
        try:
            if act == "start":
                service.start(catalog, store, uid, rid, clock)
            elif act == "update":
                service.update(
                    catalog, store, uid, rid, ProgressUpdate(progress_percentage=50), clock
                )
            elif act == "complete":
                service.complete(catalog, store, uid, rid, clock)
            elif act == "uncomplete":
                service.uncomplete(catalog, store, uid, rid, clock)
            else:  # the upload flow's write
                res = catalog.res[rid]
                cur = store.rp.get((uid, rid)) or rules.blank(res)
                store.rp[(uid, rid)] = cur.model_copy(
                    update={"status": S.submitted, "submission_count": cur.submission_count + 1}
                )
        except Conflict:
            continue
        queue_resource(uid, rid)
        while pending:
            if not data.draw(st.booleans(), label="deliver now"):
                break
            i = data.draw(st.integers(0, len(pending) - 1))
            ev = pending[i] if data.draw(st.booleans()) else pending.pop(i)  # keep it: duplicate
            deliver(ev)
    while pending:
        ev = pending.pop(data.draw(st.integers(0, len(pending) - 1)))
        deliver(ev)
        if data.draw(st.booleans()):
            deliver(ev)

    for uid in ("u1", "u2"):
        done_modules = done_resources = 0
        touched = any(u == uid for u, _ in store.rp)
        for mid in ("pe-m1", "pe-m2"):
            mod = catalog.mods[mid]
            listed = [catalog.res[r] for r in mod.resource_ids]
            done, total = rules.count_module(listed, store.resources(uid, mod.resource_ids))
            done_modules += done == total
            done_resources += done
            mp = store.mp.get((uid, mid))
            if any(u == uid and catalog.res[r].module_id == mid for u, r in store.rp):
                assert mp is not None
                assert (mp.completed_resources, mp.total_resources) == (done, total)
                assert (mp.completed_at is not None) == (done == total)
        pp = store.pp.get((uid, "pe"))
        if touched:
            assert pp is not None
            assert (pp.completed_modules, pp.completed_resources) == (done_modules, done_resources)
            assert (pp.total_modules, pp.total_resources) == (2, 4)
            assert (pp.completed_at is not None) == (done_modules == 2)
