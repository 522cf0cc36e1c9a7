"""Drift repair end to end on the local cloud: learners act through the progress function and the
real triggers; then their rollups and statuses are corrupted directly (admin client) and
``python -m ops reconcile`` repairs them, once through the real Cloud Tasks queue (``task_reconcile``
chained batch after batch) and once inline.

Each test builds its own small pathway in the catalog (fresh ids), so ``--pathway`` confines a run to
the test's learners and the reported counts can be asserted exactly. Expected rollups are computed
here from the learner's ``resource_progress`` documents, by hand, not by the service's code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.task_calls import task_headers
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 90.0  # generous: the machine is shared and the event transport slows down under load
COUNTING = {"completed", "submitted", "reviewed"}
UPLOADED = {"submitted", "reviewed"}


@dataclass(frozen=True)
class Course:
    """A two-module pathway: m1 = two videos; m2 = a video and an exercise (upload)."""

    pid: str

    @property
    def m1(self) -> str:
        return f"{self.pid}-m1"

    @property
    def m2(self) -> str:
        return f"{self.pid}-m2"

    def r(self, module: str, kind: str) -> str:
        return f"{module}-{kind}"

    @property
    def modules(self) -> dict[str, list[tuple[str, bool]]]:
        """module id -> [(resource id, requires_upload)]."""
        return {
            self.m1: [(self.r(self.m1, "video"), False), (self.r(self.m1, "article"), False)],
            self.m2: [(self.r(self.m2, "video"), False), (self.r(self.m2, "exercise"), True)],
        }


@pytest.fixture
def course(db: Any) -> Iterator[Course]:
    c = Course(unique("rcpath"))
    batch = db.batch()
    batch.set(
        db.document(f"pathways/{c.pid}"),
        {"pathway_id": c.pid, "title": "Reconcile test", "module_ids": list(c.modules)},
    )
    for order, (mid, items) in enumerate(c.modules.items()):
        batch.set(
            db.document(f"modules/{mid}"),
            {
                "module_id": mid,
                "pathway_id": c.pid,
                "title": mid,
                "order": order,
                "resource_ids": [rid for rid, _ in items],
            },
        )
        for rorder, (rid, upload) in enumerate(items):
            batch.set(
                db.document(f"resources/{rid}"),
                {
                    "resource_id": rid,
                    "pathway_id": c.pid,
                    "module_id": mid,
                    "title": rid,
                    "type": "exercise" if upload else "video",
                    "order": rorder,
                    "requires_upload": upload,
                    "accepted_file_types": ["application/pdf"] if upload else [],
                    "max_file_size_mb": 5 if upload else 0,
                    "optional": False,
                },
            )
    batch.commit()
    yield c
    batch = db.batch()
    for mid, items in c.modules.items():
        batch.delete(db.document(f"modules/{mid}"))
        for rid, _ in items:
            batch.delete(db.document(f"resources/{rid}"))
    batch.delete(db.document(f"pathways/{c.pid}"))
    batch.commit()


# ---- reading and recounting ----------------------------------------------------------------------


def doc(db: Any, path: str) -> dict[str, Any] | None:
    snap = db.document(path).get()
    return snap.to_dict() if snap.exists else None


def recount(
    db: Any, c: Course, uid: str
) -> tuple[dict[str, tuple[int, int]], tuple[int, int, int]]:
    """From ``resource_progress`` only: {module: (done, total)} and the pathway's
    (completed modules, completed resources, total resources)."""
    modules: dict[str, tuple[int, int]] = {}
    for mid, items in c.modules.items():
        done = 0
        for rid, upload in items:
            status = (doc(db, f"users/{uid}/resource_progress/{rid}") or {}).get("status")
            done += status in (UPLOADED if upload else COUNTING)
        modules[mid] = (done, len(items))
    finished = sum(d == t for d, t in modules.values())
    return modules, (
        finished,
        sum(d for d, _ in modules.values()),
        sum(t for _, t in modules.values()),
    )


def rollups_match_recount(db: Any, c: Course, uid: str) -> bool:
    modules, (finished, done, total) = recount(db, c, uid)
    for mid, (d, t) in modules.items():
        stored = doc(db, f"users/{uid}/module_progress/{mid}")
        if stored is None:
            if d:
                return False
            continue
        right = (stored["completed_resources"], stored["total_resources"]) == (d, t)
        right &= stored["percentage"] == round(100.0 * d / t, 2)
        if not right or (stored["completed_at"] is not None) != (d == t):
            return False
    path = doc(db, f"users/{uid}/pathway_progress/{c.pid}")
    if path is None:
        return not any(doc(db, f"users/{uid}/module_progress/{m}") for m in c.modules)
    n = len(c.modules)
    return (
        (path["completed_modules"], path["total_modules"]) == (finished, n)
        and (path["completed_resources"], path["total_resources"]) == (done, total)
        and path["percentage"] == round(100.0 * finished / n, 2)
        and path["resource_percentage"] == round(100.0 * done / total, 2)
        and (path["completed_at"] is not None) == (finished == n)
    )


def settled(db: Any, c: Course, uids: list[str]) -> None:
    wait_for(
        lambda: all(rollups_match_recount(db, c, u) for u in uids),
        timeout=SETTLE,
        interval=0.3,
        what="the triggers to settle every learner",
    )


# ---- acting -----------------------------------------------------------------------------------


def ok(reply: requests.Response) -> dict[str, Any]:
    assert reply.status_code == 200, (reply.status_code, reply.text)
    data: dict[str, Any] = reply.json()
    return data


def complete(progress: Any, token: str, *rids: str) -> None:
    for rid in rids:
        ok(progress.post(f"/users/me/resources/{rid}/complete", token=token))


def approved_upload(db: Any, c: Course, uid: str, *, status: str | None) -> None:
    """An approved submission for the exercise (and its entry in the per-resource index, which is
    what the status is recounted from); ``status``: what resource_progress then says
    (``reviewed`` as the review flow writes it, or a drifted one; None: leave it)."""
    rid = c.r(c.m2, "exercise")
    sid = unique("sub").replace("-", "")[:32].ljust(32, "0")
    db.document(f"submissions/{sid}").set(
        {
            "submission_id": sid,
            "user_id": uid,
            "resource_id": rid,
            "module_id": c.m2,
            "pathway_id": c.pid,
            "attempt": 1,
            "file_name": "work.pdf",
            "content_type": "application/pdf",
            "size_bytes": 100,
            "gcs_bucket": "demo-aibc-submissions",
            "gcs_path": f"pathways/{c.pid}/users/{uid}/resources/{rid}/{sid}/work.pdf",
            "gcs_generation": 1,
            "status": "approved",
            "counted_generations": [1],
        }
    )
    # the learner's per-resource index, as the submission use cases keep it with the submission
    db.document(f"users/{uid}/resource_submissions/{rid}").set(
        {
            "resource_id": rid,
            "user_id": uid,
            "attempts": 1,
            "submissions": {sid: {"attempt": 1, "status": "approved"}},
        }
    )
    if status is not None:
        now = dt.datetime.now(dt.UTC)
        db.document(f"users/{uid}/resource_progress/{rid}").set(
            {
                "resource_id": rid,
                "module_id": c.m2,
                "pathway_id": c.pid,
                "status": status,
                "submission_count": 1,
                "started_at": now,
                "completed_at": now if status in UPLOADED else None,
                "updated_at": now,
            },
            merge=True,
        )


def corrupt(db: Any, path: str, **fields: Any) -> None:
    db.document(path).set(fields, merge=True)


# ---- running reconcile ------------------------------------------------------------------------


def ops_reconcile(*args: str, timeout: float = 300) -> dict[str, Any]:
    """``python -m ops reconcile ... --json`` as an operator runs it (against .local/stack.json)."""
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
    done = subprocess.run(
        [sys.executable, "-m", "ops", "reconcile", "--json", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def counts(report: dict[str, Any], level: str) -> tuple[int, int, int]:
    c = report["tally"][level]
    return c["checked"], c["drifted"], c["repaired"]


# ---- the scenario -----------------------------------------------------------------------------


@dataclass
class Drifted:
    uids: dict[str, str]  # role -> uid
    completed_at: dict[str, Any]  # what must survive


def drift_scenario(db: Any, c: Course, progress: Any, mint: Callable[..., str]) -> Drifted:
    run = unique("rc")
    uids = {role: f"{run}-{role}" for role in ("a", "b", "c", "d", "e")}
    tokens = {role: mint(uid) for role, uid in uids.items()}
    v1, a1, v2 = c.r(c.m1, "video"), c.r(c.m1, "article"), c.r(c.m2, "video")
    # a: finished m1; d: finished m1; e: started (clean)
    for role in ("a", "d"):
        complete(progress, tokens[role], v1, a1)
    ok(progress.post(f"/users/me/resources/{v1}/start", token=tokens["e"]))
    # b: finished everything (the exercise through an approved upload)
    complete(progress, tokens["b"], v1, a1, v2)
    approved_upload(db, c, uids["b"], status="reviewed")
    # c: finished m2's video, started the exercise, has an approved upload the status missed
    complete(progress, tokens["c"], v2)
    ok(progress.post(f"/users/me/resources/{c.r(c.m2, 'exercise')}/start", token=tokens["c"]))
    approved_upload(db, c, uids["c"], status=None)
    settled(db, c, list(uids.values()))

    user = {role: f"users/{uid}" for role, uid in uids.items()}
    b_path = doc(db, f"{user['b']}/pathway_progress/{c.pid}")
    d_mod = doc(db, f"{user['d']}/module_progress/{c.m1}")
    assert b_path is not None
    assert d_mod is not None
    assert b_path["completed_at"] is not None
    assert d_mod["completed_at"] is not None

    # a: module m1 wiped; its trigger then spreads the drift to the pathway (wait for that)
    corrupt(
        db,
        f"{user['a']}/module_progress/{c.m1}",
        completed_resources=0,
        percentage=0.0,
        completed_at=None,
    )
    wait_for(
        lambda: (
            (doc(db, f"{user['a']}/pathway_progress/{c.pid}") or {}).get("completed_resources") == 0
        ),
        timeout=SETTLE,
        what="the drift to spread to a's pathway",
    )
    # b: the completed pathway's counts, not its completed_at (no trigger listens on pathways)
    corrupt(
        db,
        f"{user['b']}/pathway_progress/{c.pid}",
        completed_resources=1,
        resource_percentage=25.0,
    )
    # d: module m1's percentage only (the pathway trigger finds nothing to change)
    corrupt(db, f"{user['d']}/module_progress/{c.m1}", percentage=42.0)
    return Drifted(
        uids=uids,
        completed_at={"b": b_path["completed_at"], "d": d_mod["completed_at"]},
    )


def assert_repaired(db: Any, c: Course, scenario: Drifted, report: dict[str, Any]) -> None:
    assert report["done"]
    assert report["pathway_id"] == c.pid
    assert report["tally"]["learners"] == 5
    # statuses: b's and c's exercise checked, c's drifted; modules: 2 per learner, a m1, c m2 and
    # d m1 drifted; pathways: a (spread), b (counts) and c (the missed upload)
    assert counts(report, "statuses") == (2, 1, 1)
    assert counts(report, "modules") == (10, 3, 3)
    assert counts(report, "pathways") == (5, 3, 3)
    for uid in scenario.uids.values():
        assert rollups_match_recount(db, c, uid), uid
    b_path = doc(db, f"users/{scenario.uids['b']}/pathway_progress/{c.pid}")
    d_mod = doc(db, f"users/{scenario.uids['d']}/module_progress/{c.m1}")
    assert b_path is not None
    assert d_mod is not None
    assert b_path["completed_at"] == scenario.completed_at["b"], "the original completed_at kept"
    assert d_mod["completed_at"] == scenario.completed_at["d"], "the original completed_at kept"
    exercise = doc(db, f"users/{scenario.uids['c']}/resource_progress/{c.r(c.m2, 'exercise')}")
    assert exercise is not None
    assert exercise["status"] == "reviewed"
    assert exercise["completed_at"] is not None
    # the repair is recorded as every submission-driven change is: one event, naming the run
    events = [
        e.to_dict()
        for e in db.collection(f"users/{scenario.uids['c']}/progress_events").stream()
        if (e.to_dict() or {}).get("action") == "reconcile"
    ]
    assert [(e["from_status"], e["to_status"], e["run_id"]) for e in events] == [
        ("in_progress", "reviewed", report["run_id"])
    ]
    c_path = doc(db, f"users/{scenario.uids['c']}/pathway_progress/{c.pid}")
    assert c_path is not None
    assert (c_path["completed_modules"], c_path["completed_resources"]) == (1, 2)


# ---- tests ------------------------------------------------------------------------------------


def test_reconcile_through_the_task_queue_repairs_exactly_the_drift_and_then_finds_none(
    db: Any, course: Course, api: Callable[[str], Any], mint: Callable[..., str]
) -> None:
    scenario = drift_scenario(db, course, api("progress"), mint)
    dry = ops_reconcile("--pathway", course.pid, "--dry-run", "--page-size", "2")
    assert dry["tally"]["learners"] == 5
    assert counts(dry, "modules") == (10, 3, 0), json.dumps(dry)
    assert not rollups_match_recount(db, course, scenario.uids["a"]), "a dry run repairs nothing"

    # page size 2: five learners in three chained tasks
    report = ops_reconcile("--pathway", course.pid, "--page-size", "2")
    assert report["batches"] == 3
    assert_repaired(db, course, scenario, report)

    run = db.document(f"reconcile_runs/{report['run_id']}")
    assert run.get().to_dict()["done"] is True
    # one lane (5 learners), its batches each once: reconcile_runs/{run}/batches/{lane}-{batch}
    assert sorted(b.id for b in run.collection("batches").stream()) == ["0-0", "0-1", "0-2"]

    settled(db, course, list(scenario.uids.values()))
    again = ops_reconcile("--pathway", course.pid, "--page-size", "2")
    for level in ("statuses", "modules", "pathways"):
        assert counts(again, level)[1:] == (0, 0), level


def test_reconcile_inline_repairs_exactly_the_drift_and_then_finds_none(
    db: Any, course: Course, api: Callable[[str], Any], mint: Callable[..., str]
) -> None:
    scenario = drift_scenario(db, course, api("progress"), mint)
    report = ops_reconcile("--pathway", course.pid, "--inline", "--page-size", "3")
    assert report["batches"] == 2
    assert_repaired(db, course, scenario, report)
    settled(db, course, list(scenario.uids.values()))
    again = ops_reconcile("--pathway", course.pid, "--inline")
    for level in ("statuses", "modules", "pathways"):
        assert counts(again, level)[1:] == (0, 0), level


def test_learners_acting_while_reconcile_runs_end_with_no_drift(
    db: Any, course: Course, api: Callable[[str], Any], mint: Callable[..., str], cloud: Any
) -> None:
    from shared.bootstrap import deps
    from shared.services import reconcile as service

    progress = api("progress")
    run = unique("rcc")
    uids = [f"{run}-{i}" for i in range(6)]
    rids = [rid for items in course.modules.values() for rid, upload in items if not upload]
    for uid in uids:  # some drift for the runs to repair while the learners act
        corrupt(
            db,
            f"users/{uid}/module_progress/{course.m1}",
            module_id=course.m1,
            pathway_id=course.pid,
            completed_resources=2,
            total_resources=2,
            percentage=100.0,
        )
    errors: list[BaseException] = []
    stop = threading.Event()

    def learner(uid: str) -> None:
        token = mint(uid)
        try:
            for round_ in range(3):
                for rid in rids:
                    complete(progress, token, rid)
                if round_ < 2:
                    for rid in rids:
                        ok(progress.post(f"/users/me/resources/{rid}/uncomplete", token=token))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def reconciling() -> None:
        try:
            n = 0
            while not stop.is_set():
                task = service.ReconcileBatch(
                    run_id=f"{run}-run{n}", pathway_id=course.pid, page_size=2
                )
                service.run_inline(
                    task, reconciler=deps().reconciler(), runs=deps().runs, page_size=2
                )
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=learner, args=(uid,)) for uid in uids]
    repairer = threading.Thread(target=reconciling)
    repairer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    repairer.join(timeout=300)
    assert not errors, errors

    settled(db, course, uids)
    for uid in uids:
        modules, (finished, done, _) = recount(db, course, uid)
        assert modules[course.m1] == (2, 2)
        assert (finished, done) == (1, 3)
    final = ops_reconcile("--pathway", course.pid, "--inline")
    assert final["tally"]["learners"] == len(uids)
    for level in ("statuses", "modules", "pathways"):
        assert counts(final, level)[1:] == (0, 0), level


def test_the_task_handler_takes_only_the_queues_calls_and_well_formed_batches(
    cloud: dict[str, Any],
) -> None:
    url = cloud["functions"]["task_reconcile"]
    anonymous = requests.post(url, json={"run_id": "x"}, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    headers = task_headers(cloud, "task_reconcile")
    bad = requests.post(url, json={"run_id": "../x"}, headers=headers, timeout=30)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_argument"
    for body in ({"run_id": "r", "batch": 1, "cursor": 7}, {"pathway_id": "p", "cursor": "u"}):
        refused = requests.post(url, json=body, headers=headers, timeout=30)
        assert refused.status_code == 400, body
        assert refused.json()["error"]["code"] == "invalid_argument"


def test_a_scheduler_call_without_a_run_id_starts_the_days_run(
    db: Any, course: Course, api: Callable[[str], Any], mint: Callable[..., str], cloud: Any
) -> None:
    """What the nightly Cloud Scheduler job sends: a static body; the run is named after the day."""
    uid = unique("rcs")
    complete(api("progress"), mint(uid), course.r(course.m1, "video"))
    settled(db, course, [uid])
    corrupt(db, f"users/{uid}/pathway_progress/{course.pid}", resource_percentage=99.0)
    url = cloud["functions"]["task_reconcile"]
    headers = task_headers(cloud, "task_reconcile")
    before = dt.datetime.now(dt.UTC)
    reply = requests.post(url, json={"pathway_id": course.pid}, headers=headers, timeout=120)
    assert reply.status_code == 200, reply.text
    started = reply.json()  # the run, started in lanes: their first batches are queued
    days = {f"{d:%Y%m%d}" for d in (before, dt.datetime.now(dt.UTC))}  # midnight may pass
    assert started["run_id"] in {f"nightly-{day}-{course.pid}" for day in days}
    assert started["lanes"] == 1 + len(started["bounds"]) >= 1
    run = f"reconcile_runs/{started['run_id']}"
    wait_for(lambda: (doc(db, run) or {}).get("done"), timeout=SETTLE, interval=0.3, what="the run")
    first = doc(db, f"{run}/batches/0-0")
    assert first is not None
    assert first["tally"]["pathways"]["drifted"] == 1
    assert rollups_match_recount(db, course, uid)


def test_a_batch_delivered_twice_at_once_is_counted_once_and_the_chain_still_finishes(
    db: Any, course: Course, api: Callable[[str], Any], mint: Callable[..., str], cloud: Any
) -> None:
    """What Cloud Tasks does after a crash or a lost reply: the same batch again, here twice in
    parallel straight to the handler; the successor is enqueued once (deterministic task name)."""
    from shared.bootstrap import deps

    progress = api("progress")
    run = unique("rcd")
    uids = [f"{run}-{i}" for i in range(3)]
    for uid in uids:
        complete(progress, mint(uid), course.r(course.m1, "video"))
    settled(db, course, uids)
    corrupt(db, f"users/{uids[0]}/module_progress/{course.m1}", completed_resources=2)
    run_id = unique("redelivered")
    first = {"run_id": run_id, "pathway_id": course.pid, "page_size": 2}
    url = cloud["functions"]["task_reconcile"]
    headers = task_headers(cloud, "task_reconcile")
    replies: list[requests.Response] = []

    def deliver() -> None:
        replies.append(requests.post(url, json=first, headers=headers, timeout=120))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
    assert {r.json()["next_cursor"] for r in replies} == {uids[1]}

    def finished() -> Any:
        report = deps().runs.report(run_id)
        return report if report is not None and report.done else None

    report = wait_for(finished, timeout=SETTLE, interval=0.3, what="the chained batch")
    # each learner counted once, not once per delivery
    assert (report.batches, report.tally.learners, report.tally.modules.checked) == (2, 3, 6)
    # the drift was repaired once: whichever delivery recorded last counts it (1) or found it
    # already repaired by the other (0); never both
    assert report.tally.modules.drifted <= 1
    assert report.tally.modules.written <= 1
    for uid in uids:
        assert rollups_match_recount(db, course, uid), uid


def test_status_repairs_racing_uploads_and_reviews_end_consistent_with_the_submissions(
    db: Any, api: Callable[[str], Any], mint: Callable[..., str], cloud: Any, bridge: Any
) -> None:
    """The status repair's transaction (progress and per-resource index by key) against the
    submission transactions: learners upload through signed URLs and get approved while reconcile
    repairs the same learners over and over, starting from a planted wrong status. Whatever the
    interleaving, each status ends as its submissions imply, each upload counted once. (The narrow
    race, an upload between the check and the repair, is pinned in tests/unit/test_reconcile.py.)"""
    import dataclasses

    from shared.bootstrap import deps
    from tests.emulator.test_submissions_e2e import IMG_EXERCISE, PNG, Learner

    learners = [Learner(unique("rcu"), api, mint, db) for _ in range(6)]
    approved = {me.uid for i, me in enumerate(learners) if i % 2 == 0}
    for me in learners:  # drift to repair: "submitted" with no submission behind it
        corrupt(
            db,
            f"users/{me.uid}/resource_progress/{IMG_EXERCISE}",
            resource_id=IMG_EXERCISE,
            module_id="image-generation-m1",
            pathway_id="image-generation",
            status="submitted",
            started_at=dt.datetime.now(dt.UTC),
            completed_at=dt.datetime.now(dt.UTC),
        )
    teacher = mint(unique("teacher"), admin=True)
    errors: list[BaseException] = []
    stop = threading.Event()
    rounds = [0]

    def reconciling() -> None:
        try:
            while not stop.is_set():
                reconciler = deps().reconciler()
                for me in learners:
                    reconciler.learner(me.uid)
                rounds[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def journey(me: Learner) -> None:
        try:
            grant = me.upload(IMG_EXERCISE, "cat.png", "image/png", PNG)
            seen = me.wait_status(grant["submission_id"], "uploaded", timeout=SETTLE)
            if me.uid in approved:
                reply = api("review").post(
                    f"/admin/submissions/{grant['submission_id']}/review",
                    token=teacher,
                    json={"decision": "approve", "generation": seen["gcs_generation"], "grade": 90},
                )
                assert reply.status_code == 200, reply.text
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    repairer = threading.Thread(target=reconciling)
    threads = [threading.Thread(target=journey, args=(me,)) for me in learners]
    repairer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    bridge.wait_idle(timeout=SETTLE)
    stop.set()
    repairer.join(timeout=120)
    assert errors == []
    assert rounds[0] >= 1
    for me in learners:
        progress = me.progress(IMG_EXERCISE)
        assert progress["status"] == ("reviewed" if me.uid in approved else "submitted"), me.uid
        assert progress["submission_count"] == 1, me.uid
    dry = dataclasses.replace(deps().reconciler(), dry_run=True)
    assert sum(dry.learner(me.uid).drifted for me in learners) == 0
