"""The local cloud: ``python -m localcloud up|down|status``.

``up`` starts, on 127.0.0.1, the official Firestore emulator (enforcing firestore.rules), the storage
backend behind the verifying front, the Cloud Tasks emulator (own venv), the Firebase Auth emulator,
every entry point under functions-framework on its own port and the event bridge; it polls each for
readiness against a deadline, seeds the catalog and demo users, writes ``.local/stack.json``, and
leaves the supervisor running (``localcloud.supervisor``: it starts a function or the bridge again
when it dies). Logs go to ``.local/logs/``. ``down`` stops the supervisor, then every process group
it started, and nothing else. ``status`` shows the processes, their restarts, and the bridge's
pending events, dead letters and catch-ups.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from localcloud import entrypoints, parity

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
LOGS = LOCAL / "logs"
PIDS = LOCAL / "pids.json"
STACK = LOCAL / "stack.json"
KEY_FILE = LOCAL / "signing-key.json"
JOURNAL = LOCAL / "bridge.sqlite"
PROCESSES = LOCAL / "processes.json"  # what the supervisor may start again, and how
RESTARTS = LOCAL / "restarts.json"
HOLD = LOCAL / "hold"
VENV_BIN = Path(sys.executable).parent
TASKS_VENV_BIN = ROOT / ".venv-tasks" / "bin"
FIREBASE_BIN = ROOT / "node_modules" / ".bin" / "firebase"

PROJECT = "demo-aibc"
BUCKET = f"{PROJECT}-submissions"
REGION = "us-central1"
QUEUE = "aibc-default"
HOST = "127.0.0.1"
# The Firestore emulator's JVM heap cap (it grew to 6-7 GB under the 200-learner bench without one).
FIRESTORE_HEAP = os.environ.get("LOCALCLOUD_FIRESTORE_HEAP", "1g")

# LOCALCLOUD_PORT_OFFSET shifts every port, so a second local cloud (a clean clone's `make test`) can
# run beside a developer's `make up`.
PORT_OFFSET = int(os.environ.get("LOCALCLOUD_PORT_OFFSET", "0"))
BASE_PORTS = {
    "firestore": 8180,
    "storage_backend": 9023,
    "storage": 9190,
    "tasks": 9124,
    "auth": 9099,
    "firebase_hub": 4400,
    "firebase_logging": 4500,
    "bridge": 8390,
    "web": 8300,
    "resources": 8301,
    "progress": 8302,
    "uploads": 8303,
    "review": 8304,
    "cohorts": 8305,
    "on_resource_progress_written": 8311,
    "on_module_progress_written": 8312,
    "on_upload_finalized": 8313,
    "task_expire_upload": 8321,
    "task_notify_learner": 8322,
    "task_reevaluate_learners": 8323,
    "task_reconcile": 8324,
    # the cohort dashboard
    "dashboard": 8306,
    "on_dashboard_progress_written": 8314,
    "on_cohort_member_written": 8316,
    "exports": 8307,
}
BASE_PORTS.update({"certificates": 8308, "on_pathway_progress_written": 8315})

PORTS = {name: port + PORT_OFFSET for name, port in BASE_PORTS.items()}

DEMO_USERS = [
    {"localId": "demo-learner", "email": "learner@example.com", "password": "learner-pass-1"},
    {"localId": "demo-learner-2", "email": "learner2@example.com", "password": "learner-pass-2"},
    {
        "localId": "demo-instructor",
        "email": "instructor@example.com",
        "password": "instructor-pass-1",
        "customAttributes": json.dumps({"instructor": True}),
    },
]


class StartError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[localcloud] {message}", flush=True)


# ---- processes ---------------------------------------------------------------------------


def _load_pids() -> dict[str, int]:
    if PIDS.exists():
        data: dict[str, int] = json.loads(PIDS.read_text())
        return data
    return {}


def _save_pids(pids: dict[str, int]) -> None:
    tmp = PIDS.with_suffix(".tmp")
    tmp.write_text(json.dumps(pids, indent=2))
    tmp.replace(PIDS)


@contextlib.contextmanager
def _pids_locked() -> Iterator[None]:
    """``up`` and the supervisor both record pids: one at a time."""
    LOCAL.mkdir(exist_ok=True)
    with (LOCAL / "pids.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    with _pids_locked():
        pids = _load_pids()
        pids[name] = proc.pid
        _save_pids(pids)
    return proc


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def tcp_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def http_ok(url: str, accept: Callable[[requests.Response], bool] | None = None) -> bool:
    try:
        reply = requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return accept(reply) if accept else reply.status_code < 500


def wait_ready(
    name: str, proc: subprocess.Popen[bytes], probe: Callable[[], bool], deadline: float = 90
) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if probe():
            return
        if proc.poll() is not None:
            raise StartError(
                f"{name} exited with {proc.returncode}; see {LOGS / (name + '.log')}:\n"
                + _tail(name)
            )
        time.sleep(0.1)
    raise StartError(
        f"{name} not ready after {deadline}s; see {LOGS / (name + '.log')}:\n" + _tail(name)
    )


def _tail(name: str, lines: int = 25) -> str:
    path = LOGS / f"{name}.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop_group(pid: int, deadline: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop_all() -> None:
    supervisor = _load_pids().get("supervisor")
    if supervisor is not None:  # first, or it would start the others again
        _stop_group(supervisor, time.monotonic() + 10)
    with _pids_locked():
        pids = {k: v for k, v in _load_pids().items() if k != "supervisor"}
    for pid in reversed(list(pids.values())):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        except PermissionError:
            continue
    deadline = time.monotonic() + 20
    for name, pid in pids.items():
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
                say(f"{name} killed")
            except ProcessLookupError:
                pass
    PIDS.unlink(missing_ok=True)
    STACK.unlink(missing_ok=True)
    PROCESSES.unlink(missing_ok=True)


# ---- prerequisites -------------------------------------------------------------------------


def firestore_emulator() -> Path | None:
    """The official emulator's launcher, as ``gcloud emulators firestore start`` runs it.

    It is started directly (not through gcloud) because only the launcher takes
    ``--functions_emulator``: the host the emulator sends Firestore trigger CloudEvents to, which is
    the event bridge.
    """
    roots = []
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.append(Path(gcloud).resolve().parent.parent)
    roots += [Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk")]
    for root in roots:
        launcher = root / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator"
        if launcher.exists():
            return launcher
    return None


def check_prerequisites() -> None:
    problems = []
    if firestore_emulator() is None:
        problems.append(
            "the Cloud Firestore emulator is missing: it comes with the Google Cloud CLI "
            "(https://cloud.google.com/sdk/docs/install): `gcloud components install "
            "cloud-firestore-emulator`, or `apt-get install google-cloud-cli-firestore-emulator`"
        )
    if shutil.which("java") is None:
        problems.append(
            "Java 11+ is needed by the Firestore emulator (e.g. apt-get install openjdk-17-jre)"
        )
    if not FIREBASE_BIN.exists():
        problems.append("firebase-tools is not installed in node_modules: run `make install`")
    if not (TASKS_VENV_BIN / "gcloud-tasks-emulator").exists():
        problems.append("the Cloud Tasks emulator venv is missing: run `make install`")
    if problems:
        raise StartError("missing prerequisites:\n  - " + "\n  - ".join(problems))


def tasks_argv(queue: str) -> list[str]:
    """The local Cloud Tasks (:mod:`localcloud.tasks_emulator`), with the deployed queue's retry and
    rate settings (``deploy.plan.QUEUE_SETTINGS``)."""
    from deploy.plan import QUEUE_SETTINGS

    argv = [str(TASKS_VENV_BIN / "python"), "-m", "localcloud.tasks_emulator"]
    argv += ["--host", HOST, f"--port={PORTS['tasks']}", "--queue", queue, "--quiet"]
    for flag in (
        "max-attempts",
        "min-backoff",
        "max-backoff",
        "max-doublings",
        "max-dispatches-per-second",
        "max-concurrent-dispatches",
    ):
        argv.append(f"--{flag}={QUEUE_SETTINGS[flag]}")
    return argv


# ---- up ------------------------------------------------------------------------------------


def stack_description() -> dict[str, Any]:
    functions = {name: f"http://{HOST}:{PORTS[name]}" for name in entrypoints.ALL}
    return {
        "project_id": PROJECT,
        "bucket": BUCKET,
        "region": REGION,
        "queue": f"projects/{PROJECT}/locations/{REGION}/queues/{QUEUE}",
        "functions": functions,
        "emulators": {
            "firestore": f"{HOST}:{PORTS['firestore']}",
            "storage": f"{HOST}:{PORTS['storage']}",
            "storage_backend": f"{HOST}:{PORTS['storage_backend']}",
            "tasks": f"{HOST}:{PORTS['tasks']}",
            "auth": f"{HOST}:{PORTS['auth']}",
        },
        "bridge": f"http://{HOST}:{PORTS['bridge']}",
        "web": f"http://{HOST}:{PORTS['web']}",
        "signing_key_file": str(KEY_FILE),
        "demo_users": [{k: u[k] for k in ("localId", "email", "password")} for u in DEMO_USERS],
    }


def function_env(stack: dict[str, Any]) -> dict[str, str]:
    emu = stack["emulators"]
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "GCLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": emu["firestore"],
        # Functions use the storage backend directly, as they use Cloud Storage with their own
        # identity; only browsers and curl go through the front, which wants a signed URL.
        "STORAGE_EMULATOR_HOST": f"http://{emu['storage_backend']}",
        "FIREBASE_AUTH_EMULATOR_HOST": emu["auth"],
        "CLOUD_TASKS_EMULATOR_HOST": emu["tasks"],
        "SUBMISSIONS_BUCKET": BUCKET,
        "FUNCTION_REGION": REGION,
        "TASKS_QUEUE": QUEUE,
        "SIGNING_KEY_FILE": str(KEY_FILE),
        "STORAGE_PUBLIC_ENDPOINT": f"http://{emu['storage']}",
        "CORS_ORIGINS": os.environ.get("CORS_ORIGINS", stack["web"]),
        "PYTHONUNBUFFERED": "1",
    }
    for name, url in stack["functions"].items():
        env[f"FUNCTION_URL_{name.upper()}"] = url
    return env


def threads(name: str) -> str:
    """How many requests one local function process serves at once: the deploy's per-instance
    concurrency (deploy/plan.py SIZING, which the deploy also passes as THREADS) times
    ``LOCALCLOUD_INSTANCES`` (default 2), because the one local process stands in for the instances
    Cloud Run would spread a burst over; ``LOCALCLOUD_THREADS`` sets a figure outright.
    (functions-framework's own default, cpu x 4, is 8 here: one learner's burst of 30 would hold
    every thread while everyone else waited in the socket queue.)"""
    if os.environ.get("LOCALCLOUD_THREADS"):
        return str(int(os.environ["LOCALCLOUD_THREADS"]))
    from deploy.plan import SIZING

    kind = "http" if name in entrypoints.HTTP else "task" if name in entrypoints.TASKS else "event"
    instances = int(os.environ.get("LOCALCLOUD_INSTANCES", "2"))
    return str(int(SIZING[kind]["concurrency"]) * instances)


def function_command(name: str, kind: str, runtime: parity.Runtime | None = None) -> list[str]:
    """The command that serves one entry point on its port (the supervisor reuses it): from the
    staged source in the runtime-only venv (production parity), else from the checkout."""
    if runtime is not None:
        return runtime.command(name, kind, HOST, PORTS[name])
    return [
        str(VENV_BIN / "functions-framework"),
        "--target",
        name,
        "--source",
        os.environ.get("LOCALCLOUD_SOURCE", str(ROOT / "main.py")),
        "--signature-type",
        kind,
        "--host",
        HOST,
        "--port",
        str(PORTS[name]),
    ]


def up(*, duplicate: bool = False, web: bool = True) -> dict[str, Any]:
    check_prerequisites()
    if _load_pids():
        say("a previous local cloud is recorded: stopping it first")
        stop_all()
    busy = [f"{name}={port}" for name, port in PORTS.items() if not port_free(port)]
    if busy:
        raise StartError(
            f"ports in use (stop whatever holds them, or `make down`): {', '.join(busy)}"
        )
    LOCAL.mkdir(exist_ok=True)
    shutil.rmtree(LOGS, ignore_errors=True)
    shutil.rmtree(HOLD, ignore_errors=True)
    LOGS.mkdir(parents=True)
    journal_files = [JOURNAL.with_name(JOURNAL.name + suffix) for suffix in ("", "-wal", "-shm")]
    for stale in (*journal_files, RESTARTS, PROCESSES):
        stale.unlink(missing_ok=True)
    restartable: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    # Production parity (before anything starts): the staged source in a runtime-only venv.
    runtime = parity.prepare(say=say) if parity.enabled() else None  # localcloud/parity.py
    from localcloud.signing import ensure_signing_key

    ensure_signing_key(KEY_FILE, project_id=PROJECT)
    stack = stack_description()
    env = function_env(stack)
    emu = stack["emulators"]

    # Emulators first, all at once; then wait for each.
    procs = {
        "firestore": spawn(
            "firestore",
            [
                str(firestore_emulator()),
                "start",
                f"--host={HOST}",
                f"--port={PORTS['firestore']}",
                f"--rules={ROOT / 'firestore.rules'}",
                f"--functions_emulator={HOST}:{PORTS['bridge']}",
            ],
            # The launcher runs `${JAVA} <flags> -cp ...`, unquoted: the cap shows in `ps`.
            env={"JAVA": f"{shutil.which('java') or 'java'} -Xmx{FIRESTORE_HEAP}"},
        ),
        "storage_backend": spawn(
            "storage_backend",
            [
                sys.executable,
                "-m",
                "localcloud.storage_backend",
                "--host",
                HOST,
                "--port",
                str(PORTS["storage_backend"]),
                "--default-bucket",
                BUCKET,
            ],
        ),
        "tasks": spawn("tasks", tasks_argv(stack["queue"])),
        "auth": spawn(
            "auth",
            [
                str(FIREBASE_BIN),
                "emulators:start",
                "--only",
                "auth",
                "--project",
                PROJECT,
                "--config",
                str(write_firebase_config()),
            ],
            env={"NO_UPDATE_NOTIFIER": "1", "FIREBASE_CLI_EXPERIMENTS": "", "CI": "1"},
        ),
    }
    wait_ready("firestore", procs["firestore"], lambda: http_ok(f"http://{emu['firestore']}/"))
    wait_ready(
        "storage_backend",
        procs["storage_backend"],
        lambda: http_ok(f"http://{emu['storage_backend']}/storage/v1/b"),
    )
    restartable["storage"] = {
        "env": {},
        "argv": [
            sys.executable,
            "-m",
            "localcloud.gcs_front",
            "--port",
            str(PORTS["storage"]),
            "--upstream",
            f"http://{emu['storage_backend']}",
            "--key-file",
            str(KEY_FILE),
            "--cors-origins",
            env["CORS_ORIGINS"],
        ],
    }
    procs["storage"] = spawn("storage", **restartable["storage"])
    wait_ready("storage", procs["storage"], lambda: http_ok(f"http://{emu['storage']}/_health"))
    wait_ready("tasks", procs["tasks"], lambda: tcp_open(PORTS["tasks"]))
    wait_ready("auth", procs["auth"], lambda: http_ok(f"http://{emu['auth']}/"), deadline=120)
    say(f"emulators ready in {time.monotonic() - started:.1f}s")

    # Functions, all at once.
    kinds = {name: "http" for name in entrypoints.HTTP + entrypoints.TASKS}
    kinds.update({name: "cloudevent" for name in entrypoints.FIRESTORE_TRIGGERS})
    kinds.update({name: "cloudevent" for name in entrypoints.STORAGE_TRIGGERS})
    for name, kind in kinds.items():
        restartable[name] = {
            "argv": function_command(name, kind, runtime),
            "env": {**env, "K_SERVICE": name, "FUNCTION_TARGET": name, "THREADS": threads(name)},
        }
        procs[name] = spawn(name, **restartable[name])
    for name in kinds:
        port = PORTS[name]
        wait_ready(name, procs[name], functools.partial(tcp_open, port))
    say(f"{len(kinds)} functions ready in {time.monotonic() - started:.1f}s")

    # Seed the catalog and the demo users, then start the bridge on the written stack.
    os.environ.update(env)
    seed = subprocess.run(
        [sys.executable, "-m", "seed.load", "--quiet"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=False,
    )
    if seed.returncode != 0:
        raise StartError("seeding the catalog failed")
    seed_users(emu["auth"])
    STACK.write_text(json.dumps(stack, indent=2))
    seed_demo_cohort(env)
    bridge_argv = [
        sys.executable,
        "-m",
        "localcloud.bridge",
        "--port",
        str(PORTS["bridge"]),
        "--stack",
        str(STACK),
        "--journal",
        str(JOURNAL),
    ]
    if duplicate:
        bridge_argv.append("--duplicate")
    restartable["bridge"] = {"argv": bridge_argv, "env": env}
    procs["bridge"] = spawn("bridge", **restartable["bridge"])
    wait_ready("bridge", procs["bridge"], lambda: http_ok(f"{stack['bridge']}/health"))

    if web and (ROOT / "web" / "serve.py").exists():
        restartable["web"] = {
            "argv": [sys.executable, str(ROOT / "web" / "serve.py"), "--port", str(PORTS["web"])],
            "env": env,
        }
        procs["web"] = spawn("web", **restartable["web"])
        wait_ready("web", procs["web"], lambda: http_ok(stack["web"]))
    else:
        stack.pop("web", None)
        STACK.write_text(json.dumps(stack, indent=2))
    PROCESSES.write_text(json.dumps(restartable, indent=2))
    spawn("supervisor", [sys.executable, "-m", "localcloud.supervisor"])
    say(
        f"local cloud up in {time.monotonic() - started:.1f}s; described in {STACK.relative_to(ROOT)}"
    )
    if "web" in stack:
        say(f"web page: {stack['web']}  (sign in as learner@example.com / learner-pass-1)")
    return stack


def write_firebase_config() -> Path:
    """firebase.json for the Auth emulator with this local cloud's ports (the checked-in
    firebase.json keeps the default ones, for anyone running firebase-tools by hand)."""
    config = json.loads((ROOT / "firebase.json").read_text())
    emulators = config.setdefault("emulators", {})
    for key, port in (("auth", "auth"), ("hub", "firebase_hub"), ("logging", "firebase_logging")):
        emulators[key] = {"host": HOST, "port": PORTS[port]}
    for section in ("firestore", "storage"):
        for key, value in list(config.get(section, {}).items()):
            config[section][key] = str(ROOT / value)
    path = LOCAL / "firebase.json"
    path.write_text(json.dumps(config, indent=2))
    return path


DEMO_COHORT = "demo-cohort"


def seed_demo_cohort(env: dict[str, str]) -> None:
    """The demo learners in a demo cohort taught by the demo instructor (``python -m ops cohort``;
    idempotent), so the instructor's queue shows them."""
    ops = [sys.executable, "-m", "ops", "cohort"]
    steps = [
        [
            *ops,
            "create",
            DEMO_COHORT,
            "--name",
            "Demo cohort",
            "--all-pathways",
            "--instructor",
            "demo-instructor",
        ],
        [
            *ops,
            "add",
            DEMO_COHORT,
            *(u["localId"] for u in DEMO_USERS if "customAttributes" not in u),
        ],
    ]
    for argv in steps:
        done = subprocess.run(
            argv, cwd=ROOT, env={**os.environ, **env}, check=False, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise StartError(f"seeding the demo cohort failed: {done.stderr.strip()[-500:]}")


def seed_users(auth_host: str) -> None:
    """Demo users in the Auth emulator (idempotent: existing users are updated)."""
    base = f"http://{auth_host}/identitytoolkit.googleapis.com/v1/projects/{PROJECT}"
    headers = {"Authorization": "Bearer owner"}
    for user in DEMO_USERS:
        reply = requests.post(f"{base}/accounts", json=user, headers=headers, timeout=10)
        if (
            reply.status_code >= 400
            and "DUPLICATE" not in reply.text
            and "EXISTS" not in reply.text
        ):
            raise StartError(f"could not create demo user {user['email']}: {reply.text}")
        reply = requests.post(f"{base}/accounts:update", json=user, headers=headers, timeout=10)
        if reply.status_code >= 400:
            raise StartError(f"could not update demo user {user['email']}: {reply.text}")


def status() -> int:
    pids = _load_pids()
    if not pids:
        say("not running")
        return 1
    alive = 0
    restarts: dict[str, Any] = json.loads(RESTARTS.read_text()) if RESTARTS.exists() else {}
    for name, pid in pids.items():
        try:
            os.killpg(pid, 0)
            state = "up"
            alive += 1
        except ProcessLookupError:
            state = "DOWN"
        port = PORTS.get(name, "-")
        restarted = restarts.get(name, {}).get("count", 0)
        note = f"  (restarted {restarted}x, last {restarts[name]['last']})" if restarted else ""
        say(f"{name:32} pid {pid:<8} port {port}  {state}{note}")
    bridge_status()
    return 0 if alive == len(pids) else 1


def bridge_status() -> None:
    """The bridge's journal: pending events, the dead-letter list, what was caught up."""
    from localcloud.journal import summary

    found = summary(JOURNAL)
    if found is None:
        say("bridge: no journal")
        return
    dead = found["dead_letters"]
    say(
        f"bridge: {found['pending']} pending, {len(dead)} dead-lettered, "
        f"{found['restarts']} restart(s)"
    )
    for entry in dead[:20]:
        say(
            f"  dead letter #{entry['id']}: {entry['type']} {entry['subject']} -> "
            f"{entry['target']}, {entry['attempts']} attempts, last error: {entry['last_error']}"
        )
    if len(dead) > 20:
        say(f"  ... and {len(dead) - 20} more (GET /deadletter on the bridge)")
    for record in found["catchups"]:
        at = time.strftime("%H:%M:%S", time.localtime(record["at"]))
        if record["kind"] == "storage":
            say(f"  caught up at {at}: {record['events']} storage finalize event(s)")
        else:
            status = record.get("status")
            reason = record.get("reason") or " ".join(record.get("command", []))
            last = (record.get("output") or [""])[-1]
            say(f"  caught up at {at}: firestore ({status}: {reason}){'  ' + last if last else ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcloud", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the local cloud")
    p_up.add_argument("--duplicate", action="store_true", help="bridge delivers every event twice")
    p_up.add_argument("--no-web", action="store_true")
    sub.add_parser("down", help="stop everything the local cloud started")
    sub.add_parser("status")
    args = parser.parse_args(argv)
    if args.command == "up":
        try:
            up(duplicate=args.duplicate, web=not args.no_web)
        except StartError as exc:
            say(f"error: {exc}")
            say("stopping what was started")
            stop_all()
            return 1
        return 0
    if args.command == "down":
        stop_all()
        say("stopped")
        return 0
    return status()


if __name__ == "__main__":
    raise SystemExit(main())
