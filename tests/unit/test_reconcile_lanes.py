"""Lanes of a reconcile run (issue 13): the splitting, the run log, and runs whose lanes' batches
arrive in any order and more than once (fakes of the ports; no I/O)."""

from __future__ import annotations

import random
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.models import PathwayProgress
from shared.services import reconcile as service
from shared.services.reconcile import ReconcileBatch
from tests.unit.test_reconcile import (
    NOW,
    FakeLearners,
    FakeQueue,
    FakeRunLog,
    done,
    one_pathway,
    reconciler,
)

FIREBASE = string.digits + string.ascii_uppercase + string.ascii_lowercase


def firebase_uid(rng: random.Random) -> str:
    return "".join(rng.choice(FIREBASE) for _ in range(28))


def drifted(uids: list[str]) -> FakeLearners:
    """Learners who finished m1-a, with a pathway document that says nothing is done."""
    store = FakeLearners()
    for uid in uids:
        store.resources[uid, "m1-a"] = done(uid, "m1-a", "m1")
        store.pathways[uid, "p"] = PathwayProgress(
            pathway_id="p", completed_resources=0, total_resources=3, resource_percentage=0.0
        )
    return store


def ranges(bounds: list[str]) -> list[tuple[str | None, str | None]]:
    return list(zip([None, *bounds], [*bounds, None], strict=True))


def inside(uid: str, lo: str | None, hi: str | None) -> bool:
    return (lo is None or uid > lo) and (hi is None or uid <= hi)


# ---- splitting ---------------------------------------------------------------------------------


def test_the_lane_count_follows_the_learners_and_stays_within_the_queues_dispatches() -> None:
    assert service.lane_count(0, 1000, 20) == 1
    assert service.lane_count(999, 1000, 20) == 1
    assert service.lane_count(1001, 1000, 20) == 2
    assert service.lane_count(20_000, 1000, 20) == 20
    assert service.lane_count(100_000, 1000, 20) == 20
    assert service.lane_count(100_000, 1000, 1) == 1


def test_the_default_lanes_fit_the_deployed_queues_concurrent_dispatches() -> None:
    from deploy.plan import QUEUE_SETTINGS

    assert int(QUEUE_SETTINGS["max-concurrent-dispatches"]) >= service.DEFAULT_MAX_LANES


def test_alphabet_bounds_split_firebase_uids_into_about_equal_lanes() -> None:
    rng = random.Random(13)
    uids = [firebase_uid(rng) for _ in range(20_000)]
    bounds = service.alphabet_bounds(20)
    assert len(bounds) == 19
    assert bounds == sorted(set(bounds))
    sizes = [sum(inside(u, lo, hi) for u in uids) for lo, hi in ranges(bounds)]
    assert sum(sizes) == len(uids)
    assert max(sizes) < 1.15 * 1000, sizes
    assert min(sizes) > 0.85 * 1000, sizes


def test_firebase_uids_are_split_by_the_alphabet_without_reading_a_document() -> None:
    rng = random.Random(7)
    uids = [firebase_uid(rng) for _ in range(600)]
    store = drifted(uids)
    reads: list[int] = []
    store.learner_at = lambda *a: reads.append(1)  # type: ignore[method-assign,assignment,misc]
    bounds = service.lane_bounds(store, "p", 6, len(uids))
    assert bounds == service.alphabet_bounds(6)
    assert reads == []


def test_uids_sharing_a_prefix_are_split_by_their_quantiles() -> None:
    uids = [f"bc-0a1b2c3d-{i:06d}" for i in range(1000)]  # all in one alphabet lane
    store = drifted(uids)
    bounds = service.lane_bounds(store, "p", 4, len(uids))
    sizes = [sum(inside(u, lo, hi) for u in uids) for lo, hi in ranges(bounds)]
    assert sizes == [250, 250, 250, 250]


def test_fewer_learners_than_lanes_give_fewer_lanes_and_no_empty_bound() -> None:
    uids = ["a-1", "a-2", "a-3"]
    bounds = service.lane_bounds(drifted(uids), "p", 10, len(uids))
    assert bounds == sorted(set(bounds))
    assert len(bounds) <= 2


