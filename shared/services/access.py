"""Scoped roles: who may see and act on a learner's work. The ONE place the rule lives; every
instructor route (review, revise, bulk approval, the queue, downloads of another learner's file)
and any later one calls it.

- ``admin: true`` (custom claim): every learner.
- ``instructor: true``: the learners whose ``memberships/{uid}.instructor_uids`` names the caller,
  i.e. the learners of the cohorts the caller teaches.
- anyone else: nobody but themselves (the routes for one's own work check ownership themselves).

A caller outside the scope gets 404, as for a thing that does not exist: a refusal would tell them
that it does.
"""

from __future__ import annotations

from shared.domain.identity import Caller
from shared.errors import NotFound
from shared.services.ports import MembershipReader


def may_supervise(caller: Caller, uid: str, memberships: MembershipReader) -> bool:
    """Whether ``caller`` may see and review learner ``uid``'s work (one read by key at most).
    ``memberships`` may be a store (a plain read) or a :class:`~shared.services.ports.Tx` (inside
    a transaction, so the decision and the write it allows are consistent)."""
    if caller.admin:
        return True
    if not caller.instructor:
        return False
    membership = memberships.membership(uid)
    return membership is not None and caller.uid in membership.instructor_uids


def require_supervision(
    caller: Caller, uid: str, memberships: MembershipReader, *, what: str
) -> None:
    """:func:`may_supervise`, or :class:`~shared.errors.NotFound` naming ``what``."""
    if not may_supervise(caller, uid, memberships):
        raise NotFound(f"no {what}")


def teaches(caller: Caller, instructor_uids: list[str]) -> bool:
    """Whether ``caller`` may see a cohort with these instructors (admins see every cohort)."""
    return caller.admin or (caller.instructor and caller.uid in instructor_uids)
