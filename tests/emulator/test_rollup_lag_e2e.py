"""The pathway follows a learner's completes one event after the resource's write: the resource
trigger recounts it as soon as it changed the module, and a trigger with nothing to write only peeks.

Threads hit the real local cloud at once, with every event delivered twice, while the bridge answers
503 for every delivery to ``on_module_progress_written``: the pathways still reach the count the
completes imply (only the resource trigger can have written them). Then the module trigger heals,
its held-back events are delivered, and nothing changes: every level equals a from-scratch recount
and nothing is dead-lettered.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

LEARNERS = 6
PATHWAY = "image-generation"
MODULE = f"{PATHWAY}-m1"
BY_HAND = tuple(f"{MODULE}-{k}" for k in ("video", "article", "quiz"))
SETTLE = 180.0


def test_pathways_follow_concurrent_completes_while_the_module_trigger_fails(
    bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    from shared.bootstrap import deps
    from shared.services.reconcile import Tally

    run = unique("lag")
    uids = [f"{run}-{i}" for i in range(LEARNERS)]
    tokens = {u: mint(u) for u in uids}
    progress = api("progress")
    bridge.configure(duplicate=True, fail={"on_module_progress_written": 1.0}, backoff_max=1.0)
    jobs = [(u, rid) for u in uids for rid in BY_HAND]
    start = threading.Barrier(len(jobs))

    def complete(job: tuple[str, str]) -> int:
        uid, rid = job
        start.wait()
        reply = progress.post(f"/users/me/resources/{rid}/complete", token=tokens[uid])
        return reply.status_code

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        assert list(pool.map(complete, jobs)) == [200] * len(jobs)

    def pathway(uid: str) -> dict[str, Any]:
        return db.document(f"users/{uid}/pathway_progress/{PATHWAY}").get().to_dict() or {}

    for uid in uids:  # the module trigger answers 503 to everything: the resource trigger did it
        wait_for(
            lambda uid=uid: pathway(uid).get("completed_resources") == len(BY_HAND),
            timeout=SETTLE,
            what=f"{uid}'s pathway at 3 completed with the module trigger failing",
        )
    assert bridge.stats()["faults"].get("failed", 0) > 0

    bridge.reset()  # the module trigger heals; its held-back events are delivered
    bridge.wait_idle(quiet=2.0, timeout=SETTLE)
    for uid in uids:
        module = db.document(f"users/{uid}/module_progress/{MODULE}").get().to_dict() or {}
        assert module["completed_resources"] == len(BY_HAND), uid
        assert pathway(uid)["completed_resources"] == len(BY_HAND), uid
    reconciler = dataclasses.replace(deps().reconciler(), dry_run=True)
    tally = Tally()
    for uid in uids:
        tally = tally + reconciler.learner(uid)
    assert tally.learners == LEARNERS
    assert tally.drifted == 0, tally
    assert [e for e in bridge.dead_letters() if run in str(e.get("subject"))] == []
