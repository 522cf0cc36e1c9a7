"""OpenAPI 3.1 for the HTTP functions (``functions.registry.HTTP``),
generated from the pydantic models the handlers parse and return.

    make openapi                       # = python -m tools.openapi: (re)write docs/openapi.json
    python -m tools.openapi --check    # exit 1 if docs/openapi.json is not what would be generated

The operations are listed once, below, with their models; the generator refuses to run if that list
and the functions' routers disagree (a route without documentation, or documentation of a route
that does not exist, or another auth mode), so the file cannot silently drift from the code.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from shared.domain.certificates import CertificateVerification, MyCertificates
from shared.domain.models import ID_PATTERN
from shared.domain.progress import (
    ListedModule,
    PathwayListing,
    ProgressReport,
    ProgressUpdate,
    ResourceProgressView,
)
from shared.errors import AppError
from shared.http import MAX_BODY_BYTES, MAX_JSON_DEPTH, route_regex
from shared.services import cohorts
from shared.services.dashboard import CohortList, DashboardQuery, DashboardReply
from shared.services.exports import GradesQuery, ProgressQuery, XapiQuery
from shared.services.progress import ExcuseRequest, ExcuseTrail, ExcuseTrailQuery
from shared.services.review import (
    BulkApproveRequest,
    BulkReply,
    DecidedPage,
    DecidedQuery,
    PendingPage,
    PendingQuery,
    ReviewRequest,
    ReviseRequest,
)
from shared.services.uploads import (
    DeleteReply,
    DownloadReply,
    SubmissionList,
    SubmissionView,
    UploadUrlReply,
    UploadUrlRequest,
)

OUT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


class ErrorBody(BaseModel):
    model_config = ConfigDict(title="ErrorBody")
    code: str
    message: str


class ErrorReply(BaseModel):
    """Every error reply: a stable ``code`` and a human ``message``; never a stack trace."""

    error: ErrorBody


@dataclass(frozen=True)
class Op:
    entry_point: str
    method: Literal["get", "post", "put", "delete"]
    path: str
    summary: str
    auth: Literal["required", "optional", "instructor", "admin", "none"]
    reply: type[BaseModel] | None  # None: a streamed file of ``media`` (an export)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    status: int = 200
    media: str = "application/json"  # another type: the reply is that file, not ``reply``


ID_PARAMS = {
    "pathway_id": "A pathway id from the catalog",
    "module_id": "A module id from the catalog",
    "resource_id": "A resource id from the catalog",
    "submission_id": "A submission id (from upload-url or a listing)",
    "uid": "A learner's uid (Firebase Auth)",
    "cohort_id": "A cohort id",
    "certificate_id": "A certificate id (unguessable; from the learner's list or a shared link)",
}

OPERATIONS = [
    Op(
        "resources",
        "get",
        "/pathways/{pathway_id}/resources",
        "A pathway's resources grouped by module, in catalog order; with the caller's status "
        "when a token is given",
        "optional",
        PathwayListing,
        errors=(401, 404),
    ),
    Op(
        "resources",
        "get",
        "/modules/{module_id}/resources",
        "A module's resources in catalog order; with the caller's status when a token is given",
        "optional",
        ListedModule,
        errors=(401, 404),
    ),
    Op(
        "progress",
        "get",
        "/users/me/progress/{pathway_id}",
        "The caller's progress report for a pathway (zeros if never started)",
        "required",
        ProgressReport,
        errors=(401, 404),
    ),
    Op(
        "progress",
        "get",
        "/users/me/resources/{resource_id}/progress",
        "The caller's progress on one resource",
        "required",
        ResourceProgressView,
        errors=(401, 404),
    ),
    Op(
        "progress",
        "post",
        "/users/me/resources/{resource_id}/start",
        "not_started → in_progress; a no-op in any other state",
        "required",
        ResourceProgressView,
        errors=(401, 404),
    ),
    Op(
        "progress",
        "put",
        "/users/me/resources/{resource_id}/progress",
        "Set the percentage and ADD minutes (0–1440 per call); `score` (0–100, only for a "
        "resource whose completion rule is `score`, else 400) keeps the best; completes the "
        "resource when this makes a `min_time` or `score` rule met",
        "required",
        ResourceProgressView,
        body=ProgressUpdate,
        errors=(400, 401, 404),
    ),
    Op(
        "progress",
        "post",
        "/users/me/resources/{resource_id}/complete",
        "Mark completed; a no-op if already done; 409 (saying what is missing) while the "
        "resource's completion rule is not met (upload, approval, minutes, score)",
        "required",
        ResourceProgressView,
        errors=(401, 404, 409),
    ),
    Op(
        "progress",
        "post",
        "/users/me/resources/{resource_id}/uncomplete",
        "completed → in_progress; a no-op if in_progress; 409 if not started, submitted "
        "or reviewed",
        "required",
        ResourceProgressView,
        errors=(401, 404, 409),
    ),
    Op(
        "uploads",
        "post",
        "/users/me/resources/{resource_id}/upload-url",
        "A V4 signed PUT URL for one file, bound to its type and size; the client PUTs the bytes "
        "with exactly the returned headers. Creates a `pending_upload` submission (attempt n+1); "
        "the upload is recorded when the object is finalized",
        "required",
        UploadUrlReply,
        body=UploadUrlRequest,
        errors=(400, 401, 404, 409, 413, 415, 429),
        status=201,
    ),
    Op(
        "uploads",
        "get",
        "/users/me/resources/{resource_id}/submissions",
        "The caller's submissions for a resource, newest first (deleted ones left out)",
        "required",
        SubmissionList,
        errors=(401, 404),
    ),
    Op(
        "uploads",
        "get",
        "/users/me/submissions/{submission_id}/download-url",
        "A short-lived signed GET URL pinned to the vetted object generation (the owner, or an "
        "instructor)",
        "required",
        DownloadReply,
        errors=(401, 404, 409),
    ),
    Op(
        "uploads",
        "delete",
        "/users/me/submissions/{submission_id}",
        "Soft delete (audited); the resource's status follows the remaining submissions. "
        "Idempotent",
        "required",
        DeleteReply,
        errors=(401, 404),
    ),
    Op(
        "review",
        "get",
        "/admin/submissions/pending",
        "Submissions awaiting review (`uploaded`), oldest upload first; page with `next_cursor`",
        "instructor",
        PendingPage,
        query=PendingQuery,
        errors=(400, 401, 403),
    ),
    Op(
        "review",
        "get",
        "/admin/submissions/decided",
        "Approved (`status=approved`, the default) or rejected submissions, the latest decision "
        "first, with the same context as the queue and the decision to revise; page with "
        "`next_cursor`",
        "instructor",
        DecidedPage,
        query=DecidedQuery,
        errors=(400, 401, 403),
    ),
    Op(
        "review",
        "post",
        "/admin/submissions/{submission_id}/review",
        "Approve or reject (a rejection needs comments); the resource's status follows; the "
        "learner is notified through a task",
        "instructor",
        SubmissionView,
        body=ReviewRequest,
        errors=(400, 401, 403, 404, 409),
    ),
    Op(
        "review",
        "post",
        "/admin/submissions/bulk-review",
        "Approve up to 50 submissions, each in its own transaction (each names the generation "
        "the instructor saw); a result per item; a repeated call applies nothing twice",
        "instructor",
        BulkReply,
        body=BulkApproveRequest,
        errors=(400, 401, 403),
    ),
    Op(
        "review",
        "post",
        "/admin/submissions/{submission_id}/revise",
        "Revise a decision (new decision, grade and a required reason; names the revision seen, "
        "409 when another revision landed first); audited and the learner notified again",
        "instructor",
        SubmissionView,
        body=ReviseRequest,
        errors=(400, 401, 403, 404, 409),
    ),
    # ---- excuses (shared.services.progress.excuse) ----
    Op(
        "review",
        "post",
        "/admin/users/{uid}/resources/{resource_id}/excuse",
        "Excuse a learner from a resource (a reason is required): it leaves that learner's module "
        "and pathway numbers; audited; excusing again is a no-op",
        "instructor",
        ResourceProgressView,
        body=ExcuseRequest,
        errors=(400, 401, 403, 404),
    ),
    Op(
        "review",
        "post",
        "/admin/users/{uid}/resources/{resource_id}/unexcuse",
        "Take an excuse back (a reason is required): the resource counts for the learner again; "
        "audited; a no-op when not excused",
        "instructor",
        ResourceProgressView,
        body=ExcuseRequest,
        errors=(400, 401, 403, 404),
    ),
]

# ---- the cohort dashboard (issue 12 item 4) ----
ID_PARAMS["cohort_id"] = "A cohort id"
OPERATIONS += [
    Op(
        "dashboard",
        "get",
        "/cohorts/{cohort_id}/pathways/{pathway_id}/dashboard",
        "A cohort's progress on a pathway, served from aggregates the triggers keep: counts per "
        "module and resource, median time spent, completions per day, one page of the learners x "
        "modules grid (`next_cursor`) and the learners inactive for `inactive_days` (admins, and "
        "instructors the cohort lists; 403 for others)",
        "required",
        DashboardReply,
        query=DashboardQuery,
        errors=(400, 401, 403, 404),
    ),
    Op(
        "dashboard",
        "get",
        "/dashboard/cohorts",
        "The cohorts whose dashboard the caller may open, with their pathways (admins: all; "
        "instructors: those listing them; others: none)",
        "required",
        CohortList,
        errors=(401,),
    ),
    Op(
        "exports",
        "get",
        "/cohorts/{cohort_id}/exports/progress.csv",
        "The cohort's progress as CSV (streamed): one row per learner and resource of the "
        "cohort's pathways (or `pathway`), with status, percentages, time and dates (`admin` "
        "claim, or an instructor of the cohort)",
        "required",
        None,
        query=ProgressQuery,
        errors=(400, 401, 403, 404),
        media="text/csv",
    ),
    Op(
        "exports",
        "get",
        "/cohorts/{cohort_id}/exports/grades.csv",
        "Every attempt of the cohort's learners as CSV (streamed): decision, grade, reviewer, "
        "revisions and dates (`admin` claim, or an instructor of the cohort)",
        "required",
        None,
        query=GradesQuery,
        errors=(400, 401, 403, 404),
        media="text/csv",
    ),
    Op(
        "exports",
        "get",
        "/cohorts/{cohort_id}/exports/xapi.jsonl",
        "The learners' progress events as xAPI 1.0.3 statements, one JSON object per line "
        "(streamed; ids derived from the events; `since` an ISO 8601 time with its offset)",
        "required",
        None,
        query=XapiQuery,
        errors=(400, 401, 403, 404),
        media="application/x-ndjson",
    ),
]

# issue 12: cohorts, enrolment and invite codes (entry point `cohorts`)
_C = "/cohorts/{cohort_id}"
OPERATIONS += [
    Op(
        "cohorts",
        "post",
        "/cohorts/join",
        "Redeem an invite code: join its cohort. 404 unknown code, 410 expired, 409 used up; "
        "a member already gets 200 with `joined: false` and no use is counted",
        "required",
        cohorts.JoinReply,
        body=cohorts.JoinRequest,
        errors=(401, 404, 409, 410),
    ),
    Op(
        "cohorts",
        "get",
        "/users/me/cohorts",
        "The cohorts the caller is a learner in",
        "required",
        cohorts.CohortList,
        errors=(401,),
    ),
    Op(
        "cohorts",
        "post",
        "/cohorts",
        "Create a cohort (admin); the same cohort sent again: 200 as it stands; another one "
        "under an existing id: 409",
        "admin",
        cohorts.CohortView,
        body=cohorts.CreateCohort,
        errors=(401, 403, 409),
        status=201,
    ),
    Op(
        "cohorts",
        "get",
        "/cohorts",
        "Every cohort (admin) or the cohorts the caller teaches (instructor); page with "
        "`next_cursor`",
        "instructor",
        cohorts.CohortList,
        query=cohorts.PageQuery,
        errors=(400, 401, 403),
    ),
    Op(
        "cohorts",
        "get",
        _C,
        "One cohort (admin, or an instructor of it; anyone else: 404)",
        "instructor",
        cohorts.CohortView,
        errors=(401, 403, 404),
    ),
    Op(
        "cohorts",
        "get",
        _C + "/members",
        "A page of the cohort's learners (admin, or an instructor of it)",
        "instructor",
        cohorts.MemberList,
        query=cohorts.PageQuery,
        errors=(400, 401, 403, 404),
    ),
    Op(
        "cohorts",
        "put",
        _C + "/pathways",
        "Set the cohort's pathways (admin); copied onto every member document",
        "admin",
        cohorts.CohortChange,
        body=cohorts.SetPathways,
        errors=(401, 403, 404),
    ),
    Op(
        "cohorts",
        "put",
        _C + "/instructors",
        "Set the cohort's instructors (admin); every member's membership and submissions follow",
        "admin",
        cohorts.CohortChange,
        body=cohorts.SetInstructors,
        errors=(401, 403, 404),
    ),
    Op(
        "cohorts",
        "post",
        _C + "/sync",
        "Continue (or repeat) keeping the members' copies in step, from `cursor` (admin)",
        "admin",
        cohorts.SyncReply,
        query=cohorts.SyncQuery,
        errors=(400, 401, 403, 404),
    ),
    Op(
        "cohorts",
        "put",
        _C + "/members/{uid}",
        "Enrol a learner (admin); idempotent",
        "admin",
        cohorts.EnrolReply,
        errors=(401, 403, 404, 409),
    ),
    Op(
        "cohorts",
        "delete",
        _C + "/members/{uid}",
        "Take a learner out of the cohort (admin); idempotent",
        "admin",
        cohorts.EnrolReply,
        errors=(401, 403),
    ),
    Op(
        "cohorts",
        "post",
        _C + "/invites",
        "Create an invite code (admin), optionally expiring and with a maximum of uses; the code "
        "is shown once (only its hash is stored)",
        "admin",
        cohorts.InviteReply,
        body=cohorts.CreateInvite,
        errors=(401, 403, 404),
        status=201,
    ),
]

OPERATIONS += [
    Op(
        "certificates",
        "get",
        "/certificates/{certificate_id}.pdf",
        "The certificate as a PDF (name, pathway, completion date, id, verification link; a "
        "revoked one says so). Public, no token",
        "none",
        CertificateVerification,
        errors=(404,),
        media="application/pdf",
    ),
    Op(
        "certificates",
        "get",
        "/certificates/{certificate_id}",
        "Public verification: the name, pathway and dates a certificate states and whether it "
        "is `valid` or `revoked` (nothing else personal). No token",
        "none",
        CertificateVerification,
        errors=(404,),
    ),
    Op(
        "certificates",
        "get",
        "/users/me/certificates",
        "The caller's certificates, one per completed (or once completed) pathway",
        "required",
        MyCertificates,
        errors=(401,),
    ),
]

# ---- relative due dates and the excuse screen (issue 13 item 4) ----
OPERATIONS += [
    Op(
        "cohorts",
        "put",
        "/cohorts/{cohort_id}/start",
        "Set (or clear, `null`) the cohort's start (admin): resources with `due_after` are due "
        "that long after it for its learners; flags already decided stay",
        "admin",
        cohorts.CohortChange,
        body=cohorts.SetStart,
        errors=(400, 401, 403, 404),
    ),
    Op(
        "review",
        "get",
        "/admin/users/{uid}/progress/{pathway_id}",
        "A learner's progress report in a pathway as they see it (status, late, excused, their "
        "due time per resource), for an instructor of one of their cohorts or an admin",
        "instructor",
        ProgressReport,
        errors=(401, 403, 404),
    ),
    Op(
        "review",
        "get",
        "/admin/users/{uid}/excuses",
        "A learner's excuse trail in a pathway (`pathway_id`, `limit` 1-200): who excused or "
        "un-excused them from which resource, when and why, the latest first (the audit entries); "
        "scoped as the excuse",
        "instructor",
        ExcuseTrail,
        query=ExcuseTrailQuery,
        errors=(400, 401, 403, 404),
    ),
]

ERROR_TEXT = {
    400: f"Invalid body, query or unknown fields (bodies: JSON objects nested at most "
    f"{MAX_JSON_DEPTH} levels)",
    401: "No, expired or invalid Firebase ID token, or its uid is not a valid id",
    403: "The token lacks the `instructor` (or `admin`) claim the route requires",
    404: "Unknown id (another learner's data is never found)",
    409: "Transition not allowed from the current state",
    410: "The invite code has expired",
    413: f"The request body is over {MAX_BODY_BYTES // 1024} KiB, or (upload-url) the declared "
    "file size is larger than the resource allows",
    415: "The content type or file extension is not accepted for this resource",
    429: "Rate limit: at most N upload URLs per learner per rolling hour; see `Retry-After`",
}

STATUS_TEXT = {200: "OK", 201: "Created"}


def _raised_statuses() -> set[int]:
    """Every status an :class:`~shared.errors.AppError` subclass carries."""
    found, todo = set(), [AppError]
    while todo:
        cls = todo.pop()
        found.add(cls.status)
        todo.extend(cls.__subclasses__())
    return found


EDGE_TEXT = {
    405: "Method not allowed on this path; `Allow` lists the path's methods",
    503: "Contention outlasted the retries; try again after `Retry-After`",
}
# Every route answers 405 for another method; 503 once the error hierarchy has it (overload).
EDGE_STATUSES = tuple(s for s in EDGE_TEXT if s == 405 or s in _raised_statuses())


def check_routes() -> list[str]:
    """Differences between :data:`OPERATIONS` and the functions' routers (empty when in step)."""
    from functions.certificates import router as certificates_router
    from functions.cohorts import router as cohorts_router
    from functions.dashboard import router as dashboard_router
    from functions.exports import router as exports_router
    from functions.progress import router as progress_router
    from functions.resources import router as resources_router
    from functions.review import router as review_router
    from functions.uploads import router as uploads_router

    routers = {
        "dashboard": dashboard_router,
        "exports": exports_router,
        "cohorts": cohorts_router,
        "progress": progress_router,
        "resources": resources_router,
        "review": review_router,
        "uploads": uploads_router,
        "certificates": certificates_router,
    }
    actual = {
        (name, r.method.lower(), r.pattern.pattern, r.auth)
        for name, router in routers.items()
        for r in router.routes
    }
    documented = {(op.entry_point, op.method, route_regex(op.path), op.auth) for op in OPERATIONS}
    problems = [f"route not documented: {x}" for x in sorted(actual - documented)]
    problems += [f"documented route does not exist: {x}" for x in sorted(documented - actual)]
    return problems


