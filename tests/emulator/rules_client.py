"""A small client for the Firestore emulator's REST API, for tests that run ``firestore.rules``.

The emulator enforces security rules for requests that carry an unsigned emulator ID token
(``localcloud.tokens.mint``) and bypasses them for ``Authorization: Bearer owner``, as the Admin SDK
does. The Firebase JS SDK that the frontend uses is subject to the same rules as these requests.

Also drives the emulator itself: start/stop in its own process group, wipe its data, and compile a
ruleset through ``PUT /emulator/v1/projects/{p}:securityRules`` (the endpoint firebase-tools uses to
hot-load rules), which answers 400 "Error compiling rules" for a broken file and lists warnings.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import requests

OWNER = "owner"  # the emulator's admin bearer token: bypasses rules


# -- values ---------------------------------------------------------------------------------------


def encode(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST ``Value``."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, dt.datetime):
        stamp = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return {"timestampValue": stamp}
    if isinstance(value, dict):
        return {"mapValue": {"fields": encode_fields(value)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [encode(v) for v in value]}}
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {key: encode(v) for key, v in data.items()}


def decode(value: dict[str, Any]) -> Any:
    """A Firestore REST ``Value`` as a Python value (timestamps as datetimes)."""
    ((kind, raw),) = value.items()
    if kind == "nullValue":
        return None
    if kind == "booleanValue":
        return bool(raw)
    if kind == "integerValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind in ("stringValue", "referenceValue"):
        return raw
    if kind == "bytesValue":
        return base64.b64decode(raw)
    if kind == "timestampValue":
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if kind == "mapValue":
        return decode_fields(raw.get("fields", {}))
    if kind == "arrayValue":
        return [decode(v) for v in raw.get("values", [])]
    raise TypeError(f"cannot decode {kind}")


def decode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: decode(v) for key, v in fields.items()}


# -- the REST client ------------------------------------------------------------------------------


class Firestore:
    """Document reads, queries and writes as one caller: ``token=None`` sends no Authorization."""

    def __init__(self, host: str, project: str) -> None:
        self.host = host
        self.project = project
        self.root = f"projects/{project}/databases/(default)/documents"
        self.session = requests.Session()

    def url(self, path: str = "") -> str:
        return f"http://{self.host}/v1/{self.root}" + (f"/{path}" if path else "")

    @staticmethod
    def headers(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token is not None else {}

    def get(self, path: str, token: str | None) -> requests.Response:
        return self.session.get(self.url(path), headers=self.headers(token), timeout=10)

    def list(self, collection: str, token: str | None) -> requests.Response:
        """``GET .../documents/{collection}``: a list, i.e. a query with no filter."""
        return self.session.get(self.url(collection), headers=self.headers(token), timeout=10)

    def query(
        self,
        collection: str,
        token: str | None,
        *,
        where: tuple[tuple[str, str, Any], ...] = (),
        all_descendants: bool = False,
    ) -> requests.Response:
        """``:runQuery`` on ``collection`` (``parent/.../collectionId``), ANDing ``where`` filters.

        With ``all_descendants`` it is a collection-group query over every collection of that id.
        """
        parent, _, collection_id = collection.rpartition("/")
        query: dict[str, Any] = {
            "from": [{"collectionId": collection_id, "allDescendants": all_descendants}]
        }
        filters = [
            {"fieldFilter": {"field": {"fieldPath": f}, "op": op, "value": encode(v)}}
            for f, op, v in where
        ]
        if len(filters) == 1:
            query["where"] = filters[0]
        elif filters:
            query["where"] = {"compositeFilter": {"op": "AND", "filters": filters}}
        return self.session.post(
            self.url(parent) + ":runQuery",
            headers=self.headers(token),
            json={"structuredQuery": query},
            timeout=10,
        )

    def create(self, path: str, data: dict[str, Any], token: str | None) -> requests.Response:
        """Create only: fails if the document exists."""
        return self.session.patch(
            self.url(path),
            headers=self.headers(token),
            params={"currentDocument.exists": "false"},
            json={"fields": encode_fields(data)},
            timeout=10,
        )

    def update(
        self,
        path: str,
        data: dict[str, Any],
        token: str | None,
        *,
        mask: tuple[str, ...] | None = None,
    ) -> requests.Response:
        """Update an existing document: only the ``mask`` fields (a field in the mask but not in
        ``data`` is removed), or, with no mask, replace the whole document by ``data``."""
        params: list[tuple[str, str]] = [("currentDocument.exists", "true")]
        params += [("updateMask.fieldPaths", f) for f in mask or ()]
        return self.session.patch(
            self.url(path),
            headers=self.headers(token),
            params=params,
            json={"fields": encode_fields(data)},
            timeout=10,
        )

    def delete(self, path: str, token: str | None) -> requests.Response:
        return self.session.delete(self.url(path), headers=self.headers(token), timeout=10)

    # -- as the owner (bypasses rules) -------------------------------------------------------------

    def put(self, path: str, data: dict[str, Any]) -> None:
        """Create or overwrite a document as the owner."""
        reply = self.session.patch(
            self.url(path),
            headers=self.headers(OWNER),
            json={"fields": encode_fields(data)},
            timeout=10,
        )
        _check(reply, f"owner write of {path}")

    def read(self, path: str) -> dict[str, Any] | None:
        """A document's fields as the owner, or ``None`` if it does not exist."""
        reply = self.get(path, OWNER)
        if reply.status_code == 404:
            return None
        _check(reply, f"owner read of {path}")
        return decode_fields(reply.json().get("fields", {}))

    def remove(self, path: str) -> None:
        _check(self.delete(path, OWNER), f"owner delete of {path}")

    def wipe(self) -> None:
        """Delete every document of the project (emulator only)."""
        reply = self.session.delete(
            f"http://{self.host}/emulator/v1/projects/{self.project}/databases/(default)/documents",
            timeout=10,
        )
        _check(reply, "wiping the database")


