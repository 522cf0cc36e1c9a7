"""Run code with the installed Google Cloud CLI's own Python and modules (its ``lib/``).

The CLI is a prerequisite of the local cloud (its Firestore emulator) and is on every CI machine, so
its absence fails the tests that use it instead of skipping them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path


@functools.cache
def sdk(config_dir: Path) -> tuple[str, str]:
    """(gcloud's bundled python, the SDK root), as ``gcloud info`` reports them."""
    gcloud = shutil.which("gcloud")
    assert gcloud, "the Google Cloud CLI (gcloud) is required: it is on every CI machine"
    info = subprocess.run(
        [gcloud, "info", "--format=json(basic.python_location,installation.sdk_root)"],
        env=environ(config_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    described = json.loads(info.stdout)
    return described["basic"]["python_location"], described["installation"]["sdk_root"]


def environ(config_dir: Path) -> dict[str, str]:
    return {**os.environ, "CLOUDSDK_CONFIG": str(config_dir), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}


PRELUDE = (
    "import json, sys\n"
    "sdk_root = sys.argv[1]\n"
    'sys.path[:0] = [sdk_root + "/lib", sdk_root + "/lib/third_party"]\n'
)


def run(code: str, *args: str, config_dir: Path) -> object:
    """Run ``code`` (after a prelude that makes gcloud's modules importable; ``sys.argv[2:]`` are
    ``args``) and return the JSON it prints on its last line."""
    python, sdk_root = sdk(config_dir)
    done = subprocess.run(
        [python, "-c", PRELUDE + code, sdk_root, *args],
        env=environ(config_dir),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: object = json.loads(done.stdout.strip().splitlines()[-1])
    return result
