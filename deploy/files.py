"""The two files the deploy generates (stdlib only, so the printed plan runs with any python3).

    python3 -m deploy.files firebase --bucket B --out DIR   # firebase.json + rules + indexes
    python3 -m deploy.files cors --origin https://x --out FILE

``firebase``: firebase-tools refuses files outside the directory of the firebase.json it is given,
and the storage rules must name the submissions bucket, which differs per project. So the deploy
stages ``firestore.rules``, ``firestore.indexes.json`` and ``storage.rules`` (copied unchanged from
the repository root) with a generated firebase.json under ``.local/deploy/<project>/firebase``.

``cors``: the browser PUTs the upload straight to Cloud Storage through the signed URL, a
cross-origin request; the bucket must answer the preflight for the web app's origins, with the
headers the upload-url reply tells the client to send.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = ("firestore.rules", "firestore.indexes.json", "storage.rules")
CORS_METHODS = ("PUT", "GET", "HEAD")
# The headers the upload-url reply tells the browser to send with its PUT (shared/adapters/storage.py).
CORS_HEADERS = ("Content-Type", "x-goog-content-length-range")


def firebase_config(bucket: str) -> dict[str, Any]:
    return {
        "firestore": {
            "database": "(default)",
            "rules": "firestore.rules",
            "indexes": "firestore.indexes.json",
        },
        "storage": [{"bucket": bucket, "rules": "storage.rules"}],
    }


def cors_config(origins: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "origin": list(origins),
            "method": list(CORS_METHODS),
            "responseHeader": list(CORS_HEADERS),
            "maxAgeSeconds": 3600,
        }
    ]


def stage_firebase(bucket: str, out: Path, root: Path = ROOT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RULE_FILES:
        source = root / name
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: the deploy needs it")
        written.append(Path(shutil.copyfile(source, out / name)))
    config = out / "firebase.json"
    config.write_text(json.dumps(firebase_config(bucket), indent=2) + "\n")
    written.append(config)
    return written


def write_cors(origins: Sequence[str], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cors_config(origins), indent=2) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deploy.files")
    sub = parser.add_subparsers(dest="what", required=True)
    fb = sub.add_parser("firebase", help="stage firebase.json, rules and indexes")
    fb.add_argument("--bucket", required=True)
    fb.add_argument("--out", required=True, type=Path)
    cors = sub.add_parser("cors", help="write the bucket's CORS configuration")
    cors.add_argument("--origin", action="append", required=True)
    cors.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.what == "firebase":
        for path in stage_firebase(args.bucket, args.out):
            print(f"wrote {path}")
    else:
        print(f"wrote {write_cors(args.origin, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
