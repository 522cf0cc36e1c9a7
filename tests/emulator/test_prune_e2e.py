"""``python -m catalog apply --prune`` on the local cloud while learners act on the pathway it
retires (issue 13 remainders): the CLI, the re-evaluation run it enqueues (``task_reconcile``
through the Cloud Tasks emulator), the rollup and certificate triggers, the HTTP functions.

What must hold afterwards: every reply was a 200 (no 500), nothing a learner did is gone (the
catalog documents and every progress document stay), each learner's module and pathway numbers
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.test_catalog_e2e import cli_env
from tests.emulator.test_concurrency_e2e import at_once
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 180.0  # generous: other local clouds share the machine
LEARNERS = 8


@dataclass
class Pathway:
    pid: str
    modules: dict[str, list[str]]

    def text(self) -> str:
        return yaml.safe_dump(
            {
                "pathway_id": self.pid,
                "title": self.pid,
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

    @property
    def resources(self) -> list[str]:
        return [r for rids in self.modules.values() for r in rids]

    def module_of(self, rid: str) -> str:
        return next(m for m, rids in self.modules.items() if rid in rids)


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

    # the prune, while every learner completes (and one takes a completion back)
    replies: list[requests.Response] = []
    lock = threading.Lock()

    def act(i: int) -> Any:
        if i == LEARNERS:
            return catalog_cli(folder, "apply", "--prune", "--prune-only", doomed.pid, "--wait")
        uid = uids[i]
        mine = []
        for rid in doomed.resources[1 : 2 + i % 4]:
            mine.append(complete(uid, rid))
        if i % 3 == 0 and i:
            mine.append(progress.post(f"/users/me/resources/{first}/uncomplete", token=tokens[uid]))
        mine.append(progress.get(f"/users/me/progress/{doomed.pid}", token=tokens[uid]))
        with lock:
            replies.extend(mine)
        return None

    applied = at_once(LEARNERS + 1, act)[LEARNERS]
    assert applied["reevaluated"] is True
    assert [c["kind"] for c in applied["changes"]] == ["retired"]
    assert [(r.status_code, r.text[:80]) for r in replies if r.status_code != 200] == []

    # nothing lost: the catalog documents stay, every action's document is there
    assert db.document(f"pathways/{doomed.pid}").get().to_dict()["retired_at"] is not None
    for mid, rids in doomed.modules.items():
        assert db.document(f"modules/{mid}").get().exists
        assert all(db.document(f"resources/{rid}").get().exists for rid in rids)
    for i, uid in enumerate(uids):
        got = statuses(db, uid, doomed)
        expected_done = (
            {first} | set(doomed.resources[1 : 2 + i % 4]) if i else set(doomed.resources)
        )
        if i % 3 == 0 and i:
            expected_done.discard(first)
        assert {r for r, s in got.items() if s == "completed"} == expected_done, uid
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
