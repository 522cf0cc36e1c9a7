"""V4 signed-URL verification (localcloud.gcs_front.verify_v4) of URLs made by the real client.

URLs are signed by google-cloud-storage's own ``generate_signed_url(version="v4")`` with a key from
``localcloud.signing``; the verifier gets ``now`` as an argument, so nothing here reads a clock,
opens a socket or writes a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from localcloud.gcs_front import SignedUrlError, canonical_uri, is_v4_signed, verify_v4
from localcloud.signing import (
    VerifyKey,
    new_signing_key_info,
    signer_email,
    verify_key_from_info,
)

ENDPOINT = "http://127.0.0.1:9190"
BUCKET = "demo-aibc-submissions"
OBJECT = "pathways/image-generation/users/u1/resources/r1/s1/20260101T000000_cat.png"
RANGE = "0,1024"


@dataclass(frozen=True)
class Req:
    """One request as the front sees it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_length: int
    signed_at: datetime

    def verify(self, key: VerifyKey, now: datetime | None = None) -> None:
        when = now if now is not None else self.signed_at + timedelta(minutes=1)
        verify_v4(self.method, self.path, self.query, self.headers, self.body_length, key, when)

    def with_query(self, name: str, value: str) -> Req:
        parts = [p for p in self.query.split("&") if p.split("=", 1)[0] != name]
        return replace(self, query="&".join([*parts, f"{name}={value}"]))


@pytest.fixture(scope="module")
def key_info() -> dict[str, str]:
    return new_signing_key_info("demo-aibc")


@pytest.fixture(scope="module")
def key(key_info: dict[str, str]) -> VerifyKey:
    return verify_key_from_info(key_info)


@pytest.fixture(scope="module")
def sign(key_info: dict[str, str]) -> Callable[..., Req]:
    """``sign(...)`` makes a signed URL with the client library and the request that uses it."""
    credentials = _credentials(key_info)
    client = storage.Client(project="demo-aibc", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]

    def make(
        name: str = OBJECT,
        *,
        method: str = "PUT",
        content_type: str | None = "image/png",
        length_range: str | None = RANGE,
        body_length: int = 512,
        expiration: timedelta = timedelta(minutes=15),
        signer: Any = credentials,
        **extra: Any,
    ) -> Req:
        signed_headers = {"x-goog-content-length-range": length_range} if length_range else None
        url = (
            client.bucket(BUCKET)
            .blob(name)
            .generate_signed_url(
                version="v4",
                method=method,
                content_type=content_type,
                headers=signed_headers,
                credentials=signer,
                api_access_endpoint=ENDPOINT,
                expiration=expiration,
                **extra,
            )
        )
        split = urlsplit(url)
        headers = {"Host": split.netloc, **(signed_headers or {})}
        if content_type:
            headers["Content-Type"] = content_type
        stamp = dict(p.split("=", 1) for p in split.query.split("&"))["X-Goog-Date"]
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return Req(method, split.path, split.query, headers, body_length, signed_at)

    return make


def _credentials(info: dict[str, str]) -> Any:
    return service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]


def refusal(req: Req, key: VerifyKey, now: datetime | None = None) -> SignedUrlError:
    with pytest.raises(SignedUrlError) as caught:
        req.verify(key, now)
    return caught.value


# ------------------------------------------------------------------------------ accepted


