"""The documents a user reads name only files that exist, and say what the code needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "scenarios" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: files a run writes (named in the docs as outputs, not shipped)
WRITTEN = {"report.md", "summary.md"}


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_markdown_file_a_document_cites_is_in_the_repo(doc: Path) -> None:
    missing = []
    for name in set(re.findall(r"[\w./-]+\.md\b", doc.read_text(encoding="utf-8"))):
        if Path(name).name in WRITTEN:
            continue
        if not any((base / name).exists() for base in (ROOT, doc.parent, ROOT / "docs")):
            missing.append(name)
    assert not missing, f"{doc.relative_to(ROOT)} cites missing files: {missing}"


def test_require_services_names_every_service_the_tests_require() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(p for p in readme.split("\n\n") if "MFALAB_REQUIRE_SERVICES" in p)
    for service in ("PostgreSQL", "Redis", "nginx", "chromium"):
        assert service in line, service
