"""``mdp.parametric``: costs affine in the params, and a fixed policy's gaps affine in the weights."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
import mdp
from mdp.model import Rationals, Rounding
from mdp.parametric import parametric, policy_gaps

ROBOT = Path(__file__).resolve().parents[2] / "examples" / "household_robot.corrigo"

SWITCH = """
model switch
discount 0.5
param w = 1 in [0, 1]
var off : bool = false
action comply when !off: off' = true
action stay when !off: skip
terminal off
cost pleasure = -w * [stay]
cost duty = -6/7 * [comply]
"""


@settings(max_examples=5, deadline=None)
@given(st.fractions(0, 5, max_denominator=8), st.fractions(0, 10, max_denominator=8))
def test_the_model_at_a_weight_vector_has_the_costs_of_the_spec_compiled_there(hunger: Fraction,
                                                                               pain: Fraction) -> None:
    spec = dsl.load(ROBOT)
    pm = parametric(spec, mdp.compile(spec), ["w_hunger", "w_pain"])
    direct = mdp.compile(dsl.load(ROBOT, {"w_hunger": str(hunger), "w_pain": str(pain)}))
    at = pm.at((hunger, pain))
    for term in direct.costs:
        np.testing.assert_allclose(at.costs[term], direct.costs[term], atol=1e-12)
    for term in direct.intents:
        np.testing.assert_allclose(at.intents[term], direct.intents[term], atol=1e-12)


def test_the_gap_of_a_fixed_policy_is_affine_in_the_weight_with_exact_coefficients() -> None:
    spec = dsl.load(SWITCH)
    model = mdp.compile(spec, exact=True)
    pm = parametric(spec, model)
    stay = np.array([r for s in range(model.n_states) for r in model.rows(s)
                     if model.action_names[model.row_action[r]] in ("stay", "<terminal>")])
    gaps = policy_gaps(pm, stay, exact=True)
    comply = next(r for r in model.rows(model.initial) if model.action_names[model.row_action[r]] == "comply")
    # V_stay = -2w; Q(comply) = -6/7: gap = -6/7 + 2w, zero at w = 3/7
    assert gaps.exact[comply] == (Fraction(-6, 7), Fraction(2))
    np.testing.assert_allclose(gaps.gap[comply], [-6 / 7, 2])
    assert gaps.total_initial == (Fraction(0), Fraction(-2))
    assert gaps.initial["cost:pleasure"] == (Fraction(0), Fraction(-2))


def test_exact_costs_are_the_weighted_rationals_the_spec_denotes() -> None:
    spec = dsl.load("model m\ndiscount 0.5\nparam a = 1 in [0, 1]\nparam b = 1 in [0, 1]\nvar off : bool = false\n"
                    "action x when !off: off' = true\naction y when !off: off' = true\nterminal off\n"
                    "cost one = 0.1 * a * [x] + 3\ncost two = -b / 7 * [y]\n")
    model = mdp.compile(spec, exact=True)
    pm = parametric(spec, model)
    a, b = Fraction(1, 3), Fraction(10**12 + 1, 3**25)
    at = pm.at([a, b])
    assert at.rationals is not None
    costs = dict(zip((model.action_names[i] for i in model.row_action), at.rationals.cost()))
    assert costs["x"] == Fraction(1, 10) * a + 3 and costs["y"] == 3 - b / 7
    assert 0 < at.rounding.costs["two"] <= 2**-53 * 0.2  # b / 7 is about 0.17: its float is off by half an ulp


def test_the_exact_solver_takes_the_models_rationals_over_its_floats() -> None:
    # two ways to stop whose float costs differ in the last bits but are the same rational: a tie
    cost = 1 / 3
    model = mdp.from_arrays([np.array([[0.0, 1.0], [0.0, 1.0]])] * 2, [[cost, 0.0], [cost + 8 * np.spacing(cost), 0.0]],
                            discount=0.5, terminal=[False, True])
    assert not mdp.solve(model, exact=True).ties.size
    exact = tuple(Fraction(1, 3) if model.row_action[r] in (0, 1) and model.row_state[r] == 0 else Fraction(0)
                  for r in range(model.n_rows))
    numbers = model.exact
    told = replace(model, rationals=Rationals(numbers.discount, numbers.P, {"cost": exact}, {}, model.n_rows),
                   rounding=Rounding(costs={"cost": 1e-15}))
    solution = mdp.solve(told, exact=True)
    assert solution.ties.tolist() == [0] and solution.optimal[model.rows(0)].all()
