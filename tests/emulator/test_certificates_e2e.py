"""Certificates end to end on the local cloud: a learner's actions over HTTP, the rollup triggers and
the certificate trigger through the event bridge, the public verification route and the PDF.

Fresh learner uids per test. The exercise and project uploads are recorded directly in Firestore,
as tests/emulator/test_progress_e2e.py does (the upload flow has its own tests).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.emulator.test_progress_e2e import (
    ARTICLE,
    EXERCISE,
    PID,
    PROJECT,
    QUIZ,
    SETTLE,
    VIDEO,
    ok,
    record_upload,
)
from tests.helpers import unique, wait_for

pytestmark = pytest.mark.cloud

TITLE = "Prompt Engineering"


def link_of(db: Any, uid: str) -> dict[str, Any] | None:
    snap = db.document(f"users/{uid}/certificates/{PID}").get()
    return snap.to_dict() if snap.exists else None


def wait_link(db: Any, uid: str, *, status: str, other_than: str | None = None) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        link = link_of(db, uid)
        if link and link["status"] == status and link["certificate_id"] != other_than:
            return link
        return None

    return wait_for(probe, what=f"certificate of {uid} {status}", timeout=SETTLE * 2)


def complete_pathway(api: Callable[[str], Any], db: Any, token: str, uid: str) -> None:
    progress = api("progress")
    for rid in (VIDEO, ARTICLE, QUIZ):
        ok(progress.post(f"/users/me/resources/{rid}/complete", token=token))
    record_upload(db, uid, EXERCISE)
    record_upload(db, uid, PROJECT)


def certificates_of(db: Any, uid: str) -> list[dict[str, Any]]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = db.collection("certificates").where(filter=FieldFilter("uid", "==", uid))
    return [s.to_dict() | {"id": s.id} for s in query.stream()]


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_complete_verify_revoke_and_complete_again(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str]
) -> None:
    uid = unique("grad")
    name = "Ada Lovelace"
    token = mint(uid, extra={"name": name}, email=f"{uid}@example.com")
    certs = api("certificates")
    complete_pathway(api, db, token, uid)

    first = wait_link(db, uid, status="valid")
    cid = first["certificate_id"]
    assert len(cid) >= 22
    public = certs.get(f"/certificates/{cid}")  # no token
    body = ok(public)
    assert (body["status"], body["valid"], body["name"]) == ("valid", True, name)
    assert (body["pathway_id"], body["pathway_title"]) == (PID, TITLE)
    assert body["completed_at"]
    assert body["revoked_at"] is None
    assert body["verify_url"].endswith(f"/#/verify/{cid}")
    assert uid not in public.text
    assert f"{uid}@example.com" not in public.text
    assert "s-maxage" in public.headers["Cache-Control"]
    # through the Hosting prefix too
    assert ok(certs.get(f"/api/v1/certificates/{cid}"))["certificate_id"] == cid

    pdf = certs.get(f"/certificates/{cid}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    text = pdf_text(pdf.content)
    assert name in text
    assert cid in text
    assert TITLE in text
    assert body["verify_url"] in text

    mine = ok(certs.get("/users/me/certificates", token=token))["certificates"]
    assert [(c["certificate_id"], c["status"]) for c in mine] == [(cid, "valid")]
    assert certs.get("/users/me/certificates").status_code == 401
    assert ok(certs.get("/users/me/certificates", token=mint(unique("x"))))["certificates"] == []

    # the completion is revoked: so is the certificate
    ok(api("progress").post(f"/users/me/resources/{QUIZ}/uncomplete", token=token))
    revoked = wait_link(db, uid, status="revoked")
    assert revoked["certificate_id"] == cid
    body = ok(certs.get(f"/certificates/{cid}"))
    assert (body["status"], body["valid"]) == ("revoked", False)
    assert body["revoked_at"] is not None
    assert "REVOKED" in pdf_text(certs.get(f"/certificates/{cid}.pdf").content)

    # completing again issues a new certificate; the old id stays revoked
    ok(api("progress").post(f"/users/me/resources/{QUIZ}/complete", token=token))
    again = wait_link(db, uid, status="valid", other_than=cid)
    assert again["previous_ids"] == [cid]
    assert ok(certs.get(f"/certificates/{again['certificate_id']}"))["valid"] is True
    assert ok(certs.get(f"/certificates/{cid}"))["status"] == "revoked"
    stored = certificates_of(db, uid)
    assert sorted(c["status"] for c in stored) == ["revoked", "valid"]


def test_unknown_and_malformed_ids_are_json_404s(api: Callable[[str], Any]) -> None:
    certs = api("certificates")
    for path in (
        "/certificates/AAAAAAAAAAAAAAAAAAAAAA",
        "/certificates/AAAAAAAAAAAAAAAAAAAAAA.pdf",
        "/certificates/__name__",
        "/certificates/a.b.pdf",
    ):
        reply = certs.get(path)
        assert reply.status_code == 404, (path, reply.status_code)
        assert reply.json()["error"]["code"] == "not_found"
    assert certs.post("/certificates/AAAAAAAAAAAAAAAAAAAAAA").status_code == 405


LEARNERS = 8


def test_concurrent_learners_under_duplicate_and_reordered_delivery_get_one_live_certificate_each(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str], bridge: Any
) -> None:
    """Every event delivered twice and held 0-2 s (so they overtake each other); 8 learners each
    complete the pathway from two threads at once, uncomplete and complete again; once the bridge
    is idle each has exactly one live certificate, the one its link names."""
    bridge.configure(duplicate=True, reorder={"window": 2})
    uids = [unique("crowd") for _ in range(LEARNERS)]
    tokens = {u: mint(u, extra={"name": f"Learner {u}"}) for u in uids}
    errors: list[BaseException] = []

    def journey(uid: str) -> None:
        try:
            progress = api("progress")
            token = tokens[uid]
            racers = [
                threading.Thread(target=complete_pathway, args=(api, db, token, uid))
                for _ in range(2)
            ]
            for t in racers:
                t.start()
            for t in racers:
                t.join()
            ok(progress.post(f"/users/me/resources/{QUIZ}/uncomplete", token=token))
            ok(progress.post(f"/users/me/resources/{QUIZ}/complete", token=token))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=journey, args=(u,)) for u in uids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for uid in uids:
        wait_link(db, uid, status="valid")
    bridge.wait_idle(quiet=3.0, timeout=SETTLE * 3)
    for uid in uids:
        link = link_of(db, uid)
        assert link is not None
        assert link["status"] == "valid"
        stored = certificates_of(db, uid)
        live = [c for c in stored if c["revoked_at"] is None]
        assert [c["id"] for c in live] == [link["certificate_id"]], stored
        assert all(c["status"] == "revoked" for c in stored if c["revoked_at"] is not None)
        assert set(link["previous_ids"]) == {c["id"] for c in stored} - {link["certificate_id"]}
        reply = requests.get(f"{api('certificates').base}/certificates/{live[0]['id']}", timeout=30)
        assert reply.json()["valid"] is True


def test_recent_activity_is_one_indexed_page_of_actions_however_many_heartbeats(
    api: Callable[[str], Any], db: Any, mint: Callable[..., str]
) -> None:
    """Events written by the real functions carry ``activity``: the overview's one query (actions
    only, newest first) finds the start and the completion among 24 heartbeats sent from 4
    threads at once."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    uid = unique("active")
    token = mint(uid)
    progress = api("progress")
    ok(progress.post(f"/users/me/resources/{VIDEO}/start", token=token))
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            for _ in range(6):
                body = {"progress_percentage": 50, "time_spent_minutes": 1}
                ok(progress.put(f"/users/me/resources/{VIDEO}/progress", token=token, json=body))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    beaters = [threading.Thread(target=beat) for _ in range(4)]
    for t in beaters:
        t.start()
    for t in beaters:
        t.join()
    assert errors == []
    ok(progress.post(f"/users/me/resources/{VIDEO}/complete", token=token))
    events = db.collection(f"users/{uid}/progress_events")
    every = [s.to_dict() for s in events.stream()]
    assert sorted(e["action"] for e in every) == sorted(["start", "complete"] + ["update"] * 24)
    assert all(e["activity"] is (e["action"] != "update") for e in every)
    assert (
        ok(progress.get(f"/users/me/resources/{VIDEO}/progress", token=token))["time_spent_minutes"]
        == 24
    )
    page = (
        events.where(filter=FieldFilter("activity", "==", True))
        .order_by("at", direction=firestore.Query.DESCENDING)
        .limit(8)
        .stream()
    )
    assert [s.to_dict()["action"] for s in page] == ["complete", "start"]
