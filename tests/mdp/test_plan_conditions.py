"""``mdp.parametric.plan_conditions``: where an ``H``-step planner's decisions stay the same, exactly."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

import dsl
import mdp
from mdp.compiler import with_exact_numbers
from mdp.graph import reachable_states
from mdp.parametric import parametric, plan_conditions, state_features
from mdp.planner import plan

# From the start (pos 0) the agent goes left (free) or right (cost 1); from there it finishes (3 from the left,
# 0 from the right). A 1-step planner with the critic w at pos 1 and 1/3 at pos 2 (discount 1/2) plans
#   Q(left) = 0 + 1/2 * w,   Q(right) = 1 + 1/2 * 1/3 = 7/6,
# so it goes left below w = 7/3, right above, and ties at w = 7/3.
GREEDY = """
model greedy_switch
discount 1/2
param w = 1 in [0, 4]
var pos : 0..3 = 0
action left when pos == 0: pos' = 1
action right when pos == 0: pos' = 2
action finish when pos == 1 || pos == 2: pos' = 3
terminal pos == 3
cost detour = 1 * [right]
cost toll = 3 * (pos == 1) * [finish]
critic guess = w * (pos == 1) + 1/3 * (pos == 2)
agent planner plans 1 steps with critic guess
"""


def _setup(text: str, names: list[str] | None = None):  # type: ignore[no-untyped-def]
    spec = dsl.load(text)
    model = with_exact_numbers(spec, mdp.compile(spec))
    pm = parametric(spec, model, names)
    critic = spec.critic(spec.agents[0].critic)
    assert critic.value is not None
    return spec, pm, state_features(pm, critic.value)


def _actions(pm, rows) -> list[str]:  # type: ignore[no-untyped-def]
    model = pm.model
    start = model.row_groups[model.initial]
    return [model.action_names[model.row_action[r]] for r in np.flatnonzero(rows)
            if model.row_state[r] == model.row_state[start]]


def test_a_one_step_planner_switches_where_its_planned_costs_cross() -> None:
    spec, pm, critic = _setup(GREEDY)
    below = plan_conditions(pm, critic, 1, (Fraction(1),))
    assert _actions(pm, below.rows) == ["left"]
    # the one condition: Q(right) - Q(left) = 7/6 - w/2 > 0, i.e. w < 7/3 (pos 1 has one row: no condition)
    assert below.conditions == ((Fraction(7, 6), Fraction(-1, 2)),)
    above = plan_conditions(pm, critic, 1, (Fraction(3),))
    assert _actions(pm, above.rows) == ["right"]
    assert above.conditions == ((Fraction(-7, 6), Fraction(1, 2)),)
    tie = plan_conditions(pm, critic, 1, (Fraction(7, 3),))
    assert _actions(pm, tie.rows) == ["left", "right"]
    assert tie.conditions == ()  # both rows tie: the tie holds on the hull w = 7/3 only, which the caller gives


def test_two_steps_see_past_the_critic_to_the_toll() -> None:
    # with 2 steps the plan ends where the episode has ended (critic 0): Q(left) = 1/2 * 3 = 3/2 against
    # Q(right) = 1, whatever w: right everywhere, and the only condition is the constant 1/2
    spec, pm, critic = _setup(GREEDY.replace("plans 1 steps", "plans 2 steps"))
    found = plan_conditions(pm, critic, 2, (Fraction(1),))
    assert _actions(pm, found.rows) == ["right"]
    assert found.conditions == ((Fraction(1, 2), Fraction(0)),)


def _random_spec(rng: random.Random, steps: int) -> str:
    """A random 4-state world with two params in the costs and the critic, affine."""
    def q(lo: int, hi: int) -> str:
        return f"{rng.randint(lo, hi)}/{rng.randint(1, 4)}"
    lines = ["model random_planner", f"discount {rng.randint(5, 9)}/10", "param u = 0 in [-2, 2]",
             "param v = 0 in [-2, 2]", "var x : 0..3 = 0"]
    costs = []
    for s in range(3):
        for a in range(rng.randint(1, 3)):
            name = f"a{s}_{a}"
            p = Fraction(rng.randint(1, 3), 4)
            lines += [f"action {name} when x == {s}:", f"    {p} -> x' = {rng.randint(0, 3)}",
                      f"    {1 - p} -> x' = {rng.randint(0, 3)}"]
            costs.append(f"cost c_{name} = ({q(-4, 4)} + {q(-2, 2)} * u + {q(-2, 2)} * v) * [{name}]")
    lines += ["terminal x == 3", *costs,
              f"critic guess = ({q(-4, 4)} + {q(-2, 2)} * u) * (x == 0) + ({q(-4, 4)} + {q(-2, 2)} * v) * (x == 1)"
              f" + {q(-4, 4)} * (x == 2)",
              f"agent planner plans {steps} steps with critic guess"]
    return "\n".join(lines) + "\n"


def _behaviour(pm, rows) -> bytes:  # type: ignore[no-untyped-def]
    reach = reachable_states(pm.model, rows)
    return np.flatnonzero(rows & reach[pm.model.row_state]).tobytes()


def _float_plan(pm, critic, steps: int, point) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The production planner (floats, ties within its slack) at ``point``."""
    values = np.array([[float(x) for x in row] for row in critic]).T @ np.array([1.0, *(float(x) for x in point)])
    return plan(pm.at(point), values, steps).rows


@pytest.mark.parametrize("seed", range(12))
def test_inside_the_conditions_the_planner_does_the_same_and_at_the_point_it_plans_as_the_planner(seed: int) -> None:
    rng = random.Random(seed)
    steps = rng.randint(1, 4)
    spec, pm, critic = _setup(_random_spec(rng, steps))

    def point() -> tuple[Fraction, ...]:
        return tuple(Fraction(rng.randint(-2000, 2000), 1000) for _ in range(2))
    inside = outside = 0
    for _ in range(4):
        p = point()
        found = plan_conditions(pm, critic, steps, p)
        assert all(c[0] + c[1] * p[0] + c[2] * p[1] > 0 for c in found.conditions)
        assert (found.rows == _float_plan(pm, critic, steps, p)).all()
        for _ in range(25):
            q = point()
            if all(c[0] + c[1] * q[0] + c[2] * q[1] > 0 for c in found.conditions):
                inside += 1  # the same decisions: the same rows where the plan goes
                assert _behaviour(pm, _float_plan(pm, critic, steps, q)) == _behaviour(pm, found.rows)
            else:
                outside += 1
    assert inside  # (the test looks at both sides)
