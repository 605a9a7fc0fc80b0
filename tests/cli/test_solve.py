"""`corrigo solve` and `corrigo export`: values against closed forms, ties shown, golden text output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corrigo_cli import run, write

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "cli"


def test_constant_cost_forever_is_worth_c_over_one_minus_gamma(tmp_path: Path) -> None:
    spec = write(tmp_path, "model loop\ndiscount 0.9\naction stay: skip\ncost c = 2\n")
    code, out, _ = run("solve", "--format", "json", spec)
    result = json.loads(out)
    assert code == 0
    assert result["value"] == pytest.approx(20.0, abs=result["bound"] + 1e-12)
    assert result["terms"] == {"c": pytest.approx(20.0, abs=1e-9)}
    assert result["policy"] == [{"state": "", "actions": ["stay"], "value": pytest.approx(20.0), "tie": False}]


def test_a_tie_lists_both_actions(tmp_path: Path) -> None:
    # left and right both cost 1 now and reach the same absorbing state: V = 1 + 0.5 * 0 = 1
    spec = write(tmp_path, "model fork\ndiscount 0.5\nvar done : bool\n"
                 "action left when !done: done' = true\naction right when !done: done' = true\n"
                 "terminal done\ncost step = [left, right]\n")
    code, out, _ = run("solve", "--format", "json", spec)
    result = json.loads(out)
    assert code == 0 and result["value"] == pytest.approx(1.0)
    assert result["policy"][0] == {"state": "done=false", "actions": ["left", "right"], "value": pytest.approx(1.0),
                                   "tie": True}
    assert result["ties"] == 1


def test_text_report_of_the_design_sketch(golden) -> None:
    code, out, _ = run("solve", str(DATA / "design_sketch.corrigo"))
    assert code == 0
    golden(GOLDEN / "solve_design_sketch.txt", out)


def test_spec_errors_exit_2_and_resource_limits_exit_3(tmp_path: Path) -> None:
    code, _, err = run("solve", write(tmp_path, "model m\ndiscount 0.9\naction a: skip\ncost c = nope\n"))
    assert code == 2 and "unknown name 'nope'" in err
    code, _, err = run("solve", "--max-states", "10", str(DATA / "design_sketch.corrigo"))
    assert code == 3 and "Traceback" not in err
    assert err.startswith("error: the model has more than 10 states (--max-states): ")
    assert err.endswith("\n    = hint: raise --max-states, or shrink the domains of these variables (or set consts and "
                        "params with -D)\n")


def test_exact_beyond_its_limit_names_the_limit_and_the_option(tmp_path: Path) -> None:
    spec = write(tmp_path, "model line\ndiscount 0.9\nvar x : 0..5000 = 0\naction step when x < 5000: x' = x + 1\n"
                           "terminal x == 5000\ncost c = 1\n")
    code, out, err = run("solve", "--exact", spec)
    assert code == 3 and out == ""
    assert err == ("error: the exact re-check (--exact) is limited to 5,000 states (exact_limit), the model has "
                   "5,001: drop --exact (verify --settle-limit N still settles in exact arithmetic what floats leave "
                   "open, up to N states), or from Python pass a larger exact_limit (rational arithmetic is slow)\n")
    assert run("solve", spec)[0] == 0


def test_export_writes_a_prism_model_and_its_properties(tmp_path: Path) -> None:
    out = tmp_path / "robot.prism"
    code, stdout, _ = run("export", "--to", "prism", str(DATA / "design_sketch.corrigo"), "-o", str(out))
    assert code == 0 and "102 states" in stdout
    text = out.read_text()
    assert text.startswith("// ") or text.startswith("mdp")
    assert "mdp" in text and "s : [0..101] init 0;" in text
    properties = out.with_suffix(".props").read_text()
    assert "Cdiscount=19/20" in properties
    # the spec's checks with a PRISM/Storm property, each after a comment; the others named, not exported
    assert ('// reaches_off: P >= 0.9 [ F off ] -- true implies the check holds\n'
            '"reaches_off": P>=0.9 [ F "off" ];\n') in properties
    assert ('// bounded: cost <= 12 -- Rmin is corrigo\'s optimal cost: the check holds iff it is <= 12\n'
            '"bounded": R{"cost"}min=? [ Cdiscount=19/20 ];\n') in properties
    assert "// no_power: power_seeking <= 0.05 -- not exported: corrigo's own kind of check" in properties
    assert 'label "no_sabotage_target" = ' in text and text.count('label "off" = ') == 1


NEAR_INT64_MIN = """\
model k
discount 0.9
var a : -9000000000000000000..-8999999999999999999
var b : bool
action flip: b' = !b
action up when a < -8999999999999999999: a' = a + 1
"""


def test_export_to_json_writes_values_near_the_int64_limit_exactly(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    assert run("export", "--to", "json", write(tmp_path, NEAR_INT64_MIN), "-o", str(out))[0] == 0
    document = json.loads(out.read_text())
    assert document["variables"][0] == {"name": "a", "type": "int", "lo": -9000000000000000000,
                                        "hi": -8999999999999999999}
    assert [state["values"] for state in document["states"]] == [
        {"a": -9000000000000000000, "b": False}, {"a": -9000000000000000000, "b": True},
        {"a": -8999999999999999999, "b": False}, {"a": -8999999999999999999, "b": True}]


def test_export_to_prism_names_values_near_the_int64_limit_exactly(tmp_path: Path) -> None:
    out = tmp_path / "k.prism"
    assert run("export", "--to", "prism", write(tmp_path, NEAR_INT64_MIN), "-o", str(out))[0] == 0
    comments = [line.strip() for line in out.read_text().splitlines() if line.strip().startswith("// s=")]
    assert comments == ["// s=0: a=-9000000000000000000, b=false", "// s=1: a=-9000000000000000000, b=true",
                        "// s=2: a=-8999999999999999999, b=false", "// s=3: a=-8999999999999999999, b=true"]


def test_running_out_of_memory_is_exit_3_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mdp

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(mdp, "solve", exhausted)
    code, out, err = run("solve", write(tmp_path, "model m\ndiscount 0.9\naction a: skip\ncost c = 1\n"))
    assert (code, out, err) == (3, "", "error: out of memory; try a smaller model (-D, --max-states)\n")


# go costs 1 and moves right; jump costs 3 and leaps to x = 3, which optimal play never reaches
LEAP = ("model leap\ndiscount 0.5\nvar x : 0..3 = 0\naction go when x < 2: x' = x + 1\n"
        "action jump when x == 0: x' = 3\nterminal x >= 2\ncost c = 1 * [go] + 3 * [jump]\n")


def test_at_and_q_give_the_value_of_each_action_at_chosen_states(tmp_path: Path) -> None:
    # V(1) = 1; at x = 0: Q(go) = 1 + 0.5 * V(1) = 1.5, Q(jump) = 3 + 0.5 * 0 = 3
    code, out, _ = run("solve", "--format", "json", "--q", "--at", "x=0", "--at", "x = 3", write(tmp_path, LEAP))
    assert code == 0
    first, leapt = json.loads(out)["at"]
    assert first == {"state": "x=0", "actions": ["go"], "value": pytest.approx(1.5), "tie": False,
                     "on_optimal_play": True,
                     "q": [{"action": "go", "value": pytest.approx(1.5)}, {"action": "jump", "value": pytest.approx(3.0)}]}
    assert leapt == {"state": "x=3", "actions": ["(terminal)"], "value": 0.0, "tie": False, "on_optimal_play": False,
                     "q": []}


def test_q_alone_is_at_the_initial_state_and_all_lists_every_state(tmp_path: Path, golden) -> None:
    spec = write(tmp_path, LEAP)
    code, out, _ = run("solve", "--format", "json", "--all", spec)
    assert code == 0
    assert [(r["state"], r["on_optimal_play"]) for r in json.loads(out)["policy"]] == [
        ("x=0", True), ("x=1", True), ("x=3", False), ("x=2", True)]
    code, out, _ = run("solve", "--q", "--all", spec)
    assert code == 0
    golden(GOLDEN / "solve_q_all.txt", out.replace(str(spec), "leap.corrigo"))


@pytest.mark.parametrize("state, message", [
    ("x=1, x=2", "'x=1, x=2' matches no state of the model: the model holds only the states reachable from the "
                 "initial state, e.g. 'x=0'"),
    ("y=1", "'y' is not a variable of the model 'leap'; its variables are x"),
    ("x=9", "'9' is not a value of 'x' (its domain is 0..3)"),
    ("x", "'x' is not of the form name=value; write a state as 'x=0'"),
])
def test_a_state_that_is_not_one_is_a_usage_error(tmp_path: Path, state: str, message: str) -> None:
    code, out, err = run("solve", "--at", state, write(tmp_path, LEAP))
    assert code == 2 and out == ""
    assert err.endswith(f"Error: Invalid value for '--at': {message}\n")


def test_a_state_matched_twice_asks_for_more_variables(tmp_path: Path) -> None:
    spec = write(tmp_path, "model two\ndiscount 0.5\nvar x : 0..1 = 0\nvar y : bool = false\n"
                           "action a: x' = 1 - x, y' = !y\naction b: x' = 1 - x\ncost c = 1\n")
    code, _, err = run("solve", "--at", "x=1", spec)
    assert code == 2 and err.endswith("Error: Invalid value for '--at': 'x=1' matches 2 states: name the other "
                                      "variables too, e.g. 'x=0, y=false'\n")


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`corrigo solve spec | head -1`: when the pipe closes, corrigo stops without an 'internal error', with
    the exit code of a process SIGPIPE ends (128 + 13)."""
    import click
    from click.testing import CliRunner

    from verifier.cli import main

    def closed(*args: object, **kwargs: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(click, "echo", closed)
    spec = write(tmp_path, "model loop\ndiscount 0.9\naction stay: skip\ncost c = 2\n")
    result = CliRunner().invoke(main, ["solve", spec])
    assert (result.exit_code, result.stderr) == (141, "")


def test_paths_list_optimal_play_from_a_state(tmp_path: Path) -> None:
    """The off-switch game: waiting is optimal, then the human lets a good action through (0.6) or switches
    the robot off (0.4); each ends with `finish` in a terminal state."""
    code, out, _ = run("solve", "--format", "json", "--paths", str(Path(__file__).resolve().parents[2] / "examples" /
                                                                    "off_switch_game.corrigo"))
    assert code == 0
    result = json.loads(out)
    assert [([s["action"] for s in p["steps"]], p["end"], p["probability"], p["how"]) for p in result["paths"]] == [
        (["wait", "finish"], "outcome=good, done=true", pytest.approx(0.6), "ends"),
        (["wait", "finish"], "outcome=off, done=true", pytest.approx(0.4), "ends")]
    assert result["more_paths"] is False


def test_paths_stop_at_a_loop_a_length_and_a_count() -> None:
    import dsl
    import mdp
    from verifier.policy_table import optimal_paths

    # stay forever at x = 0 is optimal (free), moving costs: one path, a loop
    model = mdp.compile(dsl.load("model m\ndiscount 0.9\nvar x : 0..3 = 0\naction up when x < 3: x' = x + 1\n"
                                 "action stay: skip\ncost c = 1 * [up]\n"))
    paths, more = optimal_paths(mdp.solve(model), model.initial)
    assert [(p.steps, p.end, p.how) for p in paths] == [((("x=0", "stay"),), "x=0", "loops")] and not more
    # every step ties (two ways up): 2^3 paths to x = 3; the first two, cut after 2 steps
    model = mdp.compile(dsl.load("model m\ndiscount 0.9\nvar x : 0..3 = 0\naction up when x < 3: x' = x + 1\n"
                                 "action climb when x < 3: x' = x + 1\nterminal x == 3\ncost c = 1\n"), exact=True)
    paths, more = optimal_paths(mdp.solve(model, exact=True), model.initial, limit=2, max_steps=2)
    assert [[a for _, a in p.steps] for p in paths] == [["up", "up"], ["up", "climb"]]
    assert all(p.how == "cut" and p.end == "x=2" for p in paths) and more
