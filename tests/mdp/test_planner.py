"""The H-step planner with a critic (mdp.planner): brute-force expectimax, closed forms, the optimum's limits."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdp
from mdp.model import TabularMDP, from_arrays
from mdp.planner import plan


def random_world(seed: int, n: int, k: int, terminal: bool) -> TabularMDP:
    rng = np.random.default_rng(seed)
    transitions = []
    for _ in range(k):
        P = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
        P[np.arange(n), rng.integers(0, n, n)] += 0.1  # every row leads somewhere
        transitions.append(P / P.sum(axis=1, keepdims=True))
    costs = [rng.integers(-3, 4, n).astype(float) for _ in range(k)]
    ends = np.zeros(n, dtype=bool)
    if terminal:
        ends[n - 1] = True
    return from_arrays(transitions, costs, discount=0.8, terminal=ends)


def brute_force(model: TabularMDP, critic: np.ndarray, steps: int) -> np.ndarray:
    """(m,) each row's planned cost by the recursion itself, state by state (exponential, tiny models)."""
    gamma, P = float(model.discount), model.P.toarray()

    @lru_cache(maxsize=None)
    def W(s: int, k: int) -> float:  # the planner's estimate with k steps left
        if model.terminal[s]:
            return 0.0
        if k == 0:
            return float(critic[s])
        rows = range(model.row_groups[s], model.row_groups[s + 1])
        return min(model.cost[r] + gamma * sum(P[r, t] * W(t, k - 1) for t in range(model.n_states)) for r in rows)

    return np.array([model.cost[r] + gamma * sum(P[r, t] * W(t, steps - 1) for t in range(model.n_states))
                     for r in range(model.n_rows)])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 5), st.integers(1, 3), st.integers(1, 4), st.booleans())
def test_planned_costs_are_expectimax(seed: int, n: int, k: int, steps: int, terminal: bool) -> None:
    model = random_world(seed, n, k, terminal)
    critic = np.random.default_rng(seed + 1).normal(0, 5, model.n_states)
    planned = plan(model, critic, steps)
    expected = brute_force(model, critic, steps)
    assert np.allclose(planned.planned, expected, rtol=0, atol=1e-9)
    best = np.minimum.reduceat(expected, np.asarray(model.row_groups[:-1]))[model.row_state]
    assert np.array_equal(planned.rows, expected <= best + planned.slack)  # ties within the float error
    assert planned.slack < 1e-10


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 6), st.integers(1, 3), st.integers(1, 5), st.booleans())
def test_a_perfect_critic_gives_the_optimal_actions_at_every_horizon(seed: int, n: int, k: int, steps: int,
                                                                     terminal: bool) -> None:
    model = random_world(seed, n, k, terminal)
    solution = mdp.solve(model, exact=False)
    planned = plan(model, solution.V, steps)
    certain = ~solution.optimal | (np.diff(model.row_groups)[model.row_state] == 1)  # clear-cut rows
    assert np.array_equal(planned.rows[certain], solution.optimal[certain])


def test_a_long_horizon_without_a_critic_is_the_optimal_agent() -> None:
    """gamma = 0.8: after 200 steps W is within 0.8^200 * 6 / 0.2 of V*, far inside every gap here."""
    model = random_world(7, 6, 3, terminal=False)
    solution = mdp.solve(model)
    assert float(solution.gap[~solution.optimal].min()) > 1e-6
    assert np.array_equal(plan(model, None, 200).rows, solution.optimal)


def test_a_constant_offset_of_the_critic_changes_nothing_without_terminal_states() -> None:
    """P's rows sum to 1, so W_0 + c shifts every planned cost by gamma^H c alike."""
    model = random_world(3, 5, 3, terminal=False)
    critic = np.random.default_rng(4).normal(0, 5, model.n_states)
    for steps in (1, 2, 5):
        assert np.array_equal(plan(model, critic, steps).rows, plan(model, critic + 17.5, steps).rows)


