"""A thin front before the Storage emulator that checks V4 signed URLs as Cloud Storage does.

The storage backend (``localcloud.storage_backend``) stores whatever reaches it. This front is the
bucket as the public sees it, a private bucket: only a request carrying V4 query signing
(``X-Goog-Algorithm``, ``X-Goog-Credential``, ``X-Goog-Date``, ``X-Goog-Expires``,
``X-Goog-SignedHeaders``, ``X-Goog-Signature``) that verifies against the local signing key
(``localcloud.signing``) is forwarded to the backend unchanged (method, path, query, headers, body;
status, headers, body back). Everything else is refused with Cloud Storage's XML error:

- 403 ``AccessDenied``: no signature at all (a list, read or write of any object, as an anonymous
  caller of a private bucket gets); functions and the event bridge use the backend directly, as
  they use Cloud Storage with their own identity;
- 400 ``MalformedSecurityHeader``: bad algorithm, credential, date or expiry field; ``host`` not
  signed; a signed header missing from the request; an ``x-goog-*`` header sent but not signed;
- 400 ``ExpiredToken``: ``X-Goog-Date + X-Goog-Expires`` has passed (checked before the signature,
  as Cloud Storage does);
- 403 ``SignatureDoesNotMatch``: the RSA-SHA256 signature does not verify over the canonical
  request rebuilt from this request (so a changed method, path, query, content type or any other
  signed header fails), or the credential names another signer;
- 400 ``EntityTooLarge`` / ``EntityTooSmall``: the body is outside a signed
  ``x-goog-content-length-range: min,max``.

    python -m localcloud.gcs_front --port 9190 --upstream http://127.0.0.1:9023 \\
        --key-file .local/signing-key.json [--cors-origins http://localhost:5173]

``GET /_health`` answers 200 when the front is up and the emulator answers, 503 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import re
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit
from xml.sax.saxutils import escape

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from localcloud.signing import DEFAULT_PROJECT, VerifyKey, ensure_signing_key, verify_key_from_info

ALGORITHM = "GOOG4-RSA-SHA256"
MAX_EXPIRES = 604_800  # seven days, Cloud Storage's limit for V4
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
LENGTH_RANGE = "x-goog-content-length-range"
SIGNING_PARAMS = (
    "x-goog-algorithm",
    "x-goog-credential",
    "x-goog-date",
    "x-goog-expires",
    "x-goog-signedheaders",
    "x-goog-signature",
)
DEFAULT_MAX_BODY = 64 * 1024 * 1024
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_DIGITS = re.compile(r"^\d{1,12}$")
_RANGE = re.compile(r"^\s*(\d{1,19})\s*,\s*(\d{1,19})\s*$")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class SignedUrlError(Exception):
    """A refusal, shaped as Cloud Storage's XML error (``status``, ``code``, ``message``...).

    ``elements`` are the extra XML elements after ``Message`` (``Details``, ``ParameterName``,
    ``StringToSign``, ``CanonicalRequest``), in order; ``reason`` is for the log only.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        elements: Iterable[tuple[str, str]] = (),
        reason: str = "",
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.elements = tuple(elements)
        self.reason = reason or message

    def detail(self, name: str) -> str | None:
        return next((text for key, text in self.elements if key == name), None)

    def xml(self) -> bytes:
        parts = [f"<Code>{escape(self.code)}</Code>", f"<Message>{escape(self.message)}</Message>"]
        parts += [f"<{name}>{escape(text)}</{name}>" for name, text in self.elements]
        body = "<?xml version='1.0' encoding='UTF-8'?><Error>" + "".join(parts) + "</Error>"
        return body.encode("utf-8")


def _malformed(parameter: str, details: str) -> SignedUrlError:
    return SignedUrlError(
        400,
        "MalformedSecurityHeader",
        "Your request has a malformed header.",
        elements=[("ParameterName", parameter), ("Details", details)],
        reason=f"{parameter}: {details}",
    )


def _mismatch(string_to_sign: str, canonical_request: str, reason: str) -> SignedUrlError:
    return SignedUrlError(
        403,
        "SignatureDoesNotMatch",
        "Access denied.",
        elements=[
            (
                "Details",
                "The request signature we calculated does not match the signature you "
                "provided. Check your Google secret key and signing method.",
            ),
            ("StringToSign", string_to_sign),
            ("CanonicalRequest", canonical_request),
        ],
        reason=reason,
    )


