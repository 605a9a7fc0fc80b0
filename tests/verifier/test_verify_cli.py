"""`corrigo verify` and `corrigo explain`: exit codes, formats, errors (CliRunner)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import verifier.verification
from tests.report_schema import REPORT_SCHEMA
from tests.worlds import FINE
from verifier.cli import main

ROOT = Path(__file__).resolve().parents[2]
ROBOT = ROOT / "tests" / "golden" / "reports" / "hungry_robot.corrigo"



def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def passing(tmp_path: Path) -> Path:
    path = tmp_path / "fine.corrigo"
    path.write_text(FINE)
    return path


def test_all_hold_exits_0(passing: Path) -> None:
    code, out, err = run("verify", str(passing))
    assert code == 0, err
    assert "2 check(s): 2 hold, 0 fail, 0 inconclusive" in out
    assert "\x1b[" not in out  # no colour when not on a tty


def test_a_failing_check_exits_1() -> None:
    code, out, _ = run("verify", str(ROBOT))
    assert code == 1
    assert "corrigible" in out and "FAILS" in out
    assert "'eat' over 'comply'" in out  # the short attribution


def test_spec_error_exits_2(tmp_path: Path, passing: Path) -> None:
    bad = tmp_path / "bad.corrigo"
    bad.write_text(FINE.replace("cost effort = 1 * [work]", "cost effort = 1 * [wrok]"))
    code, out, err = run("verify", str(bad), str(passing))
    assert code == 2
    assert "bad.corrigo:7" in err and "error" in err
    assert "2 hold" in out  # the good spec is still verified


def test_a_spec_error_in_json_is_a_report_object_with_the_error(tmp_path: Path, passing: Path) -> None:
    # one JSON shape always: not `[]`, but the report's object with verdict "error" and the located diagnostics
    bad = tmp_path / "bad.corrigo"
    bad.write_text(FINE.replace("cost effort = 1 * [work]", "cost effort = 1 * [wrok]"))
    code, out, err = run("verify", "--format", "json", str(bad))
    assert code == 2 and "bad.corrigo:7:" in err
    document = json.loads(out)
    REPORT_SCHEMA.validate(document)
    [diagnostic] = document["error"]["diagnostics"]
    assert (document["verdict"], document["file"], document["spec"], document["checks"]) == ("error", str(bad), None, [])
    assert document["error"]["kind"] == "spec" and document["error"]["message"].startswith(f"{bad}:7:")
    assert (diagnostic["file"], diagnostic["line"], diagnostic["message"]) == (str(bad), 7, "unknown action 'wrok'")
    code, out, _ = run("verify", "--format", "json", str(bad), str(passing))  # several: an array in their order
    assert code == 2 and [d["verdict"] for d in json.loads(out)] == ["error", "holds"]
    code, out, _ = run("verify", "--format", "json", "--max-states", "1", str(ROBOT))
    assert code == 3 and json.loads(out)["error"]["kind"] == "resource"


def test_missing_file_exits_2() -> None:
    code, _, err = run("verify", "no_such_file.corrigo")
    assert code == 2 and "no such file" in err


def test_state_limit_exits_3() -> None:
    code, _, err = run("verify", "--max-states", "1", str(ROBOT))
    assert code == 3 and "max-states" in err


COUNTERS = """\
model counters
discount 0.9
var a : 0..100
var b : 0..100
action inc_a when a < 100: a' = a + 1
action inc_b when b < 100: b' = b + 1
action wait: skip
check small : never a > 100
"""


def test_without_max_states_the_memory_budget_stops_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mdp.compiler

    monkeypatch.setattr(mdp.compiler, "DEFAULT_MAX_BYTES", 100_000)
    path = tmp_path / "counters.corrigo"
    path.write_text(COUNTERS)
    code, out, err = run("verify", str(path))
    # layers of 1, 2, ..., 14 states with a + b = d (105); the estimate is pinned in tests/mdp/test_compiler.py
    assert (code, out) == (3, "")
    assert err == (
        f"{path}: error: the model would need about 103 KiB to build, more than its memory budget of 97.7 KiB: "
        "105 states found (14 not yet explored)\n"
        "    = note: 'a' (line 3): 14 of its 101 values reached\n"
        "    = note: 'b' (line 4): 14 of its 101 values reached\n"
        "    = hint: shrink the domains of these variables (or set consts and params with -D); --max-states N "
        "builds up to N states, however much memory they take\n")
    code, out, err = run("verify", "--max-states", "100000", str(path))  # a limit on states replaces the budget
    assert (code, err) == (0, "")


def test_the_help_states_the_default_budget() -> None:
    import mdp.compiler

    assert f"more than {mdp.compiler.DEFAULT_MAX_BYTES >> 30} GiB" in " ".join(run("verify", "--help")[1].split())


def test_defines_reach_the_spec(passing: Path) -> None:
    code, _, err = run("verify", "-D", "NOPE=1", str(passing))
    assert code == 2 and "NOPE" in err


def test_json_format_is_the_versioned_report(passing: Path) -> None:
    code, out, _ = run("verify", "--format", "json", str(ROBOT))
    document = json.loads(out)
    assert code == 1
    assert document["schema_version"] == 1 and document["verdict"] == "fails"
    code, out, _ = run("verify", "--format", "json", str(ROBOT), str(passing))
    documents = json.loads(out)
    assert [d["spec"] for d in documents] == ["hungry_robot", "fine"]


def test_markdown_format(passing: Path) -> None:
    code, out, _ = run("verify", "--format", "markdown", str(passing))
    assert code == 0 and out.startswith("## corrigo: `fine`")


def test_explain_prints_trace_and_attribution() -> None:
    code, out, _ = run("explain", str(ROBOT), "corrigible")
    assert code == 1
    assert "counterexample" in out and "decisive state: fed=false, off=false, switch=armed" in out
    assert "joy" in out and "+1.77778" in out


def test_explain_a_holding_check_exits_0() -> None:
    code, out, _ = run("explain", str(ROBOT), "no_sabotage")
    assert code == 0 and "HOLDS" in out


def test_explain_unknown_check_is_a_usage_error() -> None:
    code, _, err = run("explain", str(ROBOT), "nope")
    assert code == 2 and "no check 'nope'" in err and "corrigible" in err


def test_internal_errors_exit_3(monkeypatch: pytest.MonkeyPatch, passing: Path) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")
    monkeypatch.setattr(verifier.verification, "solve_spec", broken)
    code, _, err = run("verify", str(passing))
    assert code == 3 and "internal error" in err and "boom" in err


def test_piped_prose_is_not_wrapped_and_no_line_has_trailing_spaces() -> None:
    code, out, _ = run("verify", str(ROBOT))
    assert code == 1 and all(line == line.rstrip() for line in out.splitlines())
    model_line = out.splitlines()[1]  # one line however long, where a 100-column terminal wraps it
    assert model_line.startswith("4 states, ") and model_line.endswith(", discount 0.5") and len(model_line) > 100
    code, out, _ = run("explain", str(ROBOT), "corrigible")
    assert all(line == line.rstrip() for line in out.splitlines())


class FakeStdout:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty, env, color", [
    (True, {}, True), (False, {}, False), (True, {"NO_COLOR": "1"}, False), (True, {"NO_COLOR": ""}, True),
    (False, {"FORCE_COLOR": "1"}, True), (True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False)])
def test_colour_follows_the_terminal_no_color_and_force_color(monkeypatch: pytest.MonkeyPatch, tty: bool,
                                                               env: dict[str, str], color: bool) -> None:
    import verifier.cli

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(verifier.cli.sys, "stdout", FakeStdout(tty))
    monkeypatch.setattr(verifier.cli.shutil, "get_terminal_size", lambda: os.terminal_size((80, 24)))
    monkeypatch.delenv("COLUMNS", raising=False)
    assert verifier.cli._terminal() == (color, 80 if tty else 100)  # tables as wide as the terminal, or 100
    monkeypatch.setenv("COLUMNS", "132")
    assert verifier.cli._terminal() == (color, 80 if tty else 132)


def test_quiet_prints_one_located_line_per_check_that_does_not_hold(golden, passing: Path) -> None:
    code, out, err = run("verify", "--quiet", str(passing))
    assert (code, out, err) == (0, "", "")
    code, out, err = run("verify", "-q", str(ROBOT), str(passing))
    assert code == 1 and err == ""
    golden(ROOT / "tests" / "golden" / "cli" / "verify_quiet.txt", out.replace(str(ROOT) + "/", ""))
    assert run("lint", "-q", str(passing)) == (0, "", "")


def test_verbose_adds_the_explanation_of_each_check_that_does_not_hold(passing: Path) -> None:
    _, plain, _ = run("verify", str(ROBOT))
    code, out, _ = run("verify", "--verbose", str(ROBOT))
    _, explained, _ = run("explain", str(ROBOT), "corrigible")
    assert code == 1 and out.startswith(plain) and explained in out
    assert run("verify", "-v", str(passing))[1] == run("verify", str(passing))[1]  # nothing to explain


def test_quiet_and_verbose_are_text_only_and_exclusive(passing: Path) -> None:
    code, _, err = run("verify", "-q", "-v", str(passing))
    assert code == 2 and "--quiet and --verbose exclude each other; choose one" in err
    code, _, err = run("verify", "-q", "--format", "json", str(passing))
    assert code == 2 and "--quiet shapes the text report; --format json always holds everything" in err
