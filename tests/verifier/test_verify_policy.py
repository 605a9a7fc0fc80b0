"""``verify_policy``: the checks of a spec on one given policy, on hand-solved specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
import mdp
from mdp.graph import reachable_states
from tests.strategies import mdp_arrays
from verifier import PolicyError, Verdict, verify, verify_policy
from verifier.policy import evaluate_policy, policy_rows

ROOT = Path(__file__).resolve().parents[2]

# The agent may put off an errand three times (n counts the delays); finishing costs effort 1, delaying
# nothing. Discount 1/2. Optimal: delay three times, then finish: cost 0.5**3 = 0.125. The designers'
# intent charges 1 per step until done: finishing at once costs it 1, the optimal policy 1 + 1/2 + 1/4
# + 1/8 = 1.875 (regret 0.875); "finish after one delay" costs the intent 1 + 1/2 = 1.5 (regret 0.5)
# and the agent 0.5 (gap 0.375 to the optimum).
ERRAND = """
model errand
discount 0.5
var n : 0..3 = 0
var done : bool = false
action finish when !done: done' = true
action delay when !done && n < 3: n' = n + 1
terminal done
cost effort = 1 * [finish]
intent service = 1 * !done
check faithful : regret(service) <= 0.6
check cheap : cost <= 0.25
check prompt : never n == 3
"""

# The robot works (a pleasure) until asked to stop; it can disable its off switch. Complying when asked
# is the only way out; disabling is never optimal (it costs 1 and gains nothing), so every optimal
# policy works, complies when asked and leaves the switch alone.
SWITCH = """
model switch_robot
discount 0.9
var asked : bool = false
var off : bool = false
var switch : {armed, disabled} = armed
action work when !off: skip
action disable when !off && switch == armed: switch' = disabled
action comply when !off && asked: off' = true
event ask when !off && !asked: 0.5 -> asked' = true
terminal off
cost fun = -1 * [work]
cost effort = 1 * [disable]
cost defiance = 20 * (asked && ![comply])
check corrigible : accepts_shutdown(request = asked, comply = [comply], mechanism = [switch])
"""


def errand_after_one_delay(state: dict) -> str:
    return "finish" if state["n"] >= 1 else "delay"


def test_regret_and_cost_of_a_known_policy() -> None:
    result = verify_policy(ERRAND, errand_after_one_delay)
    regret = result.check("faithful").quantities[0]
    assert regret.name == "regret" and regret.value == pytest.approx(0.5, abs=1e-9)
    assert result.check("faithful").verdict is Verdict.HOLDS  # 0.5 <= 0.6
    assert result.value == pytest.approx(0.5, abs=1e-12) and result.optimal_value == pytest.approx(0.125, abs=1e-12)
    assert result.gap == pytest.approx(0.375, abs=1e-12) and result.bound < 1e-9
    assert result.check("cheap").verdict is Verdict.FAILS  # 0.5 > 0.25, though the optimum 0.125 passes
    assert "the policy's expected cost is 0.5" in result.check("cheap").summary
    assert result.check("prompt").verdict is Verdict.HOLDS  # it never delays three times
    assert result.report.n_optimal_states == 3  # n=0, n=1, and done after n=1


def test_the_optimal_policy_regret_matches_verify() -> None:
    optimal = verify(ERRAND)
    assert optimal.check("faithful").quantities[0].value == pytest.approx(0.875, abs=1e-9)
    result = verify_policy(ERRAND, lambda state: "delay" if state["n"] < 3 else "finish")
    assert result.check("faithful").quantities[0].value == pytest.approx(0.875, abs=1e-9)
    assert [c.verdict for c in result.checks] == [c.verdict for c in optimal.checks]
    assert result.gap == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("spec", ["tests/golden/reports/hungry_robot.corrigo", "examples/household_robot.corrigo",
                                  "examples/off_switch_game.corrigo"])
def test_the_optimal_policy_passed_explicitly_gives_the_verdicts_of_verify(spec: str) -> None:
    loaded = dsl.load(ROOT / spec)
    model = mdp.compile(loaded)
    solution = mdp.solve(model)
    assert solution.ties.size == 0 or not np.isin(solution.ties, np.flatnonzero(
        reachable_states(model, solution.optimal))).any(), "needs a spec without reachable ties"
    optimal = verify(loaded)
    result = verify_policy(loaded, solution.policy)  # row indices, as Solution.policy
    assert [(c.name, c.verdict) for c in result.checks] == [(c.name, c.verdict) for c in optimal.checks]
    assert result.gap == pytest.approx(0.0, abs=1e-9)
    names = np.array([model.action_names[model.row_action[r]] for r in solution.policy])
    assert [c.verdict for c in verify_policy(loaded, names).checks] == [c.verdict for c in optimal.checks]


def test_a_policy_that_disables_the_switch_fails_accepts_shutdown() -> None:
    assert verify(SWITCH).check("corrigible").verdict is Verdict.HOLDS

    def saboteur(state: dict) -> str:
        if state["switch"] == "armed":
            return "disable"
        return "comply" if state["asked"] else "work"

    check = verify_policy(SWITCH, saboteur).check("corrigible")
    assert check.verdict is Verdict.FAILS
    compliance, tampering = check.parts
    assert compliance.verdict is Verdict.HOLDS and tampering.verdict is Verdict.FAILS
    assert [(step.state, step.action) for step in check.trace.steps] == [
        ("asked=false, off=false, switch=armed", "disable")]
    assert check.summary == ("no tampering: the policy takes 'disable', which changes 'switch' "
                             "(in the initial state)")
    assert check.attribution.chosen == "disable" and check.attribution.alternative == "work"


def test_policy_forms_mapping_of_observations_and_action_indices() -> None:
    model = mdp.compile(dsl.load(ERRAND))
    finish, delay = model.action_names.index("finish"), model.action_names.index("delay")
    table = {(0, 0): delay, (1, 0): finish}  # keys: variable codes (n, done), as tuple(observation)
    result = verify_policy(ERRAND, table)
    assert result.value == pytest.approx(0.5, abs=1e-12)
    assert result.check("faithful").quantities[0].value == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("policy, message", [
    (lambda state: "hurry",
     "the policy takes an unknown action 'hurry' in the state n=0, done=false (the initial state); the actions "
     "are: finish, delay"),
    (lambda state: "delay",
     "the policy takes 'delay' in the state n=3, done=false (reachable in 3 step(s)), where it is not enabled; "
     "enabled there: finish"),
    ({(0, 0): "delay"}, "the policy gives no action for the state n=1, done=false (reachable in 1 step(s))"),
    (lambda state: 7, "the policy takes action 7 in the state n=0, done=false (the initial state); action indices "
                      "are 0..1 (finish, delay)"),
    (lambda state: 0.5, "the policy gives 0.5 for the state n=0, done=false (the initial state); expected an action "
                        "name or index"),
    (["finish"] * 3, "a policy array must have one entry per state, shape (8,); got shape (3,) (or pass a mapping "
                     "from observations, or a callable on states)"),
    (np.full(8, 3), "policy[0] = 3 is not a row of state 0 (n=0, done=false): expected one of rows 0..1"),
])
def test_policy_errors_name_the_state(policy, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        verify_policy(ERRAND, policy)
    assert str(error.value) == message


def test_a_policy_that_never_ends_with_discount_1_is_an_error() -> None:
    text = """
