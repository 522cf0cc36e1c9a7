"""Firestore behind the ``CohortReader`` and ``CohortStore`` ports: the one reader of the cohort
layout (:mod:`shared.domain.cohorts`) outside transactions, which the dashboard's and the exports'
stores inherit, and the cohorts' unit of work (transactions read by key only).

Queries (outside transactions only): the cohorts an instructor teaches (``instructor_uids``
array-contains, ordered by document id: the automatic single-field index), every cohort by id, a
page of a cohort's members by uid, and the ids of one learner's submissions (``user_id ==``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.adapters.firestore import LazyClient, plain_read
from shared.adapters.unit_of_work import (
    MEMBERSHIPS,
    FirestoreUnitOfWork,
    Refs,
    cohort_doc,
    cohort_ref,
    member_doc,
    membership_doc,
)
from shared.domain.cohorts import Cohort, CohortMember, Membership

# the collections the queries below run on
COHORTS = "cohorts"
MEMBERS = "members"
SUBMISSIONS = "submissions"


class FirestoreCohortReader(LazyClient):
    """The ``CohortReader`` port: cohorts, members and memberships, outside transactions."""

    def membership(self, uid: str) -> Membership | None:
        with plain_read():
            snap = cohort_ref(self.db, MEMBERSHIPS, uid).get()
        if not snap.exists:
            return None
        return membership_doc(uid, snap.to_dict() or {})

    def cohort(self, cohort_id: str) -> Cohort | None:
        with plain_read():
            snap = cohort_ref(self.db, COHORTS, cohort_id).get()
        return cohort_doc(cohort_id, snap.to_dict() or {}) if snap.exists else None

    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]:
        refs = [cohort_ref(self.db, COHORTS, c) for c in dict.fromkeys(cohort_ids)]
        return Refs(self.db).get_many(refs, cohort_doc)

    def list_cohorts(
        self, *, instructor_uid: str | None, after: str | None, limit: int
    ) -> list[Cohort]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: Any = self.db.collection(COHORTS)
        if instructor_uid is not None:
            query = query.where(
                filter=FieldFilter("instructor_uids", "array_contains", instructor_uid)
            )
        query = query.order_by("__name__")
        if after is not None:
            query = query.start_after({"__name__": cohort_ref(self.db, COHORTS, after)})
        with plain_read():
            return [cohort_doc(s.id, s.to_dict() or {}) for s in query.limit(limit).stream()]

    def members(self, cohort_id: str, *, after: str | None, limit: int) -> list[CohortMember]:
        coll = self.db.collection(COHORTS).document(cohort_id).collection(MEMBERS)
        query: Any = coll.order_by("__name__")
        if after is not None:
            query = query.start_after({"__name__": coll.document(after)})
        with plain_read():
            return [
                member_doc(cohort_id, s.id, s.to_dict() or {}) for s in query.limit(limit).stream()
            ]


class FirestoreCohortStore(FirestoreCohortReader, FirestoreUnitOfWork):
    """The ``CohortStore`` port: the cohort reads and the unit of work."""

    def submission_ids(self, uid: str) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.db.collection(SUBMISSIONS)
            .where(filter=FieldFilter("user_id", "==", uid))
            .select([])
        )
        with plain_read():
            return [s.id for s in query.stream()]
