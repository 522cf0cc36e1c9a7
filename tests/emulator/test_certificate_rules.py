"""firestore.rules for certificates, executed by the Firestore emulator (its own, on its own port).

A learner reads their own certificate links (``users/{uid}/certificates/{pathway_id}``), and so do
instructors (as all learner state); another learner and no one cannot; nobody writes them. The
``certificates`` collection itself is closed to every client, instructors included: verification
goes through the ``certificates`` function. Each case both ways, in the style of
tests/emulator/test_firestore_rules.py (whose runner and cases' shape this module reuses).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.emulator.rules_client import Emulator, Firestore, document_ids, is_denied
from tests.emulator.test_firestore_rules import (
    FIRESTORE_RULES,
    PROJECT,
    TOKENS,
    Case,
    _read,
    _write,
    allow,
    deny,
    ids,
)
from tests.helpers import unique

# Not the port of test_firestore_rules.py (8483): both may run at once; one per local cloud.
HOST = f"127.0.0.1:{8487 + int(os.environ.get('LOCALCLOUD_PORT_OFFSET', '0') or 0)}"
NOW = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
PATHWAY = "image-generation"
CERT = "k3Y9cQ2mZ7wP1xR5tV8nAa"


def _link(cert_id: str) -> dict[str, Any]:
    return {
        "pathway_id": PATHWAY,
        "certificate_id": cert_id,
        "pathway_title": "Image generation",
        "completed_at": NOW,
        "issued_at": NOW,
        "status": "valid",
    }


SEED: dict[str, dict[str, Any]] = {
    # ivy ("I") teaches alice's cohort, otto ("O") bob's (shared/domain/cohorts.py)
    "memberships/alice": {"uid": "alice", "cohort_ids": ["c-a"], "instructor_uids": ["ivy"]},
    "memberships/bob": {"uid": "bob", "cohort_ids": ["c-b"], "instructor_uids": ["otto"]},
    f"users/alice/certificates/{PATHWAY}": _link(CERT),
    f"users/bob/certificates/{PATHWAY}": _link("bobsCertificateId00000"),
    f"certificates/{CERT}": {
        "uid": "alice",
        "pathway_id": PATHWAY,
        "pathway_title": "Image generation",
        "display_name": "Alice",
        "completed_at": NOW,
        "issued_at": NOW,
        "status": "valid",
    },
}

ALICE_LINK = f"users/alice/certificates/{PATHWAY}"
CASES = [
    allow("own-link-get-A", "A", "get", ALICE_LINK, ids=ids(PATHWAY)),
    allow("own-links-list-A", "A", "list", "users/alice/certificates", ids=ids(PATHWAY)),
    allow("link-get-instructor", "I", "get", ALICE_LINK, ids=ids(PATHWAY)),
    allow("link-get-admin", "ADM", "get", ALICE_LINK, ids=ids(PATHWAY)),
    deny("link-get-instructor-of-another-cohort", "O", "get", ALICE_LINK),
    deny("other-link-get-B", "B", "get", ALICE_LINK),
    deny("other-links-list-B", "B", "list", "users/alice/certificates"),
    deny("link-get-fake-instructor", "fake-instructor", "get", ALICE_LINK),
    deny("link-get-anon", "anon", "get", ALICE_LINK),
    deny("links-group-query-A", "A", "group-query", "certificates"),
    deny("own-link-create-A", "A", "create", "users/alice/certificates/{fresh}", data=_link("x")),
    deny(
        "own-link-reinstate-A",
        "A",
        "update",
        ALICE_LINK,
        data={"status": "valid"},
        mask=("status",),
    ),
    deny("own-link-delete-A", "A", "delete", ALICE_LINK),
    deny("link-update-instructor", "I", "update", ALICE_LINK, data={"x": 1}, mask=("x",)),
    # the certificates themselves: server-only
    deny("certificate-get-owner-A", "A", "get", f"certificates/{CERT}"),
    deny("certificate-get-B", "B", "get", f"certificates/{CERT}"),
    deny("certificate-get-instructor", "I", "get", f"certificates/{CERT}"),
    deny("certificate-get-anon", "anon", "get", f"certificates/{CERT}"),
    deny("certificates-list-instructor", "I", "list", "certificates"),
    deny("certificates-list-anon", "anon", "list", "certificates"),
    deny("certificate-create-A", "A", "create", "certificates/{fresh}", data={"uid": "alice"}),
    deny(
        "certificate-revoke-undo-A",
        "A",
        "update",
        f"certificates/{CERT}",
        data={"status": "valid"},
        mask=("status",),
    ),
    deny("certificate-delete-I", "I", "delete", f"certificates/{CERT}"),
]


def _first_wipe(client: Firestore, timeout: float = 120.0) -> None:
    """The fresh JVM's first requests can take well over the client's 10 s on a loaded machine
    (it compiles the rules on first use): wipe with a patient timeout, retrying until a deadline."""
    url = (
        f"http://{client.host}/emulator/v1/projects/{client.project}/databases/(default)/documents"
    )
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            reply = requests.delete(url, timeout=60)
            if reply.ok:
                return
            last = f"{reply.status_code} {reply.text[:200]}"
        except requests.RequestException as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"the rules emulator never accepted a wipe within {timeout}s: {last}")


@pytest.fixture(scope="module")
def fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firestore]:
    log = tmp_path_factory.mktemp("certificate-rules") / "emulator.log"
    emu = Emulator(HOST, FIRESTORE_RULES, log)
    emu.start()
    try:
        client = Firestore(HOST, PROJECT)
        _first_wipe(client)
        for path, data in SEED.items():
            client.put(path, data)
        probe = client.get(ALICE_LINK, TOKENS["A"])
        assert probe.status_code == 200, f"the owner's read failed: {probe.text}"
        assert is_denied(client.get(ALICE_LINK, TOKENS["B"])), "the emulator ignores the rules"
        assert "Error compiling rules" not in emu.log(), emu.log()
        yield client
    finally:
        emu.stop()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.op in ("get", "list", "group-query")], ids=str
)
def test_read(fs: Firestore, case: Case) -> None:
    reply = _read(fs, case)
    if case.allow:
        assert reply.status_code == 200, reply.text
        assert document_ids(reply) == case.ids
    else:
        assert is_denied(reply), f"expected PERMISSION_DENIED, got {reply.status_code} {reply.text}"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.op in ("create", "update", "delete")], ids=str
)
def test_write(fs: Firestore, case: Case) -> None:
    path = case.path.format(fresh=unique("w")) if "{fresh}" in case.path else case.path
    before = fs.read(path)
    assert (before is None) == (case.op == "create"), f"{path} is not in the expected state"
    reply = _write(fs, case, path)
    after = fs.read(path)
    assert not case.allow  # no client writes a certificate or a link
    assert is_denied(reply), f"expected PERMISSION_DENIED, got {reply.status_code} {reply.text}"
    assert after == before, f"a denied {case.op} changed {path}"


def test_the_table_covers_links_both_ways_and_certificates_only_denied() -> None:
    links = {(c.op, c.allow) for c in CASES if c.path.startswith("users/")}
    certs = {c.allow for c in CASES if c.path.startswith("certificates")}
    assert ("get", True) in links
    assert ("get", False) in links
    assert {a for op, a in links if op in ("create", "update", "delete")} == {False}
    assert certs == {False}
