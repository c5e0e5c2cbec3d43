"""The README and the guides under docs/ point only at files that exist in the repository
(a reader follows them from a fresh checkout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
if (ROOT / "bench" / "README.md").exists():
    DOCUMENTS.append(ROOT / "bench" / "README.md")

EXTENSIONS = ("py", "md", "toml", "txt", "sh", "service", "conf", "timer", "json", "cfg", "ini")
# `path/to/file.ext` or `dir/` in backticks, and the targets of markdown links
_CODE = re.compile(r"`([^`\s]+)`")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _mentioned(text: str) -> set[str]:
    found = set()
    for token in _CODE.findall(text):
        if token.startswith(("/", ".", "~", "$")) or any(c in token for c in "*<>{}…=:"):
            continue
        if "/" not in token:
            continue
        if token.endswith("/") or token.rsplit(".", 1)[-1] in EXTENSIONS:
            found.add(token)
    for target in _LINK.findall(text):
        if not re.match(r"^[a-z]+:", target):  # not http:, mailto:, …
            found.add(target)
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_document_names_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = sorted(
        name
        for name in _mentioned(text)
        if not (ROOT / name).exists() and not (document.parent / name).exists()
    )
    assert not missing, f"{document.name} names files that do not exist: {missing}"
