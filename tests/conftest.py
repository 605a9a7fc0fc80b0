"""Shared test set-up: golden files, hypothesis profiles, the shipped examples as fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.corrigo"))
GOLDEN = Path(__file__).resolve().parent / "golden"

settings.register_profile("dev", max_examples=100, deadline=None)
# CI derandomizes: a landing must not hinge on which examples a run happened to draw (dev runs explore)
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """``golden(path, text)``: compare ``text`` with the file at ``path`` (or rewrite it with --update-golden)."""
    update = request.config.getoption("--update-golden")

    def check(path: Path, text: str) -> None:
        if update or not path.exists():
            path.write_text(text, encoding="utf-8")
            if not update:
                pytest.fail(f"golden file {path.name} did not exist; written, review it and re-run")
        assert text == path.read_text(encoding="utf-8")

    return check
