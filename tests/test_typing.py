"""dsl, mdp and verifier stay clean under mypy, as configured in pyproject.toml's ``[tool.mypy]``.

A cold run takes most of a minute (a warm ``.mypy_cache`` makes it a second), so the test is marked
``typing``: the suite leaves it out by default and ``.ci/run`` runs it as its own step (``pytest -m typing``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is not installed; it comes with pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dsl", "mdp", "verifier")

pytestmark = pytest.mark.typing


def test_mypy_finds_no_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # mypy reads pyproject.toml and keeps .mypy_cache here
    stdout, stderr, status = api.run(["--config-file", "pyproject.toml", *PACKAGES])
    assert status == 0, f"mypy reports errors (exit {status}):\n{stdout}{stderr}"
    checked = re.search(r"no issues found in (\d+) source files", stdout)
    n_modules = sum(1 for package in PACKAGES for _ in (ROOT / package).rglob("*.py"))
    assert checked is not None and int(checked.group(1)) == n_modules, stdout
