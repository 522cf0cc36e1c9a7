"""The event bridge's fault modes (issue 10 item 8), its retry budget and dead-letter list (item 3).

Each mode is switched on through the control API for one test (the ``bridge`` fixture resets it):
the event still arrives, and the effects stay exactly once. Deliveries to a recording endpoint show
what the bridge does; learners on the real functions show that the platform copes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.emulator.bridge_helpers import ROOT, Recorder, probe_route
from tests.emulator.test_submissions_e2e import IMG_EXERCISE, PNG, Learner
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

PID = "prompt-engineering"
MID = f"{PID}-m1"
SETTLE = 90.0


@pytest.fixture
def own_dead_letters(bridge: Any) -> Iterator[list[str]]:
    """Targets whose dead letters this test makes on purpose: cleared afterwards, pass or fail."""
    targets: list[str] = []
    yield targets
    mine = [e["id"] for e in bridge.dead_letters() if e["target"] in targets]
    if mine:
        bridge.clear_dead_letters(mine)


def write_docs(db: Any, collection: str, n: int) -> list[str]:
    subjects = []
    for i in range(n):
        path = f"{collection}/d{i:02d}"
        db.document(path).set({"n": i})
        subjects.append(f"documents/{path}")
    return subjects


def complete(api: Any, token: str, rid: str) -> None:
    reply = api("progress").post(f"/users/me/resources/{rid}/complete", token=token)
    assert reply.status_code == 200, reply.text


def module_count(db: Any, uid: str) -> Any:
    snap = db.document(f"users/{uid}/module_progress/{MID}").get()
    return (snap.to_dict() or {}).get("completed_resources")


# ---- drop ------------------------------------------------------------------------------------


def test_a_dropped_delivery_is_redelivered_later_exactly_once(
    bridge: Any, db: Any, recorder: Recorder
) -> None:
    before = bridge.stats()["faults"].get("dropped", 0)
    bridge.configure(drop={"rate": 1.0, "redeliver_after": 2.0})
    _, collection = probe_route(bridge, recorder)
    started = time.monotonic()
    [subject] = write_docs(db, collection, 1)
    wait_for(recorder.accepted, timeout=30, what="the dropped event to be redelivered")
    assert time.monotonic() - started >= 1.9  # not before the redelivery delay
    bridge.wait_idle(timeout=SETTLE)
    assert recorder.accepted() == [subject]
    assert len(recorder.requests) == 1  # the lost delivery never reached it
    assert bridge.stats()["faults"]["dropped"] >= before + 1


def test_rollups_are_exact_when_every_first_delivery_is_lost(
    bridge: Any, db: Any, api: Any, mint: Callable[..., str]
) -> None:
    bridge.configure(drop={"rate": 1.0, "redeliver_after": 1.0})
    uid = unique("u")
    token = mint(uid)
    for kind in ("video", "article"):
        complete(api, token, f"{MID}-{kind}")
    wait_for(lambda: module_count(db, uid) == 2, timeout=SETTLE, what="the module to count 2")
    bridge.wait_idle(timeout=SETTLE)
    assert module_count(db, uid) == 2
    pathway = db.document(f"users/{uid}/pathway_progress/{PID}").get().to_dict()
    assert pathway["completed_resources"] == 2


# ---- reorder and delay ----------------------------------------------------------------------


def test_reorder_lets_close_events_overtake_each_other_and_all_arrive(
    bridge: Any, db: Any, recorder: Recorder
) -> None:
    bridge.configure(reorder={"window": 2.0})
    _, collection = probe_route(bridge, recorder)
    subjects = write_docs(db, collection, 12)
    wait_for(lambda: len(recorder.accepted()) >= 12, timeout=SETTLE, what="12 events")
    bridge.wait_idle(timeout=SETTLE)
    arrived = recorder.accepted()
    assert sorted(arrived) == subjects  # each exactly once
    assert arrived != subjects  # and not in the order written (12! orders; one is the written one)


def test_reordered_completions_and_an_uncomplete_end_on_the_right_count(
    bridge: Any, db: Any, api: Any, mint: Callable[..., str]
) -> None:
    bridge.configure(reorder={"window": 1.5})
    uid = unique("u")
    token = mint(uid)
    for kind in ("video", "article", "quiz"):
        complete(api, token, f"{MID}-{kind}")
    reply = api("progress").post(f"/users/me/resources/{MID}-quiz/uncomplete", token=token)
    assert reply.status_code == 200, reply.text
    bridge.wait_idle(timeout=SETTLE)
    wait_for(lambda: module_count(db, uid) == 2, timeout=SETTLE, what="the module to count 2")


def test_a_delayed_event_arrives_after_the_delay(bridge: Any, db: Any, recorder: Recorder) -> None:
    bridge.configure(delay=1.5)
    _, collection = probe_route(bridge, recorder)
    started = time.monotonic()
    [subject] = write_docs(db, collection, 1)
    wait_for(recorder.accepted, timeout=30, what="the delayed event")
    assert time.monotonic() - started >= 1.4
    assert recorder.accepted() == [subject]


# ---- a function answering 5xx -----------------------------------------------------------------


def test_injected_5xx_are_retried_until_every_event_arrives_once(
    bridge: Any, db: Any, recorder: Recorder
) -> None:
    probe, collection = probe_route(bridge, recorder)
    before = bridge.stats()
    bridge.configure(fail={probe: 0.5}, backoff_max=1.0)
    subjects = write_docs(db, collection, 12)
    wait_for(lambda: len(recorder.accepted()) >= 12, timeout=SETTLE, what="12 events")
    bridge.wait_idle(timeout=SETTLE)
    assert sorted(recorder.accepted()) == subjects
    assert len(recorder.requests) == 12  # the injected failures never reached the endpoint
    after = bridge.stats()
    failed = after["faults"].get("failed", 0) - before["faults"].get("failed", 0)
    assert failed > 0
    assert after["retried"] - before["retried"] >= failed


def test_uploads_are_recorded_once_while_the_storage_trigger_fails_half_its_calls(
    bridge: Any, api: Any, mint: Callable[..., str], db: Any
) -> None:
    bridge.configure(fail={"on_upload_finalized": 0.5}, backoff_max=1.0)
    learners = [Learner(unique("u"), api, mint, db) for _ in range(4)]
    grants = [me.url(IMG_EXERCISE, "cat.png", "image/png", PNG) for me in learners]

    def put(grant: dict[str, Any]) -> int:
        reply = requests.put(grant["upload_url"], data=PNG, headers=grant["headers"], timeout=30)
        return reply.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:  # the uploads finish at the same moment
        assert list(pool.map(put, grants)) == [200] * len(grants)
    for me, grant in zip(learners, grants, strict=True):
        sub = me.wait_status(grant["submission_id"], "uploaded", timeout=SETTLE)
        assert sub["attempt"] == 1
    bridge.wait_idle(timeout=SETTLE)
    for me in learners:
        assert me.progress(IMG_EXERCISE)["submission_count"] == 1


# ---- the retry budget and the dead-letter list ---------------------------------------------------


def test_an_event_failing_past_its_budget_is_dead_lettered_then_can_be_redelivered(
    bridge: Any, db: Any, recorder: Recorder, own_dead_letters: list[str]
) -> None:
    recorder.status = 500
    probe, collection = probe_route(bridge, recorder)
    own_dead_letters.append(probe)
    bridge.configure(budgets={probe: 1.0})
    [subject] = write_docs(db, collection, 1)
    [entry] = wait_for(
        lambda: [e for e in bridge.dead_letters() if e["target"] == probe],
        timeout=SETTLE,
        what="the event in the dead-letter list",
    )
    assert entry["subject"] == subject
    assert entry["last_error"] == "HTTP 500"
    assert entry["attempts"] >= 2
    assert len(recorder.requests) == entry["attempts"]

    recorder.status = 204
    reply = requests.post(
        bridge.base + "/deadletter/redeliver", json={"ids": [entry["id"]]}, timeout=10
    )
    assert reply.json() == {"redelivered": 1}
    wait_for(lambda: recorder.accepted() == [subject], timeout=30, what="the redelivery")
    assert [e for e in bridge.dead_letters() if e["target"] == probe] == []


def test_a_dead_letter_can_be_cleared(
    bridge: Any, db: Any, recorder: Recorder, own_dead_letters: list[str]
) -> None:
    recorder.status = 503
    probe, collection = probe_route(bridge, recorder)
    own_dead_letters.append(probe)
    bridge.configure(budgets={probe: 0.5})
    write_docs(db, collection, 1)
    [entry] = wait_for(
        lambda: [e for e in bridge.dead_letters() if e["target"] == probe],
        timeout=SETTLE,
        what="the event in the dead-letter list",
    )
    shown = subprocess.run(
        [sys.executable, "-m", "localcloud", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    assert f"dead letter #{entry['id']}: " in shown  # make status lists it
    assert bridge.clear_dead_letters([entry["id"]]) == [entry["id"]]
    assert all(e["id"] != entry["id"] for e in bridge.dead_letters())


def test_the_default_budget_is_production_s_24_hours_with_a_low_backoff_cap(bridge: Any) -> None:
    config = bridge.config()
    assert config["retry_budget"] == 24 * 3600
    assert config["backoff_max"] <= 30


@pytest.mark.parametrize(
    "settings",
    [
        {"drop_rate": 2},
        {"fail": {"x": 1.5}},
        {"delay": -1},
        {"duplicate": "yes"},
        {"budgets": {"x": "soon"}},
        {"no_such_setting": 1},
    ],
)
def test_bad_settings_are_refused_with_400_and_change_nothing(
    bridge: Any, settings: dict[str, Any]
) -> None:
    before = bridge.config()
    reply = requests.post(bridge.base + "/config", json=settings, timeout=10)
    assert reply.status_code == 400
    assert "error" in reply.json()
    assert bridge.config() == before
