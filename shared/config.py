"""Settings read from the environment, once, lazily."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    project_id: str
    bucket: str
    region: str
    tasks_queue: str
    tasks_emulator_host: str | None
    functions_base: dict[str, str]
    cors_origins: tuple[str, ...]
    upload_rate_limit_per_hour: int
    upload_url_ttl_seconds: int
    delete_removes_object: bool
    signing_key_file: str | None
    storage_public_endpoint: str | None
    tasks_service_account: str | None
    # The web page's origin, for the verification links of certificates (PUBLIC_WEB_URL; default:
    # the first of CORS_ORIGINS, which is the page's origin).
    public_web_url: str = ""


def _functions_base() -> dict[str, str]:
    """``FUNCTION_URL_<NAME>`` variables give each task handler's URL (set by make up / deploy)."""
    prefix = "FUNCTION_URL_"
    return {k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix)}


def _local_tasks_account(project: str) -> str | None:
    """With the Tasks emulator, the account named in the local task tokens (as the deploy names it)."""
    if not os.environ.get("CLOUD_TASKS_EMULATOR_HOST"):
        return None
    return f"aibc-tasks-invoker@{project}.iam.gserviceaccount.com"


@functools.cache
def settings() -> Settings:
    env = os.environ
    project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCLOUD_PROJECT") or "demo-aibc"
    return Settings(
        project_id=project,
        bucket=env.get("SUBMISSIONS_BUCKET", f"{project}-submissions"),
        region=env.get("FUNCTION_REGION", "us-central1"),
        tasks_queue=env.get("TASKS_QUEUE", "aibc-default"),
        tasks_emulator_host=env.get("CLOUD_TASKS_EMULATOR_HOST"),
        functions_base=_functions_base(),
        cors_origins=tuple(
            o.strip() for o in env.get("CORS_ORIGINS", "http://127.0.0.1:8300").split(",") if o
        ),
        upload_rate_limit_per_hour=int(env.get("UPLOAD_RATE_LIMIT_PER_HOUR", "10")),
        upload_url_ttl_seconds=min(3600, int(env.get("UPLOAD_URL_TTL_SECONDS", "3600"))),
        delete_removes_object=env.get("DELETE_REMOVES_OBJECT", "false").lower() == "true",
        signing_key_file=env.get("SIGNING_KEY_FILE"),
        storage_public_endpoint=env.get("STORAGE_PUBLIC_ENDPOINT"),
        tasks_service_account=env.get("TASKS_SERVICE_ACCOUNT") or _local_tasks_account(project),
        public_web_url=_public_web_url(),
    )


def _public_web_url() -> str:
    explicit = os.environ.get("PUBLIC_WEB_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    origins = [
        o.strip() for o in os.environ.get("CORS_ORIGINS", "http://127.0.0.1:8300").split(",")
    ]
    return next((o for o in origins if o and o != "*"), "").rstrip("/")
