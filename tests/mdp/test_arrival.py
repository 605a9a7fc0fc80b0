"""Costs on arrival (`x'` in cost and intent terms): each row costs its expectation over the successors,
after the agent's branches and the events; against hand-solved values (issue 13)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import dsl
from mdp import ModelError, compile, solve
from mdp.parametric import parametric
from verifier.sweep import sweep

# x moves right with probability 4/5 (else stays); it rains (once) with probability 1/2 after every step
WORLD = """model arrival
discount 0.9
var x : 0..2 = 0
var wet : bool = false
action right when x < 2:
    0.8 -> x' = x + 1
    0.2 -> x' = x
action stay:
    skip
event rain when !wet:
    0.5 -> wet' = true
terminal x == 2 && wet
cost arrive = -10 * (x' == 2 && x != 2)
cost splash = 3 * (wet' && !wet)
"""


def row(model, action: str, **values: int) -> int:
    state = next(s for s in range(model.n_states) if model.describe(s) == ", ".join(
        f"{k}={'true' if v is True else 'false' if v is False else v}" for k, v in values.items()))
    return next(r for r in model.rows(state) if model.action_names[model.row_action[r]] == action)


@pytest.mark.parametrize("exact", [False, True])
def test_each_row_costs_the_expectation_over_its_successors(exact: bool) -> None:
    model = compile(dsl.load(WORLD), exact=exact)
    # entering x = 2 happens with probability 0.8 from x = 1; rain with 0.5 while dry
    assert model.costs["arrive"][row(model, "right", x=1, wet=False)] == -8.0
    assert model.costs["arrive"][row(model, "right", x=0, wet=False)] == 0.0
    assert model.costs["splash"][row(model, "stay", x=0, wet=False)] == 1.5
    assert model.costs["splash"][row(model, "right", x=1, wet=True)] == 0.0
    if exact:
        rationals = model.exact
        assert rationals.costs["arrive"][row(model, "right", x=1, wet=False)] == Fraction(-8)
        assert rationals.costs["splash"][row(model, "right", x=1, wet=False)] == Fraction(3, 2)
    else:
        assert model.rounding.of("arrive") < 1e-14  # 0.8 is not a float: a rounding bound, and a tiny one


def test_values_agree_with_the_hand_solved_equations() -> None:
    model = compile(dsl.load(WORLD))
    V = solve(model).V
    at = {model.describe(s): V[s] for s in range(model.n_states)}
    # x = 2 dry: only `stay`, rain costs 3 * 1/2 until it comes: V = 1.5 + 0.9 * 0.5 * V
    assert at["x=2, wet=false"] == pytest.approx(1.5 / 0.55, abs=1e-9)
    # x = 1 wet: V = -8 + 0.9 * 0.2 * V; x = 0 wet: V = 0.9 * (0.8 V(1, wet) + 0.2 V)
    assert at["x=1, wet=true"] == pytest.approx(-8 / 0.82, abs=1e-9)
    assert at["x=0, wet=true"] == pytest.approx(0.72 * (-8 / 0.82) / 0.82, abs=1e-9)


def test_a_division_by_zero_on_arrival_is_located_at_the_state() -> None:
    text = WORLD.replace("cost splash = 3 * (wet' && !wet)", "cost ratio = 1 / (x' - 1)")
    with pytest.raises(ModelError) as caught:
        compile(dsl.load(text))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == "division by zero in cost 'ratio'"
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.column) == (14, 14)
    assert diagnostic.notes[:2] == ("in state x=0, wet=false", "taking action 'right'")  # x' = 1 there


def test_a_sweep_finds_the_exact_weight_where_arriving_pays() -> None:
    """Effort 1 per step right, -w on entering x = 2: right pays at x = 1 when 1 - 0.8 w < 0 and at x = 0
    when 1 + 0.72 (1 - 0.8 w) / 0.82 < 0, that is w > 385/144."""
    text = """model sweep_arrival
discount 0.9
param w = 10 in [0, 20]
var x : 0..2 = 0
action right when x < 2:
    0.8 -> x' = x + 1
    0.2 -> x' = x
action stay:
    skip
terminal x == 2
cost arrive = -w * (x' == 2 && x != 2)
cost effort = 1 * [right]
check goes: P >= 1 [ F x == 2 ]
"""
    spec = dsl.load(text)
    result = sweep(spec)
    assert result.descriptions["goes"] == "(w <= 20) and (385/144 < w)"
    features = parametric(spec, compile(spec, exact=True)).exact_features["arrive"]
    model = compile(spec)
    assert features[1][row(model, "right", x=1)] == Fraction(-4, 5)  # -w times P(enter) = 4/5
    assert np.allclose(parametric(spec, model).costs["arrive"][1], [float(f) for f in features[1]])
