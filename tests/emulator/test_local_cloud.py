"""The local cloud is real: transactions contend, listeners fire, signed PUTs land and become
finalized CloudEvents, Cloud Tasks dispatches, Firestore writes arrive as protobuf CloudEvents."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from localcloud import entrypoints
from localcloud.bridge import Bridge
from localcloud.bridge_client import BridgeClient
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud


class Recorder:
    """A real HTTP server on a free port that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


def test_stack_describes_every_entry_point(cloud: dict[str, Any]) -> None:
    assert set(cloud["functions"]) == set(entrypoints.ALL)
    assert set(cloud["emulators"]) >= {"firestore", "storage", "tasks", "auth"}
    for name in entrypoints.HTTP:
        reply = requests.get(cloud["functions"][name] + "/no/such/route", timeout=10)
        assert reply.status_code in (401, 404), name
        assert "error" in reply.json()


def test_conflicting_transactions_both_apply_and_one_retries(db: Any) -> None:
    from google.cloud import firestore

    ref = db.collection("localcloud_tests").document(unique("counter"))
    ref.set({"n": 0})
    barrier = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def add_one(name: str) -> None:
        client = firestore.Client(project=db.project)

        @firestore.transactional
        def run(tx: Any) -> None:
            n = ref.get(transaction=tx).get("n")
            attempts.append(name)
            if attempts.count(name) == 1:
                barrier.wait()  # both have read n before either writes
            tx.update(client.document(ref.path), {"n": n + 1})

        run(client.transaction())

    threads = [threading.Thread(target=add_one, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
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

    stack = {**cloud, "functions": dict.fromkeys(entrypoints.ALL, recorder.url)}
    bridge = Bridge(stack, workers=2)
    bridge.start(storage=False)
    try:
        uid = unique("u")
        path = f"users/{uid}/resource_progress/r1"
        db.document(path).set({"status": "in_progress", "module_id": "m1"})
        db.document(path).update({"status": "completed"})

        def mine() -> list[dict[str, Any]]:
            return [
                r
                for r in recorder.requests
                if r["headers"].get("ce-subject") == f"documents/{path}"
            ]

        wait_for(lambda: len(mine()) >= 2, what="two events for the document")
        first, second = mine()[:2]
        assert second["headers"]["Content-Type"] == "application/protobuf"
        assert second["headers"]["ce-type"] == "google.cloud.firestore.document.v1.written"
        change = decode_document_event(from_http(second["headers"], second["body"]))
        assert change.path == path
        assert change.old == {"status": "in_progress", "module_id": "m1"}
        assert change.new == {"status": "completed", "module_id": "m1"}
        created = decode_document_event(from_http(first["headers"], first["body"]))
        assert created.old is None
    finally:
        bridge.close()


def test_seed_is_idempotent(cloud: dict[str, Any], db: Any) -> None:
    from seed.load import CATALOG, build_catalog, load

    catalog = build_catalog(json.loads(CATALOG.read_text()))
    load(catalog, db=db, progress=False)
    assert load(catalog, db=db, progress=False) == 0
    doc = db.document("resources/prompt-engineering-m1-exercise").get().to_dict()
    assert doc["requires_upload"] is True
    assert doc["max_file_size_mb"] == 10


def test_bridge_resubscribes_and_catches_up_after_its_listener_dies(
    cloud: dict[str, Any], db: Any, recorder: Recorder
) -> None:
    from cloudevents.http import from_http

    from shared.events import decode_document_event

    stack = {**cloud, "functions": dict.fromkeys(entrypoints.ALL, recorder.url)}
    bridge = Bridge(stack, workers=2)
    bridge.start(storage=False)

    def events_for(path: str) -> list[dict[str, Any]]:
        subject = f"documents/{path}"
        return [r for r in recorder.requests if r["headers"].get("ce-subject") == subject]

    try:
        uid = unique("u")
        kept = f"users/{uid}/resource_progress/kept"
        dropped = f"users/{uid}/resource_progress/dropped"
        db.document(dropped).set({"status": "in_progress"})
        wait_for(lambda: events_for(dropped), what="the first event")
        old_watch = bridge._watches["resource_progress"]
        old_watch.close()  # what the client does when the stream fails for good
        # Written while nobody listens: the next listener's first snapshot must still yield events.
        db.document(kept).set({"status": "completed"})
        db.document(dropped).delete()
        wait_for(lambda: events_for(kept), what="a catch-up event for the new document")
        wait_for(lambda: len(events_for(dropped)) >= 2, what="a catch-up event for the deletion")
        assert bridge._watches["resource_progress"] is not old_watch
        last = events_for(dropped)[-1]
        deletion = decode_document_event(from_http(last["headers"], last["body"]))
        assert (deletion.old, deletion.new) == ({"status": "in_progress"}, None)
    finally:
        bridge.close()
