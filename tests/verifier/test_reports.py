"""Golden text, JSON, Markdown, SARIF and JUnit reports of one small spec, and the JSON schema's invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier import Verdict, verify
from verifier.reports import (SCHEMA_VERSION, render_explanation, render_markdown, render_text, to_json, to_junit,
                              to_sarif)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "reports"
SPECS = sorted(GOLDEN.glob("*.corrigo"))


def report_of(path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # reports name the spec by the path it was given: keep it relative
    return verify(Path(path.relative_to(ROOT)))  # floats, their inconclusive verdicts settled exactly


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_text_report(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(path, monkeypatch)
    explanations = "".join(render_explanation(check) for check in report.checks if not check.holds)
    golden(path.with_suffix(".txt"), render_text(report) + "\n" + explanations)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_json_report(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(path, monkeypatch)
    golden(path.with_suffix(".json"), json.dumps(to_json(report), indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_markdown_report(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(path, monkeypatch)
    golden(path.with_suffix(".md"), render_markdown(report))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_sarif_report(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(path, monkeypatch)
    golden(path.with_suffix(".sarif"), json.dumps(to_sarif([report]), indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_junit_report(path: Path, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(path, monkeypatch)
    golden(path.with_suffix(".xml"), to_junit([report]))


def test_json_schema_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(SPECS[0], monkeypatch)
    document = to_json(report)
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["verdict"] == report.verdict.value
    assert [c["name"] for c in document["checks"]] == [c.name for c in report.checks]
    for check in document["checks"]:
        assert check["verdict"] in {v.value for v in Verdict}
        assert set(check) == {"name", "kind", "property", "location", "verdict", "summary", "settle", "basis",
                              "scenario", "quantities", "parts", "trace", "attribution"}
        assert check["basis"] in {"exact arithmetic", "float certificate", "sampling"}
    json.dumps(document)  # plain JSON, no numpy scalars


def test_text_has_no_colour_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(SPECS[0], monkeypatch)
    assert "\x1b[" not in render_text(report)
    assert "\x1b[" in render_text(report, color=True)
