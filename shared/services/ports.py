"""Every port the use cases depend on, in one place: what they need from Firestore, Cloud Storage,
Cloud Tasks and the catalog. The adapters in ``shared/adapters`` implement them; the unit tests'
fakes (``tests/unit/fakes.py``) implement them in memory.

Firestore is reached through ONE unit of work: a use case hands a function of a :class:`Tx` to
``transact`` (the transaction runner of ``shared.adapters.firestore``: bounded attempts, jittered
backoff, retry on ABORTED and lock timeouts, then :class:`~shared.errors.Unavailable`). The function
may run more than once, so it reads everything first, then writes, and has no other side effect.
Every read inside it is by key: a query inside a transaction conflicts with every insert into the
queried collection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from shared.domain.certificates import Certificate, CertificateLink
from shared.domain.cohorts import Cohort, CohortMember, Invite, Membership
from shared.domain.dashboard import Row
from shared.domain.models import (
    LearnerProfile,
    Module,
    ModuleProgress,
    Pathway,
    PathwayProgress,
    Resource,
    ResourceProgress,
    ResourceStatus,
    ResourceSubmissions,
    Submission,
    SubmissionStatus,
)
from shared.services.audit import AuditEntry

T = TypeVar("T")

ModuleCompute = Callable[
    [dict[str, ResourceProgress], ModuleProgress | None], ModuleProgress | None
]
PathwayCompute = Callable[
    [dict[str, ModuleProgress], PathwayProgress | None], PathwayProgress | None
]


# ---- Firestore: the unit of work ---------------------------------------------------------------


class Tx(Protocol):
    """One Firestore transaction: every read (by key) before the first write."""

    def submission(self, submission_id: str) -> Submission | None: ...
    def progress(self, uid: str, resource_id: str) -> ResourceProgress | None: ...
    def progresses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        """Those of the resources' progress documents that exist (one batched read)."""
        ...

    def module_progress(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]: ...
    def pathway_progress(self, uid: str, pathway_id: str) -> PathwayProgress | None: ...
    def resource_submissions(self, uid: str, resource_id: str) -> ResourceSubmissions:
        """The learner's per-resource index (empty when there is none yet)."""
        ...

    def rate_stamps(self, uid: str) -> list[dt.datetime]: ...
    def notification_exists(self, uid: str, notification_id: str) -> bool: ...
    def catalog_version(self) -> int:
        """``catalog_meta/version`` (0 when there is none), read by key (issue 13)."""
        ...

    def put_submission(self, submission: Submission) -> None: ...
    def put_progress(self, uid: str, progress: ResourceProgress) -> None: ...
    def put_module_progress(self, uid: str, module: ModuleProgress) -> None: ...
    def put_pathway_progress(self, uid: str, pathway: PathwayProgress) -> None: ...
    def put_resource_submissions(self, index: ResourceSubmissions) -> None: ...
    def add_progress_event(self, uid: str, event_id: str, event: dict[str, Any]) -> None: ...
    def put_rate_stamps(self, uid: str, stamps: list[dt.datetime]) -> None: ...
    def put_audit(self, entry: AuditEntry) -> None: ...
    def put_notification(self, uid: str, notification_id: str, data: dict[str, Any]) -> None: ...

    # cohorts (shared.services.cohorts): every read by key
    def membership(self, uid: str) -> Membership | None: ...
    def cohort(self, cohort_id: str) -> Cohort | None: ...
    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]: ...
    def member(self, cohort_id: str, uid: str) -> CohortMember | None: ...
    def invite(self, code_key: str) -> Invite | None: ...
    def put_cohort(self, cohort: Cohort) -> None: ...
    def put_member(self, member: CohortMember) -> None: ...
    def delete_member(self, cohort_id: str, uid: str) -> None: ...
    def put_membership(self, membership: Membership) -> None: ...
    def put_invite(self, invite: Invite) -> None: ...
    # certificates (shared.services.certificates)
    def certificate_link(self, uid: str, pathway_id: str) -> CertificateLink | None: ...
    def certificate(self, certificate_id: str) -> Certificate | None: ...
    def learner_profile(self, uid: str) -> LearnerProfile | None: ...
    def put_certificate(self, certificate: Certificate) -> None: ...
    def put_certificate_link(self, uid: str, link: CertificateLink) -> None: ...
    # the cohort dashboard (shared.services.dashboard): a row, then the increments of its shard
    def row(self, cohort_id: str, pathway_id: str, uid: str) -> Row | None: ...
    def put_row(self, row: Row) -> None: ...
    def delete_row(self, cohort_id: str, pathway_id: str, uid: str) -> None: ...
    def add_counters(
        self, cohort_id: str, pathway_id: str, uid: str, change: dict[str, int]
    ) -> None:
        """Increment the counters (dotted names) of the learner's shard, and the cohort's live
        awaiting-review count by ``change["awaiting_review"]`` (never read in a transaction)."""
        ...

    # catalog versions (issue 13): the catalog's resource document, by key, in the transaction
    def resource(self, resource_id: str) -> Resource | None:
        """``resources/{resource_id}``: what a completing transaction records the
        ``content_version`` of (``shared.domain.catalog_change.stamp_completion``)."""
        ...


