"""Cohorts, enrolment and invite codes: the documents and the pure rules (no I/O, no clock).

Documents (the layout every flow reads):

- ``cohorts/{cohort_id}``: :class:`Cohort` (its pathways and instructors);
- ``cohorts/{cohort_id}/members/{uid}``: :class:`CohortMember`, one per LEARNER of the cohort, the
  cohort's ``pathway_ids`` copied onto it;
- ``memberships/{uid}``: :class:`Membership`, one per learner, read by key: the cohorts the learner
  is in and the instructors who may see them (the union of those cohorts' ``instructor_uids``),
  written in the same transaction as the member document;
- ``cohort_invites/{sha256(code)}``: :class:`Invite`; the code itself is never stored, so reading
  the collection (which no client may) would not reveal a usable code.

Roles: the ID token's custom claim ``admin: true`` sees everything and manages cohorts;
``instructor: true`` sees and reviews only the learners whose membership names them
(:func:`shared.services.access.may_supervise`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from shared.domain.models import _Doc
from shared.errors import Conflict, Gone, NotFound

MAX_COHORTS_PER_LEARNER = 50  # a membership's cohorts are read by key in one batch
MAX_INSTRUCTORS = 50
MAX_PATHWAYS = 50

Via = Literal["invite", "operator"]


class Cohort(_Doc):
    cohort_id: str
    name: str
    pathway_ids: list[str] = Field(default_factory=list)
    instructor_uids: list[str] = Field(default_factory=list)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # when the cohort starts: relative due dates (``Resource.due_after``) count from it
    # (shared.domain.due); ``None``: not set, such resources have no due date in this cohort
    starts_at: dt.datetime | None = None


class CohortMember(_Doc):
    uid: str
    cohort_id: str
    pathway_ids: list[str] = Field(default_factory=list)
    joined_at: dt.datetime | None = None
    via: Via = "operator"


class Membership(_Doc):
    uid: str
    cohort_ids: list[str] = Field(default_factory=list)
    instructor_uids: list[str] = Field(default_factory=list)
    updated_at: dt.datetime | None = None


class Invite(_Doc):
    """``cohort_invites/{code_key}``: a code's cohort, limits and the uses counted so far."""

    code_key: str
    cohort_id: str
    created_by: str
    created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    max_uses: int | None = None
    uses: int = 0


def code_key(code: str) -> str:
    """The document id of an invite code: its SHA-256 (the code is never stored)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def distinct(values: Iterable[str]) -> list[str]:
    """``values`` without repeats, sorted (stored lists compare equal when they mean the same)."""
    return sorted(set(values))


def instructors_of(cohorts: Iterable[Cohort]) -> list[str]:
    return distinct(uid for c in cohorts for uid in c.instructor_uids)


def membership_for(
    uid: str, cohort_ids: Iterable[str], cohorts: dict[str, Cohort], at: dt.datetime
) -> Membership:
    """The membership a learner in ``cohort_ids`` has, given those cohorts' documents (a cohort
    that no longer exists is dropped)."""
    kept = [cid for cid in distinct(cohort_ids) if cid in cohorts]
    return Membership(
        uid=uid,
        cohort_ids=kept,
        instructor_uids=instructors_of(cohorts[c] for c in kept),
        updated_at=at,
    )


def same_membership(a: Membership | None, b: Membership) -> bool:
    """Whether storing ``b`` over ``a`` would change what it says (``updated_at`` aside)."""
    return a is not None and (a.cohort_ids, a.instructor_uids) == (b.cohort_ids, b.instructor_uids)


def check_invite(invite: Invite | None, now: dt.datetime) -> Invite:
    """The invite, when it can still be redeemed: unknown → 404, expired → 410, used up → 409."""
    if invite is None:
        raise NotFound("no such invite code")
    if invite.expires_at is not None and now >= invite.expires_at:
        raise Gone("this invite code has expired")
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise Conflict("this invite code has been used as often as it may be")
    return invite
