"""Firestore behind the ``DashboardStore`` port: the cohort dashboard's aggregates, and what the
dashboard reads of the cohort documents (their layout is shared by every flow; this is the
dashboard's own small reader of it).

Documents read:
- ``cohorts/{cid}``: ``pathway_ids``, ``instructor_uids`` (by key);
- ``cohorts/{cid}/members/{uid}``: ``pathway_ids``, ``joined_at`` (by key; the list only to verify);
- ``memberships/{uid}``: ``cohort_ids`` (by key);
- ``users/{uid}`` (profile) and ``users/{uid}/resource_progress/{rid}`` (by key).

Documents written (only by the triggers, in one transaction per row):
- ``cohorts/{cid}/dashboard/{pid}/rows/{uid}``: the learner's :class:`~shared.domain.dashboard.Row`;
- ``cohorts/{cid}/dashboard/{pid}/counters/{0..7}``: nested maps of counters, changed only by
  increments (``res.<rid>.started`` is ``{"res": {"<rid>": {"started": n}}}``);
- ``cohorts/{cid}/live_counts/{0..7}``: ``{"awaiting_review": n, "pathways": {"<pid>": n}}``, what
  the instructor page listens to (firestore.rules: the cohort's instructors and admins may read).

The counter documents are never read inside a transaction: the transaction reads the row (which
makes the delta exact: a concurrent change of the row aborts one of them) and commits the row
together with server-side increments of one shard, so learners' transactions never contend on a
counter document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from shared.adapters.firestore import (
    ATTEMPTS,
    LazyClient,
    from_document,
    plain_read,
    run_transaction,
    to_document,
)
from shared.adapters.unit_of_work import Refs, resource_progress
from shared.domain.dashboard import SHARDS, CohortInfo, MemberInfo, Row, flatten, shard_of
from shared.domain.models import ResourceProgress
from shared.services.ports import DashboardTx

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore

T = TypeVar("T")

COHORTS = "cohorts"
MEMBERSHIPS = "memberships"


def _cohort(doc_id: str, data: dict[str, Any]) -> CohortInfo:
    return from_document(CohortInfo, "cohort_id", doc_id, data)


def _member(doc_id: str, data: dict[str, Any]) -> MemberInfo:
    return from_document(MemberInfo, "uid", doc_id, data)


def _row(doc_id: str, data: dict[str, Any]) -> Row:
    return from_document(Row, "uid", doc_id, data)


def _nest(change: Mapping[str, int], increment: Callable[[int], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in change.items():
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = increment(value)
    return out


class DashboardPaths:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def cohort(self, cid: str) -> Any:
        return self.db.collection(COHORTS).document(cid)

    def member(self, cid: str, uid: str) -> Any:
        return self.cohort(cid).collection("members").document(uid)

    def rows(self, cid: str, pid: str) -> Any:
        return self.cohort(cid).collection("dashboard").document(pid).collection("rows")

    def counters(self, cid: str, pid: str) -> Any:
        return self.cohort(cid).collection("dashboard").document(pid).collection("counters")

    def live(self, cid: str) -> Any:
        return self.cohort(cid).collection("live_counts")


class FirestoreDashboardTx:
    """One transaction of a row's sync: reads by key, then the row and the increments."""

    def __init__(self, db: firestore.Client, transaction: Any) -> None:
        self.paths = DashboardPaths(db)
        self.refs = Refs(db)
        self.tx = transaction

    def _get(self, ref: Any) -> dict[str, Any] | None:
        snap = ref.get(transaction=self.tx)
        return (snap.to_dict() or {}) if snap.exists else None

    def member(self, cohort_id: str, uid: str) -> MemberInfo | None:
        data = self._get(self.paths.member(cohort_id, uid))
        return None if data is None else _member(uid, data)

    def row(self, cohort_id: str, pathway_id: str, uid: str) -> Row | None:
        data = self._get(self.paths.rows(cohort_id, pathway_id).document(uid))
        return None if data is None else _row(uid, data)

    def profile(self, uid: str) -> tuple[str | None, str | None]:
        data = self._get(self.refs.user(uid)) or {}
        name, email = data.get("display_name"), data.get("email")
        return (name if isinstance(name, str) else None, email if isinstance(email, str) else None)

    def progresses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        refs = self.refs.learner(uid, "resource_progress", resource_ids)
        return self.refs.get_many(refs, resource_progress, self.tx)

    def put_row(self, row: Row) -> None:
        ref = self.paths.rows(row.cohort_id, row.pathway_id).document(row.uid)
        self.tx.set(ref, to_document(row))

    def delete_row(self, cohort_id: str, pathway_id: str, uid: str) -> None:
        self.tx.delete(self.paths.rows(cohort_id, pathway_id).document(uid))

    def add_counters(
        self, cohort_id: str, pathway_id: str, uid: str, change: Mapping[str, int]
    ) -> None:
        from google.cloud import firestore

        shard = shard_of(uid)
        ref = self.paths.counters(cohort_id, pathway_id).document(str(shard))
        self.tx.set(ref, _nest(change, firestore.Increment), merge=True)
        awaiting = change.get("awaiting_review", 0)
        if awaiting:
            live = self.paths.live(cohort_id).document(str(shard))
            self.tx.set(
                live,
                {
                    "awaiting_review": firestore.Increment(awaiting),
                    "pathways": {pathway_id: firestore.Increment(awaiting)},
                },
                merge=True,
            )


