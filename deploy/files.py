"""What the deploy stages and generates (stdlib only, so the printed plan runs with any python3).

    python3 -m deploy.files source --out DIR                 # the functions' source, exactly
    python3 -m deploy.files firebase --bucket B --out DIR   # firebase.json + rules + indexes
    python3 -m deploy.files cors --origin https://x --out FILE
    python3 -m deploy.files hosting --region R --out DIR    # the web page for Firebase Hosting

``source``: the directory ``gcloud functions deploy --source`` uploads, holding exactly what the
runtime loads: ``main.py``, ``requirements.txt`` and the ``.py`` files of ``functions/`` and
``shared/`` (no ``__pycache__``, tests, local cloud, keys or virtualenvs). gcloud zips a directory
without a ``.gcloudignore`` (and without ``.git`` or ``node_modules``) whole, so what is staged is
what is uploaded; tests/deploy/test_uploaded_source.py builds the zip with the installed gcloud's
own code to prove it. The local cloud's parity mode (``localcloud/parity.py``) runs the functions
from the same staged directory.

``firebase``: firebase-tools refuses files outside the directory of the firebase.json it is given,
and the storage rules must name the submissions bucket, which differs per project. So the deploy
stages ``firestore.rules``, ``firestore.indexes.json`` and ``storage.rules`` (copied unchanged from
the repository root) with a generated firebase.json under ``.local/deploy/<project>/firebase``.

``hosting``: the ``hosting`` section of the repository's firebase.json (rewrites of ``/api/v1/...`` to
the HTTP functions' Cloud Run services, security and cache headers) with the deploy's region, and
the built page (``web/dist``) copied beside it as ``public/``.

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
# The runtime source: top-level files, and packages whose .py files are all uploaded.
SOURCE_FILES = ("main.py", "requirements.txt")
SOURCE_PACKAGES = ("functions", "shared")
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


def runtime_sources(root: Path = ROOT) -> list[Path]:
    """Every file of the runtime source, relative to ``root``, sorted."""
    found = [Path(name) for name in SOURCE_FILES]
    for package in SOURCE_PACKAGES:
        for path in (root / package).rglob("*.py"):
            relative = path.relative_to(root)
            if "__pycache__" not in relative.parts:
                found.append(relative)
    missing = [str(p) for p in found if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"the runtime source is incomplete: {', '.join(missing)} missing")
    return sorted(found)


def _is_previous_stage(out: Path) -> bool:
    allowed = {*SOURCE_FILES, *SOURCE_PACKAGES}
    return all(child.name in allowed for child in out.iterdir())


def stage_source(out: Path, root: Path = ROOT) -> list[Path]:
    """Copy the runtime source into ``out`` (replacing a previous stage); returns the copied files.

    Refuses a non-empty ``out`` that is not a previous stage, so a wrong ``--out`` deletes nothing.
    """
    sources = runtime_sources(root)
    if out.exists():
        if not out.is_dir() or not _is_previous_stage(out):
            raise FileExistsError(f"{out} exists and is not a staged source: choose another --out")
        shutil.rmtree(out)
    written = []
    for relative in sources:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copyfile(root / relative, target)))
    return written


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


def hosting_config(region: str, root: Path = ROOT) -> dict[str, Any]:
    """The repository's hosting section, its rewrites pointed at ``region``, serving ``public/``."""
    hosting: dict[str, Any] = json.loads((root / "firebase.json").read_text())["hosting"]
    hosting = {**hosting, "public": "public"}
    hosting["rewrites"] = [
        {**rule, "run": {**rule["run"], "region": region}} if "run" in rule else rule
        for rule in hosting.get("rewrites", [])
    ]
    return {"hosting": hosting}


def stage_hosting(region: str, out: Path, root: Path = ROOT) -> list[Path]:
    """firebase.json (hosting only) and the built page under ``out/public``."""
    dist = root / "web" / "dist"
    if not (dist / "index.html").is_file():
        raise FileNotFoundError(f"{dist} has no built page: run `npm run build:web` first")
    public = out / "public"
    if public.exists():
        shutil.rmtree(public)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(dist, public, ignore=shutil.ignore_patterns(".*"))
    config = out / "firebase.json"
    config.write_text(json.dumps(hosting_config(region, root), indent=2) + "\n")
    return [config, *sorted(p for p in public.rglob("*") if p.is_file())]


def write_cors(origins: Sequence[str], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cors_config(origins), indent=2) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deploy.files")
    sub = parser.add_subparsers(dest="what", required=True)
    source = sub.add_parser("source", help="stage the functions' source (what gcloud uploads)")
    source.add_argument("--out", required=True, type=Path)
    fb = sub.add_parser("firebase", help="stage firebase.json, rules and indexes")
    fb.add_argument("--bucket", required=True)
    fb.add_argument("--out", required=True, type=Path)
    cors = sub.add_parser("cors", help="write the bucket's CORS configuration")
    cors.add_argument("--origin", action="append", required=True)
    cors.add_argument("--out", required=True, type=Path)
    hosting = sub.add_parser("hosting", help="stage the web page and its Hosting config")
    hosting.add_argument("--region", required=True)
    hosting.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.what == "source":
        staged = stage_source(args.out)
        print(f"staged {len(staged)} files of the functions' source in {args.out}")
    elif args.what == "firebase":
        for path in stage_firebase(args.bucket, args.out):
            print(f"wrote {path}")
    elif args.what == "hosting":
        written = stage_hosting(args.region, args.out)
        print(f"staged the web page ({len(written) - 1} files) and {written[0]}")
    else:
        print(f"wrote {write_cors(args.origin, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
