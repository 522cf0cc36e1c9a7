"""The unit tests' fakes of the ports (``shared.services.ports``), in one place: small, in memory, no
I/O; tests assert on their state.

:class:`FakeStore` is THE fake of the Firestore unit of work (``transact`` with its :class:`FakeTx`)
and of the plain reads of both stores (``SubmissionStore`` and ``ProgressStore``): like Firestore it
refuses a read after a write inside a transaction, buffers the writes until the function returns,
discards them when it raises, refuses to ``create`` a progress event that exists, and never
answers a query inside a transaction (the port has none).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.domain.certificates import Certificate, CertificateLink
from shared.domain.cohorts import Cohort, CohortMember, Invite, Membership
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
    ResourceType,
    Submission,
    SubmissionStatus,
)
from shared.events import EventMeta, StorageObject
from shared.services.audit import AuditEntry
from shared.services.ports import SignedRequest

T = TypeVar("T")
BUCKET = "demo-aibc-submissions"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# ---- the unit of work ------------------------------------------------------------------------


@dataclass
class State:
    submissions: dict[str, Submission] = field(default_factory=dict)
    index: dict[tuple[str, str], ResourceSubmissions] = field(default_factory=dict)
    progress: dict[tuple[str, str], ResourceProgress] = field(default_factory=dict)
    modules: dict[tuple[str, str], ModuleProgress] = field(default_factory=dict)
    pathways: dict[tuple[str, str], PathwayProgress] = field(default_factory=dict)
    events: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rates: dict[str, list[dt.datetime]] = field(default_factory=dict)
    audit: dict[str, AuditEntry] = field(default_factory=dict)
    notes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cohorts: dict[str, Cohort] = field(default_factory=dict)
    members: dict[tuple[str, str], CohortMember] = field(default_factory=dict)
    memberships: dict[str, Membership] = field(default_factory=dict)
    invites: dict[str, Invite] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)  # document paths, in commit order
    certificates: dict[str, Certificate] = field(default_factory=dict)
    certificate_links: dict[tuple[str, str], CertificateLink] = field(default_factory=dict)
    profiles: dict[str, LearnerProfile] = field(default_factory=dict)
    catalog_version: int = 0  # catalog_meta/version (issue 13)
    catalog: dict[str, Resource] = field(default_factory=dict)  # resources/{rid} (issue 13)


class FakeTx:
    def __init__(self, state: State) -> None:
        self.state = state
        self.writes: list[Callable[[State], None]] = []

    def _read(self) -> None:
        assert not self.writes, "a read after a write inside a transaction"

    def submission(self, submission_id: str) -> Submission | None:
        self._read()
        return self.state.submissions.get(submission_id)

    def progress(self, uid: str, resource_id: str) -> ResourceProgress | None:
        self._read()
        return self.state.progress.get((uid, resource_id))

    def progresses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        self._read()
        return {
            r: self.state.progress[(uid, r)]
            for r in resource_ids
            if (uid, r) in self.state.progress
        }

    def module_progress(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]:
        self._read()
        return {
            m: self.state.modules[(uid, m)] for m in module_ids if (uid, m) in self.state.modules
        }

    def pathway_progress(self, uid: str, pathway_id: str) -> PathwayProgress | None:
        self._read()
        return self.state.pathways.get((uid, pathway_id))

    def resource_submissions(self, uid: str, resource_id: str) -> ResourceSubmissions:
        self._read()
        empty = ResourceSubmissions(resource_id=resource_id, user_id=uid)
        return self.state.index.get((uid, resource_id), empty)

    def rate_stamps(self, uid: str) -> list[dt.datetime]:
        self._read()
        return list(self.state.rates.get(uid, []))

    def notification_exists(self, uid: str, notification_id: str) -> bool:
        self._read()
        return (uid, notification_id) in self.state.notes

    # catalog change (issue 13)
    def catalog_version(self) -> int:
        self._read()
        return self.state.catalog_version

    def resource(self, resource_id: str) -> Resource | None:
        self._read()
        return self.state.catalog.get(resource_id)

    def _write(self, path: str, apply: Callable[[State], None]) -> None:
        def write(s: State) -> None:
            apply(s)
            s.written.append(path)

        self.writes.append(write)

    def put_submission(self, submission: Submission) -> None:
        sid = submission.submission_id
        self._write(f"submissions/{sid}", lambda s: s.submissions.__setitem__(sid, submission))

    def put_progress(self, uid: str, progress: ResourceProgress) -> None:
        key = (uid, progress.resource_id)
        path = f"users/{uid}/resource_progress/{progress.resource_id}"
        self._write(path, lambda s: s.progress.__setitem__(key, progress))

    def put_module_progress(self, uid: str, module: ModuleProgress) -> None:
        key = (uid, module.module_id)
        path = f"users/{uid}/module_progress/{module.module_id}"
        self._write(path, lambda s: s.modules.__setitem__(key, module))

    def put_pathway_progress(self, uid: str, pathway: PathwayProgress) -> None:
        key = (uid, pathway.pathway_id)
        path = f"users/{uid}/pathway_progress/{pathway.pathway_id}"
        self._write(path, lambda s: s.pathways.__setitem__(key, pathway))

    def put_resource_submissions(self, index: ResourceSubmissions) -> None:
        key = (index.user_id, index.resource_id)
        path = f"users/{index.user_id}/resource_submissions/{index.resource_id}"
        self._write(path, lambda s: s.index.__setitem__(key, index))

    def add_progress_event(self, uid: str, event_id: str, event: dict[str, Any]) -> None:
        def create(s: State) -> None:
            assert (uid, event_id) not in s.events, f"progress event {event_id} exists"
            s.events[(uid, event_id)] = event

        self._write(f"users/{uid}/progress_events/{event_id}", create)

    def put_rate_stamps(self, uid: str, stamps: list[dt.datetime]) -> None:
        self._write(
            f"rate_limits/{uid}_upload_url", lambda s: s.rates.__setitem__(uid, list(stamps))
        )

    def put_audit(self, entry: AuditEntry) -> None:
        eid = entry.entry_id
        self._write(f"audit_log/{eid}", lambda s: s.audit.__setitem__(eid, entry))

    def put_notification(self, uid: str, notification_id: str, data: dict[str, Any]) -> None:
        key = (uid, notification_id)
        path = f"users/{uid}/notifications/{notification_id}"
        self._write(path, lambda s: s.notes.__setitem__(key, data))

    # cohorts
    def membership(self, uid: str) -> Membership | None:
        self._read()
        return self.state.memberships.get(uid)

    def cohort(self, cohort_id: str) -> Cohort | None:
        self._read()
        return self.state.cohorts.get(cohort_id)

    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]:
        self._read()
        return {c: self.state.cohorts[c] for c in cohort_ids if c in self.state.cohorts}

    def member(self, cohort_id: str, uid: str) -> CohortMember | None:
        self._read()
        return self.state.members.get((cohort_id, uid))

    def invite(self, code_key: str) -> Invite | None:
        self._read()
        return self.state.invites.get(code_key)

    def put_cohort(self, cohort: Cohort) -> None:
        cid = cohort.cohort_id
        self._write(f"cohorts/{cid}", lambda s: s.cohorts.__setitem__(cid, cohort))

    def put_member(self, member: CohortMember) -> None:
        key = (member.cohort_id, member.uid)
        path = f"cohorts/{member.cohort_id}/members/{member.uid}"
        self._write(path, lambda s: s.members.__setitem__(key, member))

    def delete_member(self, cohort_id: str, uid: str) -> None:
        path = f"cohorts/{cohort_id}/members/{uid}"
        self._write(path, lambda s: s.members.pop((cohort_id, uid), None))

    def put_membership(self, membership: Membership) -> None:
        uid = membership.uid
        self._write(f"memberships/{uid}", lambda s: s.memberships.__setitem__(uid, membership))

    def put_invite(self, invite: Invite) -> None:
        key = invite.code_key
        self._write(f"cohort_invites/{key}", lambda s: s.invites.__setitem__(key, invite))

    # certificates
    def certificate_link(self, uid: str, pathway_id: str) -> CertificateLink | None:
        self._read()
        return self.state.certificate_links.get((uid, pathway_id))

    def certificate(self, certificate_id: str) -> Certificate | None:
        self._read()
        return self.state.certificates.get(certificate_id)

    def learner_profile(self, uid: str) -> LearnerProfile | None:
        self._read()
        return self.state.profiles.get(uid)

    def put_certificate(self, certificate: Certificate) -> None:
        cid = certificate.certificate_id
        self._write(f"certificates/{cid}", lambda s: s.certificates.__setitem__(cid, certificate))

    def put_certificate_link(self, uid: str, link: CertificateLink) -> None:
        key = (uid, link.pathway_id)
        path = f"users/{uid}/certificates/{link.pathway_id}"
        self._write(path, lambda s: s.certificate_links.__setitem__(key, link))


# ---- the cohort reads -------------------------------------------------------------------------


class FakeCohortReads:
    """The ``CohortReader`` port over a :class:`State` (its cohorts, members and memberships):
    the fake store, the exports' and the dashboard's fakes read cohorts through it."""

    state: State

    def membership(self, uid: str) -> Membership | None:
        return self.state.memberships.get(uid)

    def cohort(self, cohort_id: str) -> Cohort | None:
        return self.state.cohorts.get(cohort_id)

    def cohorts(self, cohort_ids: Sequence[str]) -> dict[str, Cohort]:
        return {c: self.state.cohorts[c] for c in cohort_ids if c in self.state.cohorts}

    def list_cohorts(
        self, *, instructor_uid: str | None, after: str | None, limit: int
    ) -> list[Cohort]:
        found = sorted(
            (
                c
                for c in self.state.cohorts.values()
                if instructor_uid is None or instructor_uid in c.instructor_uids
            ),
            key=lambda c: c.cohort_id,
        )
        return [c for c in found if after is None or c.cohort_id > after][:limit]

    def members(self, cohort_id: str, *, after: str | None, limit: int) -> list[CohortMember]:
        found = sorted(
            (m for (c, _), m in self.state.members.items() if c == cohort_id),
            key=lambda m: m.uid,
        )
        return [m for m in found if after is None or m.uid > after][:limit]


class FakeStore(FakeCohortReads):
    """The unit of work and the plain reads of the ``SubmissionStore`` and ``ProgressStore``
    ports, over one :class:`State`."""

    def __init__(self, resources: Sequence[Resource] = ()) -> None:
        self.state = State()
        self.catalog_resources = {r.resource_id: r for r in resources}
        self.state.catalog = self.catalog_resources  # the same documents, read in transactions
        self.locks: list[str] = []
        self.queries = 0  # review-queue queries run
        self.key_reads = 0  # documents read by key outside transactions

    def transact(self, work: Callable[[FakeTx], T], *, lock: str) -> T:
        self.locks.append(lock)
        tx = FakeTx(self.state)
        result = work(tx)  # an exception discards the buffered writes, as a rollback does
        for write in tx.writes:
            write(self.state)
        return result

    peeks = 0  # work run by peek (no transaction)

    def peek(self, work: Callable[[FakeTx], T]) -> T:
        self.peeks += 1
        return work(FakeTx(self.state))  # the buffered writes are dropped

    def get_submission(self, submission_id: str) -> Submission | None:
        return self.state.submissions.get(submission_id)

    def get_certificate(self, certificate_id: str) -> Certificate | None:
        self.key_reads += 1
        return self.state.certificates.get(certificate_id)

    def certificate_links(self, uid: str, limit: int) -> list[CertificateLink]:
        self.queries += 1
        links = [v for (u, _), v in sorted(self.state.certificate_links.items()) if u == uid]
        return links[:limit]

    def get_resource(self, resource_id: str) -> Resource | None:
        return self.catalog_resources.get(resource_id)

    def list_submissions(self, uid: str, resource_id: str) -> list[Submission]:
        return [
            s
            for s in self.state.submissions.values()
            if (s.user_id, s.resource_id) == (uid, resource_id)
        ]

    def pending(
        self,
        scope: tuple[str, str] | None,
        limit: int,
        after: tuple[dt.datetime, str] | None,
        *,
        audience: tuple[str, str] | None = None,
    ) -> list[Submission]:
        assert scope is None or scope[0] in ("pathway_id", "module_id", "resource_id"), scope
        assert audience is None or audience[0] in ("cohort_ids", "instructor_uids"), audience
        self.queries += 1
        subs = sorted(
            (
                s
                for s in self.state.submissions.values()
                if s.status == SubmissionStatus.uploaded
                and (scope is None or getattr(s, scope[0]) == scope[1])
                and (audience is None or audience[1] in getattr(s, audience[0]))
            ),
            key=lambda s: (s.uploaded_at, s.submission_id),
        )
        if after is not None:
            subs = [s for s in subs if (s.uploaded_at, s.submission_id) > after]
        return subs[:limit]

    def decided(
        self,
        status: SubmissionStatus,
        limit: int,
        after: tuple[dt.datetime, str] | None,
        *,
        instructor: str | None = None,
    ) -> list[Submission]:
        self.queries += 1
        subs = sorted(
            (
                s
                for s in self.state.submissions.values()
                if s.status == status and (instructor is None or instructor in s.instructor_uids)
            ),
            key=lambda s: (s.reviewed_at or T0, s.submission_id),
            reverse=True,
        )
        if after is not None:
            subs = [s for s in subs if (s.reviewed_at or T0, s.submission_id) < after]
        return subs[:limit]

    def submissions(self, ids: Sequence[str]) -> dict[str, Submission]:
        self.key_reads += len(set(ids))
        return {i: self.state.submissions[i] for i in ids if i in self.state.submissions}

    def indexes(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ResourceSubmissions]:
        self.key_reads += len(set(keys))
        return {k: self.state.index[k] for k in keys if k in self.state.index}

    def submission_ids(self, uid: str) -> list[str]:
        return sorted(i for i, s in self.state.submissions.items() if s.user_id == uid)

    # the progress reads
    def resources(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceProgress]:
        return {r: self.rp[(uid, r)] for r in resource_ids if (uid, r) in self.rp}

    def statuses(self, uid: str, resource_ids: Sequence[str]) -> dict[str, ResourceStatus]:
        return {r: p.status for r, p in self.resources(uid, resource_ids).items()}

    def modules(self, uid: str, module_ids: Sequence[str]) -> dict[str, ModuleProgress]:
        return {m: self.mp[(uid, m)] for m in module_ids if (uid, m) in self.mp}

    def pathway(self, uid: str, pathway_id: str) -> PathwayProgress | None:
        return self.pp.get((uid, pathway_id))

    # short names for the progress tests
    @property
    def rp(self) -> dict[tuple[str, str], ResourceProgress]:
        return self.state.progress

    @property
    def mp(self) -> dict[tuple[str, str], ModuleProgress]:
        return self.state.modules

    @property
    def pp(self) -> dict[tuple[str, str], PathwayProgress]:
        return self.state.pathways

    @property
    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """Progress events, in the order they were appended: ``(uid, event)``."""
        return [(uid, e) for (uid, _), e in self.state.events.items()]

    @property
    def writes(self) -> list[str]:
        return self.state.written


class FakeProfiles:
    """The ``ProfileStore`` port: ``users/{uid}`` profiles in a dict, counting reads and writes."""

    def __init__(self) -> None:
        self.docs: dict[str, LearnerProfile] = {}
        self.reads = 0
        self.writes = 0

    def profile(self, uid: str) -> LearnerProfile | None:
        self.reads += 1
        return self.docs.get(uid)

    def profiles(self, uids: Sequence[str]) -> dict[str, LearnerProfile]:
        self.reads += len(set(uids))
        return {u: self.docs[u] for u in uids if u in self.docs}

    def put_profile(self, profile: LearnerProfile) -> None:
        self.writes += 1
        self.docs[profile.user_id] = profile


# ---- Cloud Storage and Cloud Tasks ----------------------------------------------------------


@dataclass
class FakeObjects:
    # path -> (generation, data, content type)
    blobs: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    deleted: list[tuple[str, int | None]] = field(default_factory=list)
    generations: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def signed_put(
        self, bucket: str, path: str, *, content_type: str, max_bytes: int, ttl: dt.timedelta
    ) -> SignedRequest:
        return SignedRequest(
            url=f"https://storage.example/{bucket}/{path}?sig",
            headers={"Content-Type": content_type, "x-goog-content-length-range": f"1,{max_bytes}"},
        )

    def signed_get(
        self,
        bucket: str,
        path: str,
        *,
        ttl: dt.timedelta,
        download_name: str,
        generation: int | None = None,
    ) -> str:
        return f"https://storage.example/{bucket}/{path}?generation={generation}"

    def read_head(self, bucket: str, path: str, generation: int, size: int) -> bytes | None:
        blob = self.blobs.get(path)
        if blob is None or blob[0] != generation:
            return None
        return blob[1][:size]

    def delete(self, bucket: str, path: str, generation: int | None) -> None:
        self.deleted.append((path, generation))
        blob = self.blobs.get(path)
        if blob is not None and generation in (None, blob[0]):
            del self.blobs[path]

    def put(self, path: str, data: bytes, content_type: str) -> StorageObject:
        """What a PUT through the signed URL leaves behind, as its finalized event describes it."""
        gen = next(self.generations)
        self.blobs[path] = (gen, data, content_type)
        meta = EventMeta(id=f"evt-{gen}", type="", source="", subject="", time=None)
        return StorageObject(meta, BUCKET, path, gen, len(data), content_type)


@dataclass
class FakeTasks:
    queued: dict[str, tuple[str, dict[str, Any], dt.datetime | None]] = field(default_factory=dict)

    def enqueue(
        self,
        entry_point: str,
        task_id: str,
        payload: dict[str, Any],
        *,
        at: dt.datetime | None = None,
    ) -> None:
        self.queued.setdefault(task_id, (entry_point, payload, at))


# ---- the catalog and the progress repository -------------------------------------------------


class FakeCatalog:
    def __init__(self) -> None:
        self.paths: dict[str, Pathway] = {}
        self.mods: dict[str, Module] = {}
        self.res: dict[str, Resource] = {}
        self.reads = 0

    def add_pathway(self, pid: str, modules: dict[str, list[tuple[str, bool, bool]]]) -> None:
        """``modules``: module id -> [(resource id, requires_upload, optional)]."""
        self.paths[pid] = Pathway(pathway_id=pid, title=pid.title(), module_ids=list(modules))
        for order, (mid, items) in enumerate(modules.items()):
            self.mods[mid] = Module(
                module_id=mid,
                pathway_id=pid,
                title=mid,
                order=order,
                resource_ids=[i[0] for i in items],
            )
            for rorder, (rid, upload, optional) in enumerate(items):
                self.res[rid] = Resource(
                    resource_id=rid,
                    pathway_id=pid,
                    module_id=mid,
                    title=rid,
                    type=ResourceType.project if upload else ResourceType.article,
                    order=rorder,
                    requires_upload=upload,
                    optional=optional,
                    accepted_file_types=["application/pdf"] if upload else [],
                    max_file_size_mb=10 if upload else 0,
                )

    def pathways(self, ids: Sequence[str]) -> dict[str, Pathway]:
        self.reads += len(ids)
        return {i: self.paths[i] for i in ids if i in self.paths}

    def modules(self, ids: Sequence[str]) -> dict[str, Module]:
        self.reads += len(ids)
        return {i: self.mods[i] for i in ids if i in self.mods}

    def resources(self, ids: Sequence[str]) -> dict[str, Resource]:
        self.reads += len(ids)
        return {i: self.res[i] for i in ids if i in self.res}


# ---- exports (issue 12 item 5) -------------------------------------------------------------


class FakeExportReads(FakeCohortReads):
    """The ``ExportReads`` port in memory (cohorts and members in ``state``); counts member pages
    and the most uids asked at once."""

    def __init__(self) -> None:
        self.state = State()
        self.progress: dict[str, dict[str, ResourceProgress]] = {}
        self.modules: dict[str, dict[str, ModuleProgress]] = {}
        self.pathways: dict[str, dict[str, PathwayProgress]] = {}
        self.subs: dict[str, list[Submission]] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}
        self.pages = 0

    def enrol(self, cohort_id: str, uid: str) -> None:
        cohort = self.state.cohorts[cohort_id]
        member = CohortMember(uid=uid, cohort_id=cohort_id, pathway_ids=cohort.pathway_ids)
        self.state.members[(cohort_id, uid)] = member

    def members(self, cohort_id: str, *, after: str | None, limit: int) -> list[CohortMember]:
        self.pages += 1
        return super().members(cohort_id, after=after, limit=limit)

    def learner_progress(
        self, uid: str, resource_ids: Sequence[str], module_ids: Sequence[str], pathway_id: str
    ) -> tuple[dict[str, ResourceProgress], dict[str, ModuleProgress], PathwayProgress | None]:
        res = {r: p for r, p in self.progress.get(uid, {}).items() if r in resource_ids}
        mods = {m: p for m, p in self.modules.get(uid, {}).items() if m in module_ids}
        return res, mods, self.pathways.get(uid, {}).get(pathway_id)

    def learner_submissions(self, uid: str, resource_ids: Sequence[str]) -> list[Submission]:
        return [s for s in self.subs.get(uid, []) if s.resource_id in resource_ids]

    def progress_events(
        self, uid: str, since: dt.datetime | None, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        from shared.domain.progress import event_stamp

        start = event_stamp(since) if since is not None else ""
        ids = sorted(
            i for i in self.events.get(uid, {}) if i >= start and (after is None or i > after)
        )
        return [(i, self.events[uid][i]) for i in ids[:limit]]
