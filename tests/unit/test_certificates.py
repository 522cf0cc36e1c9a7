"""Certificates: the pure issuance / revocation rule, and the use cases over the fakes (no I/O)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.certificates import (
    CertificateLink,
    CertificateStatus,
    decide,
    is_complete,
    new_certificate_id,
)
from shared.domain.models import LearnerProfile, PathwayProgress, valid_id
from shared.errors import NotFound, Unavailable
from shared.services import certificates as service
from tests.unit.fakes import T0, FakeCatalog, FakeStore

PID = "pw"
UID = "alice"


def done(at: dt.datetime = T0) -> PathwayProgress:
    return PathwayProgress(
        pathway_id=PID, completed_modules=2, total_modules=2, percentage=100.0, completed_at=at
    )


def half() -> PathwayProgress:
    return PathwayProgress(pathway_id=PID, completed_modules=1, total_modules=2, percentage=50.0)


def ids() -> itertools.count[int]:
    return itertools.count(1)


def _decide(progress: PathwayProgress | None, link: CertificateLink | None, cert=None, n=1):  # type: ignore[no-untyped-def]
    return decide(
        UID,
        PID,
        progress,
        link,
        cert,
        pathway_title="Pathway",
        display_name="Alice",
        new_id=f"cert{n}",
        now=T0 + dt.timedelta(hours=n),
    )


# ---- the pure rule ---------------------------------------------------------------------------


def test_ids_are_unguessable_and_valid_ids() -> None:
    made = {new_certificate_id() for _ in range(500)}
    assert len(made) == 500
    assert all(valid_id(i) and len(i) >= 22 for i in made)


def test_a_complete_pathway_without_a_certificate_gets_one() -> None:
    d = _decide(done(), None)
    assert d.issued is not None
    assert d.revoked is None
    assert d.issued.certificate_id == "cert1"
    assert (d.issued.display_name, d.issued.pathway_title) == ("Alice", "Pathway")
    assert d.issued.completed_at == T0
    assert d.link is not None
    assert d.link.certificate_id == "cert1"
    assert d.link.previous_ids == []


def test_an_incomplete_pathway_without_a_certificate_writes_nothing() -> None:
    assert not _decide(half(), None).changed
    assert not _decide(None, None).changed
    # 100 % without completed_at (never written by the rules) is not a completion
    assert not is_complete(done().model_copy(update={"completed_at": None}))


def test_the_same_completion_seen_again_writes_nothing() -> None:
    first = _decide(done(), None)
    assert first.link is not None
    assert first.issued is not None
    assert not _decide(done(), first.link, first.issued, n=2).changed


def test_dropping_below_100_revokes_the_live_certificate() -> None:
    first = _decide(done(), None)
    assert first.link is not None
    d = _decide(half(), first.link, first.issued, n=2)
    assert d.revoked is not None
    assert d.issued is None
    assert d.revoked.certificate_id == "cert1"
    assert d.revoked.status == CertificateStatus.revoked
    assert d.link is not None
    assert d.link.revoked_at == d.revoked.revoked_at
    # revoked already: a duplicate of the drop writes nothing
    assert not _decide(half(), d.link, d.revoked, n=3).changed
    # the progress document deleted: revoked too
    assert _decide(None, first.link, first.issued, n=2).revoked is not None


def test_completing_again_issues_a_new_certificate_and_keeps_the_old_one_revoked() -> None:
    first = _decide(done(), None)
    assert first.link is not None
    dropped = _decide(half(), first.link, first.issued, n=2)
    assert dropped.link is not None
    again = _decide(done(T0 + dt.timedelta(days=1)), dropped.link, dropped.revoked, n=3)
    assert again.issued is not None
    assert again.issued.certificate_id == "cert3"
    assert again.revoked is None  # it was revoked before; not written again
    assert again.link is not None
    assert again.link.previous_ids == ["cert1"]
    assert again.link.revoked_at is None


def test_a_completion_redone_between_two_deliveries_replaces_the_certificate() -> None:
    first = _decide(done(), None)
    assert first.link is not None
    later = done(T0 + dt.timedelta(days=2))  # the drop and the new completion were never seen
    d = _decide(later, first.link, first.issued, n=2)
    assert d.revoked is not None
    assert d.revoked.certificate_id == "cert1"
    assert d.issued is not None
    assert d.issued.completed_at == later.completed_at
    assert d.link is not None
    assert d.link.certificate_id == "cert2"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["done1", "done2", "half", "none"]), min_size=1, max_size=12))
def test_any_history_leaves_one_live_certificate_exactly_while_complete(steps: list[str]) -> None:
    """Property: whatever order and repetition of states the trigger sees (duplicates and late
    events read the same stored state twice), at most one certificate is live, it names the
    current completion, and every earlier one is revoked."""
    store, catalog = FakeStore(), FakeCatalog()
    catalog.add_pathway(PID, {"m1": [("r1", False, False)]})
    counter = itertools.count(1)
    states = {
        "done1": done(),
        "done2": done(T0 + dt.timedelta(days=3)),
        "half": half(),
    }
    for step in steps:
        progress = states.get(step)
        if progress is None:
            store.state.pathways.pop((UID, PID), None)
        else:
            store.state.pathways[(UID, PID)] = progress
        for _ in range(2):  # each state delivered twice
            service.settle(store, catalog, UID, PID, new_id=lambda: f"c{next(counter)}")
        live = [c for c in store.state.certificates.values() if c.revoked_at is None]
        current = store.state.pathways.get((UID, PID))
        if is_complete(current):
            assert current is not None
            assert len(live) == 1
            assert live[0].completed_at == current.completed_at
            link = store.state.certificate_links[(UID, PID)]
            assert link.certificate_id == live[0].certificate_id
            assert link.revoked_at is None
        else:
            assert live == []


# ---- the use cases over the fakes --------------------------------------------------------------


def test_settle_copies_the_profile_name_and_catalog_title_in_one_transaction() -> None:
    store, catalog = FakeStore(), FakeCatalog()
    catalog.add_pathway(PID, {"m1": [("r1", False, False)]})
    store.state.pathways[(UID, PID)] = done()
    store.state.profiles[UID] = LearnerProfile(user_id=UID, display_name="Alice Doe")
    d = service.settle(store, catalog, UID, PID, new_id=lambda: "cid1")
    assert d.issued is not None
    cert = store.state.certificates["cid1"]
    assert (cert.display_name, cert.pathway_title, cert.uid) == ("Alice Doe", "Pw", UID)
    assert store.locks == [f"users/{UID}/certificates/{PID}"]
    assert store.state.written == ["certificates/cid1", f"users/{UID}/certificates/{PID}"]


def test_verification_reads_one_document_and_remembers_unknown_ids() -> None:
    store = FakeStore()
    store.state.pathways[(UID, PID)] = done()
    catalog = FakeCatalog()
    service.settle(store, catalog, UID, PID, new_id=lambda: "cid1")
    misses = service.Misses()
    reply = service.verification(store, "cid1", "https://web.example", misses)
    assert reply.valid
    assert reply.status == CertificateStatus.valid
    assert reply.verify_url == "https://web.example/#/verify/cid1"
    assert "uid" not in reply.model_dump()
    assert reply.name is None
    reads = store.key_reads
    for _ in range(3):
        with pytest.raises(NotFound):
            service.verification(store, "made-up", "b", misses)
    assert store.key_reads == reads + 1  # one read, then the miss is remembered
    with pytest.raises(NotFound):
        service.verification(store, "../x", "b", misses)
    assert store.key_reads == reads + 1


def test_pdf_rendering_is_bounded_and_cached_by_status() -> None:
    store = FakeStore()
    store.state.pathways[(UID, PID)] = done()
    service.settle(store, FakeCatalog(), UID, PID, new_id=lambda: "cid1")
    pdfs = service.Pdfs(renders=1, size=4, wait=0.05)
    inside, release = threading.Event(), threading.Event()

    def slow(cert):  # type: ignore[no-untyped-def]
        inside.set()
        release.wait(5)
        return f"pdf {cert.status.value}".encode()

    worker = threading.Thread(target=lambda: service.pdf(store, "cid1", "b", slow, pdfs))
    worker.start()
    assert inside.wait(5)
    with pytest.raises(Unavailable):  # the one slot stays busy past the wait: 503, not a queue
        service.pdf(store, "cid1", "b", lambda c: b"other", pdfs)
    release.set()
    worker.join(5)
    assert service.pdf(store, "cid1", "b", lambda c: b"never", pdfs) == b"pdf valid"
    assert pdfs.rendered == 1
    store.state.pathways[(UID, PID)] = half()
    service.settle(store, FakeCatalog(), UID, PID)
    assert service.pdf(store, "cid1", "b", lambda c: b"revoked", pdfs) == b"revoked"


def test_mine_lists_the_learners_links_newest_first() -> None:
    store, catalog = FakeStore(), FakeCatalog()
    for n, pid in enumerate(["p1", "p2"]):
        store.state.pathways[(UID, pid)] = done().model_copy(update={"pathway_id": pid})
        service.settle(
            store,
            catalog,
            UID,
            pid,
            new_id=lambda pid=pid: f"c-{pid}",
            clock=lambda n=n: T0 + dt.timedelta(hours=n),
        )
    store.state.pathways[("bob", "p1")] = done().model_copy(update={"pathway_id": "p1"})
    service.settle(store, catalog, "bob", "p1", new_id=lambda: "c-bob")
    listed = service.mine(store, UID, "https://w")
    assert [c.certificate_id for c in listed.certificates] == ["c-p2", "c-p1"]
    assert listed.certificates[0].verify_url == "https://w/#/verify/c-p2"
