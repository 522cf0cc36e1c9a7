"""Task auth end to end: tasks go through the real Tasks emulator to the running task handlers.

The enqueue adapter attaches the token Cloud Run would forward (claims intact, signature replaced by
``SIGNATURE_REMOVED_BY_GOOGLE``); the handlers check it with the code production runs. Refusals are
observed through the emulator itself (``RunTask`` returns the attempt's status, a ``google.rpc`` code).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.domain.identity import REMOVED_SIGNATURE
from tests.emulator.task_calls import task_headers
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

PNG = (Path(__file__).resolve().parent.parent / "fixtures" / "files" / "sample.png").read_bytes()
RESOURCE = "image-generation-m1-exercise"


@pytest.fixture
def queue(cloud: dict[str, Any]) -> Iterator[Any]:
    """The enqueue adapter and a Tasks client, pointed at this stack's emulator and handlers."""
    os.environ["FUNCTION_URL_TASK_EXPIRE_UPLOAD"] = cloud["functions"]["task_expire_upload"]
    os.environ["FUNCTION_REGION"] = cloud.get("region", "us-central1")
    from shared.adapters import tasks
    from shared.config import settings

    settings.cache_clear()
    tasks.tasks_client.cache_clear()
    try:
        yield tasks
    finally:
        tasks.tasks_client.cache_clear()


def pending_submission(api: Any, mint: Any) -> tuple[str, Any]:
    uid = unique("tasker")
    reply = api("uploads").post(
        f"/users/me/resources/{RESOURCE}/upload-url",
        token=mint(uid),
        json={"file_name": "never.png", "content_type": "image/png", "size_bytes": len(PNG)},
    )
    assert reply.status_code == 201, reply.text
    submission_id: str = reply.json()["submission_id"]
    return submission_id, uid


def status(db: Any, submission_id: str) -> str | None:
    data = db.collection("submissions").document(submission_id).get().to_dict() or {}
    value: str | None = data.get("status")
    return value


# the google.rpc codes Cloud Tasks reports for an attempt's HTTP status
OK, UNAUTHENTICATED, PERMISSION_DENIED = 0, 16, 7


def run_now(queue: Any, submission_id: str, headers: dict[str, str]) -> int:
    """Create a task due in an hour with these headers and force it now; the attempt's status (a
    ``google.rpc`` code, as Cloud Tasks reports it: 401 is UNAUTHENTICATED, 403 PERMISSION_DENIED)."""
    from google.cloud import tasks_v2

    cfg = queue.settings()
    client = queue.tasks_client()
    parent = client.queue_path(cfg.project_id, cfg.region, cfg.tasks_queue)
    due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    task = client.create_task(
        parent=parent,
        task={
            "name": f"{parent}/tasks/{unique('forced')}",
            "schedule_time": due,
            "http_request": {
                "http_method": tasks_v2.HttpMethod.POST,
                "url": cfg.functions_base["task_expire_upload"],
                "headers": {"Content-Type": "application/json", **headers},
                "body": f'{{"submission_id": "{submission_id}"}}'.encode(),
            },
        },
    )
    ran = client.run_task(name=task.name)
    code: int = ran.last_attempt.response_status.code
    return code


def test_a_task_enqueued_through_the_emulator_reaches_its_handler_and_is_accepted(
    cloud: dict[str, Any], api: Any, mint: Any, db: Any, queue: Any
) -> None:
    submission_id, _ = pending_submission(api, mint)
    queue.CloudTasksQueue().enqueue(
        "task_expire_upload", unique(f"expire-{submission_id}"), {"submission_id": submission_id}
    )
    wait_for(
        lambda: status(db, submission_id) == "expired",
        timeout=60,
        what="the queued expiry to be accepted and applied",
    )


def test_the_emulator_forwards_the_token_and_the_handler_refuses_foreign_ones(
    cloud: dict[str, Any], api: Any, mint: Any, db: Any, queue: Any
) -> None:
    submission_id, _ = pending_submission(api, mint)
    intruder = task_headers(
        cloud, "task_expire_upload", email="intruder@demo-aibc.iam.gserviceaccount.com"
    )
    assert intruder["Authorization"].endswith("." + REMOVED_SIGNATURE)
    elsewhere = task_headers(cloud, "task_expire_upload", audience_of="task_notify_learner")
    assert run_now(queue, submission_id, {}) == UNAUTHENTICATED
    assert run_now(queue, submission_id, intruder) == PERMISSION_DENIED
    assert run_now(queue, submission_id, elsewhere) == PERMISSION_DENIED
    assert run_now(queue, submission_id, {"X-Aibc-Task-Secret": "old-scheme"}) == UNAUTHENTICATED
    assert status(db, submission_id) == "pending_upload"
    # the same forced delivery with the queue's own token is accepted
    assert run_now(queue, submission_id, task_headers(cloud, "task_expire_upload")) == OK
    assert status(db, submission_id) == "expired"


def test_concurrent_authorised_deliveries_expire_once(
    cloud: dict[str, Any], api: Any, mint: Any, db: Any
) -> None:
    submission_id, _ = pending_submission(api, mint)
    url = cloud["functions"]["task_expire_upload"]
    headers = task_headers(cloud, "task_expire_upload")

    def deliver(_: int) -> requests.Response:
        return requests.post(
            url, json={"submission_id": submission_id}, headers=headers, timeout=90
        )

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(deliver, range(6)))
    assert all(r.status_code in (200, 503) for r in replies), [r.text for r in replies]
    outcomes = [r.json()["outcome"] for r in replies if r.status_code == 200]
    assert outcomes.count("expired") == 1, outcomes
    assert set(outcomes) <= {"expired", "already expired"}
    assert status(db, submission_id) == "expired"
