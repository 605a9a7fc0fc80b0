"""mdp.power: POWER and optimality probability against closed forms, reproducibility, Turner et al.'s claims.

Closed forms (rewards IID uniform on [0, 1], POWER = (1 - gamma) / gamma * E[V*_R(s) - R(s)]):
an absorbing state, or a state whose only future is one absorbing state, has POWER E[R] = 1/2; a state
that can move to any of k absorbing states has POWER E[max of k uniforms] = k / (k + 1), at every discount.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.errors import CorrigoError
from mdp import solve
from mdp.model import TabularMDP, from_arrays
from mdp.power import (PowerUndefinedError, absorbing_states, optimality_probabilities, optimality_probability,
                       power, reward_distribution)
from tests.strategies import MDPArrays, mdp_arrays


def fan(k: int, discount: float = 0.9) -> TabularMDP:
    """State 0 moves, by action ``a<i>``, to the absorbing state ``i + 1`` (i < k)."""
    n = k + 1
    actions = []
    for i in range(k):
        T = np.zeros((n, n))
        T[0, i + 1] = 1.0
        actions.append(T)
    return from_arrays(actions, [[0.0] * n] * k, discount=discount, terminal=[False] + [True] * k)


def shutdown_world(k: int, discount: float) -> TabularMDP:
    """State 0: 'off' leads to the absorbing shutdown state 1; 'on' to state 2, from which action
    ``go<i>`` reaches the absorbing state ``3 + i`` (i < k). Actions not available are zero rows."""
    n = 3 + k
    off, on = np.zeros((n, n)), np.zeros((n, n))
    off[0, 1] = 1.0
    on[0, 2] = 1.0
    gos = []
    for i in range(k):
        T = np.zeros((n, n))
        T[2, 3 + i] = 1.0
        gos.append(T)
    terminal = [False, True, False] + [True] * k
    return from_arrays([off, on, *gos], [[0.0] * n] * (k + 2), discount=discount,
                       action_names=["off", "on"] + [f"go{i}" for i in range(k)], terminal=terminal)


def within(estimate: float, stderr: float, expected: float) -> bool:
    return abs(estimate - expected) <= 3 * stderr + 1e-12


def test_one_absorbing_future_has_power_one_half() -> None:
    model = fan(1)
    estimate = power(model, samples=4000, seed=3)
    assert estimate.power.shape == estimate.stderr.shape == (2,)
    assert within(estimate.power[0], estimate.stderr[0], 0.5)
    # the absorbing state itself: POWER = R(s) for every sample, so E[R] = 1/2 exactly
    assert estimate.power[1] == 0.5 and estimate.stderr[1] == 0.0
    assert 0.003 < estimate.stderr[0] < 0.006  # sd of U[0, 1] is 0.2887; / sqrt(4000) = 0.0046


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("discount", [0.5, 0.9, 0.99])
def test_k_absorbing_choices_have_power_k_over_k_plus_one(k: int, discount: float) -> None:
    estimate = power(fan(k, discount), samples=3000, seed=k)
    assert within(estimate.power[0], estimate.stderr[0], k / (k + 1))
    assert np.all(np.abs(estimate.power[1:] - 0.5) <= 3 * estimate.stderr[1:])


def test_a_nonterminal_self_loop_is_like_an_absorbing_state() -> None:
    model = from_arrays([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 0.0]]], [[0.0, 0.0]] * 2, discount=0.8)
    assert absorbing_states(model).tolist() == [False, True]
    estimate = power(model, samples=2000, seed=0, keep_samples=True)
    assert estimate.power[1] == 0.5 and estimate.stderr[1] == 0.0
    assert estimate.sample_values is not None and estimate.sample_values.shape == (2, 2000)
    assert np.all(estimate.sample_values[1] == 0.5)
    assert estimate.sample_values[0].mean() == pytest.approx(estimate.power[0])
    # state 0 can stay (collecting R(0)) or move on: POWER = E[max(R(0), R(1))] = 2/3
    assert within(estimate.power[0], estimate.stderr[0], 2 / 3)


def test_per_sample_values_match_the_solver() -> None:
    """The batched sweep solves each reward exactly as mdp.solve does with cost -R (maximising R)."""
    rng = np.random.default_rng(11)
    n, n_actions, gamma = 12, 3, 0.85
    actions = [rng.dirichlet(np.ones(n) * 0.3, size=n) for _ in range(n_actions)]
    model = from_arrays(actions, [[0.0] * n] * n_actions, discount=gamma)
    samples = 3
    estimate = power(model, samples=samples, seed=5, tol=1e-10)
    rewards = np.random.default_rng(5).random((samples, n))  # the draws power() makes, in order
    expected = np.zeros(n)
    for R in rewards:
        V = -solve(from_arrays(actions, [-R] * n_actions, discount=gamma)).V
        expected += (1 - gamma) / gamma * (V - R)
    assert np.allclose(estimate.power, expected / samples, atol=1e-8, rtol=0)


def test_seeded_estimates_are_reproducible() -> None:
    model = fan(3)
    first, again = power(model, samples=500, seed=42), power(model, samples=500, seed=42)
    assert np.array_equal(first.power, again.power) and np.array_equal(first.stderr, again.stderr)
    other = power(model, samples=500, seed=43)
    assert not np.array_equal(first.power, other.power)


@pytest.mark.parametrize("chunk", [1, 7, 500])
def test_batched_and_one_at_a_time_agree_exactly(chunk: int) -> None:
    model = shutdown_world(3, 0.9)
    whole = power(model, samples=300, seed=9)
    pieces = power(model, samples=300, seed=9, chunk=chunk)
    assert np.array_equal(whole.power, pieces.power)
    assert np.array_equal(whole.stderr, pieces.stderr)


def test_discount_one_is_refused() -> None:
    model = from_arrays([[[0, 1], [0, 1]]], [[1, 0]], discount=1.0, terminal=[False, True])
    with pytest.raises(PowerUndefinedError, match="discount below 1") as raised:
        power(model, samples=10)
    assert isinstance(raised.value, CorrigoError) and isinstance(raised.value, ValueError)
    with pytest.raises(PowerUndefinedError):
        optimality_probability(model, 0, samples=10)


@pytest.mark.parametrize("arguments", [dict(samples=1), dict(chunk=0), dict(tol=0.0),
                                       dict(distribution="gaussian")])
def test_bad_arguments(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        power(fan(2), **arguments)  # type: ignore[arg-type]


def test_optimality_probability_of_k_choices_is_uniform() -> None:
    shares = optimality_probability(fan(4), 0, samples=4000, seed=1)
    assert list(shares) == ["a0", "a1", "a2", "a3"]
    stderr = np.sqrt(0.25 * 0.75 / 4000)
    assert all(abs(p - 0.25) <= 3 * stderr for p in shares.values())
    assert sum(shares.values()) == pytest.approx(1.0)


def test_optimality_probability_counts_ties_for_every_tied_action() -> None:
    same = np.zeros((3, 3))
    same[0, 1] = 1.0
    other = np.zeros((3, 3))
    other[0, 2] = 1.0
    model = from_arrays([same, same.copy(), other], [[0.0] * 3] * 3, discount=0.9,
                        action_names=["left", "also_left", "right"], terminal=[False, True, True])
    shares = optimality_probability(model, 0, samples=2000, seed=2)
    assert shares["left"] == shares["also_left"]
    assert shares["left"] + shares["right"] == pytest.approx(1.0)


# --- Turner et al., "Optimal Policies Tend to Seek Power" (NeurIPS 2021) ------------------------------


@pytest.mark.parametrize("k", [1, 2, 4])
def test_paper_avoiding_shutdown_is_optimal_for_k_of_k_plus_one_rewards(k: int) -> None:
    """The paper's abstract (most reward functions make keeping options optimal): when one action leads to a
    single absorbing state (shutdown) and the other keeps k absorbing states (cycles) reachable, most
    reward functions make avoiding shutdown optimal; for gamma -> 1 (the paper's farsighted limit,
    navigation towards larger sets of cycles) under IID rewards the fraction is k / (k + 1).

    Derivation: at state 0, Q(off) = gamma R(t0) / (1 - gamma) and Q(on) = gamma (R(s1) + gamma
    max_i R(t_i) / (1 - gamma)); as gamma -> 1 'on' is optimal iff max_i R(t_i) > R(t0), whose
    probability is P(the largest of k + 1 IID uniforms is one of the k) = k / (k + 1). At gamma = 0.999
    the R(s1) term shifts it by at most (1 - gamma) = 0.001, far below 3 standard errors.
    POWER agrees (its definition): POWER(s1) = E[max of k uniforms] = k / (k + 1) >= POWER(t0) = 1/2,
    with equality only for k = 1.
    """
    samples = 4000
    model = shutdown_world(k, 0.999)
    shares = optimality_probability(model, 0, samples=samples, seed=k)
    stderr = np.sqrt(k / (k + 1) / (k + 1) / samples)
    assert abs(shares["on"] - k / (k + 1)) <= 3 * stderr + 0.001
    assert shares["on"] + shares["off"] == pytest.approx(1.0)
    estimate = power(shutdown_world(k, 0.9), samples=samples, seed=k)
    assert within(estimate.power[2], estimate.stderr[2], k / (k + 1))
    assert within(estimate.power[1], estimate.stderr[1], 0.5)


# --- property: every sample is the optimal value of its reward, as the solver computes it -----------


@settings(max_examples=40, deadline=None)
@given(mdp_arrays(max_states=5, max_actions=3), st.integers(0, 2**16))
def test_every_sample_matches_the_solver(arrays: MDPArrays, seed: int) -> None:
    model = arrays.build()
    gamma = model.discount
    estimate = power(model, samples=2, seed=seed, tol=1e-9, keep_samples=True)
    assert estimate.sample_values is not None
    rewards = np.random.default_rng(seed).random((2, model.n_states))
    exact = absorbing_states(model)
    for i, R in enumerate(rewards):
        # maximising R(s) = minimising the row cost -R(row's state); terminal self-loops cost 0 in the
        # model, so give them their reward through the same cost vector
        cost = -R[model.row_state]
        V = -solve(TabularMDP(P=model.P, row_groups=model.row_groups, row_action=model.row_action,
                              action_names=model.action_names, costs={"r": cost}, discount=gamma,
                              initial=model.initial, terminal=np.zeros(model.n_states, dtype=bool))).V
        expected = (1 - gamma) / gamma * (V - R)
        got = estimate.sample_values[:, i]
        assert np.allclose(got[~exact], expected[~exact], atol=2e-9, rtol=0)
        assert np.all(got[exact] == 0.5)
        assert np.allclose(expected[exact], R[exact], atol=1e-9)  # the closed form the estimate uses


def slippery_grid(side: int, discount: float, stay: float = 0.2) -> TabularMDP:
    """A side x side grid, four moves reaching their cell with probability 1 - stay (walls clamp)."""
    n = side * side
    x, y = np.arange(n) % side, np.arange(n) // side
    moves = []
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        T = np.zeros((n, n))
        T[np.arange(n), np.clip(y + dy, 0, side - 1) * side + np.clip(x + dx, 0, side - 1)] += 1 - stay
        T[np.arange(n), np.arange(n)] += stay
        moves.append(T)
    return from_arrays(moves, [[0.0] * n] * 4, discount=discount)


def solver_power(model: TabularMDP, R: np.ndarray) -> np.ndarray:
    """One sample's POWER values by the solver: maximising R is minimising the row cost -R."""
    gamma = model.discount
    V = -solve(TabularMDP(P=model.P, row_groups=model.row_groups, row_action=model.row_action,
                          action_names=model.action_names, costs={"r": -R[model.row_state]}, discount=gamma,
                          initial=model.initial, terminal=np.zeros(model.n_states, dtype=bool))).V
    return (1 - gamma) / gamma * (V - R)


