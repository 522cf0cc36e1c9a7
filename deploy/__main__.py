"""``python -m deploy --project P --region R [--dry-run]`` and ``python -m deploy smoke``: see
docs/DEPLOY.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from deploy.plan import Config, build_plan, render


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description="Deploy the aibc backend to a Google Cloud project (docs/DEPLOY.md).",
    )
    parser.add_argument("--project", required=True, help="Google Cloud project id")
    parser.add_argument("--region", default="us-central1", help="functions, bucket and queue")
    parser.add_argument(
        "--firestore-location",
        default="nam5",
        help="Firestore database location (also the Firestore triggers' location)",
    )
    parser.add_argument("--bucket", help="submissions bucket (default: PROJECT-submissions)")
    parser.add_argument("--queue", default="aibc-default", help="Cloud Tasks queue id")
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="web origin allowed to call the functions and PUT uploads (repeatable; default: "
        "the project's Firebase Hosting origins)",
    )
    parser.add_argument("--project-number", help="skip looking it up (it names the GCS agent)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print every command, run nothing, need nothing"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["smoke"]:  # python -m deploy smoke ...: deploy/smoke.py
        from deploy import smoke

        return smoke.main(argv[1:])
    args = parse(argv)
    number = args.project_number
    if not args.dry_run:
        from deploy import run

        problems = run.preflight()
        if problems:
            for problem in problems:
                print(f"deploy: {problem}", file=sys.stderr)
            return 2
        number = number or run.lookup_project_number(args.project)
    try:
        config = Config.make(
            args.project,
            args.region,
            firestore_location=args.firestore_location,
            bucket=args.bucket,
            queue=args.queue,
            cors_origins=args.cors_origin,
            project_number=number,
        )
    except ValueError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 2
    steps = build_plan(config)
    if args.dry_run:
        sys.stdout.write(render(steps, config))
        # The source is staged even in a dry run (into a directory removed afterwards), so what
        # every `gcloud functions deploy` would upload is listed, file by file.
        from deploy import files

        with tempfile.TemporaryDirectory() as tmp:
            staged = files.stage_source(Path(tmp) / "source")
            names = sorted(str(path.relative_to(Path(tmp) / "source")) for path in staged)
        print(f"# {config.source_dir} will hold (and gcloud upload) these {len(names)} files:")
        for name in names:
            print(f"#   {name}")
        return 0

    from deploy import run

    try:
        run.execute(steps)
    except run.DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    print(
        f"deploy: done. Seed the catalog next: docs/DEPLOY.md, step 4 (project {config.project})."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
