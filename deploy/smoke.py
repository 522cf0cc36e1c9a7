"""Smoke test of a deployed project, or of the running local cloud, through its public HTTP APIs.

    python -m deploy smoke --project P [--region R] [--api-key KEY] [--pathway ID] [--via-hosting]
    python -m deploy smoke --local             # the local cloud of `make up` (.local/stack.json)

With the Admin SDK it creates two throwaway Firebase users (a learner, and an instructor with the
``instructor`` claim), signs both in with the Identity Toolkit REST API (email/password, as the web
page does), then walks a short journey against the deployed functions:

 1. learner: list the pathway's resources (``resources``), complete one (``progress``) and wait for
    the rollup triggers to count it;
 2. learner: ask for an upload URL (``uploads``), PUT a file to Cloud Storage through it and wait
    until the finalize trigger has recorded the upload;
 3. instructor: find the submission in the pending queue and approve it (``review``), sending the
    object generation the queue item names, if it names one; the learner then sees it approved.

Whatever happens, it deletes what it made: both users, their Firestore documents (``users/{uid}``
and below, their submissions, rate-limit and audit entries) and every generation of their objects.
The exit status is 0 only if every step passed. ``make test`` runs ``--local`` so it cannot rot.

Needs the runtime dependencies (``.venv``) and, for a real project, application-default credentials
of a deployer, the Email/Password sign-in provider enabled, and the catalog seeded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / ".local" / "stack.json"
HTTP_FUNCTIONS = ("resources", "progress", "uploads", "review")
IDENTITY_TOOLKIT = "https://identitytoolkit.googleapis.com/v1"
MARKDOWN = b"# Smoke test\n\nA throwaway submission made by `python -m deploy smoke`.\n"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

T = TypeVar("T")


class SmokeError(Exception):
    pass


@dataclass
class Target:
    project: str
    bucket: str
    functions: dict[str, str]  # HTTP entry point -> base URL
    identity_toolkit: str
    api_key: str
    pathway: str
    timeout: float  # for each wait (rollup, upload recorded, review seen)
    emulators: dict[str, str] = field(default_factory=dict)  # environment for the Admin clients


def local_target(pathway: str, stack_file: Path = STACK) -> Target:
    if not stack_file.exists():
        raise SmokeError(f"no {stack_file}: start the local cloud with `make up`")
    stack = json.loads(stack_file.read_text())
    emu = stack["emulators"]
    return Target(
        project=stack["project_id"],
        bucket=stack["bucket"],
        functions={name: stack["functions"][name] for name in HTTP_FUNCTIONS},
        identity_toolkit=f"http://{emu['auth']}/identitytoolkit.googleapis.com/v1",
        api_key="fake-api-key",
        pathway=pathway,
        timeout=60,
        emulators={
            "FIRESTORE_EMULATOR_HOST": emu["firestore"],
            "FIREBASE_AUTH_EMULATOR_HOST": emu["auth"],
            # the storage backend: the public front refuses unsigned requests, as Cloud Storage does
            "STORAGE_EMULATOR_HOST": f"http://{emu.get('storage_backend', emu['storage'])}",
        },
    )


def project_target(
    project: str,
    region: str,
    api_key: str | None,
    pathway: str,
    bucket: str | None,
    *,
    via_hosting: bool = False,
) -> Target:
    import requests

    if api_key is None:
        # The web config Firebase Hosting serves for the project (what the deployed page reads).
        reply = requests.get(f"https://{project}.web.app/__/firebase/init.json", timeout=20)
        if reply.status_code != 200:
            raise SmokeError("could not read the web API key from Hosting: pass --api-key")
        api_key = str(reply.json()["apiKey"])
    return Target(
        project=project,
        bucket=bucket or f"{project}-submissions",
        functions={
            # Through Hosting's /api/v1 rewrites (what the page calls), or each function's own URL.
            name: f"https://{project}.web.app/api/v1"
            if via_hosting
            else f"https://{region}-{project}.cloudfunctions.net/{name}"
            for name in HTTP_FUNCTIONS
        },
        identity_toolkit=IDENTITY_TOOLKIT,
        api_key=api_key,
        pathway=pathway,
        timeout=180,
    )


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SmokeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


class Smoke:
    def __init__(self, target: Target, out: Callable[[str], None] = print) -> None:
        import requests

        self.t = target
        self.out = out
        self.http = requests.Session()
        self.run_id = uuid.uuid4().hex[:10]
        self.uids: list[str] = []
        self.submissions: list[str] = []
        os.environ.update(target.emulators)

    # ---- Admin SDK (users) -------------------------------------------------------------------

    def _app(self) -> Any:
        import firebase_admin

        name = f"aibc-smoke-{self.run_id}"
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            return firebase_admin.initialize_app(options={"projectId": self.t.project}, name=name)

    def make_user(self, role: str, *, instructor: bool = False) -> tuple[str, str]:
        """A throwaway user; returns (uid, ID token) signed in the way the web page signs in."""
        from firebase_admin import auth

        uid = f"smoke-{role}-{self.run_id}"
        email = f"{uid}@example.com"
        password = secrets.token_urlsafe(18)
        auth.create_user(uid=uid, email=email, password=password, app=self._app())
        self.uids.append(uid)
        if instructor:
            # An admin as well: it reviews a learner it never enrolled in a cohort (instructors see
            # only their cohorts' learners; the user is deleted at the end, like the learner).
            claims = {"instructor": True, "admin": True}
            auth.set_custom_user_claims(uid, claims, app=self._app())
        reply = self.http.post(
            f"{self.t.identity_toolkit}/accounts:signInWithPassword",
            params={"key": self.t.api_key},
            json={"email": email, "password": password, "returnSecureToken": True},
            timeout=30,
        )
        if reply.status_code != 200:
            raise SmokeError(f"sign-in of {email} failed: {reply.status_code} {reply.text[:300]}")
        return uid, str(reply.json()["idToken"])

    # ---- HTTP --------------------------------------------------------------------------------

    def call(
        self, token: str, fn: str, method: str, path: str, expect: int = 200, **kw: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        url = self.t.functions[fn] + path
        reply = self.http.request(method, url, headers=headers, timeout=60, **kw)
        if reply.status_code != expect:
            raise SmokeError(f"{method} {fn}{path} -> {reply.status_code} {reply.text[:300]}")
        return reply.json() if reply.content else None

    def step(self, text: str) -> None:
        self.out(f"smoke: {text}")

    # ---- the journey -------------------------------------------------------------------------

    def run(self) -> None:
        learner_uid, learner = self.make_user("learner")
        instructor_uid, instructor = self.make_user("instructor", instructor=True)
        self.step(f"users {learner_uid} and {instructor_uid} created and signed in")
        p = self.t.pathway

        listing = self.call(learner, "resources", "GET", f"/pathways/{p}/resources")
        resources = [r for m in listing["modules"] for r in m["resources"]]
        self.step(f"listed {len(resources)} resources of {p}")
        plain = next(r for r in resources if not r["requires_upload"])
        upload = next(r for r in resources if r["requires_upload"])

        rid = plain["resource_id"]
        self.call(learner, "progress", "POST", f"/users/me/resources/{rid}/complete")

        def rolled_up() -> dict[str, Any] | None:
            report: dict[str, Any] = self.call(
                learner, "progress", "GET", f"/users/me/progress/{p}"
            )
            done = sum(m["completed_resources"] for m in report["modules"])
            return report if done >= 1 else None

        wait_for(rolled_up, self.t.timeout, "the rollup of the completed resource")
        self.step(f"completed {rid}; the module and pathway rollups count it")

        rid = upload["resource_id"]
        name, content_type, data = (
            ("smoke.md", "text/markdown", MARKDOWN)
            if upload["type"] == "exercise"
            else ("smoke.pdf", "application/pdf", PDF)
        )
        body = {"file_name": name, "content_type": content_type, "size_bytes": len(data)}
        grant = self.call(
            learner, "uploads", "POST", f"/users/me/resources/{rid}/upload-url", 201, json=body
        )
        sid = str(grant["submission_id"])
        self.submissions.append(sid)
        put = self.http.put(grant["upload_url"], data=data, headers=grant["headers"], timeout=60)
        if put.status_code >= 300:
            raise SmokeError(f"the signed PUT was refused: {put.status_code} {put.text[:300]}")

        def submission(status: str) -> dict[str, Any] | None:
            listed = self.call(learner, "uploads", "GET", f"/users/me/resources/{rid}/submissions")
            for item in listed["submissions"]:
                if item["submission_id"] == sid and item["status"] == status:
                    found: dict[str, Any] = item
                    return found
            return None

        wait_for(lambda: submission("uploaded"), self.t.timeout, "the upload to be recorded")
        self.step(f"uploaded {name} to {rid}; the finalize trigger recorded submission {sid}")

        def queued() -> dict[str, Any] | None:
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"pathway_id": p, "limit": 100}
                if cursor:
                    params["cursor"] = cursor
                page = self.call(
                    instructor, "review", "GET", "/admin/submissions/pending", params=params
                )
                for item in page["submissions"]:
                    if item["submission_id"] == sid:
                        found: dict[str, Any] = item
                        return found
                cursor = page.get("next_cursor")
                if not cursor:
                    return None

        item = wait_for(queued, self.t.timeout, "the submission in the review queue")
        review: dict[str, Any] = {"decision": "approve", "grade": 100, "comments": "smoke test"}
        # the review names the object generation the instructor saw (the queue item's)
        review["generation"] = item.get("generation") or item["gcs_generation"]
        self.call(instructor, "review", "POST", f"/admin/submissions/{sid}/review", json=review)
        wait_for(lambda: submission("approved"), self.t.timeout, "the learner to see the approval")
        self.step(f"the instructor approved {sid}; the learner sees it approved")

    # ---- clean-up ----------------------------------------------------------------------------

    def leftovers(self) -> list[str]:
        """What still exists of this run (empty after a complete clean-up)."""
        from firebase_admin import auth
        from google.cloud import firestore, storage  # type: ignore[attr-defined]

        found = []
        for uid in self.uids:
            try:
                auth.get_user(uid, app=self._app())
                found.append(f"user {uid}")
            except auth.UserNotFoundError:
                pass
        db = firestore.Client(project=self.t.project)
        bucket = storage.Client(project=self.t.project).bucket(self.t.bucket)
        for uid in self.uids:
            user = db.collection("users").document(uid)
            if user.get().exists:
                found.append(f"users/{uid}")
            found += [
                f"users/{uid}/{c.id}" for c in user.collections() if list(c.limit(1).stream())
            ]
            for collection in ("submissions", "audit_log"):
                query = db.collection(collection).where(
                    filter=firestore.FieldFilter("user_id", "==", uid)
                )
                found += [f"{collection}/{d.id}" for d in query.stream()]
            if db.collection("rate_limits").document(f"{uid}_upload_url").get().exists:
                found.append(f"rate_limits/{uid}_upload_url")
            prefix = f"pathways/{self.t.pathway}/users/{uid}/"
            found += [f"gs://{b.name}" for b in bucket.list_blobs(prefix=prefix, versions=True)]
        return found

    def clean_up(self) -> list[str]:
        """Delete everything of this run, twice if a late trigger wrote again; returns leftovers."""
        from firebase_admin import auth
        from google.cloud import firestore, storage  # type: ignore[attr-defined]

        db = firestore.Client(project=self.t.project)
        bucket = storage.Client(project=self.t.project).bucket(self.t.bucket)
        for uid in self.uids:
            with contextlib.suppress(auth.UserNotFoundError):
                auth.delete_user(uid, app=self._app())
        left: list[str] = []
        for _ in range(5):
            for uid in self.uids:
                db.recursive_delete(db.collection("users").document(uid))
                for collection in ("submissions", "audit_log"):
                    query = db.collection(collection).where(
                        filter=firestore.FieldFilter("user_id", "==", uid)
                    )
                    for doc in query.stream():
                        doc.reference.delete()
                db.collection("rate_limits").document(f"{uid}_upload_url").delete()
                prefix = f"pathways/{self.t.pathway}/users/{uid}/"
                for blob in bucket.list_blobs(prefix=prefix, versions=True):
                    bucket.delete_blob(blob.name, generation=blob.generation)
            # The triggers of the deleted documents may still be running: look again a bit later.
            time.sleep(3)
            left = self.leftovers()
            if not left:
                break
        return left


def run(target: Target, out: Callable[[str], None] = print) -> dict[str, Any]:
    smoke = Smoke(target, out)
    result: dict[str, Any] = {"ok": False, "users": smoke.uids, "submissions": smoke.submissions}
    try:
        smoke.run()
        result["ok"] = True
    except SmokeError as exc:
        result["error"] = str(exc)
        out(f"smoke: FAILED: {exc}")
    finally:
        left = smoke.clean_up()
        result["leftovers"] = left
        out(f"smoke: cleaned up {len(smoke.uids)} users" + (f"; LEFT: {left}" if left else ""))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy smoke", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--project", help="the deployed Google Cloud project")
    where.add_argument("--local", action="store_true", help="the running local cloud")
    parser.add_argument("--region", default="us-central1")
    parser.add_argument("--bucket", help="submissions bucket (default: PROJECT-submissions)")
    parser.add_argument("--api-key", help="web API key (default: read from Firebase Hosting)")
    parser.add_argument("--pathway", default="prompt-engineering")
    parser.add_argument(
        "--via-hosting",
        action="store_true",
        help="call the APIs through https://PROJECT.web.app/api/v1 (the Hosting rewrites)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON at the end")
    args = parser.parse_args(argv)
    try:
        target = (
            local_target(args.pathway)
            if args.local
            else project_target(
                args.project,
                args.region,
                args.api_key,
                args.pathway,
                args.bucket,
                via_hosting=args.via_hosting,
            )
        )
    except SmokeError as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 2
    result = run(target)
    if args.json:
        print(json.dumps(result))
    return 0 if result["ok"] and not result["leftovers"] else 1
