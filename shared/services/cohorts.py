"""Cohort use cases: create cohorts, set their pathways and instructors, enrol and remove learners
(by an operator or an admin), invite codes and their redemption, and the listings.

Every write goes through the one unit of work (``store.transact``), reading by key only:

- **Enrolment** (:func:`enrol`, :func:`redeem`) writes ``cohorts/{cid}/members/{uid}`` and
  ``memberships/{uid}`` in ONE transaction. The membership is recomputed from the documents of all
  the learner's cohorts (read by key in one batch), so it never depends on what an earlier,
  maybe concurrent, writer computed. Adding a member who is there already writes nothing.
- **Invite codes** are random (``secrets.token_urlsafe``: 144 bits), stored under their SHA-256
  (``cohort_invites/{key}``) with the uses counted so far. A redemption reads the invite, the
  cohort, the member and the membership by key and, in the same transaction, counts the use and
  enrols: of N concurrent redemptions of a code with ``max_uses`` M, exactly M join (Firestore
  serialises the transactions on the invite document). A learner already in the cohort gets 200
  without a use being counted (a retried request), even once the code is used up or expired.
- **Keeping copies in step.** A member document carries the cohort's ``pathway_ids``; a
  membership the union of its cohorts' ``instructor_uids``; each submission the learner's
  ``cohort_ids`` and ``instructor_uids`` (the review queue and the rules use them). After a change
  commits, :func:`sync_cohort` walks the cohort's members in pages (a bounded query each) and
  recomputes each member's documents in its own transaction, and :func:`sync_submissions` copies a
  membership onto the learner's submissions in bounded transactions. Both recompute from the
  source of truth and write only what differs, so running them again (a retry, or the
  continuation of a big cohort: :data:`SYNC_INLINE_MEMBERS` per call, then ``next_cursor``) is
  harmless and converges.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared import log
from shared.domain.cohorts import (
    MAX_COHORTS_PER_LEARNER,
    MAX_INSTRUCTORS,
    MAX_PATHWAYS,
    Cohort,
    CohortMember,
    Invite,
    Membership,
    Via,
    check_invite,
    code_key,
    distinct,
    membership_for,
    same_membership,
)
from shared.domain.identity import Caller
from shared.domain.models import Id
from shared.errors import Conflict, InvalidArgument, NotFound
from shared.services.access import teaches
from shared.services.ports import CatalogReader, CohortStore, Tx
from shared.services.uploads import learner_lock

Clock = Callable[[], dt.datetime]

MAX_PAGE = 200
SYNC_PAGE = 100  # members per query of a sync
SYNC_INLINE_MEMBERS = 1000  # members one call syncs before it hands back a cursor
SYNC_WORKERS = 8
SUBMISSION_BATCH = 20  # submissions per transaction of sync_submissions
MAX_INVITE_SECONDS = 366 * 24 * 3600

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Cursor = Annotated[str, StringConstraints(max_length=200)]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- requests and replies --------------------------------------------------------------------


class CreateCohort(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cohort_id: Id | None = None
    name: Name
    pathway_ids: list[Id] = Field(default_factory=list, max_length=MAX_PATHWAYS)
    instructor_uids: list[Id] = Field(default_factory=list, max_length=MAX_INSTRUCTORS)
    starts_at: AwareDatetime | None = Field(
        default=None, description="when the cohort starts: relative due dates count from it"
    )


class SetStart(BaseModel):
    """Body of ``PUT /cohorts/{cohort_id}/start``: the cohort's start (``null``: none)."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None


