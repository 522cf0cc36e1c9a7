"""A small router for HTTP entry points: routes, auth, CORS, pydantic bodies, one error mapping.

Handlers are thin: they get a :class:`Call`, parse with :meth:`Call.body`, call one service and return
a pydantic model (or a plain dict). Every :class:`~shared.errors.AppError` becomes the documented JSON
error; anything else becomes a bare 500 with no stack trace.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from shared import log
from shared.config import settings
from shared.domain.identity import Caller
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
AuthMode = Literal["required", "optional", "instructor", "none"]
Reply = BaseModel | dict[str, Any] | tuple[BaseModel | dict[str, Any], int]
Handler = Callable[["Call"], Reply]

PREFIXES = ("/api/v1",)
MAX_BODY_BYTES = 64 * 1024


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
        raw = self.request.get_data(cache=True)
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidArgument("request body too large")
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise InvalidArgument("request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidArgument("request body must be a JSON object")
        return parse(model, data)

    def query(self, model: type[M]) -> M:
        return parse(model, {k: v for k, v in self.request.args.items()})


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "body"
            parts.append(f"{where}: {err['msg']}")
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
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$"

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
            return _respond(payload, status, cors)
        except AppError as exc:
            return _error(exc, cors)
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
        allowed = False
        for route in self.routes:
            match = route.pattern.match(path)
            if not match:
                continue
            allowed = True
            if route.method != request.method:
                continue
            caller = _authenticate(request, route.auth)
            if caller is not None:
                keep_profile(caller)
            reply = route.handler(Call(request, match.groupdict(), caller))
            status = 200
            if isinstance(reply, tuple):
                reply, status = reply
            if isinstance(reply, BaseModel):
                return reply.model_dump(mode="json"), status
            return reply, status
        if allowed:
            raise MethodNotAllowed(f"{request.method} is not allowed here")
        raise NotFound("no such route")


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
    if mode == "instructor" and not caller.instructor:
        raise PermissionDenied("this route requires the instructor role")
    return caller


def keep_profile(caller: Caller) -> None:
    """Keep the caller's profile (``users/{uid}``) in line with the token's claims; cheap after the
    first call (see :mod:`shared.services.profiles`), and never the reason a request fails."""
    from shared.bootstrap import deps
    from shared.services.profiles import keeper

    try:
        keeper().keep(caller, deps().profiles)
    except Exception as exc:  # noqa: BLE001 - the profile is best effort; the request goes on
        log.warning("could not keep the profile", user_id=caller.uid, error=repr(exc))


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


def _error(exc: AppError, cors: dict[str, str]) -> flask.Response:
    if exc.status >= 500:
        log.error("request failed", code=exc.code)
    body = {"error": {"code": exc.code, "message": exc.message}}
    return _respond(body, exc.status, {**cors, **exc.headers})