def test_extrapolation_near_discount_one_takes_a_tenth_of_the_sweeps_and_stays_within_tol() -> None:
    """At discount 0.99 plain value iteration needs about 1/(1 - gamma) * ln(1/tol) sweeps on a slippery
    grid (the span shrinks by gamma per sweep: 1,200 here); extrapolating the recurrent classes' error
    removes it, and the answers stay within tol of the solver's."""
    model = slippery_grid(12, 0.99)
    estimate = power(model, samples=4, seed=3, tol=1e-8, keep_samples=True)
    assert estimate.sample_values is not None
    assert estimate.sweeps < 200
    for i, R in enumerate(np.random.default_rng(3).random((4, model.n_states))):
        assert np.allclose(estimate.sample_values[:, i], solver_power(model, R), atol=1e-8 + 1e-9, rtol=0)
    pieces = power(model, samples=4, seed=3, tol=1e-8, chunk=1)
    assert np.array_equal(estimate.power, pieces.power)  # each column's extrapolations are its own


@pytest.mark.parametrize("stay", [0.0, 0.2])
def test_failed_extrapolations_go_back_to_the_plain_iterate(monkeypatch: pytest.MonkeyPatch, stay: float) -> None:
    """Forced to extrapolate at every look, also where the error is not the slow mode (a deterministic grid's
    two-cycles alternate in sign), with short trials: the answers are still within tol (the bounds hold
    for any iterate) and the sweeps are bounded."""
    module = sys.modules["mdp.power"]  # `mdp.power` is also the function
    monkeypatch.setattr(module, "_SLOW_MODE", np.inf)
    monkeypatch.setattr(module, "_TRIAL_SWEEPS", 3)
    model = slippery_grid(6, 0.95, stay)
    estimate = power(model, samples=3, seed=8, tol=1e-9, keep_samples=True)
    assert estimate.sample_values is not None
    for i, R in enumerate(np.random.default_rng(8).random((3, model.n_states))):
        assert np.allclose(estimate.sample_values[:, i], solver_power(model, R), atol=2e-9, rtol=0)


