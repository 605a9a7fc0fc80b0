"""Reproducing Turner, Smith, Shah, Critch, Tadepalli, "Optimal Policies Tend to Seek Power" (NeurIPS
2021; arXiv 1912.01683) on small worlds, with closed forms where they exist.

What we could check against the paper's text (its abstract and introduction, arXiv v7): optimal
policies are the paper's formalisation of intelligent agents (Section 4); in environments where the
agent can be shut down, *most reward functions make it optimal to seek power by keeping a range of
options available and, when the discount rate is close to 1, by navigating towards larger sets of
potential terminal states* (abstract). We did not have the full text at hand to confirm the numbers
of its definitions and theorems, so the tests cite the claims by their words, and every number below
is derived here from the definitions corrigo implements (docs/power.md)::

    POWER_D(s, gamma) = (1 - gamma) / gamma * E_{R ~ D}[V*_R(s, gamma) - R(s)]
    P_D(s, a, gamma)  = P_{R ~ D}(a is optimal at s)

with state rewards R(s) IID uniform on [0, 1] (a continuous D, so ties have probability 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from mdp.graph import option_graph
from mdp.model import TabularMDP, from_arrays
from mdp.power import optimality_probability, power


def shutdown_or_cycles(k: int, discount: float) -> TabularMDP:
    """State 0: 'off' enters the 2-cycle (1 <-> 2) and nothing else ever happens (shutdown); 'on' goes to
    the hub 3, from which 'go<i>' enters the 2-cycle (4 + 2i <-> 5 + 2i), i < k. Every cycle has the
    same shape, so the k + 1 cycles are exchangeable under IID rewards: the paper's symmetry."""
    n = 4 + 2 * k
    names = ["off", "on"] + [f"go{i}" for i in range(k)]
    actions = {name: np.zeros((n, n)) for name in names}
    actions["off"][0, 1] = actions["on"][0, 3] = 1.0
    for i in range(k):
        actions[f"go{i}"][3, 4 + 2 * i] = 1.0
    for a, b in [(1, 2)] + [(4 + 2 * i, 5 + 2 * i) for i in range(k)]:  # the cycles: one action each way
        actions["off"][a, b] = actions["off"][b, a] = 1.0
    return from_arrays(list(actions.values()), [[0.0] * n] * len(names), discount=discount, action_names=names)


def two_stage(k: int, discount: float) -> TabularMDP:
    """State 0: 'stop' goes to the absorbing state 1; 'wait' goes to 2, from which 'go<i>' reaches the
    absorbing state 3 + i (i < k)."""
    n = 3 + k
    names = ["stop", "wait"] + [f"go{i}" for i in range(k)]
    actions = {name: np.zeros((n, n)) for name in names}
    actions["stop"][0, 1] = actions["wait"][0, 2] = 1.0
    for i in range(k):
        actions[f"go{i}"][2, 3 + i] = 1.0
    return from_arrays(list(actions.values()), [[0.0] * n] * len(names), discount=discount, action_names=names,
                       terminal=[False, True, False] + [True] * k)


def binomial_se(p: float, samples: int) -> float:
    return float(np.sqrt(p * (1 - p) / samples))


@pytest.mark.parametrize("k", [1, 3])
def test_most_reward_functions_make_avoiding_shutdown_optimal(k: int) -> None:
    """Abstract: "most reward functions make it optimal to seek power by keeping a range of options
    available" in environments where the agent can be shut down, and with a discount close to 1 "by
    navigating towards larger sets of potential terminal states" (here: closed cycles).

    As gamma -> 1 a cycle is worth its average reward per step; the k + 1 cycles are exchangeable, so
    'on' is optimal iff the best of the k reachable cycles beats the shutdown cycle: probability
    k / (k + 1). At gamma = 0.99 the hub's reward and the phase inside a cycle move it by O(1 - gamma)
    (by less than 0.001 here: 10^6 samples of the closed form below).
    """
    samples = 2000
    model = shutdown_or_cycles(k, 0.99)
    shares = optimality_probability(model, 0, samples=samples, seed=10 + k)
    expected = k / (k + 1)
    assert abs(shares["on"] - expected) <= 3 * binomial_se(expected, samples) + 0.002
    assert shares["on"] + shares["off"] == pytest.approx(1.0)
    # the option graph counts the cycles each action keeps open: k after 'on', 1 after 'off'
    graph = option_graph(model)
    rows = {model.action_names[model.row_action[r]]: r for r in range(model.row_groups[0], model.row_groups[1])}
    assert graph.n_options_after(rows["on"]) == k and graph.n_options_after(rows["off"]) == 1


