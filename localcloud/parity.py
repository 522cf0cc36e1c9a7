"""Production parity: run what you deploy.

In this mode (the default of ``python -m localcloud up``; ``LOCALCLOUD_MODE=dev`` turns it off) every
function is started the way the Functions runtime starts it:

- from the **staged source** (``deploy.files.stage_source``: the very directory ``gcloud functions
  deploy --source`` uploads) copied to ``.local/runtime/source``, not from the checkout;
- in a **virtualenv holding only requirements.txt** (``.local/runtime/venv``, rebuilt when the
  requirements' hash changes), not the dev venv with pytest, the storage emulator and friends;
- with ``python -I`` (isolated: no ``PYTHONPATH``, no current directory or script directory on
  ``sys.path``), so the repository is not importable: functions-framework puts only the staged
  directory on ``sys.path``.

A missing runtime dependency, or a stray import of ``localcloud``, ``tests``, ``seed`` or ``deploy``
from the functions' code, therefore fails at ``make up`` / ``make test`` instead of after a deploy.
``python -m localcloud.parity check`` builds both and imports ``main`` the same way, without
starting anything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy import files

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIR = ROOT / ".local" / "runtime"
MODE_VARIABLE = "LOCALCLOUD_MODE"
HASH_FILE = ".requirements.sha256"
FUNCTION_SERVER = Path(__file__).resolve().parent / "function_server.py"


@dataclass(frozen=True)
class Runtime:
    python: Path  # the runtime venv's interpreter
    source: Path  # the staged source directory (holds main.py)

    def command(self, target: str, signature: str, host: str, port: int) -> list[str]:
        """functions-framework for one entry point, isolated from the checkout
        (``localcloud/function_server.py``, run as a script, imports only functions-framework)."""
        return [
            str(self.python),
            "-I",  # isolated: ignore PYTHON* variables, no cwd/script dir on sys.path
            "-u",  # unbuffered (-I ignores PYTHONUNBUFFERED)
            "-B",  # no __pycache__ in the staged source
            str(FUNCTION_SERVER),
            "--target",
            target,
            "--source",
            str(self.source / "main.py"),
            "--signature-type",
            signature,
            "--host",
            host,
            "--port",
            str(port),
        ]


def enabled() -> bool:
    """Parity is the default; ``LOCALCLOUD_MODE=dev`` runs the functions from the checkout."""
    return os.environ.get(MODE_VARIABLE, "parity").strip().lower() != "dev"


def requirements_hash(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_venv(venv: Path, requirements: Path, say: Callable[[str], None] = print) -> Path:
    """A venv with exactly ``requirements`` installed; reused while the requirements are unchanged."""
    python = venv / "bin" / "python"
    wanted = requirements_hash(requirements)
    marker = venv / HASH_FILE
    if python.exists() and marker.exists() and marker.read_text().strip() == wanted:
        return python
    say(f"building the runtime venv {venv} from {requirements.name} (only the runtime deps)")
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            str(requirements),
        ],
        check=True,
    )
    marker.write_text(wanted + "\n")
    return python


def prepare(
    runtime_dir: Path = RUNTIME_DIR, root: Path = ROOT, say: Callable[[str], None] = print
) -> Runtime:
    """Stage the source (fresh every time) and make sure the runtime venv matches it."""
    source = runtime_dir / "source"
    files.stage_source(source, root=root)
    python = ensure_venv(runtime_dir / "venv", source / "requirements.txt", say)
    return Runtime(python=python, source=source)


def import_check(runtime: Runtime) -> subprocess.CompletedProcess[str]:
    """Import ``main`` (every entry point) the way functions-framework does, in the runtime venv."""
    code = (
        "import sys\n"
        f"sys.path.append({str(runtime.source)!r})\n"
        "import main\n"
        "print(len(main.__all__))\n"
    )
    return subprocess.run(
        [str(runtime.python), "-I", "-B", "-c", code],
        cwd=runtime.source,
        capture_output=True,
        text=True,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["check"]:
        print("usage: python -m localcloud.parity check", file=sys.stderr)
        return 2
    runtime = prepare()
    done = import_check(runtime)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode == 0:
        print(f"parity: the staged source imports in the runtime venv ({runtime.python})")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
