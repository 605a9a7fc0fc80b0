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