def test_one_step_is_the_greedy_critic_follower() -> None:
    """Two actions from state 0: 'near' costs 1 and leads to state 1, 'far' costs 2 and leads to state 2;
    with critic 10 at state 1 and 0 at state 2, one step ahead prefers 'far' (2 + 0.5 * 0 < 1 + 0.5 * 10)."""
    near = [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    far = [[0, 0, 1], [0, 1, 0], [0, 0, 1]]
    model = from_arrays([near, far], [[1, 0, 0], [2, 0, 0]], discount=0.5, action_names=["near", "far"])
    planned = plan(model, np.array([0.0, 10.0, 0.0]), 1)
    assert planned.planned[:2].tolist() == [6.0, 2.0]
    assert planned.rows[:2].tolist() == [False, True]


def test_tabular_td_reproduces_the_training_policys_values() -> None:
    """One-hot features of every state but the first (the constant covers it): TD(0)'s fixed point is the
    uniformly random policy's own values, exactly where it visits (here everywhere)."""
    from mdp.planner import fit_critic

    model = random_world(5, 5, 2, terminal=False)
    features = np.eye(model.n_states)[:, 1:]
    fitted = fit_critic(model, features, np.zeros(model.n_states), None, "td")
    uniform = np.zeros((model.n_states, model.n_rows))
    uniform[model.row_state, np.arange(model.n_rows)] = 1.0 / np.diff(model.row_groups)[model.row_state]
    P, c = uniform @ model.P.toarray(), uniform @ model.cost
    expected = np.linalg.solve(np.eye(model.n_states) - 0.8 * P, c)
    assert (fitted.visits > 0).all()
    assert np.allclose(fitted.values, expected, rtol=0, atol=1e-9)


def test_least_squares_weighs_the_states_by_the_training_policys_discounted_visits() -> None:
    """A chain 0 -> 1 -> 2 -> 3, staying at 3; with discount 0.9 the visits from 0 are 1, 0.9, 0.81 and
    0.729 / 0.1 = 7.29; the fit on x is numpy's weighted polyfit of V* on those weights."""
    from mdp.planner import fit_critic

    n = 4
    step = np.zeros((n, n))
    step[np.arange(n), np.minimum(np.arange(n) + 1, n - 1)] = 1.0
    model = from_arrays([step], [[3.0, 2.0, 1.0, 0.0]], discount=0.9)
    V = np.linalg.solve(np.eye(n) - 0.9 * step, [3.0, 2.0, 1.0, 0.0])
    fitted = fit_critic(model, np.arange(n, dtype=float)[:, None], V, np.arange(n), "lsq")
    assert np.allclose(fitted.visits, [1, 0.9, 0.81, 7.29], rtol=1e-12)
    slope, intercept = np.polyfit(np.arange(n), V, 1, w=np.sqrt([1, 0.9, 0.81, 7.29]))
    assert np.allclose(fitted.weights, [intercept, slope], rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 5), st.integers(1, 3), st.integers(1, 4), st.booleans())
def test_a_planned_path_adds_up_to_the_planned_cost(seed: int, n: int, k: int, steps: int, terminal: bool) -> None:
    """Its terms over the H steps plus the critic at the horizon are the row's planned cost (the tie-break
    does not matter: tied choices have the same planned cost); V* in place of the critic along the same plan."""
    from mdp.planner import planned_path

    model = random_world(seed, n, k, terminal)
    critic = np.random.default_rng(seed + 2).normal(0, 5, model.n_states)
    planned = plan(model, critic, steps)
    for row in range(model.n_rows):
        path = planned_path(model, critic, steps, row, critic)
        assert sum(path.terms.values()) + path.critic == pytest.approx(planned.planned[row], abs=1e-9)
        assert path.optimal == pytest.approx(path.critic, abs=1e-12)


def test_a_very_long_horizon_stops_at_the_fixed_point_and_a_huge_plan_is_refused() -> None:
    """W stops changing once it is V* in floats; planning 10^6 steps then costs what converging costs. A plan
    whose sweeps would visit more than the work limit is a resource error before any sweep."""
    from dsl.errors import ResourceLimitError
    from mdp.planner import planned_path

    model = random_world(7, 6, 3, terminal=False)
    solution = mdp.solve(model)
    long = plan(model, None, 1_000_000)
    assert np.array_equal(long.rows, solution.optimal) and long.slack < 1e-6
    path = planned_path(model, None, 1_000_000, 0, solution.V)
    assert sum(path.terms.values()) + path.critic == pytest.approx(long.planned[0], abs=1e-6)
    with pytest.raises(ResourceLimitError, match="planning 10,000,000,000 steps ahead"):
        plan(model, None, 10**10)
