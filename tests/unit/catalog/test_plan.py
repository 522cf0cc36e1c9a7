"""``catalog.plan``: the pure difference between the authored catalog and the stored one."""

from __future__ import annotations

import datetime as dt

from catalog.plan import Catalog, Plan, plan
from shared.domain.models import ChangePolicy, Module, Pathway, Resource, ResourceType


def res(rid: str, mid: str, order: int, pid: str = "p", **kw: object) -> Resource:
    return Resource.model_validate(
        {
            "resource_id": rid,
            "pathway_id": pid,
            "module_id": mid,
            "title": rid,
            "type": ResourceType.video,
            "order": order,
            **kw,
        }
    )


def course(
    modules: dict[str, list[str]], pid: str = "p", **resource_fields: dict[str, object]
) -> Catalog:
    """A pathway of ``modules`` (id -> resource ids, in order)."""
    mods = [
        Module(module_id=mid, pathway_id=pid, title=mid, order=i, resource_ids=rids)
        for i, (mid, rids) in enumerate(modules.items())
    ]
    resources = [
        res(rid, mid, i, pid, **resource_fields.get(rid, {}))
        for mid, rids in modules.items()
        for i, rid in enumerate(rids)
    ]
    return Catalog([Pathway(pathway_id=pid, title=pid, module_ids=list(modules))], mods, resources)


def applied(p: Plan, stored: Catalog) -> Catalog:
    """What Firestore holds after the plan is written (as the store writes it)."""
    docs = {path: doc for path, doc in stored.documents()}
    docs.update(dict(p.writes))
    for path in p.deletes:
        docs.pop(path)
    return Catalog(
        [d for d in docs.values() if isinstance(d, Pathway)],
        [d for d in docs.values() if isinstance(d, Module)],
        [d for d in docs.values() if isinstance(d, Resource)],
    )


def kinds(p: Plan) -> set[tuple[str, str, str, bool]]:
    return {(c.level, c.kind, c.id, c.counts) for c in p.changes}


def doc(c: Catalog, path: str) -> object:
    return dict(c.documents())[path]


BASE = {"m1": ["a", "b"], "m2": ["c"]}


def test_a_new_catalog_is_all_added_and_a_second_plan_writes_nothing() -> None:
    first = plan(course(BASE), Catalog([], [], []))
    assert len(first.writes) == 1 + 2 + 3
    assert not first.deletes
    assert ("resource", "added", "a", True) in kinds(first)
    stored = applied(first, Catalog([], [], []))
    again = plan(course(BASE), stored)
    assert again.empty
    assert again.changes == []
    assert again.runs == {}


def test_adding_a_resource_counts_bumps_module_and_pathway_and_reevaluates_the_pathway() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    p = plan(course({"m1": ["a", "b", "new"], "m2": ["c"]}), stored)
    assert kinds(p) == {("resource", "added", "new", True)}
    assert p.changes[0].module_ids == ("m1",)
    after = applied(p, stored)
    m1, m2, path = doc(after, "modules/m1"), doc(after, "modules/m2"), doc(after, "pathways/p")
    assert isinstance(m1, Module)
    assert isinstance(m2, Module)
    assert isinstance(path, Pathway)
    assert (m1.content_version, m2.content_version, path.content_version) == (2, 1, 2)
    new = doc(after, "resources/new")
    assert isinstance(new, Resource)
    assert new.counts_since_version == 2
    assert p.runs == {"p": []}


def test_a_display_edit_bumps_the_content_version_but_reevaluates_nobody() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    p = plan(course(BASE, a={"title": "A better title", "url": "https://x"}), stored)
    assert kinds(p) == {("resource", "changed", "a", False)}
    assert p.runs == {}
    a = doc(applied(p, stored), "resources/a")
    assert isinstance(a, Resource)
    assert (a.content_version, a.counts_since_version) == (2, 1)


def test_making_a_resource_optional_alters_what_counts() -> None:
    stored = applied(
        plan(
            course(BASE),
            Catalog([], [], []),
        ),
        Catalog([], [], []),
    )
    p = plan(course(BASE, b={"optional": True}), stored)
    assert kinds(p) == {("resource", "changed", "b", True)}
    assert p.runs == {"p": []}


def test_reordering_is_reported_and_moves_no_numbers() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    p = plan(course({"m1": ["b", "a"], "m2": ["c"]}), stored)
    assert kinds(p) == {
        ("resource", "reordered", "a", False),
        ("resource", "reordered", "b", False),
    }
    assert p.runs == {}
    a = doc(applied(p, stored), "resources/a")
    assert isinstance(a, Resource)
    assert a.content_version == 1


def test_a_move_between_modules_is_one_move_not_a_removal_and_an_addition() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    p = plan(course({"m1": ["a"], "m2": ["c", "b"]}), stored)
    assert ("resource", "moved", "b", True) in kinds(p)
    assert not any(c.kind in ("added", "removed") for c in p.changes)
    moved = next(c for c in p.changes if c.kind == "moved")
    assert moved.module_ids == ("m1", "m2")
    assert not p.deletes
    b = doc(applied(p, stored), "resources/b")
    assert isinstance(b, Resource)
    assert (b.module_id, b.order) == ("m2", 1)


def test_a_move_to_another_pathway_scans_the_old_pathways_learners_and_recounts_both() -> None:
    one = course(BASE)
    two = course({"q1": ["x"]}, pid="q")
    both = Catalog(
        one.pathways + two.pathways, one.modules + two.modules, one.resources + two.resources
    )
    stored = applied(plan(both, Catalog([], [], [])), Catalog([], [], []))
    one2 = course({"m1": ["a"], "m2": ["c"]})
    two2 = course({"q1": ["x", "b"]}, pid="q")
    desired = Catalog(
        one2.pathways + two2.pathways, one2.modules + two2.modules, one2.resources + two2.resources
    )
    p = plan(desired, stored)
    assert ("resource", "moved", "b", True) in kinds(p)
    assert p.runs == {"p": ["q"], "q": []}


