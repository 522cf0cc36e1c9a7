"""The catalog's life end to end on the local cloud (issue 13): ``python -m catalog apply`` on a
pathway file, the re-evaluation it enqueues (chained ``task_reconcile`` batches through the real
Cloud Tasks emulator), the triggers, and the learners' documents in the Firestore emulator.

Each test writes its own pathway file (fresh ids) into a temporary folder and applies only that
folder, so the runs touch only the test's learners. Learners are seeded as the triggers leave them
(resource, module and pathway documents) with distinct completion times; what the numbers must be
is computed here by hand from the catalog the test wrote, not by the service's code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.bridge_helpers import answers, hold, kill, pids, wait_restarted
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 180.0  # generous: the machine is shared
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
VOLATILE = {
    "updated_at",
    "content_version",
    "waived_resource_ids",
    "waived_module_ids",
    "retired_at",
}


@dataclass
class Course:
    """A pathway file: module id -> resource ids, and its change policy."""

    pid: str
    modules: dict[str, list[str]]
    policy: str = "recount"
    folder: Path = field(default_factory=Path)

    def text(self) -> str:
        return yaml.safe_dump(
            {
                "pathway_id": self.pid,
                "title": self.pid,
                "change_policy": self.policy,
                "modules": [
                    {
                        "module_id": mid,
                        "title": mid,
                        "resources": [
                            {"resource_id": rid, "type": "article", "title": rid} for rid in rids
                        ],
                    }
                    for mid, rids in self.modules.items()
                ],
            },
            sort_keys=False,
        )

    def module_of(self, rid: str) -> str:
        return next(m for m, rids in self.modules.items() if rid in rids)


def cli_env() -> dict[str, str]:
    """A fresh shell's environment: no emulator variables and no project (the CLI finds the local
    cloud through .local/stack.json, as an operator's does)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_EMULATOR_HOST")
        and k not in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS")
    }


