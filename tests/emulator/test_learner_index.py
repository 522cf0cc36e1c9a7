"""The reconcile's learner reads against the Firestore emulator (``FirestoreLearnerIndex``): a
learner read by key (a re-evaluation, issue 13) is the listed read restricted to the named
documents, plus the submission indexes of progress with an upload status.

The documents live in a database of their own: the event bridge watches only the default one,
so no trigger rewrites them while the test reads."""

from __future__ import annotations

from typing import Any

from shared.adapters.learners import FirestoreLearnerIndex
from shared.services.ports import StateKeys
from tests.helpers import unique

DATABASE = "learner-index-tests"


def test_a_learner_read_by_key_is_the_listed_read_restricted_to_the_keys(
    cloud: dict[str, Any],
) -> None:
    from google.cloud import firestore

    db = firestore.Client(project=cloud["project_id"], database=DATABASE)
    uid = unique("learner")
    user = db.collection("users").document(uid)

    def progress(rid: str, pid: str, mid: str, status: str) -> dict[str, Any]:
        return {"resource_id": rid, "pathway_id": pid, "module_id": mid, "status": status}

    batch = db.batch()
    for rid, pid, mid, status in (
        ("r1", "p1", "m1", "completed"),
        ("r2", "p1", "m1", "submitted"),  # an upload status on a resource not in upload_ids
        ("r9", "p2", "m9", "completed"),  # another pathway: not named
    ):
        batch.set(
            user.collection("resource_progress").document(rid), progress(rid, pid, mid, status)
        )
    for mid, pid in (("m1", "p1"), ("m9", "p2")):
        batch.set(
            user.collection("module_progress").document(mid),
            {"module_id": mid, "pathway_id": pid, "completed_resources": 1, "total_resources": 3},
        )
    for pid in ("p1", "p2"):
        batch.set(
            user.collection("pathway_progress").document(pid),
            {"pathway_id": pid, "completed_resources": 1, "total_resources": 3},
        )
    for rid in ("r2", "r3", "r8"):
        batch.set(
            user.collection("resource_submissions").document(rid),
            {"resource_id": rid, "user_id": uid, "attempts": 1},
        )
    batch.commit()

    index = FirestoreLearnerIndex(db)
    everything = index.learner_state(uid)
    keys = StateKeys(
        resource_ids=("r1", "r2", "r3", "missing"),
        module_ids=("m1", "missing"),
        pathway_ids=("p1",),
        upload_ids=("r3",),
    )
    keyed = index.learner_state(uid, keys)

    assert sorted(everything.resources) == ["r1", "r2", "r9"]
    assert sorted(everything.submissions) == ["r2", "r3", "r8"]
    assert keyed.uid == uid
    assert keyed.resources == {r: everything.resources[r] for r in ("r1", "r2")}
    assert keyed.modules == {"m1": everything.modules["m1"]}
    assert keyed.pathways == {"p1": everything.pathways["p1"]}
    # r3 by upload_ids, r2 by its upload status; r8 is named by nothing
    assert keyed.submissions == {r: everything.submissions[r] for r in ("r2", "r3")}
