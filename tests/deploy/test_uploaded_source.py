"""The artifact ``gcloud functions deploy`` uploads, built by the installed gcloud's own zipper.

``deploy.files source`` stages the runtime source; the plan deploys every function with
``--source=<that directory>``. Here the zip is made by
``googlecloudsdk.command_lib.functions.source_util.CreateSourcesZipFile`` (what ``gcloud functions
deploy`` calls), run by gcloud's own Python, and its contents are checked: every runtime module is
in it, nothing else is. The Google Cloud CLI is a prerequisite of the local cloud (its Firestore
emulator), so a machine without it fails here rather than skipping.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from deploy import files
from deploy.plan import Config, build_plan
from tests.deploy import gcloud_sdk

ROOT = Path(__file__).resolve().parents[2]
LOCAL_PACKAGES = {"functions", "shared"}
FORBIDDEN_TOP = {"tests", "localcloud", "seed", "deploy", "bench", "tools", "web", "docs"}

ZIPPER = """
import tempfile, zipfile
from googlecloudsdk.command_lib.functions import source_util
path = source_util.CreateSourcesZipFile(tempfile.mkdtemp(), sys.argv[2], None, True)
print(json.dumps(zipfile.ZipFile(path).namelist()))
"""


def gcloud_zip(source: Path, config_dir: Path) -> list[str]:
    """The names in the zip gcloud would upload for ``--source=source``."""
    names = gcloud_sdk.run(ZIPPER, str(source), config_dir=config_dir)
    assert isinstance(names, list)
    return [str(n) for n in names]


def imported_modules(root: Path) -> set[str]:
    """The project's own modules reachable from main.py (transitively), as relative paths."""
    seen: set[str] = set()
    todo = ["main"]
    while todo:
        module = todo.pop()
        path = root / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = root / module.replace(".", "/") / "__init__.py"
        relative = str(path.relative_to(root))
        if relative in seen:
            continue
        seen.add(relative)
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] not in LOCAL_PACKAGES:
                    continue
                for depth in range(1, len(parts) + 1):
                    candidate = ".".join(parts[:depth])
                    as_file = root / (candidate.replace(".", "/") + ".py")
                    as_package = root / candidate.replace(".", "/") / "__init__.py"
                    if as_file.exists() or as_package.exists():
                        todo.append(candidate)
    return seen


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    base = tmp_path_factory.mktemp("deploy")
    source = base / "source"
    assert files.main(["source", "--out", str(source)]) == 0
    return gcloud_zip(source, base / "gcloud-config")


def test_every_runtime_module_and_the_requirements_are_uploaded(uploaded: list[str]) -> None:
    names = set(uploaded)
    assert {"main.py", "requirements.txt"} <= names
    reachable = imported_modules(ROOT)
    assert "functions/registry.py" in reachable or "functions/uploads.py" in reachable
    assert reachable - names == set(), "modules main.py imports that gcloud would not upload"
    every_py = {
        str(p.relative_to(ROOT))
        for package in LOCAL_PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert every_py - names == set()
    assert (ROOT / "requirements.txt").read_text()  # the one the runtime installs


def test_nothing_but_the_runtime_source_is_uploaded(uploaded: list[str]) -> None:
    files_only = [n for n in uploaded if not n.endswith("/")]
    for name in files_only:
        top = name.split("/")[0]
        assert top in LOCAL_PACKAGES or name in files.SOURCE_FILES, name
        assert top not in FORBIDDEN_TOP, name
        assert not top.startswith("."), name  # .local/ (signing key), .venv*, .git
        assert "__pycache__" not in name, name
        assert not name.endswith(".pyc"), name
        assert not name.endswith((".json", ".pem", ".key", ".p12")), name
        assert "node_modules" not in name, name
        assert "site-packages" not in name, name
    assert len(files_only) == len(files.runtime_sources())


def test_the_plan_uploads_the_directory_it_stages() -> None:
    config = Config.make("aibc-zip-test", "us-central1", project_number="1")
    steps = build_plan(config)
    (stage,) = [s.argv for s in steps if s.argv[:4] == ("python3", "-m", "deploy.files", "source")]
    out = stage[stage.index("--out") + 1]
    deploys = [s.argv for s in steps if s.argv[1:3] == ("functions", "deploy")]
    assert deploys
    assert all(f"--source={out}" in argv for argv in deploys)


def test_a_wrong_out_directory_is_refused_not_emptied(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    with pytest.raises(FileExistsError):
        files.stage_source(tmp_path)
    assert precious.read_text() == "keep me"
    staged = tmp_path / "stage"
    first = files.stage_source(staged)
    again = files.stage_source(staged)  # a previous stage is replaced
    assert [p.relative_to(staged) for p in first] == [p.relative_to(staged) for p in again]


def test_bytecode_and_stray_files_are_not_staged(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for name in ("main.py", "requirements.txt", "functions/__init__.py", "shared/__init__.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    (root / "shared" / "__pycache__").mkdir()
    (root / "shared" / "__pycache__" / "x.py").write_text("")
    (root / "shared" / "notes.txt").write_text("")
    (root / "localcloud").mkdir()
    (root / "localcloud" / "x.py").write_text("")
    staged = files.stage_source(tmp_path / "out", root=root)
    relative = sorted(str(p.relative_to(tmp_path / "out")) for p in staged)
    assert relative == [
        "functions/__init__.py",
        "main.py",
        "requirements.txt",
        "shared/__init__.py",
    ]


def test_the_deploy_does_not_import_the_local_cloud() -> None:
    code = (
        "import sys, deploy.__main__, deploy.plan, deploy.files, deploy.run\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'localcloud', 'tests'})\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        ["python3", "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