def apply(c: Course, *extra: str, wait: bool = True) -> dict[str, Any]:
    (c.folder / f"{c.pid}.yaml").write_text(c.text())
    args = [sys.executable, "-m", "catalog", "apply", "--dir", str(c.folder), "--json", *extra]
    if wait:
        args += ["--wait", "--timeout", str(SETTLE)]
    done = subprocess.run(
        args, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=SETTLE + 60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # the reply is the last line (structured logs of the libraries come before it)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture
def course(tmp_path: Path, db: Any) -> Callable[..., Course]:
    made: list[Course] = []

    def make(modules: dict[str, list[str]], policy: str = "recount") -> Course:
        pid = unique("cat")
        c = Course(
            pid,
            {f"{pid}-{m}": [f"{pid}-{m}-{r}" for r in rids] for m, rids in modules.items()},
            policy,
            tmp_path,
        )
        apply(c)
        made.append(c)
        return c

    yield make  # type: ignore[misc]
    for c in made:
        for kind in ("resources", "modules"):
            same = FieldFilter("pathway_id", "==", c.pid)
            for snap in db.collection(kind).where(filter=same).stream():
                snap.reference.delete()
        db.document(f"pathways/{c.pid}").delete()


# ---- learners ---------------------------------------------------------------------------------


def at(i: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=i)


def seed(db: Any, c: Course, uids: list[str], done: Callable[[str], list[str]]) -> None:
    """Each learner's progress as the triggers leave it: the resources ``done(uid)`` completed
    (the n-th at T0 + n minutes), and the module and pathway rollups counted from them."""
    batch = db.batch()
    for n, uid in enumerate(uids, start=1):
        finished = done(uid)
        for i, rid in enumerate(finished):
            batch.set(
                db.document(f"users/{uid}/resource_progress/{rid}"),
                {
                    "resource_id": rid,
                    "module_id": c.module_of(rid),
                    "pathway_id": c.pid,
                    "status": "completed",
                    "progress_percentage": 100,
                    "completed_at": at(i),
                    "started_at": at(i),
                    "updated_at": at(i),
                },
            )
        for ref, data in expected(c, finished).items():
            batch.set(db.document(f"users/{uid}/{ref}"), {**data, "updated_at": T0})
        if n % 20 == 0:
            batch.commit()
            batch = db.batch()
    batch.commit()


def ratio(d: int, t: int) -> float:
    return 100.0 if t == 0 else round(100.0 * d / t, 2)


def expected(
    c: Course,
    finished: list[str],
    *,
    waived: set[str] = frozenset(),  # type: ignore[assignment]
    times: dict[str, dt.datetime] | None = None,
) -> dict[str, dict[str, Any]]:
    """The rollups a from-scratch count gives (resources in ``finished`` completed in that order;
    ``waived`` resources do not count)."""
    when = times or {rid: at(i) for i, rid in enumerate(finished)}
    docs: dict[str, dict[str, Any]] = {}
    done_modules = done_res = total_res = 0
    module_times = []
    for mid, rids in c.modules.items():
        counted = [r for r in rids if r not in waived]
        d = sum(r in finished for r in counted)
        complete = d == len(counted)
        stamp = max((when[r] for r in counted), default=None) if complete else None
        module_times.append(stamp)
        done_modules += complete
        done_res += d
        total_res += len(counted)
        if d == 0:
            continue  # never touched: no document (the pathway reads it as 0 of its total)
        docs[f"module_progress/{mid}"] = {
            "module_id": mid,
            "pathway_id": c.pid,
            "completed_resources": d,
            "total_resources": len(counted),
            "percentage": ratio(d, len(counted)),
            "completed_at": stamp,
        }
    n = len(c.modules)
    docs[f"pathway_progress/{c.pid}"] = {
        "pathway_id": c.pid,
        "completed_modules": done_modules,
        "total_modules": n,
        "percentage": ratio(done_modules, n),
        "completed_resources": done_res,
        "total_resources": total_res,
        "resource_percentage": ratio(done_res, total_res),
        "completed_at": max(module_times) if done_modules == n and all(module_times) else None,  # type: ignore[type-var]
    }
    return docs


def rollups(db: Any, c: Course, uid: str) -> dict[str, dict[str, Any]]:
    refs = [db.document(f"users/{uid}/module_progress/{m}") for m in c.modules]
    refs.append(db.document(f"users/{uid}/pathway_progress/{c.pid}"))
    found = {}
    for snap in db.get_all(refs):
        if not snap.exists:
            continue
        data = snap.to_dict() or {}
        found[f"{snap.reference.parent.id}/{snap.id}"] = {
            k: v for k, v in data.items() if k not in VOLATILE
        }
    return found


def all_match(
    db: Any, c: Course, want: Callable[[str], dict[str, dict[str, Any]]], uids: list[str]
) -> list[str]:
    """The learners whose rollups differ from ``want(uid)`` (empty: all right)."""
    return [u for u in uids if rollups(db, c, u) != want(u)]


def settle(
    db: Any, c: Course, want: Callable[[str], dict[str, dict[str, Any]]], uids: list[str]
) -> None:
    wait_for(
        lambda: not all_match(db, c, want, uids),
        timeout=SETTLE,
        interval=0.5,
        what="every learner's numbers to be right",
    )


def learners(n: int) -> list[str]:
    base = unique("cl")
    return [f"{base}-{i:03d}" for i in range(n)]


# ---- the tests ---------------------------------------------------------------------------------


def test_adding_a_resource_moves_all_50_finished_learners_and_removing_it_puts_them_exactly_back(
    course: Callable[..., Course], db: Any
) -> None:
    c = course({"m1": ["a", "b", "c", "d", "e"], "m2": ["f"]})
    uids = learners(50)
    everything = [r for rids in c.modules.values() for r in rids]
    seed(db, c, uids, lambda uid: everything)
    before = {u: rollups(db, c, u) for u in uids}
    assert before[uids[0]] == expected(c, everything)

    m1 = next(iter(c.modules))
    c.modules[m1].append(f"{m1}-new")
    out = apply(c, "--page-size", "17")
    assert [ch["kind"] for ch in out["changes"]] == ["added"]
    assert out["changes"][0]["learners"] == 50  # counted by an aggregation query
    assert out["reevaluated"] is True
    settle(db, c, lambda u: expected(c, everything), uids)
    one = rollups(db, c, uids[0])
    assert (
        one[f"module_progress/{m1}"]["completed_resources"],
        one[f"module_progress/{m1}"]["total_resources"],
    ) == (5, 6)
    assert one[f"module_progress/{m1}"]["completed_at"] is None

    c.modules[m1].pop()
    out = apply(c, "--page-size", "17")
    assert [ch["kind"] for ch in out["changes"]] == ["removed"]
    settle(db, c, lambda u: before[u], uids)  # exactly back, completed_at included

    assert apply(c)["written"] == 0  # idempotent: a second apply writes nothing


def test_keep_completed_finished_learners_keep_the_module_and_its_completed_at(
    course: Callable[..., Course], db: Any
) -> None:
    c = course({"m1": ["a", "b", "c"]}, policy="keep_completed")
    (m1, rids) = next(iter(c.modules.items()))
    uids = learners(12)
    finished = uids[:6]
    seed(db, c, uids, lambda uid: list(rids) if uid in finished else rids[:1])
    before = {u: rollups(db, c, u) for u in uids}
    new = f"{m1}-new"
    c.modules[m1] = [*rids, new]
    apply(c, "--page-size", "6")

    def want(uid: str) -> dict[str, dict[str, Any]]:
        if uid in finished:
            return expected(c, list(rids), waived={new})
        return expected(c, rids[:1])

    settle(db, c, want, uids)
    assert rollups(db, c, finished[0])[f"module_progress/{m1}"]["completed_at"] == at(2)
    waived = db.document(f"users/{finished[0]}/module_progress/{m1}").get().to_dict()
    assert waived["waived_resource_ids"] == [new]
    # the report shows the new resource as waived for a finished learner only
    c.modules[m1] = list(rids)
    apply(c, "--page-size", "6")
    settle(db, c, lambda u: before[u], uids)


def test_moving_a_resource_between_modules_keeps_every_learners_completion(
    course: Callable[..., Course], db: Any
) -> None:
    c = course({"m1": ["a", "b"], "m2": ["c"]})
    m1, m2 = list(c.modules)
    uids = learners(10)
    moved = c.modules[m1][1]
    # learners finished m1 only: they have no progress at all in m2 yet
    seed(db, c, uids, lambda uid: list(c.modules[m1]))
    times = {rid: at(i) for i, rid in enumerate(c.modules[m1])}
    c.modules[m1].remove(moved)
    c.modules[m2].append(moved)
    out = apply(c, "--page-size", "6")
    assert [ch["kind"] for ch in out["changes"] if ch["counts"]] == ["moved"]
    finished = [c.modules[m1][0], moved]

    def want(uid: str) -> dict[str, dict[str, Any]]:
        docs = expected(c, finished, times=times)
        # m1 stayed complete: it keeps the completed_at it had (its last resource then was b)
        docs[f"module_progress/{m1}"]["completed_at"] = times[moved]
        return docs

    settle(db, c, want, uids)
    assert rollups(db, c, uids[0])[f"module_progress/{m2}"]["completed_resources"] == 1


def test_a_module_added_to_a_pathway_moves_its_learners_pathway_numbers(
    course: Callable[..., Course], db: Any
) -> None:
    c = course({"m1": ["a"]})
    uids = learners(12)
    seed(db, c, uids, lambda uid: list(c.modules[next(iter(c.modules))]))
    done = list(next(iter(c.modules.values())))
    c.modules[f"{c.pid}-m9"] = [f"{c.pid}-m9-x"]
    out = apply(c, "--page-size", "5")
    counting = {(ch["level"], ch["kind"]): ch["learners"] for ch in out["changes"] if ch["counts"]}
    # the pathway's 12 learners move; nobody has a rollup of the new module's resource yet
    assert counting == {("module", "added"): 12, ("resource", "added"): 0}

    settle(db, c, lambda u: expected(c, done), uids)
    path = rollups(db, c, uids[0])[f"pathway_progress/{c.pid}"]
    assert (path["completed_modules"], path["total_modules"], path["completed_at"]) == (1, 2, None)


def test_learners_acting_during_reevaluation_end_on_a_from_scratch_count(
    course: Callable[..., Course], db: Any, api: Any, mint: Callable[..., str]
) -> None:
    """Learners complete resources (the new one too) through the progress function while the
    re-evaluation runs, with every trigger instance's catalog cache warmed on the old catalog
    before the change (the measured failure: learners acting within the 30 s cache window went
    back to the stale count). Then every learner's rollups equal a from-scratch count."""
    c = course({"m1": ["a", "b", "c"]})
    m1, rids = next(iter(c.modules.items()))
    uids = learners(16)
    seed(db, c, uids, lambda uid: rids[:2])
    progress = api("progress")
    # warm the caches of the progress function and both triggers on the old catalog
    for uid in uids[:3]:
        reply = progress.post(f"/users/me/resources/{rids[2]}/start", token=mint(uid))
        assert reply.status_code == 200, reply.text
    new = f"{m1}-new"
    c.modules[m1] = [*rids, new]
    (run_id,) = apply(c, "--page-size", "4", wait=False)["reevaluation_runs"]
    errors: list[str] = []

    def act(uid: str) -> None:
        token = mint(uid)
        for rid in (rids[2], new) if uids.index(uid) % 2 else (new,):
            reply = progress.post(f"/users/me/resources/{rid}/complete", token=token)
            if reply.status_code != 200:
                errors.append(f"{uid} {rid}: {reply.status_code} {reply.text}")

    threads = [threading.Thread(target=act, args=(u,)) for u in uids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    def want(uid: str) -> dict[str, dict[str, Any]]:
        docs = {f"users/{uid}/resource_progress/{r}": r for r in [*rids, new]}
        snaps = {s.id: s.to_dict() for s in db.get_all([db.document(p) for p in docs]) if s.exists}
        finished = [r for r in [*rids, new] if (snaps.get(r) or {}).get("status") == "completed"]
        times = {r: snaps[r]["completed_at"] for r in finished}
        return expected(c, finished, times=times)

    wait_for(
        lambda: (db.document(f"reconcile_runs/{run_id}").get().to_dict() or {}).get("done"),
        timeout=SETTLE,
        interval=0.3,
        what="the re-evaluation run to finish",
    )
    settle(db, c, want, uids)
    drift = all_match(db, c, want, uids)
    assert drift == []


def test_a_reevaluation_whose_handler_is_killed_mid_batch_resumes_and_finishes(
    course: Callable[..., Course], db: Any, cloud: dict[str, Any]
) -> None:
    c = course({"m1": ["a", "b"]})
    m1, rids = next(iter(c.modules.items()))
    uids = learners(60)
    seed(db, c, uids, lambda uid: list(rids))
    c.modules[m1] = [*rids, f"{m1}-new"]
    # pages of 2: a chain long enough that the kill lands mid-run on a fast machine too
    out = apply(c, "--page-size", "2", wait=False)
    (run_id,) = out["reevaluation_runs"]
    run = db.document(f"reconcile_runs/{run_id}")

    def batches() -> int:
        return len(list(run.collection("batches").stream()))

    wait_for(lambda: batches() >= 1, timeout=SETTLE, interval=0.1, what="a first batch")
    url = cloud["functions"]["task_reconcile"] + "/no/such/route"
    held = hold("task_reconcile")
    try:
        old = kill("task_reconcile")  # mid-run: a batch in flight dies with the instance
        wait_for(lambda: not answers(url), timeout=30, what="the handler to be down")
        done_while_down = batches()
    finally:
        held.unlink()
    wait_restarted("task_reconcile", old, url)
    assert pids()["task_reconcile"] != old
    wait_for(
        lambda: (run.get().to_dict() or {}).get("done"),
        timeout=SETTLE,
        interval=0.3,
        what="the run to finish after the restart",
    )
    recorded = [b.to_dict() for b in run.collection("batches").stream()]
    # 60 learners / 2: 30 full batches and an empty last one, each recorded once
    assert len(recorded) == 31 > done_while_down
    settle(db, c, lambda u: expected(c, list(rids)), uids)
    total = sum(b["tally"]["learners"] for b in recorded)
    assert total == 60


def test_a_trigger_with_a_warm_cache_counts_against_the_applied_catalog_at_once(
    course: Callable[..., Course], db: Any, api: Any, mint: Callable[..., str]
) -> None:
    """The measured failure of the 30 s catalog cache, isolated: no re-evaluation runs
    (``--no-reevaluate``), so only the version-checked cache can make the trigger (warmed on the
    old catalog a moment before) count the resource the apply added."""
    c = course({"m1": ["a", "b", "c"]})
    m1, rids = next(iter(c.modules.items()))
    uid = unique("warm")
    token, progress = mint(uid), api("progress")
    ref = db.document(f"users/{uid}/module_progress/{m1}")

    def counts() -> tuple[int, int] | None:
        data = ref.get().to_dict() or {}
        if "total_resources" not in data:
            return None
        return data["completed_resources"], data["total_resources"]

    assert progress.post(f"/users/me/resources/{rids[0]}/complete", token=token).status_code == 200
    wait_for(lambda: counts() == (1, 3), timeout=SETTLE, what="the trigger, on the old catalog")
    c.modules[m1] = [*rids, f"{m1}-new"]
    out = apply(c, "--no-reevaluate", wait=False)
    assert out["reevaluation_runs"] == []
    assert progress.post(f"/users/me/resources/{rids[1]}/complete", token=token).status_code == 200
    wait_for(lambda: counts() == (2, 4), timeout=SETTLE, what="the trigger, on the new catalog")


def firebase_uids(n: int) -> list[str]:
    """Uids as Firebase Auth makes them: 28 characters of [A-Za-z0-9], spread over the alphabet."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    return sorted("".join(secrets.choice(alphabet) for _ in range(28)) for _ in range(n))


def test_a_reevaluation_in_lanes_ends_exact_with_a_batch_redelivered_twice_at_once(
    course: Callable[..., Course], db: Any, cloud: dict[str, Any], monkeypatch: Any
) -> None:
    """200 learners in lanes of 50 (``RECONCILE_LANE_SIZE`` of the applying process): four
    disjoint uid ranges, each its own chain of batches, dispatched at once by the queue. Mid-run,
    one lane's first batch is delivered again, twice at once, straight to the handler (what Cloud
    Tasks does after a lost reply or a crash); every learner still ends exact, counted once.

    The handler is not killed here (the resume test above kills it in a one-lane run): the
    Firestore emulator keeps the locks of a transaction whose process died (measured: still held
    after 90 s; Firestore ends a transaction idle for 60 s), and with four lanes in flight a kill nearly always
    lands inside one, which then blocks every later write of ``catalog_meta/version`` (every
    rollup transaction reads it) for the rest of the suite."""
    from tests.emulator.task_calls import task_headers

    monkeypatch.setenv("RECONCILE_LANE_SIZE", "50")
    c = course({"m1": ["a", "b"]})
    m1, rids = next(iter(c.modules.items()))
    uids = firebase_uids(200)
    seed(db, c, uids, lambda uid: list(rids))
    c.modules[m1] = [*rids, f"{m1}-new"]
    out = apply(c, "--page-size", "5", wait=False)
    (run_id,) = out["reevaluation_runs"]
    run = db.document(f"reconcile_runs/{run_id}")
    meta = run.get().to_dict() or {}
    assert meta["lanes"] == 4
    assert len(meta["bounds"]) == 3

    def recorded() -> list[dict[str, Any]]:
        return [b.to_dict() or {} for b in run.collection("batches").stream()]

    wait_for(lambda: len(recorded()) >= 1, timeout=SETTLE, interval=0.1, what="a first batch")
    url = cloud["functions"]["task_reconcile"]
    again = {
        "run_id": run_id,
        "pathway_id": c.pid,
        "page_size": 5,
        "catalog_version": out["version"],
        "lane": 1,
        "cursor": meta["bounds"][0],
        "until": meta["bounds"][1],
    }
    replies: list[requests.Response] = []

    def redeliver() -> None:
        headers = task_headers(cloud, "task_reconcile")
        replies.append(requests.post(url, json=again, headers=headers, timeout=SETTLE))

    threads = [threading.Thread(target=redeliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SETTLE)
    assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
    # the redelivered batch read only its lane: 5 learners after the lane's lower bound
    assert {r.json()["lane"] for r in replies} == {1}
    assert all(meta["bounds"][0] < r.json()["next_cursor"] <= meta["bounds"][1] for r in replies)
    redelivered_at = len(recorded())
    wait_for(
        lambda: (run.get().to_dict() or {}).get("done"),
        timeout=SETTLE,
        interval=0.5,
        what="every lane of the run to finish",
    )
    assert sorted((run.get().to_dict() or {})["lanes_done"]) == [0, 1, 2, 3]
    batches = recorded()
    lows, highs = [None, *meta["bounds"]], [*meta["bounds"], None]
    sizes = [
        sum((lo is None or u > lo) and (hi is None or u <= hi) for u in uids)
        for lo, hi in zip(lows, highs, strict=True)
    ]
    assert sum(sizes) == 200
    # pages of 5: a lane of n learners takes n // 5 + 1 batches (the last one short), each
    # recorded once however often it was delivered
    assert len(batches) == sum(n // 5 + 1 for n in sizes) > redelivered_at  # it was mid-run
    # each lane counted exactly its own learners: disjoint lanes, no batch counted twice
    per_lane = [sum(b["tally"]["learners"] for b in batches if b["lane"] == i) for i in range(4)]
    assert per_lane == sizes
    settle(db, c, lambda u: expected(c, list(rids)), uids)
