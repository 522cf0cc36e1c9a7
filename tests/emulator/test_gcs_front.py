"""The Cloud Storage front (localcloud.gcs_front) before the versioned storage backend.

This module starts its own backend (localcloud.storage_backend) and front on free ports (it does not
need ``make up``): a signed PUT lands and reads back through the client library; oversize, forged,
expired and wrong-type PUTs are refused with Cloud Storage's XML errors and store nothing; unsigned
requests (list, read, write) are refused with 403 as a private bucket refuses them; the plain client
works against the backend, which keeps every object generation as a versioned bucket does.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage import _signing
from google.oauth2 import service_account

from localcloud.signing import ensure_signing_key, signer_email
from tests.helpers import unique, wait_for

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "front-test-bucket"
WEB_ORIGIN = "http://localhost:5173"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 3


@dataclass(frozen=True)
class Front:
    url: str
    upstream: str
    key_file: Path
    credentials: Any


def _credentials(path: Path) -> Any:
    return service_account.Credentials.from_service_account_file(str(path))  # type: ignore[no-untyped-call]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text()}")
    return _answers(url)


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    work = tmp_path_factory.mktemp("gcs_front")
    key_file = work / "signing-key.json"
    ensure_signing_key(key_file, "demo-aibc")
    emu_port, front_port = _free_port(), _free_port()
    upstream = f"http://127.0.0.1:{emu_port}"
    url = f"http://127.0.0.1:{front_port}"
    emulator = _start(
        [
            sys.executable,
            "-m",
            "localcloud.storage_backend",
            "--host",
            "127.0.0.1",
            "--port",
            str(emu_port),
            "--default-bucket",
            BUCKET,
        ],
        work / "emulator.log",
    )
    proc = None
    try:
        wait_for(
            lambda: _ready(emulator, upstream + "/", work / "emulator.log"),
            timeout=30,
            what="the storage emulator",
        )
        proc = _start(
            [
                sys.executable,
                "-m",
                "localcloud.gcs_front",
                "--port",
                str(front_port),
                "--upstream",
                upstream,
                "--key-file",
                str(key_file),
                "--cors-origins",
                WEB_ORIGIN,
            ],
            work / "front.log",
        )
        wait_for(
            lambda: _ready(proc, url + "/_health", work / "front.log"),  # type: ignore[arg-type]
            timeout=30,
            what="the gcs front",
        )
        credentials = _credentials(key_file)
        yield Front(url=url, upstream=upstream, key_file=key_file, credentials=credentials)
    finally:
        if proc is not None:
            _stop(proc)
        _stop(emulator)


@pytest.fixture
def client(front: Front) -> storage.Client:
    """The client library as the functions use it: STORAGE_EMULATOR_HOST points at the backend."""
    os.environ["STORAGE_EMULATOR_HOST"] = front.upstream  # restored by the autouse environ fixture
    return storage.Client(project="demo-aibc", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]


@pytest.fixture
def signed_put(front: Front, client: storage.Client) -> Callable[..., str]:
    def make(
        name: str,
        *,
        content_type: str = "image/png",
        length_range: str = "0,1024",
        expiration: timedelta = timedelta(minutes=15),
    ) -> str:
        url: str = (
            client.bucket(BUCKET)
            .blob(name)
            .generate_signed_url(
                version="v4",
                method="PUT",
                content_type=content_type,
                headers={"x-goog-content-length-range": length_range},
                credentials=front.credentials,
                api_access_endpoint=front.url,
                expiration=expiration,
            )
        )
        return url

    return make


def _put(url: str, body: bytes, content_type: str, length_range: str) -> requests.Response:
    headers = {"Content-Type": content_type, "x-goog-content-length-range": length_range}
    return requests.put(url, data=body, headers=headers, timeout=60)


def _error_code(response: requests.Response) -> str | None:
    return ElementTree.fromstring(response.content).findtext("Code")  # noqa: S314 - ours


def _name(suffix: str = "upload.png") -> str:
    return f"pathways/image-generation/users/{unique('u')}/resources/r/{unique('s')}/{suffix}"


# ------------------------------------------------------------------------------ signed uploads


def test_a_signed_put_lands_and_reads_back(
    front: Front, client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name("20260101T000000_my cat+1.png")
    response = _put(signed_put(name), PNG, "image/png", "0,1024")
    assert response.status_code == 200, response.text

    blob = client.bucket(BUCKET).get_blob(name)
    assert blob is not None
    assert (blob.content_type, blob.size) == ("image/png", len(PNG))
    assert isinstance(blob.generation, int)
    assert blob.generation > 0
    assert blob.download_as_bytes() == PNG


def test_an_oversize_put_is_refused_and_stores_nothing(
    client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    response = _put(signed_put(name, length_range="0,1024"), b"x" * 2048, "image/png", "0,1024")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/xml")
    assert _error_code(response) == "EntityTooLarge"
    assert client.bucket(BUCKET).get_blob(name) is None


def test_an_undersize_put_is_refused(
    client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    response = _put(signed_put(name, length_range="100,1024"), b"x" * 10, "image/png", "100,1024")
    assert (response.status_code, _error_code(response)) == (400, "EntityTooSmall")
    assert client.bucket(BUCKET).get_blob(name) is None


def test_a_forged_signature_is_refused_and_stores_nothing(
    client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    url = signed_put(name)
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    response = _put(forged, PNG, "image/png", "0,1024")
    assert (response.status_code, _error_code(response)) == (403, "SignatureDoesNotMatch")
    assert client.bucket(BUCKET).get_blob(name) is None


def test_a_url_for_one_object_cannot_write_another(
    front: Front, client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name, other = _name("a.png"), _name("b.png")
    split = urlsplit(signed_put(name))
    moved = f"{front.url}/{BUCKET}/{quote(other)}?{split.query}"
    response = _put(moved, PNG, "image/png", "0,1024")
    assert (response.status_code, _error_code(response)) == (403, "SignatureDoesNotMatch")
    assert client.bucket(BUCKET).get_blob(other) is None


def test_another_content_type_is_refused(
    client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    response = _put(signed_put(name, content_type="image/png"), PNG, "text/html", "0,1024")
    assert (response.status_code, _error_code(response)) == (403, "SignatureDoesNotMatch")
    assert client.bucket(BUCKET).get_blob(name) is None


def test_an_expired_url_is_refused_and_stores_nothing(front: Front, client: storage.Client) -> None:
    name = _name()
    # The client's V4 helper, with a signing time in the past (its documented test hook).
    url = _signing.generate_signed_url_v4(
        front.credentials,
        resource=f"/{BUCKET}/{quote(name, safe='/~')}",
        expiration=60,
        api_access_endpoint=front.url,
        method="PUT",
        content_type="image/png",
        _request_timestamp="20200101T000000Z",
    )
    response = requests.put(url, data=PNG, headers={"Content-Type": "image/png"}, timeout=30)
    assert (response.status_code, _error_code(response)) == (400, "ExpiredToken")
    assert client.bucket(BUCKET).get_blob(name) is None


def test_a_declared_body_over_the_front_limit_is_refused_without_reading_it(front: Front) -> None:
    with socket.create_connection(("127.0.0.1", urlsplit(front.url).port or 80), timeout=10) as s:
        head = f"PUT /{BUCKET}/huge.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n"
        s.sendall(head.encode())
        reply = b""
        while chunk := s.recv(4096):  # the front closes the connection after refusing
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"<Code>EntityTooLarge</Code>" in reply


def test_an_overwrite_gets_a_new_generation_in_the_listing(
    front: Front, signed_put: Callable[..., str]
) -> None:
    """What the event bridge relies on: each finished upload is a new (name, generation)."""
    name = _name()
    generations = []
    for body in (PNG, PNG + b"again"):
        assert _put(signed_put(name), body, "image/png", "0,1024").status_code == 200
        listing = requests.get(
            f"{front.upstream}/storage/v1/b/{BUCKET}/o", params={"prefix": name}, timeout=10
        ).json()
        [item] = listing["items"]
        assert (item["name"], int(item["size"])) == (name, len(body))
        generations.append(int(item["generation"]))
    assert generations[1] > generations[0]


def test_concurrent_and_large_signed_puts_all_land(
    client: storage.Client, signed_put: Callable[..., str]
) -> None:
    big = 25 * 1024 * 1024
    jobs = [(_name(f"{i}.png"), PNG * (i + 1), "0,1048576") for i in range(8)]
    jobs.append((_name("big.png"), PNG[:8] + os.urandom(big - 8), f"0,{big}"))

    def upload(job: tuple[str, bytes, str]) -> int:
        name, body, length_range = job
        return _put(
            signed_put(name, length_range=length_range), body, "image/png", length_range
        ).status_code

    with ThreadPoolExecutor(max_workers=9) as pool:
        assert list(pool.map(upload, jobs)) == [200] * len(jobs)
    bucket = client.bucket(BUCKET)
    for name, body, _ in jobs:
        blob = bucket.get_blob(name)
        assert blob is not None
        assert blob.size == len(body)
    assert bucket.blob(jobs[-1][0]).download_as_bytes() == jobs[-1][1]


def test_a_signed_get_downloads(front: Front, client: storage.Client) -> None:
    name = _name("note.txt")
    client.bucket(BUCKET).blob(name).upload_from_string(b"hello", content_type="text/plain")
    url = (
        client.bucket(BUCKET)
        .blob(name)
        .generate_signed_url(
            version="v4",
            method="GET",
            credentials=front.credentials,
            api_access_endpoint=front.url,
            expiration=timedelta(minutes=5),
        )
    )
    response = requests.get(url, timeout=10)
    assert (response.status_code, response.content) == (200, b"hello")
    tampered = requests.get(url.replace("note.txt", "other.txt"), timeout=10)
    assert (tampered.status_code, _error_code(tampered)) == (403, "SignatureDoesNotMatch")


# ------------------------------------------------------------------------------ plain client


def test_the_plain_client_works_against_the_backend(client: storage.Client) -> None:
    bucket = client.bucket(BUCKET)
    prefix = f"plain/{unique('p')}/"
    bucket.blob(prefix + "a.txt").upload_from_string("alpha", content_type="text/plain")
    bucket.blob(prefix + "b.md").upload_from_string(b"# beta", content_type="text/markdown")

    assert sorted(b.name for b in client.list_blobs(BUCKET, prefix=prefix)) == [
        prefix + "a.txt",
        prefix + "b.md",
    ]
    assert bucket.blob(prefix + "a.txt").download_as_text() == "alpha"
    assert bucket.blob(prefix + "b.md").download_as_bytes(start=2, end=5) == b"beta"

    blob = bucket.get_blob(prefix + "b.md")
    assert blob is not None
    assert blob.content_type == "text/markdown"
    blob.metadata = {"submission": "s1"}
    blob.patch()
    reloaded = bucket.get_blob(prefix + "b.md")
    assert reloaded is not None
    assert reloaded.metadata == {"submission": "s1"}

    bucket.blob(prefix + "a.txt").delete()
    assert bucket.get_blob(prefix + "a.txt") is None
    assert [b.name for b in client.list_blobs(BUCKET, prefix=prefix)] == [prefix + "b.md"]


def test_buckets_can_be_created_listed_and_deleted(client: storage.Client) -> None:
    name = unique("bkt")
    client.create_bucket(name)
    assert name in [b.name for b in client.list_buckets()]
    client.bucket(name).delete()
    assert name not in [b.name for b in client.list_buckets()]


def test_a_browser_origin_gets_cors_answers_like_a_bucket_cors_config(
    front: Front, signed_put: Callable[..., str]
) -> None:
    name = _name()
    url = signed_put(name)
    preflight = requests.options(
        url,
        headers={
            "Origin": WEB_ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-goog-content-length-range",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == (
        "content-type,x-goog-content-length-range"
    )

    headers = {
        "Origin": WEB_ORIGIN,
        "Content-Type": "image/png",
        "x-goog-content-length-range": "0,1024",
    }
    ok = requests.put(url, data=PNG, headers=headers, timeout=10)
    assert (ok.status_code, ok.headers["Access-Control-Allow-Origin"]) == (200, WEB_ORIGIN)
    refused = requests.put(url, data=b"x" * 2048, headers=headers, timeout=10)
    assert (refused.status_code, refused.headers["Access-Control-Allow-Origin"]) == (
        400,
        WEB_ORIGIN,
    )

    stranger = requests.put(
        url, data=PNG, headers={**headers, "Origin": "http://evil.test"}, timeout=10
    )
    assert stranger.status_code == 200  # CORS binds browsers, not the storage itself
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_health(front: Front) -> None:
    assert requests.get(front.url + "/_health", timeout=5).status_code == 200


# ------------------------------------------------------------------------------ unsigned requests


@pytest.mark.parametrize(
    ("method", "target", "permission"),
    [
        ("GET", "/storage/v1/b/{bucket}/o", "storage.objects.list"),
        ("GET", "/{bucket}", "storage.objects.list"),
        ("GET", "/{bucket}/{name}", "storage.objects.get"),
        ("HEAD", "/{bucket}/{name}", None),
        ("GET", "/storage/v1/b/{bucket}/o/{qname}?alt=media", "storage.objects.get"),
        ("GET", "/download/storage/v1/b/{bucket}/o/{qname}?alt=media", "storage.objects.get"),
        ("PUT", "/{bucket}/{name}", "storage.objects.create"),
        (
            "POST",
            "/upload/storage/v1/b/{bucket}/o?uploadType=media&name={qname}",
            "storage.objects.create",
        ),
        ("DELETE", "/storage/v1/b/{bucket}/o/{qname}", "storage.objects.delete"),
    ],
)
def test_an_unsigned_request_is_refused_like_a_private_bucket_refuses_it(
    front: Front, client: storage.Client, method: str, target: str, permission: str | None
) -> None:
    name = _name("kept.png")
    client.bucket(BUCKET).blob(name).upload_from_string(PNG, content_type="image/png")
    url = front.url + target.format(bucket=BUCKET, name=quote(name), qname=quote(name, safe=""))
    response = requests.request(
        method, url, data=b"overwritten" if method in ("PUT", "POST") else None, timeout=10
    )
    assert response.status_code == 403
    if permission is not None:  # a HEAD reply has no body
        assert response.headers["Content-Type"].startswith("application/xml")
        assert _error_code(response) == "AccessDenied"
        assert permission in response.text
    blob = client.bucket(BUCKET).get_blob(name)
    assert blob is not None
    assert blob.download_as_bytes() == PNG  # not overwritten, not deleted


def test_the_plain_client_pointed_at_the_front_is_refused(
    front: Front, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.api_core.exceptions import Forbidden

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", front.url)
    anonymous = storage.Client(project="demo-aibc", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    with pytest.raises(Forbidden):
        list(anonymous.list_blobs(BUCKET))
    with pytest.raises(Forbidden):
        anonymous.bucket(BUCKET).blob(_name()).upload_from_string(b"x")


# ------------------------------------------------------------------------------ generations


def _signed_get(front: Front, client: storage.Client, name: str, generation: int | None) -> str:
    url: str = (
        client.bucket(BUCKET)
        .blob(name)
        .generate_signed_url(
            version="v4",
            method="GET",
            generation=generation,
            credentials=front.credentials,
            api_access_endpoint=front.url,
            expiration=timedelta(minutes=5),
        )
    )
    return url


def _generations(front: Front, name: str) -> dict[int, int]:
    """generation -> size of every generation of ``name``, live and noncurrent."""
    listing = requests.get(
        f"{front.upstream}/storage/v1/b/{BUCKET}/o",
        params={"prefix": name, "versions": "true"},
        timeout=10,
    ).json()
    return {int(o["generation"]): int(o["size"]) for o in listing["items"] if o["name"] == name}


def test_a_download_pinned_to_a_generation_serves_exactly_those_bytes(
    front: Front, client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    approved, late = PNG, PNG + b"late bytes"
    assert _put(signed_put(name), approved, "image/png", "0,1024").status_code == 200
    [first] = _generations(front, name)
    assert _put(signed_put(name), late, "image/png", "0,1024").status_code == 200
    assert sorted(_generations(front, name).items()) == [
        (first, len(approved)),
        (max(_generations(front, name)), len(late)),
    ]

    pinned = requests.get(_signed_get(front, client, name, first), timeout=10)
    assert (pinned.status_code, pinned.content) == (200, approved)
    current = requests.get(_signed_get(front, client, name, None), timeout=10)
    assert (current.status_code, current.content) == (200, late)

    moved = _signed_get(front, client, name, first).replace(
        f"generation={first}", f"generation={first + 1}"
    )
    assert requests.get(moved, timeout=10).status_code == 403  # the generation is signed
    missing = requests.get(_signed_get(front, client, name, first + 1), timeout=10)
    assert missing.status_code == 404


def test_refusing_a_late_upload_never_destroys_the_approved_generation(
    front: Front,
    client: storage.Client,
    signed_put: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the review flow relies on: ``read_head`` and ``delete`` of the storage adapter."""
    from shared.adapters import storage as adapter
    from shared.config import settings

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", front.upstream)
    monkeypatch.setenv("SIGNING_KEY_FILE", str(front.key_file))
    monkeypatch.setenv("STORAGE_PUBLIC_ENDPOINT", front.url)
    settings.cache_clear()
    adapter.storage_client.cache_clear()
    try:
        objects = adapter.GcsObjects()
        name = _name()
        assert _put(signed_put(name), PNG, "image/png", "0,1024").status_code == 200
        [approved] = _generations(front, name)
        assert _put(signed_put(name), b"MZ-late", "image/png", "0,1024").status_code == 200
        late = max(_generations(front, name))
        assert late > approved

        assert objects.read_head(BUCKET, name, approved, 8) == PNG[:8]
        assert objects.read_head(BUCKET, name, late, 8) == b"MZ-late"
        objects.delete(BUCKET, name, late)  # the refusal of the late PUT
        assert client.bucket(BUCKET).get_blob(name) is None  # no live object any more
        assert objects.read_head(BUCKET, name, approved, len(PNG)) == PNG
        url = objects.signed_get(
            BUCKET, name, ttl=timedelta(minutes=5), download_name="a.png", generation=approved
        )
        download = requests.get(url, timeout=10)
        assert (download.status_code, download.content) == (200, PNG)
        objects.delete(BUCKET, name, late)  # again: already gone, no error, nothing else touched
        assert objects.read_head(BUCKET, name, approved, len(PNG)) == PNG
    finally:
        adapter.storage_client.cache_clear()


