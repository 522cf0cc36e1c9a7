"""Certificates in a real browser: web/tests/certificates.mjs (playwright-core driving Debian's
chromium) against the local cloud, under the production CSP of web/serve.py.

A learner completes a pathway; the overview lists the certificate; its page shows the name, the
pathway, the date and "valid", and its PDF link serves a PDF; signed out, the public verification
page confirms it, then says "revoked" once the learner un-completes a resource; an unknown id says
so. axe-core runs on every view at desktop and phone width (0 serious or critical). Screenshots go
to .local/screenshots/certificates/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / ".local" / "screenshots" / "certificates"


@pytest.mark.cloud
@pytest.mark.timeout(300)
def test_certificate_pages_in_a_browser(stack: dict[str, Any]) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make install` installs it"
    node = shutil.which("node")
    assert node, "node is required"
    assert "certificates" in stack["functions"], "the local cloud runs without `certificates`"
    run = subprocess.run(
        [node, str(ROOT / "web" / "tests" / "certificates.mjs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "[certificates] passed: every step held" in run.stdout, output
    for view in (
        "overview with certificates",
        "certificate (learner)",
        "certificate at phone width",
        "public verification",
        "public verification, revoked",
        "revoked at phone width",
        "unknown certificate",
    ):
        assert f"axe {view}: 0 serious or critical" in run.stdout, output
    shots = sorted(p.name for p in SHOTS.glob("*.png"))
    for name in (
        "overview-certificates",
        "certificate-desktop",
        "certificate-phone",
        "public-verify-valid",
        "public-verify-revoked",
        "public-verify-revoked-phone",
        "public-verify-unknown",
    ):
        assert any(name in s for s in shots), (name, shots)
    assert not any(s.startswith("FAILED") for s in shots), shots


def test_verification_links_under_node() -> None:
    node = shutil.which("node")
    assert node, "node is required"
    run = subprocess.run(
        [node, "--test", str(ROOT / "web" / "tests" / "certificates.test.mjs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "# fail 0" in run.stdout, output
    assert "# pass 0" not in run.stdout, output
