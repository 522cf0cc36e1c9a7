"""The one error hierarchy. Every error a client may see carries a stable ``code`` and an HTTP status.

Services raise these; ``shared.http`` turns them into ``{"error": {"code", "message"}}`` replies.
Nothing else ever reaches a client: unexpected exceptions become a bare 500 ``internal`` error.
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error the product raises on purpose."""

    code = "internal"
    status = 500

    def __init__(self, message: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.headers = headers or {}


class InvalidArgument(AppError):
    code = "invalid_argument"
    status = 400


class Unauthenticated(AppError):
    code = "unauthenticated"
    status = 401


class PermissionDenied(AppError):
    code = "permission_denied"
    status = 403


class NotFound(AppError):
    code = "not_found"
    status = 404


class Gone(AppError):
    """It existed but can no longer be used (an expired invite code)."""

    code = "gone"
    status = 410


class MethodNotAllowed(AppError):
    code = "method_not_allowed"
    status = 405


class Conflict(AppError):
    """The transition is not allowed from the current state."""

    code = "failed_precondition"
    status = 409


class PathwayRetired(Conflict):
    """The resource's pathway was retired (``catalog apply --prune``): its records stand, and it
    takes no new work."""

    code = "pathway_retired"


class TooLarge(AppError):
    code = "too_large"
    status = 413


class UnsupportedMediaType(AppError):
    code = "unsupported_media_type"
    status = 415


class RateLimited(AppError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})
        self.retry_after_seconds = retry_after_seconds


class UnusableEvent(AppError):
    """An event a trigger cannot use (foreign path, undecodable payload): acknowledged and dropped."""

    code = "unusable_event"
    status = 200


class Unavailable(AppError):
    """Contention (or a backend outage) outlasted the bounded retries: try again later.

    HTTP functions answer 503 with ``Retry-After``; a trigger lets it propagate, so the event is
    delivered again.
    """

    code = "unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})
        self.retry_after_seconds = retry_after_seconds
