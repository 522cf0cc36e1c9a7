"""Firestore behind the ``ExportReads`` port: a cohort and its members, read through the one cohort
reader (:class:`~shared.adapters.cohort_store.FirestoreCohortReader`: the cohort by key, its
members a page at a time in uid order), and one learner's documents at a time (plain reads, never
in a transaction):

- a learner's ``resource_progress`` / ``module_progress`` / ``pathway_progress`` documents of one
  pathway: one batched read by key;
- a learner's submissions: the per-resource indexes (``users/{uid}/resource_submissions/{rid}``,
  which name every submission of the resource) of the pathway's resources that take uploads, then
  the submissions they name: two batched reads by key, no query;
- a learner's ``progress_events``: pages in document-id order (the ids start with the time, so
  ``since`` is a start at the id ``event_stamp(since)``: no index beyond the automatic ones).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from shared.adapters.cohort_store import FirestoreCohortReader
from shared.adapters.firestore import plain_read
from shared.adapters.unit_of_work import (
    module_progress,
    pathway_progress,
    resource_progress,
    submission,
)
from shared.domain.models import ModuleProgress, PathwayProgress, ResourceProgress, Submission
from shared.domain.progress import event_stamp


class FirestoreExportReads(FirestoreCohortReader):
    """The ``ExportReads`` port: the cohort reads, and one learner's documents."""

    def learner_progress(
        self, uid: str, resource_ids: Sequence[str], module_ids: Sequence[str], pathway_id: str
    ) -> tuple[dict[str, ResourceProgress], dict[str, ModuleProgress], PathwayProgress | None]:
        user = self.db.collection("users").document(uid)
        refs = [user.collection("resource_progress").document(r) for r in resource_ids]
        refs += [user.collection("module_progress").document(m) for m in module_ids]
        refs.append(user.collection("pathway_progress").document(pathway_id))
        with plain_read():
            snaps = list(self.db.get_all(refs))
        resources: dict[str, ResourceProgress] = {}
        modules: dict[str, ModuleProgress] = {}
        pathway: PathwayProgress | None = None
        for snap in snaps:
            if not snap.exists:
                continue
            kind, data = snap.reference.parent.id, snap.to_dict() or {}
            if kind == "resource_progress":
                resources[snap.id] = resource_progress(snap.id, data)
            elif kind == "module_progress":
                modules[snap.id] = module_progress(snap.id, data)
            else:
                pathway = pathway_progress(snap.id, data)
        return resources, modules, pathway

    def learner_submissions(self, uid: str, resource_ids: Sequence[str]) -> list[Submission]:
        user = self.db.collection("users").document(uid)
        refs = [user.collection("resource_submissions").document(r) for r in resource_ids]
        with plain_read():
            indexes = [s.to_dict() or {} for s in self.db.get_all(refs) if s.exists]
        ids = [sid for index in indexes for sid in (index.get("submissions") or {})]
        if not ids:
            return []
        subs = [self.db.collection("submissions").document(i) for i in ids]
        with plain_read():
            return [submission(s.id, s.to_dict() or {}) for s in self.db.get_all(subs) if s.exists]

    def progress_events(
        self, uid: str, since: dt.datetime | None, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        from google.cloud.firestore_v1.base_document import DocumentSnapshot

        events = self.db.collection("users").document(uid).collection("progress_events")
        query: Any = events  # in id order (a query's default order)
        if after is not None:
            past = DocumentSnapshot(events.document(after), {}, True, None, None, None)
            query = query.start_after(past)
        elif since is not None:
            # event ids start with their time (``event_stamp``), so ids sort as times do
            first = events.document(event_stamp(since))
            query = query.start_at(DocumentSnapshot(first, {}, True, None, None, None))
        with plain_read():
            return [(s.id, s.to_dict() or {}) for s in query.limit(limit).stream()]