@settings(max_examples=60, deadline=None)
@given(
    uids=st.sets(st.text(min_size=1, max_size=12), min_size=0, max_size=80),
    lanes=st.integers(min_value=1, max_value=9),
)
def test_the_lanes_are_disjoint_and_together_cover_every_learner(
    uids: set[str], lanes: int
) -> None:
    ordered = sorted(uids)
    store = drifted(ordered)
    bounds = service.lane_bounds(store, "p", lanes, len(ordered))
    first = ReconcileBatch(run_id="r", pathway_id="p")
    seen: list[str] = []
    for task in service.lane_tasks(first, bounds):
        cursor = task.cursor
        while True:
            page = store.learner_page(cursor, 7, "p", task.until)
            seen += page
            if len(page) < 7:
                break
            cursor = page[-1]
    assert sorted(seen) == ordered  # every learner, each once


# ---- runs in lanes -----------------------------------------------------------------------------


def handle(
    task_id: str, queue: FakeQueue, runs: FakeRunLog, store: FakeLearners
) -> service.BatchResult:
    task = ReconcileBatch.model_validate(queue.tasks[task_id])
    return service.reconcile_batch(
        task, reconciler=reconciler(one_pathway(), store), runs=runs, queue=queue
    )


def test_a_run_in_lanes_handled_in_any_order_and_redelivered_counts_every_learner_once() -> None:
    rng = random.Random(3)
    uids = sorted(firebase_uid(rng) for _ in range(60))
    store, runs, queue = drifted(uids), FakeRunLog(), FakeQueue()
    started = service.start_run(
        ReconcileBatch(run_id="r1", pathway_id="p", page_size=4),
        runs=runs,
        queue=queue,
        learners=store,
        lane_size=15,
        max_lanes=20,
        now=lambda: NOW,
    )
    assert started.lanes == 4
    assert queue.order == [f"reconcile-r1-{lane}-0" for lane in range(4)]
    handled: list[str] = []
    while len(handled) < len(queue.order):
        pending = [t for t in queue.order if t not in handled]
        task_id = rng.choice(pending)  # the lanes interleave as the queue dispatches them
        handle(task_id, queue, runs, store)
        if rng.random() < 0.3:  # Cloud Tasks delivers again (a lost reply, a crash)
            handle(task_id, queue, runs, store)
        handled.append(task_id)
    assert runs.is_done("r1")
    report = runs.report("r1")
    assert report is not None
    assert report.done
    assert [lane.done for lane in report.lanes] == [True] * 4
    assert report.tally.learners == 60  # each learner once, redeliveries or not
    assert sum(lane.learners for lane in report.lanes) == 60
    for uid in uids:  # and every one repaired
        assert store.modules[uid, "m1"].completed_resources == 1
        assert store.pathways[uid, "p"].completed_resources == 1
    lanes = {int(t.split("-")[2]) for t in queue.order}
    assert lanes == {0, 1, 2, 3}
    # no lane read a learner of another: each page stayed inside its lane's range
    lows = dict((hi, lo) for lo, hi in ranges(started.bounds))
    for after, until in store.pages:
        assert until in lows
        lo = lows[until]
        assert lo is None or (after is not None and after >= lo)


def test_the_run_is_done_only_when_its_last_lane_is() -> None:
    rng = random.Random(5)
    uids = sorted(firebase_uid(rng) for _ in range(40))
    store, runs, queue = drifted(uids), FakeRunLog(), FakeQueue()
    service.start_run(
        ReconcileBatch(run_id="r2", pathway_id="p", page_size=50),
        runs=runs,
        queue=queue,
        learners=store,
        lane_size=10,
        max_lanes=3,
        now=lambda: NOW,
    )
    assert len(queue.order) == 3  # 40 learners, 10 a lane, but the queue allows 3 at once
    for task_id in queue.order[:2]:
        assert handle(task_id, queue, runs, store).next_cursor is None
        assert not runs.is_done("r2")
    handle(queue.order[2], queue, runs, store)
    report = runs.report("r2")
    assert report is not None
    assert report.done
    assert (report.batches, report.tally.learners) == (3, 40)


