"""The Firestore unit of work: :class:`FirestoreTx` (the ``Tx`` port of ``shared.services.ports``)
and :class:`FirestoreUnitOfWork`, whose ``transact`` runs a use case's function in one transaction
with the one runner of :mod:`shared.adapters.firestore`. Every store (progress, submissions) is a
unit of work plus its plain reads.

Inside a transaction every read is BY KEY (single documents, or a batch of keys in one round
trip): a query inside a transaction locks the queried range, so it conflicts with every insert
into the collection. Writes are buffered by the client until commit. Documents are mapped with
``to_document`` / ``from_document`` only.

Documents:
- ``submissions/{submission_id}`` (:class:`~shared.domain.models.Submission`);
- ``users/{uid}/resource_submissions/{resource_id}``: the learner's per-resource index of
  submissions (:class:`~shared.domain.models.ResourceSubmissions`);
- ``users/{uid}/resource_progress/{rid}``, ``module_progress/{mid}``, ``pathway_progress/{pid}``
  (merged, so fields other writers own survive);
- ``users/{uid}/progress_events/{event_id}`` (created, never overwritten: a collision fails);
- ``rate_limits/{uid}_upload_url``: ``{"stamps": [timestamps of recent upload URLs]}``;
- ``audit_log/{submission_id}-{action}[-{generation}]``;
- ``users/{uid}/notifications/{submission_id}-{decision}``;
- ``cohorts/{cohort_id}``, ``cohorts/{cohort_id}/members/{uid}``, ``memberships/{uid}`` and
  ``cohort_invites/{code_key}`` (:mod:`shared.domain.cohorts`).
- ``certificates/{certificate_id}`` and ``users/{uid}/certificates/{pathway_id}`` (the link),
  written together (:mod:`shared.services.certificates`); ``users/{uid}`` (the profile) read.
- ``catalog_meta/version``: ``{"version": n}``, read by key by every rollup transaction (issue 13).
- ``cohorts/{cid}/dashboard/{pid}/rows/{uid}`` (:class:`~shared.domain.dashboard.Row`), and its
  counter shards ``cohorts/{cid}/dashboard/{pid}/counters/{n}`` and ``cohorts/{cid}/live_counts/{n}``,
  changed only by increments (never read in a transaction): the cohort dashboard
  (:mod:`shared.adapters.dashboard_store`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from shared.adapters.firestore import (
    ATTEMPTS,
    LazyClient,
    from_document,
    plain_read,
    run_transaction,
    to_document,
)
from shared.domain.certificates import Certificate, CertificateLink
from shared.domain.cohorts import Cohort, CohortMember, Invite, Membership
from shared.domain.dashboard import Row, shard_of
from shared.domain.models import (
    LearnerProfile,
    ModuleProgress,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceSubmissions,
    Submission,
)
from shared.services.audit import AuditEntry
from shared.services.ports import Tx

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud import firestore

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

SUBMISSIONS = "submissions"
RATE_LIMITS = "rate_limits"
AUDIT_LOG = "audit_log"
CERTIFICATES = "certificates"
CATALOG_META, CATALOG_VERSION = "catalog_meta", "version"  # bumped by `catalog apply` (issue 13)
RESOURCES = "resources"  # the catalog's resources, read by a completing transaction (issue 13)


# ---- the mapping of learner documents (documents written by other flows may lack fields) --------


def resource_progress(doc_id: str, data: dict[str, Any]) -> ResourceProgress:
    defaults = {"pathway_id": "", "module_id": ""}
    return from_document(ResourceProgress, "resource_id", doc_id, data, defaults)


def module_progress(doc_id: str, data: dict[str, Any]) -> ModuleProgress:
    return from_document(ModuleProgress, "module_id", doc_id, data, {"pathway_id": ""})


def pathway_progress(doc_id: str, data: dict[str, Any]) -> PathwayProgress:
    return from_document(PathwayProgress, "pathway_id", doc_id, data)


def submission(doc_id: str, data: dict[str, Any]) -> Submission:
    return from_document(Submission, "submission_id", doc_id, data)


def certificate(doc_id: str, data: dict[str, Any]) -> Certificate:
    return from_document(Certificate, "certificate_id", doc_id, data)


def certificate_link(doc_id: str, data: dict[str, Any]) -> CertificateLink:
    return from_document(CertificateLink, "pathway_id", doc_id, data)


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


COHORTS = "cohorts"
MEMBERS = "members"
MEMBERSHIPS = "memberships"
INVITES = "cohort_invites"


def cohort_doc(doc_id: str, data: dict[str, Any]) -> Cohort:
    return from_document(Cohort, "cohort_id", doc_id, data, {"name": doc_id})


def member_doc(cohort_id: str, uid: str, data: dict[str, Any]) -> CohortMember:
    return from_document(CohortMember, "uid", uid, data, {"cohort_id": cohort_id})


def membership_doc(uid: str, data: dict[str, Any]) -> Membership:
    return from_document(Membership, "uid", uid, data)


def cohort_ref(db: firestore.Client, collection: str, doc_id: str) -> Any:
    return db.collection(collection).document(doc_id)


def member_ref(db: firestore.Client, cohort_id: str, uid: str) -> Any:
    return db.collection(COHORTS).document(cohort_id).collection(MEMBERS).document(uid)


# ---- the cohort dashboard's rows and counters -------------------------------------------------


def dashboard_row(doc_id: str, data: dict[str, Any]) -> Row:
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
        return cohort_ref(self.db, COHORTS, cid)

    def rows(self, cid: str, pid: str) -> Any:
        return self.cohort(cid).collection("dashboard").document(pid).collection("rows")

    def counters(self, cid: str, pid: str) -> Any:
        return self.cohort(cid).collection("dashboard").document(pid).collection("counters")

    def live(self, cid: str) -> Any:
        return self.cohort(cid).collection("live_counts")


class Refs:
    """Document references of this product's collections."""

    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def user(self, uid: str) -> Any:
        return self.db.collection("users").document(uid)

    def learner(self, uid: str, collection: str, ids: Sequence[str]) -> list[Any]:
        user = self.user(uid)
        return [user.collection(collection).document(i) for i in dict.fromkeys(ids)]

    def submission(self, submission_id: str) -> Any:
        return self.db.collection(SUBMISSIONS).document(submission_id)

    def rate(self, uid: str) -> Any:
        return self.db.collection(RATE_LIMITS).document(f"{uid}_upload_url")

    def get_many(
        self,
        refs: list[Any],
        parse: Callable[[str, dict[str, Any]], M],
        transaction: Any = None,
    ) -> dict[str, M]:
        """The documents that exist among ``refs``, in one batched read, by id."""
        if not refs:
            return {}
        if transaction is not None:
            found = list(self.db.get_all(refs, transaction=transaction))
        else:
            with plain_read():
                found = list(self.db.get_all(refs))
        return {s.id: parse(s.id, s.to_dict() or {}) for s in found if s.exists}


