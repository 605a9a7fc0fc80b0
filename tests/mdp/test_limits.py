"""Optimality shares in the discount limits (mdp.limits): closed forms on Turner's worlds with the same
reward samples counted by hand, and exact agreement with the optimal actions at a discount of 1e-12 and of
1 - 1e-12 (every deterministic policy evaluated in rationals) on random small worlds."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy

from mdp.limits import blackwell_optimal_rows, greedy_optimal_rows
from mdp.model import TabularMDP, from_arrays
from mdp.power import optimal_counts, optimality_probabilities


def shutdown_world(discount: float = 0.99) -> TabularMDP:
    """Turner et al.'s shutdown world: from 0, `off` to the absorbing 1 or `on` to 2, which moves to one of
    the absorbing 3, 4, 5 (actions a0 = off / go to 3, a1 = on / go to 4, a2 = go to 5)."""
    off_or_3, on_or_4, to_5 = np.zeros((3, 6, 6))
    off_or_3[0, 1] = on_or_4[0, 2] = 1
    off_or_3[2, 3] = on_or_4[2, 4] = to_5[2, 5] = 1
    return from_arrays([off_or_3, on_or_4, to_5], [[0] * 6] * 3, discount=discount,
                       terminal=[False, True, False, True, True, True], action_names=["off", "on", "go"])


def shares(model: TabularMDP, rewards: np.ndarray, discount: float, state: int = 0) -> dict[str, float]:
    return optimality_probabilities(model, [state], rewards=rewards, discount=discount)[state]


def test_shutdown_world_limits_are_turners_closed_forms_sample_by_sample() -> None:
    """'on' is optimal as gamma -> 0 iff R2 > R1 (the next reward: 1/2 of uniform rewards) and as gamma -> 1
    iff max(R3, R4, R5) > R1 (the best place to stay: 3/4); counted on the very same samples."""
    R = np.random.default_rng(7).random((500, 6))
    near, far = shares(shutdown_world(), R, 0), shares(shutdown_world(), R, 1)
    assert near == {"off": np.mean(R[:, 1] > R[:, 2]), "on": np.mean(R[:, 2] > R[:, 1])}
    best_stay = R[:, 3:].max(axis=1)
    assert far == {"off": np.mean(R[:, 1] > best_stay), "on": np.mean(best_stay > R[:, 1])}


def test_limits_hold_at_a_spec_discount_of_one() -> None:
    """The limits need no discount below 1 in the model (as POWER's limits)."""
    R = np.random.default_rng(1).random((50, 6))
    assert shares(shutdown_world(1.0), R, 1) == shares(shutdown_world(0.5), R, 1)


def test_bernoulli_rewards_near_zero_break_ties_by_later_rewards() -> None:
    """Every 0/1 reward function once: 'on' is optimal as gamma -> 0 when R2 > R1 (16 of 64), or R2 = R1 = 0
    (16: nothing to lose), or R2 = R1 = 1 and some of R3..R5 is 1 (8 * 7 / 8 = 14): 46 / 64; 'off' when
    R1 > R2 (16), R1 = R2 = 1 (16: staying at 1 is as good as any), or R1 = R2 = 0 and R3..R5 = 0 (2): 34 / 64."""
    every = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    assert shares(shutdown_world(), every, 0) == {"off": 34 / 64, "on": 46 / 64}


def test_bias_decides_where_the_gains_tie() -> None:
    """Both actions end in the absorbing state 3 (the same gain R3); the way through 1 or 2 is the bias:
    `a` is optimal near 1 iff R1 > R2, for every sample."""
    a, b = np.zeros((2, 4, 4))
    a[0, 1] = b[0, 2] = 1
    a[1, 3] = a[2, 3] = a[3, 3] = b[1, 3] = b[2, 3] = b[3, 3] = 1
    b[1:] = 0
    model = from_arrays([a, b], [[0] * 4] * 2, discount=0.9, action_names=["a", "b"])
    R = np.random.default_rng(3).random((300, 4))
    assert shares(model, R, 1) == {"a": np.mean(R[:, 1] > R[:, 2]), "b": np.mean(R[:, 2] > R[:, 1])}


def test_a_cycle_is_worth_its_mean_reward_in_the_limit() -> None:
    """From 0: `stay` loops at 0 (gain R0) or `cycle` enters the 2-cycle 1 <-> 2 (gain (R1 + R2) / 2); near 0
    the choice is the next reward, R0 against R1."""
    stay, cycle = np.zeros((2, 3, 3))
    stay[0, 0] = 1
    cycle[0, 1] = cycle[1, 2] = cycle[2, 1] = 1
    model = from_arrays([stay, cycle], [[0] * 3] * 2, discount=0.9, action_names=["stay", "cycle"])
    R = np.random.default_rng(4).random((300, 3))
    mean = (R[:, 1] + R[:, 2]) / 2
    assert shares(model, R, 1) == {"stay": np.mean(R[:, 0] > mean), "cycle": np.mean(mean > R[:, 0])}
    assert shares(model, R, 0) == {"stay": np.mean(R[:, 0] > R[:, 1]), "cycle": np.mean(R[:, 1] > R[:, 0])}


def test_actions_with_the_same_consequences_both_count() -> None:
    """`left` and `also_left` go to the same absorbing state: in both limits they tie for every sample."""
    left, right = np.zeros((2, 3, 3))
    left[0, 1] = right[0, 2] = 1
    model = from_arrays([left, left.copy(), right], [[0] * 3] * 3, discount=0.9, terminal=[False, True, True],
                        action_names=["left", "also_left", "right"])
    R = np.random.default_rng(5).random((200, 3))
    for limit in (0, 1):
        got = shares(model, R, limit)
        assert got["left"] == got["also_left"] == np.mean(R[:, 1] > R[:, 2])
        assert got["right"] == np.mean(R[:, 2] > R[:, 1])


def exact_optimal_rows(model: TabularMDP, rewards: list[Fraction], gamma: Fraction) -> np.ndarray:
    """The rows optimal at ``gamma`` for state rewards ``rewards``: the best of all deterministic policies'
    values, each solved exactly, then ``argmax_a P(s, a) V*``."""
    n, P = model.n_states, model.P.toarray()
    exact_P = [[Fraction(x).limit_denominator(100) for x in row] for row in P]
    groups = [range(model.row_groups[s], model.row_groups[s + 1]) for s in range(n)]
    best = None
    for policy in itertools.product(*groups):
        system = sympy.Matrix(n, n, lambda i, j: int(i == j) - gamma * exact_P[policy[i]][j])
        values = system.LUsolve(sympy.Matrix(rewards))
        best = values if best is None else sympy.Matrix([max(x, y) for x, y in zip(best, values)])
    Q = [sum(exact_P[row][j] * best[j] for j in range(n)) for row in range(model.n_rows)]
    return np.array([Q[row] == max(Q[r] for r in groups[model.row_state[row]]) for row in range(model.n_rows)])


@pytest.mark.parametrize("seed", range(6))
def test_limits_agree_with_exact_optima_at_discounts_next_to_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(4):
        n, actions = int(rng.integers(2, 6)), int(rng.integers(1, 4))
        matrices = []
        for a in range(actions):
            M = np.zeros((n, n))
            for s in range(n):
                if a == 0 or rng.random() < 0.7:  # every state keeps action 0
                    successors = rng.choice(n, size=int(rng.integers(1, 3)), replace=False)
                    weights = rng.integers(1, 4, size=successors.size).astype(float)
                    M[s, successors] = weights / weights.sum()
            matrices.append(M)
        model = from_arrays(matrices, [[0] * n] * actions, discount=0.9, terminal=rng.random(n) < 0.2)
        R = rng.integers(0, 10**6, size=(n, 2)) / 10**6
        near = ((greedy_optimal_rows, Fraction(1, 10**12)), (blackwell_optimal_rows, 1 - Fraction(1, 10**12)))
        for rows_of, gamma in near:
            got = rows_of(model, R)
            for j in range(2):
                exact = exact_optimal_rows(model, [Fraction(x).limit_denominator(10**6) for x in R[:, j]], gamma)
                assert (got[:, j] == exact).all(), (rows_of.__name__, model.P.toarray(), R[:, j])


def test_limit_one_refuses_bernoulli_and_large_models() -> None:
    from dsl.errors import ResourceLimitError

    with pytest.raises(ValueError, match="need a continuous reward law"):
        optimal_counts(shutdown_world(), [0], samples=10, distribution="bernoulli(0.5)", discount=1)
    big = from_arrays([np.eye(2001)], [[0] * 2001], discount=0.9)
    with pytest.raises(ResourceLimitError, match="at most 2,000 states"):
        optimal_counts(big, [0], samples=10, discount=1)


def test_ties_for_good_end_the_expansion_early() -> None:
    """Two absorbing states both worth 0, at the end of a 500-state corridor: the two last moves tie at every
    order; the expansion stops once its orders repeat (here after the corridor's values are all 0), not after
    501 orders, and both count."""
    n = 502
    walk, left, right = np.zeros((3, n, n))
    for s in range(n - 3):
        walk[s, s + 1] = 1
    left[n - 3, n - 2] = right[n - 3, n - 1] = 1
    model = from_arrays([walk, left, right], [[0] * n] * 3, discount=0.9, terminal=[False] * (n - 2) + [True, True],
                        action_names=["walk", "left", "right"])
    assert shares(model, np.zeros((3, n)), 0, state=n - 3) == {"left": 1.0, "right": 1.0}


def test_an_expansion_past_its_budget_is_a_resource_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for one order only, a 0/1 tie that the second order settles is refused, not miscounted."""
    import mdp.limits
    from dsl.errors import ResourceLimitError

    monkeypatch.setattr(mdp.limits, "_GREEDY_WORK", 1)
    tied = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])  # R1 = R2 = 1: 'off' and 'on' tie at the first order
    with pytest.raises(ResourceLimitError, match="still tie after 1 order of the expansion"):
        shares(shutdown_world(), tied, 0)
