"""Due dates relative to a cohort's start (issue 13 item 4): the pure rule of shared/domain/due.py,
the catalog field, and the use cases that decide ``late`` with it (fakes of the ports)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from catalog.files import CatalogError, read_dir
from shared.domain import due
from shared.domain.cohorts import Cohort, Membership
from shared.domain.identity import Caller
from shared.domain.models import DueAfter, Resource, ResourceType
from shared.errors import NotFound
from shared.services import catalog as catalog_service
from shared.services import cohorts as cohort_service
from shared.services import progress as service
from tests.unit.fakes import FakeCatalog, FakeStore
from tests.unit.test_uploads_services import ALICE, BOB, PNG, World

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
ADMIN = Caller("root", admin=True)


def fixed(at: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: at


def res(**fields: object) -> Resource:
    base = {
        "resource_id": "r1",
        "pathway_id": "pe",
        "module_id": "pe-m1",
        "title": "R",
        "type": ResourceType.article,
        "order": 0,
    }
    return Resource.model_validate({**base, **fields})


def cohort(cid: str, starts_at: dt.datetime | None, pathways: tuple[str, ...] = ("pe",)) -> Cohort:
    return Cohort(cohort_id=cid, name=cid, pathway_ids=list(pathways), starts_at=starts_at)


# ---- the pure rule -----------------------------------------------------------------------------


def test_the_start_is_the_latest_of_the_learners_cohorts_that_have_the_pathway() -> None:
    cohorts = [
        cohort("early", T0),
        cohort("late", T0 + 7 * DAY),
        cohort("other-pathway", T0 + 30 * DAY, ("ig",)),
        cohort("no-start", None),
    ]
    assert due.cohort_start("pe", cohorts) == T0 + 7 * DAY  # the most lenient
    assert due.cohort_start("ig", cohorts) == T0 + 30 * DAY
    assert due.cohort_start("pe", [cohort("no-start", None)]) is None
    assert due.cohort_start("pe", []) is None


def test_a_due_time_is_the_absolute_one_else_the_start_plus_the_rule_else_none() -> None:
    relative = res(due_after={"days": 14, "hours": 6})
    assert due.due_time(relative, T0) == T0 + 14 * DAY + dt.timedelta(hours=6)
    assert due.due_time(relative, None) is None  # no start known: never late
    absolute = res(due_at=T0 + DAY)
    assert due.due_time(absolute, T0 + 99 * DAY) == T0 + DAY  # the same for every cohort
    assert due.due_time(res(), T0) is None
    assert (due.relative(relative), due.relative(absolute), due.relative(res())) == (
        True,
        False,
        False,
    )


def test_the_learners_resource_carries_their_due_time_and_keeps_the_models_rule() -> None:
    relative = res(due_after={"hours": 36})
    mine = due.for_learner(relative, T0)
    assert (mine.due_at, mine.due_after) == (T0 + dt.timedelta(hours=36), None)
    Resource.model_validate(mine.model_dump())  # still a valid resource
    assert relative.due_after == DueAfter(hours=36)  # the catalog's is untouched
    plain = res(due_at=T0)
    assert due.for_learner(plain, T0 + DAY) is plain


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"due_after": {"days": 0, "hours": 0}}, "more than 0"),
        ({"due_after": {}}, "more than 0"),
        ({"due_after": {"days": -1}}, "greater than or equal to 0"),
        ({"due_after": {"days": "3"}}, "valid integer"),
        ({"due_after": {"weeks": 2}}, "Extra inputs"),
        ({"due_at": T0, "due_after": {"days": 1}}, "not both"),
    ],
)
def test_a_bad_relative_rule_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        res(**fields)


# ---- the catalog file --------------------------------------------------------------------------

FILE = """\
pathway_id: demo
title: Demo
modules:
  - module_id: demo-m1
    title: One
    resources:
      - resource_id: demo-m1-article
        type: article
        title: Read
        due_after: {days: 14}
