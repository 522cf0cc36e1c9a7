"""Reconcile checks each learner's certificate link against their pathway progress (issue 13
remainders), through the certificate trigger's own rule and transaction
(``shared.services.certificates.settle``): a 100 % pathway without a live certificate gets one, a
live one below 100 % is revoked, counted in the run's tally; a dry run counts and writes nothing.
Against the fakes of the ports."""

from __future__ import annotations

from shared.domain.certificates import CertificateStatus
from shared.domain.models import ModuleProgress, PathwayProgress
from tests.unit.test_reconcile import FakeLearners, complete_learner, done, inline, one_pathway


def _links(store: FakeLearners) -> dict[tuple[str, str], CertificateStatus]:
    return {k: v.status for k, v in store.uow.state.certificate_links.items()}


def test_a_finished_learner_without_a_certificate_gets_one_and_a_second_run_finds_none() -> None:
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "carol")
    report = inline(catalog, store)
    assert report.tally.certificates.model_dump() == {
        "checked": 1,
        "drifted": 1,
        "repaired": 1,
        "written": 1,
    }
    assert _links(store) == {("carol", "p"): CertificateStatus.valid}
    [cert] = store.uow.state.certificates.values()
    assert (cert.uid, cert.pathway_id, cert.completed_at) == (
        "carol",
        "p",
        store.pathways["carol", "p"].completed_at,
    )
    again = inline(catalog, store, run_id="run-2")
    assert again.tally.certificates.model_dump() == {
        "checked": 1,
        "drifted": 0,
        "repaired": 0,
        "written": 0,
    }
    assert len(store.uow.state.certificates) == 1


def test_a_live_certificate_below_100_percent_is_revoked() -> None:
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "dan")
    inline(catalog, store)  # issued
    # a resource taken back while the certificate trigger was down: the rollups follow (the
    # triggers ran), the certificate did not
    del store.resources["dan", "m1-a"]
    store.modules["dan", "m1"] = ModuleProgress(
        module_id="m1", pathway_id="p", completed_resources=1, total_resources=2, percentage=50.0
    )
    store.pathways["dan", "p"] = PathwayProgress(
        pathway_id="p",
        completed_modules=1,
        total_modules=2,
        percentage=50.0,
        completed_resources=3,
        total_resources=4,
        resource_percentage=75.0,
    )
    report = inline(catalog, store, run_id="run-2")
    assert (report.tally.certificates.drifted, report.tally.certificates.written) == (1, 1)
    assert report.tally.drifted == 0  # the rollups were right: only the certificate drifted
    assert _links(store) == {("dan", "p"): CertificateStatus.revoked}
    [cert] = store.uow.state.certificates.values()
    assert cert.revoked_at is not None


def test_a_dry_run_counts_certificate_drift_against_the_recount_and_writes_nothing() -> None:
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "eve")
    # the pathway rollup drifted below 100 % although every resource is done
    store.pathways["eve", "p"] = store.pathways["eve", "p"].model_copy(
        update={"completed_modules": 1, "percentage": 50.0, "completed_at": None}
    )
    writes = store.writes
    report = inline(catalog, store, dry_run=True)
    assert report.tally.pathways.drifted == 1
    # decided against the 100 % the run would write, not the stored 50 %
    assert report.tally.certificates.model_dump() == {
        "checked": 1,
        "drifted": 1,
        "repaired": 0,
        "written": 0,
    }
    assert store.writes == writes
    assert store.uow.state.certificate_links == {}


def test_a_learner_without_a_pathway_rollup_is_not_checked() -> None:
    catalog, store = one_pathway(), FakeLearners()
    store.resources["fay", "m1-a"] = done("fay", "m1-a", "m1").model_copy(
        update={"status": "in_progress", "completed_at": None}
    )
    report = inline(catalog, store)
    assert report.tally.certificates.checked == 0


def test_a_rollup_the_run_rewrites_leaves_its_certificate_to_the_trigger_that_write_fires() -> None:
    """Two transactions settling one link at once only contend (the trigger fires on the
    rewritten rollup): the run does not check that one; the next run finds it settled or not."""
    catalog, store = one_pathway(), FakeLearners()
    complete_learner(store, catalog, "gus")
    store.pathways["gus", "p"] = store.pathways["gus", "p"].model_copy(
        update={"completed_modules": 1, "percentage": 50.0, "completed_at": None}
    )
    report = inline(catalog, store)
    assert report.tally.pathways.written == 1
    assert report.tally.certificates.checked == 0
    assert store.uow.state.certificate_links == {}
    # no trigger in these fakes: the next run finds the 100 % pathway without a certificate
    again = inline(catalog, store, run_id="run-2")
    assert (again.tally.certificates.checked, again.tally.certificates.written) == (1, 1)
