"""The deploy plan: every command that puts the product on a Google Cloud project, in order.

Pure: ``build_plan(config)`` returns ``Step`` objects and ``render(steps)`` prints them one per line,
shell-quoted; nothing here runs a process, reads credentials or touches the network, so
``python -m deploy --dry-run`` works anywhere (CI included). ``deploy.run`` executes the same steps.

Order (each stage needs the previous ones):
 1. enable the APIs;
 2. create the Firestore database (Native mode) and the submissions bucket;
 3. stage and deploy firestore.rules, firestore.indexes.json and storage.rules (indexes build for
    minutes, so they start early);
 4. create the service accounts and the Cloud Tasks queue;
 5. grant each account the least it needs (see ``ROLE_SCOPES`` for the full list);
 6. deploy every entry point of ``functions.registry`` as a 2nd gen function;
 7. let the tasks invoker call the task handlers and the Eventarc identity call the triggers;
 8. create the log-based metrics, alert policies and dashboard (``deploy/monitoring/``) and the
    Cloud Scheduler job of the nightly reconcile (``task_reconcile``, called like a task: OIDC token
    of the tasks invoker, audience its URL);
 9. stage the built web page and deploy it to Firebase Hosting (``/api/v1/**`` rewritten to the
    HTTP functions, so the page calls one origin).

Idempotent: a create step whose resource already exists is accepted (``Step.ok_if``), and the
settings of existing resources are then converged by an update step (bucket, queue). IAM bindings
and ``gcloud functions deploy`` are idempotent by nature.

Service accounts (least privilege, each with one job):
 - ``aibc-functions``: the runtime identity of every function;
 - ``aibc-tasks-invoker``: the identity Cloud Tasks puts in the OIDC token of each task;
 - ``aibc-events``: the identity of the Eventarc triggers (receives events, invokes the triggers);
 - ``aibc-build``: the identity Cloud Build uses to build the functions (instead of the default
   Compute Engine account, which has Editor on older projects and too little on new ones).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from functions import registry

RUNTIME = (
    "python311"  # what the local cloud runs (Python 3.11); tests/unit/test_deploy_plan.py checks
)
GCLOUD = "gcloud"
FIREBASE = "node_modules/.bin/firebase"
PYTHON = "python3"
FILES_MODULE = "deploy.files"
LIFECYCLE_FILE = "deploy/lifecycle.json"
MONITORING_DIR = "deploy/monitoring"
# The nightly reconcile: an HTTP task handler called by Cloud Scheduler with the invoker's token.
RECONCILE = "task_reconcile"
RECONCILE_JOB = "aibc-nightly-reconcile"
RECONCILE_SCHEDULE = "0 3 * * *"  # 03:00 UTC, every day
NUMBER_PLACEHOLDER = "PROJECT_NUMBER"

APIS = (
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "eventarc.googleapis.com",
    "pubsub.googleapis.com",
    "firestore.googleapis.com",
    "storage.googleapis.com",
    "cloudtasks.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",  # signBlob: V4 signed URLs without a key file
    "logging.googleapis.com",
    "firebaserules.googleapis.com",  # firebase deploy of firestore.rules / storage.rules
    "identitytoolkit.googleapis.com",  # Firebase Auth (ID tokens the HTTP functions verify)
    "firebasehosting.googleapis.com",  # the web page
    "monitoring.googleapis.com",  # alert policies and the dashboard
    "cloudscheduler.googleapis.com",  # the nightly reconcile
)

# Cloud Tasks retry policy of the queue (docs/DEPLOY.md explains the numbers).
QUEUE_SETTINGS: Mapping[str, str] = {
    "max-attempts": "10",
    "min-backoff": "5s",
    "max-backoff": "600s",
    "max-doublings": "5",
    "max-dispatches-per-second": "20",
    "max-concurrent-dispatches": "20",
    # Log every task attempt: the "tasks dropped" metric reads these logs (deploy/monitoring/).
    "log-sampling-ratio": "1.0",
}

# Sizing per kind of function; every value is a cost knob (docs/DEPLOY.md, "What it costs").
SIZING: Mapping[str, Mapping[str, str]] = {
    "http": {
        "memory": "512Mi",
        "cpu": "1",
        "concurrency": "20",
        "max-instances": "10",
        "min-instances": "0",
        "timeout": "60s",
    },
    "task": {
        "memory": "512Mi",
        "cpu": "1",
        "concurrency": "10",
        "max-instances": "5",
        "min-instances": "0",
        "timeout": "300s",
    },
    "event": {
        "memory": "512Mi",
        "cpu": "1",
        "concurrency": "10",
        "max-instances": "10",
        "min-instances": "0",
        "timeout": "60s",
    },
}

# Every role the plan grants, and the only scope it may be granted at. The unit test fails if the
# plan grants anything else, or grants one of these more widely.
ROLE_SCOPES: Mapping[str, str] = {
    "roles/datastore.user": "project",  # runtime: Firestore reads/writes/transactions
    "roles/storage.objectUser": "bucket",  # runtime: create (signed PUT), get, delete; no IAM
    "roles/iam.serviceAccountTokenCreator": "service-account",  # runtime on itself: signBlob
    "roles/cloudtasks.enqueuer": "queue",  # runtime: create tasks in aibc-default only
    "roles/iam.serviceAccountUser": "service-account",  # runtime on the invoker: OIDC in tasks
    "roles/eventarc.eventReceiver": "project",  # events SA: receive Eventarc events
    "roles/pubsub.publisher": "project",  # Cloud Storage service agent: publish object events
    "roles/run.builder": "project",  # build SA: Artifact Registry push, build logs, read source
    "roles/run.invoker": "function",  # invoker SA on task handlers; events SA on triggers
}

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Config:
    """Everything the plan depends on; ``Config.make`` fills the defaults from the project id."""

    project: str
    region: str
    firestore_location: str
    bucket: str
    queue: str
    cors_origins: tuple[str, ...]
    project_number: str | None = None
    runtime: str = RUNTIME

    @classmethod
    def make(
        cls,
        project: str,
        region: str = "us-central1",
        *,
        firestore_location: str = "nam5",
        bucket: str | None = None,
        queue: str = "aibc-default",
        cors_origins: Sequence[str] = (),
        project_number: str | None = None,
    ) -> Config:
        if not _PROJECT_RE.match(project):
            raise ValueError(f"not a Google Cloud project id: {project!r}")
        if not _REGION_RE.match(region):
            raise ValueError(f"not a Google Cloud region: {region!r}")
        if not re.match(r"^[a-z0-9-]+$", firestore_location):
            raise ValueError(f"not a Firestore location: {firestore_location!r}")
        bucket = bucket or f"{project}-submissions"
        if not _BUCKET_RE.match(bucket):
            raise ValueError(f"not a bucket name: {bucket!r}")
        if project_number is not None and not project_number.isdigit():
            raise ValueError(f"a project number is all digits: {project_number!r}")
        origins = tuple(cors_origins) or (
            f"https://{project}.web.app",
            f"https://{project}.firebaseapp.com",
        )
        for origin in origins:
            if not re.match(r"^https?://[^/,;\s]+$", origin):
                raise ValueError(f"a CORS origin is scheme://host[:port]: {origin!r}")
        return cls(
            project=project,
            region=region,
            firestore_location=firestore_location,
            bucket=bucket,
            queue=queue,
            cors_origins=origins,
            project_number=project_number,
        )

    def account(self, name: str) -> str:
        return f"{name}@{self.project}.iam.gserviceaccount.com"

    @property
    def runtime_sa(self) -> str:
        return self.account("aibc-functions")

    @property
    def invoker_sa(self) -> str:
        return self.account("aibc-tasks-invoker")

    @property
    def events_sa(self) -> str:
        return self.account("aibc-events")

    @property
    def build_sa(self) -> str:
        return self.account("aibc-build")

    @property
    def gcs_service_agent(self) -> str:
        number = self.project_number or NUMBER_PLACEHOLDER
        return f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"

    @property
    def stage_dir(self) -> str:
        return f".local/deploy/{self.project}"

    @property
    def source_dir(self) -> str:
        """What every ``gcloud functions deploy`` uploads: the staged runtime source only."""
        return f"{self.stage_dir}/source"

    def function_url(self, name: str) -> str:
        """The URL a task is sent to, and its OIDC audience (the full function URL)."""
        return f"https://{self.region}-{self.project}.cloudfunctions.net/{name}"


# deploy/monitoring/: log-based metrics (metrics/NAME.json) and alert policies (alerts/SLUG.json,
# created once, found again by their display name "aibc: TITLE").
METRICS = (
    "aibc_http_5xx",
    "aibc_trigger_failures",
    "aibc_task_failures",
    "aibc_tasks_dropped",
    "aibc_events_dropped",
    "aibc_reconcile_drift",
)
ALERTS: Mapping[str, str] = {
    "http-5xx": "HTTP 5xx",
    "trigger-failures": "trigger failures",
    "task-failures": "task handler failures",
    "tasks-dropped": "tasks dropped",
    "events-dropped": "events dropped",
    "reconcile-drift": "reconcile drift",
}

SERVICE_ACCOUNTS: Mapping[str, str] = {
    "aibc-functions": "Runtime identity of the aibc Cloud Functions",
    "aibc-tasks-invoker": "Identity in the OIDC token of aibc Cloud Tasks",
    "aibc-events": "Identity of the aibc Eventarc triggers",
    "aibc-build": "Cloud Build identity for the aibc functions",
}

ALREADY_EXISTS = ("already exists", "ALREADY_EXISTS", "you already own it")


@dataclass(frozen=True)
class Step:
    """One command. ``ok_if``: failure messages that mean "already there" (the step then passes)."""

    stage: str
    argv: tuple[str, ...]
    ok_if: tuple[str, ...] = ()
    retry_if: tuple[str, ...] = ()
    # A read-only check: when it prints anything the resource exists and ``argv`` is skipped (for
    # creates that the API would happily duplicate, e.g. alert policies).
    unless: tuple[str, ...] = ()

    def line(self) -> str:
        text = shlex.join(self.argv)
        if self.unless:
            text = f"{shlex.join(self.unless)} | grep -q . || {text}"
        if self.ok_if:
            text += "  # ok if it already exists"
        return text


def _flags(values: Mapping[str, str]) -> list[str]:
    return [f"--{key}={value}" for key, value in values.items()]


def gcloud(*words: str, project: str, **flags: str) -> tuple[str, ...]:
    """``gcloud WORDS --flag=value ... --project=P --quiet``.

    ``words`` are the command, its positional arguments and bare switches (``--retry``); keyword
    flags follow, underscores in their names becoming dashes.
    """
    rendered = [f"--{key.replace('_', '-')}={value}" for key, value in flags.items()]
    return (GCLOUD, *words, *rendered, f"--project={project}", "--quiet")


def _env_vars(config: Config) -> dict[str, str]:
    env = {
        "GOOGLE_CLOUD_PROJECT": config.project,
        "FUNCTION_REGION": config.region,
        "SUBMISSIONS_BUCKET": config.bucket,
        "TASKS_QUEUE": config.queue,
        "TASKS_SERVICE_ACCOUNT": config.invoker_sa,
        "CORS_ORIGINS": ",".join(config.cors_origins),
        # Deleting a submission removes the live object; bucket versioning keeps it as a
        # noncurrent version that the lifecycle rule deletes 30 days later (docs/DEPLOY.md).
        "DELETE_REMOVES_OBJECT": "true",
    }
    for name in registry.TASKS:
        env[f"FUNCTION_URL_{name.upper()}"] = config.function_url(name)
    return env


def env_flag(env: Mapping[str, str]) -> str:
    """``--set-env-vars`` with ``;`` as the delimiter (values hold commas): gcloud topic escaping."""
    for key, value in env.items():
        if ";" in key or ";" in value:
            raise ValueError(f"environment variable {key} may not contain ';'")
    return "--set-env-vars=^;^" + ";".join(f"{k}={v}" for k, v in env.items())


def _deploy(config: Config, name: str) -> tuple[str, ...]:
    common = [
        GCLOUD,
        "functions",
        "deploy",
        name,
        "--gen2",
        f"--runtime={config.runtime}",
        f"--region={config.region}",
        f"--source={config.source_dir}",
        f"--entry-point={name}",
        f"--service-account={config.runtime_sa}",
        f"--build-service-account=projects/{config.project}/serviceAccounts/{config.build_sa}",
        "--update-labels=app=aibc",
    ]
    trigger: list[str]
    if name in registry.HTTP:
        trigger = ["--trigger-http", "--allow-unauthenticated", "--ingress-settings=all"]
        sizing = SIZING["http"]
    elif name in registry.TASKS:
        trigger = ["--trigger-http", "--no-allow-unauthenticated", "--ingress-settings=all"]
        sizing = SIZING["task"]
    elif name in registry.FIRESTORE_TRIGGERS:
        trigger = [
            "--trigger-event-filters=type=google.cloud.firestore.document.v1.written",
            "--trigger-event-filters=database=(default)",
            f"--trigger-event-filters-path-pattern=document={registry.FIRESTORE_TRIGGERS[name]}",
            f"--trigger-location={config.firestore_location}",
            f"--trigger-service-account={config.events_sa}",
            "--retry",
            "--ingress-settings=internal-only",
        ]
        sizing = SIZING["event"]
    elif name in registry.STORAGE_TRIGGERS:
        trigger = [
            "--trigger-event-filters=type=google.cloud.storage.object.v1.finalized",
            f"--trigger-event-filters=bucket={config.bucket}",
            f"--trigger-location={config.region}",
            f"--trigger-service-account={config.events_sa}",
            "--retry",
            "--ingress-settings=internal-only",
        ]
        sizing = SIZING["event"]
    else:  # pragma: no cover - registry.ALL is the union of the four lists
        raise ValueError(f"unknown entry point kind: {name}")
    # functions-framework serves (cpu x 4) threads unless THREADS says otherwise: 4 on one vCPU, so
    # of the `concurrency` requests Cloud Run routes to an instance all but 4 would wait in its
    # socket queue behind a slow one. One thread per request Cloud Run may send.
    env = {**_env_vars(config), "THREADS": sizing["concurrency"]}
    return (
        *common,
        env_flag(env),
        *trigger,
        *_flags(sizing),
        f"--project={config.project}",
        "--quiet",
    )


def _bind_project(config: Config, member: str, role: str) -> tuple[str, ...]:
    return gcloud(
        "projects",
        "add-iam-policy-binding",
        config.project,
        member=member,
        role=role,
        condition="None",
        project=config.project,
    )


def build_plan(config: Config) -> list[Step]:
    """Every command, in the order it must run."""
    p = config.project
    sa = "serviceAccount:"
    steps: list[Step] = []

    def add(stage: str, argv: Iterable[str], **kw: tuple[str, ...]) -> None:
        steps.append(Step(stage=stage, argv=tuple(argv), **kw))

    # 1. APIs
    add("apis", gcloud("services", "enable", *APIS, project=p))

    # 2. Firestore and the bucket
    add(
        "firestore",
        gcloud(
            "firestore",
            "databases",
            "create",
            database="(default)",
            location=config.firestore_location,
            type="firestore-native",
            project=p,
        ),
        ok_if=ALREADY_EXISTS,
    )
    bucket_url = f"gs://{config.bucket}"
    add(
        "bucket",
        gcloud(
            "storage",
            "buckets",
            "create",
            bucket_url,
            "--uniform-bucket-level-access",
            "--public-access-prevention",
            location=config.region,
            default_storage_class="STANDARD",
            project=p,
        ),
        ok_if=ALREADY_EXISTS,
    )
    cors_file = f"{config.stage_dir}/cors.json"
    cors_argv = [PYTHON, "-m", FILES_MODULE, "cors", "--out", cors_file]
    for origin in config.cors_origins:
        cors_argv += ["--origin", origin]
    add("bucket", cors_argv)
    add(
        "bucket",
        gcloud(
            "storage",
            "buckets",
            "update",
            bucket_url,
            "--uniform-bucket-level-access",
            "--public-access-prevention",
            "--versioning",
            lifecycle_file=LIFECYCLE_FILE,
            cors_file=cors_file,
            soft_delete_duration="7d",
            update_labels="app=aibc",
            project=p,
        ),
    )

    # 3. Rules and indexes (firebase-tools reads them from a staged directory: see deploy.files)
    firebase_dir = f"{config.stage_dir}/firebase"
    add(
        "rules",
        (PYTHON, "-m", FILES_MODULE, "firebase", "--bucket", config.bucket, "--out", firebase_dir),
    )
    add(
        "rules",
        (
            FIREBASE,
            "deploy",
            "--only",
            "firestore:rules,firestore:indexes,storage",
            "--project",
            p,
            "--config",
            f"{firebase_dir}/firebase.json",
            "--non-interactive",
        ),
    )

    # 4. Service accounts and the queue
    for name, title in SERVICE_ACCOUNTS.items():
        add(
            "accounts",
            gcloud("iam", "service-accounts", "create", name, display_name=title, project=p),
            ok_if=ALREADY_EXISTS,
        )
    for verb, ok_if in (("create", ALREADY_EXISTS), ("update", ())):
        add(
            "queue",
            gcloud(
                "tasks",
                "queues",
                verb,
                config.queue,
                location=config.region,
                **QUEUE_SETTINGS,
                project=p,
            ),
            ok_if=ok_if,
        )

    # 5. Least-privilege bindings (new accounts take a moment to be visible to IAM: retried)
    propagating = ("does not exist", "NOT_FOUND", "not found")
    runtime = sa + config.runtime_sa
    iam = "iam"
    steps += [
        Step(iam, _bind_project(config, runtime, "roles/datastore.user"), retry_if=propagating),
        Step(
            iam,
            gcloud(
                "storage",
                "buckets",
                "add-iam-policy-binding",
                bucket_url,
                member=runtime,
                role="roles/storage.objectUser",
                project=p,
            ),
            retry_if=propagating,
        ),
        Step(
            iam,
            gcloud(
                "iam",
                "service-accounts",
                "add-iam-policy-binding",
                config.runtime_sa,
                member=runtime,
                role="roles/iam.serviceAccountTokenCreator",
                project=p,
            ),
            retry_if=propagating,
        ),
        Step(
            iam,
            gcloud(
                "tasks",
                "queues",
                "add-iam-policy-binding",
                config.queue,
                location=config.region,
                member=runtime,
                role="roles/cloudtasks.enqueuer",
                project=p,
            ),
            retry_if=propagating,
        ),
        Step(
            iam,
            gcloud(
                "iam",
                "service-accounts",
                "add-iam-policy-binding",
                config.invoker_sa,
                member=runtime,
                role="roles/iam.serviceAccountUser",
                project=p,
            ),
            retry_if=propagating,
        ),
        Step(
            iam,
            _bind_project(config, sa + config.events_sa, "roles/eventarc.eventReceiver"),
            retry_if=propagating,
        ),
        # Creates the Cloud Storage service agent if the project has none yet, and prints it.
        Step(iam, gcloud("storage", "service-agent", project=p)),
        Step(
            iam,
            _bind_project(config, sa + config.gcs_service_agent, "roles/pubsub.publisher"),
            retry_if=propagating,
        ),
        Step(
            iam,
            _bind_project(config, sa + config.build_sa, "roles/run.builder"),
            retry_if=propagating,
        ),
    ]

    # 6. Functions, from the staged runtime source (deploy.files: exactly what the runtime loads)
    add("functions", (PYTHON, "-m", FILES_MODULE, "source", "--out", config.source_dir))
    for name in registry.ALL:
        add("functions", _deploy(config, name))

    # 7. Who may invoke the private functions (run.invoker on that function's service only)
    for name in registry.TASKS:
        add(
            "invokers",
            gcloud(
                "functions",
                "add-invoker-policy-binding",
                name,
                region=config.region,
                member=sa + config.invoker_sa,
                project=p,
            ),
        )
    for name in [*registry.FIRESTORE_TRIGGERS, *registry.STORAGE_TRIGGERS]:
        add(
            "invokers",
            gcloud(
                "functions",
                "add-invoker-policy-binding",
                name,
                region=config.region,
                member=sa + config.events_sa,
                project=p,
            ),
        )

    # 8. Operations: log-based metrics, alert policies and the dashboard (deploy/monitoring/), and
    #    the nightly reconcile on Cloud Scheduler.
    for metric in METRICS:
        path = f"{MONITORING_DIR}/metrics/{metric}.json"
        add(
            "monitoring",
            gcloud("logging", "metrics", "create", metric, config_from_file=path, project=p),
            ok_if=ALREADY_EXISTS,
        )
        add(
            "monitoring",
            gcloud("logging", "metrics", "update", metric, config_from_file=path, project=p),
        )
    for alert in ALERTS:
        path = f"{MONITORING_DIR}/alerts/{alert}.json"
        title = f"aibc: {ALERTS[alert]}"
        steps.append(
            Step(
                "monitoring",
                gcloud(
                    "alpha", "monitoring", "policies", "create", policy_from_file=path, project=p
                ),
                unless=gcloud(
                    "alpha",
                    "monitoring",
                    "policies",
                    "list",
                    filter=f'displayName="{title}"',
                    format="value(name)",
                    project=p,
                ),
            )
        )
    steps.append(
        Step(
            "monitoring",
            gcloud(
                "monitoring",
                "dashboards",
                "create",
                config_from_file=f"{MONITORING_DIR}/dashboard.json",
                project=p,
            ),
            unless=gcloud(
                "monitoring",
                "dashboards",
                "list",
                filter='displayName="aibc"',
                format="value(name)",
                project=p,
            ),
        )
    )
    reconcile_url = config.function_url(RECONCILE)
    job = {
        "location": config.region,
        "schedule": RECONCILE_SCHEDULE,
        "time_zone": "Etc/UTC",
        "uri": reconcile_url,
        "http_method": "POST",
        "message_body": "{}",
        "oidc_service_account_email": config.invoker_sa,
        "oidc_token_audience": reconcile_url,
        "attempt_deadline": "600s",
        "max_retry_attempts": "3",
        "min_backoff": "60s",
    }
    add(
        "scheduler",
        gcloud(
            "scheduler",
            "jobs",
            "create",
            "http",
            RECONCILE_JOB,
            **job,
            headers="Content-Type=application/json",
            description="aibc: nightly reconcile of derived state",
            project=p,
        ),
        ok_if=ALREADY_EXISTS,
    )
    add(
        "scheduler",
        gcloud(
            "scheduler",
            "jobs",
            "update",
            "http",
            RECONCILE_JOB,
            **job,
            update_headers="Content-Type=application/json",
            project=p,
        ),
    )

    # 9. The web page on Firebase Hosting (its rewrites need the HTTP functions' services)
    hosting_dir = f"{config.stage_dir}/hosting"
    add(
        "hosting",
        (PYTHON, "-m", FILES_MODULE, "hosting", "--region", config.region, "--out", hosting_dir),
    )
    add(
        "hosting",
        (
            FIREBASE,
            "deploy",
            "--only",
            "hosting",
            "--project",
            p,
            "--config",
            f"{hosting_dir}/firebase.json",
            "--non-interactive",
        ),
    )
    return steps


def render(steps: Sequence[Step], config: Config) -> str:
    """The plan as text: a comment header, then one shell-quoted command per line."""
    lines = [
        f"# aibc deploy plan: project={config.project} region={config.region} "
        f"firestore={config.firestore_location} bucket={config.bucket} queue={config.queue}",
        "# Run from the repository root. Lines marked 'ok if it already exists' may fail harmlessly "
        "on a second run.",
    ]
    if config.project_number is None:
        lines.append(
            f"# {NUMBER_PLACEHOLDER} stands for the project number "
            "(pass --project-number, or let the real run look it up)."
        )
    stage = ""
    for step in steps:
        if step.stage != stage:
            stage = step.stage
            lines.append(f"# --- {stage}")
        lines.append(step.line())
    return "\n".join(lines) + "\n"
