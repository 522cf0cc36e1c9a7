"""Firestore behind the learner-wide tasks: which learners have progress, a learner's documents (the
``LearnerIndex`` port: plain queries, never inside a transaction), and the reconcile run log.

Which learners
    ``learner_page`` (reconcile, and re-evaluation: a reconcile run paged by ``pathway_id``): the
    uids with a document in ``resource_progress``, ``module_progress`` or ``pathway_progress``
    (collection-group queries, optionally ``pathway_id ==``), in document-name order, after a
    cursor uid. Each query reads names only and jumps past a learner's remaining documents
    (``start_after users/{uid}/{group}/\\uf8ff``), so a page of N learners costs at most N reads
    per group whatever their number of documents. Production needs collection-group single-field
    indexes on ``pathway_id`` (firestore.indexes.json).

Documents: ``reconcile_runs/{run_id}``: the run's parameters, ``batches.{index}`` (each batch's
result, replaced by a redelivery of the same batch), ``done`` once the last batch is recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.adapters import unit_of_work as docs
from shared.adapters.firestore import LazyClient, from_document
from shared.domain.models import ResourceSubmissions
from shared.services.ports import LearnerState
from shared.services.reconcile import BatchResult, ReconcileBatch, RunReport, summarize

PROGRESS_GROUPS = ("resource_progress", "module_progress", "pathway_progress")
RUNS = "reconcile_runs"
PAST_EVERY_ID = "\uf8ff"  # sorts after every document id of this product ([A-Za-z0-9_-])


def _owner(ref: Any) -> str | None:
    user = ref.parent.parent
    if user is None or user.parent.id != "users":
        return None
    uid: str = user.id
    return uid


class FirestoreLearnerIndex(LazyClient):
    # ---- reconcile: pages of learners, and one learner's documents ------------------------------

    def learner_page(self, after: str | None, limit: int, pathway_id: str | None) -> list[str]:
        found: set[str] = set()
        bound: str | None = None
        for group in PROGRESS_GROUPS:
            uids, exhausted = self._group_uids(group, after, limit, pathway_id)
            found.update(uids)
            if not exhausted:
                # this group has more learners after its last one: nothing past it is known yet
                bound = uids[-1] if bound is None else min(bound, uids[-1])
        return sorted(u for u in found if bound is None or u <= bound)[:limit]

    def _group_uids(
        self, group: str, after: str | None, limit: int, pathway_id: str | None
    ) -> tuple[list[str], bool]:
        """The first ``limit`` uids after ``after`` with a document in ``group``; and whether the
        group has no more."""
        from google.cloud.firestore_v1.base_document import DocumentSnapshot
        from google.cloud.firestore_v1.base_query import FieldFilter

        uids: list[str] = []
        past = None if after is None else self.db.document("users", after, group, PAST_EVERY_ID)
        while len(uids) < limit:
            want = limit - len(uids)
            query = self.db.collection_group(group)
            if pathway_id is not None:
                query = query.where(filter=FieldFilter("pathway_id", "==", pathway_id))
            if past is not None:
                query = query.start_after(DocumentSnapshot(past, {}, True, None, None, None))
            snaps = list(query.select(["__name__"]).limit(want).stream())
            for snap in snaps:
                uid = _owner(snap.reference)
                if uid is not None and (not uids or uids[-1] != uid):
                    uids.append(uid)
            if len(snaps) < want:
                return uids, True
            last = snaps[-1].reference
            owner = _owner(last)
            # jump past the rest of the last learner's documents (or past a stray document)
            past = last if owner is None else self.db.document("users", owner, group, PAST_EVERY_ID)
        return uids, False

    def learner_state(self, uid: str) -> LearnerState:
        user = self.db.collection("users").document(uid)
        state = LearnerState(uid=uid)
        for snap in user.collection("resource_progress").stream():
            state.resources[snap.id] = docs.resource_progress(snap.id, snap.to_dict() or {})
        for snap in user.collection("module_progress").stream():
            state.modules[snap.id] = docs.module_progress(snap.id, snap.to_dict() or {})
        for snap in user.collection("pathway_progress").stream():
            state.pathways[snap.id] = docs.pathway_progress(snap.id, snap.to_dict() or {})
        for snap in user.collection("resource_submissions").stream():
            state.submissions[snap.id] = from_document(
                ResourceSubmissions, "resource_id", snap.id, snap.to_dict() or {}, {"user_id": uid}
            )
        return state


class FirestoreRunLog(LazyClient):
    def _ref(self, run_id: str) -> Any:
        return self.db.collection(RUNS).document(run_id)

    @staticmethod
    def _meta(task: ReconcileBatch) -> dict[str, Any]:
        return {"run_id": task.run_id, "pathway_id": task.pathway_id, "dry_run": task.dry_run}

    def start_run(self, task: ReconcileBatch, at: dt.datetime) -> None:
        self._ref(task.run_id).set({**self._meta(task), "started_at": at}, merge=True)

    def record_batch(self, task: ReconcileBatch, result: BatchResult) -> None:
        update: dict[str, Any] = {
            **self._meta(task),
            "batches": {str(result.batch): result.model_dump(mode="json")},
            "updated_at": result.finished_at,
        }
        if result.next_cursor is None:
            update |= {"done": True, "finished_at": result.finished_at, "last_batch": result.batch}
        self._ref(task.run_id).set(update, merge=True)

    def report(self, run_id: str) -> RunReport | None:
        snap = self._ref(run_id).get()
        if not snap.exists:
            return None
        data: dict[str, Any] = snap.to_dict() or {}
        batches = [BatchResult.model_validate(b) for b in (data.get("batches") or {}).values()]
        return summarize(run_id, data, batches)
