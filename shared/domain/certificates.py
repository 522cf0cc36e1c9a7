"""Certificates of completion: the documents and the pure issuance / revocation rule (no I/O).

Documents
    ``certificates/{certificate_id}`` (:class:`Certificate`): the record a public verification
    reads by its id. The id is unguessable (128 random bits, URL-safe): knowing one learner's id
    tells nothing about another's. Never deleted: a revoked certificate keeps its ``revoked_at``.
    ``users/{uid}/certificates/{pathway_id}`` (:class:`CertificateLink`): the deterministic key of
    the (learner, pathway) pair, naming the pair's current certificate and the earlier (revoked)
    ones. Both are written in the same transaction, so there is never more than one live
    certificate per pair, whatever the order, number or concurrency of the trigger's deliveries.

The rule (:func:`decide`), from the pathway's stored progress (the source of truth, read in the
transaction, never the event's payload) and the current link
    complete   ``percentage >= 100`` and ``completed_at`` set.
    live       the link names a certificate that is not revoked.
    complete, no live certificate      issue a NEW certificate (new id; the old id, if any, stays
                                       revoked: re-completing never revives a revoked id, so a
                                       verifier that once saw "revoked" is never contradicted, and
                                       the new certificate carries the new completion date).
    complete, live, same completed_at  nothing (a duplicate or late event).
    complete, live, other completed_at the completion was revoked and redone between two
                                       deliveries: revoke the old one, issue a new one.
    not complete, live                 revoke (``revoked_at`` now).
    not complete, no live certificate  nothing.
The learner's display name and the pathway's title are copied at issue time: a certificate states
what was true when it was issued.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.models import PathwayProgress

ID_BYTES = 16  # 128 bits: 22 URL-safe characters, within the product's id rule
MAX_PREVIOUS = 50  # earlier certificate ids a link remembers


def new_certificate_id() -> str:
    """A fresh unguessable certificate id (``[A-Za-z0-9_-]{22}``)."""
    return secrets.token_urlsafe(ID_BYTES)


class CertificateStatus(StrEnum):
    valid = "valid"
    revoked = "revoked"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Certificate(_Doc):
    """``certificates/{certificate_id}``."""

    certificate_id: str
    uid: str
    pathway_id: str
    pathway_title: str
    display_name: str | None = None
    completed_at: dt.datetime
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None
    status: CertificateStatus = CertificateStatus.valid


class CertificateLink(_Doc):
    """``users/{uid}/certificates/{pathway_id}``: the pair's current certificate (readable by the
    learner through the rules) and the ids of earlier, revoked ones (oldest first)."""

    pathway_id: str
    certificate_id: str
    pathway_title: str
    completed_at: dt.datetime
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None
    status: CertificateStatus = CertificateStatus.valid
    previous_ids: list[str] = Field(default_factory=list)
    updated_at: dt.datetime | None = None


def is_complete(progress: PathwayProgress | None) -> bool:
    return progress is not None and progress.completed_at is not None and progress.percentage >= 100


@dataclass(frozen=True)
class Decision:
    """What to write: certificates (new or revoked) and the link; nothing when ``link`` is None."""

    certificates: tuple[Certificate, ...] = ()
    link: CertificateLink | None = None

    @property
    def changed(self) -> bool:
        return self.link is not None

    @property
    def issued(self) -> Certificate | None:
        return next((c for c in self.certificates if c.revoked_at is None), None)

    @property
    def revoked(self) -> Certificate | None:
        return next((c for c in self.certificates if c.revoked_at is not None), None)


def revoke(cert: Certificate, now: dt.datetime) -> Certificate:
    return cert.model_copy(update={"revoked_at": now, "status": CertificateStatus.revoked})


def decide(
    uid: str,
    pathway_id: str,
    progress: PathwayProgress | None,
    link: CertificateLink | None,
    current: Certificate | None,
    *,
    pathway_title: str,
    display_name: str | None,
    new_id: str,
    now: dt.datetime,
) -> Decision:
    """The rule of the module docstring. ``current`` is the certificate ``link`` names (``None``
    if there is no link or, after a hand edit, no such document); ``new_id`` is used only when a
    certificate is issued."""
    live = link is not None and link.revoked_at is None
    completed_at = progress.completed_at if progress is not None and is_complete(progress) else None
    if completed_at is None:
        if not live or link is None:
            return Decision()
        revoked: tuple[Certificate, ...] = () if current is None else (revoke(current, now),)
        update = {"revoked_at": now, "status": CertificateStatus.revoked, "updated_at": now}
        return Decision(revoked, link.model_copy(update=update))
    if live and link is not None and link.completed_at == completed_at:
        return Decision()
    out: list[Certificate] = []
    previous: list[str] = []
    if link is not None:
        previous = [*link.previous_ids, link.certificate_id][-MAX_PREVIOUS:]
        if live and current is not None:
            out.append(revoke(current, now))
    issued = Certificate(
        certificate_id=new_id,
        uid=uid,
        pathway_id=pathway_id,
        pathway_title=pathway_title,
        display_name=display_name,
        completed_at=completed_at,
        issued_at=now,
    )
    out.append(issued)
    fresh = CertificateLink(
        pathway_id=pathway_id,
        certificate_id=new_id,
        pathway_title=pathway_title,
        completed_at=completed_at,
        issued_at=now,
        previous_ids=previous,
        updated_at=now,
    )
    return Decision(tuple(out), fresh)


# ---- the HTTP replies ------------------------------------------------------------------------


class CertificateVerification(BaseModel):
    """What the public verification route confirms: no uid, no email, nothing else personal."""

    certificate_id: str
    status: CertificateStatus
    valid: bool
    name: str | None = Field(description="The learner's display name when it was issued")
    pathway_id: str
    pathway_title: str
    completed_at: dt.datetime
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None
    verify_url: str


class MyCertificate(BaseModel):
    certificate_id: str
    status: CertificateStatus
    pathway_id: str
    pathway_title: str
    completed_at: dt.datetime
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None
    verify_url: str
    previous_ids: list[str] = Field(default_factory=list)


class MyCertificates(BaseModel):
    """The caller's certificates, one per pathway (live or last revoked), newest issue first."""

    certificates: list[MyCertificate]
