"""The ``exports`` function against the local cloud (``make up``): a cohort whose learners made
progress, uploaded and were reviewed through the real functions; the CSVs checked cell by cell
against the documents; a cohort larger than one page of members; exports running while learners
keep acting (no 5xx); who may export; and ``python -m ops xapi`` pushing to a local LRS.

Cohorts are written as the cohort layout gives them (``cohorts/{id}``, ``.../members/{uid}``),
each test with its own ids.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.lrs_server import LocalLrs
from tests.emulator.test_concurrency_e2e import at_once
from tests.emulator.test_submissions_e2e import IMG_MODULE, IMG_PROJECT, PDF, Learner
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).resolve().parents[2]
PATHWAY = "image-generation"
OTHER_PATHWAY = "prompt-engineering"
IMG = [f"{PATHWAY}-m1-{k}" for k in ("video", "article", "exercise", "quiz", "project")]
PAGE = 100  # shared.services.exports.PAGE_SIZE
LRS_PASSWORD = unique("pw")


def make_cohort(db: Any, instructors: list[str], members: list[str]) -> str:
    cid = unique("c")
    now = dt.datetime.now(dt.UTC)
    db.document(f"cohorts/{cid}").set(
        {
            "cohort_id": cid,
            "name": f"Cohort {cid}",
            "pathway_ids": [PATHWAY, OTHER_PATHWAY],
            "instructor_uids": instructors,
            "created_at": now,
            "updated_at": now,
        }
    )
    # the cohort layout of shared/domain/cohorts.py, written directly (a cohort of 131 learners in
    # a few batches): the members documents and each learner's membership (fresh learners)
    for start in range(0, len(members), 200):
        batch = db.batch()
        for uid in members[start : start + 200]:
            batch.set(
                db.document(f"memberships/{uid}"),
                {
                    "uid": uid,
                    "cohort_ids": [cid],
                    "instructor_uids": instructors,
                    "updated_at": now,
                },
            )
            batch.set(
                db.document(f"cohorts/{cid}/members/{uid}"),
                {
                    "uid": uid,
                    "cohort_id": cid,
                    "pathway_ids": [PATHWAY, OTHER_PATHWAY],
                    "joined_at": now,
                    "via": "operator",
                },
            )
        batch.commit()
    return cid


def table(reply: requests.Response) -> list[list[str]]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/csv")
    text = reply.content.decode("utf-8-sig")  # the BOM spreadsheets need
    return list(csv.reader(io.StringIO(text)))


def stamp(value: Any) -> str:
    if value is None:
        return ""
    return f"{value.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"


def ok(reply: requests.Response, status: int = 200) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    data: dict[str, Any] = reply.json() if reply.content else {}
    return data


@pytest.fixture
def exports(api: Any) -> Any:
    return api("exports")


def test_the_csvs_say_what_the_learners_did_and_the_statements_follow_the_events(
    api: Any, mint: Callable[..., str], db: Any, exports: Any
) -> None:
    progress, review = api("progress"), api("review")
    teacher = unique("teach")
    teacher_token = mint(teacher, instructor=True)
    ann = Learner(unique("ann"), api, mint, db)
    ann.token = mint(ann.uid, extra={"name": '=Ann "A", Lee'})
    bob = Learner(unique("bob"), api, mint, db)
    cid = make_cohort(db, [teacher], [ann.uid, bob.uid])

    video, article = IMG[0], IMG[1]
    ok(progress.post(f"/users/me/resources/{video}/start", token=ann.token))
    ok(progress.post(f"/users/me/resources/{video}/complete", token=ann.token))
    body = {"progress_percentage": 40, "time_spent_minutes": 5}
    ok(progress.put(f"/users/me/resources/{article}/progress", token=ann.token, json=body))
    first = ann.upload(IMG_PROJECT, "draft.pdf", "application/pdf", PDF)["submission_id"]
    gen = str(ann.wait_status(first, "uploaded", timeout=60)["gcs_generation"])
    reject = {"decision": "reject", "generation": gen, "grade": 40, "comments": "=redo, please"}
    ok(review.post(f"/admin/submissions/{first}/review", token=teacher_token, json=reject))
    second = ann.upload(IMG_PROJECT, "final.pdf", "application/pdf", PDF)["submission_id"]
    gen = str(ann.wait_status(second, "uploaded", timeout=60)["gcs_generation"])
    approve = {"decision": "approve", "generation": gen, "grade": 88, "comments": "good"}
    ok(review.post(f"/admin/submissions/{second}/review", token=teacher_token, json=approve))
    revise = {
        "decision": "approve",
        "revision": 0,
        "grade": 90,
        "comments": "very good",
        "reason": "missed the bonus",
    }
    ok(review.post(f"/admin/submissions/{second}/revise", token=teacher_token, json=revise))
    ann.wait_resource(IMG_PROJECT, "reviewed", timeout=60)
    module = ann.wait_module(IMG_MODULE, 2, timeout=90)  # the video and the reviewed project
    wait_for(
        lambda: (
            (db.document(f"users/{ann.uid}/pathway_progress/{PATHWAY}").get().to_dict() or {}).get(
                "completed_resources"
            )
            == 2
        ),
        timeout=90,
        what="the pathway rollup",
    )

    # ---- progress.csv, cell by cell against the documents --------------------------------------
    rows = table(
        exports.get(
            f"/cohorts/{cid}/exports/progress.csv", token=teacher_token, params={"pathway": PATHWAY}
        )
    )
    header, body_rows = rows[0], rows[1:]
    assert header[:4] == ["cohort_id", "learner_uid", "learner_name", "learner_email"]
    by = [dict(zip(header, r, strict=True)) for r in body_rows]
    learners = sorted([ann.uid, bob.uid])
    assert [r["learner_uid"] for r in by] == [u for u in learners for _ in IMG]
    assert [r["resource_id"] for r in by] == IMG * 2
    path = db.document(f"users/{ann.uid}/pathway_progress/{PATHWAY}").get().to_dict()
    module = db.document(f"users/{ann.uid}/module_progress/{IMG_MODULE}").get().to_dict()
    for row in (r for r in by if r["learner_uid"] == ann.uid):
        doc = db.document(f"users/{ann.uid}/resource_progress/{row['resource_id']}").get()
        data = doc.to_dict() or {}
        assert row == {
            "cohort_id": cid,
            "learner_uid": ann.uid,
            "learner_name": '\'=Ann "A", Lee',
            "learner_email": f"{ann.uid}@example.com",
            "pathway_id": PATHWAY,
            "pathway_title": "Image Generation",
            "pathway_percentage": str(round(path["percentage"], 1)),
            "pathway_resource_percentage": str(round(path["resource_percentage"], 1)),
            "pathway_completed_at": stamp(path.get("completed_at")),
            "module_id": IMG_MODULE,
            "module_title": "Foundations of image generation",
            "module_percentage": str(round(module["percentage"], 1)),
            "module_completed_at": stamp(module.get("completed_at")),
            "resource_id": row["resource_id"],
            "resource_title": row["resource_title"],
            "resource_type": row["resource_id"].rsplit("-", 1)[1],
            "optional": "false",
            "status": data.get("status", "not_started"),
            "progress_percentage": str(data.get("progress_percentage", 0)),
            "time_spent_minutes": str(data.get("time_spent_minutes", 0)),
            "submission_count": str(data.get("submission_count", 0)),
            "started_at": stamp(data.get("started_at")),
            "completed_at": stamp(data.get("completed_at")),
            "last_activity_at": stamp(data.get("updated_at")),
        }
    mine = {r["resource_id"]: r for r in by if r["learner_uid"] == ann.uid}
    assert [mine[r]["status"] for r in IMG] == [
        "completed", "in_progress", "not_started", "not_started", "reviewed"
    ]  # fmt: skip
    assert (mine[article]["progress_percentage"], mine[article]["time_spent_minutes"]) == (
        "40",
        "5",
    )
    assert module["percentage"] == 40.0
    assert mine[video]["module_percentage"] == "40.0"
    # bob never acted: zeros, no profile (he never called a function)
    for row in (r for r in by if r["learner_uid"] == bob.uid):
        assert (row["status"], row["learner_name"], row["pathway_percentage"]) == (
            "not_started",
            "",
            "0.0",
        )

    # ---- grades.csv: every attempt, the revision, the reviewer --------------------------------
    grades = table(exports.get(f"/cohorts/{cid}/exports/grades.csv", token=teacher_token))
    g = [dict(zip(grades[0], r, strict=True)) for r in grades[1:]]
    assert [(r["learner_uid"], r["submission_id"], r["attempt"]) for r in g] == [
        (ann.uid, first, "1"),
        (ann.uid, second, "2"),
    ]
    assert (g[0]["status"], g[0]["decision"], g[0]["grade"]) == ("rejected", "reject", "40")
    assert g[0]["review_comments"] == "'=redo, please"
    assert (g[1]["status"], g[1]["decision"], g[1]["grade"], g[1]["revision"]) == (
        "approved",
        "approve",
        "90",
        "1",
    )
    assert (g[1]["revision_reason"], g[1]["reviewer_uid"]) == ("missed the bonus", teacher)
    sub = db.document(f"submissions/{second}").get().to_dict()
    assert g[1]["reviewed_at"] == stamp(sub["reviewed_at"])
    assert g[1]["uploaded_at"] == stamp(sub["uploaded_at"])

    # ---- xapi.jsonl: one statement per event, ids stable ----------------------------------------
    reply = exports.get(
        f"/cohorts/{cid}/exports/xapi.jsonl", token=teacher_token, params={"pathway": PATHWAY}
    )
    assert reply.status_code == 200, reply.text
    statements = [json.loads(line) for line in reply.text.splitlines()]
    events = list(db.collection(f"users/{ann.uid}/progress_events").stream())
    assert len(statements) == len([e for e in events if e.to_dict()["pathway_id"] == PATHWAY])
    assert {s["actor"]["account"]["name"] for s in statements} == {ann.uid}
    verbs = [s["verb"]["display"]["en-US"] for s in statements]
    assert verbs[:3] == ["initialized", "completed", "progressed"]
    assert "scored" in verbs
    assert "attempted" in verbs
    again = exports.get(
        f"/cohorts/{cid}/exports/xapi.jsonl", token=teacher_token, params={"pathway": PATHWAY}
    )
    assert [json.loads(x)["id"] for x in again.text.splitlines()] == [s["id"] for s in statements]
    later = statements[2]["timestamp"]
    since = exports.get(
        f"/cohorts/{cid}/exports/xapi.jsonl",
        token=teacher_token,
        params={"pathway": PATHWAY, "since": later},
    )
    assert [json.loads(x)["id"] for x in since.text.splitlines()] == [
        s["id"] for s in statements if s["timestamp"] >= later
    ]

    # ---- python -m ops xapi: to a local LRS, twice, through 503s -------------------------------
    with LocalLrs("lrs-user", LRS_PASSWORD) as lrs:
        lrs.fail_next = 2
        first_push = push(cid, lrs)
        assert first_push["sent"] == len(statements), first_push
        assert (first_push["already"], first_push["retries"]) == (0, 2)
        assert set(lrs.statements) == {s["id"] for s in statements}
        assert lrs.statements[statements[0]["id"]] == statements[0]
        second_push = push(cid, lrs)
        assert (second_push["sent"], second_push["already"]) == (0, len(statements))
        assert len(lrs.statements) == len(statements)


def push(cid: str, lrs: LocalLrs) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"},
        "LRS_ENDPOINT": lrs.endpoint,
        "LRS_USERNAME": "lrs-user",
        "LRS_PASSWORD": LRS_PASSWORD,
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops",
            "xapi",
            "--cohort",
            cid,
            "--pathway",
            PATHWAY,
            "--batch",
            "3",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_a_cohort_larger_than_a_page_streams_every_member_once_in_order(
    mint: Callable[..., str], db: Any, exports: Any
) -> None:
    members = [f"{unique('m')}-{n:03d}" for n in range(PAGE + 31)]
    cid = make_cohort(db, [], members)
    admin = mint(unique("admin"), extra={"admin": True})
    reply = exports.get(
        f"/cohorts/{cid}/exports/progress.csv",
        token=admin,
        stream=True,
        params={"pathway": PATHWAY},
    )
    assert reply.status_code == 200
    assert reply.headers.get("Transfer-Encoding") == "chunked"
    assert "attachment" in reply.headers["Content-Disposition"]
    chunks = list(reply.iter_content(chunk_size=None))
    assert len(chunks) > 2  # sent as produced, not built whole
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    uids = [r[1] for r in rows[1:]]
    assert uids == [u for u in sorted(members) for _ in IMG]
    grades = exports.get(f"/cohorts/{cid}/exports/grades.csv", token=admin)
    assert list(csv.reader(io.StringIO(grades.content.decode("utf-8-sig"))))[1:] == []


def test_exports_while_learners_keep_acting_never_fail(
    api: Any, mint: Callable[..., str], db: Any, exports: Any
) -> None:
    progress = api("progress")
    teacher = unique("teach")
    token = mint(teacher, instructor=True)
    actors = [Learner(unique("act"), api, mint, db) for _ in range(4)]
    idle = [unique("idle") for _ in range(PAGE + 10)]
    cid = make_cohort(db, [teacher], [a.uid for a in actors] + idle)
    stop = threading.Event()
    actions: list[int] = []

    def act(me: Learner) -> None:
        n = 0
        while not stop.is_set() and n < 40:
            rid = IMG[n % 4]
            step = ("start", "complete", "uncomplete")[n % 3]
            reply = progress.post(f"/users/me/resources/{rid}/{step}", token=me.token)
            actions.append(reply.status_code)
            n += 1

    workers = [threading.Thread(target=act, args=(a,)) for a in actors]
    for w in workers:
        w.start()
    paths = [
        f"/cohorts/{cid}/exports/progress.csv",
        f"/cohorts/{cid}/exports/grades.csv",
        f"/cohorts/{cid}/exports/xapi.jsonl",
        f"/cohorts/{cid}/exports/progress.csv?pathway={PATHWAY}",
    ]
    try:
        replies = at_once(8, lambda i: fetch(exports.base + paths[i % 4], token))
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=120)
    assert [r.status_code for r in replies] == [200] * 8, [r.text[:200] for r in replies]
    for i, reply in enumerate(replies):
        if paths[i % 4].endswith("progress.csv"):
            rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
            # every member once per resource of the cohort's two pathways (5 + 5)
            assert len(rows) - 1 == (len(idle) + 4) * len(IMG) * 2
        if "pathway=" in paths[i % 4]:
            rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
            assert len(rows) - 1 == (len(idle) + 4) * len(IMG)
    assert actions, "the learners acted meanwhile"
    assert all(s < 500 for s in actions), actions


def fetch(url: str, token: str) -> requests.Response:
    """A request on its own connection (the threads share no session)."""
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def test_who_may_export_and_what_is_refused(
    mint: Callable[..., str], db: Any, exports: Any
) -> None:
    teacher, stranger = unique("teach"), unique("other")
    learner = unique("l")
    cid = make_cohort(db, [teacher], [learner])
    csv_path = f"/cohorts/{cid}/exports/progress.csv"

    def status(path: str, token: str | None, **params: str) -> tuple[int, str]:
        reply = exports.get(path, token=token, params=params)
        code = reply.json()["error"]["code"] if reply.status_code != 200 else ""
        return reply.status_code, code

    assert status(csv_path, None) == (401, "unauthenticated")
    assert status(csv_path, mint(learner)) == (403, "permission_denied")
    assert status(csv_path, mint(learner, extra={"admin": "yes"})) == (403, "permission_denied")
    assert status(csv_path, mint(stranger, instructor=True)) == (404, "not_found")
    assert status(csv_path, mint(teacher)) == (403, "permission_denied")  # listed, no claim
    assert status(csv_path, mint(teacher, instructor=True)) == (200, "")
    admin = mint(unique("admin"), extra={"admin": True})
    assert status(csv_path, admin) == (200, "")
    assert status(f"/cohorts/{unique('none')}/exports/grades.csv", admin) == (404, "not_found")
    assert status(csv_path, admin, pathway="not-in-cohort") == (404, "not_found")
    assert status(csv_path, admin, pathway="bad id!") == (400, "invalid_argument")
    assert status(csv_path, admin, extra="x") == (400, "invalid_argument")
    xapi = f"/cohorts/{cid}/exports/xapi.jsonl"
    assert status(xapi, admin, since="yesterday") == (400, "invalid_argument")
    assert status(xapi, admin, since="2026-01-01T00:00:00") == (400, "invalid_argument")
    assert status(xapi, admin, since="2026-01-01T00:00:00Z") == (200, "")
    reply = exports.post(csv_path, token=admin)
    assert reply.status_code == 405
    assert reply.json()["error"]["code"] == "method_not_allowed"
