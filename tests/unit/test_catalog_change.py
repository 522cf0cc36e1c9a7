"""``shared.domain.catalog_change``: the change policies and ``completed_at`` across catalog changes
(pure; the measured failures of issue 13 as unit cases)."""

from __future__ import annotations

import datetime as dt

from shared.domain import catalog_change as change
from shared.domain.models import (
    ChangePolicy,
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceType,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def res(rid: str, since: int = 1, version: int = 1) -> Resource:
    return Resource(
        resource_id=rid,
        pathway_id="p",
        module_id="m",
        title=rid,
        type=ResourceType.video,
        order=0,
        counts_since_version=since,
        content_version=version,
    )


def mod(rids: list[str], version: int, policy: ChangePolicy) -> Module:
    return Module(
        module_id="m",
        pathway_id="p",
        title="m",
        order=0,
        resource_ids=rids,
        content_version=version,
        change_policy=policy,
    )


def done(rid: str, minute: int) -> ResourceProgress:
    return ResourceProgress(
        resource_id=rid,
        pathway_id="p",
        module_id="m",
        status=ResourceStatus.completed,
        completed_at=T0 + dt.timedelta(minutes=minute),
    )


FIVE = [f"r{i}" for i in range(5)]
PROGRESS = {rid: done(rid, i) for i, rid in enumerate(FIVE)}
FINISHED_AT = T0 + dt.timedelta(minutes=4)


def finished(policy: ChangePolicy) -> ModuleProgress:
    """A learner at 5/5, counted against version 1."""
    first = change.module_rollup(mod(FIVE, 1, policy), [res(r) for r in FIVE], PROGRESS, None, T0)
    assert first is not None
    return first


def test_completed_at_is_when_the_last_resource_was_completed_not_when_counted() -> None:
    m = finished(ChangePolicy.recount)
    assert (m.completed_resources, m.total_resources, m.completed_at) == (5, 5, FINISHED_AT)


def test_recount_an_added_resource_reopens_the_module_and_its_removal_restores_completed_at() -> (
    None
):
    before = finished(ChangePolicy.recount)
    six = [*[res(r) for r in FIVE], res("new", since=2)]
    added = change.module_rollup(
        mod([*FIVE, "new"], 2, ChangePolicy.recount), six, PROGRESS, before, LATER
    )
    assert added is not None
    assert (added.completed_resources, added.total_resources, added.completed_at) == (5, 6, None)
    removed = change.module_rollup(
        mod(FIVE, 3, ChangePolicy.recount), [res(r) for r in FIVE], PROGRESS, added, LATER
    )
    assert removed is not None
    # exactly back (the measured failure: removal reset completed_at to the time of the recount)
    assert (removed.completed_resources, removed.total_resources) == (5, 5)
    assert removed.completed_at == before.completed_at == FINISHED_AT


def test_keep_completed_a_finished_learner_keeps_the_module_and_the_new_resource_is_waived() -> (
    None
):
    before = finished(ChangePolicy.keep_completed)
    six = [*[res(r) for r in FIVE], res("new", since=2)]
    m2 = mod([*FIVE, "new"], 2, ChangePolicy.keep_completed)
    kept = change.module_rollup(m2, six, PROGRESS, before, LATER)
    assert kept is not None
    assert (kept.completed_resources, kept.total_resources) == (5, 5)
    assert (kept.completed_at, kept.waived_resource_ids, kept.content_version) == (
        FINISHED_AT,
        ["new"],
        2,
    )
    # counted again (a trigger, a re-evaluation): the same numbers, nothing to write
    assert change.module_rollup(m2, six, PROGRESS, kept, LATER) is None
    # the resource leaves again: the waiver goes with it, and the numbers are exactly back
    back = change.module_rollup(
        mod(FIVE, 3, ChangePolicy.keep_completed), [res(r) for r in FIVE], PROGRESS, kept, LATER
    )
    assert back is not None
    assert (back.completed_resources, back.total_resources, back.completed_at) == (
        5,
        5,
        FINISHED_AT,
    )
    assert back.waived_resource_ids == []


def test_keep_completed_a_learner_who_had_not_finished_counts_the_new_resource() -> None:
    policy = ChangePolicy.keep_completed
    partial = {r: PROGRESS[r] for r in FIVE[:3]}
    before = change.module_rollup(mod(FIVE, 1, policy), [res(r) for r in FIVE], partial, None, T0)
    assert before is not None
    six = [*[res(r) for r in FIVE], res("new", since=2)]
    after = change.module_rollup(mod([*FIVE, "new"], 2, policy), six, partial, before, LATER)
    assert after is not None
    assert (after.completed_resources, after.total_resources, after.waived_resource_ids) == (
        3,
        6,
        [],
    )


def test_keep_completed_never_waives_an_old_resource_the_learner_takes_back() -> None:
    policy = ChangePolicy.keep_completed
    before = finished(policy)
    six = [*[res(r) for r in FIVE], res("new", since=2)]
    undone = {**PROGRESS, "r0": PROGRESS["r0"].model_copy(update={"status": "in_progress"})}
    after = change.module_rollup(mod([*FIVE, "new"], 2, policy), six, undone, before, LATER)
    assert after is not None
    assert after.waived_resource_ids == ["new"]
    assert (after.completed_resources, after.total_resources, after.completed_at) == (4, 5, None)


def test_keep_completed_a_module_added_to_a_finished_pathway_is_waived() -> None:
    policy = ChangePolicy.keep_completed
    m1 = finished(policy)
    p1 = Pathway(pathway_id="p", title="p", module_ids=["m"], change_policy=policy)
    before = change.pathway_rollup(p1, {"m": mod(FIVE, 1, policy)}, {"m": m1}, {"m": 5}, None, T0)
    assert before is not None
    assert before.completed_at == FINISHED_AT
    new_module = Module(
        module_id="m2",
        pathway_id="p",
        title="m2",
        order=1,
        resource_ids=["x"],
        counts_since_version=2,
        change_policy=policy,
    )
    p2 = p1.model_copy(update={"module_ids": ["m", "m2"], "content_version": 2})
    mods = {"m": mod(FIVE, 1, policy), "m2": new_module}
    kept = change.pathway_rollup(p2, mods, {"m": m1}, {"m": 5, "m2": 1}, before, LATER)
    assert isinstance(kept, PathwayProgress)
    assert (kept.completed_modules, kept.total_modules, kept.completed_at) == (1, 1, FINISHED_AT)
    assert kept.waived_module_ids == ["m2"]
    recount = p2.model_copy(update={"change_policy": ChangePolicy.recount})
    moved = change.pathway_rollup(recount, mods, {"m": m1}, {"m": 5, "m2": 1}, before, LATER)
    assert moved is not None
    assert (moved.completed_modules, moved.total_modules, moved.completed_at) == (1, 2, None)


def test_a_resource_updated_after_completion_is_marked() -> None:
    stamped = change.stamp_completion(
        res("r", version=3),
        ResourceProgress(resource_id="r", pathway_id="p", module_id="m"),
        done("r", 0),
    )
    assert stamped.content_version == 3
    assert not change.updated_since_completion(res("r", version=3), stamped)
    assert change.updated_since_completion(res("r", version=4), stamped)
    assert not change.updated_since_completion(res("r", version=4), None)


# ---- the version-checked cache, with the module trigger's use case (fakes of the ports) -------


def test_a_trigger_whose_cache_is_older_than_the_catalog_recounts_against_the_new_one() -> None:
    from shared.services import rollups
    from shared.services.catalog import CachedCatalog
    from tests.unit.fakes import FakeCatalog, FakeStore
    from tests.unit.test_progress_services import change as event

    fake = FakeCatalog()
    fake.add_pathway("p", {"m": [("a", False, False), ("b", False, False)]})
    version = [1]
    cached = CachedCatalog(fake, ttl=3600, version=lambda: version[0])
    store = FakeStore()
    store.state.catalog_version = 1
    store.state.progress["u", "a"] = done("a", 0).model_copy(update={"module_id": "m"})
    path = "users/u/resource_progress/a"
    first = rollups.resource_progress_written(event(path, {"module_id": "m"}), cached, store)
    assert first is not None
    assert (first.completed_resources, first.total_resources) == (1, 2)
    # catalog apply adds a resource and bumps the version; the cache still holds the old module
    fake.add_pathway("p", {"m": [("a", False, False), ("b", False, False), ("c", False, False)]})
    version[0] = store.state.catalog_version = 2
    again = rollups.resource_progress_written(event(path, {"module_id": "m"}), cached, store)
    assert again is not None
    assert (again.completed_resources, again.total_resources) == (1, 3)
    assert cached.known_version == 2


def test_a_cache_that_is_not_version_checked_keeps_counting_against_what_it_holds() -> None:
    """The control: the same sequence without the version check counts against the old module
    (the measured failure of the 30 s cache), so the test above can fail."""
    from shared.services import rollups
    from shared.services.catalog import CachedCatalog
    from tests.unit.fakes import FakeCatalog, FakeStore
    from tests.unit.test_progress_services import change as event

    fake = FakeCatalog()
    fake.add_pathway("p", {"m": [("a", False, False), ("b", False, False)]})
    cached = CachedCatalog(fake, ttl=3600)
    store = FakeStore()
    store.state.progress["u", "a"] = done("a", 0).model_copy(update={"module_id": "m"})
    path = "users/u/resource_progress/a"
    rollups.resource_progress_written(event(path, {"module_id": "m"}), cached, store)
    fake.add_pathway("p", {"m": [("a", False, False), ("b", False, False), ("c", False, False)]})
    store.state.catalog_version = 2
    stale = store.state.modules["u", "m"]
    assert rollups.resource_progress_written(event(path, {"module_id": "m"}), cached, store) is None
    assert stale.total_resources == 2