def test_a_url_made_by_the_client_library_verifies(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    req = sign()
    assert is_v4_signed(req.query)
    req.verify(key)  # raises if refused


@pytest.mark.parametrize(
    "name",
    [
        "plain.txt",
        "with space/and+plus@at=eq;semi,comma.png",
        "unicode/résumé – 日本.pdf",
        "tilde~and%percent'quote(paren)*star!.md",
    ],
)
def test_names_that_need_percent_encoding_verify(
    sign: Callable[..., Req], key: VerifyKey, name: str
) -> None:
    sign(name).verify(key)


def test_a_signed_get_without_content_type_or_range_verifies(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    sign(method="GET", content_type=None, length_range=None, body_length=0).verify(key)


def test_a_signed_download_with_a_response_disposition_verifies(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    """As shared/adapters/storage.py signs downloads: quotes and spaces in a query value."""
    req = sign(
        method="GET",
        content_type=None,
        length_range=None,
        body_length=0,
        response_disposition='attachment; filename="my cat (1).png"',
    )
    req.verify(key)
    err = refusal(req.with_query("response-content-disposition", "inline"), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_header_names_are_case_insensitive_and_values_whitespace_folded(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    req = sign()
    headers = {
        "HOST": req.headers["Host"],
        "content-TYPE": "  image/png ",
        "X-Goog-Content-Length-Range": RANGE,
    }
    replace(req, headers=headers).verify(key)


def test_the_body_may_be_exactly_the_range_bounds(sign: Callable[..., Req], key: VerifyKey) -> None:
    sign(length_range="10,1024", body_length=1024).verify(key)
    sign(length_range="10,1024", body_length=10).verify(key)


def test_valid_until_the_last_second(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign(expiration=timedelta(minutes=15))
    req.verify(key, now=req.signed_at + timedelta(seconds=899))


# ------------------------------------------------------------------------------ signature


def _flip_last(hexstring: str) -> str:
    return hexstring[:-1] + ("0" if hexstring[-1] != "0" else "1")


def test_a_changed_signature_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign()
    signature = dict(p.split("=", 1) for p in req.query.split("&"))["X-Goog-Signature"]
    err = refusal(req.with_query("X-Goog-Signature", _flip_last(signature)), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")
    assert (err.detail("StringToSign") or "").startswith("GOOG4-RSA-SHA256\n")
    assert (err.detail("CanonicalRequest") or "").startswith("PUT\n/demo-aibc-submissions/")


def test_a_signature_that_is_not_hex_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    err = refusal(sign().with_query("X-Goog-Signature", "not-hex"), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_changed_path_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign()
    err = refusal(replace(req, path=req.path.replace("cat.png", "dog.png")), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_another_bucket_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign()
    err = refusal(replace(req, path=req.path.replace(BUCKET, "other-bucket")), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_changed_content_type_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign(content_type="image/png")
    err = refusal(replace(req, headers={**req.headers, "Content-Type": "text/html"}), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_changed_method_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign(method="PUT")
    for method in ("POST", "GET", "DELETE"):
        err = refusal(replace(req, method=method), key)
        assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_changed_length_range_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign(length_range="0,1024")
    headers = {**req.headers, "x-goog-content-length-range": "0,99999999"}
    err = refusal(replace(req, headers=headers, body_length=5000), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_another_host_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign()
    err = refusal(replace(req, headers={**req.headers, "Host": "localhost:9190"}), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_tampered_or_added_query_parameter_is_refused(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    req = sign(expiration=timedelta(minutes=15))
    for tampered in (req.with_query("X-Goog-Expires", "3600"), req.with_query("generation", "1")):
        err = refusal(tampered, key)
        assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_url_signed_with_another_key_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    """Same signer email, different private key: the public key does not verify it."""
    other = _credentials(new_signing_key_info("demo-aibc"))
    err = refusal(sign(signer=other), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


def test_a_url_signed_by_another_account_is_refused(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    other_info = new_signing_key_info("someone-else")
    assert other_info["client_email"] == signer_email("someone-else") != key.client_email
    other = _credentials(other_info)
    err = refusal(sign(signer=other), key)
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")


# ------------------------------------------------------------------------------ expiry


def test_an_expired_url_is_refused(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign(expiration=timedelta(minutes=15))
    err = refusal(req, key, now=req.signed_at + timedelta(minutes=15))
    assert (err.status, err.code, err.message) == (400, "ExpiredToken", "Invalid argument.")
    expected = (req.signed_at + timedelta(minutes=15)).isoformat()
    assert err.detail("Details") == (
        f"The provided token has expired. Request signature expired at: {expected}"
    )
    assert refusal(req, key, now=req.signed_at + timedelta(days=3)).code == "ExpiredToken"


def test_expiry_is_checked_before_the_signature(sign: Callable[..., Req], key: VerifyKey) -> None:
    """As Cloud Storage: shortening X-Goog-Expires of a URL gives ExpiredToken, not a mismatch."""
    req = sign(expiration=timedelta(minutes=15)).with_query("X-Goog-Expires", "1")
    err = refusal(req, key, now=req.signed_at + timedelta(seconds=2))
    assert (err.status, err.code) == (400, "ExpiredToken")


def test_expiry_over_seven_days_is_malformed(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign().with_query("X-Goog-Expires", "604801")
    err = refusal(req, key)
    assert (err.status, err.code, err.detail("ParameterName")) == (
        400,
        "MalformedSecurityHeader",
        "X-Goog-Expires",
    )


@pytest.mark.parametrize("stamp", ["2026-01-01T00:00:00Z", "20261301T000000Z", "not-a-date"])
def test_a_malformed_date_is_refused(sign: Callable[..., Req], key: VerifyKey, stamp: str) -> None:
    err = refusal(sign().with_query("X-Goog-Date", stamp), key)
    assert (err.status, err.code, err.detail("ParameterName")) == (
        400,
        "MalformedSecurityHeader",
        "Date",
    )


# ------------------------------------------------------------------------------ length range


def test_a_body_over_the_signed_maximum_is_too_large(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    err = refusal(sign(length_range="0,1024", body_length=1025), key)
    assert (err.status, err.code) == (400, "EntityTooLarge")
    assert err.detail("Details") == "Content-length exceeds upper bound on range"


def test_a_body_under_the_signed_minimum_is_too_small(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    err = refusal(sign(length_range="10,1024", body_length=9), key)
    assert (err.status, err.code) == (400, "EntityTooSmall")


def test_without_a_signed_range_any_length_passes(sign: Callable[..., Req], key: VerifyKey) -> None:
    sign(length_range=None, body_length=30 * 1024 * 1024).verify(key)


# ------------------------------------------------------------------------------ headers


def test_a_signed_header_missing_from_the_request_is_malformed(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    req = sign(content_type="image/png")
    headers = {k: v for k, v in req.headers.items() if k != "Content-Type"}
    err = refusal(replace(req, headers=headers), key)
    assert (err.status, err.code, err.detail("ParameterName")) == (
        400,
        "MalformedSecurityHeader",
        "content-type",
    )


def test_an_unsigned_goog_header_is_malformed(sign: Callable[..., Req], key: VerifyKey) -> None:
    """A length range the URL did not sign cannot be slipped in (Cloud Storage refuses it too)."""
    req = sign(length_range=None)
    headers = {**req.headers, "x-goog-content-length-range": "0,10"}
    err = refusal(replace(req, headers=headers), key)
    assert (err.status, err.code, err.detail("ParameterName")) == (
        400,
        "MalformedSecurityHeader",
        "x-goog-content-length-range",
    )


def test_host_must_be_signed(sign: Callable[..., Req], key: VerifyKey) -> None:
    req = sign(content_type="image/png", length_range=None)
    err = refusal(req.with_query("X-Goog-SignedHeaders", "content-type"), key)
    assert (err.status, err.code, err.detail("ParameterName")) == (
        400,
        "MalformedSecurityHeader",
        "host",
    )


@pytest.mark.parametrize(
    "param", ["X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders"]
)
def test_a_missing_signing_parameter_is_malformed(
    sign: Callable[..., Req], key: VerifyKey, param: str
) -> None:
    req = sign()
    query = "&".join(p for p in req.query.split("&") if not p.startswith(param + "="))
    err = refusal(replace(req, query=query), key)
    assert (err.status, err.code) == (400, "MalformedSecurityHeader")


def test_another_algorithm_is_malformed(sign: Callable[..., Req], key: VerifyKey) -> None:
    err = refusal(sign().with_query("X-Goog-Algorithm", "GOOG4-HMAC-SHA256"), key)
    assert (err.status, err.code) == (400, "MalformedSecurityHeader")


# ------------------------------------------------------------------------------ shapes


def test_the_refusal_is_cloud_storage_xml(sign: Callable[..., Req], key: VerifyKey) -> None:
    err = refusal(sign(body_length=5000), key)
    body = err.xml()
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>EntityTooLarge")
    root = ElementTree.fromstring(body)  # noqa: S314 - our own reply
    assert root.tag == "Error"
    assert root.findtext("Code") == "EntityTooLarge"
    assert root.findtext("Message", "").startswith("Your proposed upload is larger")


def test_the_mismatch_xml_escapes_the_canonical_request(
    sign: Callable[..., Req], key: VerifyKey
) -> None:
    req = sign()
    err = refusal(replace(req, method="POST"), key)
    root = ElementTree.fromstring(err.xml())  # noqa: S314 - our own reply
    assert root.findtext("Code") == "SignatureDoesNotMatch"
    assert "&X-Goog-Credential=" in root.findtext("CanonicalRequest", "")


def test_unsigned_queries_are_not_v4() -> None:
    assert not is_v4_signed("")
    assert not is_v4_signed("alt=media&generation=12")
    assert is_v4_signed("x-goog-signature=00")


def test_the_canonical_uri_encodes_as_google_does() -> None:
    assert canonical_uri("/b/a b+c@d~e") == "/b/a%20b%2Bc%40d~e"
    assert canonical_uri("/b/a%20b%2Bc%40d%7Ee") == "/b/a%20b%2Bc%40d~e"
    assert canonical_uri("/b/r%C3%A9sum%C3%A9") == "/b/r%C3%A9sum%C3%A9"
