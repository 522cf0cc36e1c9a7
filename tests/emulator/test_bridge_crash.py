"""The local transport survives its own crash (issue 10 item 9).

The bridge journals every event before acknowledging it, so what it had pending comes back after a
kill; uploads finished while it was down are caught up from the storage listing; the supervisor
starts a killed function or bridge again within seconds. These tests kill real processes of the
local cloud (SIGKILL, as a crash) and always leave them running again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.emulator.bridge_helpers import (
    LOCAL,
    Recorder,
    answers,
    hold,
    kill,
    pids,
    probe_route,
    wait_restarted,
)
from tests.emulator.test_submissions_e2e import IMG_EXERCISE, PNG, Learner
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

SETTLE = 90.0


def restarts(name: str) -> int:
    path = LOCAL / "restarts.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    count: int = data.get(name, {}).get("count", 0)
    return count


def bridge_back(cloud: dict[str, Any], old_pid: int) -> float:
    return wait_restarted("bridge", old_pid, cloud["bridge"] + "/health")


def test_pending_deliveries_and_retries_survive_a_killed_bridge(
    cloud: dict[str, Any], bridge: Any, db: Any, recorder: Recorder
) -> None:
    recorder.status = 500  # the endpoint is failing: the events wait in the retry schedule
    _, collection = probe_route(bridge, recorder)
    subjects = []
    for i in range(3):
        path = f"{collection}/d{i}"
        db.document(path).set({"n": i})
        subjects.append(f"documents/{path}")
    wait_for(
        lambda: len({r["headers"]["ce-subject"] for r in recorder.requests}) == 3,
        timeout=SETTLE,
        what="each event to have failed once",
    )
    old = kill("bridge")
    bridge_back(cloud, old)
    assert bridge.stats()["restarted"] is True
    recorder.status = 204  # the endpoint heals: the journaled events are delivered
    wait_for(lambda: sorted(set(recorder.accepted())) == subjects, timeout=SETTLE, what="all 3")
    bridge.wait_idle(timeout=SETTLE)
    assert sorted(recorder.accepted()) == subjects  # once each


def test_uploads_finished_while_the_bridge_is_down_are_all_recorded(
    cloud: dict[str, Any], bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    learners = [Learner(unique("u"), api, mint, db) for _ in range(4)]
    grants = [me.url(IMG_EXERCISE, "cat.png", "image/png", PNG) for me in learners]

    def put(grant: dict[str, Any]) -> int:
        reply = requests.put(grant["upload_url"], data=PNG, headers=grant["headers"], timeout=30)
        return reply.status_code

    held = hold("bridge")
    old = pids()["bridge"]
    try:
        kill("bridge")
        assert not answers(cloud["bridge"] + "/health")
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(put, grants)) == [200] * len(grants)
        time.sleep(1.0)  # the outage goes on a little after the last upload finished
        assert not answers(cloud["bridge"] + "/health")
    finally:
        held.unlink()
        bridge_back(cloud, old)
    for me, grant in zip(learners, grants, strict=True):
        sub = me.wait_status(grant["submission_id"], "uploaded", timeout=SETTLE)
        assert sub["attempt"] == 1
    caught = [c for c in bridge.catchups() if c["kind"] == "storage"]
    assert caught[-1]["events"] >= len(learners)
    assert [c for c in bridge.catchups() if c["kind"] == "firestore"]  # ran, or said why not
    bridge.wait_idle(timeout=SETTLE)
    for me in learners:
        assert me.progress(IMG_EXERCISE)["submission_count"] == 1


def test_the_firestore_emulator_does_not_retry_a_push_the_bridge_missed(
    cloud: dict[str, Any], bridge: Any, db: Any, recorder: Recorder
) -> None:
    """Why the bridge runs a Firestore catch-up on restart: a push that failed is gone.

    Should the emulator start retrying, this fails, and the catch-up becomes a belt and braces."""
    _, collection = probe_route(bridge, recorder)  # the route survives the restart (journal)
    log = LOCAL / "logs" / "firestore.log"
    failures_before = log.read_text(errors="replace").count("Failed to publish")
    held = hold("bridge")
    old = pids()["bridge"]
    try:
        kill("bridge")
        db.document(f"{collection}/missed").set({"n": 1})
        wait_for(
            lambda: log.read_text(errors="replace").count("Failed to publish") > failures_before,
            timeout=30,
            what="the emulator to report the failed push",
        )
    finally:
        held.unlink()
        bridge_back(cloud, old)
    db.document(f"{collection}/after").set({"n": 2})
    wait_for(recorder.accepted, timeout=SETTLE, what="the write after the restart")
    time.sleep(5)  # room for a retry of the missed push, were there one
    assert recorder.accepted() == [f"documents/{collection}/after"]


@pytest.mark.parametrize("name", ["resources", "on_resource_progress_written"])
def test_a_killed_function_is_back_and_serving_within_seconds(
    cloud: dict[str, Any], name: str
) -> None:
    before = restarts(name)
    url = cloud["functions"][name] + "/no/such/route"
    assert answers(url)
    old = kill(name)
    took = wait_restarted(name, old, url, timeout=60)
    assert restarts(name) == before + 1
    assert pids()[name] != old
    print(f"{name} back in {took:.1f}s")


def test_a_trigger_killed_mid_stream_loses_no_rollup(
    cloud: dict[str, Any], bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    mid = "prompt-engineering-m1"
    uid = unique("u")
    token = mint(uid)
    old = kill("on_resource_progress_written")
    for kind in ("video", "article", "quiz"):
        reply = api("progress").post(f"/users/me/resources/{mid}-{kind}/complete", token=token)
        assert reply.status_code == 200, reply.text
    wait_restarted(
        "on_resource_progress_written", old, cloud["functions"]["on_resource_progress_written"]
    )

    def count() -> Any:
        snap = db.document(f"users/{uid}/module_progress/{mid}").get()
        return (snap.to_dict() or {}).get("completed_resources")

    wait_for(lambda: count() == 3, timeout=SETTLE, what="the module to count 3")
