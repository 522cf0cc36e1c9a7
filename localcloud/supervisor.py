"""The local cloud's supervisor: a function instance (or the bridge) that died is started again.

On the platform a crashed function instance is replaced and Eventarc keeps its queue; here
``make up`` leaves this process running beside the local cloud. Every half second it checks the
processes named in ``.local/processes.json`` (the functions, the event bridge, the storage front
and the web page: everything whose state is elsewhere) and starts again, with the same command and
environment, any whose process is gone. The emulators are not restarted (they keep their data in
memory; ``make status`` shows them DOWN). Restarts are counted in ``.local/restarts.json``.

A file ``.local/hold/<name>`` holds back the restart of ``<name>`` while it exists (tests keep the
bridge down for a few seconds this way). ``make down`` stops the supervisor first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from localcloud import __main__ as lc

SPECS = lc.LOCAL / "processes.json"
RESTARTS = lc.LOCAL / "restarts.json"
HOLD = lc.LOCAL / "hold"
INTERVAL = 0.5


def alive(pid: int) -> bool:
    """Is ``pid`` a live process (not gone, not a zombie)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def restart_delay(recent: int) -> float:
    """Crash loops back off: 0 s for the first restart in a minute, then 1, 2, 4... up to 30 s."""
    return 0.0 if recent == 0 else float(min(30, 2 ** (recent - 1)))


def held(name: str) -> bool:
    return (HOLD / name).exists()


def record(name: str, pid: int) -> None:
    restarts: dict[str, Any] = json.loads(RESTARTS.read_text()) if RESTARTS.exists() else {}
    entry = restarts.setdefault(name, {"count": 0})
    entry["count"] += 1
    entry["last"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entry["pid"] = pid
    tmp = RESTARTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(restarts, indent=2))
    tmp.replace(RESTARTS)


STOP = threading.Event()


def _stop(signum: int, frame: FrameType | None) -> None:
    """``make down``: finish the restart in hand (its pid recorded, so down stops it), then exit."""
    STOP.set()


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    specs: dict[str, dict[str, Any]] = json.loads(SPECS.read_text())
    children: dict[str, Any] = {}
    history: dict[str, list[float]] = {}
    lc.say(f"supervisor: watching {', '.join(specs)}")
    while not STOP.wait(INTERVAL):
        pids = lc._load_pids()
        for name, spec in specs.items():
            if STOP.is_set():
                break
            pid = pids.get(name)
            child = children.get(name)
            if child is not None:
                child.poll()  # reap our own children, so a dead one is not a zombie
            if pid is not None and alive(pid):
                continue
            if held(name):
                continue
            now = time.monotonic()
            recent = [t for t in history.get(name, []) if now - t < 60]
            if recent and now - recent[-1] < restart_delay(len(recent)):
                continue
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)  # whatever is left of its process group
            proc = lc.spawn(name, spec["argv"], env=spec["env"])
            children[name] = proc
            history[name] = [*recent, now]
            record(name, proc.pid)
            lc.say(f"supervisor: {name} had died; started again as pid {proc.pid}")


if __name__ == "__main__":
    main()