class FirestoreDashboardStore(LazyClient):
    """The ``DashboardStore`` port."""

    def __init__(self, db: firestore.Client | None = None, attempts: int = ATTEMPTS) -> None:
        super().__init__(db)
        self.attempts = attempts

    @property
    def paths(self) -> DashboardPaths:
        return DashboardPaths(self.db)

    def transact(self, work: Callable[[DashboardTx], T], *, lock: str) -> T:
        db = self.db
        return run_transaction(
            db, lock, lambda txn: work(FirestoreDashboardTx(db, txn)), attempts=self.attempts
        )

    # ---- plain reads -------------------------------------------------------------------------

    def cohort(self, cohort_id: str) -> CohortInfo | None:
        with plain_read():
            snap = self.paths.cohort(cohort_id).get()
        return _cohort(cohort_id, snap.to_dict() or {}) if snap.exists else None

    def cohort_ids(self, uid: str) -> list[str]:
        with plain_read():
            snap = self.db.collection(MEMBERSHIPS).document(uid).get()
        ids = (snap.to_dict() or {}).get("cohort_ids") if snap.exists else None
        return [c for c in ids if isinstance(c, str)] if isinstance(ids, list) else []

    def cohorts_of(self, instructor_uid: str | None, limit: int) -> list[CohortInfo]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query: Any = self.db.collection(COHORTS)
        if instructor_uid is not None:
            query = query.where(
                filter=FieldFilter("instructor_uids", "array_contains", instructor_uid)
            )
        with plain_read():
            snaps = list(query.limit(limit).stream())
        return sorted((_cohort(s.id, s.to_dict() or {}) for s in snaps), key=lambda c: c.cohort_id)

    def counters(self, cohort_id: str, pathway_id: str) -> list[dict[str, int]]:
        with plain_read():
            snaps = list(self.paths.counters(cohort_id, pathway_id).limit(SHARDS * 2).stream())
        return [flatten(s.to_dict() or {}) for s in snaps]

    def live_counts(self, cohort_id: str) -> list[dict[str, int]]:
        with plain_read():
            snaps = list(self.paths.live(cohort_id).limit(SHARDS * 2).stream())
        return [flatten(s.to_dict() or {}) for s in snaps]

    def rows_page(
        self, cohort_id: str, pathway_id: str, after: str | None, limit: int
    ) -> list[Row]:
        query = self.paths.rows(cohort_id, pathway_id).order_by("__name__")  # by uid
        if after is not None:
            query = query.start_after({"__name__": after})
        with plain_read():
            snaps = list(query.limit(limit).stream())
        return [_row(s.id, s.to_dict() or {}) for s in snaps]

    def inactive(
        self, cohort_id: str, pathway_id: str, before: dt.datetime, limit: int
    ) -> list[Row]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self.paths.rows(cohort_id, pathway_id)
            .where(filter=FieldFilter("last_activity_at", "<", before))
            .order_by("last_activity_at")
            .limit(limit)
        )
        with plain_read():
            snaps = list(query.stream())
        return [_row(s.id, s.to_dict() or {}) for s in snaps]

    def all_rows(self, cohort_id: str, pathway_id: str) -> list[Row]:
        with plain_read():
            snaps = list(self.paths.rows(cohort_id, pathway_id).stream())
        return [_row(s.id, s.to_dict() or {}) for s in snaps]

    def members(self, cohort_id: str) -> list[MemberInfo]:
        with plain_read():
            snaps = list(self.paths.cohort(cohort_id).collection("members").stream())
        return [_member(s.id, s.to_dict() or {}) for s in snaps]

    def truth(
        self, uid: str, resource_ids: Sequence[str]
    ) -> tuple[dict[str, ResourceProgress], tuple[str | None, str | None]]:
        """A learner's progress and profile, read by key outside any transaction (verify)."""
        refs = Refs(self.db)
        progress = refs.get_many(
            refs.learner(uid, "resource_progress", resource_ids), resource_progress
        )
        with plain_read():
            snap = refs.user(uid).get()
        data = (snap.to_dict() or {}) if snap.exists else {}
        name, email = data.get("display_name"), data.get("email")
        return progress, (
            name if isinstance(name, str) else None,
            email if isinstance(email, str) else None,
        )
