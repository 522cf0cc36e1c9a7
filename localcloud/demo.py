"""A short learner journey on the running local cloud, printing progress as it rolls up.

    python -m localcloud.demo   (make demo runs it after make up)

A fresh learner works through the `prompt-engineering` pathway: watches, reads, answers the quiz,
uploads a markdown file for the exercise and a PDF for the project straight to (emulated) Cloud
Storage through signed URLs; an instructor approves the project. After each step the learner's
progress report is read back as the event bridge and the triggers roll it up.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from localcloud.tokens import mint

ROOT = Path(__file__).resolve().parent.parent
PATHWAY = "prompt-engineering"
MARKDOWN = b"# Five better prompts\n\n1. Say who the reader is.\n2. Give an example.\n"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


class Journey:
    def __init__(self, stack: dict[str, Any]) -> None:
        self.fn = stack["functions"]
        self.uid = f"demo-{uuid.uuid4().hex[:8]}"
        self.token = mint(self.uid, project_id=stack["project_id"])
        self.instructor = mint("demo-instructor", instructor=True, project_id=stack["project_id"])
        self.admin = mint("demo-admin", admin=True, project_id=stack["project_id"])
        self.http = requests.Session()

    def call(self, fn: str, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        reply = self.http.request(method, self.fn[fn] + path, headers=headers, timeout=30, **kw)
        if reply.status_code >= 400:
            raise SystemExit(f"{method} {path} -> {reply.status_code} {reply.text}")
        return reply.json() if reply.content else None

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = self.call("progress", "GET", f"/users/me/progress/{PATHWAY}")
        return data

    def show(self, step: str, expect_completed: int = 0) -> None:
        """Print the report once the rollups reflect ``expect_completed`` resources (or 20 s)."""
        deadline = time.monotonic() + 20
        report = self.report()
        while time.monotonic() < deadline:
            total = sum(m["total_resources"] for m in report["modules"]) or 1
            done = sum(m["completed_resources"] for m in report["modules"])
            if done >= expect_completed and report["resource_percentage"] >= (
                100 * expect_completed / total - 0.01
            ):
                break
            time.sleep(0.1)
            report = self.report()
        module = report["modules"][0]
        print(
            f"  {step:<44.44} module {module['completed_resources']}/{module['total_resources']}"
            f" = {module['percentage']:>5.1f}%   pathway {report['percentage']:>5.1f}%"
            f" (resources {report['resource_percentage']:>5.1f}%)"
        )

    def upload(self, resource_id: str, name: str, content_type: str, data: bytes) -> str:
        body = {"file_name": name, "content_type": content_type, "size_bytes": len(data)}
        grant = self.call(
            "uploads", "POST", f"/users/me/resources/{resource_id}/upload-url", json=body
        )
        put = self.http.put(grant["upload_url"], data=data, headers=grant["headers"], timeout=30)
        if put.status_code >= 300:
            raise SystemExit(f"upload refused: {put.status_code} {put.text}")
        submission_id: str = grant["submission_id"]
        return submission_id

    def run(self) -> None:
        listing = self.call("resources", "GET", f"/pathways/{PATHWAY}/resources")
        resources = [r for m in listing["modules"] for r in m["resources"]]
        print(f"Learner {self.uid} opens '{listing['title']}': {len(resources)} resources")
        # An admin enrols the learner in the demo cohort, which demo-instructor teaches.
        self.call("cohorts", "PUT", f"/cohorts/demo-cohort/members/{self.uid}", token=self.admin)
        print(f"An admin enrols {self.uid} in demo-cohort (instructor: demo-instructor)")
        self.show("nothing done yet")
        done = 0
        for r in resources:
            rid = r["resource_id"]
            self.call("progress", "POST", f"/users/me/resources/{rid}/start")
            if r["requires_upload"]:
                if r["type"] == "exercise":
                    sid = self.upload(rid, "better-prompts.md", "text/markdown", MARKDOWN)
                else:
                    sid = self.upload(rid, "prompt-library.pdf", "application/pdf", PDF)
                done += 1
                self.show(f"uploaded {r['type']} ({sid[:8]})", done)
            else:
                self.call(
                    "progress",
                    "PUT",
                    f"/users/me/resources/{rid}/progress",
                    json={"progress_percentage": 100, "time_spent_minutes": r["duration_minutes"]},
                )
                self.call("progress", "POST", f"/users/me/resources/{rid}/complete")
                done += 1
                self.show(f"completed {r['type']}: {r['title'][:28]}", done)
        queue = self.call(
            "review",
            "GET",
            f"/admin/submissions/pending?pathway_id={PATHWAY}",
            token=self.instructor,
        )
        mine = [s for s in queue["submissions"] if s["user_id"] == self.uid]
        for s in mine:
            self.call(
                "review",
                "POST",
                f"/admin/submissions/{s['submission_id']}/review",
                token=self.instructor,
                json={
                    "decision": "approve",
                    "generation": s["gcs_generation"],
                    "grade": 92,
                    "comments": "Nice",
                },
            )
        print(f"Instructor approved {len(mine)} submission(s)")
        report = self.report()
        print(f"Pathway complete: {report['percentage']}% at {report['completed_at']}")


def main() -> None:
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    Journey(stack).run()


if __name__ == "__main__":
    main()
