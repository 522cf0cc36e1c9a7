"""The local cloud is real: transactions contend, listeners fire, signed PUTs land and become
finalized CloudEvents, Cloud Tasks dispatches, Firestore writes arrive as protobuf CloudEvents."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from localcloud import entrypoints
from localcloud.bridge_client import BridgeClient
from tests.emulator.bridge_helpers import Recorder
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud


def test_stack_describes_every_entry_point(cloud: dict[str, Any]) -> None:
    assert set(cloud["functions"]) == set(entrypoints.ALL)
    assert set(cloud["emulators"]) >= {"firestore", "storage", "tasks", "auth"}
    for name in entrypoints.HTTP:
        reply = requests.get(cloud["functions"][name] + "/no/such/route", timeout=10)
        assert reply.status_code in (401, 404), name
        assert "error" in reply.json()


def test_a_function_keeps_an_idle_client_connection_open_as_googles_front_end_does(
    cloud: dict[str, Any],
) -> None:
    """Deployed, the client's connection ends at Google's front end (idle HTTP/1.1 connections
    kept 610 s), never at the instance's gunicorn (2 s). A local function that closed a connection
    after 2 s would make a client reusing it read no reply at all (``RemoteDisconnected``), as the
    e2e tests once did under load (localcloud/function_server.py)."""
    url = urlsplit(cloud["functions"]["resources"])
    assert url.hostname is not None
    assert url.port is not None
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("GET", "/no/such/route")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        assert sock is not None
        assert not first.will_close
        # the subject of the test is an idle connection: longer than gunicorn's 2 s keep-alive
        # plus the 1 s of its sweep
        time.sleep(4)
        conn.request("GET", "/no/such/route")
        second = conn.getresponse()
        second.read()
        assert conn.sock is sock, "the second request needed a new connection"
        assert second.status == first.status
    finally:
        conn.close()


def test_conflicting_transactions_both_apply_and_one_retries(db: Any) -> None:
    """Two transactions read the same counter before either writes, so the emulator's locks
    make at least one of them abort and run again; both increments must land.

    The emulator resolves that deadlock by a lock timeout that can abort both. Their retries
    are staggered (t1 waits a second before it reads again, holding no lock while it waits),
    so a retry cannot meet the other's retry in the same deadlock; without that the two
    retried in lockstep and could use up all five attempts."""
    from google.cloud import firestore

    ref = db.collection("localcloud_tests").document(unique("counter"))
    ref.set({"n": 0})
    barrier = threading.Barrier(2, timeout=10)
    attempts: list[str] = []
    errors: list[Exception] = []

    def add_one(name: str, stagger: float) -> None:
        client = firestore.Client(project=db.project)

        @firestore.transactional
        def run(tx: Any) -> None:
            if attempts.count(name) >= 1:
                time.sleep(stagger)  # a retry: before its read, so it holds no lock meanwhile
            n = ref.get(transaction=tx).get("n")
            attempts.append(name)
            if attempts.count(name) == 1:
                barrier.wait()  # both have read n before either writes
            tx.update(client.document(ref.path), {"n": n + 1})

        try:
            run(client.transaction(max_attempts=10))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=add_one, args=(f"t{i}", float(i) * 1.5)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert ref.get().get("n") == 2
    assert len(attempts) >= 3, attempts  # one of them ran again


def test_a_listener_receives_a_change(db: Any) -> None:
    ref = db.collection("localcloud_tests").document(unique("listened"))
    seen: list[dict[str, Any] | None] = []
    watch = ref.on_snapshot(lambda docs, changes, t: seen.extend(d.to_dict() for d in docs))
    try:
        ref.set({"hello": "world"})
        wait_for(lambda: {"hello": "world"} in seen, what="the listener to see the write")
    finally:
        watch.unsubscribe()


def test_signed_put_lands_and_its_finalized_event_reaches_the_function(
    cloud: dict[str, Any],
) -> None:
    from google.cloud import storage
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(cloud["signing_key_file"])
    client = storage.Client(project=cloud["project_id"])
    blob = client.bucket(cloud["bucket"]).blob(f"localcloud-tests/{unique('obj')}.txt")
    url = blob.generate_signed_url(
        version="v4",
        method="PUT",
        expiration=dt.timedelta(minutes=5),
        content_type="text/plain",
        credentials=creds,
        api_access_endpoint="http://" + cloud["emulators"]["storage"],
    )
    target = cloud["functions"]["on_upload_finalized"]
    bridge = BridgeClient(cloud["bridge"])
    before = bridge.stats()["delivered_to"].get(target, 0)
    reply = requests.put(
        url, data=b"hello storage", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    assert blob.download_as_bytes() == b"hello storage"
    wait_for(
        lambda: bridge.stats()["delivered_to"].get(target, 0) > before,
        what="the finalized event to be delivered (2xx) to on_upload_finalized",
    )


def test_a_cloud_task_is_dispatched_to_its_handler(
    cloud: dict[str, Any], recorder: Recorder
) -> None:
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(cloud["emulators"]["tasks"])
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    body = json.dumps({"probe": unique("task")}).encode()
    client.create_task(
        parent=cloud["queue"],
        task=tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(
                http_method=tasks_v2.HttpMethod.POST,
                url=recorder.url + "/handler",
                headers={"Content-Type": "application/json"},
                body=body,
            )
        ),
    )
    got = wait_for(lambda: recorder.requests, what="the task to be dispatched")
    assert got[0]["path"] == "/handler"
    assert got[0]["body"] == body


def test_firestore_writes_arrive_as_protobuf_cloudevents_the_decoder_parses(
    cloud: dict[str, Any], db: Any, recorder: Recorder
) -> None:
    from cloudevents.http import from_http

    from shared.events import decode_document_event

    probe = unique("probe")
    bridge = BridgeClient(cloud["bridge"])
    bridge.route_trigger(probe, f"localcloud_probe/{probe}/docs/{{doc}}", recorder.url)
    path = f"localcloud_probe/{probe}/docs/d1"
    db.document(path).set({"status": "in_progress", "n": 1})
    db.document(path).update({"status": "completed"})
    db.document(f"localcloud_probe/{probe}/elsewhere/d1").set({"not": "matched"})
    db.document(path).delete()

    got = wait_for(lambda: len(recorder.requests) >= 3 and recorder.requests, what="3 events")
    changes = [decode_document_event(from_http(r["headers"], r["body"])) for r in got]
    assert {r["headers"]["Content-Type"] for r in got} == {"application/protobuf"}
    assert {r["headers"]["ce-type"] for r in got} == {"google.cloud.firestore.document.v1.written"}
    assert {r["headers"]["ce-subject"] for r in got} == {f"documents/{path}"}
    assert got[0]["headers"]["ce-source"] == (
        f"//firestore.googleapis.com/projects/{cloud['project_id']}/databases/(default)"
    )
    transitions = {((c.old or {}).get("status"), (c.new or {}).get("status")) for c in changes}
    assert transitions == {(None, "in_progress"), ("in_progress", "completed"), ("completed", None)}
    assert all(c.path == path for c in changes)
    assert len({r["headers"]["ce-id"] for r in got}) == 3


def test_seed_is_idempotent(cloud: dict[str, Any], db: Any) -> None:
    from seed.load import load, sample_catalog

    catalog = sample_catalog()
    load(catalog, db=db, progress=False)
    assert load(catalog, db=db, progress=False) == 0
    doc = db.document("resources/prompt-engineering-m1-exercise").get().to_dict()
    assert doc["requires_upload"] is True
    assert doc["max_file_size_mb"] == 10


def test_make_seed_as_the_readme_shows_it_finds_the_running_local_cloud(
    cloud: dict[str, Any], db: Any
) -> None:
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    # A fresh shell: no emulator variables, no project, no credentials.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_EMULATOR_HOST")
        and k not in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS")
    }
    done = subprocess.run(
        ["make", "seed"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "14 documents checked, 0 written" in done.stderr  # already seeded by make up
    assert db.document("pathways/prompt-engineering").get().exists
