"""`corrigo verify` on several specs: an internal error or a --timeout in one is that spec's error result, in
every format, and the other specs are still verified; --timeout on the other commands.

Internal errors are provoked by replacing a function with one that raises, so the tests keep working
whatever real bugs are fixed; slowness by replacing one with a busy loop, and by a model too big to
build in the time given.
"""

from __future__ import annotations

import json
import re
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from corrigo_cli import run

import mdp
import verifier.verification
from tests.report_schema import REPORT_SCHEMA
from tests.worlds import FINE

BUG = "this is a bug in corrigo; please report it with the spec that caused it"
HINT = "raise --timeout, or make the model smaller (-D, --max-states)"


@pytest.fixture
def specs(tmp_path: Path) -> dict[str, str]:
    """Three specs that verify (every check holds); the tests break or slow down the one named 'bad'."""
    paths = {}
    for name in ("first", "bad", "last"):
        path = tmp_path / f"{name}.corrigo"
        path.write_text(FINE.replace("model fine", f"model {name}"))
        paths[name] = str(path)
    return paths


def breaking(original: Callable[..., Any], failure: Callable[[], Any]) -> Callable[..., Any]:
    """``original``, except for the spec or model named 'bad', where ``failure()`` runs instead."""
    def replacement(first: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(first, "name", None) == "bad":
            return failure()
        return original(first, *args, **kwargs)

    return replacement


def busy() -> None:
    """Work in Python for up to 30 s (a failing test must still end)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pass


@pytest.fixture
def internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> None:
        raise ValueError("need at least one array to concatenate")

    monkeypatch.setattr(verifier.verification, "verify_model", breaking(verifier.verification.verify_model, fail))


def test_an_internal_error_in_one_spec_keeps_the_other_reports(specs: dict[str, str], internal_error: None) -> None:
    code, out, err = run("verify", *specs.values())
    assert code == 3
    assert err == f"{specs['bad']}: internal error: ValueError: need at least one array to concatenate\n{BUG}\n"
    assert [line for line in out.splitlines() if line.endswith(".corrigo: model 'first'") or
            line.endswith(".corrigo: model 'last'")] == [f"{specs['first']}: model 'first'",
                                                         f"{specs['last']}: model 'last'"]
    assert out.count("2 check(s): 2 hold, 0 fail, 0 inconclusive") == 2


def test_an_internal_error_in_json_and_markdown(specs: dict[str, str], internal_error: None) -> None:
    code, out, err = run("verify", "--format", "json", *specs.values())
    assert code == 3 and err.startswith(f"{specs['bad']}: internal error: ")
    documents = json.loads(out)  # in the order of the specs, the one that could not be verified in the same shape
    assert [document["spec"] for document in documents] == ["first", None, "last"]
    assert documents[1]["file"] == specs["bad"] and documents[1]["verdict"] == "error"
    assert documents[1]["error"] == {"kind": "internal", "diagnostics": [], "message": f"internal error: ValueError: "
                                     f"need at least one array to concatenate\n{BUG}"}
    assert documents[0]["error"] is None and documents[0]["verdict"] == "holds"
    REPORT_SCHEMA.validate(documents)
    code, out, _ = run("verify", "--format", "markdown", *specs.values())
    assert code == 3
    assert [line for line in out.splitlines() if line.startswith("## ")] == [
        f"## corrigo: `first` (`{specs['first']}`)", f"## corrigo: `last` (`{specs['last']}`)"]


def test_an_internal_error_in_sarif_is_a_notification_for_its_spec(specs: dict[str, str], internal_error: None,
                                                                   tmp_path: Path) -> None:
    target = tmp_path / "all.sarif"
    code, out, _ = run("verify", "--format", "sarif", "-o", str(target), *specs.values())
    assert (code, out) == (3, "")
    [invocation] = json.loads(target.read_text(encoding="utf-8"))["runs"][0]["invocations"]
    assert invocation == {"executionSuccessful": False, "toolExecutionNotifications": [{
        "level": "error",
        "message": {"text": f"internal error: ValueError: need at least one array to concatenate\n{BUG}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": Path(specs["bad"]).as_uri()}}}]}]}


def test_an_internal_error_in_junit_is_an_error_testcase(specs: dict[str, str], internal_error: None) -> None:
    code, out, _ = run("verify", "--format", "junit", *specs.values())
    assert code == 3
    root = ET.fromstring(out)
    assert [(suite.get("name"), suite.get("tests"), suite.get("errors")) for suite in root] == [
        (specs["first"], "2", "0"), (specs["last"], "2", "0"), (specs["bad"], "1", "1")]
    error = root[2].find("testcase/error")
    assert error is not None
    assert (error.get("type"), error.get("message")) == (
        "InternalError", f"{specs['bad']}: error: internal error: ValueError: need at least one array to concatenate")
    assert error.text == f"{specs['bad']}: error: internal error: ValueError: need at least one array to " \
                         f"concatenate\n{BUG}\n"


def test_a_command_on_one_spec_still_reports_an_internal_error_without_traceback(
        specs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(mdp, "solve", fail)
    assert run("solve", specs["first"]) == (3, "", f"internal error: ValueError: boom\n{BUG}\n")


# --- --timeout -------------------------------------------------------------------------------------


def test_a_timeout_in_one_spec_is_its_error_and_the_others_are_verified(
        specs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifier.verification, "solve_spec", breaking(verifier.verification.solve_spec, busy))
    started = time.monotonic()
    code, out, err = run("verify", "--timeout", "1", "--format", "junit", *specs.values())
    assert time.monotonic() - started < 10
    assert code == 3
    # 1 s: loading and building the tiny model surely end before, also on a busy machine, so it stops in solve_spec
    message = ("the verification took longer than --timeout 1 s (stopped in verifier.verification.verify); "
               f"{HINT}")
    assert err == f"{specs['bad']}: error: {message}\n"
    root = ET.fromstring(out)
    assert [(suite.get("name"), suite.get("tests"), suite.get("errors")) for suite in root] == [
        (specs["first"], "2", "0"), (specs["last"], "2", "0"), (specs["bad"], "1", "1")]
    error = root[2].find("testcase/error")
    assert error is not None and (error.get("type"), error.get("message")) == (
        "TimeLimitError", f"{specs['bad']}: error: {message}")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no alarm left to go off later
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # and the handler restored


def test_a_timeout_wrapped_by_a_library_is_still_a_timeout(specs: dict[str, str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """lark wraps an exception raised in its Transformer (where a long number is parsed) in a VisitError."""
    def wrapping() -> None:
        try:
            busy()
        except Exception as error:
            raise RuntimeError("Error trying to process rule 'number'") from error

    monkeypatch.setattr(verifier.verification, "solve_spec", breaking(verifier.verification.solve_spec, wrapping))
    code, _, err = run("verify", "--timeout", "1", specs["bad"])
    assert code == 3
    assert err == (f"{specs['bad']}: error: the verification took longer than --timeout 1 s (stopped in "
                   f"verifier.verification.verify); {HINT}\n")


def test_a_model_too_big_to_build_in_time(tmp_path: Path) -> None:
    """A real slow spec: a million states, about 4 s of work here (so without --timeout the test fails)."""
    spec = tmp_path / "big.corrigo"
    spec.write_text("model big\ndiscount 0.9\nvar x : 0..99 = 0\nvar y : 0..99 = 0\nvar z : 0..99 = 0\n"
                    "action a when x < 99: x' = x + 1\naction b when y < 99: y' = y + 1\n"
                    "action c when z < 99: z' = z + 1\naction d: skip\ncost k = 1\n")
    started = time.monotonic()
    code, out, err = run("verify", "--timeout", "0.5", str(spec))
    assert time.monotonic() - started < 10
    assert (code, out) == (3, "")
    assert re.fullmatch(rf"{re.escape(str(spec))}: error: the verification took longer than --timeout 0\.5 s "
                        rf"\(stopped in (dsl|mdp|verifier)\.[^)]+\); {re.escape(HINT)}\n", err), err


@pytest.mark.parametrize(("command", "what"), [
    (["solve"], "solving"),
    (["explain", "{spec}", "stops"], "explaining"),
    (["power"], "computing the POWER of"),
    (["render", "--to", "dot"], "drawing"),
    (["export", "--to", "json", "-o", "{tmp}/m.json"], "exporting"),
])
def test_every_long_command_stops_at_its_timeout(command: list[str], what: str, specs: dict[str, str],
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdp, "compile", lambda *args, **kwargs: busy())  # every command builds the model first
    args = [a.format(spec=specs["first"], tmp=tmp_path) for a in command]
    if "{spec}" not in command:
        args.insert(1, specs["first"])
    code, out, err = run(*args, "--timeout", "0.2")
    assert (code, out) == (3, "")
    # where it stopped: in explain's call of verify, else in the busy loop called from cli (not named), unless
    # a busy machine took longer than 0.2 s to load the spec
    assert re.fullmatch(rf"error: {what} '{re.escape(specs['first'])}' took longer than --timeout 0\.2 s"
                        rf"( \(stopped in (dsl|mdp|verifier)\.[^)]+\))?; {re.escape(HINT)}\n", err), err


def test_sweep_stops_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.sweep

    monkeypatch.setattr(verifier.sweep, "sweep_model", lambda *args, **kwargs: busy())
    spec = str(Path(__file__).resolve().parents[2] / "examples" / "prosocial_proxy.corrigo")
    code, _, err = run("sweep", spec, "--timeout", "0.5")
    assert code == 3
    assert re.fullmatch(rf"error: sweeping '{re.escape(spec)}' took longer than --timeout 0\.5 s"
                        rf"( \(stopped in (dsl|mdp|verifier)\.[^)]+\))?; {re.escape(HINT)}\n", err), err


def test_without_sigalrm_the_work_runs_without_a_limit(specs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(signal, "setitimer")  # as on Windows
    code, out, err = run("verify", "--timeout", "0.001", specs["first"])
    assert code == 0 and "2 check(s): 2 hold" in out
    assert err == "warning: --timeout needs SIGALRM, which this platform lacks; running without a time limit\n"


def test_a_timeout_must_be_positive(specs: dict[str, str]) -> None:
    code, _, err = run("verify", "--timeout", "0", specs["first"])
    assert code == 2
    assert err.splitlines()[-1] == "Error: Invalid value for '--timeout': 0.0 is not in the range x>0."


def test_a_timeout_never_stops_an_import_halfway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a module stopped halfway is left broken for the next spec of the same run (networkx, imported on first
    # use, then fails with 'Algorithm already exists in dispatch namespace'): the alarm waits for the import
    from verifier.cli import alarm

    (tmp_path / "slow_to_import.py").write_text(
        "import time\nstart = time.monotonic()\nwhile time.monotonic() - start < 0.3:\n    pass\nDONE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TimeoutError), alarm(0.05, lambda frame: TimeoutError()):
        import slow_to_import  # noqa: F401
        while True:
            pass
    import sys
    assert sys.modules["slow_to_import"].DONE
    del sys.modules["slow_to_import"]
