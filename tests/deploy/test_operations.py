"""Operability in the deploy plan: log-based metrics, alert policies and the dashboard
(deploy/monitoring/), the nightly reconcile on Cloud Scheduler, and private task handlers."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from deploy.plan import (
    ALERTS,
    APIS,
    METRICS,
    MONITORING_DIR,
    QUEUE_SETTINGS,
    RECONCILE,
    Config,
    Step,
    build_plan,
)
from deploy.run import run_step
from functions import registry
from tests.deploy import gcloud_sdk

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "aibc-ops-test"
REGION = "europe-west1"
CONFIG = Config.make(PROJECT, REGION, project_number="42")
STEPS = build_plan(CONFIG)
MONITORING = ROOT / MONITORING_DIR


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def flag(argv: tuple[str, ...], name: str) -> str:
    (value,) = [w.split("=", 1)[1] for w in argv if w.startswith(f"--{name}=")]
    return value


def service(name: str) -> str:
    """The Cloud Run service of a 2nd gen function (lower case, '-' for '_')."""
    return name.lower().replace("_", "-")


def test_every_metric_file_is_created_and_then_converged() -> None:
    files = sorted(p.stem for p in (MONITORING / "metrics").glob("*.json"))
    assert files == sorted(METRICS)
    for metric in METRICS:
        path = f"{MONITORING_DIR}/metrics/{metric}.json"
        verbs = [
            s.argv[3]
            for s in STEPS
            if s.argv[1:3] == ("logging", "metrics") and s.argv[4] == metric
        ]
        assert verbs == ["create", "update"], metric
        for s in STEPS:
            if s.argv[1:3] == ("logging", "metrics") and s.argv[4] == metric:
                assert flag(s.argv, "config-from-file") == path
        config = load(MONITORING / "metrics" / f"{metric}.json")
        assert config["name"] == metric
        assert config["metricDescriptor"]["metricKind"] == "DELTA"
        labels = {label["key"] for label in config["metricDescriptor"]["labels"]}
        assert labels == set(config["labelExtractors"])
        assert config["description"]


def test_metric_filters_select_exactly_the_right_functions() -> None:
    """Service-name patterns, so an entry point added to the registry is covered without an edit."""
    kinds = {
        "aibc_http_5xx": registry.HTTP,
        "aibc_trigger_failures": [*registry.FIRESTORE_TRIGGERS, *registry.STORAGE_TRIGGERS],
        "aibc_events_dropped": [*registry.FIRESTORE_TRIGGERS, *registry.STORAGE_TRIGGERS],
        "aibc_task_failures": [*registry.TASKS, RECONCILE],
    }
    for metric, names in kinds.items():
        text = load(MONITORING / "metrics" / f"{metric}.json")["filter"]
        match = re.search(r'resource\.labels\.service_name=~"([^"]+)"', text)
        assert match, metric
        pattern = re.compile(match.group(1))
        selected = {n for n in [*registry.ALL, RECONCILE] if pattern.search(service(n))}
        assert selected == set(names), metric
    failures = load(MONITORING / "metrics" / "aibc_http_5xx.json")["filter"]
    assert "httpRequest.status>=500" in failures
    dropped = load(MONITORING / "metrics" / "aibc_tasks_dropped.json")["filter"]
    assert 'resource.type="cloud_tasks_queue"' in dropped
    assert QUEUE_SETTINGS["log-sampling-ratio"] == "1.0"  # the queue logs what that metric reads
    drift = load(MONITORING / "metrics" / "aibc_reconcile_drift.json")["filter"]
    assert f'service_name="{service(RECONCILE)}"' in drift


def test_one_alert_policy_per_signal_created_once() -> None:
    files = sorted(p.stem for p in (MONITORING / "alerts").glob("*.json"))
    assert files == sorted(ALERTS)
    alerted = set()
    creates = [s for s in STEPS if s.argv[1:5] == ("alpha", "monitoring", "policies", "create")]
    assert len(creates) == len(ALERTS)
    for slug, title in ALERTS.items():
        policy = load(MONITORING / "alerts" / f"{slug}.json")
        assert policy["displayName"] == f"aibc: {title}"
        assert policy["documentation"]["content"]
        for condition in policy["conditions"]:
            found = re.findall(
                r"logging\.googleapis\.com/user/(\w+)", condition["conditionThreshold"]["filter"]
            )
            alerted.update(found)
        (create,) = [s for s in creates if s.argv[5].endswith(f"/{slug}.json")]
        # Alert policies have no client-chosen id: the create runs only if none has this name.
        assert create.unless[1:5] == ("alpha", "monitoring", "policies", "list")
        assert flag(create.unless, "filter") == f'displayName="aibc: {title}"'
    assert alerted == set(METRICS)  # every signal alerts; nothing alerts on an unknown metric
    first_policy = STEPS.index(creates[0])
    last_metric = max(i for i, s in enumerate(STEPS) if s.argv[1:3] == ("logging", "metrics"))
    assert last_metric < first_policy  # a policy on a metric that does not exist yet fails


def test_the_dashboard_charts_the_signals() -> None:
    dashboard = load(MONITORING / "dashboard.json")
    filters = [
        d["timeSeriesQuery"]["timeSeriesFilter"]["filter"]
        for tile in dashboard["mosaicLayout"]["tiles"]
        for d in tile["widget"]["xyChart"]["dataSets"]
    ]
    charted = {m for f in filters for m in re.findall(r"logging\.googleapis\.com/user/(\w+)", f)}
    assert charted == set(METRICS)
    (create,) = [s for s in STEPS if s.argv[1:4] == ("monitoring", "dashboards", "create")]
    assert flag(create.argv, "config-from-file") == f"{MONITORING_DIR}/dashboard.json"
    assert flag(create.unless, "filter") == f'displayName="{dashboard["displayName"]}"'
    assert {"monitoring.googleapis.com", "cloudscheduler.googleapis.com"} <= set(APIS)


def test_the_nightly_reconcile_is_scheduled_like_a_task() -> None:
    jobs = [s for s in STEPS if s.argv[1:3] == ("scheduler", "jobs")]
    assert [s.argv[3:5] for s in jobs] == [("create", "http"), ("update", "http")]
    url = f"https://{REGION}-{PROJECT}.cloudfunctions.net/{RECONCILE}"
    for job in jobs:
        assert flag(job.argv, "uri") == url
        assert flag(job.argv, "oidc-token-audience") == url
        assert flag(job.argv, "oidc-service-account-email") == CONFIG.invoker_sa
        assert flag(job.argv, "http-method") == "POST"
        assert flag(job.argv, "location") == REGION
        assert len(flag(job.argv, "schedule").split()) == 5
    if RECONCILE in registry.ALL:  # once the handler exists, it is deployed as a private task
        assert RECONCILE in registry.TASKS
    first_job = STEPS.index(jobs[0])
    last_deploy = max(i for i, s in enumerate(STEPS) if s.argv[1:3] == ("functions", "deploy"))
    assert last_deploy < first_job


def test_task_handlers_are_private_and_only_the_invoker_may_call_them() -> None:
    deploys = {s.argv[3]: s.argv for s in STEPS if s.argv[1:3] == ("functions", "deploy")}
    for name in registry.TASKS:
        assert "--no-allow-unauthenticated" in deploys[name]
        assert "--allow-unauthenticated" not in deploys[name]
        members = [
            flag(s.argv, "member")
            for s in STEPS
            if s.argv[1:3] == ("functions", "add-invoker-policy-binding") and s.argv[3] == name
        ]
        assert members == [f"serviceAccount:{CONFIG.invoker_sa}"]
    public = [n for n, argv in deploys.items() if "--allow-unauthenticated" in argv]
    assert sorted(public) == sorted(registry.HTTP)


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_a_guarded_create_is_skipped_when_its_check_finds_the_resource(tmp_path: Path) -> None:
    marker = tmp_path / "created"
    create = _python(f"open({str(marker)!r}, 'w').close()")
    with (tmp_path / "log").open("w") as out:
        found = Step("t", create, unless=_python("print('projects/p/alertPolicies/1')"))
        assert run_step(found, cwd=tmp_path, out=out) == "existed"
        assert not marker.exists()
        missing = Step("t", create, unless=_python("pass"))
        assert run_step(missing, cwd=tmp_path, out=out) == "ran"
        assert marker.exists()


VALIDATE = """
from apitools.base.protorpclite import messages as pm
from googlecloudsdk.api_lib.logging import util as logging_util
from googlecloudsdk.api_lib.util import apis
from googlecloudsdk.command_lib.monitoring import util as monitoring_util


