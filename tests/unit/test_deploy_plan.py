"""The deploy plan, read back the way a reviewer reads it: as shell commands (``shlex``).

What is asserted: every entry point is deployed once, as a 2nd gen Python 3.11 function with its own
trigger and the runtime service account; the four public APIs are public and nothing else is; no
broad role is granted, storage roles sit on the bucket, run.invoker on single functions; rules and
indexes are deployed; the dry run needs no credentials, no network and no gcloud; every gcloud flag
the plan uses exists in the installed gcloud; the uploaded source is self-contained.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy import files
from deploy.plan import (
    FIREBASE,
    LIFECYCLE_FILE,
    QUEUE_SETTINGS,
    ROLE_SCOPES,
    RUNTIME,
    Config,
    Step,
    build_plan,
    render,
)
from deploy.run import DeployError, execute, run_step
from functions import registry

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "aibc-plan-test"
REGION = "europe-west1"
NUMBER = "123456789012"
CONFIG = Config.make(PROJECT, REGION, project_number=NUMBER)
RUNTIME_SA = f"aibc-functions@{PROJECT}.iam.gserviceaccount.com"
INVOKER_SA = f"aibc-tasks-invoker@{PROJECT}.iam.gserviceaccount.com"
EVENTS_SA = f"aibc-events@{PROJECT}.iam.gserviceaccount.com"
BUILD_SA = f"aibc-build@{PROJECT}.iam.gserviceaccount.com"
GCS_AGENT = f"service-{NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
BUCKET = f"{PROJECT}-submissions"

# Roles that must never appear, whatever the scope.
BROAD_ROLES = {
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/storage.admin",
    "roles/storage.objectAdmin",
    "roles/datastore.owner",
    "roles/firebase.admin",
    "roles/run.admin",
    "roles/cloudfunctions.admin",
    "roles/cloudtasks.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/pubsub.admin",
    "roles/eventarc.admin",
}


def parse(text: str) -> list[list[str]]:
    """Every command of every non-comment line; trailing ``# ...`` comments dropped. A guarded
    line ``CHECK | grep -q . || COMMAND`` yields CHECK and COMMAND."""
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, "||"] if words else []:
            if word in {"|", "||"}:
                if current and current[0] != "grep":
                    commands.append(current)
                current = []
            else:
                current.append(word)
    return commands


PLAN_TEXT = render(build_plan(CONFIG), CONFIG)
COMMANDS = parse(PLAN_TEXT)


def flags(argv: list[str]) -> dict[str, list[str]]:
    """``--name=value`` and bare ``--switch`` (value "") by name; repeated flags keep every value."""
    out: dict[str, list[str]] = {}
    for word in argv:
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            out.setdefault(name, []).append(value)
    return out


def one(argv: list[str], name: str) -> str:
    values = flags(argv)[name]
    assert len(values) == 1, (name, values)
    return values[0]


def deploys() -> dict[str, list[str]]:
    found = [c for c in COMMANDS if c[:3] == ["gcloud", "functions", "deploy"]]
    names = [c[3] for c in found]
    assert len(names) == len(set(names)), Counter(names)
    return {c[3]: c for c in found}


def env_of(argv: list[str]) -> dict[str, str]:
    raw = one(argv, "set-env-vars")
    assert raw.startswith("^;^"), raw
    return dict(item.split("=", 1) for item in raw[3:].split(";"))


def bindings() -> Iterator[tuple[str, str, str, str]]:
    """(scope, resource, member, role) of every grant in the plan."""
    for c in COMMANDS:
        if c[0] != "gcloud":
            continue
        if c[1:3] == ["projects", "add-iam-policy-binding"]:
            yield "project", c[3], one(c, "member"), one(c, "role")
        elif c[1:4] == ["storage", "buckets", "add-iam-policy-binding"]:
            yield "bucket", c[4], one(c, "member"), one(c, "role")
        elif c[1:4] == ["iam", "service-accounts", "add-iam-policy-binding"]:
            yield "service-account", c[4], one(c, "member"), one(c, "role")
        elif c[1:4] == ["tasks", "queues", "add-iam-policy-binding"]:
            yield "queue", c[4], one(c, "member"), one(c, "role")
        elif c[1:3] == ["functions", "add-invoker-policy-binding"]:
            yield "function", c[3], one(c, "member"), "roles/run.invoker"
        else:
            assert "iam-policy" not in " ".join(c[:4]), f"unclassified grant: {c[:5]}"


# ---- the dry run ----------------------------------------------------------------------------


def test_dry_run_needs_no_credentials_no_network_and_no_gcloud(tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {
        "PATH": str(empty_bin),  # no gcloud, no firebase, no node: the dry run must not call them
        "HOME": str(tmp_path / "home"),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "HTTPS_PROXY": "http://127.0.0.1:9",  # any HTTPS attempt would fail
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    project = "aibc-dryrun-check"
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "--project", project, "--region", REGION, "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    config = Config.make(project, REGION)
    plan = render(build_plan(config), config)
    assert done.stdout.startswith(plan)
    # Then the staged source, file by file (staged into a temporary directory, then removed).
    listed = [line.removeprefix("#   ") for line in done.stdout[len(plan) :].splitlines()[1:]]
    assert listed == sorted(str(path) for path in files.runtime_sources())
    assert "PROJECT_NUMBER" in done.stdout  # unknown without --project-number, and said so
    assert not (ROOT / ".local" / "deploy" / project).exists()  # it wrote nothing
    assert not (tmp_path / "gcloud").exists()


def test_plan_is_deterministic_and_every_line_parses() -> None:
    assert render(build_plan(CONFIG), CONFIG) == PLAN_TEXT
    for line in PLAN_TEXT.splitlines():
        if line and not line.startswith("#"):
            assert parse(line), line
    assert all(c[0] in {"gcloud", FIREBASE, "python3"} for c in COMMANDS)


def test_bad_arguments_are_refused() -> None:
    for bad in ({"project": "Bad_Project"}, {"project": "x"}, {"region": "us central"}):
        args = {"project": PROJECT, "region": REGION, **bad}
        with pytest.raises(ValueError, match="not a"):
            Config.make(args["project"], args["region"])
    with pytest.raises(ValueError, match="CORS origin"):
        Config.make(PROJECT, REGION, cors_origins=["https://a.example/path"])


# ---- functions ------------------------------------------------------------------------------


def test_every_entry_point_is_deployed_exactly_once() -> None:
    assert sorted(deploys()) == sorted(registry.ALL)
    assert len(registry.ALL) == len(set(registry.ALL))


def test_runtime_is_gen2_python_of_the_local_cloud() -> None:
    local = f"python{sys.version_info.major}{sys.version_info.minor}"
    assert local == RUNTIME, "the deploy runtime must match the interpreter the tests run on"
    for name, argv in deploys().items():
        assert "--gen2" in argv, name
        assert one(argv, "runtime") == RUNTIME
        assert one(argv, "entry-point") == name
        assert one(argv, "region") == REGION
        assert one(argv, "source") == CONFIG.source_dir
        assert "ignore-file" not in flags(argv)


def test_the_functions_are_deployed_from_a_freshly_staged_source() -> None:
    """The staging step runs before the first deploy and writes the directory every deploy
    uploads (tests/deploy/test_uploaded_source.py zips it with gcloud's own code)."""
    (stage,) = [c for c in COMMANDS if c[:4] == ["python3", "-m", "deploy.files", "source"]]
    assert stage[stage.index("--out") + 1] == CONFIG.source_dir
    first_deploy = min(
        i for i, c in enumerate(COMMANDS) if c[:3] == ["gcloud", "functions", "deploy"]
    )
    assert COMMANDS.index(stage) < first_deploy
    assert CONFIG.source_dir.startswith(".local/")  # ignored by git, never committed


def test_every_function_runs_as_the_runtime_account_and_builds_as_the_build_account() -> None:
    for argv in deploys().values():
        assert one(argv, "service-account") == RUNTIME_SA
        assert one(argv, "build-service-account") == (
            f"projects/{PROJECT}/serviceAccounts/{BUILD_SA}"
        )


def test_public_apis_are_public_and_task_handlers_are_not() -> None:
    for name, argv in deploys().items():
        f = flags(argv)
        if name in registry.HTTP:
            assert "trigger-http" in f
            assert "allow-unauthenticated" in f
            assert "no-allow-unauthenticated" not in f
            assert one(argv, "ingress-settings") == "all"
        elif name in registry.TASKS:
            assert "trigger-http" in f
            assert "no-allow-unauthenticated" in f
            assert "allow-unauthenticated" not in f
        else:
            assert "trigger-http" not in f
            assert "allow-unauthenticated" not in f
            assert one(argv, "ingress-settings") == "internal-only"
    assert "allUsers" not in PLAN_TEXT
    assert "allAuthenticatedUsers" not in PLAN_TEXT


def test_firestore_triggers_listen_to_their_document_pattern() -> None:
    for name, pattern in registry.FIRESTORE_TRIGGERS.items():
        argv = deploys()[name]
        assert sorted(flags(argv)["trigger-event-filters"]) == sorted(
            ["type=google.cloud.firestore.document.v1.written", "database=(default)"]
        )
        assert one(argv, "trigger-event-filters-path-pattern") == f"document={pattern}"
        assert one(argv, "trigger-location") == CONFIG.firestore_location
        assert one(argv, "trigger-service-account") == EVENTS_SA
        assert "retry" in flags(argv)  # idempotent triggers: a transient failure is retried


def test_storage_trigger_listens_to_finalized_objects_of_the_bucket() -> None:
    for name in registry.STORAGE_TRIGGERS:
        argv = deploys()[name]
        assert sorted(flags(argv)["trigger-event-filters"]) == sorted(
            ["type=google.cloud.storage.object.v1.finalized", f"bucket={BUCKET}"]
        )
        assert "trigger-event-filters-path-pattern" not in flags(argv)
        assert one(argv, "trigger-location") == REGION  # the bucket's location
        assert one(argv, "trigger-service-account") == EVENTS_SA
        assert "retry" in flags(argv)


def test_environment_is_the_production_one() -> None:
    config_source = (ROOT / "shared" / "config.py").read_text()
    read_by_settings = set(re.findall(r'env\.get\("([A-Z_]+)"', config_source))
    for argv in deploys().values():
        env = env_of(argv)
        for key in env:
            assert key in read_by_settings or key.startswith("FUNCTION_URL_") or key == "THREADS"
        assert env["GOOGLE_CLOUD_PROJECT"] == PROJECT
        assert env["SUBMISSIONS_BUCKET"] == BUCKET
        assert env["TASKS_QUEUE"] == CONFIG.queue
        assert env["FUNCTION_REGION"] == REGION
        assert env["TASKS_SERVICE_ACCOUNT"] == INVOKER_SA
        assert env["CORS_ORIGINS"] == f"https://{PROJECT}.web.app,https://{PROJECT}.firebaseapp.com"
        for task in registry.TASKS:
            url = env[f"FUNCTION_URL_{task.upper()}"]
            assert url == f"https://{REGION}-{PROJECT}.cloudfunctions.net/{task}"
        local_only = [k for k in env if k.endswith("_EMULATOR_HOST")]
        local_only += [k for k in ("SIGNING_KEY_FILE", "TASKS_LOCAL_SECRET") if k in env]
        local_only += [k for k in ("STORAGE_PUBLIC_ENDPOINT",) if k in env]
        assert local_only == []


def test_every_instance_serves_as_many_requests_at_once_as_cloud_run_sends_it() -> None:
    """functions-framework reads THREADS (else cpu x 4 = 4 on one vCPU); Cloud Run sends an instance
    up to ``--concurrency`` requests at once, so the two must agree."""
    for name, argv in deploys().items():
        assert env_of(argv)["THREADS"] == one(argv, "concurrency"), name


# ---- least privilege ------------------------------------------------------------------------


def test_no_broad_role_and_every_role_at_its_narrowest_scope() -> None:
    grants = list(bindings())
    assert grants
    for scope, resource, member, role in grants:
        assert role not in BROAD_ROLES, (scope, member, role)
        assert role in ROLE_SCOPES, f"ungoverned role {role}: add it to ROLE_SCOPES with a reason"
        assert ROLE_SCOPES[role] == scope, (role, scope, resource)
        assert member.startswith("serviceAccount:"), member


def test_storage_roles_are_on_the_bucket_only() -> None:
    storage = [(s, r) for s, r, _, role in bindings() if role.startswith("roles/storage.")]
    assert storage == [("bucket", f"gs://{BUCKET}")]


def test_who_gets_what() -> None:
    got = {
        (scope, resource, member.split(":", 1)[1], role)
        for scope, resource, member, role in bindings()
    }
    expected = {
        ("project", PROJECT, RUNTIME_SA, "roles/datastore.user"),
        ("bucket", f"gs://{BUCKET}", RUNTIME_SA, "roles/storage.objectUser"),
        ("service-account", RUNTIME_SA, RUNTIME_SA, "roles/iam.serviceAccountTokenCreator"),
        ("queue", CONFIG.queue, RUNTIME_SA, "roles/cloudtasks.enqueuer"),
        ("service-account", INVOKER_SA, RUNTIME_SA, "roles/iam.serviceAccountUser"),
        ("project", PROJECT, EVENTS_SA, "roles/eventarc.eventReceiver"),
        ("project", PROJECT, GCS_AGENT, "roles/pubsub.publisher"),
        ("project", PROJECT, BUILD_SA, "roles/run.builder"),
    }
    expected |= {("function", t, INVOKER_SA, "roles/run.invoker") for t in registry.TASKS}
    triggers = [*registry.FIRESTORE_TRIGGERS, *registry.STORAGE_TRIGGERS]
    expected |= {("function", t, EVENTS_SA, "roles/run.invoker") for t in triggers}
    assert got == expected


def test_service_accounts_are_created_before_they_are_granted_or_used() -> None:
    order = [" ".join(c[:4]) for c in COMMANDS]
    created = max(i for i, c in enumerate(order) if c == "gcloud iam service-accounts create")
    first_grant = min(i for i, c in enumerate(COMMANDS) if "add-iam-policy-binding" in c)
    first_deploy = order.index("gcloud functions deploy " + registry.ALL[0])
    last_grant = max(i for i, c in enumerate(COMMANDS) if "add-iam-policy-binding" in c)
    first_invoker = min(i for i, c in enumerate(COMMANDS) if "add-invoker-policy-binding" in c)
    last_deploy = max(i for i, c in enumerate(order) if c.startswith("gcloud functions deploy"))
    assert order[0].startswith("gcloud services enable")
    assert created < first_grant < last_grant < first_deploy
    assert last_deploy < first_invoker  # a binding on a function needs the function


# ---- bucket, queue, rules -------------------------------------------------------------------


def test_bucket_is_private_uniform_and_versioned_with_a_lifecycle_for_deleted_submissions() -> None:
    create = next(c for c in COMMANDS if c[1:4] == ["storage", "buckets", "create"])
    update = next(c for c in COMMANDS if c[1:4] == ["storage", "buckets", "update"])
    for argv in (create, update):
        assert argv[4] == f"gs://{BUCKET}"
        assert "uniform-bucket-level-access" in flags(argv)
        assert "public-access-prevention" in flags(argv)
    assert one(create, "location") == REGION
    assert "versioning" in flags(update)
    assert one(update, "lifecycle-file") == LIFECYCLE_FILE
    rules = json.loads((ROOT / LIFECYCLE_FILE).read_text())["rule"]
    assert rules == [
        {
            "action": {"type": "Delete"},
            "condition": {"isLive": False, "daysSinceNoncurrentTime": 30},
        }
    ]
    # The lifecycle rule only sees deleted submissions if deleting one removes the live object.
    assert all(env_of(a)["DELETE_REMOVES_OBJECT"] == "true" for a in deploys().values())


def test_bucket_cors_lets_the_web_app_put_with_the_signed_headers(tmp_path: Path) -> None:
    update = next(c for c in COMMANDS if c[1:4] == ["storage", "buckets", "update"])
    cors_file = one(update, "cors-file")
    writer = next(c for c in COMMANDS if c[:4] == ["python3", "-m", "deploy.files", "cors"])
    assert writer[writer.index("--out") + 1] == cors_file
    assert COMMANDS.index(writer) < COMMANDS.index(update)
    origins = [writer[i + 1] for i, w in enumerate(writer) if w == "--origin"]
    assert origins == list(CONFIG.cors_origins)
    args = ["cors", "--out", str(tmp_path / "cors.json")]
    for origin in origins:
        args += ["--origin", origin]
    assert files.main(args) == 0
    (entry,) = json.loads((tmp_path / "cors.json").read_text())
    assert entry["origin"] == origins
    assert "PUT" in entry["method"]
    assert {"Content-Type", "x-goog-content-length-range"} <= set(entry["responseHeader"])


def test_queue_has_retry_settings_and_is_converged_on_every_run() -> None:
    queue = [c for c in COMMANDS if c[1:3] == ["tasks", "queues"] and c[3] in {"create", "update"}]
    assert [c[3] for c in queue] == ["create", "update"]
    for argv in queue:
        assert argv[4] == "aibc-default"
        assert one(argv, "location") == REGION
        for key in ("max-attempts", "min-backoff", "max-backoff"):
            assert one(argv, key) == QUEUE_SETTINGS[key]


def test_rules_and_indexes_are_deployed_from_the_repository_files(tmp_path: Path) -> None:
    (fb,) = [c for c in COMMANDS if c[0] == FIREBASE and "hosting" not in c]
    assert fb[1] == "deploy"
    only = set(fb[fb.index("--only") + 1].split(","))
    assert {"firestore:rules", "firestore:indexes", "storage"} <= only
    assert fb[fb.index("--project") + 1] == PROJECT
    staged = Path(fb[fb.index("--config") + 1]).parent
    (stage,) = [c for c in COMMANDS if c[:4] == ["python3", "-m", "deploy.files", "firebase"]]
    assert Path(stage[stage.index("--out") + 1]) == staged
    assert stage[stage.index("--bucket") + 1] == BUCKET
    assert COMMANDS.index(stage) < COMMANDS.index(fb)

    # What the staging step writes: the repository's own files and a firebase.json naming them.
    assert files.main(["firebase", "--bucket", BUCKET, "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "firebase.json").read_text())
    assert config["firestore"]["rules"] == "firestore.rules"
    assert config["firestore"]["indexes"] == "firestore.indexes.json"
    assert config["storage"] == [{"bucket": BUCKET, "rules": "storage.rules"}]
    for name in files.RULE_FILES:
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes()


# ---- the installed gcloud knows every flag --------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _gcloud_help(argv: list[str], config_dir: Path) -> str:
    env = {**os.environ, "CLOUDSDK_CONFIG": str(config_dir), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    done = subprocess.run(
        [*argv, "--help"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return _ANSI.sub("", done.stdout)


def undocumented_flags(argv: list[str], help_text: str) -> list[str]:
    missing = []
    for name in flags(argv):
        base = name[3:] if name.startswith("no-") else name
        if f"--{name}" not in help_text and f"--[no-]{base}" not in help_text:
            missing.append(f"--{name}")
    return missing


def test_every_gcloud_flag_in_the_plan_exists(tmp_path: Path) -> None:
    """``gcloud ... --help`` is answered offline; each flag the plan passes must be documented."""
    distinct: dict[tuple[str, ...], list[str]] = {}
    for argv in COMMANDS:
        if argv[0] == "gcloud":
            key = (*argv[:3], *sorted(flags(argv)))
            distinct.setdefault(key, argv)
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = list(pool.map(lambda a: _gcloud_help(a, tmp_path), distinct.values()))
    for argv, text in zip(distinct.values(), helps, strict=True):
        command = text.split("\n", 2)[1].strip().split(" - ")[0]
        assert command.startswith("gcloud " + argv[1]), command
        assert undocumented_flags(argv, text) == [], f"{command}: not flags of the installed gcloud"
    # The check itself is sharp: a made-up flag is reported.
    assert undocumented_flags(["gcloud", "--trigger-htp"], helps[0]) == ["--trigger-htp"]


# ---- the uploaded source --------------------------------------------------------------------


def test_uploaded_source_is_self_contained() -> None:
    """Nothing the staged source (main.py, functions/, shared/) imports may live outside it
    (tests, localcloud, seed, deploy...)."""
    local_packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    sources = [ROOT / path for path in files.runtime_sources() if path.suffix == ".py"]
    assert ROOT / "main.py" in sources
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in local_packages:
                    assert top in {"functions", "shared"}, f"{source}: imports {name}"


# ---- running the plan -----------------------------------------------------------------------


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_a_create_that_finds_its_resource_passes(tmp_path: Path) -> None:
    exists = Step(
        "t",
        _python("import sys; sys.stderr.write('ERROR: ALREADY_EXISTS: queue'); sys.exit(1)"),
        ok_if=("ALREADY_EXISTS",),
    )
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        assert run_step(exists, cwd=tmp_path, out=out) == "existed"


def test_the_run_stops_at_the_first_failure(tmp_path: Path) -> None:
    marker = tmp_path / "second-step-ran"
    steps = [
        Step(
            "t",
            _python("import sys; sys.stderr.write('PERMISSION_DENIED'); sys.exit(3)"),
            ok_if=("ALREADY_EXISTS",),
        ),
        Step("t", _python(f"open({str(marker)!r}, 'w').close()")),
    ]
    with (tmp_path / "log.txt").open("w") as out, pytest.raises(DeployError) as failed:
        execute(steps, cwd=tmp_path, out=out)
    assert failed.value.returncode == 3
    assert "PERMISSION_DENIED" in failed.value.output
    assert not marker.exists()


def test_a_step_waiting_for_iam_is_retried_then_passes(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    code = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "sys.exit(0 if n >= 2 else (sys.stderr.write('Service account x does not exist.') and 1))\n"
    )
    step = Step("t", _python(code), retry_if=("does not exist",))
    with (tmp_path / "log.txt").open("w") as out:
        assert run_step(step, cwd=tmp_path, out=out, attempts=5, pause=0) == "ran"
    assert counter.read_text() == "3"


def test_the_runner_writes_the_generated_files_with_its_own_interpreter(tmp_path: Path) -> None:
    out = tmp_path / "cors.json"
    step = Step(
        "bucket",
        (
            "python3",
            "-m",
            "deploy.files",
            "cors",
            "--out",
            str(out),
            "--origin",
            "https://a.example",
        ),
    )
    with (tmp_path / "log.txt").open("w") as log:
        assert run_step(step, cwd=ROOT, out=log) == "ran"
    assert json.loads(out.read_text())[0]["origin"] == ["https://a.example"]
