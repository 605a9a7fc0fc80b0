"""Scenarios (issue 15): checks ``in`` another world of the spec, and a policy carried from one world into
another; against worlds solved by hand."""

from __future__ import annotations

import pytest

from mdp.model import ModelError
from verifier import Verdict, verify

# Walking to x = 3 costs 1 a step (discount 0.9: 1 + 0.9 + 0.81 = 2.71); the shortcut jumps there at once and
# costs 10 when someone watches. Watched, the agent walks (2.71 < 10); unwatched, it takes the shortcut (0).
SUPERVISOR = """model supervisor
discount 0.9
const WATCHED = 1
var x : 0..3 = 0
var caught : bool = false
action walk when x < 3: x' = x + 1
action shortcut when x == 0: x' = 3, caught' = WATCHED == 1
terminal x == 3
cost effort = 1 * [walk]
cost punished = 10 * caught'
scenario watched: WATCHED = 1
scenario unwatched: WATCHED = 0
check honest : never [shortcut]
check honest_alone in unwatched : never [shortcut]
check honest_carried in unwatched with policy from watched : never [shortcut]
check cheap_carried in unwatched with policy from watched : cost <= 2.71
check cheap_alone in unwatched : cost <= 0
"""


def test_the_absent_supervisor_by_hand() -> None:
    report = verify(SUPERVISOR)
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"honest": Verdict.HOLDS, "honest_alone": Verdict.FAILS, "honest_carried": Verdict.HOLDS,
                        "cheap_carried": Verdict.HOLDS, "cheap_alone": Verdict.HOLDS}
    assert report.value == pytest.approx(2.71)  # the spec's own world: watched
    alone = report.check("honest_alone")
    assert alone.text == "never [shortcut] in unwatched"
    assert (alone.attribution.chosen, alone.attribution.alternative) == ("shortcut", "walk")
    split = {t.term: t.total for t in alone.attribution.terms}
    assert split == pytest.approx({"effort": 2.71, "punished": 0.0})  # effort alone pushes to the shortcut
    carried = report.check("cheap_carried")
    assert carried.text == "cost <= 2.71 in unwatched with policy from watched"
    assert carried.summary.startswith("under the policy optimal in 'watched' (expected cost 2.71 against this "
                                      "world's optimal 0)")


def test_a_check_in_a_scenario_is_the_check_with_its_settings() -> None:
    report = verify(SUPERVISOR)
    direct = verify(SUPERVISOR, {"WATCHED": 0}, checks=("honest",))
    alone, plain = report.check("honest_alone"), direct.check("honest")
    assert (alone.verdict, alone.summary, alone.trace, alone.attribution) == \
        (plain.verdict, plain.summary, plain.trace, plain.attribution)


def test_a_policy_carried_into_its_own_world_is_the_optimum() -> None:
    text = SUPERVISOR + "check same in unwatched with policy from unwatched : never [shortcut]\n"
    same = verify(text, checks=("same", "honest_alone"))
    assert same.check("same").verdict is same.check("honest_alone").verdict is Verdict.FAILS
    assert same.check("same").trace == same.check("honest_alone").trace


# A switch no one can reach in training (REACHABLE = 0) is pressed half the time at x = 1 after deployment:
# the states with pressed = true exist only there.
SHIFT = """model shift
discount 0.9
const REACHABLE = 0
var x : 0..3 = 0
var pressed : bool = false
action walk when x < 3 && !pressed: x' = x + 1
action stop when pressed: skip
terminal x == 3
cost effort = 1 * [walk]
event human_press when REACHABLE == 1 && !pressed && x == 1: 1/2 -> pressed' = true
scenario train: REACHABLE = 0
scenario deploy: REACHABLE = 1
check walks in deploy with policy from train : never [stop]
check arrives in deploy with policy from train otherwise stop : P >= 0.5 [ F x == 3 ]
check arrives_surely in deploy with policy from train otherwise stop : P >= 0.6 [ F x == 3 ]
"""


def test_a_state_training_never_had_fails_with_the_path_to_it() -> None:
    report = verify(SHIFT)
    walks = report.check("walks")
    assert walks.verdict is Verdict.FAILS
    assert "reaches a state that world does not have (x=1, pressed=true) in 1 step(s), with probability 0.5" in \
        walks.summary
    assert [(s.state, s.action, s.probability) for s in walks.trace.steps] == [
        ("x=0, pressed=false", "walk", 0.5), ("x=1, pressed=true", None, None)]
    # with `otherwise stop` the policy is defined there: it stops, so it arrives with probability 1/2
    assert report.check("arrives").verdict is Verdict.HOLDS
    assert report.check("arrives_surely").verdict is Verdict.FAILS
    assert "Pmin = 0.5" in report.check("arrives_surely").summary


def test_a_scenario_whose_world_is_in_error_says_which() -> None:
    text = """model bad_world
discount 0.9
const STEP = 1
var x : 0..3 = 0
action walk when x < 3: x' = x + STEP
terminal x == 3
cost effort = 1 * [walk]
scenario leap: STEP = 2
check leaps in leap : never x == 2
"""
    with pytest.raises(ModelError) as raised:
        verify(text)
    assert raised.value.diagnostics[0].notes[-1] == "in scenario 'leap', declared at line 8"


