"""``python -m ops reconcile``: where it points (no I/O: the environment it derives)."""

from __future__ import annotations

from typing import Any

from ops.__main__ import local_environ, project_environ

STACK: dict[str, Any] = {
    "project_id": "demo-aibc",
    "queue": "projects/demo-aibc/locations/us-central1/queues/aibc-default",
    "functions": {"task_reconcile": "http://127.0.0.1:13324", "progress": "http://127.0.0.1:13302"},
    "emulators": {"firestore": "127.0.0.1:13180", "tasks": "127.0.0.1:14124"},
}


def test_the_local_cloud_is_described_by_its_stack_file() -> None:
    env = local_environ(STACK)
    assert env["GOOGLE_CLOUD_PROJECT"] == "demo-aibc"
    assert env["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:13180"
    assert env["CLOUD_TASKS_EMULATOR_HOST"] == "127.0.0.1:14124"
    assert (env["FUNCTION_REGION"], env["TASKS_QUEUE"]) == ("us-central1", "aibc-default")
    assert env["FUNCTION_URL_TASK_RECONCILE"] == "http://127.0.0.1:13324"


def test_a_project_gets_the_deploys_url_and_invoker_unless_told_otherwise() -> None:
    env = project_environ({"GOOGLE_CLOUD_PROJECT": "acme", "FUNCTION_REGION": "europe-west1"})
    assert env["FUNCTION_URL_TASK_RECONCILE"] == (
        "https://europe-west1-acme.cloudfunctions.net/task_reconcile"
    )
    assert env["TASKS_SERVICE_ACCOUNT"] == "aibc-tasks-invoker@acme.iam.gserviceaccount.com"
    given = project_environ(
        {
            "GOOGLE_CLOUD_PROJECT": "acme",
            "FUNCTION_URL_TASK_RECONCILE": "https://x.example/r",
            "TASKS_SERVICE_ACCOUNT": "me@acme.iam.gserviceaccount.com",
        }
    )
    assert given["FUNCTION_URL_TASK_RECONCILE"] == "https://x.example/r"
    assert given["TASKS_SERVICE_ACCOUNT"] == "me@acme.iam.gserviceaccount.com"
    assert given["FUNCTION_REGION"] == "us-central1"
