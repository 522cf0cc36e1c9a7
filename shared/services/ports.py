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
    ) -> list[Submission]:
        """Submissions awaiting review, oldest upload first; ``scope`` is one filter,
        ``("pathway_id" | "module_id" | "resource_id", id)``."""
        ...

    def submissions(self, ids: Sequence[str]) -> dict[str, Submission]:
        """Those of the submissions that exist (one batched read by key)."""
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

    def resources(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]: ...

    def modules(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]: ...

    def pathway(self, uid: str, pathway_id: str) -> PathwayProgress | None: ...


class RollupStore(UnitOfWork, Protocol):
    """The rollups need only the unit of work (``shared.services.rollups``)."""


@dataclass
class LearnerState:
    """Every progress document of one learner, and the per-resource submission indexes, as stored
    (keyed by document id)."""

    uid: str
    resources: dict[str, ResourceProgress] = field(default_factory=dict)
    modules: dict[str, ModuleProgress] = field(default_factory=dict)
    pathways: dict[str, PathwayProgress] = field(default_factory=dict)
    submissions: dict[str, ResourceSubmissions] = field(default_factory=dict)


class LearnerIndex(Protocol):
    """Learner-wide reads for the tasks, outside any transaction (plain queries)."""

    def learners_in_module(self, module_id: str) -> list[str]: ...

    def learner_page(self, after: str | None, limit: int, pathway_id: str | None) -> list[str]:
        """Up to ``limit`` uids, ascending, all greater than ``after``, of learners with any
        progress document (in ``pathway_id`` only, when given). Fewer than ``limit``: the end."""
        ...

    def learner_state(self, uid: str) -> LearnerState: ...


class CatalogReader(Protocol):
    def pathways(self, ids: Sequence[str]) -> dict[str, Pathway]: ...

    def modules(self, ids: Sequence[str]) -> dict[str, Module]: ...

    def resources(self, ids: Sequence[str]) -> dict[str, Resource]: ...


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
