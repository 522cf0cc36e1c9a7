"""Reconcile repairs certificate links end to end on the local cloud (issue 13 remainders): learners
finish a pathway through the progress function (the certificate trigger issues their
certificates), then the links are corrupted directly (admin client: a deleted certificate, a
revoked one made live again); ``python -m ops reconcile`` finds and repairs exactly those, while
other learners take a completion back and redo it, racing the trigger and the run on the same
certificates. Afterwards each learner has exactly one live certificate if, and only if, their
pathway is at 100 %, and a second run finds nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.test_reconcile_e2e import counts, ops_reconcile
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

SETTLE = 120.0  # generous: the machine is shared


@pytest.fixture
def pathway(db: Any) -> Iterator[tuple[str, list[str]]]:
    pid = unique("rcert")
    mid = f"{pid}-m1"
    rids = [f"{mid}-a", f"{mid}-b"]
    batch = db.batch()
    batch.set(
        db.document(f"pathways/{pid}"),
        {"pathway_id": pid, "title": "Certified", "module_ids": [mid]},
    )
    batch.set(
        db.document(f"modules/{mid}"),
        {"module_id": mid, "pathway_id": pid, "title": mid, "order": 0, "resource_ids": rids},
    )
    for order, rid in enumerate(rids):
        batch.set(
            db.document(f"resources/{rid}"),
            {
                "resource_id": rid,
                "pathway_id": pid,
                "module_id": mid,
                "title": rid,
                "type": "article",
                "order": order,
            },
        )
    batch.commit()
    yield pid, rids
    for path in (f"pathways/{pid}", f"modules/{mid}", *(f"resources/{r}" for r in rids)):
        db.document(path).delete()


def link_of(db: Any, uid: str, pid: str) -> dict[str, Any]:
    data: dict[str, Any] = db.document(f"users/{uid}/certificates/{pid}").get().to_dict() or {}
    return data


def live_certificates(db: Any, uid: str, pid: str) -> list[str]:
    query = (
        db.collection("certificates")
        .where(filter=FieldFilter("uid", "==", uid))
        .where(filter=FieldFilter("pathway_id", "==", pid))
    )
    return [s.id for s in query.stream() if (s.to_dict() or {}).get("status", "valid") == "valid"]


def consistent(db: Any, uid: str, pid: str) -> bool:
    """A live certificate (one, named by the link) exactly when the pathway is at 100 %."""
    path = db.document(f"users/{uid}/pathway_progress/{pid}").get().to_dict() or {}
    complete = path.get("percentage") == 100.0 and path.get("completed_at") is not None
    link = link_of(db, uid, pid)
    live = live_certificates(db, uid, pid)
    if complete:
        return link.get("status") == "valid" and live == [link.get("certificate_id")]
    return live == [] and link.get("status", "revoked") == "revoked"


def test_reconcile_repairs_certificate_links_while_learners_race_it_and_then_finds_none(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], pathway: tuple[str, list[str]]
) -> None:
    pid, rids = pathway
    progress = api("progress")
    uids = [unique("rc") for _ in range(6)]
    tokens = {u: mint(u) for u in uids}

    def act(uid: str, verb: str, rid: str) -> None:
        reply = progress.post(f"/users/me/resources/{rid}/{verb}", token=tokens[uid])
        assert reply.status_code == 200, reply.text

    for uid in uids:
        for rid in rids:
            act(uid, "complete", rid)
    wait_for(
        lambda: all(link_of(db, u, pid).get("status") == "valid" for u in uids),
        timeout=SETTLE,
        what="every learner's certificate",
    )
    missing, revived = uids[:2], uids[2:4]
    for uid in missing:  # 100 % without a live certificate: the certificate was lost
        cert_id = link_of(db, uid, pid)["certificate_id"]
        db.document(f"certificates/{cert_id}").delete()
        db.document(f"users/{uid}/certificates/{pid}").delete()
    for uid in revived:  # below 100 % with a live certificate: a revocation undone by hand
        act(uid, "uncomplete", rids[1])
        revoked = wait_for(
            lambda u=uid: (found := link_of(db, u, pid)).get("status") == "revoked" and found,
            timeout=SETTLE,
            what="the revocation",
        )
        db.document(f"users/{uid}/certificates/{pid}").set(
            {"status": "valid", "revoked_at": None}, merge=True
        )
        db.document(f"certificates/{revoked['certificate_id']}").set(
            {"status": "valid", "revoked_at": None}, merge=True
        )

    dry = ops_reconcile("--pathway", pid, "--dry-run", "--inline")
    assert counts(dry, "certificates") == (6, 4, 0)
    assert dry["tally"]["certificates"]["written"] == 0
    assert not consistent(db, missing[0], pid), "a dry run repairs nothing"

    # the run, while the two other learners take their completion back and redo it
    racers = uids[4:]
    errors: list[BaseException] = []
    report: dict[str, Any] = {}

    def race(uid: str) -> None:
        try:
            for _ in range(3):
                act(uid, "uncomplete", rids[0])
                act(uid, "complete", rids[0])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def run() -> None:
        try:
            report.update(ops_reconcile("--pathway", pid, "--inline", "--page-size", "2"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(u,)) for u in racers]
    threads.append(threading.Thread(target=run))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SETTLE * 2)
    assert not errors, errors
    checked, drifted, repaired = counts(report, "certificates")
    # the four corrupted ones are checked and repaired; a racer is checked unless the run has
    # just rewritten its rollup (that write's trigger settles its certificate)
    assert 4 <= checked <= 6
    assert drifted >= 4
    assert repaired == drifted

    wait_for(
        lambda: all(consistent(db, u, pid) for u in uids),
        timeout=SETTLE,
        interval=0.5,
        what="exactly one live certificate for each learner at 100 %, none below",
    )
    for uid in missing:
        assert link_of(db, uid, pid)["status"] == "valid"
    for uid in revived:
        assert link_of(db, uid, pid)["status"] == "revoked"

    # The racers' last events may still be on their way through the triggers (certificates agree
    # before the rollups are written back): wait until a dry run finds no rollup to repair, since a
    # run leaves the certificate of a rollup it rewrites to that write's trigger and would not
    # check it. Then the run checks all six and finds nothing.
    def settled() -> bool:
        return bool(
            ops_reconcile("--pathway", pid, "--dry-run", "--inline")["tally"]["pathways"]["drifted"]
            == 0
        )

    wait_for(settled, timeout=SETTLE, interval=1.0, what="the racers' rollups to settle")
    again = ops_reconcile("--pathway", pid, "--inline")
    assert counts(again, "certificates") == (6, 0, 0)