def unknown(msg, path=""):
    found = [path + "." + name for name in msg.all_unrecognized_fields()]
    for field in msg.all_fields():
        value = getattr(msg, field.name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, pm.Message):
                found += unknown(v, path + "." + field.name)
    return found


out = {}
for kind, path in json.loads(sys.argv[2]):
    text = open(path).read()
    if kind == "metric":  # what `gcloud logging metrics create --config-from-file` does
        msg = logging_util.CreateLogMetric(metric_name="m", data=text)
    elif kind == "alert":  # `gcloud alpha monitoring policies create --policy-from-file`
        types = apis.GetMessagesModule("monitoring", "v3")
        msg = monitoring_util.MessageFromString(text, types.AlertPolicy, "AlertPolicy")
    else:  # `gcloud monitoring dashboards create --config-from-file`
        types = apis.GetMessagesModule("monitoring", "v1")
        msg = monitoring_util.MessageFromString(text, types.Dashboard, "Dashboard")
    out[path] = unknown(msg)
print(json.dumps(out))
"""


def test_every_config_file_parses_into_gcloud_own_messages_with_no_unknown_field(
    tmp_path: Path,
) -> None:
    """Parsed the way the gcloud commands of the plan parse them; a misspelt field or enum value
    would be an unrecognized field of the API message (and silently ignored by the API)."""
    configs = [("metric", p) for p in sorted((MONITORING / "metrics").glob("*.json"))]
    configs += [("alert", p) for p in sorted((MONITORING / "alerts").glob("*.json"))]
    configs += [("dashboard", MONITORING / "dashboard.json")]
    bad = json.loads((MONITORING / "alerts" / "http-5xx.json").read_text())
    bad["conditions"][0]["conditionThreshold"]["thresholdValu"] = 1
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    configs.append(("alert", tmp_path / "bad.json"))
    listing = json.dumps([[kind, str(path)] for kind, path in configs])
    result = gcloud_sdk.run(VALIDATE, listing, config_dir=tmp_path / "gcloud")
    assert isinstance(result, dict)
    # The check is sharp: the misspelt field is reported.
    assert result.pop(str(tmp_path / "bad.json")) == [
        ".conditions.conditionThreshold.thresholdValu"
    ]
    assert result == {str(path): [] for _, path in configs[:-1]}
