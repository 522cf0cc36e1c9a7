"""Point a client process (a script, the seed loader, the tests) at the running local cloud.

``make up`` describes the local cloud in ``.local/stack.json``; ``client_environ`` turns that
description into the emulator variables the Google client libraries read. Storage clients talk to
the storage backend directly, as the functions do: the public front refuses unsigned requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = ROOT / ".local" / "stack.json"


def read_stack(path: Path = STACK_FILE) -> dict[str, Any] | None:
    """The running local cloud's description, or None when none is running."""
    try:
        stack: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return stack


def client_environ(stack: dict[str, Any]) -> dict[str, str]:
    emu = stack["emulators"]
    return {
        "GOOGLE_CLOUD_PROJECT": stack["project_id"],
        "GCLOUD_PROJECT": stack["project_id"],
        "FIRESTORE_EMULATOR_HOST": emu["firestore"],
        "STORAGE_EMULATOR_HOST": "http://" + emu["storage_backend"],
        "FIREBASE_AUTH_EMULATOR_HOST": emu["auth"],
        "CLOUD_TASKS_EMULATOR_HOST": emu["tasks"],
        "SUBMISSIONS_BUCKET": stack["bucket"],
    }
