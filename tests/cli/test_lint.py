"""`corrigo lint`: exit codes, text and JSON output, bad arguments; and one run of the installed command."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from corrigo_cli import run

ROOT = Path(__file__).resolve().parent.parent.parent
GOOD = ROOT / "tests" / "data" / "design_sketch.corrigo"
ERRORS = ROOT / "tests" / "golden" / "errors"


def test_clean_spec_exits_0() -> None:
    code, out, err = run("lint", str(GOOD))
    assert (code, out, err) == (0, "1 spec(s) checked, no errors\n", "")


def test_errors_exit_2_with_the_located_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)
    code, out, err = run("lint", "unknown_name.corrigo", str(GOOD))
    assert code == 2 and out == ""
    assert err == (ERRORS / "unknown_name.err").read_text() + "\n2 spec(s) checked, 1 error(s) in 1\n"


def test_json_format_lists_errors_as_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)
    code, out, _ = run("lint", "--format", "json", "unknown_cost_term.corrigo")
    report = json.loads(out)
    assert code == 2 and report["schema_version"] == 1
    assert report["files"] == [{"file": "unknown_cost_term.corrigo", "ok": False}]
    assert [(e["line"], e["col"], e["message"]) for e in report["errors"]] == [
        (7, 15, "unknown cost term 'hungry'"),
        (8, 15, "'welfare' is an intent, not a cost term"),
        (9, 17, "'hunger' is a cost term; regret measures an intent"),
    ]
    assert report["errors"][0]["hint"] == "did you mean 'hunger'?"


@pytest.mark.parametrize("argument, message", [
    (".", "'.' is a directory, not a spec file"),
    ("missing.corrigo", "no such file 'missing.corrigo'"),
])
def test_unreadable_arguments_exit_2(argument: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ERRORS)
    code, _, err = run("lint", argument)
    assert code == 2 and message in err and "Traceback" not in err


def test_define_overrides_and_its_errors() -> None:
    assert run("lint", "-D", "FULL=6", "-D", "w_hunger=3", str(GOOD))[0] == 0
    code, _, err = run("lint", "-D", "FULL=2.5", str(GOOD))
    assert code == 2 and "-D FULL=2.5 made the int constant 'FULL' real" in err
    code, _, err = run("lint", "-D", "FULL", str(GOOD))
    assert code == 2 and "'FULL' is not NAME=VALUE" in err


def test_no_argument_is_a_usage_error() -> None:
    assert run("lint")[0] == 2


@pytest.mark.skipif(shutil.which("corrigo") is None, reason="corrigo is not installed as a command")
def test_installed_command_runs() -> None:
    done = subprocess.run(["corrigo", "lint", str(GOOD)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout == "1 spec(s) checked, no errors\n"
