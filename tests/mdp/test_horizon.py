"""Finite horizons (`horizon H`, issue 13 item 2): the time-expanded model, time-dependent optimal actions,
checks over the episode and the step counter; against backward induction done by hand."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import dsl
from mdp import StateLimitError, compile, solve
from verifier import Verdict, verify

# Investing costs 3 once and makes the agent rich: then each step pays 2 (cost -2); consuming pays 1.
# Backward induction, discount 1, 4 steps (V at `steps left`): rich: -3, -6, -9, -12 with 1..4 left;
# poor with 1 left: consume -1 (invest 3 + 0); 2 left: consume -2 (invest 3 - 3 = 0); 3 left: consume
# -3 = invest 3 - 6, a tie; 4 left: invest 3 - 9 = -6 < consume -1 - 3 = -4.
INVEST_WORLD = """model invest
discount 1
horizon 4
var rich : bool = false
action invest when !rich: rich' = true
action consume: skip
cost invest_cost = 3 * [invest]
cost income = -2 * rich - 1 * [consume]
"""
INVEST = INVEST_WORLD + """check late : never [invest] && step >= 2
check early : never [invest] && step == 0
check gets_rich : P >= 1 [ F rich ]
"""


def values(model, V) -> dict[tuple[bool, int], float]:
    return {(bool(c[0]), int(c[1])): float(V[s]) for s, c in enumerate(model.state_codes)}


def test_backward_induction_by_hand() -> None:
    model = compile(dsl.load(INVEST))
    solution = solve(model)
    got = values(model, solution.V)
    assert got == pytest.approx({(False, 0): -6, (True, 1): -9, (False, 1): -3, (True, 2): -6, (False, 2): -2,
                                 (True, 3): -3, (False, 3): -1, (True, 4): 0, (False, 4): 0})
    step = {(bool(c[0]), int(c[1])): s for s, c in enumerate(model.state_codes)}
    assert solution.optimal_actions(step[False, 0]) == ("invest",)  # early: invest
    assert solution.optimal_actions(step[False, 2]) == ("consume",)  # late: it no longer pays
    assert model.terminal[step[True, 4]] and model.terminal[step[False, 4]]
    assert [v.name for v in model.variables] == ["rich", "step"]


def test_the_tie_three_steps_before_the_end_is_exact() -> None:
    model = compile(dsl.load(INVEST), exact=True)
    solution = solve(model, exact=True)
    at = {(bool(c[0]), int(c[1])): s for s, c in enumerate(model.state_codes)}
    assert solution.exact_V is not None and solution.exact_V[at[False, 1]] == Fraction(-3)
    assert set(solution.optimal_actions(at[False, 1])) == {"invest", "consume"}


def test_checks_run_over_the_episode_with_the_step_counter() -> None:
    report = verify(INVEST)
    assert {c.name: c.verdict for c in report.checks} == {"late": Verdict.HOLDS, "early": Verdict.FAILS,
                                                         "gets_rich": Verdict.HOLDS}
    assert report.value == pytest.approx(-6.0)


def test_terminal_states_end_the_episode_early_and_the_discount_applies() -> None:
    # a walk right to x = 3 (terminal, reward 10 on arrival) with horizon 2 never gets there; with 3 it does
    text = ("model walk\ndiscount 0.5\nhorizon {h}\nvar x : 0..3 = 0\naction right when x < 3: x' = x + 1\n"
            "action stay: skip\nterminal x == 3\ncost arrive = -10 * (x' == 3)\ncost step = 1 * [right]\n")
    short, long = compile(dsl.load(text.format(h=2))), compile(dsl.load(text.format(h=3)))
    assert solve(short).V[0] == pytest.approx(0.0)  # staying put is free; it cannot arrive in 2 steps
    # right, right, right: 1 + 0.5 + 0.25 * (1 - 10) = -0.75
    assert solve(long).V[0] == pytest.approx(-0.75)
    assert long.n_states == 1 + 2 + 3 + 4  # the (x, step) pairs with x <= step
    assert np.sum(long.terminal) == 4  # every pair at step 3 (x = 3 can only be reached there)


def test_the_expansion_is_bounded_by_max_states() -> None:
    with pytest.raises(StateLimitError) as caught:
        compile(dsl.load(INVEST.replace("horizon 4", "horizon 100")), max_states=50)
    assert str(caught.value).startswith("over its horizon of 100 steps the model has more states than "
                                        "--max-states 50 allows: ")


# the same world written the old way, with a step counter in the spec: every number must agree
SLIPPERY = """model slippery
discount 0.9
{horizon}
param w = 10 in [0, 20]
var x : 0..2 = 0
{counter}
action right when x < 2{live}:
    0.8 -> x' = x + 1{tick}
    0.2 -> x' = x{tick}
action stay{when_live}:
    {stay}
terminal x == 2{ended}
cost arrive = -w * (x' == 2 && x != 2)
cost effort = 1 * [right]
check goes for all params : P >= 0.5 [ F x == 2 ]
"""
BUILT_IN = SLIPPERY.format(horizon="horizon 3", counter="", live="", tick="", when_live="", stay="skip", ended="")
BY_HAND = SLIPPERY.format(horizon="", counter="var t : 0..3 = 0", live=" && t < 3", tick=", t' = t + 1",
                          when_live=" when t < 3", stay="t' = t + 1", ended=" || t == 3")


def test_a_horizon_agrees_with_a_step_counter_written_by_hand() -> None:
    """Values, the weight-space sweep (with an arrival term) and a for-all-params verdict, both ways."""
    built_in, by_hand = dsl.load(BUILT_IN), dsl.load(BY_HAND)
    assert solve(compile(built_in)).V[0] == pytest.approx(solve(compile(by_hand)).V[0], abs=1e-12)
    from verifier.sweep import sweep

    assert sweep(built_in).descriptions == sweep(by_hand).descriptions
    mine, theirs = verify(built_in).check("goes"), verify(by_hand).check("goes")
    assert mine.verdict is theirs.verdict is Verdict.FAILS
    assert mine.summary.split(" (")[0] == theirs.summary.split(" (")[0]  # the same counterexample weight
