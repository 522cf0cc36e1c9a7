"""``cohorts``: cohorts, enrolment and invite codes (see docs/API.md).

An admin (``admin: true`` claim) creates, lists and reads cohorts, sets their pathways,
instructors and start (relative due dates count from it), adds and removes learners and creates invite codes; an instructor lists and reads the
cohorts they teach; any signed-in learner redeems a code (``POST /cohorts/join``) and lists the
cohorts they are in (``GET /users/me/cohorts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bootstrap import deps
from shared.domain.models import known_id
from shared.http import Call, Router
from shared.services import cohorts as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("cohorts")


def _cid(call: Call) -> str:
    return known_id(call.params["cohort_id"], "cohort")


# The literal routes come before /cohorts/{cohort_id}, which would match them too.
@router.post("/cohorts/join")
def join(call: Call) -> service.JoinReply:
    return service.redeem(call.me, call.body(service.JoinRequest), store=deps().cohorts)


@router.get("/users/me/cohorts")
def my_cohorts(call: Call) -> service.CohortList:
    return service.my_cohorts(call.me, store=deps().cohorts)


@router.post("/cohorts", auth="admin")
def create(call: Call) -> tuple[service.CohortView, int]:
    d = deps()
    view, created = service.create_cohort(
        call.me, call.body(service.CreateCohort), store=d.cohorts, catalog=d.catalog
    )
    return view, 201 if created else 200


@router.get("/cohorts", auth="instructor")
def list_cohorts(call: Call) -> service.CohortList:
    return service.list_cohorts(call.me, call.query(service.PageQuery), store=deps().cohorts)


@router.get("/cohorts/{cohort_id}", auth="instructor")
def read(call: Call) -> service.CohortView:
    cohort = service.visible_cohort(call.me, _cid(call), store=deps().cohorts)
    return service.CohortView.of(cohort)


@router.get("/cohorts/{cohort_id}/members", auth="instructor")
def members(call: Call) -> service.MemberList:
    return service.list_members(
        call.me, _cid(call), call.query(service.PageQuery), store=deps().cohorts
    )


@router.put("/cohorts/{cohort_id}/pathways", auth="admin")
def set_pathways(call: Call) -> service.CohortChange:
    d = deps()
    return service.set_pathways(
        call.me, _cid(call), call.body(service.SetPathways), store=d.cohorts, catalog=d.catalog
    )


@router.put("/cohorts/{cohort_id}/instructors", auth="admin")
def set_instructors(call: Call) -> service.CohortChange:
    return service.set_instructors(
        call.me, _cid(call), call.body(service.SetInstructors), store=deps().cohorts
    )


@router.put("/cohorts/{cohort_id}/start", auth="admin")
def set_start(call: Call) -> service.CohortChange:
    return service.set_start(call.me, _cid(call), call.body(service.SetStart), store=deps().cohorts)


@router.post("/cohorts/{cohort_id}/sync", auth="admin")
def sync(call: Call) -> service.SyncReply:
    return service.resync(_cid(call), call.query(service.SyncQuery), store=deps().cohorts)


@router.put("/cohorts/{cohort_id}/members/{uid}", auth="admin")
def add_member(call: Call) -> service.EnrolReply:
    uid = known_id(call.params["uid"], "learner")
    return service.enrol(call.me, _cid(call), uid, store=deps().cohorts)


@router.delete("/cohorts/{cohort_id}/members/{uid}", auth="admin")
def remove_member(call: Call) -> service.EnrolReply:
    uid = known_id(call.params["uid"], "learner")
    return service.remove(call.me, _cid(call), uid, store=deps().cohorts)


@router.post("/cohorts/{cohort_id}/invites", auth="admin")
def invite(call: Call) -> tuple[service.InviteReply, int]:
    reply = service.create_invite(
        call.me, _cid(call), call.body(service.CreateInvite), store=deps().cohorts
    )
    return reply, 201


def cohorts(request: flask.Request) -> flask.Response:
    return router(request)
