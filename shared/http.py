"""A small router for HTTP entry points: routes, auth, CORS, pydantic bodies, one error mapping.

Handlers are thin: they get a :class:`Call`, parse with :meth:`Call.body`, call one service and return
a pydantic model (or a plain dict). Every :class:`~shared.errors.AppError` becomes the documented JSON
error; anything else becomes a bare 500 with no stack trace.

The edge, hardened (issue 10 item 5):
- every authenticated route applies the one id rule (:func:`shared.domain.models.valid_id`) to the
  token's uid, so ``.``, ``..``, ``__x__`` or ``/`` in a uid is a 401, never a path outside
  ``users/{uid}``; every path parameter is an id too (404 otherwise, without echoing it);
- JSON bodies nested deeper than :data:`MAX_JSON_DEPTH` are a 400;
- a 405 carries ``Allow``; literal parts of route patterns are escaped;
- error messages echo at most :data:`MAX_ECHO` characters of anything the client sent;
- errors raised before the router runs (the framework's own 404 for ``/robots.txt``, werkzeug's
  400s) and by gunicorn before Flask sees the request (oversized or malformed headers, a bad request
  line) are the same JSON error with CORS headers, not an HTML page: :func:`install_error_pages`.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from shared import log
from shared.config import settings
from shared.domain.identity import Caller
from shared.domain.models import valid_id
from shared.errors import (
    AppError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

if TYPE_CHECKING:  # pragma: no cover
    import flask

M = TypeVar("M", bound=BaseModel)
AuthMode = Literal["required", "optional", "instructor", "admin", "none"]


@dataclass
class Stream:
    """A reply sent as it is produced (a generator of text chunks): an export. Errors a handler
    raises before returning it are the usual JSON errors; once the first chunk has gone, an error
    cuts the response off (no final chunk), so a client never takes a partial file for a whole
    one."""

    chunks: Iterator[str]
    mimetype: str
    filename: str | None = None


PREFIXES = ("/api/v1",)
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
MAX_ECHO = 100
MAX_MESSAGE = 1000


def clip(value: object, limit: int = MAX_ECHO) -> str:
    """``value`` as text, cut to ``limit`` characters (client input in an error message)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def json_depth(data: Any) -> int:
    """How deeply lists and objects nest in ``data`` (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[Any] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


@dataclass(frozen=True)
class Raw:
    """A reply with its own content type and headers (a PDF, a cacheable JSON reply); CORS
    headers are added as to every reply."""

    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200

    @classmethod
    def json(cls, model: BaseModel, headers: dict[str, str]) -> Raw:
        return cls(model.model_dump_json().encode(), "application/json", headers)


Reply = BaseModel | dict[str, Any] | tuple[BaseModel | dict[str, Any], int] | Stream | Raw
Handler = Callable[["Call"], Reply]


@dataclass
class Call:
    request: flask.Request
    params: dict[str, str]
    caller: Caller | None

    @property
    def me(self) -> Caller:
        if self.caller is None:  # pragma: no cover - routes needing it are "required"
            raise Unauthenticated("a Firebase ID token is required")
        return self.caller

    def body(self, model: type[M]) -> M:
        # Refused before it is read: a declared or streamed (chunked) body over the limit makes
        # werkzeug raise RequestEntityTooLarge, which the router answers as a JSON 413.
        self.request.max_content_length = MAX_BODY_BYTES
        raw = self.request.get_data(cache=True)
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            raise InvalidArgument("request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidArgument("request body must be a JSON object")
        if json_depth(data) > MAX_JSON_DEPTH:
            raise InvalidArgument(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
        return parse(model, data)

    def query(self, model: type[M]) -> M:
        return parse(model, {k: v for k, v in self.request.args.items()})


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False, include_input=False)[:5]:
            where = clip(".".join(str(p) for p in err["loc"]) or "body", 60)
            parts.append(f"{where}: {clip(err['msg'])}")
        raise InvalidArgument("; ".join(parts)) from None


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: AuthMode


@dataclass
class Router:
    name: str
    routes: list[_Route] = field(default_factory=list)

    def add(
        self, method: str, path: str, auth: AuthMode = "required"
    ) -> Callable[[Handler], Handler]:
        regex = route_regex(path)

        def register(handler: Handler) -> Handler:
            self.routes.append(_Route(method, re.compile(regex), handler, auth))
            return handler

        return register

    def get(self, path: str, auth: AuthMode = "required") -> Callable[[Handler], Handler]:
        return self.add("GET", path, auth)

    def post(self, path: str, auth: AuthMode = "required") -> Callable[[Handler], Handler]:
        return self.add("POST", path, auth)

    def put(self, path: str, auth: AuthMode = "required") -> Callable[[Handler], Handler]:
        return self.add("PUT", path, auth)

    def delete(self, path: str, auth: AuthMode = "required") -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, auth)

    def __call__(self, request: flask.Request) -> flask.Response:
        cors = _cors_headers(request)
        if request.method == "OPTIONS":
            return _respond(None, 204, cors)
        try:
            payload, status = self._dispatch(request)
            if isinstance(payload, Stream):
                return _stream(payload, cors)
            if isinstance(payload, Raw):
                return _respond_raw(payload, cors)
            return _respond(payload, status, cors)
        except AppError as exc:
            return _error(exc, cors)
        except HTTPException as exc:  # werkzeug's, e.g. a body that stopped arriving: a 4xx
            return framework_error(exc)
        except Exception as exc:  # noqa: BLE001 - the one place an unexpected error is turned into a 500
            log.error(
                "unhandled error",
                function=self.name,
                path=request.path,
                error=repr(exc),
                trace=traceback.format_exc(),
            )
            return _error(AppError("internal error"), cors)

    def _dispatch(self, request: flask.Request) -> tuple[Any, int]:
        path = request.path
        for prefix in PREFIXES:
            if path.startswith(prefix + "/"):
                path = path[len(prefix) :]
        allowed: set[str] = set()
        for route in self.routes:
            match = route.pattern.match(path)
            if not match:
                continue
            allowed.add(route.method)
            if route.method != request.method:
                continue
            caller = _authenticate(request, route.auth)
            params = match.groupdict()
            for name, value in params.items():
                if not valid_id(value):
                    raise NotFound(f"no such {name.removesuffix('_id')}")
            if caller is not None:
                keep_profile(caller)
            reply = route.handler(Call(request, params, caller))
            if isinstance(reply, Raw):
                return reply, reply.status
            status = 200
            if isinstance(reply, tuple):
                reply, status = reply
            if isinstance(reply, BaseModel):
                return reply.model_dump(mode="json"), status
            return reply, status
        if allowed:
            methods = ", ".join(sorted(allowed | {"OPTIONS"}))
            raise MethodNotAllowed(
                f"{clip(request.method, 20)} is not allowed here", headers={"Allow": methods}
            )
        raise NotFound("no such route")


def route_regex(path: str) -> str:
    """The anchored regex for a route: ``{name}`` is one path segment, everything else is literal."""
    out = []
    for i, piece in enumerate(re.split(r"\{(\w+)\}", path)):
        out.append(f"(?P<{piece}>[^/]+)" if i % 2 else re.escape(piece))
    return "^" + "".join(out) + "/?$"


def bearer_token(request: flask.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _authenticate(request: flask.Request, mode: AuthMode) -> Caller | None:
    if mode == "none":
        return None
    token = bearer_token(request)
    if token is None:
        if mode == "optional" and "Authorization" not in request.headers:
            return None
        raise Unauthenticated("a valid Firebase ID token is required")
    from shared.adapters.auth import verify_id_token

    caller = verify_id_token(token)
    if not valid_id(caller.uid):
        # Firebase allows almost any uid; this API keys documents by it, so it must be an id.
        raise Unauthenticated("the token's uid is not one this API accepts")
    if mode == "instructor" and not (caller.instructor or caller.admin):
        raise PermissionDenied("this route requires the instructor role")
    if mode == "admin" and not caller.admin:
        raise PermissionDenied("this route requires the admin role")
    return caller


def keep_profile(caller: Caller) -> None:
    """Keep the caller's profile (``users/{uid}``) in line with the token's claims; cheap after the
    first call (see :mod:`shared.services.profiles`), and never the reason a request fails."""
    from shared.bootstrap import deps
    from shared.services.profiles import keeper

    try:
        keeper().keep(caller, deps().profiles)
    except Exception as exc:  # noqa: BLE001 - the profile is best effort; the request goes on
        log.warning("could not keep the profile", uid=caller.uid, error=repr(exc))


def _cors_headers(request: flask.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    allowed = settings().cors_origins
    if not origin or (origin not in allowed and "*" not in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "3600",
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def _respond(payload: Any, status: int, headers: dict[str, str]) -> flask.Response:
    import flask

    body = "" if payload is None else json.dumps(payload)
    return flask.Response(body, status=status, headers=headers, mimetype="application/json")


def _stream(reply: Stream, headers: dict[str, str]) -> flask.Response:
    import flask

    extra = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if reply.filename:
        extra["Content-Disposition"] = f'attachment; filename="{reply.filename}"'
    return flask.Response(
        (chunk.encode() for chunk in reply.chunks),
        status=200,
        headers={**headers, **extra},
        mimetype=reply.mimetype,
    )


def _respond_raw(raw: Raw, cors: dict[str, str]) -> flask.Response:
    import flask

    headers = {**cors, **raw.headers}
    return flask.Response(
        raw.body, status=raw.status, headers=headers, content_type=raw.content_type
    )


def _error(exc: AppError, cors: dict[str, str]) -> flask.Response:
    if exc.status >= 500:
        log.error("request failed", code=exc.code)
    body = {"error": {"code": exc.code, "message": clip(exc.message, MAX_MESSAGE)}}
    return _respond(body, exc.status, {**cors, **exc.headers})


# ---- errors raised outside the router: werkzeug / functions-framework, and gunicorn ------------

_HTTP_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "deadline_exceeded",
    411: "invalid_argument",
    413: "too_large",
    414: "too_large",
    415: "unsupported_media_type",
    417: "invalid_argument",
    429: "rate_limited",
    431: "too_large",
    501: "unimplemented",
}


def error_code(status: int) -> str:
    return _HTTP_CODES.get(status, "invalid_argument" if status < 500 else "internal")


def framework_error(exc: Exception) -> flask.Response:
    """A werkzeug ``HTTPException`` raised outside the router, as the one JSON error with CORS."""
    import flask

    status = exc.code if isinstance(exc, HTTPException) and exc.code else 500
    name = exc.name if isinstance(exc, HTTPException) else "Internal Server Error"
    headers = dict(exc.get_headers()) if isinstance(exc, HTTPException) else {}
    headers.pop("Content-Type", None)
    error = AppError(name, headers=headers)
    error.code, error.status = error_code(status), status
    return _error(error, _cors_headers(flask.request))


def _fixed_cors() -> dict[str, str]:
    """CORS for an answer written before any request was parsed: only a single configured origin."""
    allowed = settings().cors_origins
    if len(allowed) != 1:
        return {}
    return {"Access-Control-Allow-Origin": allowed[0], "Vary": "Origin"}


def write_gunicorn_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Replaces ``gunicorn.util.write_error``: the same status, as a JSON error instead of HTML."""
    from gunicorn import util

    body = json.dumps(
        {
            "error": {
                "code": error_code(status_int),
                "message": clip(f"{reason}: {mesg}" if mesg else reason),
            }
        }
    ).encode()
    head = [f"HTTP/1.1 {status_int} {reason}", "Connection: close"]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in _fixed_cors().items()]
    util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin1") + body)


def install_error_pages() -> None:
    """Make every error the framework or the server writes a JSON error (call from ``main.py``).

    functions-framework's ``errorhandler`` is the app being created while ``main.py`` runs (a no-op
    before any app exists; skipped for an earlier app that has served requests already); gunicorn writes its own 4xx for requests it cannot parse (a header field over 8190
    bytes, over 100 fields, a malformed request line), before any application code runs, so its
    writer is replaced in the process that forks the workers. Both are idempotent.
    """
    import functions_framework

    register = functions_framework.errorhandler
    app = getattr(register, "__self__", None)
    # Outside ``create_app`` this is the last app the framework created (in a test process, one
    # that may have served requests already: Flask then refuses new handlers). Only the app being
    # created gets them.
    if not getattr(app, "_got_first_request", False):
        register(HTTPException)(framework_error)
    try:
        from gunicorn import util
    except ImportError:  # pragma: no cover - the framework then serves with werkzeug (debug)
        return
    util.write_error = write_gunicorn_error
