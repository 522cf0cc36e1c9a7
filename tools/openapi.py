"""OpenAPI 3.1 for the ``resources`` and ``progress`` functions, generated from the pydantic models.

    python -m tools.openapi            # (re)write docs/openapi.json
    python -m tools.openapi --check    # exit 1 if docs/openapi.json is not what would be generated

The operations are listed once, below, with their models; the generator refuses to run if that list
and the functions' routers disagree (a route without documentation, or documentation of a route
that does not exist), so the file cannot silently drift from the code.
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

from shared.domain.progress import (
    ListedModule,
    PathwayListing,
    ProgressReport,
    ProgressUpdate,
    ResourceProgressView,
)
from shared.http import route_regex

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
    auth: Literal["required", "optional"]
    reply: type[BaseModel]
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()


ID_PARAMS = {
    "pathway_id": "A pathway id from the catalog",
    "module_id": "A module id from the catalog",
    "resource_id": "A resource id from the catalog",
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
        "Set the percentage and ADD minutes (0–1440 per call)",
        "required",
        ResourceProgressView,
        body=ProgressUpdate,
        errors=(400, 401, 404),
    ),
    Op(
        "progress",
        "post",
        "/users/me/resources/{resource_id}/complete",
        "Mark completed; a no-op if already done; 409 for a resource that needs an upload "
        "and has none",
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
]

ERROR_TEXT = {
    400: "Invalid body or unknown fields",
    401: "No, expired or invalid Firebase ID token",
    404: "Unknown id (or no such route: another learner's data has none)",
    409: "Transition not allowed from the current state",
}


def check_routes() -> list[str]:
    """Differences between :data:`OPERATIONS` and the functions' routers (empty when in step)."""
    from functions.progress import router as progress_router
    from functions.resources import router as resources_router

    routers = {"progress": progress_router, "resources": resources_router}
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
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
            }
            for name in re.findall(r"\{(\w+)\}", op.path)
        ]
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": keys[(op.reply, "serialization")]}},
            }
        }
        for status in op.errors:
            responses[str(status)] = {
                "description": ERROR_TEXT[status],
                "content": {"application/json": {"schema": keys[(ErrorReply, "serialization")]}},
            }
        operation: dict[str, Any] = {
            "operationId": f"{op.entry_point}_{op.method}_"
            + re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_"),
            "summary": op.summary,
            "tags": [op.entry_point],
            "x-entry-point": op.entry_point,
            "parameters": params,
            "responses": responses,
            "security": [{"firebase": []}] if op.auth == "required" else [{}, {"firebase": []}],
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keys[(op.body, "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Bootcamp progress API: resources and progress",
            "version": "1.0.0",
            "description": "Generated by `python -m tools.openapi` from the pydantic models. "
            "Each tag is one Cloud Function; in production Firebase Hosting rewrites "
            "`/api/v1/...` to it. `me` is always the uid of the bearer's Firebase ID token.",
        },
        "servers": [{"url": "/api/v1"}],
        "tags": [
            {"name": "resources", "description": "entry point `resources`: the catalog listing"},
            {"name": "progress", "description": "entry point `progress`: the learner's progress"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Firebase ID token",
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
            print(f"{args.out} is stale: run `python -m tools.openapi`", file=sys.stderr)
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
