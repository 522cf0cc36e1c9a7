"""A pathway retired by ``catalog apply --prune`` (issue 13 remainders): the re-evaluation run and
the triggers mark every learner's pathway rollup retired and change no number; nothing a learner
did is deleted; the report and the listing say the pathway is retired. Against the fakes."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.domain import catalog_change as change
from shared.domain.models import PathwayProgress, ResourceStatus
from shared.domain.progress import ProgressUpdate
from shared.errors import PathwayRetired
from shared.services import catalog as catalog_service
from shared.services import progress as service
from tests.unit.fakes import FakeStore
from tests.unit.test_reconcile import FakeLearners, complete_learner, done, inline, one_pathway

RETIRED = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def test_the_run_a_prune_starts_marks_each_learners_rollup_and_changes_no_number() -> None:
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "carol")
    store.resources["dan", "m1-a"] = done("dan", "m1-a", "m1")
    inline(catalog, store)  # dan's rollups counted from his one resource
    before = {k: v.model_dump(exclude={"updated_at"}) for k, v in store.pathways.items()}
    resources = dict(store.resources)
    catalog.paths["p"] = catalog.paths["p"].model_copy(update={"retired_at": RETIRED})

    report = inline(catalog, store, run_id="catalog-v2-p", pathway_id="p")
    assert report.tally.pathways.drifted == report.tally.pathways.written == 2
    assert report.tally.modules.drifted == report.tally.statuses.drifted == 0
    for key, was in before.items():
        now = store.pathways[key]
        assert now.retired_at == RETIRED
        assert now.model_dump(exclude={"updated_at", "retired_at"}) == {
            k: v for k, v in was.items() if k != "retired_at"
        }
    assert store.resources == resources  # nothing a learner did is touched
    assert store.pathways["carol", "p"].completed_at is not None  # the certificate's input stays
    assert inline(catalog, store, run_id="again", pathway_id="p").tally.drifted == 0


def test_a_rollup_counted_after_the_retirement_carries_the_mark_and_a_restore_lifts_it() -> None:
    catalog = one_pathway()
    path = catalog.paths["p"].model_copy(update={"retired_at": RETIRED})
    current = PathwayProgress(pathway_id="p", total_modules=2, percentage=0.0)
    marked = change.pathway_rollup(path, catalog.mods, {}, {"m1": 2, "m2": 2}, current, LATER)
    assert marked is not None
    assert (marked.retired_at, marked.completed_modules, marked.total_modules) == (RETIRED, 0, 2)
    restored = path.model_copy(update={"retired_at": None})
    lifted = change.pathway_rollup(restored, catalog.mods, {}, {"m1": 2, "m2": 2}, marked, LATER)
    assert lifted is not None
    assert lifted.retired_at is None


def test_the_report_and_the_listing_say_the_pathway_is_retired() -> None:
    catalog = one_pathway()
    store = FakeStore(list(catalog.res.values()))
    service.complete(catalog, store, "u1", "m1-a")
    assert service.report(catalog, store, "u1", "p").retired_at is None
    catalog.paths["p"] = catalog.paths["p"].model_copy(update={"retired_at": RETIRED})
    report = service.report(catalog, store, "u1", "p")
    assert report.retired_at == RETIRED
    [row] = [r for m in report.modules for r in m.resources if r.resource_id == "m1-a"]
    assert row.status == ResourceStatus.completed  # the record stays legible
    listing = catalog_service.list_pathway(catalog, store, "p", "u1")
    assert listing.retired_at == RETIRED


def test_a_retired_pathway_takes_no_new_work_and_its_record_stands() -> None:
    """Start, time, completion and undo on a retired pathway's resource: 409 pathway_retired, and
    nothing written; the pathway restored, they work again."""
    catalog = one_pathway()
    store = FakeStore(list(catalog.res.values()))
    service.complete(catalog, store, "u1", "m1-a")
    written = list(store.state.written)
    catalog.paths["p"] = catalog.paths["p"].model_copy(update={"retired_at": RETIRED})
    actions = {
        "start": lambda rid: service.start(catalog, store, "u1", rid),
        "complete": lambda rid: service.complete(catalog, store, "u1", rid),
        "uncomplete": lambda rid: service.uncomplete(catalog, store, "u1", rid),
        "time": lambda rid: service.update(
            catalog, store, "u1", rid, ProgressUpdate(progress_percentage=50, time_spent_minutes=5)
        ),
    }
    for name, act in actions.items():
        for rid in ("m1-a", "m1-b"):
            with pytest.raises(PathwayRetired) as refused:
                act(rid)
            assert refused.value.status == 409, name
            assert "retired" in refused.value.message
    assert store.state.written == written  # nothing written
    report = service.report(catalog, store, "u1", "p")
    [row] = [r for m in report.modules for r in m.resources if r.resource_id == "m1-a"]
    assert row.status == ResourceStatus.completed
    catalog.paths["p"] = catalog.paths["p"].model_copy(update={"retired_at": None})
    assert service.complete(catalog, store, "u1", "m1-b").status == ResourceStatus.completed