def test_cycle_values_match_their_closed_form_sample_by_sample() -> None:
    """The solver's view of ``shutdown_or_cycles`` against the closed form, on the same rewards: entering a
    2-cycle at a is worth (R(a) + gamma R(b)) / (1 - gamma^2); 'on' is optimal iff R(3) + gamma * (the best
    reachable cycle) exceeds the shutdown cycle."""
    k, g = 3, 0.9
    rewards = np.random.default_rng(5).random((500, 4 + 2 * k))

    def cycle(a: int, b: int) -> np.ndarray:
        return (rewards[:, a] + g * rewards[:, b]) / (1 - g * g)

    on = rewards[:, 3] + g * np.max([cycle(4 + 2 * i, 5 + 2 * i) for i in range(k)], axis=0)
    shares = optimality_probability(shutdown_or_cycles(k, g), 0, rewards=rewards)
    assert shares["on"] == np.mean(on > cycle(1, 2))


@pytest.mark.parametrize("discount", [0.2, 0.5, 0.9])
def test_keeping_options_is_optimal_for_a_share_that_grows_with_the_discount(discount: float) -> None:
    """The same claim at a finite discount, in closed form. At state 0 of ``two_stage``, 'wait' is optimal
    iff R(1) < X = (1 - gamma) R(2) + gamma M (M: the largest of k uniform rewards); X lies in [0, 1] and
    R(1) is uniform, so P('wait' optimal) = E[X] = (1 - gamma) / 2 + gamma k / (k + 1): more than 1/2 for
    k >= 2, growing with gamma towards k / (k + 1)."""
    k, samples = 3, 3000
    expected = (1 - discount) / 2 + discount * k / (k + 1)
    shares = optimality_probability(two_stage(k, discount), 0, samples=samples, seed=7)
    assert abs(shares["wait"] - expected) <= 3 * binomial_se(expected, samples)
    assert expected > 0.5


def exact_power_of_two_stage(k: int, discount: float) -> float:
    """POWER(0) of ``two_stage``: (1 - gamma) E[max(R1 / (1 - gamma), R2 + gamma M / (1 - gamma))] =
    E[max(U, X)] with U = R1 uniform and X = (1 - gamma) R2 + gamma M in [0, 1]; E[max(U, X)] = E[(1 + X^2) / 2],
    and E[X^2] = (1 - gamma)^2 / 3 + 2 gamma (1 - gamma) E[R2] E[M] + gamma^2 E[M^2] with E[M] = k / (k + 1),
    E[M^2] = k / (k + 2)."""
    g = discount
    second = (1 - g) ** 2 / 3 + 2 * g * (1 - g) * 0.5 * k / (k + 1) + g ** 2 * k / (k + 2)
    return (1 + second) / 2


@pytest.mark.parametrize("discount", [0.01, 0.5, 0.999])
def test_power_at_every_discount_and_its_limits(discount: float) -> None:
    """POWER against its closed form, and its two limits (derived from the definition): as gamma -> 0 the
    agent only sees one step ahead, POWER(0) -> E[max(R1, R2)] = 2/3; as gamma -> 1 it sees where it
    ends, POWER(0) -> E[max of k + 1 uniforms] = (k + 1) / (k + 2): waiting keeps k endings open, stopping 1."""
    k = 3
    exact = exact_power_of_two_stage(k, discount)
    estimate = power(two_stage(k, discount), samples=3000, seed=2)
    assert abs(estimate.power[0] - exact) <= 3 * estimate.stderr[0] + estimate.tol
    if discount == 0.01:
        assert exact == pytest.approx(2 / 3, abs=0.01)
    if discount == 0.999:
        assert exact == pytest.approx((k + 1) / (k + 2), abs=0.001)