def test_a_retried_start_keeps_the_first_starts_lanes_and_enqueues_nothing_new() -> None:
    rng = random.Random(11)
    uids = sorted(firebase_uid(rng) for _ in range(30))
    store, runs, queue = drifted(uids), FakeRunLog(), FakeQueue()
    task = ReconcileBatch(run_id="r3", pathway_id="p")
    first = service.start_run(task, runs=runs, queue=queue, learners=store, lane_size=10)
    for uid in [firebase_uid(rng) for _ in range(30)]:  # more learners meanwhile
        store.pathways[uid, "p"] = PathwayProgress(pathway_id="p")
    again = service.start_run(task, runs=runs, queue=queue, learners=store, lane_size=10)
    assert again == first
    assert len(queue.order) == first.lanes == 3


def test_a_reevaluation_pages_the_rollup_documents_and_a_drift_repair_every_progress() -> None:
    store = drifted(["u1"])
    store.resources["u2", "m1-a"] = done("u2", "m1-a", "m1")  # no module, no pathway document
    runs = FakeRunLog()
    drift = ReconcileBatch(run_id="d", pathway_id="p")
    found = service.reconcile_batch(
        drift, reconciler=reconciler(one_pathway(), store), runs=runs, queue=None
    )
    assert found.tally.learners == 2
    reevaluation = ReconcileBatch(run_id="e", pathway_id="p", catalog_version=0)
    found = service.reconcile_batch(
        reevaluation, reconciler=reconciler(one_pathway(), store), runs=runs, queue=None
    )
    assert found.tally.learners == 2  # u2 has a module document now (the drift repair wrote it)
    store.resources["u3", "m1-a"] = done("u3", "m1-a", "m1")
    found = service.reconcile_batch(
        reevaluation.model_copy(update={"run_id": "e2"}),
        reconciler=reconciler(one_pathway(), store),
        runs=runs,
        queue=None,
    )
    assert found.tally.learners == 2  # u3's lost module trigger is the nightly repair's


def test_a_reevaluation_reads_each_learner_by_the_pathways_keys_a_reconcile_lists_them() -> None:
    """A re-evaluation names the documents of the pathway it recounts (its resources, modules,
    the pathway, the indexes of the resources that take uploads); a drift reconcile lists every
    document of the learner (it also settles progress whose resource left the catalog)."""
    store = drifted(["u1"])
    service.reconcile_batch(
        ReconcileBatch(run_id="e", pathway_id="p", catalog_version=0),
        reconciler=reconciler(one_pathway(), store),
        runs=FakeRunLog(),
        queue=None,
    )
    ((uid, keys),) = store.state_reads
    assert uid == "u1"
    assert keys is not None
    assert keys.resource_ids == ("m1-a", "m1-b", "m2-a", "m2-x")
    assert (keys.module_ids, keys.pathway_ids, keys.upload_ids) == (("m1", "m2"), ("p",), ("m2-x",))
    module = store.modules["u1", "m1"]
    assert (module.completed_resources, module.total_resources) == (1, 2)  # repaired from keys
    store.state_reads.clear()
    service.reconcile_batch(
        ReconcileBatch(run_id="d", pathway_id="p"),
        reconciler=reconciler(one_pathway(), store),
        runs=FakeRunLog(),
        queue=None,
    )
    assert store.state_reads == [("u1", None)]


# ---- the repair: one transaction per pathway, the authority -------------------------------------


def test_the_pathway_repair_counts_what_its_transaction_reads_not_what_the_check_saw() -> None:
    """A learner completes m1-b between the check (a plain read: 1 of 2 in m1) and the repair's
    transaction: the one transaction recounts the module and the pathway from its own reads, so
    both end at what the learner has now (2 of 2, module complete), with one transaction."""
    store = drifted(["ivy"])
    stale = store.learner_state("ivy")
    store.resources["ivy", "m1-b"] = done("ivy", "m1-b", "m1")
    store.learner_state = lambda uid, keys=None: stale  # type: ignore[method-assign]
    locks_before = len(store.uow.locks)
    found = service.reconcile_batch(
        ReconcileBatch(run_id="a", pathway_id="p"),
        reconciler=reconciler(one_pathway(), store),
        runs=FakeRunLog(),
        queue=None,
    )
    module, pathway = store.modules["ivy", "m1"], store.pathways["ivy", "p"]
    assert (module.completed_resources, module.total_resources) == (2, 2)
    assert module.completed_at is not None
    assert (pathway.completed_resources, pathway.completed_modules) == (2, 1)
    assert store.uow.locks[locks_before:] == ["users/ivy/pathway_progress/p"]  # one transaction
    assert (found.tally.modules.written, found.tally.pathways.written) == (1, 1)
