"""The composition root: the one place that builds what the entry points use.

Every entry point asks :func:`deps` for its dependencies (``deps().submissions``, ...). Each is built
on first use, once per process, so importing ``main.py`` (which every deployed function does)
constructs nothing, and a trigger that drops an event before asking for a dependency never creates
a client nor reads credentials. :attr:`Deps.built` names what has been built so far.

Tests replace any of them with :func:`override`::

    with bootstrap.override(submissions=fake_store, objects=fake_objects):
        ...  # everything not given is built from the real adapters, on first use
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from shared.config import Settings, settings
from shared.services.catalog import CachedCatalog
from shared.services.ports import (
    CatalogReader,
    CertificateStore,
    CohortStore,
    DashboardStore,
    ExcuseLog,
    ExportReads,
    LearnerIndex,
    ObjectStore,
    ProfileStore,
    ProgressStore,
    SubmissionStore,
    TaskQueue,
)

if TYPE_CHECKING:  # pragma: no cover
    from shared.services.exports import Sources
    from shared.services.reconcile import ReconcileBatch, Reconciler, RunLog, RunStarted

T = TypeVar("T")


class Deps:
    """The process's dependencies, each built lazily (or given, by :func:`override`)."""

    def __init__(self, **given: Any) -> None:
        unknown = set(given) - NAMES
        if unknown:
            raise TypeError(f"unknown dependencies: {sorted(unknown)}")
        self._given = given
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def built(self) -> set[str]:
        """The dependencies built from the real adapters so far (not the given ones)."""
        return set(self._made)

    def _get(self, name: str, build: Callable[[], T]) -> T:
        if name in self._given:
            return cast(T, self._given[name])
        with self._lock:
            if name not in self._made:
                self._made[name] = build()
            return cast(T, self._made[name])

    @property
    def settings(self) -> Settings:
        if "settings" in self._given:
            return cast(Settings, self._given["settings"])
        return settings()  # read from the environment once (tests clear its cache)

    @property
    def catalog(self) -> CatalogReader:
        """The catalog, cached for ``CATALOG_CACHE_SECONDS`` (default 30; 0 = off)."""

        def build() -> CatalogReader:
            from shared.adapters.progress_store import FirestoreCatalog

            ttl = float(os.environ.get("CATALOG_CACHE_SECONDS", "30"))
            inner = FirestoreCatalog()
            # version-checked (issue 13): emptied when a rollup finds catalog_meta/version newer
            return CachedCatalog(inner, ttl=ttl, version=inner.version)

        return self._get("catalog", build)

    @property
    def fresh_catalog(self) -> CatalogReader:
        """The catalog without the cache (for work that runs because the catalog changed)."""

        def build() -> CatalogReader:
            from shared.adapters.progress_store import FirestoreCatalog

            return FirestoreCatalog()

        return self._get("fresh_catalog", build)

    @property
    def progress(self) -> ProgressStore:
        """Learner progress, its reads and the rollups."""

        def build() -> ProgressStore:
            from shared.adapters.progress_store import FirestoreProgressStore

            return FirestoreProgressStore()

        return self._get("progress", build)

    @property
    def submissions(self) -> SubmissionStore:
        def build() -> SubmissionStore:
            from shared.adapters.submission_store import FirestoreSubmissionStore

            return FirestoreSubmissionStore()

        return self._get("submissions", build)

    @property
    def profiles(self) -> ProfileStore:
        """Learner profiles (``users/{uid}``)."""

        def build() -> ProfileStore:
            from shared.adapters.profile_store import FirestoreProfileStore

            return FirestoreProfileStore()

        return self._get("profiles", build)

    @property
    def cohorts(self) -> CohortStore:
        """Cohorts, members, memberships and invite codes (and the scope of instructors)."""

        def build() -> CohortStore:
            from shared.adapters.cohort_store import FirestoreCohortStore

            return FirestoreCohortStore()

        return self._get("cohorts", build)

    @property
    def objects(self) -> ObjectStore:
        def build() -> ObjectStore:
            from shared.adapters.storage import GcsObjects

            return GcsObjects()

        return self._get("objects", build)

    @property
    def tasks(self) -> TaskQueue:
        def build() -> TaskQueue:
            from shared.adapters.tasks import CloudTasksQueue

            return CloudTasksQueue()

        return self._get("tasks", build)

    @property
    def learners(self) -> LearnerIndex:
        def build() -> LearnerIndex:
            from shared.adapters.learners import FirestoreLearnerIndex

            return FirestoreLearnerIndex()

        return self._get("learners", build)

    @property
    def runs(self) -> RunLog:
        """The reconcile run log (``reconcile_runs``)."""

        def build() -> RunLog:
            from shared.adapters.learners import FirestoreRunLog

            return FirestoreRunLog()

        return self._get("runs", build)

    @property
    def reconcile_page_size(self) -> int:
        """``RECONCILE_PAGE_SIZE``: learners per reconcile batch (default 100, at most 500)."""
        from shared.services.reconcile import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

        def build() -> int:
            size = int(os.environ.get("RECONCILE_PAGE_SIZE", str(DEFAULT_PAGE_SIZE)))
            return max(1, min(MAX_PAGE_SIZE, size))

        return self._get("reconcile_page_size", build)

    @property
    def dashboard(self) -> DashboardStore:
        """The cohort dashboard's aggregates (``cohorts/{cid}/dashboard/...``)."""

        def build() -> DashboardStore:
            from shared.adapters.dashboard_store import FirestoreDashboardStore

            return FirestoreDashboardStore()

        return self._get("dashboard", build)

    @property
    def export_reads(self) -> ExportReads:
        """Cohorts, their members and one learner's documents, for the exports."""

        def build() -> ExportReads:
            from shared.adapters.export_reads import FirestoreExportReads

            return FirestoreExportReads()

        return self._get("export_reads", build)

    def export_sources(self) -> Sources:
        """What an export reads; ``XAPI_BASE_IRI`` (default ``https://<project>.web.app``) names
        the platform in xAPI statements."""
        from shared.services.exports import Sources

        base = os.environ.get("XAPI_BASE_IRI") or f"https://{self.settings.project_id}.web.app"
        return Sources(self.export_reads, self.profiles, self.catalog, base.rstrip("/"))

    @property
    def certificates(self) -> CertificateStore:
        """Certificates (``certificates/{id}``, ``users/{uid}/certificates/{pathway_id}``)."""

        def build() -> CertificateStore:
            from shared.adapters.certificate_store import FirestoreCertificateStore

            return FirestoreCertificateStore()

        return self._get("certificates", build)

    @property
    def reconcile_workers(self) -> int:
        """``RECONCILE_WORKERS``: learners a reconcile batch handles at once (default 4, 1-16)."""

        def build() -> int:
            return max(1, min(16, int(os.environ.get("RECONCILE_WORKERS", "4"))))

        return self._get("reconcile_workers", build)

    @property
    def excuse_log(self) -> ExcuseLog:
        """A learner's excuse trail in ``audit_log`` (the instructor's excuse screen)."""

        def build() -> ExcuseLog:
            from shared.adapters.excuse_log import FirestoreExcuseLog

            return FirestoreExcuseLog()

        return self._get("excuse_log", build)

    @property
    def reconcile_lane_size(self) -> int:
        """``RECONCILE_LANE_SIZE``: learners per lane of a reconcile run (default 1000)."""
        from shared.services.reconcile import DEFAULT_LANE_SIZE

        def build() -> int:
            return max(1, int(os.environ.get("RECONCILE_LANE_SIZE", str(DEFAULT_LANE_SIZE))))

        return self._get("reconcile_lane_size", build)

    @property
    def reconcile_max_lanes(self) -> int:
        """``RECONCILE_MAX_LANES``: lanes of a reconcile run at most (default 20, the queue's max
        concurrent dispatches; 1-100)."""
        from shared.services.reconcile import DEFAULT_MAX_LANES, LANES_LIMIT

        def build() -> int:
            wanted = int(os.environ.get("RECONCILE_MAX_LANES", str(DEFAULT_MAX_LANES)))
            return max(1, min(LANES_LIMIT, wanted))

        return self._get("reconcile_max_lanes", build)

    def reconciler(self) -> Reconciler:
        """A fresh reconciler for one batch or run (its catalog is read once per run)."""
        from shared.services.reconcile import Reconciler

        return Reconciler.for_run(self.learners, self.fresh_catalog, self.progress)

    def start_run(self, task: ReconcileBatch) -> RunStarted:
        """Start a reconcile run in lanes (``RECONCILE_LANE_SIZE`` learners each, at most
        ``RECONCILE_MAX_LANES``) on the queue and the run log: for every caller that starts one
        (``catalog apply``, ``ops reconcile``, the scheduler's call, ``task_reevaluate_learners``)."""
        from shared.services.reconcile import start_run

        return start_run(
            task,
            runs=self.runs,
            queue=self.tasks,
            learners=self.learners,
            lane_size=self.reconcile_lane_size,
            max_lanes=self.reconcile_max_lanes,
        )


NAMES = frozenset(
    name for name, value in vars(Deps).items() if isinstance(value, property) and name != "built"
)

_guard = threading.Lock()
_current: Deps | None = None


def deps() -> Deps:
    """The process's dependencies (created on first call; nothing in it is built yet)."""
    global _current
    with _guard:
        if _current is None:
            _current = Deps()
        return _current


@contextmanager
def override(**given: Any) -> Iterator[Deps]:
    """Use ``given`` (e.g. ``submissions=fake``) and fresh, lazily built real adapters for the rest,
    until the block ends."""
    global _current
    with _guard:
        saved, _current = _current, Deps(**given)
        current = _current
    try:
        yield current
    finally:
        with _guard:
            _current = saved
