"""Firestore behind the submission ports (``shared.services.ports``): the unit of work
(:class:`FirestoreTx`, run by the one transaction runner of ``shared.adapters.firestore``) and the
plain reads outside transactions.

Documents (mapped with ``shared.adapters.firestore.to_document`` / ``from_document`` only):
- ``submissions/{submission_id}`` (the :class:`~shared.domain.models.Submission` fields);
- ``users/{uid}/resource_submissions/{resource_id}``: the learner's per-resource index of
  submissions (:class:`~shared.domain.models.ResourceSubmissions`), read by key in every
  submission transaction instead of a query;
- ``rate_limits/{uid}_upload_url``: ``{"stamps": [timestamps of recent upload URLs]}``;
- ``users/{uid}/resource_progress/{resource_id}`` (merged, so fields other writers own survive);
- ``users/{uid}/progress_events/{event_id}`` (created, never overwritten);
- ``audit_log/{submission_id}-{action}[-{generation}]``;
- ``users/{uid}/notifications/{submission_id}-{decision}``.

Every read inside a transaction is a read by key. Queries run only outside transactions: a
learner's list of submissions and the review queue, which needs a composite index on
``submissions``: ``status ASC, uploaded_at ASC, submission_id ASC`` and ``status ASC, pathway_id
ASC, uploaded_at ASC, submission_id ASC``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.adapters.firestore import client, from_document, run_transaction, to_document
from shared.domain.models import (
    Resource,
    ResourceProgress,
    ResourceSubmissions,
    Submission,
    SubmissionStatus,
)
from shared.services.audit import AuditEntry
from shared.services.ports import Tx

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore

T = TypeVar("T")

SUBMISSIONS = "submissions"
RATE_LIMITS = "rate_limits"
AUDIT_LOG = "audit_log"
RESOURCES = "resources"


def _submission(doc_id: str, data: dict[str, Any]) -> Submission:
    return from_document(Submission, "submission_id", doc_id, data)


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


class FirestoreTx:
    """One transaction. Reads go through the transaction, by key; writes are buffered until
    commit."""

    def __init__(self, db: firestore.Client, transaction: firestore.Transaction) -> None:
        self.db = db
        self.tx = transaction

    def _get(self, ref: Any) -> dict[str, Any] | None:
        snap = ref.get(transaction=self.tx)
        data: dict[str, Any] | None = (snap.to_dict() or {}) if snap.exists else None
        return data

    def _user(self, uid: str) -> Any:
        return self.db.collection("users").document(uid)

    # reads
    def submission(self, submission_id: str) -> Submission | None:
        data = self._get(self.db.collection(SUBMISSIONS).document(submission_id))
        return None if data is None else _submission(submission_id, data)

    def progress(self, uid: str, resource_id: str) -> ResourceProgress | None:
        data = self._get(self._user(uid).collection("resource_progress").document(resource_id))
        if data is None:
            return None
        defaults = {"pathway_id": "", "module_id": ""}
        return from_document(ResourceProgress, "resource_id", resource_id, data, defaults)

    def resource_submissions(self, uid: str, resource_id: str) -> ResourceSubmissions:
        data = self._get(self._index_ref(uid, resource_id)) or {}
        return from_document(
            ResourceSubmissions, "resource_id", resource_id, data, {"user_id": uid}
        )

    def rate_stamps(self, uid: str) -> list[dt.datetime]:
        data = self._get(self._rate_ref(uid)) or {}
        return [s for s in (_aware(v) for v in data.get("stamps", [])) if s is not None]

    def notification_exists(self, uid: str, notification_id: str) -> bool:
        return self._get(self._notification_ref(uid, notification_id)) is not None

    # writes
    def put_submission(self, submission: Submission) -> None:
        ref = self.db.collection(SUBMISSIONS).document(submission.submission_id)
        self.tx.set(ref, to_document(submission))

    def put_progress(self, uid: str, progress: ResourceProgress) -> None:
        ref = self._user(uid).collection("resource_progress").document(progress.resource_id)
        self.tx.set(ref, to_document(progress), merge=True)

    def put_resource_submissions(self, index: ResourceSubmissions) -> None:
        self.tx.set(self._index_ref(index.user_id, index.resource_id), to_document(index))

    def add_progress_event(self, uid: str, event_id: str, event: dict[str, Any]) -> None:
        self.tx.create(self._user(uid).collection("progress_events").document(event_id), event)

    def put_rate_stamps(self, uid: str, stamps: list[dt.datetime]) -> None:
        self.tx.set(self._rate_ref(uid), {"stamps": stamps, "user_id": uid})

    def put_audit(self, entry: AuditEntry) -> None:
        self.tx.set(self.db.collection(AUDIT_LOG).document(entry.entry_id), to_document(entry))

    def put_notification(self, uid: str, notification_id: str, data: dict[str, Any]) -> None:
        self.tx.set(self._notification_ref(uid, notification_id), data)

    # refs
    def _index_ref(self, uid: str, resource_id: str) -> Any:
        return self._user(uid).collection("resource_submissions").document(resource_id)

    def _rate_ref(self, uid: str) -> Any:
        return self.db.collection(RATE_LIMITS).document(f"{uid}_upload_url")

    def _notification_ref(self, uid: str, notification_id: str) -> Any:
        return self._user(uid).collection("notifications").document(notification_id)


class FirestoreSubmissionStore:
    def __init__(self, db: firestore.Client | None = None) -> None:
        self._db = db

    @property
    def db(self) -> firestore.Client:
        if self._db is None:
            self._db = client()
        return self._db

    def transact(self, work: Callable[[Tx], T], *, lock: str) -> T:
        return run_transaction(self.db, lock, lambda txn: work(FirestoreTx(self.db, txn)))

    def get_submission(self, submission_id: str) -> Submission | None:
        snap = self.db.collection(SUBMISSIONS).document(submission_id).get()
        return _submission(submission_id, snap.to_dict() or {}) if snap.exists else None

    def get_resource(self, resource_id: str) -> Resource | None:
        snap = self.db.collection(RESOURCES).document(resource_id).get()
        if not snap.exists:
            return None
        return from_document(Resource, "resource_id", resource_id, snap.to_dict() or {})

    def list_submissions(self, uid: str, resource_id: str) -> list[Submission]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(SUBMISSIONS)
            .where(filter=FieldFilter("user_id", "==", uid))
            .where(filter=FieldFilter("resource_id", "==", resource_id))
        )
        return [_submission(s.id, s.to_dict() or {}) for s in query.stream()]

    def pending(
        self, pathway_id: str | None, limit: int, after: tuple[dt.datetime, str] | None
    ) -> list[Submission]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: Any = self.db.collection(SUBMISSIONS).where(
            filter=FieldFilter("status", "==", SubmissionStatus.uploaded.value)
        )
        if pathway_id:
            query = query.where(filter=FieldFilter("pathway_id", "==", pathway_id))
        query = query.order_by("uploaded_at").order_by("submission_id")
        if after is not None:
            query = query.start_after({"uploaded_at": after[0], "submission_id": after[1]})
        return [_submission(s.id, s.to_dict() or {}) for s in query.limit(limit).stream()]


@functools.cache
def store() -> FirestoreSubmissionStore:
    """The process's store (the Firestore client itself is created on first use)."""
    return FirestoreSubmissionStore()