def test_several_states_share_one_batch_and_agree_with_one_at_a_time() -> None:
    model = shutdown_world(3, 0.9)
    together = optimality_probabilities(model, [0, 2], samples=300, seed=6)
    assert together[0] == optimality_probability(model, 0, samples=300, seed=6)
    assert together[2] == optimality_probability(model, 2, samples=300, seed=6)
    with pytest.raises(ValueError, match="not in 0..5"):
        optimality_probabilities(model, [6], samples=10)


# --- other reward distributions, and the user's own reward samples --------------------------------


@pytest.mark.parametrize("distribution, k, expected", [
    ("bernoulli(0.3)", 3, 1 - 0.7 ** 3),  # E[max of k Bernoulli(p)] = 1 - (1 - p)^k
    ("bernoulli(1)", 2, 1.0),
    ("beta(2, 1)", 3, 6 / 7),  # CDF x^2, so the max of k has CDF x^(2k) and mean 2k / (2k + 1)
    ("beta(1, 1)", 4, 4 / 5),  # uniform
])
def test_other_distributions_against_closed_forms(distribution: str, k: int, expected: float) -> None:
    estimate = power(fan(k), samples=3000, seed=k, distribution=distribution)
    assert within(estimate.power[0], estimate.stderr[0], expected)
    law = reward_distribution(distribution)
    assert np.all(estimate.power[1:] == law.mean) and np.all(estimate.stderr[1:] == 0)  # absorbing: E[R] exactly
    assert estimate.distribution == str(law)