class UnitOfWork(Protocol):
    def transact(self, work: Callable[[Tx], T], *, lock: str) -> T:
        """Run ``work`` in one transaction (maybe more than once); ``lock`` names what it
        contends on, so the process runs those one at a time."""
        ...


class SubmissionStore(UnitOfWork, Protocol):
    def get_submission(self, submission_id: str) -> Submission | None: ...
    def get_resource(self, resource_id: str) -> Resource | None: ...
    def list_submissions(self, uid: str, resource_id: str) -> list[Submission]: ...
    def pending(
        self,
        scope: tuple[str, str] | None,
        limit: int,
        after: tuple[dt.datetime, str] | None,
        *,
        audience: tuple[str, str] | None = None,
    ) -> list[Submission]:
        """Submissions awaiting review, oldest upload first; ``scope`` is one filter,
        ``("pathway_id" | "module_id" | "resource_id", id)``; ``audience`` one array-contains
        filter, ``("cohort_ids" | "instructor_uids", id)``."""
        ...

    def submissions(self, ids: Sequence[str]) -> dict[str, Submission]:
        """Those of the submissions that exist (one batched read by key)."""
        ...

    def decided(
        self,
        status: SubmissionStatus,
        limit: int,
        after: tuple[dt.datetime, str] | None,
        *,
        instructor: str | None = None,
    ) -> list[Submission]:
        """Submissions with ``status`` (approved or rejected), the latest decision first
        (``reviewed_at``, then id, descending), after the cursor ``after``; with ``instructor``,
        only those of that instructor's learners (``instructor_uids`` array-contains)."""
        ...

    def indexes(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ResourceSubmissions]:
        """The per-resource indexes of ``(uid, resource_id)`` that exist (one batched read)."""
        ...


class ProfileStore(Protocol):
    """``users/{uid}``: learner profiles (read by key; written only by the functions)."""

    def profile(self, uid: str) -> LearnerProfile | None: ...
    def profiles(self, uids: Sequence[str]) -> dict[str, LearnerProfile]: ...
    def put_profile(self, profile: LearnerProfile) -> None: ...


class StatusReader(Protocol):
    def statuses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceStatus]: ...


class ProgressStore(UnitOfWork, StatusReader, Protocol):
    """The unit of work (learner actions and rollups) and the plain reads of learner progress."""

    def peek(self, work: Callable[[Tx], T]) -> T:
        """See :meth:`RollupStore.peek` (the rollup triggers are given this store)."""
        ...

    def resources(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]: ...

    def modules(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]: ...

    def pathway(self, uid: str, pathway_id: str) -> PathwayProgress | None: ...


