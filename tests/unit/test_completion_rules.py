"""Completion rules, due dates and excuses of ``shared.domain.progress`` (pure, no I/O), and the
rollup properties with every rule in play."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain import progress as rules
from shared.domain import uploads
from shared.domain.models import (
    CompletionRule,
    Module,
    ModuleProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceType,
    Submission,
    SubmissionStatus,
)
from shared.domain.progress import ProgressUpdate
from shared.errors import Conflict, InvalidArgument

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
S = ResourceStatus
R = CompletionRule


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def res(
    rid: str = "r1",
    rule: CompletionRule | None = None,
    *,
    optional: bool = False,
    due: dt.datetime | None = None,
    min_minutes: int | None = None,
    pass_score: int | None = None,
) -> Resource:
    upload = rule in (R.upload, R.approved)
    if rule == R.min_time and min_minutes is None:
        min_minutes = 30
    if rule == R.score and pass_score is None:
        pass_score = 70
    return Resource(
        resource_id=rid,
        pathway_id="p1",
        module_id="m1",
        title=rid,
        type=ResourceType.project if upload else ResourceType.quiz,
        order=0,
        requires_upload=upload,
        optional=optional,
        completion=rule,
        min_minutes=min_minutes,
        pass_score=pass_score,
        due_at=due,
    )


def put(percentage: int = 10, minutes: int = 0, score: int | None = None) -> ProgressUpdate:
    return ProgressUpdate(progress_percentage=percentage, time_spent_minutes=minutes, score=score)


# ---- the model --------------------------------------------------------------------------------


def test_the_rule_defaults_to_what_resources_had_before_rules() -> None:
    assert res().rule == R.manual
    upload = Resource.model_validate(
        {**res().model_dump(exclude={"completion"}), "requires_upload": True}
    )
    assert upload.rule == R.upload


@pytest.mark.parametrize(
    "fields",
    [
        {"completion": "approved"},  # needs requires_upload
        {"completion": "upload"},
        {"completion": "manual", "requires_upload": True},
        {"completion": "min_time"},  # needs min_minutes
        {"completion": "score"},  # needs pass_score
        {"completion": "score", "pass_score": 101},
        {"completion": "min_time", "min_minutes": 0},
        {"min_minutes": 5},  # only with min_time
        {"pass_score": 5},
        {"completion": "sometimes"},
        {"due_at": "2026-01-01T00:00:00"},  # no time zone
    ],
)
def test_a_resource_whose_rule_does_not_fit_is_refused(fields: dict[str, Any]) -> None:
    base = res().model_dump(exclude={"completion", "min_minutes", "pass_score", "due_at"})
    with pytest.raises(ValidationError):
        Resource.model_validate({**base, **fields})


@pytest.mark.parametrize(
    "body",
    [
        {"progress_percentage": 1, "score": -1},
        {"progress_percentage": 1, "score": 101},
        {"progress_percentage": 1, "score": "80"},
        {"progress_percentage": 1, "score": 80.5},
    ],
)
def test_a_score_is_an_integer_from_0_to_100(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProgressUpdate.model_validate(body)
    assert ProgressUpdate.model_validate({"progress_percentage": 1, "score": 0}).score == 0
    assert ProgressUpdate.model_validate({"progress_percentage": 1, "score": 100}).score == 100


# ---- each rule, met and unmet -----------------------------------------------------------------


def test_manual_completes_on_the_check_off() -> None:
    out = rules.complete(res(rule=R.manual), None, at(1))
    assert out.after.status == S.completed
    assert out.after.completed_at == at(1)


@pytest.mark.parametrize("status", [S.not_started, S.in_progress])
def test_upload_needs_a_valid_upload(status: ResourceStatus) -> None:
    r = res(rule=R.upload)
    doc = rules.blank(r).model_copy(update={"status": status})
    with pytest.raises(Conflict, match="uploading a submission"):
        rules.complete(r, doc, at(1))
    for done in (S.submitted, S.reviewed):
        kept = doc.model_copy(update={"status": done})
        assert not rules.complete(r, kept, at(1)).changed
        assert rules.counts(r, kept)


def test_approved_needs_an_approval_not_just_an_upload() -> None:
    r = res(rule=R.approved)
    submitted = rules.blank(r).model_copy(update={"status": S.submitted})
    assert not rules.counts(r, submitted)
    with pytest.raises(Conflict, match="when an instructor approves"):
        rules.complete(r, submitted, at(1))
    with pytest.raises(Conflict, match="upload one for review"):
        rules.complete(r, None, at(1))
    reviewed = submitted.model_copy(update={"status": S.reviewed})
    assert rules.counts(r, reviewed)
    assert not rules.complete(r, reviewed, at(1)).changed


def test_min_time_is_met_at_exactly_n_minutes_and_completes_itself() -> None:
    r = res(rule=R.min_time, min_minutes=30)
    first = rules.update(r, None, put(minutes=29), at(1))
    assert first.after.status == S.in_progress
    assert first.auto_completed is None
    with pytest.raises(Conflict, match="at least 30 minutes spent \\(29 so far\\)"):
        rules.complete(r, first.after, at(2))
    second = rules.update(r, first.after, put(minutes=1), at(3))
    assert second.after.status == S.completed
    assert second.after.completed_at == at(3)
    assert second.after.progress_percentage == 100
    assert second.auto_completed == R.min_time
    assert second.event(at(3))["auto_completed"] == "min_time"
    assert rules.counts(r, second.after)
    # more heartbeats add time but never complete it again
    third = rules.update(r, second.after, put(minutes=5), at(4))
    assert third.auto_completed is None
    assert third.after.completed_at == at(3)


def test_min_time_uncompleted_then_completed_by_hand_once_met() -> None:
    r = res(rule=R.min_time, min_minutes=1)
    done = rules.update(r, None, put(minutes=1), at(1)).after
    back = rules.uncomplete(r, done, at(2)).after
    assert back.status == S.in_progress
    assert not rules.counts(r, back)
    # the time is still there: no heartbeat crosses the threshold again, the check-off does it
    assert rules.update(r, back, put(minutes=1), at(3)).after.status == S.in_progress
    assert rules.complete(r, back, at(4)).after.status == S.completed


def test_score_keeps_the_best_and_completes_at_the_threshold() -> None:
    r = res(rule=R.score, pass_score=70)
    low = rules.update(r, None, put(score=69), at(1))
    assert low.after.score == 69
    assert low.after.status == S.in_progress
    with pytest.raises(Conflict, match="score of at least 70 \\(best so far 69\\)"):
        rules.complete(r, low.after, at(2))
    with pytest.raises(Conflict, match="no score yet"):
        rules.complete(r, None, at(2))
    passed = rules.update(r, low.after, put(score=70), at(3))
    assert passed.after.status == S.completed
    assert passed.auto_completed == R.score
    assert passed.event(at(3))["score"] == 70
    worse = rules.update(r, passed.after, put(score=10), at(4))
    assert worse.after.score == 70
    assert worse.after.status == S.completed


def test_score_zero_threshold_is_met_by_any_score_but_not_by_none() -> None:
    r = res(rule=R.score, pass_score=0)
    assert not rules.rule_met(r, rules.blank(r))
    assert rules.update(r, None, put(score=0), at(1)).after.status == S.completed


@pytest.mark.parametrize("rule", [None, R.manual, R.min_time, R.upload, R.approved])
def test_a_score_for_a_resource_without_the_score_rule_is_400(rule: CompletionRule) -> None:
    with pytest.raises(InvalidArgument, match="takes no score"):
        rules.update(res(rule=rule), None, put(score=50), at(1))


def test_optional_can_be_done_and_never_counts() -> None:
    r = res(rule=R.score, optional=True)
    done = rules.update(r, None, put(score=100), at(1)).after
    assert done.status == S.completed
    assert not rules.counts(r, done)
    assert rules.count_module([r], {r.resource_id: done}) == (0, 0)


# ---- due dates ---------------------------------------------------------------------------------


def test_late_when_completed_after_the_due_date_and_cleared_when_taken_back() -> None:
    r = res(rule=R.manual, due=at(10))
    assert not rules.complete(r, None, at(10)).after.late  # exactly at the due time: on time
    late = rules.complete(r, None, at(11)).after
    assert late.late
    assert not rules.uncomplete(r, late, at(12)).after.late
    assert not rules.complete(res(rule=R.manual), None, at(99)).after.late  # no due date


def test_an_automatic_completion_after_the_due_date_is_late() -> None:
    r = res(rule=R.min_time, min_minutes=1, due=at(5))
    assert rules.update(r, None, put(minutes=1), at(6)).after.late


def _sub(status: SubmissionStatus, sid: str = "s1") -> Submission:
    return Submission(
        submission_id=sid,
        user_id="u1",
        resource_id="r1",
        module_id="m1",
        pathway_id="p1",
        attempt=1,
        file_name="a.pdf",
        content_type="application/pdf",
        size_bytes=1,
        gcs_bucket="b",
        gcs_path="p",
        status=status,
    )


def test_an_upload_after_the_due_date_is_late_and_the_approval_completes_an_approved_resource() -> (
    None
):
    r = res(rule=R.approved, due=at(10))
    up = uploads.settle_progress(None, {}, _sub(SubmissionStatus.uploaded), at(11), resource=r)
    assert up is not None
    assert up.status == S.submitted
    assert up.late
    assert up.completed_at is None  # awaiting approval: not complete
    ok = uploads.settle_progress(
        up, {"s1": SubmissionStatus.uploaded}, _sub(SubmissionStatus.approved), at(20), resource=r
    )
    assert ok is not None
    assert ok.status == S.reviewed
    assert ok.completed_at == at(20)
    assert ok.late  # judged when it was submitted, not when approved
    back = uploads.settle_progress(
        ok, {"s1": SubmissionStatus.approved}, _sub(SubmissionStatus.rejected), at(30), resource=r
    )
    assert back is not None
    assert back.status == S.in_progress
    assert back.completed_at is None
    assert not back.late


def test_an_upload_rule_completes_at_the_upload_as_before() -> None:
    r = res(rule=R.upload, due=at(10))
    up = uploads.settle_progress(None, {}, _sub(SubmissionStatus.uploaded), at(5), resource=r)
    assert up is not None
    assert up.completed_at == at(5)
    assert not up.late


# ---- excuses -----------------------------------------------------------------------------------


def test_an_excuse_takes_the_resource_out_of_the_learners_count_and_back() -> None:
    a, b = res("a", R.manual), res("b", R.min_time)
    done = rules.complete(a, None, at(1)).after
    assert rules.count_module([a, b], {"a": done}) == (1, 2)
    ex = rules.excuse(b, None, "teacher", "medical", at(2))
    assert ex.changed
    assert ex.after.excused
    assert ex.after.excuse_reason == "medical"
    assert ex.after.status == S.not_started
    event = ex.event(at(2))
    assert (event["excused"], event["by"], event["reason"]) == (True, "teacher", "medical")
    assert rules.count_module([a, b], {"a": done, "b": ex.after}) == (1, 1)
    assert not rules.excuse(b, ex.after, "other", "again", at(3)).changed
    un = rules.unexcuse(b, ex.after, "teacher", "back", at(4))
    assert un.changed
    assert not un.after.excused
    assert un.after.excused_by is None
    assert rules.count_module([a, b], {"a": done, "b": un.after}) == (1, 2)
    assert not rules.unexcuse(b, un.after, "teacher", "back", at(5)).changed


def test_an_excused_completed_resource_leaves_both_numbers() -> None:
    a = res("a", R.manual)
    done = rules.complete(a, None, at(1)).after
    ex = rules.excuse(a, done, "t", "r", at(2)).after
    assert ex.status == S.completed
    assert rules.count_module([a], {"a": ex}) == (0, 0)


# ---- properties: the rollup with every rule ----------------------------------------------------

RESOURCES = [
    res("man", R.manual),
    res("up", R.upload),
    res("appr", R.approved),
    res("time", R.min_time, min_minutes=30),
    res("quiz", R.score, pass_score=70),
    res("opt", R.score, optional=True, pass_score=50),
]
BY_ID = {r.resource_id: r for r in RESOURCES}
MODULE = Module(module_id="m1", pathway_id="p1", title="m", order=0, resource_ids=list(BY_ID))

snapshots = st.lists(
    st.tuples(
        st.sampled_from(list(BY_ID)),
        st.sampled_from(list(ResourceStatus)),
        st.integers(0, 60),  # minutes
        st.one_of(st.none(), st.integers(0, 100)),  # best score
        st.booleans(),  # excused
    ),
    min_size=1,
    max_size=30,
)


def _doc(
    rid: str, status: ResourceStatus, minutes: int, score: int | None, excused: bool
) -> ResourceProgress:
    return ResourceProgress(
        resource_id=rid,
        pathway_id="p1",
        module_id="m1",
        status=status,
        time_spent_minutes=minutes,
        score=score,
        excused=excused,
    )


# The from-scratch count, written out as a table (not with the rules under test): per rule, the
# statuses that count and the condition on the inputs.
_SPEC = {
    "man": lambda d: d.status in {S.completed, S.submitted, S.reviewed},
    "up": lambda d: d.status in {S.submitted, S.reviewed},
    "appr": lambda d: d.status == S.reviewed,
    "time": lambda d: (
        d.status in {S.completed, S.submitted, S.reviewed} and d.time_spent_minutes >= 30
    ),
    "quiz": lambda d: (
        d.status in {S.completed, S.submitted, S.reviewed} and d.score is not None and d.score >= 70
    ),
}


def _scratch(state: dict[str, ResourceProgress]) -> tuple[int, int]:
    total = done = 0
    for rid, done_if in _SPEC.items():  # "opt" is optional: never in the count
        doc = state.get(rid)
        if doc is not None and doc.excused:
            continue
        total += 1
        done += bool(doc is not None and done_if(doc))
    return done, total


def _state(
    history: list[tuple[str, ResourceStatus, int, int | None, bool]],
) -> dict[str, ResourceProgress]:
    state: dict[str, ResourceProgress] = {}
    for rid, status, minutes, score, excused in history:
        state[rid] = _doc(rid, status, minutes, score, excused)
    return state


@settings(max_examples=300, deadline=None)
@given(history=snapshots, data=st.data())
def test_module_rollup_with_every_rule_in_any_order_equals_the_scratch_count(
    history: list[tuple[str, ResourceStatus, int, int | None, bool]], data: st.DataObject
) -> None:
    """Each write's recompute runs at an arbitrary later point from the state then (reordered,
    duplicated); once the last state has been recomputed the module holds the from-scratch count,
    excused and optional resources out of both numbers."""
    prefixes = [_state(history[: i + 1]) for i in range(len(history))]
    order = data.draw(st.lists(st.integers(0, len(prefixes) - 1), max_size=40))
    stored: ModuleProgress | None = None
    for minute, i in enumerate([*order, len(prefixes) - 1]):
        fresh = rules.module_rollup(MODULE, RESOURCES, prefixes[i], stored, at(minute))
        stored = fresh or stored
    done, total = _scratch(prefixes[-1])
    assert stored is not None
    assert (stored.completed_resources, stored.total_resources) == (done, total)
    assert stored.percentage == rules.ratio(done, total)
    assert (stored.completed_at is not None) == (done == total)
    assert rules.module_rollup(MODULE, RESOURCES, prefixes[-1], stored, at(999)) is None


actions = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.integers(0, 20), st.one_of(st.none(), st.integers(0, 100))),
        st.tuples(st.just("complete"), st.just(0), st.none()),
        st.tuples(st.just("uncomplete"), st.just(0), st.none()),
        st.tuples(st.just("excuse"), st.just(0), st.none()),
        st.tuples(st.just("unexcuse"), st.just(0), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(rid=st.sampled_from(["man", "time", "quiz", "opt"]), steps=actions)
def test_learner_actions_never_count_a_resource_whose_rule_is_unmet(
    rid: str, steps: list[tuple[str, int, int | None]]
) -> None:
    """Any sequence of heartbeats, scores, check-offs, un-checks and excuses: a resource counts
    exactly when the table says so, and it was completed automatically at most once per crossing
    of its threshold."""
    r = BY_ID[rid]
    doc: ResourceProgress | None = None
    for minute, (kind, minutes, score) in enumerate(steps):
        if r.rule != R.score:
            score = None
        before = doc
        try:
            if kind == "update":
                out = rules.update(r, doc, put(minutes=minutes, score=score), at(minute))
            elif kind == "complete":
                out = rules.complete(r, doc, at(minute))
            elif kind == "uncomplete":
                out = rules.uncomplete(r, doc, at(minute))
            elif kind == "excuse":
                out = rules.excuse(r, doc, "t", "why", at(minute))
            else:
                out = rules.unexcuse(r, doc, "t", "why", at(minute))
        except Conflict:
            assert kind in ("complete", "uncomplete")
            continue
        doc = out.after
        if out.auto_completed is not None:
            assert not rules.rule_met(r, before)
            assert rules.rule_met(r, doc)
        if doc.status == S.completed:
            assert rules.rule_met(r, doc)
            assert doc.completed_at is not None
    expected = rid in _SPEC and doc is not None and not doc.excused and _SPEC[rid](doc)
    assert rules.counts(r, doc) == expected


PATHWAY_MODULES = {
    "m1": [res("m1-a", R.manual), res("m1-b", R.min_time, min_minutes=30)],
    "m2": [
        res("m2-a", R.score, pass_score=70),
        res("m2-b", R.approved),
        res("m2-c", optional=True),
    ],
}


def _in(rid: str) -> Resource:
    mid = rid[:2]
    return next(r for r in PATHWAY_MODULES[mid] if r.resource_id == rid).model_copy(
        update={"module_id": mid}
    )


pathway_snapshots = st.lists(
    st.tuples(
        st.sampled_from([r.resource_id for rs in PATHWAY_MODULES.values() for r in rs]),
        st.sampled_from(list(ResourceStatus)),
        st.integers(0, 60),
        st.one_of(st.none(), st.integers(0, 100)),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(history=pathway_snapshots, data=st.data())
def test_pathway_rollup_with_every_rule_in_any_order_equals_the_scratch_count(
    history: list[tuple[str, ResourceStatus, int, int | None, bool]], data: st.DataObject
) -> None:
    """Both levels: module recomputes and pathway recomputes interleaved in any order, with
    duplicates, each from the state of its moment; once the final state has been recomputed
    (module, then pathway, as the triggers chain), the pathway equals a from-scratch count."""
    resources = {mid: [_in(r.resource_id) for r in rs] for mid, rs in PATHWAY_MODULES.items()}
    modules = {
        mid: Module(
            module_id=mid,
            pathway_id="p1",
            title=mid,
            order=i,
            resource_ids=[r.resource_id for r in rs],
        )
        for i, (mid, rs) in enumerate(resources.items())
    }
    prefixes = []
    for i in range(len(history)):
        state: dict[str, ResourceProgress] = {}
        for rid, status, minutes, score, excused in history[: i + 1]:
            state[rid] = _doc(rid, status, minutes, score, excused).model_copy(
                update={"module_id": rid[:2]}
            )
        prefixes.append(state)
    totals = {mid: rules.count_module(rs, {})[1] for mid, rs in resources.items()}
    stored_modules: dict[str, ModuleProgress] = {}
    stored_path = None
    steps = data.draw(
        st.lists(
            st.tuples(st.sampled_from(["m1", "m2", "path"]), st.integers(0, len(prefixes) - 1)),
            max_size=40,
        )
    )
    final = len(prefixes) - 1
    for minute, (what, i) in enumerate([*steps, ("m1", final), ("m2", final), ("path", final)]):
        now = at(minute)
        if what == "path":
            fresh_path = rules.pathway_rollup(
                "p1", list(modules), stored_modules, totals, stored_path, now
            )
            stored_path = fresh_path or stored_path
        else:
            fresh = rules.module_rollup(
                modules[what], resources[what], prefixes[i], stored_modules.get(what), now
            )
            if fresh is not None:
                stored_modules[what] = fresh
    spec = {"m1-a": "man", "m1-b": "time", "m2-a": "quiz", "m2-b": "appr"}
    done_modules = done = total = 0
    for _mid, rs in resources.items():
        m_done = m_total = 0
        for r in rs:
            doc = prefixes[final].get(r.resource_id)
            if r.optional or (doc is not None and doc.excused):
                continue
            m_total += 1
            m_done += bool(doc is not None and _SPEC[spec[r.resource_id]](doc))
        done, total = done + m_done, total + m_total
        done_modules += m_done == m_total
    assert stored_path is not None
    assert (stored_path.completed_resources, stored_path.total_resources) == (done, total)
    assert (stored_path.completed_modules, stored_path.total_modules) == (done_modules, 2)
    assert (stored_path.completed_at is not None) == (done_modules == 2)