class _Discarded:
    """The write side of :meth:`FirestoreUnitOfWork.peek`: every write is dropped."""

    def set(self, *args: Any, **kwargs: Any) -> None:
        return None

    def create(self, *args: Any, **kwargs: Any) -> None:
        return None

    def delete(self, *args: Any, **kwargs: Any) -> None:
        return None


class FirestoreTx:
    """One transaction. Reads go through the transaction, by key; writes are buffered until
    commit. (With ``transaction=None`` and ``writes`` given: :meth:`FirestoreUnitOfWork.peek`.)"""

    def __init__(
        self, db: firestore.Client, transaction: firestore.Transaction | None, writes: Any = None
    ) -> None:
        self.refs = Refs(db)
        self.read = transaction  # reads go through it (None: plain reads)
        self.tx: Any = transaction if writes is None else writes

    def _get(self, ref: Any) -> dict[str, Any] | None:
        if self.read is None:
            with plain_read():
                snap = ref.get()
        else:
            snap = ref.get(transaction=self.read)
        data: dict[str, Any] | None = (snap.to_dict() or {}) if snap.exists else None
        return data

    def _one(self, uid: str, collection: str, doc_id: str) -> Any:
        return self.refs.learner(uid, collection, [doc_id])[0]

    # reads
    def submission(self, submission_id: str) -> Submission | None:
        data = self._get(self.refs.submission(submission_id))
        return None if data is None else submission(submission_id, data)

    def progress(self, uid: str, resource_id: str) -> ResourceProgress | None:
        data = self._get(self._one(uid, "resource_progress", resource_id))
        return None if data is None else resource_progress(resource_id, data)

    def progresses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        refs = self.refs.learner(uid, "resource_progress", resource_ids)
        return self.refs.get_many(refs, resource_progress, self.read)

    def module_progress(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]:
        refs = self.refs.learner(uid, "module_progress", module_ids)
        return self.refs.get_many(refs, module_progress, self.read)

    def pathway_progress(self, uid: str, pathway_id: str) -> PathwayProgress | None:
        data = self._get(self._one(uid, "pathway_progress", pathway_id))
        return None if data is None else pathway_progress(pathway_id, data)

    def resource_submissions(self, uid: str, resource_id: str) -> ResourceSubmissions:
        data = self._get(self._one(uid, "resource_submissions", resource_id)) or {}
        return from_document(
            ResourceSubmissions, "resource_id", resource_id, data, {"user_id": uid}
        )

    def rate_stamps(self, uid: str) -> list[dt.datetime]:
        data = self._get(self.refs.rate(uid)) or {}
        return [s for s in (_aware(v) for v in data.get("stamps", [])) if s is not None]

    def notification_exists(self, uid: str, notification_id: str) -> bool:
        return self._get(self._one(uid, "notifications", notification_id)) is not None

    def catalog_version(self) -> int:
        data = self._get(self.refs.db.collection(CATALOG_META).document(CATALOG_VERSION)) or {}
        version = data.get("version", 0)
        return version if isinstance(version, int) else 0

    def resource(self, resource_id: str) -> Resource | None:
        data = self._get(self.refs.db.collection(RESOURCES).document(resource_id))
        return None if data is None else from_document(Resource, "resource_id", resource_id, data)

    # writes
    def put_submission(self, sub: Submission) -> None:
        self.tx.set(self.refs.submission(sub.submission_id), to_document(sub))

    def put_progress(self, uid: str, progress: ResourceProgress) -> None:
        ref = self._one(uid, "resource_progress", progress.resource_id)
        self.tx.set(ref, to_document(progress), merge=True)

    def put_module_progress(self, uid: str, module: ModuleProgress) -> None:
        ref = self._one(uid, "module_progress", module.module_id)
        self.tx.set(ref, to_document(module), merge=True)

    def put_pathway_progress(self, uid: str, pathway: PathwayProgress) -> None:
        ref = self._one(uid, "pathway_progress", pathway.pathway_id)
        self.tx.set(ref, to_document(pathway), merge=True)

    def put_resource_submissions(self, index: ResourceSubmissions) -> None:
        ref = self._one(index.user_id, "resource_submissions", index.resource_id)
        self.tx.set(ref, to_document(index))

    def add_progress_event(self, uid: str, event_id: str, event: dict[str, Any]) -> None:
        self.tx.create(self._one(uid, "progress_events", event_id), event)

    def put_rate_stamps(self, uid: str, stamps: list[dt.datetime]) -> None:
        self.tx.set(self.refs.rate(uid), {"stamps": stamps, "user_id": uid})

    def put_audit(self, entry: AuditEntry) -> None:
        ref = self.refs.db.collection(AUDIT_LOG).document(entry.entry_id)
        self.tx.set(ref, to_document(entry))

    def put_notification(self, uid: str, notification_id: str, data: dict[str, Any]) -> None:
        self.tx.set(self._one(uid, "notifications", notification_id), data)

    # cohorts: read by key, written whole (shared.domain.cohorts)
    def membership(self, uid: str) -> Membership | None:
        data = self._get(cohort_ref(self.refs.db, MEMBERSHIPS, uid))
        return None if data is None else membership_doc(uid, data)

    def cohort(self, cohort_id: str) -> Cohort | None:
        data = self._get(cohort_ref(self.refs.db, COHORTS, cohort_id))
        return None if data is None else cohort_doc(cohort_id, data)

    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]:
        refs = [cohort_ref(self.refs.db, COHORTS, c) for c in dict.fromkeys(cohort_ids)]
        return self.refs.get_many(refs, cohort_doc, self.read)

    def member(self, cohort_id: str, uid: str) -> CohortMember | None:
        data = self._get(member_ref(self.refs.db, cohort_id, uid))
        return None if data is None else member_doc(cohort_id, uid, data)

    def invite(self, code_key: str) -> Invite | None:
        data = self._get(cohort_ref(self.refs.db, INVITES, code_key))
        return None if data is None else from_document(Invite, "code_key", code_key, data)

    def put_cohort(self, cohort: Cohort) -> None:
        self.tx.set(cohort_ref(self.refs.db, COHORTS, cohort.cohort_id), to_document(cohort))

    def put_member(self, member: CohortMember) -> None:
        self.tx.set(member_ref(self.refs.db, member.cohort_id, member.uid), to_document(member))

    def delete_member(self, cohort_id: str, uid: str) -> None:
        self.tx.delete(member_ref(self.refs.db, cohort_id, uid))

    def put_membership(self, membership: Membership) -> None:
        ref = cohort_ref(self.refs.db, MEMBERSHIPS, membership.uid)
        self.tx.set(ref, to_document(membership))

    def put_invite(self, invite: Invite) -> None:
        self.tx.set(cohort_ref(self.refs.db, INVITES, invite.code_key), to_document(invite))

    # certificates
    def certificate_link(self, uid: str, pathway_id: str) -> CertificateLink | None:
        data = self._get(self._one(uid, CERTIFICATES, pathway_id))
        return None if data is None else certificate_link(pathway_id, data)

    def certificate(self, certificate_id: str) -> Certificate | None:
        data = self._get(self.refs.db.collection(CERTIFICATES).document(certificate_id))
        return None if data is None else certificate(certificate_id, data)

    def learner_profile(self, uid: str) -> LearnerProfile | None:
        data = self._get(self.refs.user(uid))
        return None if data is None else from_document(LearnerProfile, "user_id", uid, data)

    def put_certificate(self, cert: Certificate) -> None:
        ref = self.refs.db.collection(CERTIFICATES).document(cert.certificate_id)
        self.tx.set(ref, to_document(cert))

    def put_certificate_link(self, uid: str, link: CertificateLink) -> None:
        self.tx.set(self._one(uid, CERTIFICATES, link.pathway_id), to_document(link))

    # the cohort dashboard (shared.services.dashboard): a row, then the increments of its shard
    def row(self, cohort_id: str, pathway_id: str, uid: str) -> Row | None:
        data = self._get(DashboardPaths(self.refs.db).rows(cohort_id, pathway_id).document(uid))
        return None if data is None else dashboard_row(uid, data)

    def put_row(self, row: Row) -> None:
        ref = DashboardPaths(self.refs.db).rows(row.cohort_id, row.pathway_id).document(row.uid)
        self.tx.set(ref, to_document(row))

    def delete_row(self, cohort_id: str, pathway_id: str, uid: str) -> None:
        self.tx.delete(DashboardPaths(self.refs.db).rows(cohort_id, pathway_id).document(uid))

    def add_counters(
        self, cohort_id: str, pathway_id: str, uid: str, change: Mapping[str, int]
    ) -> None:
        from google.cloud import firestore

        paths, shard = DashboardPaths(self.refs.db), shard_of(uid)
        ref = paths.counters(cohort_id, pathway_id).document(str(shard))
        self.tx.set(ref, _nest(change, firestore.Increment), merge=True)
        awaiting = change.get("awaiting_review", 0)
        if awaiting:
            live = paths.live(cohort_id).document(str(shard))
            self.tx.set(
                live,
                {
                    "awaiting_review": firestore.Increment(awaiting),
                    "pathways": {pathway_id: firestore.Increment(awaiting)},
                },
                merge=True,
            )


class FirestoreUnitOfWork(LazyClient):
    """The ``UnitOfWork`` port; the Firestore client is created on first use."""

    def __init__(self, db: firestore.Client | None = None, attempts: int = ATTEMPTS) -> None:
        super().__init__(db)
        self.attempts = attempts

    @property
    def refs(self) -> Refs:
        return Refs(self.db)

    def transact(self, work: Callable[[Tx], T], *, lock: str) -> T:
        db = self.db
        return run_transaction(
            db, lock, lambda txn: work(FirestoreTx(db, txn)), attempts=self.attempts
        )

    def peek(self, work: Callable[[Tx], T]) -> T:
        """``work`` run once against the documents as they are now, read by key outside any
        transaction, its writes dropped: what a transaction would decide right now, for a
        fraction of its cost (no locks, no commit)."""
        return work(FirestoreTx(self.db, None, _Discarded()))
