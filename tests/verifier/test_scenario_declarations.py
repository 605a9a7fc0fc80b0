"""Actions and events declared only in some scenarios (`action jump in deploy: ...`): absent from the spec's
own world and from the other scenarios, present in theirs; against worlds solved by hand."""

from __future__ import annotations

import numpy as np
import pytest

import dsl
import mdp
from verifier import Verdict, verify
from verifier.scenarios import scenario_optimum, scenario_spec, transferred_rows

# Three states x = 0, 1, 2 (terminal), discount 1/2, every step costs 1. In training the agent can only walk:
# V(1) = 1, V(0) = 1 + 1/2 * V(1) = 3/2. In deployment it may also jump from 0 to 2 at once, for an extra
# effort of 1/4: Q(0, jump) = 1 + 1/4 + 1/2 * 0 = 5/4 < 3/2 = Q(0, walk), so the optimum there jumps: V(0) = 5/4.
# `jump` is declared before `walk`, so it is action 0 in deployment where `walk` is action 0 in training: a
# policy carried by action index would jump; carried by name it walks.
SHORTCUT = """model shortcut
discount 1/2
var x : 0..2 = 0
action jump in deploy when x == 0: x' = 2
action walk when x < 2: x' = x + 1
terminal x == 2
cost time = 1
cost effort = 1/4 * [jump]
scenario train
scenario deploy
check jumps_not in deploy : never [jump]
check carried in deploy with policy from train : never [jump]
check carried_cost in deploy with policy from train : cost <= 1.5
check cheap in deploy : cost <= 1.25
"""


def values(spec: dsl.Spec) -> dict[int, float]:
    """V* by the value of x."""
    solution = mdp.solve(mdp.compile(spec))
    codes = solution.model.state_codes
    assert codes is not None
    return {int(code[0]): float(v) for code, v in zip(codes, solution.V)}


def test_the_spec_own_world_leaves_the_scenario_action_out() -> None:
    spec = dsl.load(SHORTCUT)
    assert spec.world is None and [a.name for a in spec.actions] == ["walk"]
    assert values(spec) == pytest.approx({0: 1.5, 1: 1.0, 2: 0.0})
    train = scenario_spec(spec, "train")  # a scenario without the declaration, and without settings
    assert spec.scenario("train").settings == () and [a.name for a in train.actions] == ["walk"]
    assert values(train) == pytest.approx({0: 1.5, 1: 1.0, 2: 0.0})


def test_the_scenario_action_changes_the_optimum_there() -> None:
    deploy = scenario_spec(dsl.load(SHORTCUT), "deploy")
    assert deploy.world == "deploy" and [a.name for a in deploy.actions] == ["jump", "walk"]
    assert values(deploy) == pytest.approx({0: 1.25, 1: 1.0, 2: 0.0})
    assert [v.name for v in deploy.variables] == ["x"]  # the same variables in every world


def test_checks_see_the_action_only_in_its_scenario() -> None:
    report = verify(SHORTCUT)
    assert report.value == pytest.approx(1.5)  # the report's header is the spec's own world
    verdicts = {c.name: c.verdict for c in report.checks}
    assert verdicts == {"jumps_not": Verdict.FAILS, "carried": Verdict.HOLDS, "carried_cost": Verdict.HOLDS,
                        "cheap": Verdict.HOLDS}
    assert report.check("jumps_not").trace.steps[0].action == "jump"
    assert report.check("carried_cost").summary.startswith(
        "under the policy optimal in 'train' (expected cost 1.5 against this world's optimal 1.25)")


def test_a_carried_policy_matches_actions_by_name() -> None:
    spec = dsl.load(SHORTCUT)
    deploy = scenario_spec(spec, "deploy")
    train = scenario_optimum(spec, "train")
    model = mdp.compile(deploy)
    assert train.model.action_names.index("walk") == model.action_names.index("jump") == 0  # indices disagree
    rows, untrained = transferred_rows(deploy, model, train, None)
    taken = {model.describe(int(model.row_state[r])): model.action_names[model.row_action[r]]
             for r in np.flatnonzero(rows)}
    assert taken == {"x=0": "walk", "x=1": "walk", "x=2": "<terminal>"}
    assert not untrained.any()