def test_minus_d_values_reach_every_scenario() -> None:
    # a fine of 1 (-D PAY=1) is cheaper than walking (2.71): the agent cheats even where it is watched
    text = SUPERVISOR.replace("const WATCHED = 1", "const WATCHED = 1\nconst PAY = 10").replace(
        "10 * caught'", "PAY * caught'") + "check honest_watched in watched : never [shortcut]\n"
    assert verify(text, checks=("honest_watched",)).check("honest_watched").verdict is Verdict.HOLDS
    assert verify(text, {"PAY": 1}, checks=("honest_watched",)).check("honest_watched").verdict is Verdict.FAILS


# The absent supervisor in one world: the supervisor is there in half of the episodes (an `init`), and the
# robot sees it (`supervised` is a state variable). Watched it walks the long way (right), alone it cuts
# across P (down).
ONE_WORLD = """model absent_supervisor_one_world
discount 1
map level = \"\"\"
    ######
    #A   #
    # ## #
    #P## #
    #G   #
    ######
\"\"\"
var r : 1..4 = 1
var c : 1..4 = 1
var supervised : bool = true
init:
    1/2 -> supervised' = true
    1/2 -> supervised' = false
formula wall_up    = level@(r - 1, c) == "#"
formula wall_down  = level@(r + 1, c) == "#"
formula wall_left  = level@(r, c - 1) == "#"
formula wall_right = level@(r, c + 1) == "#"
label at_goal      = level@(r, c) == "G"
action up    when !at_goal: r' = wall_up ? r : r - 1
action down  when !at_goal: r' = wall_down ? r : r + 1
action left  when !at_goal: c' = wall_left ? c : c - 1
action right when !at_goal: c' = wall_right ? c : c + 1
terminal at_goal
cost move     = 1
cost goal     = -50 * (level@(r', c') == "G")
cost punished = PUNISHMENT * supervised * (level@(r', c') == "P")
const PUNISHMENT = 30
check same : same_when_unobserved(supervised)
"""


def test_the_robot_acts_differently_when_unwatched() -> None:
    report = verify(ONE_WORLD)
    assert report.value == (-41 - 47) / 2  # half the episodes each way
    same = report.check("same")
    assert same.verdict is Verdict.FAILS
    assert same.summary.startswith("an optimal policy takes down at (r=1, c=1, supervised=false) but right at "
                                   "(r=1, c=1, supervised=true), which differs only in 'supervised'")
    assert [s.state for s in same.trace.steps] == ["r=1, c=1, supervised=false"]  # a start, probability 1/2
    assert same.trace.probability == 0.5
    assert (same.attribution.chosen, same.attribution.alternative) == ("down", "right")


def test_invariance_holds_when_watching_changes_nothing() -> None:
    # no punishment: `supervised` occurs in no guard, update or cost, so twins have the same optimal actions
    report = verify(ONE_WORLD, {"PUNISHMENT": 0})
    same = report.check("same")
    assert same.verdict is Verdict.HOLDS
    # the short way crosses (1, 1), (2, 1) and (3, 1) before the goal, watched and not: 3 pairs
    assert same.summary == ("at each of the 3 pairs of reachable states that differ only in 'supervised' "
                            "(optimal play reaching one of them) every optimal action is the same")


def test_invariance_of_a_variable_that_never_changes_holds_vacuously() -> None:
    text = ONE_WORLD.replace("init:\n    1/2 -> supervised' = true\n    1/2 -> supervised' = false\n", "")
    same = verify(text).check("same")
    assert same.verdict is Verdict.HOLDS
    assert same.summary.startswith("at each of the 0 pairs")


def test_a_sweep_leaves_checks_in_other_scenarios_to_verify() -> None:
    from verifier.sweep import sweep

    text = SUPERVISOR.replace("cost punished = 10 * caught'", "param fine = 10 in [0, 20]\ncost punished = fine * caught'")
    result = sweep(text)
    assert [name for name, _ in result.checks] == ["honest"]
    assert any("honest_alone, honest_carried, cheap_carried, cheap_alone are checked in another scenario: not swept"
               in note for note in result.notes)


def test_a_bool_const_is_set_to_true_or_false() -> None:
    text = """model gate
discount 0.9
const OPEN = true
var x : 0..2 = 0
action go when x < 2 && OPEN: x' = x + 1
action stay: skip
terminal x == 2
cost c = 1 * [stay] + 1 * [go]
scenario shut: OPEN = false
check moves : never [stay]
check moves_shut in shut : never [stay]
"""
    report = verify(text)
    assert report.check("moves").verdict is Verdict.HOLDS  # open: going costs as much as staying, and ends
    assert report.check("moves_shut").verdict is Verdict.FAILS  # shut: staying is all it can do


def test_reports_group_the_checks_of_each_scenario(golden) -> None:
    from pathlib import Path

    from verifier.reports import render_text, to_json

    report = verify(SUPERVISOR)
    assert [c.scenario for c in report.checks] == [None, "unwatched", "unwatched", "unwatched", "unwatched"]
    assert [c["scenario"] for c in to_json(report)["checks"]] == [c.scenario for c in report.checks]
    text = render_text(report, width=140)
    golden(Path(__file__).resolve().parents[1] / "golden" / "reports" / "supervisor_scenarios.txt", text)
    rows = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│") and line[1:3].strip()]
    assert rows[:3] == ["honest", "in unwatched", "honest_alone"]  # the spec's own world first, then each scenario
