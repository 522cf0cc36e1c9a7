"""Certificates in a real browser: web/tests/certificates.mjs (playwright-core driving Debian's
chromium) against the local cloud, under the production CSP of web/serve.py.

A learner completes a pathway; the overview lists the certificate; its page shows the name, the
pathway, the date and "valid", and its PDF link serves a PDF; signed out, the public verification
page confirms it, then says "revoked" once the learner un-completes a resource; an unknown id says
so. axe-core runs on every view at desktop and phone width (0 serious or critical). Screenshots go
to .local/screenshots/certificates/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.browser import ROOT, run_journey, run_node

SHOTS = ROOT / ".local" / "screenshots" / "certificates"


@pytest.mark.cloud
@pytest.mark.timeout(300)
def test_certificate_pages_in_a_browser(stack: dict[str, Any]) -> None:
    assert "certificates" in stack["functions"], "the local cloud runs without `certificates`"
    run_journey(
        "certificates.mjs",
        name="certificates",
        timeout=280,
        axe=(
            "overview with certificates",
            "certificate (learner)",
            "certificate at phone width",
            "public verification",
            "public verification, revoked",
            "revoked at phone width",
            "unknown certificate",
        ),
        shots_dir=SHOTS,
        shots=(
            "overview-certificates",
            "certificate-desktop",
            "certificate-phone",
            "public-verify-valid",
            "public-verify-revoked",
            "public-verify-revoked-phone",
            "public-verify-unknown",
        ),
    )


def test_verification_links_under_node() -> None:
    run = run_node("certificates.test.mjs", timeout=120, test_runner=True)
    output = run.stdout + run.stderr
    assert "# fail 0" in run.stdout, output
    assert "# pass 0" not in run.stdout, output
