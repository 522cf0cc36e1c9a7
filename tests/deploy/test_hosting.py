"""The web page on Firebase Hosting: firebase.json's hosting section, what the deploy stages from
it, and where the page takes its configuration (web/src/firebase.js)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy import files
from deploy.plan import APIS, FIREBASE, Config, build_plan
from functions import (
    certificates,
    cohorts,
    dashboard,
    exports,
    progress,
    registry,
    resources,
    review,
    uploads,
)

ROOT = Path(__file__).resolve().parents[2]
HOSTING: dict[str, Any] = json.loads((ROOT / "firebase.json").read_text())["hosting"]
ROUTERS = {
    "resources": resources.router,
    "progress": progress.router,
    "uploads": uploads.router,
    "review": review.router,
    "cohorts": cohorts.router,
    "dashboard": dashboard.router,
    "exports": exports.router,
}
ROUTERS["certificates"] = certificates.router


def glob_regex(glob: str) -> re.Pattern[str]:
    """Hosting's glob for rewrite sources: ``**`` any path, ``*`` one segment's characters."""
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return re.compile(f"^{out}$")


def rewrite_target(path: str, rewrites: list[dict[str, Any]]) -> str | None:
    for rule in rewrites:  # the first match wins
        if glob_regex(rule["source"]).match(path):
            return str(rule["run"]["serviceId"])
    return None


def sample_path(pattern: re.Pattern[str]) -> str:
    """A concrete path a route accepts (every parameter ``x1``)."""
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "x1", pattern.pattern)
    text = text.removeprefix("^").removesuffix("$").removesuffix("/?")
    text = text.replace("\\", "")
    assert pattern.match(text), (pattern.pattern, text)
    return text


def test_every_route_of_every_http_function_is_rewritten_to_that_function() -> None:
    assert sorted(ROUTERS) == sorted(registry.HTTP)
    checked = 0
    for name, router in ROUTERS.items():
        for route in router.routes:
            path = "/api/v1" + sample_path(route.pattern)
            assert rewrite_target(path, HOSTING["rewrites"]) == name, path
            checked += 1
    assert checked >= 12
    assert rewrite_target("/index.html", HOSTING["rewrites"]) is None
    assert rewrite_target("/api/v1/anything-else", HOSTING["rewrites"]) is None
    # Only the public HTTP functions are reachable through Hosting, never a task handler.
    assert {r["run"]["serviceId"] for r in HOSTING["rewrites"]} == set(registry.HTTP)


def test_security_headers_on_every_response() -> None:
    (everything,) = [h for h in HOSTING["headers"] if h["source"] == "**"]
    headers = {h["key"]: h["value"] for h in everything["headers"]}
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in {"no-referrer", "strict-origin-when-cross-origin"}
    csp = {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split("; ") if d}
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in headers["Content-Security-Policy"]
    # What the page talks to: its own origin (/api/v1), Firebase Auth, Firestore, signed PUTs.
    assert {
        "'self'",
        "https://identitytoolkit.googleapis.com",
        "https://securetoken.googleapis.com",
        "https://firestore.googleapis.com",
        "https://storage.googleapis.com",
    } <= set(csp["connect-src"])


def test_cache_headers_page_revalidated_assets_immutable_and_versioned() -> None:
    cache = {
        h["source"]: v["value"]
        for h in HOSTING["headers"]
        for v in h["headers"]
        if v["key"] == "Cache-Control"
    }
    assert cache["/"] == "no-cache"
    assert cache["**/*.html"] == "no-cache"
    assert "immutable" in cache["**/*.@(js|css)"]
    # Immutable is only safe because index.html names each asset by its content hash.
    html = (ROOT / "web" / "dist" / "index.html").read_text()
    for name in ("app.js", "styles.css"):
        match = re.search(rf'"/{re.escape(name)}\?v=([0-9a-f]{{16}})"', html)
        assert match, f"{name} is not versioned in web/dist/index.html"


VALIDATE = """
const { getValidator, getErrorMessage } = require(process.argv[1]);
const fs = require("fs");
const validate = getValidator();
const out = {};
for (const file of process.argv.slice(2)) {
  const ok = validate(JSON.parse(fs.readFileSync(file, "utf8")));
  out[file] = ok ? [] : validate.errors.map(getErrorMessage);
}
console.log(JSON.stringify(out));
"""


def firebase_tools_errors(*configs: Path) -> dict[str, list[str]]:
    """firebase-tools' own validation of firebase.json (its schema, as `firebase deploy` runs it)."""
    node = shutil.which("node")
    assert node, "node is required"
    validator = ROOT / "node_modules" / "firebase-tools" / "lib" / "firebaseConfigValidate.js"
    assert validator.exists(), "firebase-tools is installed by make install (node_modules)"
    done = subprocess.run(
        [node, "-e", VALIDATE, str(validator), *map(str, configs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_the_staged_hosting_config_uses_the_region_and_is_valid_for_firebase_tools(
    tmp_path: Path,
) -> None:
    assert files.main(["hosting", "--region", "europe-west1", "--out", str(tmp_path)]) == 0
    staged = json.loads((tmp_path / "firebase.json").read_text())
    assert list(staged) == ["hosting"]
    hosting = staged["hosting"]
    assert hosting["public"] == "public"
    assert (tmp_path / "public" / "index.html").read_bytes() == (
        ROOT / "web" / "dist" / "index.html"
    ).read_bytes()
    assert not list((tmp_path / "public").glob(".*"))  # web/dist/.built stays behind
    assert {r["run"]["region"] for r in hosting["rewrites"]} == {"europe-west1"}
    assert hosting["headers"] == HOSTING["headers"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hosting": {**hosting, "rewrites": [{"source": "/x", "runn": {}}]}}))
    errors = firebase_tools_errors(ROOT / "firebase.json", tmp_path / "firebase.json", bad)
    assert errors.pop(str(bad)), "the validator is sharp: a misspelt rewrite is refused"
    assert errors == {str(ROOT / "firebase.json"): [], str(tmp_path / "firebase.json"): []}


def test_the_plan_deploys_the_page_after_the_functions() -> None:
    config = Config.make("aibc-hosting-test", "europe-west1", project_number="1")
    commands = [list(step.argv) for step in build_plan(config)]
    (stage,) = [c for c in commands if c[:4] == ["python3", "-m", "deploy.files", "hosting"]]
    (deploy,) = [c for c in commands if c[0] == FIREBASE and "hosting" in c]
    assert stage[stage.index("--region") + 1] == "europe-west1"
    out = stage[stage.index("--out") + 1]
    assert deploy[deploy.index("--only") + 1] == "hosting"
    assert deploy[deploy.index("--config") + 1] == f"{out}/firebase.json"
    assert deploy[deploy.index("--project") + 1] == config.project
    last_function = max(i for i, c in enumerate(commands) if c[1:3] == ["functions", "deploy"])
    assert last_function < commands.index(stage) < commands.index(deploy)
    assert "firebasehosting.googleapis.com" in APIS
    assert shlex.join(deploy)


def test_the_page_takes_its_config_from_the_local_cloud_or_from_hosting() -> None:
    node = shutil.which("node")
    assert node, "node is required"
    done = subprocess.run(
        [node, "--test", str(ROOT / "web" / "tests" / "config.test.mjs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/users/me/resources/r1/upload-url", "uploads"),
        ("/api/v1/users/me/resources/r1/submissions", "uploads"),
        ("/api/v1/users/me/resources/r1/complete", "progress"),
        ("/api/v1/admin/submissions/pending", "review"),
    ],
)
def test_overlapping_paths_reach_the_right_function(path: str, expected: str) -> None:
    assert rewrite_target(path, HOSTING["rewrites"]) == expected


def test_make_deploy_installs_only_what_deploying_needs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^deploy:(.*)$", makefile, re.MULTILINE)
    assert rule
    prerequisites = rule.group(1).split()
    assert sorted(prerequisites) == ["node_modules/.installed", "web/dist/.built"]
    recipe = makefile[rule.end() :].split("\n\n", 1)[0]
    assert "python3 -m deploy" in recipe
    assert ".venv" not in recipe
    assert "$(PY)" not in recipe


@pytest.mark.cloud
def test_the_local_page_is_served_under_the_production_security_headers(
    stack: dict[str, Any],
) -> None:
    """web/serve.py sends firebase.json's headers (the CSP widened to the local cloud only), so the
    browser test (tests/emulator/test_web_e2e.py) runs the page under the production policy."""
    import requests

    (everything,) = [h for h in HOSTING["headers"] if h["source"] == "**"]
    production = {h["key"]: h["value"] for h in everything["headers"]}
    for path in ("/", "/config.json"):
        reply = requests.get(stack["web"] + path, timeout=10)
        assert reply.status_code == 200
        for key in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
            assert reply.headers[key] == production[key], (path, key)
        local_csp = reply.headers["Content-Security-Policy"]
        for directive in production["Content-Security-Policy"].split("; "):
            if directive.startswith("connect-src"):
                assert local_csp.split("connect-src ", 1)[1].startswith(directive[12:])
            else:
                assert directive in local_csp.split("; "), (path, directive)
        assert stack["functions"]["progress"] in local_csp
        assert stack["functions"]["task_notify_learner"] not in local_csp


def test_a_real_deploy_refuses_to_start_without_the_built_page(tmp_path: Path) -> None:
    from deploy.run import preflight

    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / FIREBASE).write_text("")
    assert any("web/dist" in problem for problem in preflight(tmp_path))
    (tmp_path / "web" / "dist").mkdir(parents=True)
    (tmp_path / "web" / "dist" / "index.html").write_text("")
    assert not any("web/dist" in problem for problem in preflight(tmp_path))