# Deployment adds an event: a human turns `on` half the time the robot arrives at x = 1, a state training never
# had; there only `press` (deployment's too, effort 1) ends the episode. Discount 1/2, time 1 a step. The policy
# optimal in training, carried over `otherwise press`: V(1, off) = 1 (walk), V(1, on) = 1 + 1 = 2 (press),
# V(0) = 1 + 1/2 * (1/2 * 1 + 1/2 * 2) = 7/4, which is deployment's own optimum too (it has no other choice).
# Without `otherwise` it reaches (x=1, on=true) with probability 1/2 and has no action there.
HUMAN = """model human
discount 1/2
var x : 0..2 = 0
var on : bool = false
action walk when x < 2 && !on: x' = x + 1
action press in deploy when on: x' = 2
event turn_on in deploy when x == 1 && !on: 1/2 -> on' = true
terminal x == 2
cost time = 1
cost effort = 1 * [press]
scenario train
scenario deploy
policy presser: press when on  walk
check untrained in deploy with policy from train : P >= 1 [ F x == 2 ]
check carried in deploy with policy from train otherwise press : cost <= 1.75
check optimum in deploy : cost <= 1.75
check declared under presser in deploy : cost <= 1.75
"""


def test_otherwise_takes_an_action_of_the_check_world_at_a_state_training_lacks() -> None:
    spec = dsl.load(HUMAN)
    assert spec.events == () and [p.name for p in spec.policies] == []  # `presser` takes press: deploy's only
    deploy = scenario_spec(spec, "deploy")
    assert [e.name for e in deploy.events] == ["turn_on"] and [p.name for p in deploy.policies] == ["presser"]
    assert mdp.solve(mdp.compile(deploy)).value == pytest.approx(1.75)
    report = verify(HUMAN)
    untrained = report.check("untrained")
    assert untrained.verdict is Verdict.FAILS
    assert "reaches a state that world does not have (x=1, on=true) in 1 step(s), with probability 0.5" in \
        untrained.summary
    assert {c.name: c.verdict for c in report.checks if c.name != "untrained"} == {
        "carried": Verdict.HOLDS, "optimum": Verdict.HOLDS, "declared": Verdict.HOLDS}
    assert report.check("carried").summary.startswith(
        "under the policy optimal in 'train' (expected cost 1.75 against this world's optimal 1.75)")


def test_a_parametrised_action_in_a_scenario() -> None:
    # jump(1) lands where walking would, for the extra effort: 1 + 1/4 + 1/2 * 1 = 7/4; jump(2) is the 5/4 above
    text = SHORTCUT.replace("action jump in deploy when x == 0: x' = 2",
                            "action jump(to: 1..2) in deploy when x == 0: x' = to")
    spec = dsl.load(text)
    assert [a.name for a in spec.actions] == ["walk"]
    deploy = scenario_spec(spec, "deploy")
    assert [a.name for a in deploy.actions] == ["jump(1)", "jump(2)", "walk"]
    solution = mdp.solve(mdp.compile(deploy))
    assert solution.value == pytest.approx(1.25)
    q = {solution.model.action_names[solution.model.row_action[r]]: float(solution.Q[r])
         for r in range(solution.model.row_groups[0], solution.model.row_groups[1])}
    assert q == pytest.approx({"jump(1)": 1.75, "jump(2)": 1.25, "walk": 1.5})
    assert verify(text, checks=("carried",)).check("carried").verdict is Verdict.HOLDS


def test_the_exported_and_swept_world_is_the_spec_own() -> None:
    from mdp.prism import to_prism
    from verifier.sweep import sweep

    spec = dsl.load(SHORTCUT)
    module, _ = to_prism(mdp.compile(spec), spec)
    assert "walk" in module and "jump" not in module
    swept = sweep(SHORTCUT.replace("cost time = 1", "param w = 1 in [1, 2]\ncost time = w"))
    assert swept.checks == ()  # every check is in a scenario
    assert any("jumps_not, carried, carried_cost, cheap are checked in another scenario: not swept" in note
               for note in swept.notes)
