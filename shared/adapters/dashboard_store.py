"""Firestore behind the ``DashboardStore`` port: the cohort dashboard's aggregates. The cohort
documents are read through the one cohort reader (:class:`~shared.adapters.cohort_store.
FirestoreCohortReader`), a row's sync runs in the unit of work's ``FirestoreTx``.

Documents read:
- ``cohorts/{cid}``, ``cohorts/{cid}/members/{uid}`` (by key in a row's sync; a page at a time to
  verify) and ``memberships/{uid}`` (by key): :mod:`shared.domain.cohorts`;
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
from collections.abc import Sequence

from shared.adapters.cohort_store import FirestoreCohortReader
from shared.adapters.firestore import plain_read
from shared.adapters.unit_of_work import (
    DashboardPaths,
    FirestoreUnitOfWork,
    Refs,
    dashboard_row,
    resource_progress,
)
from shared.domain.dashboard import SHARDS, Row, flatten
from shared.domain.models import ResourceProgress


class FirestoreDashboardStore(FirestoreCohortReader, FirestoreUnitOfWork):
    """The ``DashboardStore`` port: the unit of work (whose ``FirestoreTx`` syncs a row), the
    cohort reads and the dashboard's plain reads."""

    @property
    def paths(self) -> DashboardPaths:
        return DashboardPaths(self.db)

    # ---- plain reads -------------------------------------------------------------------------

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
        return [dashboard_row(s.id, s.to_dict() or {}) for s in snaps]

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
        return [dashboard_row(s.id, s.to_dict() or {}) for s in snaps]

    def all_rows(self, cohort_id: str, pathway_id: str) -> list[Row]:
        with plain_read():
            snaps = list(self.paths.rows(cohort_id, pathway_id).stream())
        return [dashboard_row(s.id, s.to_dict() or {}) for s in snaps]

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