def anonymous_refusal(method: str, path: str) -> SignedUrlError:
    """What Cloud Storage answers a request with no credentials on a private bucket: 403."""
    segments = [part for part in path.split("/") if part]
    if method in ("PUT", "POST"):
        permission, what = "storage.objects.create", "object"
    elif method == "DELETE":
        permission, what = "storage.objects.delete", "object"
    elif method == "PATCH":
        permission, what = "storage.objects.update", "object"
    elif len(segments) <= 1 or segments[-1] == "o":
        permission, what = "storage.objects.list", "bucket"
    else:
        permission, what = "storage.objects.get", "object"
    return SignedUrlError(
        403,
        "AccessDenied",
        "Access denied.",
        elements=[
            (
                "Details",
                f"Anonymous caller does not have {permission} access to the Google Cloud "
                f"Storage {what}. Permission '{permission}' denied on resource (or it may not "
                "exist).",
            )
        ],
        reason=f"unsigned {method}",
    )


def is_v4_signed(query: str) -> bool:
    """Does this query string carry V4 query signing (any of its X-Goog-* parameters)?"""
    return any(name.lower() in SIGNING_PARAMS for name, _ in parse_query(query))


def parse_query(query: str) -> list[tuple[str, str]]:
    """Split a raw query string into decoded pairs (``+`` stays ``+``: RFC 3986, not forms)."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def canonical_uri(path: str) -> str:
    """The path percent-encoded as Google encodes it: everything but unreserved and ``/``."""
    return quote(unquote_to_bytes(path), safe="/~")


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Every parameter but ``X-Goog-Signature``, percent-encoded, sorted."""
    encoded = [
        f"{quote(name, safe='~')}={quote(value, safe='~')}"
        for name, value in pairs
        if name.lower() != "x-goog-signature"
    ]
    return "&".join(sorted(encoded))