def test_a_delete_bound_to_an_old_generation_leaves_a_newer_upload_alone(
    front: Front, client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    assert _put(signed_put(name), PNG, "image/png", "0,1024").status_code == 200
    [old] = _generations(front, name)
    assert _put(signed_put(name), PNG + b"new", "image/png", "0,1024").status_code == 200
    from google.api_core.exceptions import PreconditionFailed

    with pytest.raises(PreconditionFailed):
        client.bucket(BUCKET).blob(name).delete(if_generation_match=old)
    blob = client.bucket(BUCKET).get_blob(name)
    assert blob is not None
    assert blob.download_as_bytes() == PNG + b"new"


def test_concurrent_uploads_to_one_name_each_keep_their_generation(
    front: Front, client: storage.Client, signed_put: Callable[..., str]
) -> None:
    name = _name()
    bodies = [PNG + f"upload {i}".encode() for i in range(8)]
    urls = [signed_put(name) for _ in bodies]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(
            pool.map(
                lambda job: _put(job[0], job[1], "image/png", "0,1024").status_code,
                zip(urls, bodies, strict=True),
            )
        )
    assert codes == [200] * len(bodies)
    generations = _generations(front, name)
    assert len(generations) == len(bodies)
    served = {
        requests.get(_signed_get(front, client, name, g), timeout=10).content for g in generations
    }
    assert served == set(bodies)


# ------------------------------------------------------------------------------ the key file


def test_the_signing_key_is_created_once_private_and_usable(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "key.json"
    first = ensure_signing_key(path, "demo-aibc")
    assert ensure_signing_key(path, "demo-aibc") == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["client_email"] == signer_email("demo-aibc")
    assert first["client_email"] == "local-signer@demo-aibc.iam.gserviceaccount.com"
    credentials = _credentials(path)
    assert credentials.signer_email == first["client_email"]
    assert list(tmp_path.joinpath("nested").iterdir()) == [path]  # no temp file left behind


# ------------------------------------------------------------------------------ on the local cloud


@pytest.mark.cloud
def test_a_late_put_after_approval_never_replaces_what_the_instructor_approved(
    api: Any, mint: Callable[..., str], db: Any, cloud: dict[str, Any]
) -> None:
    """The whole flow on ``make up``: upload, approve, PUT again through the still valid URL; the
    function refuses the late generation and removes it, and the download still serves exactly
    the approved bytes (the backend kept that generation)."""
    from tests.emulator.test_submissions_e2e import IMG_EXERCISE, Learner
    from tests.emulator.test_submissions_e2e import PNG as SAMPLE

    me = Learner(unique("u"), api, mint, db)
    grant = me.upload(IMG_EXERCISE, "cat.png", "image/png", SAMPLE)
    sid = grant["submission_id"]
    approved = me.wait_status(sid, "uploaded", timeout=60)["gcs_generation"]
    reply = api("review").post(
        f"/admin/submissions/{sid}/review",
        token=mint(unique("teacher"), admin=True),
        json={"decision": "approve", "generation": approved, "grade": 90, "comments": "Good"},
    )
    assert reply.status_code == 200, reply.text

    late = SAMPLE[:-16] + b"\x00" * 16  # same size, other bytes
    put = requests.put(grant["upload_url"], data=late, headers=grant["headers"], timeout=30)
    assert put.status_code == 200  # the URL is still valid: storage takes it
    wait_for(
        lambda: len(me.submission(sid).get("counted_generations", [])) == 2,
        timeout=60,
        what="the late generation to be refused",
    )
    sub = me.submission(sid)
    assert (sub["status"], sub["gcs_generation"]) == ("approved", approved)
    link = me.uploads.get(f"/users/me/submissions/{sid}/download-url", token=me.token)
    assert link.status_code == 200, link.text
    download = requests.get(link.json()["download_url"], timeout=30)
    assert (download.status_code, download.content) == (200, SAMPLE)
