"""Content versions end to end on the local cloud (issue 13): a resource completed by a valid
upload (or a check-off) records the ``content_version`` it was completed against; after
``python -m catalog apply`` changes its content, the learner's report marks it updated since
completion at once, and doing the work again clears the mark.

The concurrent test races learners' completions against the apply: whatever the interleaving,
every completion records a version the catalog had, the report agrees with what is stored, and a
completion that starts after the apply returned records the new version even though the progress
function's catalog cache was warmed with the old one.
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
import yaml
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.emulator.test_catalog_e2e import cli_env
from tests.emulator.test_concurrency_e2e import at_once
from tests.emulator.test_submissions_e2e import PDF, Learner
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
SETTLE = 120.0  # generous: other local clouds share the machine


@dataclass
class Course:
    pid: str
    folder: Path
    description: str = "first version"

    @property
    def module(self) -> str:
        return f"{self.pid}-m1"

    @property
    def exercise(self) -> str:
        return f"{self.module}-ex"

    @property
    def article(self) -> str:
        return f"{self.module}-read"

    def text(self) -> str:
        return yaml.safe_dump(
            {
                "pathway_id": self.pid,
                "title": self.pid,
                "upload_defaults": {
                    "accepted_file_types": ["application/pdf"],
                    "max_file_size_mb": 5,
                },
                "modules": [
                    {
                        "module_id": self.module,
                        "title": "Versions",
                        "resources": [
                            {
                                "resource_id": self.exercise,
                                "type": "exercise",
                                "title": "Exercise",
                                "url": f"https://example.com/{self.description.replace(' ', '-')}",
                            },
                            {
                                "resource_id": self.article,
                                "type": "article",
                                "title": "Article",
                                "url": f"https://example.com/{self.description.replace(' ', '-')}",
                            },
                        ],
                    }
                ],
            },
            sort_keys=False,
        )

    def apply(self) -> dict[str, Any]:
        (self.folder / f"{self.pid}.yaml").write_text(self.text())
        args = [sys.executable, "-m", "catalog", "apply", "--dir", str(self.folder), "--json"]
        done = subprocess.run(
            args, cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=SETTLE
        )
        assert done.returncode == 0, done.stdout + done.stderr
        out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return out


@pytest.fixture
def course(tmp_path: Path, db: Any) -> Iterator[Course]:
    c = Course(unique("ver"), tmp_path)
    c.apply()
    yield c
    for kind in ("resources", "modules"):
        query = db.collection(kind).where(filter=FieldFilter("pathway_id", "==", c.pid))
        for snap in query.stream():
            snap.reference.delete()
    db.document(f"pathways/{c.pid}").delete()


def report_rows(progress: Any, token: str, pid: str) -> dict[str, dict[str, Any]]:
    reply = progress.get(f"/users/me/progress/{pid}", token=token)
    assert reply.status_code == 200, reply.text
    return {r["resource_id"]: r for m in reply.json()["modules"] for r in m["resources"]}


def resource_version(db: Any, rid: str) -> int:
    data = db.document(f"resources/{rid}").get().to_dict() or {}
    version: int = data["content_version"]
    return version


def test_an_upload_completed_resource_whose_content_changes_is_marked_in_the_report(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], course: Course
) -> None:
    me = Learner(unique("u"), api, mint, db)
    progress = api("progress")
    me.upload(course.exercise, "work.pdf", "application/pdf", PDF)
    first = me.wait_resource(course.exercise, "submitted", timeout=SETTLE)
    assert first["content_version"] == resource_version(db, course.exercise) == 1
    assert (
        report_rows(progress, me.token, course.pid)[course.exercise]["updated_since_completion"]
        is False
    )

    course.description = "second version"
    out = course.apply()
    assert {(c["id"], c["kind"]) for c in out["changes"]} == {
        (course.exercise, "changed"),
        (course.article, "changed"),
    }
    assert resource_version(db, course.exercise) == 2
    # at once: the report drops a catalog cache older than the applied version
    row = report_rows(progress, me.token, course.pid)[course.exercise]
    assert (row["status"], row["updated_since_completion"]) == ("submitted", True)

    # the learner uploads again against the new content: up to date again
    me.upload(course.exercise, "work-v2.pdf", "application/pdf", PDF)
    again = wait_for(
        lambda: (p := me.progress(course.exercise)).get("submission_count") == 2 and p,
        timeout=SETTLE,
        what="the second upload to be recorded",
    )
    assert again["content_version"] == 2
    assert (
        report_rows(progress, me.token, course.pid)[course.exercise]["updated_since_completion"]
        is False
    )


def test_completions_racing_a_content_change_record_a_version_the_report_agrees_with(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], course: Course
) -> None:
    progress = api("progress")
    during = [Learner(unique("d"), api, mint, db) for _ in range(6)]
    after = [Learner(unique("a"), api, mint, db) for _ in range(4)]
    everyone = during + after
    # warm the progress function's catalog cache with version 1 of the article
    for me in everyone:
        started = progress.post(f"/users/me/resources/{course.article}/start", token=me.token)
        assert started.status_code == 200, started.text
    applied = threading.Event()
    course.description = "second version"

    def act(i: int) -> Any:
        if i == len(during):  # one thread applies while the others complete
            out = course.apply()
            applied.set()
            return out
        me = during[i]
        if i % 2:
            me.upload(course.exercise, "work.pdf", "application/pdf", PDF)
            return None
        return progress.post(f"/users/me/resources/{course.article}/complete", token=me.token)

    results = at_once(len(during) + 1, act)
    assert applied.is_set()
    for reply in results:
        if hasattr(reply, "status_code"):
            assert reply.status_code == 200, reply.text
    # after the apply returned: check-offs through the warm cache, uploads
    for i, me in enumerate(after):
        if i % 2:
            me.upload(course.exercise, "work.pdf", "application/pdf", PDF)
        else:
            done = progress.post(f"/users/me/resources/{course.article}/complete", token=me.token)
            assert done.status_code == 200, done.text

    def rid_of(i: int) -> str:
        return course.exercise if i % 2 else course.article

    def recorded(me: Learner, rid: str) -> dict[str, Any]:
        status = "submitted" if rid == course.exercise else "completed"
        return me.wait_resource(rid, status, timeout=SETTLE)

    for group, versions in ((during, {1, 2}), (after, {2})):
        for i, me in enumerate(group):
            doc = recorded(me, rid_of(i))
            assert doc.get("content_version") in versions, (me.uid, doc)
            row = report_rows(progress, me.token, course.pid)[rid_of(i)]
            assert row["updated_since_completion"] is (doc["content_version"] == 1), (me.uid, doc)
    # nothing lost: every learner's module counts exactly the one resource they completed
    for me in everyone:
        module = me.wait_module(course.module, 1, timeout=SETTLE)
        assert module["total_resources"] == 2