@pytest.mark.parametrize("text, message", [
    ("normal", "unknown reward distribution 'normal', expected one of uniform, bernoulli(p), beta(a, b)"),
    ("bernoulli", "'bernoulli' takes 1 parameter(s), got 0"),
    ("beta(1)", "'beta' takes 2 parameter(s), got 1"),
    ("bernoulli(x)", "the parameters of 'bernoulli(x)' must be numbers"),
    ("bernoulli(1.5)", "bernoulli(p) needs p in [0, 1], got 1.5"),
    ("beta(0, 1)", "beta(a, b) needs a > 0 and b > 0"),
    ("uniform(0, 2)", "'uniform' takes 0 parameter(s), got 2"),
])
def test_bad_distributions_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        reward_distribution(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        power(fan(2), samples=10, distribution=text)


def test_given_rewards_are_solved_sample_by_sample() -> None:
    model = shutdown_world(2, 0.9)  # states: 0 start, 1 off (absorbing), 2 on, 3 and 4 absorbing
    rewards = np.random.default_rng(8).random((50, model.n_states))
    estimate = power(model, rewards=rewards, keep_samples=True)
    assert estimate.samples == 50 and estimate.distribution == "given"
    # per sample: POWER(2) = max(R3, R4); POWER(0) = (1 - g) R2 + g max(R3, R4) or R1, whichever is larger
    g = 0.9
    best = rewards[:, 3:].max(axis=1)
    expected_0 = np.maximum(rewards[:, 1], (1 - g) * rewards[:, 2] + g * best)
    assert estimate.sample_values is not None
    assert np.allclose(estimate.sample_values[2], best, atol=1e-6)
    assert np.allclose(estimate.sample_values[0], expected_0, atol=1e-6)
    assert estimate.power[1] == pytest.approx(rewards[:, 1].mean())  # absorbing: the sample mean, no closed form
    assert estimate.stderr[0] == pytest.approx(expected_0.std(ddof=1) / np.sqrt(50), rel=1e-4)
    shares = optimality_probabilities(model, [0], rewards=rewards)[0]
    assert shares["on"] == pytest.approx(np.mean((1 - g) * rewards[:, 2] + g * best > rewards[:, 1]))


def test_one_given_reward_function_has_its_own_power_and_no_sampling_error() -> None:
    """Issue 13: `--rewards` with a single row. State 0 of the fan moves to one of three absorbing states:
    POWER(0) = (1 - g) / g * (g / (1 - g)) max R(absorbing) = the best absorbing reward."""
    model = fan(3)
    estimate = power(model, rewards=[[0.0, 0.25, 0.75, 0.5]])
    assert estimate.samples == 1 and estimate.power.tolist() == pytest.approx([0.75, 0.25, 0.75, 0.5])
    assert estimate.stderr.tolist() == [0.0] * 4


@pytest.mark.parametrize("rewards, message", [
    (np.zeros((5, 4)), r"one column per state \(6 for the model"),
    (np.zeros(6), r"got shape \(6,\)"),
    (np.zeros((0, 6)), "at least 1 row"),
    (np.array([[0.0] * 6, [0.0] * 5 + [np.nan]]), "row 1 column 5 is nan"),
])
def test_given_rewards_of_the_wrong_shape_are_refused(rewards: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        power(shutdown_world(3, 0.9), rewards=rewards)


def test_several_action_sets_are_counted_on_one_batch_of_samples() -> None:
    """The counts of two sets at one state, from one call, are those of two calls with one set each (the same
    seed draws the same rewards), and a sample where two actions of one set tie counts once."""
    from mdp.model import from_arrays
    from mdp.power import optimal_counts

    stop = [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    go = [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    also_go = [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    world = from_arrays([stop, go, also_go], [[0] * 4] * 3, discount=0.9, terminal=[False, True, True, True],
                        action_names=["stop", "go", "also_go"])
    both = optimal_counts(world, [0], 300, 7, actions=(frozenset({"stop"}), frozenset({"go", "also_go"})))[0][2]
    alone = [optimal_counts(world, [0], 300, 7, actions=(wanted,))[0][2][0]
             for wanted in (frozenset({"stop"}), frozenset({"go", "also_go"}))]
    assert list(both) == alone and both[0] + both[1] == 300  # go and also_go tie: counted once
