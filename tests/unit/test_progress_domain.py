"""The progress rules and rollup arithmetic of ``shared.domain.progress`` (pure, no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain import progress as rules
from shared.domain.models import (
    Module,
    ModuleProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceType,
)
from shared.domain.progress import ProgressUpdate
from shared.errors import Conflict

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
S = ResourceStatus


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def resource(
    rid: str = "r1", *, upload: bool = False, optional: bool = False, module: str = "m1"
) -> Resource:
    return Resource(
        resource_id=rid,
        pathway_id="p1",
        module_id=module,
        title=rid,
        type=ResourceType.exercise if upload else ResourceType.video,
        order=0,
        requires_upload=upload,
        optional=optional,
    )


def doc(
    res: Resource, status: ResourceStatus, submissions: int = 0, **kw: object
) -> ResourceProgress:
    return ResourceProgress(
        resource_id=res.resource_id,
        pathway_id=res.pathway_id,
        module_id=res.module_id,
        status=status,
        submission_count=submissions,
        **kw,
    )


# ---- status rules ------------------------------------------------------------------------------


def test_start_moves_not_started_to_in_progress_once() -> None:
    res = resource()
    first = rules.start(res, None, at(1))
    assert first.changed
    assert first.after.status == S.in_progress
    assert first.after.started_at == at(1)
    again = rules.start(res, first.after, at(2))
    assert not again.changed
    assert again.after == first.after


@pytest.mark.parametrize("status", [S.completed, S.submitted, S.reviewed])
def test_start_never_regresses_a_finished_resource(status: ResourceStatus) -> None:
    res = resource(upload=True)
    current = doc(res, status, submissions=1)
    outcome = rules.start(res, current, at(1))
    assert not outcome.changed
    assert outcome.after.status == status


def test_update_sets_percentage_and_adds_minutes() -> None:
    res = resource()
    one = rules.update(
        res, None, ProgressUpdate(progress_percentage=30, time_spent_minutes=5), at(1)
    )
    assert one.after.status == S.in_progress
    assert (one.after.progress_percentage, one.after.time_spent_minutes) == (30, 5)
    two = rules.update(
        res, one.after, ProgressUpdate(progress_percentage=20, time_spent_minutes=7), at(2)
    )
    assert (two.after.progress_percentage, two.after.time_spent_minutes) == (20, 12)
    assert two.after.started_at == at(1)


def test_update_with_nothing_new_is_a_no_op() -> None:
    res = resource()
    one = rules.update(
        res, None, ProgressUpdate(progress_percentage=30, time_spent_minutes=5), at(1)
    )
    same = rules.update(
        res, one.after, ProgressUpdate(progress_percentage=30, time_spent_minutes=0), at(2)
    )
    assert not same.changed


def test_update_keeps_a_completed_resource_completed_at_100() -> None:
    res = resource()
    done = rules.complete(res, None, at(1)).after
    upd = rules.update(
        res, done, ProgressUpdate(progress_percentage=10, time_spent_minutes=3), at(2)
    )
    assert upd.after.status == S.completed
    assert upd.after.progress_percentage == 100
    assert upd.after.time_spent_minutes == 3


@pytest.mark.parametrize(
    "body",
    [
        {"progress_percentage": 101},
        {"progress_percentage": -1},
        {"progress_percentage": 50, "time_spent_minutes": -1},
        {"progress_percentage": 50, "time_spent_minutes": 1441},
        {"progress_percentage": 50, "extra": 1},
        {"progress_percentage": "50"},
        {"progress_percentage": 50.5},
        {},
    ],
)
def test_update_body_is_bounded_and_strict(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProgressUpdate.model_validate(body)


def test_complete_sets_completed_at_and_is_idempotent() -> None:
    res = resource()
    done = rules.complete(res, None, at(3))
    assert done.changed
    assert done.after.status == S.completed
    assert done.after.completed_at == at(3)
    assert done.after.started_at == at(3)
    assert done.after.progress_percentage == 100
    again = rules.complete(res, done.after, at(4))
    assert not again.changed
    assert again.after.completed_at == at(3)


def test_complete_requires_a_recorded_upload() -> None:
    res = resource(upload=True)
    with pytest.raises(Conflict):
        rules.complete(res, None, at(1))
    with pytest.raises(Conflict):
        rules.complete(res, doc(res, S.in_progress), at(1))
    # an upload recorded earlier but rejected, deleted or overwritten by an invalid file (the status
    # went back to in_progress) does not: submission_count only ever grows
    with pytest.raises(Conflict):
        rules.complete(res, doc(res, S.in_progress, submissions=1), at(1))


@pytest.mark.parametrize("status", [S.submitted, S.reviewed])
def test_complete_never_downgrades_an_upload(status: ResourceStatus) -> None:
    res = resource(upload=True)
    outcome = rules.complete(res, doc(res, status, submissions=1), at(1))
    assert not outcome.changed
    assert outcome.after.status == status


def test_uncomplete_takes_back_a_completion() -> None:
    res = resource()
    done = rules.complete(res, None, at(1)).after
    back = rules.uncomplete(res, done, at(2))
    assert back.changed
    assert back.after.status == S.in_progress
    assert back.after.completed_at is None
    assert back.after.progress_percentage == 100  # kept: it records how far the learner got
    retry = rules.uncomplete(res, back.after, at(3))
    assert not retry.changed


@pytest.mark.parametrize("status", [S.not_started, S.submitted, S.reviewed])
def test_uncomplete_refuses_other_states(status: ResourceStatus) -> None:
    res = resource(upload=True)
    current = None if status == S.not_started else doc(res, status, submissions=1)
    with pytest.raises(Conflict):
        rules.uncomplete(res, current, at(1))


def test_catalog_decides_where_a_resource_lives() -> None:
    res = resource()
    stray = ResourceProgress(resource_id="r1", pathway_id="", module_id="", status=S.submitted)
    outcome = rules.start(res, stray, at(1))
    assert (outcome.after.module_id, outcome.after.pathway_id) == ("m1", "p1")


def test_event_records_the_transition() -> None:
    res = resource()
    outcome = rules.complete(res, None, at(1))
    event = outcome.event(at(1))
    assert event["action"] == "complete"
    assert (event["from_status"], event["to_status"]) == ("not_started", "completed")
    assert event["resource_id"] == "r1"
    assert event["at"] == at(1)


# ---- counting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upload", "optional", "status", "submissions", "expected"),
    [
        (False, False, S.not_started, 0, False),
        (False, False, S.in_progress, 0, False),
        (False, False, S.completed, 0, True),
        (False, False, S.submitted, 0, True),
        (False, False, S.reviewed, 0, True),
        (True, False, S.completed, 0, False),
        (True, False, S.completed, 1, False),
        (True, False, S.submitted, 0, True),
        (True, False, S.reviewed, 1, True),
        (True, False, S.in_progress, 3, False),
        (False, True, S.completed, 0, False),
    ],
)
def test_counts(
    upload: bool, optional: bool, status: ResourceStatus, submissions: int, expected: bool
) -> None:
    res = resource(upload=upload, optional=optional)
    assert rules.counts(res, doc(res, status, submissions)) is expected


def test_ratio_rounds_and_treats_empty_as_complete() -> None:
    assert rules.ratio(1, 3) == 33.33
    assert rules.ratio(2, 3) == 66.67
    assert rules.ratio(0, 5) == 0.0
    assert rules.ratio(5, 5) == 100.0
    assert rules.ratio(0, 0) == 100.0


MODULE = Module(
    module_id="m1", pathway_id="p1", title="M", order=0, resource_ids=["a", "b", "c", "opt"]
)
RESOURCES = [
    resource("a"),
    resource("b"),
    resource("c", upload=True),
    resource("opt", optional=True),
]


def test_module_rollup_counts_required_resources_only() -> None:
    a, _, _, opt = RESOURCES
    progress = {"a": doc(a, S.completed), "opt": doc(opt, S.completed)}
    mp = rules.module_rollup(MODULE, RESOURCES, progress, None, at(1))
    assert mp is not None
    assert (mp.completed_resources, mp.total_resources, mp.percentage) == (1, 3, 33.33)
    assert mp.completed_at is None


def test_module_completed_at_is_set_kept_and_cleared() -> None:
    a, b, c, _ = RESOURCES
    full = {"a": doc(a, S.completed), "b": doc(b, S.completed), "c": doc(c, S.submitted, 1)}
    first = rules.module_rollup(MODULE, RESOURCES, full, None, at(1))
    assert first is not None
    assert first.completed_at == at(1)
    assert first.percentage == 100.0
    # same numbers later: nothing to write, completed_at kept
    assert rules.module_rollup(MODULE, RESOURCES, full, first, at(5)) is None
    partial = {**full, "b": doc(b, S.in_progress)}
    dropped = rules.module_rollup(MODULE, RESOURCES, partial, first, at(6))
    assert dropped is not None
    assert dropped.completed_at is None
    again = rules.module_rollup(MODULE, RESOURCES, full, dropped, at(9))
    assert again is not None
    assert again.completed_at == at(9)


def test_pathway_rollup_uses_catalog_totals_for_untouched_modules() -> None:
    m1 = ModuleProgress(
        module_id="m1",
        pathway_id="p1",
        completed_resources=3,
        total_resources=3,
        percentage=100.0,
        completed_at=at(1),
    )
    pp = rules.pathway_rollup("p1", ["m1", "m2"], {"m1": m1}, {"m1": 3, "m2": 5}, None, at(2))
    assert pp is not None
    assert (pp.completed_modules, pp.total_modules, pp.percentage) == (1, 2, 50.0)
    assert (pp.completed_resources, pp.total_resources, pp.resource_percentage) == (3, 8, 37.5)
    assert pp.completed_at is None
    assert rules.pathway_rollup("p1", ["m1", "m2"], {"m1": m1}, {"m2": 5}, pp, at(3)) is None
    whole = rules.pathway_rollup("p1", ["m1"], {"m1": m1}, {}, None, at(4))
    assert whole is not None
    assert whole.completed_at == at(4)
    assert (whole.percentage, whole.resource_percentage) == (100.0, 100.0)


# ---- properties --------------------------------------------------------------------------------

statuses = st.sampled_from(list(ResourceStatus))
snapshots = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "opt"]), statuses, st.integers(0, 2)),
    min_size=1,
    max_size=30,
)


def _state(history: list[tuple[str, ResourceStatus, int]]) -> dict[str, ResourceProgress]:
    by_id = {r.resource_id: r for r in RESOURCES}
    state: dict[str, ResourceProgress] = {}
    for rid, status, subs in history:
        state[rid] = doc(by_id[rid], status, subs)
    return state


@settings(max_examples=300, deadline=None)
@given(history=snapshots, data=st.data())
def test_recomputing_in_any_order_with_duplicates_ends_at_the_scratch_count(
    history: list[tuple[str, ResourceStatus, int]], data: st.DataObject
) -> None:
    """Each write's rollup is recomputed at an arbitrary later point from whatever state exists then
    (events reordered and duplicated); once every write has been followed by a recompute, the stored
    rollup equals a from-scratch count of the final state."""
    prefixes = [_state(history[: i + 1]) for i in range(len(history))]
    # deliveries: indexes into the prefix list, any order, duplicates, ending with the final state
    order = data.draw(st.lists(st.integers(0, len(prefixes) - 1), max_size=40))
    stored: ModuleProgress | None = None
    for minute, i in enumerate([*order, len(prefixes) - 1]):
        fresh = rules.module_rollup(MODULE, RESOURCES, prefixes[i], stored, at(minute))
        stored = fresh or stored
    final = prefixes[-1]
    required = [r for r in RESOURCES if not r.optional]
    done = sum(1 for r in required if rules.counts(r, final.get(r.resource_id)))
    assert stored is not None
    assert stored.completed_resources == done
    assert stored.total_resources == len(required)
    assert stored.percentage == rules.ratio(done, len(required))
    assert (stored.completed_at is not None) == (done == len(required))
    # and a duplicate of the last event changes nothing
    assert rules.module_rollup(MODULE, RESOURCES, final, stored, at(999)) is None