def build() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorReply, "serialization")
    ]
    for op in OPERATIONS:
        if op.reply is not None:
            models.append((op.reply, "serialization"))
        if op.body is not None:
            models.append((op.body, "validation"))
    keys, defs = models_json_schema(
        list(dict.fromkeys(models)), ref_template="#/components/schemas/{model}"
    )
    schemas = defs.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": ID_PARAMS[name],
                "schema": {"type": "string", "pattern": ID_PATTERN, "not": {"pattern": "^__.*__$"}},
            }
            for name in re.findall(r"\{(\w+)\}", op.path)
        ]
        if op.query is not None:
            query = op.query.model_json_schema()
            for name, schema in query["properties"].items():
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in query.get("required", []),
                        "schema": schema,
                    }
                )
        reply: dict[str, Any]
        if op.reply is None:
            reply = {"type": "string", "description": f"A {op.media} file, sent as it is produced"}
        elif op.media != "application/json":
            reply = {"type": "string", "contentMediaType": op.media}
        else:
            reply = keys[(op.reply, "serialization")]
        responses: dict[str, Any] = {
            str(op.status): {
                "description": STATUS_TEXT[op.status],
                "content": {op.media: {"schema": reply}},
            }
        }
        body_errors = (400, 413) if op.body is not None else ()
        for status in sorted({*op.errors, *body_errors, *EDGE_STATUSES}):
            responses[str(status)] = {
                "description": ERROR_TEXT.get(status) or EDGE_TEXT[status],
                "content": {"application/json": {"schema": keys[(ErrorReply, "serialization")]}},
            }
            if status in (429, 503):
                responses[str(status)]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}
                }
            if status == 405:
                responses[str(status)]["headers"] = {
                    "Allow": {"schema": {"type": "string"}, "description": "The path's methods"}
                }
        operation: dict[str, Any] = {
            "operationId": f"{op.entry_point}_{op.method}_"
            + re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_"),
            "summary": op.summary,
            "tags": [op.entry_point],
            "x-entry-point": op.entry_point,
            "parameters": params,
            "responses": responses,
            "security": [{}, {"firebase": []}]
            if op.auth == "optional"
            else ([] if op.auth == "none" else [{"firebase": []}]),
        }
        if op.auth in ("instructor", "admin"):
            operation["x-required-claim"] = op.auth
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keys[(op.body, "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Bootcamp progress API",
            "version": "1.1.0",
            "description": "Generated by `make openapi` (`python -m tools.openapi`) from the "
            "pydantic models; docs/API.md is the prose. Each tag is one Cloud Function, whose "
            "routes answer at the function's own URL and under `/api/v1` (the prefix Firebase "
            "Hosting rewrites to it). `me` is always the uid of the bearer's Firebase ID token. "
            'Every error is `{"error": {"code", "message"}}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "tags": [
            {"name": "resources", "description": "entry point `resources`: the catalog listing"},
            {"name": "progress", "description": "entry point `progress`: the learner's progress"},
            {"name": "uploads", "description": "entry point `uploads`: files and submissions"},
            {
                "name": "review",
                "description": "entry point `review`: the instructor's queue (`instructor` claim)",
            },
            {
                "name": "dashboard",
                "description": "entry point `dashboard`: a cohort's progress (admins and the "
                "cohort's instructors)",
            },
            {
                "name": "exports",
                "description": "entry point `exports`: a cohort's CSV and xAPI exports",
            },
            {
                "name": "cohorts",
                "description": "entry point `cohorts`: cohorts, enrolment, invite codes",
            },
            {
                "name": "certificates",
                "description": "entry point `certificates`: public verification and the "
                "learner's certificates",
            },
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Firebase ID token (instructor routes: with the "
                    "`instructor` custom claim)",
                }
            },
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/openapi.json")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    problems = check_routes()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
