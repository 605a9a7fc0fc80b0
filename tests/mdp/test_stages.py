"""Backward induction over stages (:mod:`mdp.stages`) against the exact time-expanded model
(:mod:`mdp.horizon`): values within the certified bound, every optimal row kept at every step, every row
dropped certainly suboptimal, the same pairs reached; and a hand-solved episode."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
import mdp
from mdp.model import ModelError
from mdp.stages import extremal, policy_term_values, reachable, solve_stages
from tests.mdp.test_horizon import INVEST_WORLD as INVEST
from tests.strategies import model_texts, with_horizon
from verifier.submodel import optimal_submodel



def test_the_invest_episode_by_hand() -> None:
    # V_t with 4 - t steps left: rich -3 (t = 3) ... -12 (t = 0); poor -1, -2, -3 (a tie), -6 (invest)
    model = mdp.compile(dsl.load(INVEST), expand_horizon=False)
    stages = solve_stages(model, 4)
    poor, rich = (model.find(f"rich={v}") for v in ("false", "true"))
    assert [list(stages.values(t)[[poor, rich]]) for t in range(5)] == \
        [[-6, -12], [-3, -9], [-2, -6], [-1, -3], [0, 0]]
    actions = [[model.action_names[model.row_action[r]] for r in np.flatnonzero(stages.optimal(t))
                if model.row_state[r] == poor] for t in range(4)]
    assert actions == [["invest"], ["invest", "consume"], ["consume"], ["consume"]]
    assert stages.value == -6.0 and 0 < stages.bound[0] < 1e-13
    reach = reachable(stages, stages.optimal)
    assert reach[:, poor].tolist() == [True, False, False, False, False]  # invested at once
    # income over the episode: consume 3 times rich (-3 each); probability of ever getting rich: 1
    assert extremal(stages, "income", maximize=True)[0][poor] == -9.0
    values, bound = extremal(stages, None, maximize=False, target=lambda t: np.array([False, True])[
        [model.state_codes[s][0] for s in range(model.n_states)]])
    assert (values[poor], bound) == (1.0, 0.0)  # decided on the graph: exactly
    terms = policy_term_values(stages, 1)  # the tie at step 1 broken by the first action: invest
    assert (terms["invest_cost"][poor], terms["income"][poor]) == (3.0, -6.0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_texts(), st.integers(min_value=1, max_value=5))
def test_stages_agree_with_the_exact_time_expanded_model(text: str, steps: int) -> None:
    spec = dsl.load(with_horizon(text, steps))
    try:
        expanded = mdp.compile(spec, exact=True)
        truth = mdp.solve(expanded, exact=True)
    except ModelError:
        return
    world = mdp.compile(spec, expand_horizon=False)
    stages = solve_stages(world, steps)
    index = {tuple(codes): s for s, codes in enumerate(world.state_codes.tolist())}
    pair = [(int(codes[-1]), index[tuple(codes[:-1])]) for codes in expanded.state_codes.tolist()]
    exact_V = truth.exact_V
    assert exact_V is not None
    for p, (t, s) in enumerate(pair):
        if world.terminal[s] and t < steps:
            continue  # absorbing in both: worth 0
        assert abs(Fraction(stages.values(t)[s]) - exact_V[p]) <= Fraction(stages.bound[t]), (t, s)
        if t == steps or world.terminal[s]:
            continue
        rows = list(expanded.rows(p))
        base_rows = list(world.rows(s))
        assert len(rows) == len(base_rows)
        optimal = stages.optimal(t)
        for r, b in zip(rows, base_rows):
            if truth.optimal[r]:
                assert optimal[b], "an optimal row was dropped"
            elif optimal[b]:  # kept though suboptimal: only a near-tie inside the certified uncertainty
                assert truth.gap[r] <= 2 * stages.delta[t]
    reach = reachable(stages, stages.optimal)
    sub = optimal_submodel(truth, expanded)
    reached_exactly = {pair[p] for p in np.flatnonzero(sub.reachable)}
    # floats keep every optimal row (and maybe near-ties): a superset of the pairs exact M* reaches
    assert reached_exactly <= {(int(t), int(s)) for t, s in np.argwhere(reach)}
    start = expanded.exact_at_start(exact_V)
    assert abs(Fraction(stages.value) - start) <= Fraction(float(stages.bound[0]))
