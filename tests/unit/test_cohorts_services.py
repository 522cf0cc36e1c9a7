"""Cohort use cases and scoped roles (shared/services/cohorts.py, shared/services/access.py) on the
in-memory fakes: state after each use case, idempotence, the invite rules, and the scope of an
instructor in the review flows."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from shared.domain.cohorts import code_key
from shared.domain.identity import Caller
from shared.domain.models import SubmissionStatus
from shared.errors import Conflict, Gone, InvalidArgument, NotFound
from shared.services import access
from shared.services import cohorts as service
from shared.services import review as review_service
from shared.services import uploads as upload_service
from tests.unit.fakes import FakeStore
from tests.unit.test_uploads_services import PNG, T0, World

ADMIN = Caller("root", admin=True)
IVY = Caller("ivy", instructor=True)
OTTO = Caller("otto", instructor=True)
ALICE = Caller("alice")
BOB = Caller("bob")


class Cohorts:
    def __init__(self, store: FakeStore | None = None, world: World | None = None) -> None:
        self.world = world
        self.store = store or FakeStore()
        self.catalog = world.catalog if world else World().catalog
        self.clock = T0
        self.codes = (f"code-{i}" for i in itertools.count(1))

    def now(self) -> dt.datetime:
        return self.clock

    def create(self, cid: str, instructors: list[str], pathways: list[str] | None = None) -> None:
        req = service.CreateCohort(
            cohort_id=cid,
            name=cid.upper(),
            pathway_ids=pathways if pathways is not None else ["image-generation"],
            instructor_uids=instructors,
        )
        service.create_cohort(ADMIN, req, store=self.store, catalog=self.catalog, now=self.now)

    def enrol(self, cid: str, uid: str) -> service.EnrolReply:
        return service.enrol(ADMIN, cid, uid, store=self.store, now=self.now)

    def invite(self, cid: str, **kw: int) -> str:
        reply = service.create_invite(
            ADMIN,
            cid,
            service.CreateInvite(**kw),
            store=self.store,
            now=self.now,
            new_code=lambda: next(self.codes),
        )
        return reply.code

    def join(self, me: Caller, code: str) -> service.JoinReply:
        return service.redeem(me, service.JoinRequest(code=code), store=self.store, now=self.now)


@pytest.fixture
def c() -> Cohorts:
    return Cohorts()


def test_enrolment_writes_the_member_and_the_membership_once(c: Cohorts) -> None:
    c.create("a", ["ivy"])
    c.create("b", ["otto", "ivy"])
    assert c.enrol("a", "alice").changed
    assert c.enrol("b", "alice").changed
    writes = len(c.store.writes)
    assert not c.enrol("a", "alice").changed  # idempotent: nothing written
    assert len(c.store.writes) == writes
    member = c.store.state.members[("a", "alice")]
    assert (member.pathway_ids, member.via) == (["image-generation"], "operator")
    m = c.store.state.memberships["alice"]
    assert (m.cohort_ids, m.instructor_uids) == (["a", "b"], ["ivy", "otto"])
    service.remove(ADMIN, "b", "alice", store=c.store, now=c.now)
    m = c.store.state.memberships["alice"]
    assert (m.cohort_ids, m.instructor_uids) == (["a"], ["ivy"])
    assert ("b", "alice") not in c.store.state.members
    assert not service.remove(ADMIN, "b", "alice", store=c.store).changed


def test_an_unknown_cohort_or_pathway_is_refused(c: Cohorts) -> None:
    with pytest.raises(NotFound):
        c.enrol("nope", "alice")
    with pytest.raises(InvalidArgument):
        c.create("x", ["ivy"], pathways=["no-such-pathway"])
    c.create("a", ["ivy"])
    c.create("a", ["ivy"])  # the same again: fine
    with pytest.raises(Conflict):
        c.create("a", ["otto"])


def test_changing_instructors_and_pathways_updates_members_and_submissions() -> None:
    w = World()
    w.store.state.memberships.clear()
    c = Cohorts(w.store, w)
    c.create("a", ["ivy"])
    c.enrol("a", "alice")
    sub = w.issue(me=ALICE).submission_id
    assert w.store.state.submissions[sub].instructor_uids == ["ivy"]  # copied at creation
    change = service.set_instructors(
        ADMIN, "a", service.SetInstructors(instructor_uids=["otto"]), store=c.store, now=c.now
    )
    assert change.changed
    assert change.sync.done
    assert (change.sync.members_changed, change.sync.submissions_changed) == (1, 1)
    assert c.store.state.memberships["alice"].instructor_uids == ["otto"]
    assert w.store.state.submissions[sub].instructor_uids == ["otto"]
    assert w.store.state.submissions[sub].cohort_ids == ["a"]
    again = service.resync("a", service.SyncQuery(), store=c.store)  # converged: writes nothing
    assert (again.members_changed, again.submissions_changed) == (0, 0)
    service.set_pathways(
        ADMIN, "a", service.SetPathways(pathway_ids=[]), store=c.store, catalog=c.catalog
    )
    assert c.store.state.members[("a", "alice")].pathway_ids == []


def test_a_big_cohort_is_synced_in_chained_calls(
    c: Cohorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SYNC_PAGE", 3)
    c.create("a", ["ivy"])
    for i in range(8):
        c.enrol("a", f"l{i}")
    c.store.state.cohorts["a"] = c.store.state.cohorts["a"].model_copy(
        update={"instructor_uids": ["otto"]}
    )
    first = service.sync_cohort("a", store=c.store, budget=3, workers=1)
    assert (first.done, first.members_checked, first.next_cursor) == (False, 3, "l2")
    rest = service.sync_cohort("a", store=c.store, after=first.next_cursor, budget=100)
    assert rest.done
    assert rest.members_checked == 5
    assert {m.instructor_uids[0] for m in c.store.state.memberships.values()} == {"otto"}


def test_an_invite_counts_uses_and_knows_expiry_and_strangers(c: Cohorts) -> None:
    c.create("a", ["ivy"])
    code = c.invite("a", max_uses=2, expires_in_seconds=3600)
    assert code not in str(c.store.state.invites)  # only the hash is stored
    assert code_key(code) in c.store.state.invites
    assert c.join(ALICE, code).joined
    assert not c.join(ALICE, code).joined  # a retry: no use counted
    assert c.store.state.invites[code_key(code)].uses == 1
    assert c.join(BOB, code).joined
    with pytest.raises(Conflict):
        c.join(Caller("carol"), code)
    assert c.store.state.members[("a", "bob")].via == "invite"
    with pytest.raises(NotFound):
        c.join(ALICE, "not-a-code")
    late = c.invite("a", expires_in_seconds=60)
    c.clock += dt.timedelta(seconds=61)
    with pytest.raises(Gone):
        c.join(Caller("dave"), late)
    assert not c.join(ALICE, late).joined  # a member already: 200 even now


def test_listings_follow_the_role(c: Cohorts) -> None:
    c.create("a", ["ivy"])
    c.create("b", ["otto"])
    c.enrol("b", "alice")
    query = service.PageQuery(limit=1)
    page = service.list_cohorts(ADMIN, query, store=c.store)
    assert ([x.cohort_id for x in page.cohorts], page.next_cursor) == (["a"], "a")
    assert [
        x.cohort_id for x in service.list_cohorts(OTTO, service.PageQuery(), store=c.store).cohorts
    ] == ["b"]
    assert [x.cohort_id for x in service.my_cohorts(ALICE, store=c.store).cohorts] == ["b"]
    with pytest.raises(NotFound):
        service.visible_cohort(IVY, "b", store=c.store)
    assert service.visible_cohort(ADMIN, "b", store=c.store).cohort_id == "b"
    members = service.list_members(OTTO, "b", service.PageQuery(), store=c.store)
    assert [m.uid for m in members.members] == ["alice"]


# ---- scoped roles ------------------------------------------------------------------------------


def _world_with_cohorts() -> tuple[World, Cohorts]:
    w = World()
    w.store.state.memberships.clear()
    c = Cohorts(w.store, w)
    c.create("a", ["ivy"])
    c.create("b", ["otto"])
    c.enrol("a", "alice")
    c.enrol("b", "bob")
    return w, c


def _uploaded(w: World, me: Caller) -> str:
    reply = w.issue(me=me)
    w.tick(seconds=1)
    w.record(w.upload(reply, PNG))
    return reply.submission_id


def test_may_supervise_is_admin_or_an_instructor_of_the_learners_cohort() -> None:
    _, c = _world_with_cohorts()
    assert access.may_supervise(ADMIN, "alice", c.store)
    assert access.may_supervise(IVY, "alice", c.store)
    assert not access.may_supervise(IVY, "bob", c.store)
    assert not access.may_supervise(Caller("ivy"), "alice", c.store)  # the claim is needed too
    assert not access.may_supervise(IVY, "nobody", c.store)


def test_an_instructor_reviews_and_downloads_only_their_learners() -> None:
    w, _ = _world_with_cohorts()
    a, b = _uploaded(w, ALICE), _uploaded(w, BOB)
    gen = str(w.store.state.submissions[b].gcs_generation)
    req = review_service.ReviewRequest(decision="approve", generation=gen)
    with pytest.raises(NotFound):
        review_service.review_submission(IVY, b, req, store=w.store, tasks=w.tasks)
    assert w.store.state.submissions[b].status == SubmissionStatus.uploaded
    with pytest.raises(NotFound):
        upload_service.download_url(IVY, b, store=w.store, objects=w.objects, memberships=w.store)
    upload_service.download_url(IVY, a, store=w.store, objects=w.objects, memberships=w.store)
    reply = review_service.bulk_approve(
        IVY,
        review_service.BulkApproveRequest(
            submissions=[
                review_service.BulkItem(submission_id=s, generation=str(w.sub(s).gcs_generation))
                for s in (a, b)
            ]
        ),
        store=w.store,
        tasks=w.tasks,
    )
    assert [(r.submission_id, r.status) for r in reply.results] == [(a, 200), (b, 404)]
    review_service.review_submission(ADMIN, b, req, store=w.store, tasks=w.tasks)
    assert w.sub(b).status == SubmissionStatus.approved
    revise = review_service.ReviseRequest(decision="reject", revision=0, comments="no", reason="x")
    with pytest.raises(NotFound):
        review_service.revise_submission(IVY, b, revise, store=w.store, tasks=w.tasks)


def test_the_queue_shows_an_instructor_only_their_learners() -> None:
    w, _ = _world_with_cohorts()
    a, b = _uploaded(w, ALICE), _uploaded(w, BOB)
    ids = lambda page: [s.submission_id for s in page.submissions]  # noqa: E731
    assert ids(w.queue(me=ADMIN)) == [a, b]
    assert ids(w.queue(me=IVY)) == [a]
    assert ids(w.queue(me=OTTO)) == [b]
    assert ids(w.queue(me=ADMIN, cohort_id="b")) == [b]
    assert ids(w.queue(me=OTTO, cohort_id="b")) == [b]
    with pytest.raises(NotFound):  # not their cohort: it does not exist for them
        w.queue(me=IVY, cohort_id="b")
    assert w.store.queries == 5  # one bounded query per page
