"""``python -m catalog apply --prune`` on the local cloud while learners act on the pathway it
retires (issue 13 remainders): the CLI, the re-evaluation run it enqueues (``task_reconcile``
through the Cloud Tasks emulator), the rollup and certificate triggers, the HTTP functions.

What must hold afterwards: every reply was a 200, or once the pathway was retired a 409
``pathway_retired`` (no 500), nothing a learner did is gone (the catalog documents and every
progress document an action answered 200 wrote stay), each learner's module and pathway numbers
equal a count made here from their resource documents, every pathway rollup is marked retired,
the certificate issued before the prune is still valid, and the report and the listing say the
pathway is retired. ``plan --prune`` announces it with the number of learners it concerns.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.test_catalog_e2e import Course, cli_env
from tests.emulator.test_concurrency_e2e import at_once
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 180.0  # generous: other local clouds share the machine
LEARNERS = 8


class Pathway(Course):
    """A pathway file of the catalog e2e tests (``Course``: articles only, ``recount``)."""

    @property
    def resources(self) -> list[str]:
        return [r for rids in self.modules.values() for r in rids]


def make(prefix: str, shape: dict[str, int]) -> Pathway:
    pid = unique(prefix)
    return Pathway(
        pid, {f"{pid}-{m}": [f"{pid}-{m}-{i}" for i in range(n)] for m, n in shape.items()}
    )


def catalog_cli(folder: Path, *args: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "catalog", *args, "--dir", str(folder), "--json"]
    done = subprocess.run(
        cmd, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=SETTLE + 60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture
def pathways(tmp_path: Path, db: Any) -> Iterator[tuple[Pathway, Pathway, Path]]:
    """``doomed`` (two modules) and ``kept``, applied from one folder; afterwards the folder
    holds only ``kept``, so a prune limited to ``doomed`` retires it and nothing else."""
    doomed, kept = make("prune", {"m1": 4, "m2": 2}), make("keep", {"m1": 1})
    for p in (doomed, kept):
        (tmp_path / f"{p.pid}.yaml").write_text(p.text())
    catalog_cli(tmp_path, "apply")
    (tmp_path / f"{doomed.pid}.yaml").unlink()
    yield doomed, kept, tmp_path
    for p in (doomed, kept):
        for kind in ("resources", "modules"):
            query = db.collection(kind).where(filter=FieldFilter("pathway_id", "==", p.pid))
            for snap in query.stream():
                snap.reference.delete()
        db.document(f"pathways/{p.pid}").delete()


def statuses(db: Any, uid: str, p: Pathway) -> dict[str, str]:
    refs = [db.document(f"users/{uid}/resource_progress/{rid}") for rid in p.resources]
    return {s.id: (s.to_dict() or {}).get("status", "") for s in db.get_all(refs) if s.exists}


def from_scratch(p: Pathway, done: set[str]) -> tuple[dict[str, int], int, int]:
    """Completed resources per module, completed modules, completed resources."""
    per = {mid: sum(r in done for r in rids) for mid, rids in p.modules.items()}
    full = sum(per[mid] == len(rids) for mid, rids in p.modules.items())
    return per, full, sum(per.values())


def exact_and_marked(db: Any, uid: str, p: Pathway) -> bool:
    done = {rid for rid, s in statuses(db, uid, p).items() if s == "completed"}
    per, full, total = from_scratch(p, done)
    for mid, n in per.items():
        m = db.document(f"users/{uid}/module_progress/{mid}").get().to_dict() or {}
        if m.get("completed_resources", 0) != n:
            return False
    path = db.document(f"users/{uid}/pathway_progress/{p.pid}").get().to_dict() or {}
    return (
        path.get("completed_modules"),
        path.get("completed_resources"),
        path.get("total_resources"),
        path.get("retired_at") is not None,
    ) == (full, total, len(p.resources), True)


def test_pruning_a_pathway_while_learners_act_on_it_loses_nothing_and_ends_exact(
    api: Callable[[str], Any],
    db: Any,
    mint: Callable[..., str],
    pathways: tuple[Pathway, Pathway, Path],
) -> None:
    doomed, kept, folder = pathways
    progress, resources, certificates = api("progress"), api("resources"), api("certificates")
    uids = [unique("pr") for _ in range(LEARNERS)]
    tokens = {uid: mint(uid) for uid in uids}
    first, *_ = doomed.resources

    def complete(uid: str, rid: str) -> requests.Response:
        return progress.post(f"/users/me/resources/{rid}/complete", token=tokens[uid])

    # before: everyone has done the first resource; the first learner finished the pathway
    for uid in uids:
        assert complete(uid, first).status_code == 200
    for rid in doomed.resources[1:]:
        assert complete(uids[0], rid).status_code == 200
    link = wait_for(
        lambda: (
            db.document(f"users/{uids[0]}/certificates/{doomed.pid}").get().to_dict() or {}
        ).get("certificate_id"),
        timeout=SETTLE,
        what="the certificate of the learner who finished",
    )
    wait_for(
        lambda: all(
            db.document(f"users/{u}/pathway_progress/{doomed.pid}").get().exists for u in uids
        ),
        timeout=SETTLE,
        what="every learner's pathway rollup",
    )

    planned = catalog_cli(folder, "plan", "--prune", "--prune-only", doomed.pid)
    [retire] = [c for c in planned["changes"] if c["kind"] == "retired"]
    assert (retire["id"], retire["learners"]) == (doomed.pid, LEARNERS)
    assert planned["deletes"] == 0
    assert kept.pid not in planned["unmanaged"]

    # the prune, while every learner completes (and one takes a completion back); an action that
    # comes after the retirement is refused (409 pathway_retired), one before it is counted
    replies: list[tuple[str, str, str, requests.Response]] = []  # (uid, action, rid, reply)
    lock = threading.Lock()

    def act(i: int) -> Any:
        if i == LEARNERS:
            return catalog_cli(folder, "apply", "--prune", "--prune-only", doomed.pid, "--wait")
        uid = uids[i]
        mine = []
        for rid in doomed.resources[1 : 2 + i % 4]:
            mine.append((uid, "complete", rid, complete(uid, rid)))
        if i % 3 == 0 and i:
            undo = progress.post(f"/users/me/resources/{first}/uncomplete", token=tokens[uid])
            mine.append((uid, "uncomplete", first, undo))
        report = progress.get(f"/users/me/progress/{doomed.pid}", token=tokens[uid])
        mine.append((uid, "report", doomed.pid, report))
        with lock:
            replies.extend(mine)
        return None

    applied = at_once(LEARNERS + 1, act)[LEARNERS]
    assert applied["reevaluated"] is True
    assert [c["kind"] for c in applied["changes"]] == ["retired"]
    refused = [(a, r.status_code, r.text[:80]) for _, a, _, r in replies if r.status_code != 200]
    assert all(code == 409 and "pathway_retired" in text for _, code, text in refused), refused
    assert all(a != "report" for a, _, _ in refused)  # the record stays readable
    landed = {(u, a, rid) for u, a, rid, r in replies if r.status_code == 200}

    # nothing lost: the catalog documents stay, every action that was answered 200 is there
    assert db.document(f"pathways/{doomed.pid}").get().to_dict()["retired_at"] is not None
    for mid, rids in doomed.modules.items():
        assert db.document(f"modules/{mid}").get().exists
        assert all(db.document(f"resources/{rid}").get().exists for rid in rids)
    for i, uid in enumerate(uids):
        got = statuses(db, uid, doomed)
        expected_done = set(doomed.resources) if i == 0 else {first}  # before the prune
        expected_done |= {rid for u, a, rid in landed if u == uid and a == "complete"}
        if (uid, "uncomplete", first) in landed:
            expected_done.discard(first)
        assert {r for r, s in got.items() if s == "completed"} == expected_done, uid
    # after it, the pathway takes no new work
    late = complete(uids[1], doomed.resources[-1])
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "pathway_retired"
    # numbers exact and marked retired, for everyone
    wait_for(
        lambda: all(exact_and_marked(db, u, doomed) for u in uids),
        timeout=SETTLE,
        interval=0.5,
        what="every learner's rollups exact and marked retired",
    )
    # the certificate issued before stays valid
    cert = db.document(f"certificates/{link}").get().to_dict() or {}
    assert (cert.get("status"), cert.get("revoked_at")) == ("valid", None)
    verified = certificates.get(f"/certificates/{link}")
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "valid"
    # the learner-facing reads say retired
    report = progress.get(f"/users/me/progress/{doomed.pid}", token=tokens[uids[1]]).json()
    assert report["retired_at"] is not None
    listing = resources.get(f"/pathways/{doomed.pid}/resources")
    assert listing.status_code == 200
    assert listing.json()["retired_at"] is not None
    assert "retired_at" not in resources.get(f"/pathways/{kept.pid}/resources").json()
    # and a second apply has nothing left to do
    again = catalog_cli(folder, "apply", "--prune", "--prune-only", doomed.pid)
    assert (again["written"], again["changes"]) == (0, [])


def test_a_retired_pathway_refuses_new_work_with_409_and_keeps_the_record(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], tmp_path: Path
) -> None:
    """After ``apply --prune`` the pathway is the learners' record: start, time, completion,
    undo and an upload URL answer 409 ``pathway_retired`` (a JSON error, nothing written), and
    the report still shows what was done."""
    pid = unique("gone")
    mid, article, exercise = f"{pid}-m1", f"{pid}-m1-article", f"{pid}-m1-exercise"
    course = {
        "pathway_id": pid,
        "title": pid,
        "upload_defaults": {"accepted_file_types": ["text/plain"], "max_file_size_mb": 1},
        "modules": [
            {
                "module_id": mid,
                "title": mid,
                "resources": [
                    {"resource_id": article, "type": "article", "title": "Read"},
                    {"resource_id": exercise, "type": "exercise", "title": "Do"},
                ],
            }
        ],
    }
    (tmp_path / f"{pid}.yaml").write_text(yaml.safe_dump(course, sort_keys=False))
    kept = make("stay", {"m1": 1})  # the folder a prune reads is never empty
    (tmp_path / f"{kept.pid}.yaml").write_text(kept.text())
    catalog_cli(tmp_path, "apply")
    progress, uploads = api("progress"), api("uploads")
    uid = unique("gl")
    token = mint(uid)
    try:
        assert progress.post(f"/users/me/resources/{article}/complete", token=token).ok
        (tmp_path / f"{pid}.yaml").unlink()
        applied = catalog_cli(tmp_path, "apply", "--prune", "--prune-only", pid, "--wait")
        assert [c["kind"] for c in applied["changes"]] == ["retired"]
        before = db.document(f"users/{uid}/resource_progress/{article}").get().to_dict()

        refused = [
            progress.post(f"/users/me/resources/{article}/uncomplete", token=token),
            progress.post(f"/users/me/resources/{exercise}/start", token=token),
            progress.put(
                f"/users/me/resources/{article}/progress",
                token=token,
                json={"progress_percentage": 50, "time_spent_minutes": 5},
            ),
            uploads.post(
                f"/users/me/resources/{exercise}/upload-url",
                token=token,
                json={"file_name": "a.txt", "content_type": "text/plain", "size_bytes": 5},
            ),
        ]
        for reply in refused:
            assert reply.status_code == 409, (reply.request.url, reply.text)
            assert reply.json()["error"]["code"] == "pathway_retired", reply.text
        after = db.document(f"users/{uid}/resource_progress/{article}").get().to_dict()
        assert after == before  # nothing written
        assert not db.document(f"users/{uid}/resource_progress/{exercise}").get().exists
        assert not list(
            db.collection("submissions").where(filter=FieldFilter("user_id", "==", uid)).stream()
        )
        report = progress.get(f"/users/me/progress/{pid}", token=token)
        assert report.status_code == 200
        assert report.json()["retired_at"] is not None
        statuses = {
            r["resource_id"]: r["status"] for m in report.json()["modules"] for r in m["resources"]
        }
        assert statuses[article] == "completed"
    finally:
        for gone in (pid, kept.pid):
            for kind in ("resources", "modules"):
                query = db.collection(kind).where(filter=FieldFilter("pathway_id", "==", gone))
                for snap in query.stream():
                    snap.reference.delete()
            db.document(f"pathways/{gone}").delete()
