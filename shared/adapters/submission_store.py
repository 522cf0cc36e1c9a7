"""Firestore behind the ``SubmissionStore`` port: the unit of work
(:class:`~shared.adapters.unit_of_work.FirestoreUnitOfWork`, whose transactions read by key only)
and the plain reads outside transactions.

Queries run only here, outside transactions: a learner's list of submissions, and the review queue,
which needs a composite index on ``submissions``: ``status ASC, uploaded_at ASC, submission_id
ASC`` and, for each of its filters (one at a time), ``status ASC, <pathway_id | module_id |
resource_id> ASC, uploaded_at ASC, submission_id ASC``, each also with ``cohort_ids`` or
``instructor_uids`` CONTAINS after ``status`` (an instructor's queue, a cohort's). The queue's context (earlier attempts) is
read by key: the per-resource indexes and the submissions they name, in batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from shared.adapters.firestore import from_document, plain_read
from shared.adapters.unit_of_work import FirestoreUnitOfWork, submission
from shared.domain.models import Resource, ResourceSubmissions, Submission, SubmissionStatus

SUBMISSIONS = "submissions"  # the collection the queries below run on
RESOURCES = "resources"


class FirestoreSubmissionStore(FirestoreUnitOfWork):
    def get_submission(self, submission_id: str) -> Submission | None:
        with plain_read():
            snap = self.db.collection(SUBMISSIONS).document(submission_id).get()
        return submission(submission_id, snap.to_dict() or {}) if snap.exists else None

    def get_resource(self, resource_id: str) -> Resource | None:
        with plain_read():
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
        with plain_read():
            return [submission(s.id, s.to_dict() or {}) for s in query.stream()]

    def submissions(self, ids: Sequence[str]) -> dict[str, Submission]:
        refs = [self.refs.submission(i) for i in dict.fromkeys(ids)]
        return self.refs.get_many(refs, submission)

    def indexes(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ResourceSubmissions]:
        refs = [
            self.refs.learner(uid, "resource_submissions", [rid])[0]
            for uid, rid in dict.fromkeys(keys)
        ]
        if not refs:
            return {}
        found: dict[tuple[str, str], ResourceSubmissions] = {}
        with plain_read():
            snaps = list(self.db.get_all(refs))
        for snap in snaps:
            if snap.exists:
                uid = snap.reference.parent.parent.id
                found[(uid, snap.id)] = from_document(
                    ResourceSubmissions,
                    "resource_id",
                    snap.id,
                    snap.to_dict() or {},
                    {"user_id": uid},
                )
        return found

    def pending(
        self,
        scope: tuple[str, str] | None,
        limit: int,
        after: tuple[dt.datetime, str] | None,
        *,
        audience: tuple[str, str] | None = None,
    ) -> list[Submission]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: Any = self.db.collection(SUBMISSIONS).where(
            filter=FieldFilter("status", "==", SubmissionStatus.uploaded.value)
        )
        who, uid_or_cohort = audience or ("", "")
        if who == "cohort_ids":
            query = query.where(filter=FieldFilter("cohort_ids", "array_contains", uid_or_cohort))
        elif who == "instructor_uids":
            query = query.where(
                filter=FieldFilter("instructor_uids", "array_contains", uid_or_cohort)
            )
        field, value = scope or ("", "")
        if field == "pathway_id":
            query = query.where(filter=FieldFilter("pathway_id", "==", value))
        elif field == "module_id":
            query = query.where(filter=FieldFilter("module_id", "==", value))
        elif field == "resource_id":
            query = query.where(filter=FieldFilter("resource_id", "==", value))
        query = query.order_by("uploaded_at").order_by("submission_id")
        if after is not None:
            query = query.start_after({"uploaded_at": after[0], "submission_id": after[1]})
        with plain_read():
            return [submission(s.id, s.to_dict() or {}) for s in query.limit(limit).stream()]

    def decided(
        self,
        status: SubmissionStatus,
        limit: int,
        after: tuple[dt.datetime, str] | None,
        *,
        instructor: str | None = None,
    ) -> list[Submission]:
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: Any = self.db.collection(SUBMISSIONS).where(
            filter=FieldFilter("status", "==", status.value)
        )
        if instructor is not None:
            query = query.where(filter=FieldFilter("instructor_uids", "array_contains", instructor))
        query = query.order_by("reviewed_at", direction=firestore.Query.DESCENDING).order_by(
            "submission_id", direction=firestore.Query.DESCENDING
        )
        if after is not None:
            query = query.start_after({"reviewed_at": after[0], "submission_id": after[1]})
        with plain_read():
            return [submission(s.id, s.to_dict() or {}) for s in query.limit(limit).stream()]
