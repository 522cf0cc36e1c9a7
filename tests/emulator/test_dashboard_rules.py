"""firestore.rules for the cohort dashboard's live count (``cohorts/{cid}/live_counts/{shard}``),
executed by the local cloud's Firestore emulator.

The rules file is loaded for a project of this test's own (``PUT .../{project}:securityRules``, as
firebase-tools hot-loads rules), so no second emulator is started and no other test's data is
touched. The data is seeded as the owner (which bypasses rules); then the REST API is called as
the cohort's instructor (ivy), an instructor of another cohort (ian), ivy without the instructor
claim, a learner of the cohort (alice), an admin (root), tokens carrying the claims as strings and
no one. Every case states who, what and whether the rules allow it; an allowed read returns exactly
the documents named, a denied write changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localcloud.tokens import mint
from tests.emulator.rules_client import Firestore, compile_rules, document_ids, is_denied

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
PROJECT = f"demo-aibc-dash-rules-{uuid.uuid4().hex[:8]}"
PID = "image-generation"


def token(uid: str, **claims: Any) -> str:
    return mint(uid, project_id=PROJECT, extra=claims)


TOKENS: dict[str, str | None] = {
    "ivy": token("ivy", instructor=True),  # listed by c1
    "ian": token("ian", instructor=True),  # listed by c2 only
    "ivy-no-claim": token("ivy"),  # listed by c1, but the claim is gone
    "alice": token("alice"),  # a learner of c1
    "root": token("root", admin=True),
    "fake-admin": token("mallory", admin="true"),
    "fake-instructor": token("ivy", instructor="true"),
    "anon": None,
}

SEED: dict[str, dict[str, Any]] = {
    "cohorts/c1": {"name": "One", "pathway_ids": [PID], "instructor_uids": ["ivy"]},
    "cohorts/c2": {"name": "Two", "pathway_ids": [PID], "instructor_uids": ["ian"]},
    "cohorts/c1/members/alice": {"uid": "alice", "cohort_id": "c1", "pathway_ids": [PID]},
    "cohorts/c1/live_counts/0": {"awaiting_review": 2, "pathways": {PID: 2}},
    "cohorts/c1/live_counts/5": {"awaiting_review": 1, "pathways": {PID: 1}},
    "cohorts/c2/live_counts/3": {"awaiting_review": 4, "pathways": {PID: 4}},
    # a cohort whose document is gone: its instructors are unknown, so nobody but admins
    "cohorts/c3/live_counts/0": {"awaiting_review": 1},
    f"cohorts/c1/dashboard/{PID}/rows/alice": {"uid": "alice", "minutes": 5},
    f"cohorts/c1/dashboard/{PID}/counters/0": {"learners": 1},
    "memberships/alice": {"uid": "alice", "cohort_ids": ["c1"], "instructor_uids": ["ivy"]},
}


@dataclass(frozen=True)
class Case:
    id: str
    who: str
    op: str  # get | list | create | update | delete
    path: str
    allow: bool
    ids: frozenset[str] | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.id


def allow(case_id: str, who: str, op: str, path: str, *ids: str) -> Case:
    return Case(case_id, who, op, path, True, frozenset(ids))


def deny(case_id: str, who: str, op: str, path: str, **data: Any) -> Case:
    return Case(case_id, who, op, path, False, data=data)


LIVE1, LIVE2 = "cohorts/c1/live_counts", "cohorts/c2/live_counts"
CASES = [
    allow("instructor-gets-own-cohort-count", "ivy", "get", f"{LIVE1}/0", "0"),
    allow("instructor-lists-own-cohort-counts", "ivy", "list", LIVE1, "0", "5"),
    allow("admin-gets-any-cohort-count", "root", "get", f"{LIVE2}/3", "3"),
    allow("admin-lists-any-cohort-counts", "root", "list", LIVE1, "0", "5"),
    allow(
        "admin-lists-counts-of-a-cohort-without-document",
        "root",
        "list",
        "cohorts/c3/live_counts",
        "0",
    ),
    allow("other-instructor-lists-their-own", "ian", "list", LIVE2, "3"),
    deny("other-instructor-gets-another-cohorts-count", "ian", "get", f"{LIVE1}/0"),
    deny("other-instructor-lists-another-cohorts-counts", "ian", "list", LIVE1),
    deny("instructor-lists-another-cohorts-counts", "ivy", "list", LIVE2),
    deny("listed-uid-without-the-claim", "ivy-no-claim", "get", f"{LIVE1}/0"),
    deny("string-instructor-claim", "fake-instructor", "list", LIVE1),
    deny("string-admin-claim", "fake-admin", "get", f"{LIVE1}/0"),
    deny("learner-of-the-cohort-gets", "alice", "get", f"{LIVE1}/0"),
    deny("learner-of-the-cohort-lists", "alice", "list", LIVE1),
    deny("anon-gets", "anon", "get", f"{LIVE1}/0"),
    deny("anon-lists", "anon", "list", LIVE1),
    deny("instructor-of-a-cohort-without-document", "ivy", "list", "cohorts/c3/live_counts"),
    deny("instructor-creates-a-count", "ivy", "create", f"{LIVE1}/{{fresh}}", awaiting_review=0),
    deny("instructor-updates-a-count", "ivy", "update", f"{LIVE1}/0", awaiting_review=0),
    deny("instructor-deletes-a-count", "ivy", "delete", f"{LIVE1}/0"),
    deny("admin-updates-a-count", "root", "update", f"{LIVE1}/0", awaiting_review=0),
    deny("learner-creates-a-count", "alice", "create", f"{LIVE1}/{{fresh}}", awaiting_review=9),
    deny(
        "instructor-reads-a-dashboard-row", "ivy", "get", f"cohorts/c1/dashboard/{PID}/rows/alice"
    ),
    deny("admin-reads-a-dashboard-row", "root", "get", f"cohorts/c1/dashboard/{PID}/rows/alice"),
    deny("instructor-lists-dashboard-rows", "ivy", "list", f"cohorts/c1/dashboard/{PID}/rows"),
    deny("instructor-reads-counters", "ivy", "get", f"cohorts/c1/dashboard/{PID}/counters/0"),
]


@pytest.fixture(scope="module")
def fs(stack: dict[str, Any]) -> Firestore:
    host = stack["emulators"]["firestore"]
    rules = (ROOT / "firestore.rules").read_text()
    loaded = compile_rules(host, PROJECT, rules, "firestore.rules")
    assert loaded.status_code == 200, loaded.text
    assert loaded.json().get("issues", []) == [], loaded.text
    client = Firestore(host, PROJECT)
    for path, data in SEED.items():
        client.put(path, data)
    # the emulator enforces OUR rules for emulator tokens in this project
    probe = client.get(f"cohorts/c1/dashboard/{PID}/rows/alice", TOKENS["root"])
    assert is_denied(probe), (probe.status_code, probe.text)
    return client


@pytest.mark.parametrize("case", CASES, ids=str)
def test_live_count_rules(fs: Firestore, case: Case) -> None:
    who = TOKENS[case.who]
    path = case.path.replace("{fresh}", uuid.uuid4().hex[:8])
    before = fs.read(path) if case.op in ("update", "delete") else None
    if case.op == "get":
        reply = fs.get(path, who)
    elif case.op == "list":
        reply = fs.list(path, who)
    elif case.op == "create":
        reply = fs.create(path, case.data, who)
    elif case.op == "update":
        reply = fs.update(path, case.data, who, mask=tuple(case.data))
    else:
        reply = fs.delete(path, who)
    if case.allow:
        assert reply.status_code == 200, (reply.status_code, reply.text)
        assert document_ids(reply) == case.ids
    else:
        assert is_denied(reply), (reply.status_code, reply.text)
        if case.op in ("create", "update", "delete"):
            assert fs.read(path) == before  # nothing created, changed or removed
