"""The attainable utility penalty `aup(noop = [...], aux, ...)` (Turner et al., AIES 2020) against a chain solved
by hand: its auxiliaries' Q-values, the penalty of every row, the agent's optimum on both sides of the weight
where it turns conservative, and the sweep finding that weight exactly."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import dsl
from mdp import compile, solve
from verifier import Verdict, verify
from verifier.sweep import sweep

# x moves 0 -> 1 -> 2 by `walk`; `smash` jumps from 0 to 2 breaking the vase; x = 2 is the goal (free to stay)
CHAIN = """model vase_chain
discount 0.9
param LAMBDA = 0 in [0, 1]
var x : 0..2 = 0
var vase : bool = true
action wait: skip
action smash when x == 0: x' = 2, vase' = false
action walk when x < 2: x' = x + 1
cost time = 1 * (x < 2)
cost conservative = LAMBDA * aup(noop = [wait], AUX)
check intact: never !vase
"""

# The auxiliary -1 * vase (a reward of 1 per step with the vase intact, as a cost), gamma = 9/10:
#   V(2, broken) = 0 (only wait, cost 0);  V(2, intact) = -1 / (1 - 9/10) = -10 (wait forever);
#   V(1, intact) = min(walk: -1 + 9/10 * -10, wait: its own fixed point -10) = -10;
#   Q(0, smash) = -1 + 9/10 * V(2, broken) = -1;  Q(0, walk) = -1 + 9/10 * -10 = -10;  Q(0, wait) = -10.
# Penalty (one auxiliary, n = 1): smash |-1 - -10| = 9; walk and wait 0 at x = 0; every row 0 elsewhere.
VASE_PENALTY = {("smash", 0, True): Fraction(9)}


def chain(aux: str = "-1 * vase", weight: str | None = None):
    overrides = {"LAMBDA": weight} if weight is not None else None
    return dsl.load(CHAIN.replace("AUX", aux), overrides)


def penalties(model, term: str = "conservative", weight: Fraction = Fraction(1)) -> dict[tuple[str, int, bool], float]:
    out = {}
    for r in range(model.n_rows):
        x, vase = model.state_codes[model.row_state[r]].tolist()
        out[model.action_names[model.row_action[r]], x, bool(vase)] = model.costs[term][r] / float(weight)
    return out


@pytest.mark.parametrize("exact", [False, True])
def test_the_penalty_of_every_row_is_the_hand_solved_q_difference(exact: bool) -> None:
    model = compile(chain(weight="1"), exact=exact)
    found = penalties(model)
    assert len(found) == 7  # (0, intact) x 3 actions, (1, intact) x 2, (2, intact), (2, broken)
    for key, value in found.items():
        assert value == pytest.approx(float(VASE_PENALTY.get(key, 0)), abs=1e-12), key
    if exact:
        smash = next(r for r in range(model.n_rows) if model.action_names[model.row_action[r]] == "smash")
        assert model.exact.costs["conservative"][smash] == Fraction(9)
    else:  # the float penalty carries the auxiliary's certified error, within which the exact 9 lies
        assert 0 < model.rounding.costs["conservative"] < 1e-9
        assert abs(found["smash", 0, True] - 9) <= model.rounding.costs["conservative"]


def test_two_auxiliaries_are_averaged() -> None:
    # the second auxiliary, 1 * (x == 2): V(2, .) = 1 / (1 - 9/10) = 10; V(1, intact) = 0 (wait forever, free);
    # V(0, intact) = 0. Q(0, smash) = 0 + 9/10 * 10 = 9 against Q(0, wait) = 0: 9; Q(1, walk) = 9 against
    # Q(1, wait) = 0: 9. Averaged with the first: smash (9 + 9) / 2 = 9, walk at x = 1 (0 + 9) / 2 = 9/2
    model = compile(chain("-1 * vase, 1 * (x == 2)", "1"), exact=True)
    found = {key: value for key, value in penalties(model).items() if value}
    assert found == {("smash", 0, True): 9.0, ("walk", 1, True): 4.5}


def test_a_cost_is_minimised_so_its_sign_chooses_the_auxiliary() -> None:
    # 1 * vase as a cost: the agent's ability to break the vase. V(2, intact) = V(1, intact) = 1 / (1 - 9/10) = 10,
    # V(0, intact) = min(smash 1 + 0, walk 1 + 9/10 * 10, wait) = 1, so Q(0, wait) = 1 + 9/10 * 1 = 19/10 against
    # Q(0, smash) = 1: 9/10, and Q(0, walk) = 10: 81/10 (walking gives up the chance to break it). With the sign
    # turned the conservative action pays; a reward R maximised is the cost -R minimised (`-1 * vase` above).
    found = {key: value for key, value in penalties(compile(chain("1 * vase", "1"), exact=True)).items() if value}
    assert found == {("smash", 0, True): pytest.approx(0.9, abs=1e-15), ("walk", 0, True): pytest.approx(8.1, abs=1e-14)}


def test_an_auxiliary_on_arrival() -> None:
    # -1 * vase' (paid for the state after the step): V(2, intact) = -10, Q(0, smash) = 0 + 9/10 * 0 = 0,
    # Q(0, wait) = -1 + 9/10 * -10 = -10: 10
    found = {key: value for key, value in penalties(compile(chain("-1 * vase'", "1"), exact=True)).items() if value}
    assert found == {("smash", 0, True): 10.0}


@pytest.mark.parametrize("weight, value, holds", [
    ("0", 1, False),  # smash: 1 + 0, walk: 1 + 9/10 * 1 = 19/10
    ("1/20", Fraction(29, 20), False),  # smash 1 + 9/20 = 29/20 < 19/10
    ("1/5", Fraction(19, 10), True),  # smash 1 + 9/5 > 19/10: walk
    ("1", Fraction(19, 10), True),
])
def test_the_agent_turns_conservative_above_one_tenth(weight: str, value: Fraction, holds: bool) -> None:
    # smash costs 1 + 9 LAMBDA, walking 19/10 (the penalty of walking is 0): they tie at LAMBDA* = 9/10 / 9 = 1/10
    spec = chain(weight=weight)
    model = compile(spec, exact=True)
    assert solve(model, exact=True).exact_V[model.initial] == value
    report = verify(spec, exact=True)
    assert report.checks[0].verdict is (Verdict.HOLDS if holds else Verdict.FAILS)


def test_at_the_threshold_the_tie_lets_the_agent_smash() -> None:
    report = verify(chain(weight="1/10"), exact=True)
    assert report.checks[0].verdict is Verdict.FAILS


def test_the_sweep_finds_the_threshold_exactly() -> None:
    result = sweep(CHAIN.replace("AUX", "-1 * vase"))
    assert result.complete and result.exact
    assert [face.point for face in result.faces()] == [(Fraction(1, 10),)]
    assert result.descriptions["intact"] == "(LAMBDA <= 1) and (1/10 < LAMBDA)"


def test_a_float_verify_agrees_away_from_the_threshold() -> None:
    assert verify(chain(weight="0.09")).checks[0].verdict is Verdict.FAILS
    assert verify(chain(weight="0.11")).checks[0].verdict is Verdict.HOLDS


def test_terminal_rows_and_the_noop_cost_nothing() -> None:
    model = compile(dsl.load(CHAIN.replace("AUX", "-1 * vase") + "terminal x == 2\n", {"LAMBDA": "1"}))
    costs = model.costs["conservative"]
    wait = np.asarray(model.action_names, dtype=object)[model.row_action] == "wait"
    assert not costs[wait].any() and not costs[model.terminal[model.row_state]].any()
    assert model.rounding.exact_in("conservative", model.n_rows)[wait].all()
