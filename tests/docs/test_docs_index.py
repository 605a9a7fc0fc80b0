"""docs/README.md links every page of docs/ (notebooks too), and every link between the pages leads to a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def links(page: Path) -> set[str]:
    """Relative link targets of a Markdown page (web addresses and anchors left out)."""
    return {target for target in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in target}


def test_the_index_links_every_page() -> None:
    pages = {p.relative_to(DOCS).as_posix() for pattern in ("*.md", "*.ipynb") for p in DOCS.rglob(pattern)}
    pages -= {"README.md"}
    assert "notebook.ipynb" in pages
    missing = sorted(pages - links(DOCS / "README.md"))
    assert not missing, f"add {', '.join(missing)} to the table in docs/README.md"


def test_readme_links_the_index_and_getting_started() -> None:
    assert {"docs/README.md", "docs/getting-started.md"} <= links(ROOT / "README.md")


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files(page: Path) -> None:
    broken = sorted(t for t in links(page) if not (page.parent / t).exists())
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {', '.join(broken)}"
