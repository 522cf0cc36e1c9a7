"""Firestore behind the ``CertificateStore`` port: the one unit of work (issuance and revocation
run through :class:`~shared.adapters.unit_of_work.FirestoreUnitOfWork`) and the plain reads of
``certificates/{id}`` (by key) and ``users/{uid}/certificates`` (one bounded query)."""

from __future__ import annotations

from shared.adapters.firestore import plain_read
from shared.adapters.unit_of_work import (
    CERTIFICATES,
    FirestoreUnitOfWork,
    certificate,
    certificate_link,
)
from shared.domain.certificates import Certificate, CertificateLink


class FirestoreCertificateStore(FirestoreUnitOfWork):
    def get_certificate(self, certificate_id: str) -> Certificate | None:
        with plain_read():
            snap = self.db.collection(CERTIFICATES).document(certificate_id).get()
        return certificate(snap.id, snap.to_dict() or {}) if snap.exists else None

    def certificate_links(self, uid: str, limit: int) -> list[CertificateLink]:
        links = self.db.collection("users").document(uid).collection(CERTIFICATES)
        with plain_read():
            snaps = list(links.limit(limit).stream())
        return [certificate_link(s.id, s.to_dict() or {}) for s in snaps]