# -- replies --------------------------------------------------------------------------------------


def _check(reply: requests.Response, what: str) -> None:
    """Fail loudly, with the emulator's reason (e.g. "Error compiling rules: L4:52 ...")."""
    if not reply.ok:
        raise RuntimeError(f"{what} failed: {reply.status_code} {reply.text}")


def is_denied(reply: requests.Response) -> bool:
    """True for the emulator's rules refusal: 403 with status PERMISSION_DENIED."""
    if reply.status_code != 403:
        return False
    body = reply.json()
    if isinstance(body, list):  # runQuery answers with a stream (a JSON array)
        body = body[0] if body else {}
    return bool(body.get("error", {}).get("status") == "PERMISSION_DENIED")


def document_ids(reply: requests.Response) -> set[str]:
    """The ids of the documents in a get, list or runQuery reply."""
    body = reply.json()
    if isinstance(body, list):  # runQuery
        names = [item["document"]["name"] for item in body if "document" in item]
    elif "documents" in body or not body:  # list (an empty list answers {})
        names = [doc["name"] for doc in body.get("documents", [])]
    else:  # get
        names = [body["name"]]
    return {name.rsplit("/", 1)[1] for name in names}


# -- the emulator ---------------------------------------------------------------------------------


def compile_rules(host: str, project: str, source: str, name: str) -> requests.Response:
    """Load ``source`` as ``project``'s ruleset; 400 "Error compiling rules" if it is broken, and
    ``{"issues": [...]}`` for warnings (unknown functions or variables)."""
    return requests.put(
        f"http://{host}/emulator/v1/projects/{project}:securityRules",
        json={"rules": {"files": [{"name": name, "content": source}]}},
        timeout=30,
    )


class Emulator:
    """``gcloud emulators firestore start --rules=...`` in its own process group."""

    def __init__(self, host: str, rules: Path, log_path: Path) -> None:
        self.host = host
        self.rules = rules
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 45.0) -> None:
        gcloud = shutil.which("gcloud")
        if gcloud is None:
            raise RuntimeError("gcloud is not on PATH: the Firestore emulator is needed")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                gcloud,
                "emulators",
                "firestore",
                "start",
                f"--host-port={self.host}",
                f"--rules={self.rules.resolve()}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the JVM child dies with it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Firestore emulator exited early:\n{self.log()}")
            try:
                if requests.get(f"http://{self.host}/", timeout=5).ok:
                    return
            except requests.RequestException:  # not up yet, or slow to answer on a busy machine
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"the Firestore emulator did not answer within {timeout}s:\n{self.log()}"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
