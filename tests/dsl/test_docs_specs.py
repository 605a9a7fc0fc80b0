"""Every complete spec in the README and docs/ (a ```corrigo block) checks without error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dsl

ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(doc, i, match.group(1)) for doc in DOCUMENTS
          for i, match in enumerate(re.finditer(r"^```corrigo\n(.*?)^```", doc.read_text(), re.M | re.S))]


def test_the_docs_contain_complete_specs() -> None:
    assert {doc.name for doc, _, _ in BLOCKS} >= {"README.md", "language.md"}


@pytest.mark.parametrize("doc, index, text", BLOCKS, ids=[f"{d.name}-{i}" for d, i, _ in BLOCKS])
def test_spec_in_docs_checks(doc: Path, index: int, text: str) -> None:
    spec = dsl.load(text)
    assert spec.actions
