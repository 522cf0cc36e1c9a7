"""firestore.rules and storage.rules, executed by the Firestore emulator.

The module starts its own emulator with ``--rules=firestore.rules`` (independent of ``make up``),
seeds a small dataset as the owner (which bypasses rules), then calls the REST API as learner A
(alice), learner B (bob), the instructor of alice's cohort (ivy), the instructor of bob's cohort
(otto), an admin (root), a learner whose token carries ``instructor: "true"`` as a string
(mallory) and no one. Every case states who, what and whether the rules allow it; a
denied write is also checked not to have changed anything, an allowed one to have changed exactly
what it asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.tokens import mint
from tests.emulator.rules_client import (
    Emulator,
    Firestore,
    compile_rules,
    document_ids,
    is_denied,
)
from tests.helpers import unique

ROOT = Path(__file__).resolve().parents[2]
FIRESTORE_RULES = ROOT / "firestore.rules"
STORAGE_RULES = ROOT / "storage.rules"
HOST = "127.0.0.1:8483"
PROJECT = "demo-aibc-rules"

PATHWAY = "image-generation"
MODULE = "image-generation-m1"
RESOURCE = "image-generation-m1-exercise"
NOTIFICATION = "sub-alice-2-approved"

TOKENS: dict[str, str | None] = {
    "A": mint("alice", project_id=PROJECT),
    "B": mint("bob", project_id=PROJECT),
    # a learner without a profile yet (the functions create it on their first call)
    "C": mint("carol", project_id=PROJECT),
    "I": mint("ivy", instructor=True, project_id=PROJECT),  # teaches alice's cohort
    "O": mint("otto", instructor=True, project_id=PROJECT),  # teaches bob's cohort, not alice's
    "ADM": mint("root", admin=True, project_id=PROJECT),
    # a learner who put a truthy, non-boolean claim in front of the rules: not an instructor
    "fake-instructor": mint("mallory", project_id=PROJECT, extra={"instructor": "true"}),
    "anon": None,
}

NOW = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def _notification(uid: str) -> dict[str, Any]:
    return {
        "kind": "submission_reviewed",
        "submission_id": f"sub-{uid}-2",
        "decision": "approved",
        "grade": 90,
        "title": "Submission approved",
        "read": False,
        "created_at": NOW,
    }


def _learner_state(uid: str) -> dict[str, dict[str, Any]]:
    return {
        f"users/{uid}/resource_progress/{RESOURCE}": {
            "pathway_id": PATHWAY,
            "module_id": MODULE,
            "status": "submitted",
            "progress_percentage": 100,
            "time_spent_minutes": 30,
            "submission_count": 1,
            "updated_at": NOW,
        },
        f"users/{uid}/module_progress/{MODULE}": {
            "pathway_id": PATHWAY,
            "completed_resources": 1,
            "total_resources": 5,
            "percentage": 20.0,
        },
        f"users/{uid}/pathway_progress/{PATHWAY}": {
            "completed_modules": 0,
            "total_modules": 1,
            "percentage": 0.0,
            "resource_percentage": 20.0,
        },
        f"users/{uid}/progress_events/evt-1": {"type": "resource_submitted", "at": NOW},
        f"users/{uid}/notifications/{NOTIFICATION}": _notification(uid),
    }


TEACHERS = {"alice": ["ivy"], "bob": ["otto"]}
COHORT_OF = {"alice": "c-ivy", "bob": "c-otto"}


def _submission(uid: str, n: int, status: str) -> dict[str, Any]:
    return {
        "cohort_ids": [COHORT_OF[uid]],
        "instructor_uids": TEACHERS[uid],
        "user_id": uid,
        "resource_id": RESOURCE,
        "module_id": MODULE,
        "pathway_id": PATHWAY,
        "attempt": n,
        "file_name": f"attempt{n}.png",
        "content_type": "image/png",
        "size_bytes": 1234,
        "status": status,
    }


SEED: dict[str, dict[str, Any]] = {
    f"pathways/{PATHWAY}": {"title": "Image generation", "module_ids": [MODULE]},
    f"modules/{MODULE}": {"pathway_id": PATHWAY, "title": "Basics", "order": 1},
    f"resources/{RESOURCE}": {
        "pathway_id": PATHWAY,
        "module_id": MODULE,
        "type": "exercise",
        "requires_upload": True,
    },
    **_learner_state("alice"),
    **_learner_state("bob"),
    "users/alice": {
        "display_name": "Alice",
        "email": "alice@example.com",
        "profile_updated_at": NOW,
    },
    "users/bob": {"display_name": "Bob", "email": "bob@example.com", "profile_updated_at": NOW},
    "submissions/sub-alice-1": _submission("alice", 1, "uploaded"),
    "submissions/sub-alice-2": _submission("alice", 2, "approved"),
    "submissions/sub-bob-1": _submission("bob", 1, "uploaded"),
    "audit_log/audit-1": {"actor": "ivy", "action": "review", "submission_id": "sub-alice-2"},
    "rate_limits/alice_upload_url": {"stamps": [NOW], "user_id": "alice"},
    "idempotency/on_upload_finalized-evt-1": {"done_at": NOW},
    "feature_flags/web": {"beta": True},
    **{
        f"cohorts/{COHORT_OF[uid]}": {
            "name": COHORT_OF[uid],
            "pathway_ids": [PATHWAY],
            "instructor_uids": TEACHERS[uid],
        }
        for uid in ("alice", "bob")
    },
    **{
        f"cohorts/{COHORT_OF[uid]}/members/{uid}": {
            "uid": uid,
            "cohort_id": COHORT_OF[uid],
            "pathway_ids": [PATHWAY],
            "via": "operator",
        }
        for uid in ("alice", "bob")
    },
    **{
        f"memberships/{uid}": {
            "uid": uid,
            "cohort_ids": [COHORT_OF[uid]],
            "instructor_uids": TEACHERS[uid],
        }
        for uid in ("alice", "bob")
    },
    "cohort_invites/k1": {"cohort_id": "c-ivy", "uses": 0, "max_uses": 5},
}


# -- the emulator ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    log = tmp_path_factory.mktemp("firestore-rules") / "emulator.log"
    emu = Emulator(HOST, FIRESTORE_RULES, log)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def fs(emulator: Emulator) -> Firestore:
    """The seeded database, after proving that the emulator runs OUR rules and enforces them."""
    client = Firestore(HOST, PROJECT)
    client.wipe()
    for path, data in SEED.items():
        client.put(path, data)  # a rules file that does not compile fails every request, even this

    allowed = client.get(f"pathways/{PATHWAY}", TOKENS["A"])
    assert allowed.status_code == 200, f"a signed-in catalog read failed: {allowed.text}"
    denied = client.create("pathways/probe", {"title": "x"}, TOKENS["A"])
    assert is_denied(denied), (
        f"the emulator did not enforce rules for an emulator token: {denied.status_code} "
        f"{denied.text}"
    )
    assert "Error compiling rules" not in emulator.log(), emulator.log()
    return client


# -- the cases ------------------------------------------------------------------------------------

READ_OPS = ("get", "list", "query", "group-query")
WRITE_OPS = ("create", "update", "delete")


@dataclass(frozen=True)
class Case:
    id: str
    who: str
    op: str  # get | list | query | group-query | create | update | delete
    path: str  # a document (get, writes) or a collection (list, query, group-query)
    allow: bool
    where: tuple[tuple[str, str, Any], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    mask: tuple[str, ...] | None = None
    ids: frozenset[str] | None = None  # documents an allowed read must return, exactly

    def __str__(self) -> str:
        return self.id


def allow(case_id: str, who: str, op: str, path: str, **kw: Any) -> Case:
    return Case(case_id, who, op, path, True, **kw)


def deny(case_id: str, who: str, op: str, path: str, **kw: Any) -> Case:
    return Case(case_id, who, op, path, False, **kw)


def ids(*names: str) -> frozenset[str]:
    return frozenset(names)


ALICE_RP = f"users/alice/resource_progress/{RESOURCE}"
ALICE_N = "users/alice/notifications/{fresh}"  # a fresh notification for each write case
STAMP = dt.datetime(2026, 1, 6, 9, 30, tzinfo=dt.UTC)
SIGNED_IN = ("A", "B", "I", "O", "ADM")

CATALOG_CASES = [
    *(
        c
        for coll, doc in (("pathways", PATHWAY), ("modules", MODULE), ("resources", RESOURCE))
        for c in (
            *(allow(f"{coll}-get-{w}", w, "get", f"{coll}/{doc}", ids=ids(doc)) for w in SIGNED_IN),
            deny(f"{coll}-get-anon", "anon", "get", f"{coll}/{doc}"),
            allow(f"{coll}-list-A", "A", "list", coll, ids=ids(doc)),
            deny(f"{coll}-list-anon", "anon", "list", coll),
            deny(f"{coll}-create-A", "A", "create", f"{coll}/{{fresh}}", data={"title": "x"}),
            deny(f"{coll}-create-I", "I", "create", f"{coll}/{{fresh}}", data={"title": "x"}),
            deny(f"{coll}-create-anon", "anon", "create", f"{coll}/{{fresh}}", data={"t": "x"}),
            deny(f"{coll}-update-A", "A", "update", f"{coll}/{doc}", data={"t": "x"}, mask=("t",)),
            deny(f"{coll}-update-I", "I", "update", f"{coll}/{doc}", data={"t": "x"}, mask=("t",)),
            deny(f"{coll}-delete-A", "A", "delete", f"{coll}/{doc}"),
            deny(f"{coll}-delete-I", "I", "delete", f"{coll}/{doc}"),
        )
    ),
    allow(
        "modules-query-by-pathway-A",
        "A",
        "query",
        "modules",
        where=(("pathway_id", "EQUAL", PATHWAY),),
        ids=ids(MODULE),
    ),
    deny(
        "modules-query-by-pathway-anon",
        "anon",
        "query",
        "modules",
        where=(("pathway_id", "EQUAL", PATHWAY),),
    ),
]

LEARNER_STATE_CASES = [
    allow("own-resource-progress-get-A", "A", "get", ALICE_RP, ids=ids(RESOURCE)),
    deny("other-resource-progress-get-B", "B", "get", ALICE_RP),
    allow("resource-progress-get-instructor", "I", "get", ALICE_RP, ids=ids(RESOURCE)),
    deny("resource-progress-get-instructor-of-other-cohort", "O", "get", ALICE_RP),
    allow("resource-progress-get-admin", "ADM", "get", ALICE_RP, ids=ids(RESOURCE)),
    deny(
        "other-learner-resource-progress-get-instructor",
        "I",
        "get",
        f"users/bob/resource_progress/{RESOURCE}",
    ),
    deny(
        "resource-progress-list-instructor-of-other-cohort",
        "O",
        "list",
        "users/alice/resource_progress",
    ),
    allow(
        "resource-progress-list-admin",
        "ADM",
        "list",
        "users/alice/resource_progress",
        ids=ids(RESOURCE),
    ),
    deny("resource-progress-get-fake-instructor", "fake-instructor", "get", ALICE_RP),
    deny("resource-progress-get-anon", "anon", "get", ALICE_RP),
    allow(
        "own-resource-progress-list-A",
        "A",
        "list",
        "users/alice/resource_progress",
        ids=ids(RESOURCE),
    ),
    deny("other-resource-progress-list-B", "B", "list", "users/alice/resource_progress"),
    allow(
        "resource-progress-list-instructor",
        "I",
        "list",
        "users/alice/resource_progress",
        ids=ids(RESOURCE),
    ),
    deny("resource-progress-list-anon", "anon", "list", "users/alice/resource_progress"),
    allow(
        "own-resource-progress-query-A",
        "A",
        "query",
        "users/alice/resource_progress",
        where=(("module_id", "EQUAL", MODULE),),
        ids=ids(RESOURCE),
    ),
    deny(
        "other-resource-progress-query-B",
        "B",
        "query",
        "users/alice/resource_progress",
        where=(("module_id", "EQUAL", MODULE),),
    ),
    # a collection-group query spans every learner: refused for learners and, since the rules
    # grant reads only under users/{uid}/..., for instructors too (they use the review API)
    deny("resource-progress-group-query-A", "A", "group-query", "resource_progress"),
    deny("resource-progress-group-query-I", "I", "group-query", "resource_progress"),
    *(
        c
        for sub, doc in (
            ("module_progress", MODULE),
            ("pathway_progress", PATHWAY),
            ("progress_events", "evt-1"),
            ("notifications", NOTIFICATION),
        )
        for c in (
            allow(f"own-{sub}-get-A", "A", "get", f"users/alice/{sub}/{doc}", ids=ids(doc)),
            deny(f"other-{sub}-get-B", "B", "get", f"users/alice/{sub}/{doc}"),
            allow(f"{sub}-get-instructor", "I", "get", f"users/alice/{sub}/{doc}", ids=ids(doc)),
            deny(f"{sub}-get-instructor-of-other-cohort", "O", "get", f"users/alice/{sub}/{doc}"),
            allow(f"{sub}-get-admin", "ADM", "get", f"users/alice/{sub}/{doc}", ids=ids(doc)),
            deny(f"{sub}-get-anon", "anon", "get", f"users/alice/{sub}/{doc}"),
            allow(f"own-{sub}-list-A", "A", "list", f"users/alice/{sub}", ids=ids(doc)),
            deny(f"other-{sub}-list-B", "B", "list", f"users/alice/{sub}"),
            deny(
                f"own-{sub}-update-A",
                "A",
                "update",
                f"users/alice/{sub}/{doc}",
                data={"hacked": True},
                mask=("hacked",),
            ),
        )
    ),
    # no client writes to learner state, not even one's own: all writes go through functions
    deny(
        "own-resource-progress-create-A",
        "A",
        "create",
        "users/alice/resource_progress/{fresh}",
        data={"status": "completed", "progress_percentage": 100},
    ),
    deny(
        "own-resource-progress-update-A",
        "A",
        "update",
        ALICE_RP,
        data={"status": "completed"},
        mask=("status",),
    ),
    deny(
        "own-resource-progress-replace-A",
        "A",
        "update",
        ALICE_RP,
        data={"status": "completed", "progress_percentage": 100},
    ),
    deny("own-resource-progress-delete-A", "A", "delete", ALICE_RP),
    deny(
        "other-resource-progress-update-B",
        "B",
        "update",
        ALICE_RP,
        data={"status": "not_started"},
        mask=("status",),
    ),
    deny(
        "resource-progress-update-instructor",
        "I",
        "update",
        ALICE_RP,
        data={"status": "reviewed"},
        mask=("status",),
    ),
    deny(
        "own-module-progress-update-A",
        "A",
        "update",
        f"users/alice/module_progress/{MODULE}",
        data={"percentage": 100.0},
        mask=("percentage",),
    ),
    deny(
        "own-pathway-progress-create-A",
        "A",
        "create",
        "users/alice/pathway_progress/{fresh}",
        data={"percentage": 100.0},
    ),
    deny(
        "own-progress-events-create-A",
        "A",
        "create",
        "users/alice/progress_events/{fresh}",
        data={"type": "resource_completed"},
    ),
    deny(
        "own-user-doc-update-A",
        "A",
        "update",
        "users/alice",
        data={"role": "instructor"},
        mask=("role",),
    ),
]

NOTIFICATION_CASES = [
    # the one client write: a learner marks their own notification read
    allow(
        "own-notification-mark-read-A", "A", "update", ALICE_N, data={"read": True}, mask=("read",)
    ),
    allow(
        "own-notification-mark-read-with-time-A",
        "A",
        "update",
        ALICE_N,
        data={"read": True, "read_at": STAMP},
        mask=("read", "read_at"),
    ),
    allow(
        "own-notification-mark-unread-A",
        "A",
        "update",
        ALICE_N,
        data={"read": False},
        mask=("read",),
    ),
    allow(
        "own-notification-replace-changing-only-read-A",
        "A",
        "update",
        ALICE_N,
        data={**_notification("alice"), "read": True},
    ),
    deny(
        "own-notification-read-not-bool-A",
        "A",
        "update",
        ALICE_N,
        data={"read": "yes"},
        mask=("read",),
    ),
    deny(
        "own-notification-read-at-not-timestamp-A",
        "A",
        "update",
        ALICE_N,
        data={"read": True, "read_at": "now"},
        mask=("read", "read_at"),
    ),
    deny(
        "own-notification-other-field-A",
        "A",
        "update",
        ALICE_N,
        data={"title": "You got an A"},
        mask=("title",),
    ),
    deny(
        "own-notification-read-and-other-field-A",
        "A",
        "update",
        ALICE_N,
        data={"read": True, "submission_id": "sub-bob-1"},
        mask=("read", "submission_id"),
    ),
    deny(
        "own-notification-remove-field-A",
        "A",
        "update",
        ALICE_N,
        data={},
        mask=("title",),
    ),
    deny(
        "own-notification-replace-dropping-fields-A",
        "A",
        "update",
        ALICE_N,
        data={"read": True},
    ),
    deny(
        "own-notification-create-A",
        "A",
        "create",
        "users/alice/notifications/{fresh}",
        data={"read": False},
    ),
    deny("own-notification-delete-A", "A", "delete", ALICE_N),
    deny(
        "other-notification-mark-read-B",
        "B",
        "update",
        ALICE_N,
        data={"read": True},
        mask=("read",),
    ),
    deny(
        "notification-mark-read-instructor",
        "I",
        "update",
        ALICE_N,
        data={"read": True},
        mask=("read",),
    ),
    deny(
        "notification-mark-read-anon",
        "anon",
        "update",
        ALICE_N,
        data={"read": True},
        mask=("read",),
    ),
]

ALL_SUBMISSIONS = ids("sub-alice-1", "sub-alice-2", "sub-bob-1")
BY_ALICE = (("user_id", "EQUAL", "alice"),)

SUBMISSION_CASES = [
    allow("own-submission-get-A", "A", "get", "submissions/sub-alice-1", ids=ids("sub-alice-1")),
    deny("other-submission-get-A", "A", "get", "submissions/sub-bob-1"),
    deny("other-submission-get-B", "B", "get", "submissions/sub-alice-1"),
    deny("missing-submission-get-A", "A", "get", "submissions/no-such-submission"),
    allow(
        "submission-get-instructor-of-cohort",
        "I",
        "get",
        "submissions/sub-alice-1",
        ids=ids("sub-alice-1"),
    ),
    deny("submission-get-instructor-of-other-cohort", "I", "get", "submissions/sub-bob-1"),
    allow("submission-get-otto", "O", "get", "submissions/sub-bob-1", ids=ids("sub-bob-1")),
    deny("submission-get-otto-other-cohort", "O", "get", "submissions/sub-alice-1"),
    allow("submission-get-admin", "ADM", "get", "submissions/sub-bob-1", ids=ids("sub-bob-1")),
    deny("submission-get-fake-instructor", "fake-instructor", "get", "submissions/sub-bob-1"),
    deny("submission-get-anon", "anon", "get", "submissions/sub-alice-1"),
    # a list or query that could return another learner's submission is refused as a whole
    deny("submissions-list-A", "A", "list", "submissions"),
    deny("submissions-query-unfiltered-A", "A", "query", "submissions"),
    deny(
        "submissions-query-by-status-A",
        "A",
        "query",
        "submissions",
        where=(("status", "EQUAL", "uploaded"),),
    ),
    deny(
        "submissions-query-by-resource-A",
        "A",
        "query",
        "submissions",
        where=(("resource_id", "EQUAL", RESOURCE),),
    ),
    deny(
        "submissions-query-other-user-A",
        "A",
        "query",
        "submissions",
        where=(("user_id", "EQUAL", "bob"),),
    ),
    deny("submissions-query-as-alice-B", "B", "query", "submissions", where=BY_ALICE),
    deny("submissions-query-anon", "anon", "query", "submissions", where=BY_ALICE),
    allow(
        "submissions-query-own-A",
        "A",
        "query",
        "submissions",
        where=BY_ALICE,
        ids=ids("sub-alice-1", "sub-alice-2"),
    ),
    allow(
        "submissions-query-own-by-status-A",
        "A",
        "query",
        "submissions",
        where=(*BY_ALICE, ("status", "EQUAL", "uploaded")),
        ids=ids("sub-alice-1"),
    ),
    # an instructor's query must be limited to their learners (instructor_uids array-contains)
    deny("submissions-list-instructor", "I", "list", "submissions"),
    deny("submissions-query-instructor", "I", "query", "submissions"),
    deny(
        "submissions-query-pending-unscoped-instructor",
        "I",
        "query",
        "submissions",
        where=(("status", "EQUAL", "uploaded"),),
    ),
    allow(
        "submissions-query-pending-instructor",
        "I",
        "query",
        "submissions",
        where=(("status", "EQUAL", "uploaded"), ("instructor_uids", "ARRAY_CONTAINS", "ivy")),
        ids=ids("sub-alice-1"),
    ),
    deny(
        "submissions-query-posing-as-another-instructor",
        "I",
        "query",
        "submissions",
        where=(("instructor_uids", "ARRAY_CONTAINS", "otto"),),
    ),
    allow("submissions-list-admin", "ADM", "list", "submissions", ids=ALL_SUBMISSIONS),
    allow(
        "submissions-query-pending-admin",
        "ADM",
        "query",
        "submissions",
        where=(("status", "EQUAL", "uploaded"),),
        ids=ids("sub-alice-1", "sub-bob-1"),
    ),
    deny("submissions-list-fake-instructor", "fake-instructor", "list", "submissions"),
    # no client writes: submissions are created by upload-url and reviewed through the API
    deny(
        "own-submission-create-A",
        "A",
        "create",
        "submissions/{fresh}",
        data=_submission("alice", 3, "uploaded"),
    ),
    deny(
        "own-submission-approve-A",
        "A",
        "update",
        "submissions/sub-alice-1",
        data={"status": "approved", "grade": 100},
        mask=("status", "grade"),
    ),
    deny("own-submission-delete-A", "A", "delete", "submissions/sub-alice-1"),
    deny(
        "submission-review-instructor",
        "I",
        "update",
        "submissions/sub-bob-1",
        data={"status": "approved", "reviewed_by": "ivy"},
        mask=("status", "reviewed_by"),
    ),
    deny("submission-delete-instructor", "I", "delete", "submissions/sub-bob-1"),
    deny(
        "submission-create-anon",
        "anon",
        "create",
        "submissions/{fresh}",
        data=_submission("alice", 3, "uploaded"),
    ),
]

# users/{uid}: the learner's profile, kept by the functions from the ID token's claims
ALICE_PROFILE = "users/alice"
PROFILE_CASES = [
    allow("own-profile-get-A", "A", "get", ALICE_PROFILE, ids=ids("alice")),
    deny("other-profile-get-B", "B", "get", ALICE_PROFILE),
    allow("profile-get-instructor", "I", "get", ALICE_PROFILE, ids=ids("alice")),
    deny("profile-get-fake-instructor", "fake-instructor", "get", ALICE_PROFILE),
    deny("profile-get-anon", "anon", "get", ALICE_PROFILE),
    deny("profile-get-instructor-of-other-cohort", "O", "get", ALICE_PROFILE),
    allow("profile-get-admin", "ADM", "get", ALICE_PROFILE, ids=ids("alice")),
    # listing every profile spans learners: admins only
    allow("profiles-list-admin", "ADM", "list", "users", ids=ids("alice", "bob")),
    deny("profiles-list-instructor", "I", "list", "users"),
    deny("profiles-list-A", "A", "list", "users"),
    deny("profiles-list-anon", "anon", "list", "users"),
    # never written by a client: not the owner's own name, not an instructor, not a new profile
    deny(
        "own-profile-update-A",
        "A",
        "update",
        ALICE_PROFILE,
        data={"display_name": "Admin"},
        mask=("display_name",),
    ),
    deny(
        "own-profile-replace-A",
        "A",
        "update",
        ALICE_PROFILE,
        data={"display_name": "Alice", "email": "alice@evil.example"},
    ),
    deny(
        "other-profile-update-B",
        "B",
        "update",
        ALICE_PROFILE,
        data={"display_name": "x"},
        mask=("display_name",),
    ),
    deny(
        "profile-update-instructor",
        "I",
        "update",
        ALICE_PROFILE,
        data={"email": "x@example.com"},
        mask=("email",),
    ),
    deny("own-profile-delete-A", "A", "delete", ALICE_PROFILE),
    deny("profile-delete-instructor", "I", "delete", ALICE_PROFILE),
    deny("own-profile-create-C", "C", "create", "users/carol", data={"display_name": "Carol"}),
    deny("profile-create-A", "A", "create", "users/{fresh}", data={"display_name": "new"}),
    deny("profile-create-I", "I", "create", "users/{fresh}", data={"display_name": "new"}),
    deny("profile-create-anon", "anon", "create", "users/{fresh}", data={"display_name": "n"}),
]

SERVER_ONLY_CASES = [
    *(
        c
        for coll, doc in (
            ("audit_log", "audit-1"),
            ("rate_limits", "alice_upload_url"),
            ("idempotency", "on_upload_finalized-evt-1"),
            ("feature_flags", "web"),  # anything not named in the rules
        )
        for c in (
            *(deny(f"{coll}-get-{w}", w, "get", f"{coll}/{doc}") for w in (*SIGNED_IN, "anon")),
            deny(f"{coll}-list-A", "A", "list", coll),
            deny(f"{coll}-list-I", "I", "list", coll),
            deny(f"{coll}-create-A", "A", "create", f"{coll}/{{fresh}}", data={"x": 1}),
            deny(f"{coll}-create-I", "I", "create", f"{coll}/{{fresh}}", data={"x": 1}),
            deny(f"{coll}-update-A", "A", "update", f"{coll}/{doc}", data={"x": 0}, mask=("x",)),
            deny(f"{coll}-delete-I", "I", "delete", f"{coll}/{doc}"),
        )
    ),
    deny("audit-log-group-query-I", "I", "group-query", "audit_log"),
]

C_IVY = "cohorts/c-ivy"
ALICE_MEMBER = "cohorts/c-ivy/members/alice"
ALICE_MEMBERSHIP = "memberships/alice"
COHORT_CASES = [
    # the cohort document: its instructors and admins
    allow("cohort-get-its-instructor", "I", "get", C_IVY, ids=ids("c-ivy")),
    deny("cohort-get-other-instructor", "O", "get", C_IVY),
    allow("cohort-get-admin", "ADM", "get", C_IVY, ids=ids("c-ivy")),
    deny("cohort-get-member", "A", "get", C_IVY),
    deny("cohort-get-other-learner", "B", "get", C_IVY),
    deny("cohort-get-fake-instructor", "fake-instructor", "get", C_IVY),
    deny("cohort-get-anon", "anon", "get", C_IVY),
    allow("cohorts-list-admin", "ADM", "list", "cohorts", ids=ids("c-ivy", "c-otto")),
    deny("cohorts-list-instructor", "I", "list", "cohorts"),
    allow(
        "cohorts-query-own-instructor",
        "I",
        "query",
        "cohorts",
        where=(("instructor_uids", "ARRAY_CONTAINS", "ivy"),),
        ids=ids("c-ivy"),
    ),
    deny("cohorts-list-A", "A", "list", "cohorts"),
    # a member document: its learner, the cohort's instructors, admins
    allow("member-get-own-A", "A", "get", ALICE_MEMBER, ids=ids("alice")),
    deny("member-get-other-learner-B", "B", "get", ALICE_MEMBER),
    allow("member-get-instructor", "I", "get", ALICE_MEMBER, ids=ids("alice")),
    deny("member-get-other-instructor", "O", "get", ALICE_MEMBER),
    allow("member-get-admin", "ADM", "get", ALICE_MEMBER, ids=ids("alice")),
    deny("member-get-anon", "anon", "get", ALICE_MEMBER),
    allow(
        "members-list-instructor",
        "I",
        "list",
        "cohorts/c-ivy/members",
        ids=ids("alice"),
    ),
    deny("members-list-other-instructor", "O", "list", "cohorts/c-ivy/members"),
    deny("members-list-A", "A", "list", "cohorts/c-ivy/members"),
    # memberships: the learner, their instructors, admins
    allow("membership-get-own-A", "A", "get", ALICE_MEMBERSHIP, ids=ids("alice")),
    deny("membership-get-other-learner-B", "B", "get", ALICE_MEMBERSHIP),
    allow("membership-get-instructor", "I", "get", ALICE_MEMBERSHIP, ids=ids("alice")),
    deny("membership-get-other-instructor", "O", "get", ALICE_MEMBERSHIP),
    allow("membership-get-admin", "ADM", "get", ALICE_MEMBERSHIP, ids=ids("alice")),
    deny("membership-get-anon", "anon", "get", ALICE_MEMBERSHIP),
    deny("memberships-list-I", "I", "list", "memberships"),
    # no client writes: not self-enrolment, not an instructor adding themselves, not an admin
    deny(
        "member-create-self-B",
        "B",
        "create",
        "cohorts/c-ivy/members/{fresh}",
        data={"uid": "bob", "cohort_id": "c-ivy"},
    ),
    deny(
        "membership-update-own-A",
        "A",
        "update",
        ALICE_MEMBERSHIP,
        data={"instructor_uids": ["mallory"]},
        mask=("instructor_uids",),
    ),
    deny(
        "cohort-update-instructors-I",
        "I",
        "update",
        C_IVY,
        data={"instructor_uids": ["ivy", "otto"]},
        mask=("instructor_uids",),
    ),
    deny(
        "cohort-update-admin",
        "ADM",
        "update",
        C_IVY,
        data={"name": "renamed"},
        mask=("name",),
    ),
    deny("cohort-create-admin", "ADM", "create", "cohorts/{fresh}", data={"name": "x"}),
    deny("member-delete-instructor", "I", "delete", ALICE_MEMBER),
    # invite codes: server only, admins included
    *(deny(f"invite-get-{w}", w, "get", "cohort_invites/k1") for w in (*SIGNED_IN, "anon")),
    deny("invites-list-ADM", "ADM", "list", "cohort_invites"),
    deny(
        "invite-update-A",
        "A",
        "update",
        "cohort_invites/k1",
        data={"uses": 0},
        mask=("uses",),
    ),
]

CASES = [
    *CATALOG_CASES,
    *COHORT_CASES,
    *LEARNER_STATE_CASES,
    *NOTIFICATION_CASES,
    *SUBMISSION_CASES,
    *PROFILE_CASES,
    *SERVER_ONLY_CASES,
]


def _read(fs: Firestore, case: Case) -> requests.Response:
    token = TOKENS[case.who]
    if case.op == "get":
        return fs.get(case.path, token)
    if case.op == "list":
        return fs.list(case.path, token)
    if case.op == "query":
        return fs.query(case.path, token, where=case.where)
    return fs.query(case.path, token, where=case.where, all_descendants=True)


def _write(fs: Firestore, case: Case, path: str) -> requests.Response:
    token = TOKENS[case.who]
    if case.op == "create":
        return fs.create(path, case.data, token)
    if case.op == "update":
        return fs.update(path, case.data, token, mask=case.mask)
    return fs.delete(path, token)


def _expected_after_write(before: dict[str, Any], case: Case) -> dict[str, Any]:
    if case.mask is None:
        return dict(case.data)
    after = {k: v for k, v in before.items() if k not in case.mask}
    after.update({k: v for k, v in case.data.items() if k in case.mask})
    return after


@pytest.mark.parametrize("case", [c for c in CASES if c.op in READ_OPS], ids=str)
def test_read(fs: Firestore, case: Case) -> None:
    reply = _read(fs, case)
    if case.allow:
        assert reply.status_code == 200, reply.text
        assert case.ids is not None
        assert document_ids(reply) == case.ids
    else:
        assert is_denied(reply), f"expected PERMISSION_DENIED, got {reply.status_code} {reply.text}"


@pytest.mark.parametrize("case", [c for c in CASES if c.op in WRITE_OPS], ids=str)
def test_write(fs: Firestore, case: Case) -> None:
    path = case.path
    if "{fresh}" in path:
        path = path.format(fresh=unique("w"))
        if case.op != "create":  # a fresh copy of the seeded notification
            fs.put(path, _notification("alice"))
    before = fs.read(path)
    assert (before is None) == (case.op == "create"), f"{path} is not in the expected state"

    reply = _write(fs, case, path)

    after = fs.read(path)
    if case.allow:
        assert reply.status_code == 200, reply.text
        assert before is not None
        assert after == _expected_after_write(before, case)
    else:
        assert is_denied(reply), f"expected PERMISSION_DENIED, got {reply.status_code} {reply.text}"
        assert after == before, f"a denied {case.op} changed {path}"


def test_the_table_covers_every_collection_both_ways() -> None:
    """Each collection of the data model has at least one allowed and one denied case, or, for the
    server-only ones, only denied cases (reads and writes)."""
    by_collection: dict[str, set[tuple[str, bool]]] = {}
    for case in CASES:
        parts = case.path.split("/")
        key = parts[2] if parts[0] == "users" and len(parts) > 2 else parts[0]
        kind = "read" if case.op in READ_OPS else "write"
        by_collection.setdefault(key, set()).add((kind, case.allow))
    for coll in ("pathways", "modules", "resources", "submissions", "resource_progress", "users"):
        assert by_collection[coll] >= {("read", True), ("read", False), ("write", False)}, coll
    assert ("write", True) in by_collection["notifications"]
    assert ("write", False) in by_collection["notifications"]
    for coll in ("cohorts", "memberships"):
        assert by_collection[coll] >= {("read", True), ("read", False), ("write", False)}, coll
    for coll in ("audit_log", "rate_limits", "idempotency", "feature_flags", "cohort_invites"):
        assert by_collection[coll] == {("read", False), ("write", False)}, coll


# -- the rules files compile ----------------------------------------------------------------------


def test_firestore_rules_compile_without_issues(emulator: Emulator) -> None:
    reply = compile_rules(HOST, "demo-aibc-compile", FIRESTORE_RULES.read_text(), "firestore.rules")
    assert reply.status_code == 200, reply.text
    assert reply.json().get("issues", []) == []


def test_the_compile_check_rejects_a_broken_rules_file(emulator: Emulator) -> None:
    broken = FIRESTORE_RULES.read_text().replace(
        "allow read: if signedIn();", "allow read: if ;", 1
    )
    assert broken != FIRESTORE_RULES.read_text()
    reply = compile_rules(HOST, "demo-aibc-compile-broken", broken, "firestore.rules")
    assert reply.status_code == 400
    assert "Error compiling rules" in reply.text


def test_the_compile_check_reports_an_unknown_function(emulator: Emulator) -> None:
    typo = FIRESTORE_RULES.read_text().replace("if isUser(uid) ||", "if isUsr(uid) ||", 1)
    assert typo != FIRESTORE_RULES.read_text()
    reply = compile_rules(HOST, "demo-aibc-compile-typo", typo, "firestore.rules")
    assert reply.status_code == 200
    assert [i["description"] for i in reply.json()["issues"]] == ["Invalid function name: isUsr."]


def test_storage_rules_compile_and_grant_nothing(emulator: Emulator) -> None:
    """No Storage rules emulator runs here (firebase-tools fetches it from an unreachable host), so
    this checks what can be checked: the Rules compiler (the same language) accepts the file with no
    warnings, and its only grant is ``if false``. Uploads and downloads use signed URLs, which
    rules do not govern; the signed-URL front of the local cloud is tested elsewhere."""
    source = STORAGE_RULES.read_text()
    reply = compile_rules(HOST, "demo-aibc-compile-storage", source, "storage.rules")
    assert reply.status_code == 200, reply.text
    assert reply.json().get("issues", []) == []
    code = [line.split("//", 1)[0].strip() for line in source.splitlines()]
    grants = [line for line in code if line.startswith("allow")]
    assert grants == ["allow read, write: if false;"]
    assert "service firebase.storage {" in code