"""


def test_the_catalog_file_takes_due_after_and_names_file_line_and_field_when_wrong(
    tmp_path: Path,
) -> None:
    (tmp_path / "demo.yaml").write_text(FILE)
    (article,) = read_dir(tmp_path).resources
    assert article.due_after == DueAfter(days=14)
    (tmp_path / "demo.yaml").write_text(FILE.replace("{days: 14}", "{days: 14, minutes: 5}"))
    with pytest.raises(CatalogError) as caught:
        read_dir(tmp_path)
    assert any(
        "demo.yaml:10: modules[0].resources[0].due_after.minutes: Extra inputs" in p
        for p in caught.value.problems
    ), caught.value.problems
    both = FILE.replace(
        "        due_after", "        due_at: 2026-01-01T00:00:00Z\n        due_after"
    )
    (tmp_path / "demo.yaml").write_text(both)
    with pytest.raises(CatalogError, match=r"demo.yaml:7: modules\[0\].resources\[0\]: .*not both"):
        read_dir(tmp_path)


# ---- the use cases ----------------------------------------------------------------------------


@pytest.fixture
def catalog() -> FakeCatalog:
    c = FakeCatalog()
    c.add_pathway("pe", {"pe-m1": [("read", False, False), ("watch", False, False)]})
    c.res["read"] = Resource.model_validate(
        {**c.res["read"].model_dump(), "due_after": {"days": 7}}
    )
    return c


@pytest.fixture
def store() -> FakeStore:
    """u-early is in a cohort that started at T0, u-late in one that starts a week later, u-none
    in a cohort without a start; u-both is in both dated cohorts."""
    fake = FakeStore()
    fake.state.cohorts.update(
        {
            "early": cohort("early", T0),
            "later": cohort("later", T0 + 7 * DAY),
            "undated": cohort("undated", None),
        }
    )
    for uid, cids in (
        ("u-early", ["early"]),
        ("u-late", ["later"]),
        ("u-none", ["undated"]),
        ("u-both", ["early", "later"]),
    ):
        fake.state.memberships[uid] = Membership(uid=uid, cohort_ids=cids)
    return fake


def test_completing_at_the_same_moment_is_late_for_one_cohort_and_on_time_for_the_other(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    at = fixed(T0 + 10 * DAY)  # 3 days after the early cohort's due time, 4 before the later's
    late = {
        uid: service.complete(catalog, store, uid, "read", at).late
        for uid in ("u-early", "u-late", "u-none", "u-both")
    }
    assert late == {"u-early": True, "u-late": False, "u-none": False, "u-both": False}
    assert store.state.progress[("u-early", "read")].late
    # exactly at the due time is on time
    on_the_dot = service.complete(catalog, store, "u-x", "read", fixed(T0 + 7 * DAY))
    assert not on_the_dot.late  # u-x is in no cohort: no due time at all


def test_a_learner_sees_their_own_due_time_in_the_report_and_the_listing(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    def report_due(uid: str) -> dt.datetime | None:
        rep = service.report(catalog, store, uid, "pe", store)
        return {r.resource_id: r.due_at for r in rep.modules[0].resources}["read"]

    assert report_due("u-early") == T0 + 7 * DAY
    assert report_due("u-late") == T0 + 14 * DAY
    assert report_due("u-none") is None
    listing = catalog_service.list_pathway(catalog, store, "pe", "u-late", store)
    read = listing.modules[0].resources[0]
    assert (read.due_at, read.due_after) == (T0 + 14 * DAY, DueAfter(days=7))
    anonymous = catalog_service.list_pathway(catalog, store, "pe", None)
    assert anonymous.modules[0].resources[0].due_at is None
    assert anonymous.modules[0].resources[0].due_after == DueAfter(days=7)


def test_an_instructor_reads_a_learners_report_only_in_their_cohorts(
    catalog: FakeCatalog, store: FakeStore
) -> None:
    store.state.memberships["u-late"] = Membership(
        uid="u-late", cohort_ids=["later"], instructor_uids=["teacher"]
    )
    teacher = Caller("teacher", instructor=True)
    rep = service.learner_report(teacher, catalog, store, store, "u-late", "pe")
    assert rep.modules[0].resources[0].due_at == T0 + 14 * DAY
    with pytest.raises(NotFound):
        service.learner_report(teacher, catalog, store, store, "u-early", "pe")
    with pytest.raises(NotFound):
        service.learner_report(Caller("u-late"), catalog, store, store, "u-late", "pe")


def test_an_upload_is_late_against_the_learners_cohort_start_in_progress_and_queue() -> None:
    w = World()
    ruled = Resource.model_validate(
        {**w.store.catalog_resources["ex"].model_dump(), "due_after": {"hours": 1}}
    )
    w.store.catalog_resources["ex"] = w.catalog.res["ex"] = ruled
    start = w.now()
    w.store.state.cohorts["c1"] = cohort("c1", start, ("image-generation",))
    w.store.state.cohorts["c2"] = cohort("c2", start + DAY, ("image-generation",))
    w.store.state.memberships["bob"] = w.store.state.memberships["bob"].model_copy(
        update={"cohort_ids": ["c2"]}
    )
    w.tick(hours=2)  # after alice's due time (c1), before bob's (c2)
    for me in (ALICE, BOB):
        w.record(w.upload(w.issue(me), PNG))
    assert w.progress("alice").late
    assert not w.progress("bob").late
    items = {i.user_id: i for i in w.queue().submissions}
    assert (items["alice"].late, items["alice"].due_at) == (True, start + dt.timedelta(hours=1))
    assert (items["bob"].late, items["bob"].due_at) == (False, start + DAY + dt.timedelta(hours=1))


def test_an_admin_sets_and_clears_a_cohort_start_and_create_is_idempotent_with_it() -> None:
    store = FakeStore()
    catalog = FakeCatalog()
    catalog.add_pathway("pe", {"pe-m1": [("read", False, False)]})
    req = cohort_service.CreateCohort(cohort_id="c9", name="C9", pathway_ids=["pe"], starts_at=T0)
    view, created = cohort_service.create_cohort(ADMIN, req, store=store, catalog=catalog)
    assert (created, view.starts_at) == (True, T0)
    again, created = cohort_service.create_cohort(ADMIN, req, store=store, catalog=catalog)
    assert (created, again.starts_at) == (False, T0)
    later = T0.astimezone(dt.timezone(dt.timedelta(hours=2))) + DAY  # another offset, stored UTC
    change = cohort_service.set_start(
        ADMIN, "c9", cohort_service.SetStart(starts_at=later), store=store
    )
    assert change.changed
    assert store.state.cohorts["c9"].starts_at == T0 + DAY
    same = cohort_service.set_start(
        ADMIN, "c9", cohort_service.SetStart(starts_at=T0 + DAY), store=store
    )
    assert not same.changed
    cleared = cohort_service.set_start(
        ADMIN, "c9", cohort_service.SetStart(starts_at=None), store=store
    )
    assert cleared.changed
    assert store.state.cohorts["c9"].starts_at is None
    with pytest.raises(NotFound):
        cohort_service.set_start(ADMIN, "nope", cohort_service.SetStart(starts_at=T0), store=store)
    with pytest.raises(ValidationError, match="timezone"):
        cohort_service.SetStart.model_validate({"starts_at": "2026-01-01T00:00:00"})
