"""Certificates benchmark (prints numbers; not a test). Needs the local cloud (`make up`).

    python -m bench.bench_certificates                     # 40 learners
    make bench-certificates BENCH_ARGS="--learners 20 --faults"

1. N learners complete the prompt-engineering pathway at once (the three check-offs through
   ``progress``, the two uploads recorded in Firestore as the upload flow records them); for each,
   the time from its last action's reply to its certificate's link being ``valid`` (two rollup
   hops and the certificate trigger through the event bridge), and the number of live
   certificates per learner once the bridge is idle (must be exactly 1). ``--faults``: the bridge
   delivers every event twice and holds each 0-2 s.
2. The public verification route: ``--verifies`` GETs of issued ids from 8 threads (p50 / p95), and
   as many of made-up ids.
3. The PDF: the first render of 10 certificates, the same 10 again (the process's cache), and 8
   different ones requested at once (how many the per-process bound turned into 503).

Measured on 2026-11-25 (local cloud, 2 cores shared with other local clouds): 40 learners, no
faults: 40 of 40 issued, last action -> certificate valid p50 4.8 s / p95 6.3 s (three trigger hops
through the bridge), 0 learners without exactly one live certificate; verification p50 21 ms /
p95 47 ms (unknown ids p50 15 ms / p95 40 ms); PDF first render p50 6 ms, cached p50 4 ms.
30 learners with ``--faults``: 30 of 30, p50 10.9 s / p95 12.9 s, 0 without exactly one; 8 PDFs at
once 8 x 200.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.bench_progress import load_stack, pct, record_uploads
from localcloud.bridge_client import BridgeClient
from localcloud.tokens import mint

ROOT = Path(__file__).resolve().parent.parent
PATHWAY = "prompt-engineering"
CHECKED = [f"{PATHWAY}-m1-{k}" for k in ("video", "article", "quiz")]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:.0f} ms / p95 {pct(values, 95) * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--verifies", type=int, default=400)
    parser.add_argument("--faults", action="store_true", help="duplicate and reorder every event")
    args = parser.parse_args(argv)
    stack = load_stack(ROOT / ".local" / "stack.json")
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = firestore.Client(project=stack["project_id"])
    progress, certs = stack["functions"]["progress"], stack["functions"]["certificates"]
    bridge = BridgeClient(stack["bridge"])
    if args.faults:
        bridge.configure(duplicate=True, reorder={"window": 2})
    run = uuid.uuid4().hex[:8]
    uids = [f"bcert-{run}-{n}" for n in range(args.learners)]
    done_at: dict[str, float] = {}
    issued_at: dict[str, float] = {}
    lock = threading.Lock()

    def journey(uid: str) -> None:
        token = mint(uid, extra={"name": f"Bench {uid}"})
        session = requests.Session()
        record_uploads(db, uid)
        for rid in CHECKED:
            reply = session.post(
                f"{progress}/users/me/resources/{rid}/complete",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            reply.raise_for_status()
        with lock:
            done_at[uid] = time.monotonic()

    try:
        print(f"[1] {args.learners} learners complete {PATHWAY} at once (faults: {args.faults})")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(journey, uids))
        deadline = time.monotonic() + 300
        while len(issued_at) < len(uids) and time.monotonic() < deadline:
            for uid in uids:
                if uid in issued_at:
                    continue
                snap = db.document(f"users/{uid}/certificates/{PATHWAY}").get()
                if snap.exists and (snap.to_dict() or {}).get("status") == "valid":
                    issued_at[uid] = time.monotonic()
            time.sleep(0.2)
        lag = [issued_at[u] - done_at[u] for u in uids if u in issued_at]
        print(f"    certificates issued: {len(issued_at)} of {len(uids)}")
        print(f"    last action -> certificate valid: {ms(lag)} (polled every 0.2 s)")
        bridge.wait_idle(quiet=3.0, timeout=300)
        live_counts = []
        ids: list[str] = []
        for uid in uids:
            query = db.collection("certificates").where(filter=FieldFilter("uid", "==", uid))
            live = [s.id for s in query.stream() if (s.to_dict() or {}).get("revoked_at") is None]
            live_counts.append(len(live))
            ids.extend(live)
        wrong = sum(1 for n in live_counts if n != 1)
        print(f"    learners without exactly one live certificate: {wrong}")
    finally:
        if args.faults:
            bridge.reset()

    print(f"[2] {args.verifies} public verifications from 8 threads, and {args.verifies} unknown")
    local = threading.local()

    def get(url: str) -> tuple[float, int]:
        if not hasattr(local, "s"):
            local.s = requests.Session()
        t0 = time.monotonic()
        reply = local.s.get(url, timeout=60)
        return time.monotonic() - t0, reply.status_code

    urls = [f"{certs}/certificates/{ids[n % len(ids)]}" for n in range(args.verifies)]
    with ThreadPoolExecutor(8) as pool:
        known = list(pool.map(get, urls))
        unknown = list(pool.map(get, [f"{certs}/certificates/x{uuid.uuid4().hex}" for _ in urls]))
    print(f"    known: {ms([t for t, _ in known])}; statuses {sorted({s for _, s in known})}")
    print(f"    unknown: {ms([t for t, _ in unknown])}; statuses {sorted({s for _, s in unknown})}")

    print("[3] PDFs")
    first = [get(f"{certs}/certificates/{cid}.pdf") for cid in ids[:10]]
    again = [get(f"{certs}/certificates/{cid}.pdf") for cid in ids[:10]]
    print(f"    first render: {ms([t for t, _ in first])}; cached: {ms([t for t, _ in again])}")
    with ThreadPoolExecutor(8) as pool:
        burst = list(pool.map(get, [f"{certs}/certificates/{cid}.pdf" for cid in ids[10:18]]))
    codes = [s for _, s in burst]
    print(
        f"    8 different PDFs at once: {codes.count(200)} x 200, {codes.count(503)} x 503; "
        f"{ms([t for t, _ in burst])}"
    )
    return 0 if wrong == 0 and len(issued_at) == len(uids) else 1


if __name__ == "__main__":
    raise SystemExit(main())
