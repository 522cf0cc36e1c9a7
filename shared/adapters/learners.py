"""Firestore behind the learner-wide tasks: which learners have progress, a learner's documents (the
``LearnerIndex`` port: plain queries, never inside a transaction), and the reconcile run log.

Which learners
    ``learner_page`` (reconcile, and re-evaluation: a reconcile run paged by ``pathway_id``): the
    uids with a document in ``resource_progress``, ``module_progress`` or ``pathway_progress``
    (a re-evaluation: the last two only), by collection-group queries, optionally
    ``pathway_id ==``, in document-name order, after a cursor uid and up to a lane's last uid
    (``start_after`` / ``end_at`` cursors ``users/{uid}/{group}/\uf8ff``). Each query reads names
    only and jumps past the last learner's remaining documents, so a page costs one read per
    document of its learners in the group (whole learners), never more than ``limit`` per query.
    Production needs collection-group single-field indexes on ``pathway_id``
    (firestore.indexes.json).

Lanes (:func:`shared.services.reconcile.lane_bounds`): ``learner_count`` is an aggregation
``count()`` of ``pathway_progress`` (of the pathway) between two uids, ``learner_at`` an offset
query on the same index (``offset(skip).limit(1)``, names only); both use the single-field index
the pages use.

Documents: ``reconcile_runs/{run_id}``: the run's parameters, its lanes (``lanes``, ``bounds``),
``lanes_done`` and ``done`` once every lane is (both written in a transaction, by a lane's last
batch); ``reconcile_runs/{run_id}/batches/{lane}-{batch}``: each batch's result, replaced by a
redelivery of the same batch. One document per batch (not a map in the run document): lanes
record at once, and a document written by 20 lanes every few seconds would be contended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from shared.adapters import unit_of_work as docs
from shared.adapters.firestore import LazyClient, from_document, run_transaction
from shared.domain import uploads
from shared.domain.models import ResourceSubmissions
from shared.services.ports import LearnerState, StateKeys
from shared.services.reconcile import BatchResult, ReconcileBatch, RunReport, summarize

PROGRESS_GROUPS = ("resource_progress", "module_progress", "pathway_progress")
ROLLUP_GROUPS = ("module_progress", "pathway_progress")  # a re-evaluation's learners
LANE_GROUP = "pathway_progress"  # one document per learner and pathway: sizes and splits lanes
RUNS = "reconcile_runs"
BATCHES = "batches"  # reconcile_runs/{run_id}/batches/{lane}-{batch}
PAST_EVERY_ID = "\uf8ff"  # sorts after every document id of this product ([A-Za-z0-9_-])


def _owner(ref: Any) -> str | None:
    user = ref.parent.parent
    if user is None or user.parent.id != "users":
        return None
    uid: str = user.id
    return uid


class FirestoreLearnerIndex(LazyClient):
    # ---- reconcile: pages of learners, and one learner's documents ------------------------------

    def learner_page(
        self,
        after: str | None,
        limit: int,
        pathway_id: str | None,
        until: str | None = None,
        *,
        with_resources: bool = True,
    ) -> list[str]:
        found: set[str] = set()
        bound: str | None = None
        groups = PROGRESS_GROUPS if with_resources else ROLLUP_GROUPS
        for group in groups:
            uids, exhausted = self._group_uids(group, after, limit, pathway_id, until)
            found.update(uids)
            if not exhausted:
                # this group has more learners after its last one: nothing past it is known yet
                bound = uids[-1] if bound is None else min(bound, uids[-1])
        return sorted(u for u in found if bound is None or u <= bound)[:limit]

    def _past(self, uid: str, group: str) -> Any:
        """A cursor just past every document of learner ``uid`` in ``group``."""
        from google.cloud.firestore_v1.base_document import DocumentSnapshot

        ref = self.db.document("users", uid, group, PAST_EVERY_ID)
        return DocumentSnapshot(ref, {}, True, None, None, None)

    def _ranged(
        self, group: str, pathway_id: str | None, after: str | None, until: str | None
    ) -> Any:
        """``group``'s documents (of ``pathway_id``) of the learners in ``(after, until]``."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.db.collection_group(group)
        if pathway_id is not None:
            query = query.where(filter=FieldFilter("pathway_id", "==", pathway_id))
        if after is not None:
            query = query.start_after(self._past(after, group))
        if until is not None:
            query = query.end_at(self._past(until, group))
        return query

    def _group_uids(
        self,
        group: str,
        after: str | None,
        limit: int,
        pathway_id: str | None,
        until: str | None = None,
    ) -> tuple[list[str], bool]:
        """The first ``limit`` uids after ``after`` (at most ``until``) with a document in
        ``group``; and whether the group has no more."""
        from google.cloud.firestore_v1.base_document import DocumentSnapshot

        uids: list[str] = []
        past = None if after is None else self._past(after, group)
        while len(uids) < limit:
            want = limit - len(uids)
            query = self._ranged(group, pathway_id, None, until)
            if past is not None:
                query = query.start_after(past)
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
            past = (
                self._past(owner, group)
                if owner is not None
                else DocumentSnapshot(last, {}, True, None, None, None)
            )
        return uids, False

    def learner_count(
        self, pathway_id: str | None, after: str | None = None, until: str | None = None
    ) -> int:
        query = self._ranged(LANE_GROUP, pathway_id, after, until)
        result = query.count().get()
        return int(result[0][0].value)

    def learner_at(self, after: str | None, skip: int, pathway_id: str | None) -> str | None:
        query = self._ranged(LANE_GROUP, pathway_id, after, None)
        snaps = list(query.select(["__name__"]).offset(skip).limit(1).stream())
        return _owner(snaps[0].reference) if snaps else None

    def learner_state(self, uid: str, keys: StateKeys | None = None) -> LearnerState:
        if keys is not None:
            return self._keyed_state(uid, keys)
        user = self.db.collection("users").document(uid)
        state = LearnerState(uid=uid)
        for snap in user.collection("resource_progress").stream():
            state.resources[snap.id] = docs.resource_progress(snap.id, snap.to_dict() or {})
        for snap in user.collection("module_progress").stream():
            state.modules[snap.id] = docs.module_progress(snap.id, snap.to_dict() or {})
        for snap in user.collection("pathway_progress").stream():
            state.pathways[snap.id] = docs.pathway_progress(snap.id, snap.to_dict() or {})
        for snap in user.collection("resource_submissions").stream():
            state.submissions[snap.id] = self._index(uid, snap)
        return state

    @staticmethod
    def _index(uid: str, snap: Any) -> ResourceSubmissions:
        return from_document(
            ResourceSubmissions, "resource_id", snap.id, snap.to_dict() or {}, {"user_id": uid}
        )

    def _keyed_state(self, uid: str, keys: StateKeys) -> LearnerState:
        """The documents ``keys`` names, in one batch get (and a second for the indexes of
        progress with an upload status outside ``upload_ids``). Not a subcollection query: the
        emulator answers those by scanning the collection group, which grows with every learner
        (measured: 17 ms at 2,000 learners, 97 ms at 20,000, per query)."""
        user = self.db.collection("users").document(uid)
        wanted = [
            *(user.collection("resource_progress").document(r) for r in keys.resource_ids),
            *(user.collection("module_progress").document(m) for m in keys.module_ids),
            *(user.collection("pathway_progress").document(p) for p in keys.pathway_ids),
            *(user.collection("resource_submissions").document(r) for r in keys.upload_ids),
        ]
        state = LearnerState(uid=uid)
        self._fill(uid, state, wanted)
        more = sorted(
            rid
            for rid, p in state.resources.items()
            if p.status in uploads.UPLOAD_STATUSES and rid not in keys.upload_ids
        )
        if more:
            self._fill(
                uid, state, [user.collection("resource_submissions").document(r) for r in more]
            )
        return state

    def _fill(self, uid: str, state: LearnerState, refs: list[Any]) -> None:
        if not refs:
            return
        for snap in self.db.get_all(refs):
            if not snap.exists:
                continue
            data = snap.to_dict() or {}
            group = snap.reference.parent.id
            if group == "resource_progress":
                state.resources[snap.id] = docs.resource_progress(snap.id, data)
            elif group == "module_progress":
                state.modules[snap.id] = docs.module_progress(snap.id, data)
            elif group == "pathway_progress":
                state.pathways[snap.id] = docs.pathway_progress(snap.id, data)
            else:
                state.submissions[snap.id] = self._index(uid, snap)