def test_power_is_the_normalised_average_optimal_value() -> None:
    """The definition itself, on the absorbing states: an absorbing state collects R(s) forever, so
    (1 - gamma) / gamma * (R(s) / (1 - gamma) - R(s)) = R(s), and its POWER is E[R] = 1/2 at every discount.
    A state with one absorbing future has POWER E[R] = 1/2 too; one with k absorbing choices, the mean of
    the largest of k uniforms, k / (k + 1)."""
    for discount in (0.3, 0.9):
        estimate = power(two_stage(4, discount), samples=3000, seed=1)
        assert np.all(estimate.power[[1, 3, 4, 5, 6]] == 0.5)  # absorbing: exact
        assert abs(estimate.power[2] - 4 / 5) <= 3 * estimate.stderr[2] + estimate.tol


def test_power_in_the_limits_of_the_discount_has_its_closed_forms() -> None:
    """Turner et al. extend POWER to gamma = 0 and 1 by limits. gamma -> 0: the best expected next reward,
    max over actions; gamma -> 1: the best long-run average reward reachable. In two_stage(3): state 0 can
    stop (one absorbing future) or wait at 2 (three): POWER(0) -> E[max(R1, R2)] = 2/3 as gamma -> 0 and
    E[max(R1, R3, R4, R5)] = 4/5 as gamma -> 1; POWER(2) = E[max of 3] = 3/4 at every discount; absorbing
    states E[R] = 1/2. Defined even where the model's own discount is 1."""
    world = two_stage(3, 1.0)
    samples = 4000
    low, high = power(world, samples=samples, seed=3, discount=0), power(world, samples=samples, seed=3, discount=1)
    for estimate, expected in ((low, [2 / 3, 0.5, 3 / 4]), (high, [4 / 5, 0.5, 3 / 4])):
        assert all(abs(estimate.power[s] - e) <= 4 * estimate.stderr[s] + 1e-12 for s, e in enumerate(expected))
        assert estimate.stderr[1] == 0.0  # absorbing: exactly E[R]
    assert (low.discount, high.discount) == (0.0, 1.0)


def test_the_limit_gamma_to_1_averages_over_cycles_exactly_for_given_rewards() -> None:
    """shutdown_or_cycles(2): each 2-cycle alternates, so its long-run average is the mean of its two rewards;
    state 0 reaches the shutdown cycle (1, 2) or, through 3, the cycles (4, 5) and (6, 7): its optimal gain is
    the best of the three means; as gamma -> 0 the best next reward, max(R1, R3)."""
    world = shutdown_or_cycles(2, 0.9)
    rng = np.random.default_rng(11)
    rewards = rng.random((7, world.n_states))
    high = power(world, rewards=rewards, discount=1, keep_samples=True)
    low = power(world, rewards=rewards, discount=0, keep_samples=True)
    assert high.sample_values is not None and low.sample_values is not None
    means = [(rewards[:, 1] + rewards[:, 2]) / 2, (rewards[:, 4] + rewards[:, 5]) / 2, (rewards[:, 6] + rewards[:, 7]) / 2]
    assert np.allclose(high.sample_values[0], np.max(means, axis=0), atol=high.tol, rtol=0)
    assert np.allclose(high.sample_values[3], np.max(means[1:], axis=0), atol=high.tol, rtol=0)
    assert np.allclose(high.sample_values[1], means[0], atol=high.tol, rtol=0)
    assert np.array_equal(low.sample_values[0], np.maximum(rewards[:, 1], rewards[:, 3]))


def test_power_at_another_discount_is_power_of_the_world_at_that_discount() -> None:
    world = two_stage(2, 0.9)
    asked = power(world, samples=300, seed=5, discount=0.5)
    declared = power(two_stage(2, 0.5), samples=300, seed=5)
    assert np.array_equal(asked.power, declared.power) and asked.discount == 0.5
    with pytest.raises(ValueError, match=r"discount must lie in \[0, 1\]"):
        power(world, samples=10, discount=1.5)


def test_the_limit_gamma_to_1_refuses_models_beyond_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from dsl.errors import ResourceLimitError

    monkeypatch.setattr(importlib.import_module("mdp.power"), "_GAIN_LP_STATES", 4)
    with pytest.raises(ResourceLimitError, match="one linear program per sample, for at most 4 states; the model "
                                                 "'model' has 5"):
        power(two_stage(2, 0.9), samples=10, discount=1)
