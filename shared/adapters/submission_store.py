"""Firestore behind the submission ports: submissions, rate-limit windows, resource progress,
audit log and notifications.

Documents:
- ``submissions/{submission_id}`` (the :class:`~shared.domain.models.Submission` fields);
- ``rate_limits/{uid}_upload_url``: ``{"stamps": [timestamps of recent upload URLs]}``;
- ``users/{uid}/resource_progress/{resource_id}`` (merged, so fields other writers own survive);
- ``audit_log/{submission_id}-{action}[-{generation}]``;
- ``users/{uid}/notifications/{submission_id}-{decision}``.

The review queue needs a composite index on ``submissions``: ``status ASC, uploaded_at ASC,
submission_id ASC`` and ``status ASC, pathway_id ASC, uploaded_at ASC, submission_id ASC``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from shared.adapters.firestore import client
from shared.domain.models import Resource, ResourceProgress, Submission, SubmissionStatus
from shared.services.audit import AuditEntry

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore

T = TypeVar("T")

SUBMISSIONS = "submissions"
RATE_LIMITS = "rate_limits"
AUDIT_LOG = "audit_log"
RESOURCES = "resources"
# Concurrent deliveries of one event contend for the same documents; past this many attempts the
# error propagates and the event is redelivered (Eventarc retries non-2xx replies).
MAX_ATTEMPTS = 10


def _submission(data: dict[str, Any] | None, doc_id: str) -> Submission | None:
    if data is None:
        return None
    return Submission.model_validate({**data, "submission_id": doc_id})


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """A model dump as Firestore values: enums as their string values."""
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in data.items()}


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


class FirestoreTx:
    """One transaction. Reads go through the transaction; writes are buffered until commit."""

    def __init__(self, db: firestore.Client, transaction: firestore.Transaction) -> None:
        self.db = db
        self.tx = transaction

    def _get(self, ref: Any) -> dict[str, Any] | None:
        snap = ref.get(transaction=self.tx)
        data: dict[str, Any] | None = snap.to_dict() if snap.exists else None
        return data

    # reads
    def submission(self, submission_id: str) -> Submission | None:
        return _submission(
            self._get(self.db.collection(SUBMISSIONS).document(submission_id)), submission_id
        )

    def progress(self, uid: str, resource_id: str) -> ResourceProgress | None:
        data = self._get(self._progress_ref(uid, resource_id))
        if data is None:
            return None
        return ResourceProgress.model_validate({**data, "resource_id": resource_id})

    def rate_stamps(self, uid: str) -> list[dt.datetime]:
        data = self._get(self._rate_ref(uid)) or {}
        return [s for s in (_aware(v) for v in data.get("stamps", [])) if s is not None]

    def submissions_for(self, uid: str, resource_id: str) -> list[Submission]:
        """Every submission of ``uid`` for ``resource_id``, read inside the transaction (an
        equality-only query: served by the automatic single-field indexes)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(SUBMISSIONS)
            .where(filter=FieldFilter("user_id", "==", uid))
            .where(filter=FieldFilter("resource_id", "==", resource_id))
        )
        out = [_submission(s.to_dict(), s.id) for s in query.get(transaction=self.tx)]
        return [s for s in out if s is not None]

    def notification_exists(self, uid: str, notification_id: str) -> bool:
        return self._get(self._notification_ref(uid, notification_id)) is not None

    # writes
    def put_submission(self, submission: Submission) -> None:
        ref = self.db.collection(SUBMISSIONS).document(submission.submission_id)
        self.tx.set(ref, _plain(submission.model_dump()))

    def put_progress(self, uid: str, progress: ResourceProgress) -> None:
        self.tx.set(
            self._progress_ref(uid, progress.resource_id), _plain(progress.model_dump()), merge=True
        )

    def put_rate_stamps(self, uid: str, stamps: list[dt.datetime]) -> None:
        self.tx.set(self._rate_ref(uid), {"stamps": stamps, "user_id": uid})

    def put_audit(self, entry: AuditEntry) -> None:
        self.tx.set(
            self.db.collection(AUDIT_LOG).document(entry.entry_id), _plain(entry.model_dump())
        )

    def put_notification(self, uid: str, notification_id: str, data: dict[str, Any]) -> None:
        self.tx.set(self._notification_ref(uid, notification_id), data)

    # refs
    def _progress_ref(self, uid: str, resource_id: str) -> Any:
        return (
            self.db.collection("users")
            .document(uid)
            .collection("resource_progress")
            .document(resource_id)
        )

    def _rate_ref(self, uid: str) -> Any:
        return self.db.collection(RATE_LIMITS).document(f"{uid}_upload_url")

    def _notification_ref(self, uid: str, notification_id: str) -> Any:
        return (
            self.db.collection("users")
            .document(uid)
            .collection("notifications")
            .document(notification_id)
        )


class FirestoreSubmissionStore:
    def __init__(self, db: firestore.Client | None = None) -> None:
        self._db = db

    @property
    def db(self) -> firestore.Client:
        if self._db is None:
            self._db = client()
        return self._db

    def transact(self, work: Callable[[FirestoreTx], T]) -> T:
        from google.cloud import firestore

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> T:
            return work(FirestoreTx(self.db, transaction))

        result: T = run(self.db.transaction(max_attempts=MAX_ATTEMPTS))
        return result

    def get_submission(self, submission_id: str) -> Submission | None:
        snap = self.db.collection(SUBMISSIONS).document(submission_id).get()
        return _submission(snap.to_dict() if snap.exists else None, submission_id)

    def get_resource(self, resource_id: str) -> Resource | None:
        snap = self.db.collection(RESOURCES).document(resource_id).get()
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        fields = {k: v for k, v in data.items() if k in Resource.model_fields}
        return Resource.model_validate({**fields, "resource_id": resource_id})

    def list_submissions(self, uid: str, resource_id: str) -> list[Submission]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(SUBMISSIONS)
            .where(filter=FieldFilter("user_id", "==", uid))
            .where(filter=FieldFilter("resource_id", "==", resource_id))
        )
        out = [_submission(s.to_dict(), s.id) for s in query.stream()]
        return [s for s in out if s is not None]

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
        out = [_submission(s.to_dict(), s.id) for s in query.limit(limit).stream()]
        return [s for s in out if s is not None]


@functools.cache
def store() -> FirestoreSubmissionStore:
    """The process's store (the Firestore client itself is created on first use)."""
    return FirestoreSubmissionStore()
