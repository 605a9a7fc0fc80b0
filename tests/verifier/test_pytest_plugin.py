"""The pytest plugin (verifier/pytest_plugin.py), run in pytester's inner pytest sessions.

The inner runs block the installed entry point and load the module explicitly, so they test this
checkout even in an environment installed from an older one; ``test_the_entry_point_loads_the_plugin``
tests the entry point itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.worlds import FINE
import verifier.verification  # noqa: F401 - imported here, before pytester's in-process runs: those forget
                              # the modules they import, and numpy's cannot be imported twice in one process

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
ROBOT = (ROOT / "tests" / "golden" / "reports" / "hungry_robot.corrigo").read_text(encoding="utf-8")
BROKEN = ROOT / "tests" / "golden" / "errors" / "unknown_name"
GOLDEN = ROOT / "tests" / "golden" / "cli"
# hungry_robot's verdicts (tests/golden/reports/hungry_robot.txt): no_power is inconclusive
ROBOT_FAILS = ["corrigible", "shuts_down", "faithful", "no_power"]
ROBOT_HOLDS = ["no_sabotage", "bounded", "effort_cap"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # corrigo's modules are already imported in this process, so the inner run cannot rewrite their asserts
    # (pytest marks a plugin's distribution for rewriting) and would warn about it
    return pytester.runpytest("-p", "no:corrigo", "-p", "verifier.pytest_plugin", "-p", "no:cacheprovider",
                              "-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """Two specs under specs/ opted in, and a broken one elsewhere that is not."""
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ncorrigo_files = ["specs/*.corrigo"]\n')
    (pytester.path / "specs").mkdir()
    (pytester.path / "specs" / "fine.corrigo").write_text(FINE, encoding="utf-8")
    (pytester.path / "specs" / "robot.corrigo").write_text(ROBOT, encoding="utf-8")
    (pytester.path / "drafts").mkdir()
    (pytester.path / "drafts" / "broken.corrigo").write_text(BROKEN.with_suffix(".corrigo").read_text())
    return pytester


def test_every_check_is_an_item_named_spec_check(project: pytest.Pytester) -> None:
    result = run(project, "--collect-only", "-q")
    names = [line for line in result.outlines if "::" in line]
    assert names == [f"specs/fine.corrigo::{name}" for name in ("corrigible", "stops")] + [
        f"specs/robot.corrigo::{name}" for name in re.findall(r"^check (\w+)", ROBOT, re.M)]
    assert result.ret == 0  # drafts/broken.corrigo is not opted in, so not read


def test_checks_pass_and_fail_as_verified_inconclusive_fails(project: pytest.Pytester) -> None:
    result = run(project, "-rf")
    result.assert_outcomes(passed=2 + len(ROBOT_HOLDS), failed=len(ROBOT_FAILS))
    failed = re.findall(r"^FAILED specs/robot\.corrigo::(\w+)", result.stdout.str(), re.M)
    assert failed == ROBOT_FAILS
    assert "check no_power (specs/robot.corrigo:30:1): INCONCLUSIVE" in result.stdout.str()


def test_a_failure_shows_the_explanation(project: pytest.Pytester, golden) -> None:
    result = run(project, "specs/robot.corrigo", "-k", "corrigible")
    result.assert_outcomes(failed=1, deselected=len(ROBOT_FAILS) + len(ROBOT_HOLDS) - 1)
    text = result.stdout.str()
    section = re.search(r"_ check corrigible _+\n(.*?)\n=+ ", text, re.S).group(1)
    assert "Traceback" not in section and "pytest_plugin.py" not in section
    golden(GOLDEN / "pytest_plugin_failure.txt", section)


def test_a_spec_error_is_a_located_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncorrigo_files = *.corrigo\n")
    pytester.makefile(".corrigo", unknown_name=BROKEN.with_suffix(".corrigo").read_text())
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the run
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert BROKEN.with_suffix(".err").read_text(encoding="utf-8").rstrip("\n") in text  # same path, line, caret
    assert "ERROR collecting unknown_name.corrigo" in text
    assert "Traceback" not in text and "typecheck.py" not in text


def test_nothing_is_collected_without_opting_in(pytester: pytest.Pytester) -> None:
    pytester.makefile(".corrigo", fine=FINE, broken=BROKEN.with_suffix(".corrigo").read_text())
    result = run(pytester)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.no_fnmatch_line("*fine.corrigo*")


def test_an_absolute_glob_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\ncorrigo_files = {pytester.path}/*.corrigo\n")
    pytester.makefile(".corrigo", fine=FINE)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: corrigo_files: '{pytester.path}/*.corrigo' is not a glob relative to the "
                                 "rootdir*"])
    assert "Traceback" not in result.stderr.str()


def test_expected_failures_are_strict_xfails(project: pytest.Pytester) -> None:
    project.makepyprojecttoml('[tool.pytest.ini_options]\ncorrigo_files = ["specs/robot.corrigo"]\n'
                              'corrigo_xfail = ["specs/robot.corrigo::corrigible", "specs/robot.corrigo::bounded"]\n')
    result = run(project, "-rfX")
    result.assert_outcomes(passed=len(ROBOT_HOLDS) - 1, failed=len(ROBOT_FAILS), xfailed=1)
    result.stdout.fnmatch_lines(["*specs/robot.corrigo::bounded*XPASS(strict)*"])  # it holds: the list is stale


def test_a_model_error_fails_every_check_with_its_message(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncorrigo_files = *.corrigo\n")
    pytester.makefile(".corrigo", zero="model zero\ndiscount 0.5\nvar x : 0..1 = 1\naction a: x' = 0\n"
                                       "cost waste = 1 / x\ncheck low : cost <= 10\ncheck reached : P >= 0.5 [ F x == 0 ]\n")
    result = run(pytester)
    result.assert_outcomes(failed=2)  # the spec loads; compiling its model fails, once for both checks
    text = result.stdout.str()
    failures = text.split("short test summary info")[0]  # on CI (env CI set) pytest repeats whole messages there
    assert failures.count("zero.corrigo:5:14: error: division by zero in cost 'waste'") == 2
    assert "Traceback" not in text and "compiler.py" not in text


def test_the_entry_point_loads_the_plugin(project: pytest.Pytester) -> None:
    found = [e.value for e in entry_points(group="pytest11") if e.name == "corrigo"]
    assert found == ["verifier.pytest_plugin"], (
        "the pytest11 entry point 'corrigo' is not installed: re-run pip install -e '.[test]'")
    result = project.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                               "--collect-only", "-q")
    assert "specs/fine.corrigo::stops" in result.stdout.str()


def test_loading_the_plugin_imports_none_of_corrigo() -> None:
    """pytest loads the plugin at every start wherever corrigo is installed: it must cost nothing there."""
    code = "import sys, verifier.pytest_plugin; print(sorted({'dsl', 'mdp', 'numpy', 'lark'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


def test_this_repository_collects_its_examples_and_never_its_broken_specs(pytester: pytest.Pytester) -> None:
    """With corrigo's own pytest configuration: `pytest examples/` runs the examples' checks, `pytest` none."""
    shutil.copy(ROOT / "pyproject.toml", pytester.path)
    for relative in ("examples/off_switch_game.corrigo", "tests/golden/errors/unknown_name.corrigo",
                     "tests/data/design_sketch.corrigo"):
        (pytester.path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, pytester.path / relative)
    examples = run(pytester, "examples", "--collect-only", "-q")
    expected = re.findall(r"^check (\w+)", (ROOT / "examples" / "off_switch_game.corrigo").read_text(), re.M)
    assert [line for line in examples.outlines if "::" in line] == [
        f"examples/off_switch_game.corrigo::{name}" for name in expected]
    assert run(pytester, "--collect-only", "-q").ret == pytest.ExitCode.NO_TESTS_COLLECTED  # testpaths = tests
    assert run(pytester, "tests", "--collect-only", "-q").ret == pytest.ExitCode.NO_TESTS_COLLECTED
