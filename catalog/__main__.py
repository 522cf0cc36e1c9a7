"""``python -m catalog {check,plan,apply}``: the catalog as code (see ``catalog/__init__.py``).

    python -m catalog check  [--dir D]
    python -m catalog plan   [--dir D] [--prune [--prune-only ID ...]] [--json]
    python -m catalog apply  [--dir D] [--prune [--prune-only ID ...]] [--json] [--no-reevaluate]
                             [--wait] [--page-size N]

``--prune`` retires the stored pathways the files no longer name (``--prune-only``: only those
named): kept with their modules and resources, no longer offered, their learners' rollups marked
retired by a re-evaluation run; nothing a learner did is deleted (``catalog/plan.py``).

Where: the running local cloud (``.local/stack.json``, ``make up``), or with ``GOOGLE_CLOUD_PROJECT``
(and Application Default Credentials) that project, as ``python -m ops`` finds them. Exit codes:
0 done, 1 the files are invalid (every problem printed, nothing written), 2 nowhere to write,
3 ``--wait`` timed out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from catalog import files, plan, store


def _where(args: argparse.Namespace) -> str:
    from ops.__main__ import configure

    return configure(args.stack)


def _db() -> Any:
    from shared.adapters.firestore import client

    return client()


def render(p: plan.Plan, moved: list[int]) -> str:
    if not p.changes and p.empty:
        lines = ["no changes"]
    else:
        lines = [f"{'level':9}{'change':10}{'id':40}{'learners':>9}  detail"]
        for change, n in zip(p.changes, moved, strict=True):
            mark = "" if change.counts else " (display only)"
            lines.append(
                f"{change.level:9}{change.kind:10}{change.id:40}{n:>9}  {change.detail}{mark}"
            )
        lines.append(f"{len(p.writes)} documents to write, {len(p.deletes)} to delete")
        for scanned, also in p.runs.items():
            extra = f" (and recount {', '.join(also)})" if also else ""
            lines.append(f"re-evaluate the learners of {scanned}{extra}")
    for pid in p.unmanaged:
        lines.append(f"pathway {pid} is stored but not in the files: left alone (--prune retires)")
    return "\n".join(lines)


def _plan(args: argparse.Namespace) -> tuple[plan.Plan, list[int], Any]:
    desired = files.read_dir(args.dir)
    db = _db()
    stored = store.read_stored(db, desired, prune=args.prune)
    p = plan.plan(desired, stored, prune=args.prune, prune_only=args.prune_only)
    moved = [store.learners_moved(db, c) for c in p.changes]
    return p, moved, db


def _as_json(p: plan.Plan, moved: list[int]) -> dict[str, Any]:
    return {
        "changes": [
            {
                "level": c.level,
                "kind": c.kind,
                "id": c.id,
                "detail": c.detail,
                "counts": c.counts,
                "learners": n,
            }
            for c, n in zip(p.changes, moved, strict=True)
        ],
        "writes": len(p.writes),
        "deletes": len(p.deletes),
        "runs": p.runs,
        "unmanaged": p.unmanaged,
    }


def _wait(run_ids: list[str], timeout: float) -> bool:
    from shared.bootstrap import deps

    runs = deps().runs
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    while pending and time.monotonic() < deadline:
        for rid in sorted(pending):
            if runs.is_done(rid):
                pending.discard(rid)
        if pending:
            time.sleep(0.3)
    return not pending


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "plan", "apply"):
        cmd = commands.add_parser(name)
        cmd.add_argument("--dir", type=Path, default=files.PATHWAYS, help="the pathway files")
        cmd.add_argument("--stack", type=Path, default=None, help=argparse.SUPPRESS)
        if name != "check":
            cmd.add_argument("--prune", action="store_true", help="retire unnamed pathways")
            cmd.add_argument(
                "--prune-only",
                action="append",
                default=None,
                metavar="ID",
                help="with --prune: retire only this pathway (repeatable)",
            )
            cmd.add_argument("--json", action="store_true", help="print JSON")
        if name == "apply":
            cmd.add_argument("--no-reevaluate", action="store_true", help="enqueue nothing")
            cmd.add_argument("--wait", action="store_true", help="wait for the re-evaluation")
            cmd.add_argument("--timeout", type=float, default=1800.0)
            cmd.add_argument("--page-size", type=int, default=None, help="learners per batch")
    args = parser.parse_args(argv)
    if getattr(args, "prune_only", None) and not args.prune:
        parser.error("--prune-only needs --prune")
    if args.stack is None:
        from ops.__main__ import STACK_FILE

        args.stack = STACK_FILE
    try:
        if args.command == "check":
            found = files.read_dir(args.dir)
            print(
                f"catalog: {len(found.pathways)} pathways, {len(found.modules)} modules, "
                f"{len(found.resources)} resources: valid"
            )
            return 0
        try:
            where = _where(args)
        except SystemExit as exc:
            print(f"catalog: {exc}", file=sys.stderr)
            return 2
        print(f"catalog: {args.command} on {where}", file=sys.stderr)
        p, moved, db = _plan(args)
    except files.CatalogError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"catalog: {len(exc.problems)} problem(s); nothing written", file=sys.stderr)
        return 1
    out: dict[str, Any] = _as_json(p, moved)
    if args.command == "plan":
        print(json.dumps(out) if args.json else render(p, moved))
        return 0
    started = time.monotonic()
    written, version = store.write(db, p)
    runs: list[str] = []
    if written and p.runs and not args.no_reevaluate:
        runs = store.enqueue_reevaluation(p, version, page_size=args.page_size)
    out |= {"written": written, "version": version, "reevaluation_runs": runs}
    done = True
    if args.wait and runs:
        done = _wait(runs, args.timeout)
        out["reevaluated_seconds"] = round(time.monotonic() - started, 2)
        out["reevaluated"] = done
    if args.json:
        print(json.dumps(out))
    else:
        print(render(p, moved))
        print(f"{written} documents written; catalog version {version}")
        for rid in runs:
            print(f"re-evaluation run {rid} enqueued (python -m ops reconcile reports runs)")
        if "reevaluated_seconds" in out:
            state = "done" if done else "NOT done"
            print(f"re-evaluation {state} after {out['reevaluated_seconds']} s")
    return 0 if done else 3


if __name__ == "__main__":
    sys.exit(main())