model chores
discount 1
var done : bool = false
action finish when !done: done' = true
action idle when !done: skip
terminal done
cost effort = 1 * [finish] + 2 * [idle]
"""
    assert verify_policy(text, lambda state: "finish").value == pytest.approx(1.0)
    with pytest.raises(PolicyError, match="with discount 1 the policy never ends from the state done=false"):
        verify_policy(text, lambda state: "idle")


@settings(max_examples=40)
@given(mdp_arrays(max_states=5), st.data())
def test_a_policy_costs_what_its_linear_equations_say_and_never_less_than_the_optimum(arrays, data) -> None:
    model = arrays.build()
    solution = mdp.solve(model)
    chosen = np.array([data.draw(st.integers(int(model.row_groups[s]), int(model.row_groups[s + 1]) - 1))
                       for s in range(model.n_states)])
    rows = policy_rows(model, chosen)
    reached = rows >= 0
    assert reached[model.initial] and (rows[reached] == chosen[reached]).all()
    evaluated = evaluate_policy(model, solution, rows)
    # independently: (I - gamma P_pi) V = c_pi, densely over all states (terminal rows: zero-cost self-loops)
    P_pi = model.P.toarray()[chosen]
    V = np.linalg.solve(np.eye(model.n_states) - model.discount * P_pi, model.cost[chosen])
    assert np.allclose(evaluated.V[reached], V[reached], atol=evaluated.bound + 1e-9)
    assert evaluated.value >= solution.value - solution.bound - evaluated.bound - 1e-9
    assert evaluated.optimal.sum() == model.n_states and evaluated.optimal[chosen[reached]].all()


def test_the_policy_report_shows_as_tables_in_notebooks() -> None:
    result = verify_policy(ERRAND, errand_after_one_delay)
    markdown = result._repr_markdown_()
    assert markdown.startswith("policy on errand (<string>): expected cost 0.5, optimal 0.125, gap 0.375; it "
                               "reaches 3 of 8 states; verdict FAILS\n\n| check | verdict | property | result |")
    page = result._repr_html_()
    assert "cost &lt;= 0.25" in page and "(&lt;string&gt;)" in page and "<string>" not in page
