"""Production parity (localcloud/parity.py): the functions run from the staged source in a venv
holding only requirements.txt, isolated from the checkout, so what would break after a deploy
breaks here: a dev-only dependency, an import of the local cloud or the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy import files
from functions import registry
from localcloud import parity

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    """The cached runtime venv (built by `make up` in parity mode, or here on first use)."""
    return parity.ensure_venv(parity.RUNTIME_DIR / "venv", ROOT / "requirements.txt")


def staged(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    files.stage_source(source)
    return source


def run_isolated(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-I", "-B", "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_staged_source_imports_every_entry_point_in_the_runtime_venv(
    runtime_python: Path, tmp_path: Path
) -> None:
    done = parity.import_check(parity.Runtime(runtime_python, staged(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(registry.ALL))


def test_the_runtime_venv_has_no_dev_packages_and_cannot_see_the_checkout(
    runtime_python: Path,
) -> None:
    for module in ("pytest", "hypothesis", "gcp_storage_emulator", "mypy", "localcloud", "tests"):
        done = run_isolated(runtime_python, f"import {module}", cwd=ROOT)
        assert done.returncode != 0, f"{module} is importable in the runtime venv"
        assert "ModuleNotFoundError" in done.stderr, done.stderr
    done = run_isolated(runtime_python, "import functions_framework, google.cloud.firestore", ROOT)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("stray", "missing"),
    [
        ("import localcloud.tokens", "localcloud"),  # a local-only helper
        ("import tests.helpers", "tests"),
        ("import hypothesis", "hypothesis"),  # a dev-only dependency
    ],
)
def test_a_stray_import_fails_locally(
    runtime_python: Path, tmp_path: Path, stray: str, missing: str
) -> None:
    source = staged(tmp_path)
    log = source / "shared" / "log.py"
    log.write_text(log.read_text() + f"\n{stray}\n")
    done = parity.import_check(parity.Runtime(runtime_python, source))
    assert done.returncode != 0
    assert f"No module named '{missing}'" in done.stderr, done.stderr


def test_a_requirements_change_rebuilds_the_venv_and_the_same_requirements_reuse_it(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing\n")
    built: list[str] = []
    python = parity.ensure_venv(venv, requirements, built.append)
    assert python.exists()
    assert parity.ensure_venv(venv, requirements, built.append) == python
    assert len(built) == 1
    requirements.write_text("# nothing, changed\n")
    parity.ensure_venv(venv, requirements, built.append)
    assert len(built) == 2
    shutil.rmtree(venv)


@pytest.mark.cloud
def test_the_running_local_cloud_runs_what_it_would_deploy(stack: dict[str, object]) -> None:
    """Each function process of `make up`: the runtime venv's python, isolated, on the staged
    main.py (parity, the default); or the checkout's main.py with LOCALCLOUD_MODE=dev."""
    pids = json.loads((ROOT / ".local" / "pids.json").read_text())
    for name in registry.ALL:
        argv = Path(f"/proc/{pids[name]}/cmdline").read_bytes().decode().split("\0")
        source = argv[argv.index("--source") + 1]
        if parity.enabled():
            assert argv[0] == str(parity.RUNTIME_DIR / "venv" / "bin" / "python"), argv
            assert "-I" in argv
            assert source == str(parity.RUNTIME_DIR / "source" / "main.py")
        else:
            assert source == str(ROOT / "main.py")
    if parity.enabled():
        staged_files = sorted(
            str(p.relative_to(parity.RUNTIME_DIR / "source"))
            for p in (parity.RUNTIME_DIR / "source").rglob("*")
            if p.is_file()
        )
        assert staged_files == sorted(str(p) for p in files.runtime_sources())