def normalize_headers(headers: Headers) -> dict[str, str]:
    """Lower-case names, folded whitespace, repeated headers joined with commas."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    joined: dict[str, list[str]] = {}
    for name, value in items:
        joined.setdefault(str(name).lower().strip(), []).append(" ".join(str(value).split()))
    return {name: ",".join(values) for name, values in joined.items()}


def _signing_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in SIGNING_PARAMS:
            if key in found:
                raise _malformed(name, "The parameter appears more than once.")
            found[key] = value
    for key in SIGNING_PARAMS:
        if key not in found:
            raise _malformed(key, "Missing required parameter for a signed request.")
    return found


def verify_v4(
    method: str,
    path: str,
    query: str,
    headers: Headers,
    body_length: int,
    key: VerifyKey,
    now: datetime,
) -> None:
    """Check a V4 query-signed request as Cloud Storage does; raise ``SignedUrlError`` if not.

    ``path`` and ``query`` are as received (still percent-encoded), ``headers`` the request's
    headers, ``body_length`` the size of the body actually received, ``now`` an aware datetime.
    Pure: no clock, no I/O.
    """
    pairs = parse_query(query)
    params = _signing_params(pairs)

    if params["x-goog-algorithm"] != ALGORITHM:
        raise _malformed("X-Goog-Algorithm", f"Unsupported algorithm; only {ALGORITHM}.")

    credential = params["x-goog-credential"].split("/")
    if len(credential) != 5 or credential[3:] != ["storage", "goog4_request"]:
        raise _malformed(
            "X-Goog-Credential",
            "The credential must be <email>/<date>/<location>/storage/goog4_request.",
        )
    email, scope_date = credential[0], credential[1]
    scope = "/".join(credential[1:])

    stamp = params["x-goog-date"]
    if not _DATE.match(stamp):
        raise _malformed("Date", "X-Goog-Date must be YYYYMMDD'T'HHMMSS'Z'.")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _malformed("Date", "X-Goog-Date is not a valid date.") from None
    if scope_date != stamp[:8]:
        raise _malformed("X-Goog-Credential", "The credential date does not match X-Goog-Date.")

    expires = params["x-goog-expires"]
    if not _DIGITS.match(expires) or not 1 <= int(expires) <= MAX_EXPIRES:
        raise _malformed("X-Goog-Expires", f"Expiry must be between 1 and {MAX_EXPIRES} seconds.")
    expires_at = signed_at + timedelta(seconds=int(expires))
    if now >= expires_at:
        raise SignedUrlError(
            400,
            "ExpiredToken",
            "Invalid argument.",
            elements=[
                (
                    "Details",
                    "The provided token has expired. Request signature expired at: "
                    + expires_at.isoformat(),
                )
            ],
            reason=f"expired at {expires_at.isoformat()}, now {now.isoformat()}",
        )

    signed_names = params["x-goog-signedheaders"].split(";")
    if "host" not in signed_names:
        raise _malformed("host", "Host header not signed.")
    sent = normalize_headers(headers)
    for name in signed_names:
        if name not in sent:
            raise _malformed(name, "Header was included in signedheaders, but not in the request.")
    for name in sent:
        if name.startswith("x-goog-") and name not in signed_names:
            raise _malformed(name, "Header must be signed.")

    canonical_headers = "".join(f"{name}:{sent[name]}\n" for name in signed_names)
    payload = sent["x-goog-content-sha256"] if "x-goog-content-sha256" in signed_names else None
    canonical_request = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(pairs),
            canonical_headers,
            params["x-goog-signedheaders"],
            payload or UNSIGNED_PAYLOAD,
        ]
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = "\n".join([ALGORITHM, stamp, scope, digest])

    if email != key.client_email:
        raise _mismatch(string_to_sign, canonical_request, f"unknown signer {email}")
    try:
        signature = bytes.fromhex(params["x-goog-signature"])
        key.public_key.verify(
            signature, string_to_sign.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
        )
    except (ValueError, InvalidSignature):
        raise _mismatch(string_to_sign, canonical_request, "bad signature") from None

    if LENGTH_RANGE in signed_names:
        bounds = _RANGE.match(sent[LENGTH_RANGE])
        if not bounds:
            raise _malformed(LENGTH_RANGE, "The value must be <min>,<max>.")
        low, high = int(bounds.group(1)), int(bounds.group(2))
        if body_length > high:
            raise SignedUrlError(
                400,
                "EntityTooLarge",
                "Your proposed upload is larger than the maximum object size specified in "
                "your Policy Document.",
                elements=[("Details", "Content-length exceeds upper bound on range")],
                reason=f"body {body_length} bytes > {high}",
            )
        if body_length < low:
            raise SignedUrlError(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum object size specified in "
                "your Policy Document.",
                elements=[("Details", "Content-length smaller than lower bound on range")],
                reason=f"body {body_length} bytes < {low}",
            )


# --------------------------------------------------------------------------- the HTTP front


class BodyTooLarge(Exception):
    pass


class FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        upstream: str,
        key: VerifyKey,
        max_body: int = DEFAULT_MAX_BODY,
        cors_origins: Iterable[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        target = urlsplit(upstream)
        if target.scheme != "http" or not target.hostname:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host = target.hostname
        self.upstream_port = target.port or 80
        self.key = key
        self.max_body = max_body
        self.cors_origins = frozenset(origin.rstrip("/") for origin in cors_origins if origin)
        self.clock = clock
        super().__init__(address, FrontHandler)


def _log(message: str, **fields: object) -> None:
    entry = {"severity": "WARNING", "message": message, "component": "gcs_front", **fields}
    sys.stderr.write(json.dumps(entry, default=str) + "\n")
    sys.stderr.flush()


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FrontServer

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: only refusals are logged (by ``_refuse``)."""

    # ------------------------------------------------------------------ request handling

    def _target(self) -> tuple[str, str]:
        """Path and query as received (origin form; an absolute-form target is reduced to it)."""
        target = self.path
        if not target.startswith("/"):
            split = urlsplit(target)
            target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        path, _, query = target.partition("?")
        return path, query

    def _serve(self) -> None:
        path, query = self._target()
        if path == "/_health" and self.command in ("GET", "HEAD"):
            self._health()
            return
        if self.command == "OPTIONS" and self._preflight():
            return
        try:
            body = self._read_body()
        except BodyTooLarge as err:
            self.close_connection = True
            self._refuse(
                SignedUrlError(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload is larger than the maximum object size the local "
                    "front accepts.",
                    reason=str(err),
                )
            )
            return
        except ValueError as err:
            self.close_connection = True
            self._refuse(
                SignedUrlError(400, "InvalidArgument", "Invalid argument.", reason=str(err))
            )
            return
        if not is_v4_signed(query):
            self._refuse(anonymous_refusal(self.command, path))
            return
        try:
            verify_v4(
                self.command,
                path,
                query,
                [(name, str(value)) for name, value in self.headers.items()],
                len(body),
                self.server.key,
                self.server.clock(),
            )
        except SignedUrlError as err:
            self._refuse(err)
            return
        self._forward(path + (f"?{query}" if query else ""), body)

    def _read_body(self) -> bytes:
        limit = self.server.max_body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                size = int(size_line, 16)  # ValueError on garbage
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers, then the blank line
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise BodyTooLarge(f"chunked body over {limit} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        length = int(declared)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > limit:
            raise BodyTooLarge(f"Content-Length {length} over {limit} bytes")
        return self.rfile.read(length)

    def _refuse(self, err: SignedUrlError) -> None:
        _log(
            "refused request",
            method=self.command,
            path=self._target()[0],
            status=err.status,
            code=err.code,
            reason=err.reason,
        )
        self._send(
            err.status,
            [("Content-Type", "application/xml; charset=UTF-8")],
            err.xml(),
        )

    def _forward(self, target: str, body: bytes) -> None:
        conn = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=120
        )
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            # The backend's own address: it builds an object's mediaLink from Host, and the
            # clients that follow mediaLink are the functions, which use the backend directly.
            conn.putheader("Host", f"{self.server.upstream_host}:{self.server.upstream_port}")
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() not in (
                    "content-length",
                    "host",
                ):
                    conn.putheader(name, str(value))
            if body or self.command in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = response.read()
            headers = response.getheaders()
            status, reason = response.status, response.reason
        except (OSError, http.client.HTTPException) as err:
            _log(
                "upstream failed",
                method=self.command,
                path=target.partition("?")[0],
                error=repr(err),
            )
            self._send(
                502,
                [("Content-Type", "application/xml; charset=UTF-8")],
                SignedUrlError(502, "BadGateway", "The storage emulator did not answer.").xml(),
            )
            return
        finally:
            conn.close()
        length = None
        if self.command == "HEAD":
            length = next((v for k, v in headers if k.lower() == "content-length"), "0")
        self._send(status, headers, data, reason=reason, length=length, forwarded=True)

    def _send(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        reason: str | None = None,
        length: str | None = None,
        forwarded: bool = False,
    ) -> None:
        """Send a reply; ``forwarded`` replies keep the emulator's own Date and Server headers."""
        self.send_response_only(status, reason)
        if not forwarded:
            self.send_header("Server", self.version_string())
            self.send_header("Date", self.date_time_string())
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", length if length is not None else str(len(body)))
        self._cors_headers()
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _health(self) -> None:
        conn = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=2
        )
        try:
            conn.request("GET", "/")
            ok = conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            ok = False
        finally:
            conn.close()
        text = b"OK" if ok else b"storage emulator not answering"
        self._send(200 if ok else 503, [("Content-Type", "text/plain")], text)

    # ------------------------------------------------------------------ CORS (bucket config)

    def _allowed_origin(self) -> str | None:
        origin = self.headers.get("Origin")
        if not origin or not self.server.cors_origins:
            return None
        if "*" in self.server.cors_origins or origin.rstrip("/") in self.server.cors_origins:
            return str(origin)
        return None

    def _cors_headers(self) -> None:
        origin = self._allowed_origin()
        if origin and self.command != "OPTIONS":
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Expose-Headers", "ETag, Content-Type, Content-Length")
            self.send_header("Vary", "Origin")

    def _preflight(self) -> bool:
        """Answer a CORS preflight as a bucket with a CORS configuration would."""
        origin = self._allowed_origin()
        if not origin or not self.headers.get("Access-Control-Request-Method"):
            return False
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE")
        requested = self.headers.get("Access-Control-Request-Headers")
        if requested:
            self.send_header("Access-Control-Allow-Headers", str(requested))
        self.send_header("Access-Control-Max-Age", "3600")
        self.send_header("Vary", "Origin")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9190)
    parser.add_argument("--upstream", default="http://127.0.0.1:9023")
    parser.add_argument("--key-file", type=Path, default=Path(".local/signing-key.json"))
    parser.add_argument("--project", default=DEFAULT_PROJECT, help="for a key created here")
    parser.add_argument("--max-body-mb", type=int, default=DEFAULT_MAX_BODY // (1024 * 1024))
    parser.add_argument(
        "--cors-origins",
        default="",
        help="comma-separated origins allowed to call it from a browser ('*' for any)",
    )
    args = parser.parse_args(argv)

    key = verify_key_from_info(ensure_signing_key(args.key_file, args.project))
    server = FrontServer(
        (args.host, args.port),
        upstream=args.upstream,
        key=key,
        max_body=args.max_body_mb * 1024 * 1024,
        cors_origins=args.cors_origins.split(","),
    )
    signal.signal(signal.SIGTERM, _stop)
    sys.stderr.write(
        f"gcs_front: http://{args.host}:{server.server_port} -> {args.upstream}, "
        f"signer {key.client_email}\n"
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
