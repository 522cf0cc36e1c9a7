"""Certificates of completion: issuance and revocation (the trigger on ``pathway_progress``), the
public verification, the PDF and the learner's list. The rule is in
:mod:`shared.domain.certificates`.

Issuance runs in the trigger ``on_pathway_progress_written`` (``users/{uid}/pathway_progress/{pid}``,
written by the pathway rollup only when it changed), not inside the rollup's own transaction: the
rollup stays as lean as it is (it runs on every module change of every learner), a certificate
problem (a profile or catalog read failing) never holds back progress, and the trigger has its own
retries and budget. Like the rollups it never trusts the event's payload: one transaction reads the
pathway's progress, the link ``users/{uid}/certificates/{pid}``, the certificate it names and the
profile (all by key), decides, and writes the certificate(s) and the link together. So a duplicate
delivery decides "nothing", an old delivery arriving late decides from today's progress, and two
deliveries racing are serialised by the transaction (the loser runs again and sees the winner's
link): exactly one live certificate per (learner, pathway).

The public routes' cost is bounded: a verification or PDF reads one document by key (an unknown id
is remembered for a minute per process, so a flood of made-up ids reads nothing more); replies
carry ``Cache-Control: s-maxage`` so Hosting's CDN answers repeats; a process renders at most
:data:`MAX_RENDERS` PDFs at once (a request waits up to :data:`RENDER_WAIT` s for a slot, then
503 with ``Retry-After``) and keeps the last
:data:`PDF_CACHE` rendered ones (keyed by id and status, so a revocation renders anew).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from shared import log
from shared.domain.certificates import (
    Certificate,
    CertificateLink,
    CertificateStatus,
    CertificateVerification,
    Decision,
    MyCertificate,
    MyCertificates,
    decide,
    new_certificate_id,
)
from shared.domain.models import PathwayProgress, valid_id
from shared.errors import NotFound, Unavailable, UnusableEvent
from shared.events import DocumentChange
from shared.services.ports import CatalogReader, CertificateStore, Tx, UnitOfWork

Clock = Callable[[], dt.datetime]
Renderer = Callable[[CertificateVerification], bytes]

MAX_RENDERS = 2  # PDFs rendered at once per process
RENDER_WAIT = 2.0  # seconds a request waits for a free rendering slot before its 503
PDF_CACHE = 128  # rendered PDFs kept per process
MISS_SECONDS = 60.0  # how long a process remembers an unknown id
MAX_MISSES = 10_000
MAX_LISTED = 100  # certificates listed per learner (one per pathway)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def lock(uid: str, pathway_id: str) -> str:
    return f"users/{uid}/certificates/{pathway_id}"


# ---- issuance and revocation (the trigger) ---------------------------------------------------


def owned_pathway_progress(change: DocumentChange) -> tuple[str, str]:
    """``(uid, pathway_id)`` of a ``users/{uid}/pathway_progress/{pid}`` change; else
    :class:`UnusableEvent`. Pure: the trigger asks before any client exists."""
    seg = change.segments
    if len(seg) != 4 or seg[0] != "users" or seg[2] != "pathway_progress":
        raise UnusableEvent(f"not a pathway_progress document: {change.path}")
    uid, pathway_id = seg[1], seg[3]
    if not valid_id(uid) or not valid_id(pathway_id):
        raise UnusableEvent(f"unexpected ids in {change.path}")
    return uid, pathway_id


def settle(
    store: UnitOfWork,
    catalog: CatalogReader,
    uid: str,
    pathway_id: str,
    *,
    new_id: Callable[[], str] = new_certificate_id,
    clock: Clock = utcnow,
    dry_run: bool = False,
    assume: PathwayProgress | None = None,
) -> Decision:
    """In one transaction: bring the (learner, pathway) certificate in line with the stored
    pathway progress. Returns what was written (``Decision()``: nothing).

    Reconcile runs this same rule over every learner it checks: ``dry_run`` decides and writes
    nothing (what would be written), deciding against ``assume`` when given (the pathway progress
    a dry run would have repaired) instead of the stored one."""
    path = catalog.pathways([pathway_id]).get(pathway_id)

    def work(tx: Tx) -> Decision:
        progress = tx.pathway_progress(uid, pathway_id)
        if assume is not None:
            progress = assume
        link = tx.certificate_link(uid, pathway_id)
        current = tx.certificate(link.certificate_id) if link is not None else None
        profile = tx.learner_profile(uid)
        title = path.title if path else (link.pathway_title if link else pathway_id)
        decision = decide(
            uid,
            pathway_id,
            progress,
            link,
            current,
            pathway_title=title,
            display_name=profile.display_name if profile else None,
            new_id=new_id(),
            now=clock(),
        )
        if dry_run:
            return decision
        for cert in decision.certificates:
            tx.put_certificate(cert)
        if decision.link is not None:
            tx.put_certificate_link(uid, decision.link)
        return decision

    return store.transact(work, lock=lock(uid, pathway_id))


def pathway_progress_written(
    change: DocumentChange,
    catalog: CatalogReader,
    store: CertificateStore,
    *,
    new_id: Callable[[], str] = new_certificate_id,
    clock: Clock = utcnow,
) -> Decision:
    uid, pathway_id = owned_pathway_progress(change)
    decision = settle(store, catalog, uid, pathway_id, new_id=new_id, clock=clock)
    issued, revoked = decision.issued, decision.revoked
    log.info(
        "certificate settled",
        event_id=change.meta.id,
        uid=uid,
        pathway_id=pathway_id,
        changed=decision.changed,
        issued=issued.certificate_id if issued else None,
        revoked=revoked.certificate_id if revoked else None,
    )
    return decision


# ---- the public verification and the PDF -----------------------------------------------------


def verify_url(base: str, certificate_id: str) -> str:
    """The public page that verifies a certificate (the web page's ``#/verify/{id}``)."""
    return f"{base.rstrip('/')}/#/verify/{certificate_id}"


def view(cert: Certificate, base: str) -> CertificateVerification:
    return CertificateVerification(
        certificate_id=cert.certificate_id,
        status=cert.status,
        valid=cert.status == CertificateStatus.valid and cert.revoked_at is None,
        name=cert.display_name,
        pathway_id=cert.pathway_id,
        pathway_title=cert.pathway_title,
        completed_at=cert.completed_at,
        issued_at=cert.issued_at,
        revoked_at=cert.revoked_at,
        verify_url=verify_url(base, cert.certificate_id),
    )


class Misses:
    """Ids recently found unknown, per process (bounded; forgotten after ``ttl`` seconds)."""

    def __init__(self, ttl: float = MISS_SECONDS, size: int = MAX_MISSES) -> None:
        self.ttl, self.size = ttl, size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def known_missing(self, key: str) -> bool:
        with self._lock:
            at = self._seen.get(key)
            if at is None:
                return False
            if time.monotonic() - at > self.ttl:
                del self._seen[key]
                return False
            return True

    def add(self, key: str) -> None:
        with self._lock:
            self._seen[key] = time.monotonic()
            self._seen.move_to_end(key)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


_misses = Misses()


def find(store: CertificateStore, certificate_id: str, misses: Misses = _misses) -> Certificate:
    if not valid_id(certificate_id) or misses.known_missing(certificate_id):
        raise NotFound("no such certificate")
    cert = store.get_certificate(certificate_id)
    if cert is None:
        misses.add(certificate_id)
        raise NotFound("no such certificate")
    return cert


def verification(
    store: CertificateStore, certificate_id: str, base: str, misses: Misses = _misses
) -> CertificateVerification:
    return view(find(store, certificate_id, misses), base)


class Pdfs:
    """The process's bounded PDF rendering: at most ``renders`` at once (a request waits up to
    ``wait`` seconds for a slot, then 503), the last ``size`` kept."""

    def __init__(
        self, renders: int = MAX_RENDERS, size: int = PDF_CACHE, wait: float = RENDER_WAIT
    ) -> None:
        self._slots = threading.BoundedSemaphore(renders)
        self.wait = wait
        self._cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size
        self.rendered = 0

    def get(self, cert: CertificateVerification, render: Renderer) -> bytes:
        key = (cert.certificate_id, cert.status.value, cert.verify_url)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if not self._slots.acquire(timeout=self.wait):
            raise Unavailable("too many certificates are being rendered; try again shortly")
        try:
            data = render(cert)
        finally:
            self._slots.release()
        with self._lock:
            self.rendered += 1
            self._cache[key] = data
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return data


_pdfs = Pdfs()


def pdf(
    store: CertificateStore,
    certificate_id: str,
    base: str,
    render: Renderer,
    pdfs: Pdfs = _pdfs,
    misses: Misses = _misses,
) -> bytes:
    return pdfs.get(verification(store, certificate_id, base, misses), render)


# ---- the learner's own -----------------------------------------------------------------------


def mine(store: CertificateStore, uid: str, base: str) -> MyCertificates:
    links: list[CertificateLink] = store.certificate_links(uid, MAX_LISTED)
    links.sort(key=lambda link: link.issued_at, reverse=True)
    return MyCertificates(
        certificates=[
            MyCertificate(
                certificate_id=link.certificate_id,
                status=link.status,
                pathway_id=link.pathway_id,
                pathway_title=link.pathway_title,
                completed_at=link.completed_at,
                issued_at=link.issued_at,
                revoked_at=link.revoked_at,
                verify_url=verify_url(base, link.certificate_id),
                previous_ids=link.previous_ids,
            )
            for link in links
        ]
    )