class SetPathways(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pathway_ids: list[Id] = Field(max_length=MAX_PATHWAYS)


class SetInstructors(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instructor_uids: list[Id] = Field(max_length=MAX_INSTRUCTORS)


class CreateInvite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_seconds: int | None = Field(default=None, ge=60, le=MAX_INVITE_SECONDS)
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000)


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: Id | None = None


class SyncQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: Id | None = None


class CohortView(BaseModel):
    cohort_id: str
    name: str
    pathway_ids: list[str]
    instructor_uids: list[str]
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    starts_at: dt.datetime | None = None

    @classmethod
    def of(cls, cohort: Cohort) -> CohortView:
        return cls.model_validate(cohort.model_dump())


class CohortList(BaseModel):
    cohorts: list[CohortView]
    next_cursor: str | None = None


class MemberView(BaseModel):
    uid: str
    cohort_id: str
    pathway_ids: list[str]
    joined_at: dt.datetime | None = None
    via: Via


class MemberList(BaseModel):
    members: list[MemberView]
    next_cursor: str | None = None


class SyncReply(BaseModel):
    """How far keeping the members' copies in step got: ``done``, or call again with
    ``next_cursor`` (``POST /cohorts/{cid}/sync?cursor=...``)."""

    cohort_id: str
    members_checked: int = 0
    members_changed: int = 0
    submissions_changed: int = 0
    done: bool = True
    next_cursor: str | None = None


class CohortChange(BaseModel):
    cohort: CohortView
    changed: bool
    sync: SyncReply


class EnrolReply(BaseModel):
    cohort_id: str
    uid: str
    member: bool  # whether the learner is a member now
    changed: bool  # whether this call changed it


class InviteReply(BaseModel):
    code: str
    cohort_id: str
    expires_at: dt.datetime | None = None
    max_uses: int | None = None


class JoinReply(BaseModel):
    cohort_id: str
    name: str
    joined: bool  # False: the learner was a member already (nothing counted)


# ---- cohorts -----------------------------------------------------------------------------------


def cohort_lock(cohort_id: str) -> str:
    return f"cohort:{cohort_id}"


def membership_lock(uid: str) -> str:
    return f"membership:{uid}"


def _known_pathways(ids: list[str], catalog: CatalogReader) -> list[str]:
    wanted = distinct(ids)
    found = catalog.pathways(wanted)
    missing = [p for p in wanted if p not in found]
    if missing:
        raise InvalidArgument(f"no such pathway: {', '.join(missing[:5])}")
    return wanted


def create_cohort(
    me: Caller,
    req: CreateCohort,
    *,
    store: CohortStore,
    catalog: CatalogReader,
    now: Clock = utcnow,
    new_id: Callable[[], str] = lambda: f"c-{uuid.uuid4().hex[:12]}",
) -> tuple[CohortView, bool]:
    """(the cohort, whether this call created it). The same cohort sent again is answered as it
    stands; another one under an existing id is 409."""
    pathways = _known_pathways(req.pathway_ids, catalog)
    instructors = distinct(req.instructor_uids)
    cid = req.cohort_id or new_id()
    starts = _utc(req.starts_at)
    at = now()

    def work(tx: Tx) -> tuple[Cohort, bool]:
        found = tx.cohort(cid)
        if found is not None:
            same = (found.name, found.pathway_ids, found.instructor_uids, found.starts_at) == (
                req.name,
                pathways,
                instructors,
                starts,
            )
            if same:
                return found, False
            raise Conflict(f"cohort {cid} exists with other settings")
        cohort = Cohort(
            cohort_id=cid,
            name=req.name,
            pathway_ids=pathways,
            instructor_uids=instructors,
            created_at=at,
            updated_at=at,
            starts_at=starts,
        )
        tx.put_cohort(cohort)
        return cohort, True

    cohort, created = store.transact(work, lock=cohort_lock(cid))
    if created:
        log.info("cohort created", cohort_id=cid, actor=me.uid)
    return CohortView.of(cohort), created


def _change_cohort(
    me: Caller,
    cohort_id: str,
    update: dict[str, list[str]],
    *,
    store: CohortStore,
    now: Clock,
) -> CohortChange:
    at = now()

    def work(tx: Tx) -> tuple[Cohort, bool]:
        found = tx.cohort(cohort_id)
        if found is None:
            raise NotFound(f"no cohort {cohort_id}")
        if all(getattr(found, k) == v for k, v in update.items()):
            return found, False
        changed = found.model_copy(update={**update, "updated_at": at})
        tx.put_cohort(changed)
        return changed, True

    cohort, changed = store.transact(work, lock=cohort_lock(cohort_id))
    log.info("cohort changed", cohort_id=cohort_id, actor=me.uid, changed=changed, **update)
    # Synced even when nothing changed: a retry finishes what an interrupted call began.
    sync = sync_cohort(cohort_id, store=store, now=now)
    return CohortChange(cohort=CohortView.of(cohort), changed=changed, sync=sync)


def set_pathways(
    me: Caller,
    cohort_id: str,
    req: SetPathways,
    *,
    store: CohortStore,
    catalog: CatalogReader,
    now: Clock = utcnow,
) -> CohortChange:
    pathways = _known_pathways(req.pathway_ids, catalog)
    return _change_cohort(me, cohort_id, {"pathway_ids": pathways}, store=store, now=now)


def set_instructors(
    me: Caller, cohort_id: str, req: SetInstructors, *, store: CohortStore, now: Clock = utcnow
) -> CohortChange:
    instructors = distinct(req.instructor_uids)
    return _change_cohort(me, cohort_id, {"instructor_uids": instructors}, store=store, now=now)


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """A start as stored (UTC, microseconds: what Firestore keeps), so equal starts compare equal."""
    return at.astimezone(dt.UTC) if at is not None else None


def set_start(
    me: Caller, cohort_id: str, req: SetStart, *, store: CohortStore, now: Clock = utcnow
) -> CohortChange:
    """Set (or clear) the cohort's start. Nothing is copied from it onto members, so there is
    nothing to sync: the transactions that decide ``late`` read the cohort by key
    (shared.services.due). Flags already decided stay as they are (shared.domain.due)."""
    starts = _utc(req.starts_at)
    at = now()

    def work(tx: Tx) -> tuple[Cohort, bool]:
        found = tx.cohort(cohort_id)
        if found is None:
            raise NotFound(f"no cohort {cohort_id}")
        if found.starts_at == starts:
            return found, False
        changed = found.model_copy(update={"starts_at": starts, "updated_at": at})
        tx.put_cohort(changed)
        return changed, True

    cohort, changed = store.transact(work, lock=cohort_lock(cohort_id))
    log.info("cohort start set", cohort_id=cohort_id, actor=me.uid, changed=changed)
    return CohortChange(
        cohort=CohortView.of(cohort), changed=changed, sync=SyncReply(cohort_id=cohort_id)
    )


# ---- enrolment ---------------------------------------------------------------------------------


def _joined(
    tx: Tx, cohort: Cohort, uid: str, membership: Membership | None, at: dt.datetime, via: Via
) -> None:
    """Write the member document and the recomputed membership (the reads are done: ``tx`` reads
    the learner's cohorts here, before any write)."""
    ids = distinct([*(membership.cohort_ids if membership else []), cohort.cohort_id])
    if len(ids) > MAX_COHORTS_PER_LEARNER:
        raise Conflict(f"a learner can be in at most {MAX_COHORTS_PER_LEARNER} cohorts")
    cohorts = tx.cohorts(ids)
    cohorts[cohort.cohort_id] = cohort
    tx.put_member(
        CohortMember(
            uid=uid,
            cohort_id=cohort.cohort_id,
            pathway_ids=cohort.pathway_ids,
            joined_at=at,
            via=via,
        )
    )
    tx.put_membership(membership_for(uid, ids, cohorts, at))


def enrol(
    me: Caller,
    cohort_id: str,
    uid: str,
    *,
    via: Via = "operator",
    store: CohortStore,
    now: Clock = utcnow,
) -> EnrolReply:
    """Add a learner to a cohort (idempotent: a member already writes nothing)."""
    at = now()

    def work(tx: Tx) -> bool:
        cohort = tx.cohort(cohort_id)
        if cohort is None:
            raise NotFound(f"no cohort {cohort_id}")
        member = tx.member(cohort_id, uid)
        membership = tx.membership(uid)
        if member is not None and membership is not None and cohort_id in membership.cohort_ids:
            return False
        _joined(tx, cohort, uid, membership, at, via)
        return True

    changed = store.transact(work, lock=membership_lock(uid))
    sync_submissions(uid, store=store)
    log.info("learner enrolled", cohort_id=cohort_id, uid=uid, actor=me.uid, changed=changed)
    return EnrolReply(cohort_id=cohort_id, uid=uid, member=True, changed=changed)


def remove(
    me: Caller, cohort_id: str, uid: str, *, store: CohortStore, now: Clock = utcnow
) -> EnrolReply:
    """Take a learner out of a cohort (idempotent: a non-member writes nothing)."""
    at = now()

    def work(tx: Tx) -> bool:
        member = tx.member(cohort_id, uid)
        membership = tx.membership(uid)
        listed = membership is not None and cohort_id in membership.cohort_ids
        if member is None and not listed:
            return False
        rest = [c for c in (membership.cohort_ids if membership else []) if c != cohort_id]
        cohorts = tx.cohorts(rest)
        if member is not None:
            tx.delete_member(cohort_id, uid)
        tx.put_membership(membership_for(uid, rest, cohorts, at))
        return True

    changed = store.transact(work, lock=membership_lock(uid))
    sync_submissions(uid, store=store)
    log.info("learner removed", cohort_id=cohort_id, uid=uid, actor=me.uid, changed=changed)
    return EnrolReply(cohort_id=cohort_id, uid=uid, member=False, changed=changed)


# ---- invite codes ------------------------------------------------------------------------------


def create_invite(
    me: Caller,
    cohort_id: str,
    req: CreateInvite,
    *,
    store: CohortStore,
    now: Clock = utcnow,
    new_code: Callable[[], str] = lambda: secrets.token_urlsafe(18),
) -> InviteReply:
    code = new_code()
    at = now()
    expires = at + dt.timedelta(seconds=req.expires_in_seconds) if req.expires_in_seconds else None
    invite = Invite(
        code_key=code_key(code),
        cohort_id=cohort_id,
        created_by=me.uid,
        created_at=at,
        expires_at=expires,
        max_uses=req.max_uses,
    )

    def work(tx: Tx) -> None:
        if tx.cohort(cohort_id) is None:
            raise NotFound(f"no cohort {cohort_id}")
        if tx.invite(invite.code_key) is not None:  # 144 random bits: never, but never overwrite
            raise Conflict("that code exists; ask for another")
        tx.put_invite(invite)

    store.transact(work, lock=f"invite:{invite.code_key}")
    log.info("invite created", cohort_id=cohort_id, actor=me.uid, max_uses=req.max_uses)
    return InviteReply(code=code, cohort_id=cohort_id, expires_at=expires, max_uses=req.max_uses)


def redeem(me: Caller, req: JoinRequest, *, store: CohortStore, now: Clock = utcnow) -> JoinReply:
    """Join the cohort of an invite code: 404 unknown, 410 expired, 409 used up; a member
    already: 200, ``joined: false``, no use counted."""
    key = code_key(req.code)

    def work(tx: Tx) -> tuple[Cohort, bool]:
        at = now()
        invite = tx.invite(key)
        if invite is None:
            raise NotFound("no such invite code")
        cohort = tx.cohort(invite.cohort_id)
        if cohort is None:
            raise NotFound("no such invite code")
        member = tx.member(cohort.cohort_id, me.uid)
        membership = tx.membership(me.uid)
        if (
            member is not None
            and membership is not None
            and cohort.cohort_id in membership.cohort_ids
        ):
            return cohort, False
        check_invite(invite, at)
        tx_invite = invite.model_copy(update={"uses": invite.uses + 1})
        _joined(tx, cohort, me.uid, membership, at, "invite")
        tx.put_invite(tx_invite)
        return cohort, True

    cohort, joined = store.transact(work, lock=f"invite:{key}")
    if joined:
        sync_submissions(me.uid, store=store)
    log.info("invite redeemed", cohort_id=cohort.cohort_id, uid=me.uid, joined=joined)
    return JoinReply(cohort_id=cohort.cohort_id, name=cohort.name, joined=joined)


# ---- keeping the copies in step ----------------------------------------------------------------


def sync_member(cohort_id: str, uid: str, *, store: CohortStore, now: Clock = utcnow) -> bool:
    """Recompute one member's member document and membership from the cohorts (one transaction);
    whether anything was written."""
    at = now()

    def work(tx: Tx) -> bool:
        cohort = tx.cohort(cohort_id)
        member = tx.member(cohort_id, uid)
        membership = tx.membership(uid)
        ids = list(membership.cohort_ids) if membership else []
        if member is not None and cohort is not None and cohort_id not in ids:
            ids.append(cohort_id)  # a member document without its membership: repaired
        cohorts = tx.cohorts(ids)
        want = membership_for(uid, ids, cohorts, at)
        wrote = False
        if member is not None and cohort is not None and member.pathway_ids != cohort.pathway_ids:
            tx.put_member(member.model_copy(update={"pathway_ids": cohort.pathway_ids}))
            wrote = True
        if not same_membership(membership, want):
            tx.put_membership(want)
            wrote = True
        return wrote

    return store.transact(work, lock=membership_lock(uid))


def sync_submissions(uid: str, *, store: CohortStore) -> int:
    """Copy the learner's membership (``cohort_ids``, ``instructor_uids``) onto each of their
    submissions that differs; bounded transactions, each reading the membership and its
    submissions by key. Returns how many submissions changed."""
    ids = store.submission_ids(uid)
    changed = 0
    for start in range(0, len(ids), SUBMISSION_BATCH):
        chunk = ids[start : start + SUBMISSION_BATCH]

        def work(tx: Tx, chunk: list[str] = chunk) -> int:
            membership = tx.membership(uid)
            cohort_ids = membership.cohort_ids if membership else []
            instructors = membership.instructor_uids if membership else []
            subs = [tx.submission(sid) for sid in chunk]
            n = 0
            for sub in subs:
                if sub is None or sub.user_id != uid:
                    continue
                if (sub.cohort_ids, sub.instructor_uids) != (cohort_ids, instructors):
                    tx.put_submission(
                        sub.model_copy(
                            update={"cohort_ids": cohort_ids, "instructor_uids": instructors}
                        )
                    )
                    n += 1
            return n

        changed += store.transact(work, lock=learner_lock(uid))
    return changed


def sync_cohort(
    cohort_id: str,
    *,
    store: CohortStore,
    now: Clock = utcnow,
    after: str | None = None,
    budget: int = SYNC_INLINE_MEMBERS,
    workers: int = SYNC_WORKERS,
) -> SyncReply:
    """Bring the members of a cohort in step with it: pages of :data:`SYNC_PAGE` members (one
    query each), each member in its own transaction, then its submissions. At most ``budget``
    members per call; then ``next_cursor`` continues (idempotent: it recomputes)."""
    reply = SyncReply(cohort_id=cohort_id)
    cursor = after
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while True:
            page = store.members(cohort_id, after=cursor, limit=SYNC_PAGE)

            def one(uid: str) -> tuple[bool, int]:
                wrote = sync_member(cohort_id, uid, store=store, now=now)
                return wrote, sync_submissions(uid, store=store)

            for wrote, subs in pool.map(one, [m.uid for m in page]):
                reply.members_checked += 1
                reply.members_changed += int(wrote)
                reply.submissions_changed += subs
            if len(page) < SYNC_PAGE:
                break
            cursor = page[-1].uid
            if reply.members_checked >= budget:
                reply.done, reply.next_cursor = False, cursor
                break
    log.info("cohort synced", cohort_id=cohort_id, **reply.model_dump(exclude={"cohort_id"}))
    return reply


def resync(cohort_id: str, query: SyncQuery, *, store: CohortStore) -> SyncReply:
    """:func:`sync_cohort` of an existing cohort, from ``query.cursor`` (404 for no cohort)."""
    if store.cohort(cohort_id) is None:
        raise NotFound(f"no cohort {cohort_id}")
    return sync_cohort(cohort_id, store=store, after=query.cursor)


# ---- reading -----------------------------------------------------------------------------------


def visible_cohort(me: Caller, cohort_id: str, *, store: CohortStore) -> Cohort:
    """The cohort, when the caller is an admin or one of its instructors; else 404."""
    cohort = store.cohort(cohort_id)
    if cohort is None or not teaches(me, cohort.instructor_uids):
        raise NotFound(f"no cohort {cohort_id}")
    return cohort


def list_cohorts(me: Caller, query: PageQuery, *, store: CohortStore) -> CohortList:
    """Every cohort for an admin; the cohorts an instructor teaches for an instructor."""
    only = None if me.admin else me.uid
    found = store.list_cohorts(instructor_uid=only, after=query.cursor, limit=query.limit + 1)
    page = found[: query.limit]
    more = len(found) > query.limit
    return CohortList(
        cohorts=[CohortView.of(c) for c in page],
        next_cursor=page[-1].cohort_id if more and page else None,
    )


def my_cohorts(me: Caller, *, store: CohortStore) -> CohortList:
    """The cohorts the caller is a learner in (their membership, then the cohorts by key)."""
    membership = store.membership(me.uid)
    if membership is None or not membership.cohort_ids:
        return CohortList(cohorts=[])
    found = store.cohorts(membership.cohort_ids)
    return CohortList(
        cohorts=[CohortView.of(found[c]) for c in membership.cohort_ids if c in found]
    )


def list_members(me: Caller, cohort_id: str, query: PageQuery, *, store: CohortStore) -> MemberList:
    visible_cohort(me, cohort_id, store=store)
    found = store.members(cohort_id, after=query.cursor, limit=query.limit + 1)
    page = found[: query.limit]
    more = len(found) > query.limit
    return MemberList(
        members=[MemberView.model_validate(m.model_dump()) for m in page],
        next_cursor=page[-1].uid if more and page else None,
    )
