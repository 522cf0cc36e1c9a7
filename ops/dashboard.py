"""Operator command for the cohort dashboard's aggregates.

    python -m ops.dashboard verify --cohort C [--pathway P] [--repair] [--json]

Recounts the cohort's dashboard from scratch (every member's progress and profile, read by key) and
compares it with the rows, the counter shards and the live awaiting-review count the triggers keep
(``shared.services.dashboard.verify``); prints what differs and exits 1 when anything does.
``--repair`` then syncs the rows that differ through the triggers' own transaction and corrects
the counters to the sum of the rows (``shared.services.dashboard.repair``: run it while the
cohort is quiet, then verify again). Where: as ``python -m ops reconcile`` (the local cloud of
``.local/stack.json``, or ``GOOGLE_CLOUD_PROJECT``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ops.__main__ import configure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="recount a cohort's dashboard and compare")
    verify.add_argument("--cohort", required=True)
    verify.add_argument("--pathway", help="one pathway (default: every pathway of the cohort)")
    verify.add_argument("--repair", action="store_true", help="sync the rows that differ")
    verify.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    where = configure()

    from shared.adapters.dashboard_store import FirestoreDashboardStore
    from shared.adapters.progress_store import FirestoreCatalog
    from shared.services import dashboard

    store, catalog = FirestoreDashboardStore(), FirestoreCatalog()
    cohort = store.cohort(args.cohort)
    if cohort is None:
        print(f"no cohort {args.cohort} in {where}", file=sys.stderr)
        return 2
    drifted = 0
    report: list[dict[str, Any]] = []
    for pid in [args.pathway] if args.pathway else cohort.pathway_ids:
        shape = dashboard.shape_of(catalog, pid)
        if shape is None:
            print(f"unknown pathway {pid}", file=sys.stderr)
            return 2
        drift = dashboard.verify(store, shape, cohort.cohort_id)
        fixed = (
            dashboard.repair(store, shape, cohort.cohort_id, drift.rows_off)
            if args.repair and drift.total
            else dashboard.Repaired(0, {})
        )
        drifted += drift.total
        report.append(
            {
                "pathway_id": pid,
                "learners": drift.learners,
                "rows_off": drift.rows_off,
                "counters_off": {k: list(v) for k, v in drift.counters_off.items()},
                "live_off": list(drift.live_off) if drift.live_off else None,
                "rows_repaired": fixed.rows,
                "counters_corrected": fixed.counters,
            }
        )
    if args.json:
        print(json.dumps({"cohort_id": cohort.cohort_id, "where": where, "pathways": report}))
    else:
        for r in report:
            print(
                f"{cohort.cohort_id} / {r['pathway_id']}: {r['learners']} learners; rows off "
                f"{len(r['rows_off'])}, counters off {len(r['counters_off'])}, live count off "
                f"{r['live_off'] is not None}; rows repaired {r['rows_repaired']}, counters corrected "
                f"{len(r['counters_corrected'])}"
            )
    return 1 if drifted else 0


if __name__ == "__main__":
    raise SystemExit(main())