class RollupStore(UnitOfWork, Protocol):
    """The rollup triggers' unit of work (``shared.services.rollups``)."""

    def peek(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` once against the documents as they are now (reads by key, outside any
        transaction; writes dropped). A trigger asks first whether there is anything to write."""
        ...


class CertificateStore(UnitOfWork, Protocol):
    """The certificates' unit of work and their plain reads (``shared.services.certificates``)."""

    def get_certificate(self, certificate_id: str) -> Certificate | None:
        """``certificates/{certificate_id}`` (one read by key)."""
        ...

    def certificate_links(self, uid: str, limit: int) -> list[CertificateLink]:
        """Up to ``limit`` of ``users/{uid}/certificates/*`` (one query, outside transactions)."""
        ...


@dataclass
class LearnerState:
    """Every progress document of one learner, and the per-resource submission indexes, as stored
    (keyed by document id)."""

    uid: str
    resources: dict[str, ResourceProgress] = field(default_factory=dict)
    modules: dict[str, ModuleProgress] = field(default_factory=dict)
    pathways: dict[str, PathwayProgress] = field(default_factory=dict)
    submissions: dict[str, ResourceSubmissions] = field(default_factory=dict)


@dataclass(frozen=True)
class StateKeys:
    """The documents of a learner one pathway's re-evaluation reads, by key (issue 13): the
    progress of the pathway's resources, its modules and the pathway, and the submission indexes
    of ``upload_ids`` (the resources that take uploads). A resource progress with an upload status
    brings its index too, whatever the resource takes now."""

    resource_ids: tuple[str, ...]
    module_ids: tuple[str, ...]
    pathway_ids: tuple[str, ...]
    upload_ids: tuple[str, ...] = ()


class LearnerIndex(Protocol):
    """Learner-wide reads for the tasks, outside any transaction (plain queries)."""

    def learner_page(
        self,
        after: str | None,
        limit: int,
        pathway_id: str | None,
        until: str | None = None,
        *,
        with_resources: bool = True,
    ) -> list[str]:
        """Up to ``limit`` uids, ascending, all greater than ``after`` (and at most ``until``), of
        learners with any progress document (in ``pathway_id`` only, when given; with
        ``with_resources`` False, any module or pathway document). Fewer than ``limit``: the end."""
        ...

    # lanes of a reconcile run (issue 13): sizing and splitting by the pathway documents
    def learner_count(
        self, pathway_id: str | None, after: str | None = None, until: str | None = None
    ) -> int:
        """``pathway_progress`` documents (of ``pathway_id``) of the learners in ``(after,
        until]``: an aggregation count, no document read."""
        ...

    def learner_at(self, after: str | None, skip: int, pathway_id: str | None) -> str | None:
        """The learner of the ``pathway_progress`` document (of ``pathway_id``) ``skip`` places
        after the learners up to ``after``; ``None`` past the end."""
        ...

    def learner_state(self, uid: str, keys: StateKeys | None = None) -> LearnerState:
        """Every progress document and submission index of ``uid`` (``keys`` ``None``: four
        subcollection queries); or only the documents ``keys`` names, read by key."""
        ...


class CatalogReader(Protocol):
    def pathways(self, ids: Sequence[str]) -> dict[str, Pathway]: ...

    def modules(self, ids: Sequence[str]) -> dict[str, Module]: ...

    def resources(self, ids: Sequence[str]) -> dict[str, Resource]: ...


# ---- cohorts and scoped roles ---------------------------------------------------------------


class MembershipReader(Protocol):
    """``memberships/{uid}`` by key: what :func:`shared.services.access.may_supervise` reads
    (a :class:`Tx` is one too, for a check inside a transaction)."""

    def membership(self, uid: str) -> Membership | None: ...


class CohortStarts(MembershipReader, Protocol):
    """A learner's membership and their cohorts by key: where relative due dates count from
    (``shared.services.due``). A :class:`Tx` is one (inside a transaction), a
    :class:`CohortReader` too (plain reads)."""

    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]: ...


class ExcuseLog(Protocol):
    """A learner's excuse trail (``audit_log``, plain queries outside transactions)."""

    def excuse_entries(self, uid: str, pathway_id: str, limit: int) -> list[AuditEntry]:
        """The newest ``limit`` excuse and un-excuse entries of learner ``uid`` in the pathway,
        the latest first."""
        ...


class CohortReader(MembershipReader, Protocol):
    """The plain reads of the cohort layout (:mod:`shared.domain.cohorts`), outside transactions:
    the one reader of cohorts, members and memberships (the cohorts, the dashboard and the exports
    read them through it; queries only here, never in a transaction)."""

    def cohort(self, cohort_id: str) -> Cohort | None: ...
    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]: ...
    def list_cohorts(
        self, *, instructor_uid: str | None, after: str | None, limit: int
    ) -> list[Cohort]:
        """Cohorts by id ascending after ``after``; only those ``instructor_uid`` teaches when
        given (one array-contains query)."""
        ...

    def members(self, cohort_id: str, *, after: str | None, limit: int) -> list[CohortMember]:
        """A page of a cohort's members, by uid ascending after ``after``. Fewer than ``limit``:
        the end."""
        ...


class CohortStore(UnitOfWork, CohortReader, Protocol):
    """Cohorts, members, memberships and invites: the unit of work and the plain reads."""

    def submission_ids(self, uid: str) -> list[str]:
        """The ids of every submission of a learner (a query; ids only)."""
        ...


# ---- Cloud Storage and Cloud Tasks ----------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    url: str
    headers: dict[str, str]


class ObjectStore(Protocol):
    def signed_put(
        self, bucket: str, path: str, *, content_type: str, max_bytes: int, ttl: dt.timedelta
    ) -> SignedRequest: ...
    def signed_get(
        self,
        bucket: str,
        path: str,
        *,
        ttl: dt.timedelta,
        download_name: str,
        generation: int | None = None,
    ) -> str: ...
    def read_head(self, bucket: str, path: str, generation: int, size: int) -> bytes | None: ...
    def delete(self, bucket: str, path: str, generation: int | None) -> None: ...


class TaskQueue(Protocol):
    def enqueue(
        self,
        entry_point: str,
        task_id: str,
        payload: dict[str, Any],
        *,
        at: dt.datetime | None = None,
    ) -> None: ...


# ---- the cohort dashboard's aggregates (shared/adapters/dashboard_store.py) ---------------------


class DashboardStore(UnitOfWork, CohortReader, Protocol):
    """The unit of work (a row's sync: :meth:`Tx.row` ... :meth:`Tx.add_counters`), the cohort
    reads and the plain reads of the dashboard."""

    def counters(self, cohort_id: str, pathway_id: str) -> list[dict[str, int]]:
        """Every counter shard of the (cohort, pathway), as dotted names."""
        ...

    def live_counts(self, cohort_id: str) -> list[dict[str, int]]: ...
    def rows_page(
        self, cohort_id: str, pathway_id: str, after: str | None, limit: int
    ) -> list[Row]: ...
    def inactive(
        self, cohort_id: str, pathway_id: str, before: dt.datetime, limit: int
    ) -> list[Row]:
        """Rows whose ``last_activity_at`` is before ``before``, oldest first."""
        ...

    def all_rows(self, cohort_id: str, pathway_id: str) -> list[Row]: ...
    def truth(
        self, uid: str, resource_ids: Sequence[str]
    ) -> tuple[dict[str, ResourceProgress], tuple[str | None, str | None]]: ...


# ---- exports (issue 12 item 5): a cohort read a page of learners at a time --------------------


class ExportReads(CohortReader, Protocol):
    """Plain reads (never in a transaction) of a cohort (its members a page at a time) and of one
    learner at a time."""

    def learner_progress(
        self, uid: str, resource_ids: Sequence[str], module_ids: Sequence[str], pathway_id: str
    ) -> tuple[dict[str, ResourceProgress], dict[str, ModuleProgress], PathwayProgress | None]:
        """The learner's documents of one pathway that exist (one batched read by key)."""
        ...

    def learner_submissions(self, uid: str, resource_ids: Sequence[str]) -> list[Submission]:
        """Every submission of the learner for those resources (read by key through the
        per-resource indexes)."""
        ...

    def progress_events(
        self, uid: str, since: dt.datetime | None, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` of the learner's progress events (id, data) in id order (= time
        order), after the event id ``after``, at or after ``since``."""
        ...
