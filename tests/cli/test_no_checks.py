"""A spec without checks passes `corrigo verify` (exit 0), with a warning on stderr and in every report format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from corrigo_cli import run

from tests.worlds import FINE

EMPTY = "model empty\ndiscount 0.5\nvar x : bool\naction a: skip\ncost c = 1\n"
WARNING = ("empty.corrigo: warning: the spec declares no check, so nothing was verified; add a check declaration "
           "(docs/language.md lists the kinds)\n")


@pytest.fixture(autouse=True)
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # reports name the specs by the relative paths given
    Path("empty.corrigo").write_text(EMPTY)
    Path("fine.corrigo").write_text(FINE)


def test_text() -> None:
    code, out, err = run("verify", "empty.corrigo")
    assert (code, err) == (0, WARNING)
    lines = out.splitlines()  # the second says the model's size and value, with the solver's bound
    assert (lines[0], lines[-1]) == ("empty.corrigo: model 'empty'",
                                     "no checks: the spec declares no check, so nothing was verified")
    assert len(lines) <= 4 and "check" not in " ".join(lines[1:-1])  # no empty table


def test_markdown() -> None:
    assert run("verify", "--format", "markdown", "empty.corrigo") == (0, (
        "## corrigo: `empty` (`empty.corrigo`)\n\n**⚠️ NO CHECKS**: the spec declares no check, so nothing was "
        "verified. 1 states, 1 choices, 1 transitions; optimal policies reach 1 states; optimal cost 2 "
        "(bound 5.3e-15), discount 0.5.\n"), WARNING)


def test_json_lists_no_checks() -> None:
    code, out, err = run("verify", "--format", "json", "empty.corrigo")
    assert (code, err) == (0, WARNING)
    document = json.loads(out)
    assert (document["checks"], document["verdict"]) == ([], "holds")


def test_junit_has_a_skipped_testcase() -> None:
    code, out, err = run("verify", "--format", "junit", "empty.corrigo", "fine.corrigo")
    assert (code, err) == (0, WARNING)
    root = ET.fromstring(out)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "0", "0")
    empty, fine = root
    assert (empty.get("tests"), empty.get("skipped"), fine.get("skipped")) == ("1", "1", "0")
    assert ET.tostring(empty[0], encoding="unicode").split() == (
        '<testcase classname="empty" name="checks"> <skipped message="the spec declares no check, so nothing was '
        'verified" /> </testcase>').split()


def test_sarif_has_a_warning_at_the_top_of_the_spec() -> None:
    code, out, err = run("verify", "--format", "sarif", "fine.corrigo", "empty.corrigo")
    assert (code, err) == (0, WARNING)
    run_ = json.loads(out)["runs"][0]
    assert run_["results"] == [{
        "ruleId": "no-checks", "ruleIndex": 2, "level": "warning",
        "message": {"text": "the spec declares no check, so nothing was verified"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "empty.corrigo"},
                                            "region": {"startLine": 1, "startColumn": 1}}}]}]
    assert [rule["id"] for rule in run_["tool"]["driver"]["rules"]] == ["accepts_shutdown", "probability", "no-checks"]
    assert run_["invocations"][0]["executionSuccessful"] is True


def test_a_spec_with_checks_gives_no_warning() -> None:
    code, _, err = run("verify", "fine.corrigo")
    assert (code, err) == (0, "")


def test_html() -> None:
    from verifier.reports import render_html
    from verifier.verification import verify

    html = render_html(verify(Path("empty.corrigo")))
    assert "<table>" not in html
    assert "<p><strong>⚠️ NO CHECKS</strong>: the spec declares no check, so nothing was verified. 1 states" in html
