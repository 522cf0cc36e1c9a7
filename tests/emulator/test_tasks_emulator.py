"""The local Cloud Tasks dispatches as a Cloud Tasks queue does (localcloud/tasks_emulator.py):
tasks side by side up to the queue's limit, retries after the queue's backoff with Cloud Tasks'
headers, and a task name taken while queued and after it ran (ALREADY_EXISTS).

Tasks go through the running emulator's gRPC API to an endpoint of the test's own, which records
what arrives and when."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.plan import QUEUE_SETTINGS
from tests.emulator.bridge_helpers import Recorder
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

MIN_BACKOFF = float(QUEUE_SETTINGS["min-backoff"].removesuffix("s"))
MAX_CONCURRENT = int(QUEUE_SETTINGS["max-concurrent-dispatches"])


@pytest.fixture
def client(cloud: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    from shared.adapters import tasks
    from shared.config import settings

    os.environ.setdefault("FUNCTION_REGION", cloud.get("region", "us-central1"))
    settings.cache_clear()
    tasks.tasks_client.cache_clear()
    cfg = settings()
    c = tasks.tasks_client()
    yield c, c.queue_path(cfg.project_id, cfg.region, cfg.tasks_queue)
    tasks.tasks_client.cache_clear()


def create(client: Any, parent: str, name: str, url: str, *, hours: float = 0.0) -> Any:
    from google.cloud import tasks_v2

    task: dict[str, Any] = {
        "name": f"{parent}/tasks/{name}",
        "http_request": {"http_method": tasks_v2.HttpMethod.POST, "url": url, "body": b"{}"},
    }
    if hours:
        task["schedule_time"] = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return client.create_task(parent=parent, task=task)


def test_tasks_are_dispatched_side_by_side_up_to_the_queue_limit(
    client: tuple[Any, str],
) -> None:
    tasks_client, parent = client
    endpoint = Recorder(delay=1.5)
    run = unique("side")
    paths = [f"/{run}/{i}" for i in range(12)]
    for path in paths:
        create(tasks_client, parent, unique("t"), endpoint.url + path)
    wait_for(lambda: all(endpoint.at(p) for p in paths), timeout=90, what="every task sent")
    with endpoint.lock:
        spans = [(r["arrived"], r["left"]) for r in endpoint.requests if r["path"] in paths]
    overlap = max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)
    # the emulator alone sent one at a time (overlap 1); Cloud Tasks sends up to the limit
    assert 6 <= overlap <= MAX_CONCURRENT, overlap
    assert len(spans) == len(paths)  # each once: a 200 is never sent again


def test_a_failed_task_is_retried_after_the_backoff_with_cloud_tasks_headers(
    client: tuple[Any, str],
) -> None:
    tasks_client, parent = client
    endpoint = Recorder()
    path = f"/{unique('retry')}"
    endpoint.script[path] = [503, 200]
    name = unique("retried")
    create(tasks_client, parent, name, endpoint.url + path)
    wait_for(lambda: len(endpoint.at(path)) >= 2, timeout=60, what="the retry")
    time.sleep(1.0)  # nothing more may come after the 200
    first, second = endpoint.at(path)[:2]
    assert len(endpoint.at(path)) == 2
    assert second["arrived"] - first["arrived"] >= MIN_BACKOFF - 0.5
    assert first["headers"].get("X-CloudTasks-TaskName") == name
    assert first["headers"].get("X-CloudTasks-TaskRetryCount") == "0"
    assert second["headers"].get("X-CloudTasks-TaskRetryCount") == "1"
    assert second["headers"].get("X-CloudTasks-TaskExecutionCount") == "1"
    assert second["headers"].get("X-CloudTasks-TaskPreviousResponse") == "503"


def test_a_task_name_is_taken_while_queued_and_after_the_task_ran(
    client: tuple[Any, str],
) -> None:
    from google.api_core.exceptions import AlreadyExists

    tasks_client, parent = client
    endpoint = Recorder()
    later, done = unique("later"), unique("done")
    create(tasks_client, parent, later, endpoint.url + "/later", hours=1)
    with pytest.raises(AlreadyExists):
        create(tasks_client, parent, later, endpoint.url + "/later")
    create(tasks_client, parent, done, endpoint.url + f"/{done}")
    wait_for(lambda: endpoint.at(f"/{done}"), timeout=60, what="the task to run")
    with pytest.raises(AlreadyExists):
        create(tasks_client, parent, done, endpoint.url + f"/{done}")
    time.sleep(1.0)
    assert len(endpoint.at(f"/{done}")) == 1
    assert endpoint.at("/later") == []


def test_concurrent_creates_of_one_name_make_one_task(client: tuple[Any, str]) -> None:
    """A batch delivered twice at once enqueues its successor twice: one task results."""
    from concurrent.futures import ThreadPoolExecutor

    from google.api_core.exceptions import AlreadyExists

    tasks_client, parent = client
    endpoint = Recorder()
    name = unique("once")

    def attempt(_: int) -> str:
        try:
            create(tasks_client, parent, name, endpoint.url + f"/{name}")
        except AlreadyExists:
            return "exists"
        return "created"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("created") == 1, outcomes
    wait_for(lambda: endpoint.at(f"/{name}"), timeout=60, what="the task to run")
    time.sleep(1.0)
    assert len(endpoint.at(f"/{name}")) == 1


def test_an_attempt_without_an_answer_by_the_dispatch_deadline_fails_and_is_retried(
    client: tuple[Any, str],
) -> None:
    """As Cloud Run cutting a request at the function's timeout: the attempt counts as failed
    (no response), and the task comes again after the backoff."""
    from google.cloud import tasks_v2

    tasks_client, parent = client
    endpoint = Recorder(delay=3.0)  # answers after the deadline
    path = f"/{unique('deadline')}"
    tasks_client.create_task(
        parent=parent,
        task={
            "name": f"{parent}/tasks/{unique('late')}",
            "http_request": {
                "http_method": tasks_v2.HttpMethod.POST,
                "url": endpoint.url + path,
                "body": b"{}",
            },
            "dispatch_deadline": dt.timedelta(seconds=1),
        },
    )
    wait_for(lambda: len(endpoint.at(path)) >= 2, timeout=60, what="the retry")
    first, second = endpoint.at(path)[:2]
    assert second["arrived"] - first["arrived"] >= MIN_BACKOFF - 0.5
    assert second["headers"].get("X-CloudTasks-TaskRetryCount") == "1"
    # no answer came back: not counted as a response, so no previous response to report
    assert second["headers"].get("X-CloudTasks-TaskExecutionCount") == "0"
    assert "X-CloudTasks-TaskPreviousResponse" not in second["headers"]


def test_the_product_enqueues_with_the_task_functions_timeout_as_dispatch_deadline(
    client: tuple[Any, str],
) -> None:
    import dataclasses

    from google.api_core.exceptions import NotFound

    from deploy.plan import SIZING
    from shared.adapters.tasks import DISPATCH_DEADLINE_SECONDS, CloudTasksQueue
    from shared.config import settings

    tasks_client, parent = client
    name = unique("deadline")
    cfg = settings()
    cfg = dataclasses.replace(cfg, functions_base={"task_reconcile": Recorder().url + "/never"})
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    CloudTasksQueue(cfg).enqueue("task_reconcile", name, {"run_id": name}, at=later)
    task = tasks_client.get_task(name=f"{parent}/tasks/{name}")
    assert task.dispatch_deadline.total_seconds() == DISPATCH_DEADLINE_SECONDS
    assert f"{DISPATCH_DEADLINE_SECONDS}s" == SIZING["task"]["timeout"]
    tasks_client.delete_task(name=f"{parent}/tasks/{name}")  # it never runs
    with pytest.raises(NotFound):
        tasks_client.get_task(name=f"{parent}/tasks/{name}")