def test_adding_and_removing_a_module_counts_for_the_pathway() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    p = plan(course({**BASE, "m3": ["d"]}), stored)
    assert ("module", "added", "m3", True) in kinds(p)
    added = next(c for c in p.changes if c.id == "m3")
    assert added.pathway_ids == ("p",)
    after = applied(p, stored)
    m3, path = doc(after, "modules/m3"), doc(after, "pathways/p")
    assert isinstance(m3, Module)
    assert isinstance(path, Pathway)
    assert m3.counts_since_version == path.content_version == 2
    back = plan(course(BASE), after)
    assert ("module", "removed", "m3", True) in kinds(back)
    assert set(back.deletes) == {"modules/m3", "resources/d"}


def test_pathways_the_files_do_not_name_are_left_alone_unless_pruned() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    other = course({"q1": ["x"]}, pid="q")
    p = plan(other, stored)
    assert p.unmanaged == ["p"]
    assert not any(
        path.startswith(("pathways/p", "modules/m", "resources/a")) for path in p.deletes
    )
    pruned = plan(other, stored, prune=True, now=RETIRED)
    assert pruned.deletes == []  # retired, never deleted (below)
    assert ("pathway", "retired", "p", True) in kinds(pruned)


RETIRED = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_prune_retires_an_unnamed_pathway_keeps_its_modules_and_reevaluates_its_learners() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    stored = applied(plan(course({"q1": ["x"]}, pid="q"), stored), stored)
    only_q = course({"q1": ["x"]}, pid="q")
    p = plan(only_q, stored, prune=True, now=RETIRED)
    [retired] = [c for c in p.changes if c.kind == "retired"]
    assert (retired.level, retired.id, retired.counts, retired.pathway_ids) == (
        "pathway",
        "p",
        True,
        ("p",),  # plan --prune counts the learners with a pathway rollup of it
    )
    assert [c.kind for c in p.changes] == ["retired"]  # its modules and resources: untouched
    assert p.deletes == []
    assert [path for path, _ in p.writes] == ["pathways/p"]
    assert p.runs == {"p": []}  # one run over its learners marks their rollups
    after = applied(p, stored)
    path = doc(after, "pathways/p")
    assert isinstance(path, Pathway)
    assert path.retired_at == RETIRED
    assert path.content_version == doc(stored, "pathways/p").content_version  # type: ignore[attr-defined]
    assert {m.module_id for m in after.modules} == {"m1", "m2", "q1"}
    # applying again: nothing (a retired pathway is neither retired again nor listed unmanaged)
    again = plan(only_q, after, prune=True, now=RETIRED + dt.timedelta(days=1))
    assert again.empty
    assert (again.changes, again.unmanaged) == ([], [])
    assert plan(only_q, after).unmanaged == []


def test_prune_only_retires_just_the_named_pathways() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    stored = applied(plan(course({"r1": ["y"]}, pid="r"), stored), stored)
    only_q = course({"q1": ["x"]}, pid="q")
    p = plan(only_q, stored, prune=True, prune_only=["r"], now=RETIRED)
    assert [(c.kind, c.id) for c in p.changes if c.level == "pathway"] == [
        ("added", "q"),
        ("retired", "r"),
    ]
    assert p.unmanaged == ["p"]


def test_a_retired_pathway_named_again_is_restored_and_reevaluated() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    retired = applied(plan(Catalog([], [], []), stored, prune=True, now=RETIRED), stored)
    back = plan(course(BASE), retired)
    assert kinds(back) == {("pathway", "restored", "p", True)}
    assert back.runs == {"p": []}
    path = doc(applied(back, retired), "pathways/p")
    assert isinstance(path, Pathway)
    assert path.retired_at is None


def test_removals_inside_a_pathway_that_stays_are_removed_and_reevaluated_under_prune() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    smaller = course({"m1": ["a"]})
    p = plan(smaller, stored, prune=True, now=RETIRED)
    assert ("resource", "removed", "b", True) in kinds(p)
    assert ("module", "removed", "m2", True) in kinds(p)
    assert set(p.deletes) == {"resources/b", "resources/c", "modules/m2"}
    assert p.runs == {"p": []}


def test_the_change_policy_is_copied_to_the_modules_and_moves_no_numbers() -> None:
    stored = applied(plan(course(BASE), Catalog([], [], [])), Catalog([], [], []))
    desired = course(BASE)
    desired = Catalog(
        [desired.pathways[0].model_copy(update={"change_policy": ChangePolicy.keep_completed})],
        [
            m.model_copy(update={"change_policy": ChangePolicy.keep_completed})
            for m in desired.modules
        ],
        desired.resources,
    )
    p = plan(desired, stored)
    assert p.runs == {}
    assert {c.counts for c in p.changes} == {False}


def test_a_changed_due_date_is_written_but_moves_no_count_and_reruns_nothing() -> None:
    stored = course(BASE, a={"due_at": "2026-09-01T09:00:00Z"})
    wanted = course(BASE, a={"due_after": {"days": 14}})
    p = plan(wanted, stored)
    assert kinds(p) == {("resource", "changed", "a", False)}
    assert p.runs == {}
    stored_a = doc(applied(p, stored), "resources/a")
    assert isinstance(stored_a, Resource)
    assert stored_a.due_after is not None
    assert stored_a.due_after.days == 14
    # and a counting field changed with it still counts
    wanted = course(BASE, a={"due_after": {"days": 14}, "optional": True})
    assert ("resource", "changed", "a", True) in kinds(plan(wanted, stored))
