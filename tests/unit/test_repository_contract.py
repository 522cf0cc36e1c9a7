"""The repository carries its own contract: docs exist, links resolve, nothing points outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".venv-tasks", "node_modules", ".local", ".git", "dist", ".mypy_cache"}
OUTSIDE = re.compile(r"\.\./shared|/work/shared|ROOT\.parent|parents\[3\]")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def sources() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*")
        if p.is_file()
        and p.suffix in {".py", ".md", ".json", ".toml", ".js", ".mjs", ".rules"}
        and not SKIP.intersection(p.relative_to(ROOT).parts)
        and p.name != Path(__file__).name
    ]


def test_the_contract_documents_are_in_the_repository() -> None:
    for name in ("ARCHITECTURE.md", "API.md", "openapi.json", "DEPLOY.md"):
        assert (ROOT / "docs" / name).is_file(), name


def test_nothing_points_outside_the_repository() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sources()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_relative_links_in_the_docs_resolve() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = [
        f"{doc.relative_to(ROOT)} -> {target}"
        for doc in docs
        for target in LINK.findall(doc.read_text())
        if "://" not in target and not (doc.parent / target).exists()
    ]
    assert broken == []
