"""Firestore behind the ``ExcuseLog`` port: a learner's excuse trail in ``audit_log`` (the entries
``shared.services.progress`` writes when an instructor excuses or un-excuses a learner).

One query per action (outside transactions): ``user_id ==``, ``pathway_id ==``, ``action ==``,
ordered by ``at`` descending, limited (the composite index of firestore.indexes.json).
"""

from __future__ import annotations

from typing import Any

from shared.adapters.firestore import LazyClient, plain_read
from shared.services.audit import AuditEntry

AUDIT_LOG = "audit_log"
ACTIONS = ("resource_excused", "resource_unexcused")


def _entry(data: dict[str, Any]) -> AuditEntry:
    return AuditEntry.model_validate(
        {k: v for k, v in data.items() if k in AuditEntry.model_fields}
    )


class FirestoreExcuseLog(LazyClient):
    def excuse_entries(self, uid: str, pathway_id: str, limit: int) -> list[AuditEntry]:
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        found: list[AuditEntry] = []
        for action in ACTIONS:
            query = (
                self.db.collection(AUDIT_LOG)
                .where(filter=FieldFilter("user_id", "==", uid))
                .where(filter=FieldFilter("pathway_id", "==", pathway_id))
                .where(filter=FieldFilter("action", "==", action))
                .order_by("at", direction=firestore.Query.DESCENDING)
                .limit(limit)
            )
            with plain_read():
                found += [_entry(s.to_dict() or {}) for s in query.stream()]
        found.sort(key=lambda e: e.at, reverse=True)
        return found[:limit]
