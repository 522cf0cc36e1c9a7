"""Operator commands.

    python -m ops reconcile [--pathway P] [--inline] [--dry-run] [--page-size N] [--timeout S] [--json]
    python -m ops xapi --cohort C [--pathway P] [--since ISO] [--batch N]
    python -m ops cohort create ID [--name N] [--pathway P]... [--all-pathways] [--instructor UID]...
        [--starts-at ISO]
    python -m ops cohort start ID ISO|none
    python -m ops cohort add|remove ID UID...
    python -m ops cohort invite ID [--max-uses N] [--expires-in-hours H]
    python -m ops cohort list [--instructor-of UID]

``reconcile`` repairs drifted rollups and upload-derived statuses (see shared/services/reconcile.py).
By default it records a run in ``reconcile_runs/{run_id}``, split into lanes (uid ranges, one per
``RECONCILE_LANE_SIZE`` learners, at most ``RECONCILE_MAX_LANES``), enqueues each lane's first
batch on the Cloud Tasks queue (``task_reconcile`` chains the rest of the lane) and polls the run
document until every lane is done; ``--inline`` runs every batch in this process instead. It prints the checked /
drifted / repaired counts per level and exits 0 once the run is done (1 if ``--timeout`` passed
first).

``xapi`` exports the progress events of a cohort's learners as xAPI statements
(shared/services/exports.py): with ``LRS_ENDPOINT`` (and ``LRS_USERNAME`` / ``LRS_PASSWORD``) in the
environment it POSTs them to that LRS in batches, idempotent by statement id
(shared/services/lrs.py), and prints how many were sent and how many the LRS held already;
without it, it prints them as JSON lines.

Where: without ``GOOGLE_CLOUD_PROJECT`` in the environment, the running local cloud described by
``.local/stack.json`` (``make up``): its emulators, queue and function URLs. With
``GOOGLE_CLOUD_PROJECT`` (and Application Default Credentials), that project: the task is sent to
``FUNCTION_URL_TASK_RECONCILE`` (default: the deploy's URL of ``task_reconcile``) with an OIDC token
for ``TASKS_SERVICE_ACCOUNT`` (default: the deploy's ``aibc-tasks-invoker``), which needs the caller
to be allowed to act as that account.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = ROOT / ".local" / "stack.json"
ENTRY_POINT = "task_reconcile"


def local_environ(stack: dict[str, Any]) -> dict[str, str]:
    """The environment the functions of the local cloud run with, as far as reconcile needs it."""
    emu = stack["emulators"]
    _, project, _, region, _, queue = stack["queue"].split("/")
    env = {
        "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_EMULATOR_HOST": emu["firestore"],
        "CLOUD_TASKS_EMULATOR_HOST": emu["tasks"],
        "FUNCTION_REGION": region,
        "TASKS_QUEUE": queue,
    }
    for name, url in stack["functions"].items():
        env[f"FUNCTION_URL_{name.upper()}"] = url
    return env


def project_environ(environ: dict[str, str]) -> dict[str, str]:
    """Defaults for a real project, matching what the deploy sets on the functions."""
    project = environ["GOOGLE_CLOUD_PROJECT"]
    region = environ.get("FUNCTION_REGION", "us-central1")
    return {
        "FUNCTION_REGION": region,
        f"FUNCTION_URL_{ENTRY_POINT.upper()}": environ.get(
            f"FUNCTION_URL_{ENTRY_POINT.upper()}",
            f"https://{region}-{project}.cloudfunctions.net/{ENTRY_POINT}",
        ),
        "TASKS_SERVICE_ACCOUNT": environ.get(
            "TASKS_SERVICE_ACCOUNT", f"aibc-tasks-invoker@{project}.iam.gserviceaccount.com"
        ),
    }


def configure(stack_file: Path = STACK_FILE) -> str:
    """Point this process at the local cloud or the project; returns a description of where."""
    if os.environ.get("GOOGLE_CLOUD_PROJECT"):
        os.environ.update(project_environ(dict(os.environ)))
        return f"project {os.environ['GOOGLE_CLOUD_PROJECT']}"
    if not stack_file.exists():
        raise SystemExit(
            "no local cloud (.local/stack.json; start it with `make up`) and no "
            "GOOGLE_CLOUD_PROJECT: nothing to reconcile"
        )
    os.environ.update(local_environ(json.loads(stack_file.read_text())))
    return f"the local cloud ({stack_file})"


def new_run_id(now: dt.datetime) -> str:
    return f"rc-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def render(report: Any) -> str:
    tally = report.tally
    lines = [
        f"run {report.run_id}: {'done' if report.done else 'NOT done'}, "
        f"{report.batches} batches, {tally.learners} learners"
        + (f", pathway {report.pathway_id}" if report.pathway_id else "")
        + (" (dry run: nothing repaired)" if report.dry_run else ""),
        f"{'level':16}{'checked':>9}{'drifted':>9}{'repaired':>9}{'written':>9}",
    ]
    for level in ("statuses", "modules", "pathways", "certificates"):
        c = getattr(tally, level)
        lines.append(f"{level:16}{c.checked:>9}{c.drifted:>9}{c.repaired:>9}{c.written:>9}")
    if len(report.lanes) > 1:
        lines.append(f"{'lane':16}{'batches':>9}{'learners':>9}{'peak s':>9}{'done':>9}")
        for lane in report.lanes:
            lines.append(
                f"{lane.lane:<16}{lane.batches:>9}{lane.learners:>9}"
                f"{lane.peak_batch_seconds:>9.2f}{'yes' if lane.done else 'no':>9}"
            )
    return "\n".join(lines)


def reconcile(args: argparse.Namespace) -> int:
    where = configure(args.stack)
    from shared.bootstrap import deps
    from shared.services import reconcile as service

    task = service.ReconcileBatch(
        run_id=args.run_id or new_run_id(dt.datetime.now(dt.UTC)),
        pathway_id=args.pathway,
        page_size=args.page_size,
        dry_run=args.dry_run,
    )
    d = deps()
    runs = d.runs
    print(f"reconcile {task.run_id} on {where}", file=sys.stderr, flush=True)
    started = time.monotonic()
    if args.inline:
        report = service.run_inline(
            task, reconciler=d.reconciler(), runs=runs, page_size=d.reconcile_page_size
        )
    else:
        d.start_run(task)
        deadline = time.monotonic() + args.timeout
        while not runs.is_done(task.run_id) and time.monotonic() < deadline:
            time.sleep(0.5)
        found = runs.report(task.run_id)
        if found is None:
            raise SystemExit(f"run {task.run_id} was not recorded")
        report = found
    elapsed = round(time.monotonic() - started, 2)
    if args.json:
        print(json.dumps({**report.model_dump(mode="json"), "seconds": elapsed}), flush=True)
    else:
        print(f"{render(report)}\n{elapsed} s", flush=True)
    return 0 if report.done else 1


def xapi(args: argparse.Namespace) -> int:
    where = configure(args.stack)
    from shared.bootstrap import deps
    from shared.services import exports, lrs

    src = deps().export_sources()
    cohort = src.reads.cohort(args.cohort)
    if cohort is None:
        raise SystemExit(f"no cohort {args.cohort}")
    query = exports.XapiQuery.model_validate({"pathway": args.pathway, "since": args.since})
    statements = exports.statements(cohort, query, src)
    endpoint = os.environ.get("LRS_ENDPOINT")
    if not endpoint:
        for one in statements:
            print(json.dumps(one, separators=(",", ":")), flush=False)
        return 0
    client = lrs.LrsClient(
        endpoint, os.environ.get("LRS_USERNAME", ""), os.environ.get("LRS_PASSWORD", "")
    )
    print(f"xapi: cohort {cohort.cohort_id} on {where} to {endpoint}", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        tally = lrs.push(statements, client, args.batch)
    except lrs.LrsError as exc:
        print(f"xapi: stopped: {exc}", file=sys.stderr, flush=True)
        return 1
    elapsed = round(time.monotonic() - started, 2)
    print(
        json.dumps(
            {
                "cohort_id": cohort.cohort_id,
                "sent": tally.sent,
                "already": tally.already,
                "batches": tally.batches,
                "retries": tally.retries,
                "seconds": elapsed,
            }
        ),
        flush=True,
    )
    return 0


# ---- cohorts (issue 12) -------------------------------------------------------------------------

OPERATOR = "operator"


def cohort(args: argparse.Namespace) -> int:
    """``python -m ops cohort create|start|add|remove|invite|list``: the use cases of
    shared/services/cohorts.py run in this process, as the operator (an admin), against the
    local cloud or the project (see :func:`configure`)."""
    where = configure(args.stack)
    from shared.bootstrap import deps
    from shared.domain.identity import Caller
    from shared.services import cohorts as service

    me = Caller(OPERATOR, admin=True)
    d = deps()
    store = d.cohorts
    print(f"cohort {args.action} on {where}", file=sys.stderr, flush=True)
    out: list[Any] = []
    if args.action == "create":
        pathways = list(args.pathway or [])
        if args.all_pathways:
            from shared.adapters.firestore import client

            pathways = [ref.id for ref in client().collection("pathways").list_documents()]
        view, created = service.create_cohort(
            me,
            service.CreateCohort(
                cohort_id=args.cohort_id,
                name=args.name or args.cohort_id,
                pathway_ids=pathways,
                instructor_uids=list(args.instructor or []),
                starts_at=args.starts_at,
            ),
            store=store,
            catalog=d.fresh_catalog,
        )
        out.append({"created": created, **view.model_dump(mode="json")})
    elif args.action == "start":
        start = service.SetStart(starts_at=args.starts_at)
        change = service.set_start(me, args.cohort_id, start, store=store)
        out.append(change.model_dump(mode="json"))
    elif args.action in ("add", "remove"):
        act = service.enrol if args.action == "add" else service.remove
        for uid in args.uids:
            out.append(act(me, args.cohort_id, uid, store=store).model_dump(mode="json"))
    elif args.action == "invite":
        req = service.CreateInvite(
            max_uses=args.max_uses,
            expires_in_seconds=int(args.expires_in_hours * 3600) if args.expires_in_hours else None,
        )
        out.append(
            service.create_invite(me, args.cohort_id, req, store=store).model_dump(mode="json")
        )
    else:
        cursor: str | None = None
        while True:
            page = store.list_cohorts(instructor_uid=args.instructor_of, after=cursor, limit=200)
            out += [service.CohortView.of(c).model_dump(mode="json") for c in page]
            if len(page) < 200:
                break
            cursor = page[-1].cohort_id
    for item in out:
        print(json.dumps(item), flush=True)
    return 0


def _aware_time(text: str) -> dt.datetime:
    """An ISO 8601 time with its offset (``2026-12-01T09:00:00+01:00``, ``...Z``), for argparse."""
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone (Z or +hh:mm): {text!r}")
    return at


def _start_or_none(text: str) -> dt.datetime | None:
    return None if text.lower() == "none" else _aware_time(text)


def _add_cohort_parser(commands: Any) -> None:
    co = commands.add_parser("cohort", help="cohorts: create, start, add, remove, invite, list")
    actions = co.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a cohort (the same again: no change)")
    create.add_argument("cohort_id")
    create.add_argument("--name")
    create.add_argument("--pathway", action="append", help="a pathway id (repeatable)")
    create.add_argument("--all-pathways", action="store_true", help="every pathway of the catalog")
    create.add_argument("--instructor", action="append", help="an instructor uid (repeatable)")
    create.add_argument(
        "--starts-at",
        type=_aware_time,
        help="the start (ISO 8601 with offset): due_after counts from it",
    )
    for name, text in (("add", "enrol learners"), ("remove", "take learners out")):
        one = actions.add_parser(name, help=text)
        one.add_argument("cohort_id")
        one.add_argument("uids", nargs="+")
    invite = actions.add_parser("invite", help="create an invite code (printed once)")
    invite.add_argument("cohort_id")
    invite.add_argument("--max-uses", type=int)
    invite.add_argument("--expires-in-hours", type=float)
    listing = actions.add_parser("list", help="list cohorts")
    listing.add_argument("--instructor-of", help="only the cohorts this uid teaches")
    start = actions.add_parser("start", help="set the cohort's start (due_after counts from it)")
    start.add_argument("cohort_id")
    start.add_argument(
        "starts_at", type=_start_or_none, help="ISO 8601 with offset, or none (no start)"
    )
    for p in (create, invite, listing, start, *(actions.choices[n] for n in ("add", "remove"))):
        p.add_argument("--stack", type=Path, default=STACK_FILE, help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description="operator commands")
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("reconcile", help="repair drifted rollups and statuses")
    rec.add_argument("--pathway", help="only the learners and documents of this pathway")
    rec.add_argument("--inline", action="store_true", help="run the batches in this process")
    rec.add_argument("--dry-run", action="store_true", help="count drift, repair nothing")
    rec.add_argument("--page-size", type=int, help="learners per batch (default: the setting)")
    rec.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the run")
    rec.add_argument("--run-id", help="a run id (default: a fresh one)")
    rec.add_argument("--json", action="store_true", help="print the report as JSON")
    rec.add_argument("--stack", type=Path, default=STACK_FILE, help=argparse.SUPPRESS)
    xa = commands.add_parser("xapi", help="a cohort's progress events as xAPI statements")
    xa.add_argument("--cohort", required=True, help="the cohort id")
    xa.add_argument("--pathway", help="only this pathway of the cohort")
    xa.add_argument("--since", help="only events at or after this ISO 8601 time (with offset)")
    xa.add_argument("--batch", type=int, default=100, help="statements per POST (default 100)")
    xa.add_argument("--stack", type=Path, default=STACK_FILE, help=argparse.SUPPRESS)
    _add_cohort_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "xapi":
        return xapi(args)
    if args.command == "cohort":
        try:
            return cohort(args)
        except Exception as exc:
            from shared.errors import AppError

            if isinstance(exc, AppError):
                print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
                return 2
            raise
    return reconcile(args)


if __name__ == "__main__":
    sys.exit(main())