class FirestoreRunLog(LazyClient):
    def _ref(self, run_id: str) -> Any:
        return self.db.collection(RUNS).document(run_id)

    @staticmethod
    def _meta(task: ReconcileBatch) -> dict[str, Any]:
        return {"run_id": task.run_id, "pathway_id": task.pathway_id, "dry_run": task.dry_run}

    def start_run(
        self, task: ReconcileBatch, at: dt.datetime, bounds: Sequence[str] = ()
    ) -> list[str]:
        ref = self._ref(task.run_id)

        def body(txn: Any) -> list[str]:
            snap = ref.get(transaction=txn)
            data: dict[str, Any] = (snap.to_dict() or {}) if snap.exists else {}
            if isinstance(data.get("bounds"), list):
                return [str(b) for b in data["bounds"]]  # started before: its lanes stand
            txn.set(
                ref,
                {
                    **self._meta(task),
                    "started_at": at,
                    "lanes": len(bounds) + 1,
                    "bounds": [*bounds],
                },
                merge=True,
            )
            return [*bounds]

        return run_transaction(self.db, f"{RUNS}/{task.run_id}", body)

    def record_batch(self, task: ReconcileBatch, result: BatchResult) -> None:
        ref = self._ref(task.run_id)
        entry = {**result.model_dump(mode="json"), "run_id": task.run_id}
        ref.collection(BATCHES).document(f"{result.lane}-{result.batch}").set(entry)
        if result.next_cursor is not None:
            return

        def body(txn: Any) -> None:
            snap = ref.get(transaction=txn)
            data: dict[str, Any] = (snap.to_dict() or {}) if snap.exists else {}
            count = data.get("lanes")
            lanes = count if isinstance(count, int) else 1
            done = {int(x) for x in data.get("lanes_done") or []} | {result.lane}
            update: dict[str, Any] = {
                **self._meta(task),
                "lanes_done": sorted(done),
                "updated_at": result.finished_at,
            }
            if len(done) >= lanes:
                update |= {"done": True, "finished_at": result.finished_at}
            txn.set(ref, update, merge=True)

        run_transaction(self.db, f"{RUNS}/{task.run_id}", body)

    def is_done(self, run_id: str) -> bool:
        snap = self._ref(run_id).get()
        return bool(snap.exists and (snap.to_dict() or {}).get("done"))

    def report(self, run_id: str) -> RunReport | None:
        ref = self._ref(run_id)
        snap = ref.get()
        if not snap.exists:
            return None
        data: dict[str, Any] = snap.to_dict() or {}
        batches = [
            BatchResult.model_validate(b.to_dict() or {}) for b in ref.collection(BATCHES).stream()
        ]
        return summarize(run_id, data, batches)
