"""Min/max numerics against brute force over every deterministic policy of small random MDPs.

Memoryless deterministic policies attain both the minimum and the maximum of reachability
probabilities and of discounted costs, so enumerating them gives the exact answer to compare with.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import breadth_first_order
import scipy.sparse as sp

from mdp.model import TabularMDP, from_arrays
from verifier.numerics import bounded_reachability, extremal_costs, next_probabilities, reachability


@st.composite
def small_mdps(draw):
    n = draw(st.integers(2, 5))
    n_actions = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    matrices, costs = [], []
    for a in range(n_actions):
        # sparse rows: 1-2 successors, often a self-loop, so end components are common
        T = np.zeros((n, n))
        for s in range(n):
            if a > 0 and rng.random() < 0.3:
                continue  # action not available here
            successors = rng.choice(n, size=int(rng.integers(1, 3)), replace=False)
            if rng.random() < 0.3:
                successors = np.array([s])
            weights = rng.integers(1, 4, size=successors.size).astype(float)
            T[s, successors] = weights / weights.sum()
        matrices.append(T)
        costs.append(np.round(rng.normal(size=n), 2))
    for s in range(n):  # every state needs an action
        if not any(T[s].any() for T in matrices):
            matrices[0][s, s] = 1.0
    discount = float(draw(st.sampled_from([0.5, 0.9])))
    model = from_arrays(matrices, costs, discount=discount)
    rows = np.ones(model.n_rows, dtype=bool)
    # drop some rows, keeping at least one per state
    drop = rng.random(model.n_rows) < 0.3
    for s in range(model.n_states):
        group = slice(model.row_groups[s], model.row_groups[s + 1])
        if (~drop[group]).sum() == 0:
            drop[model.row_groups[s]] = False
    rows &= ~drop
    target = rng.random(n) < 0.3
    return model, rows, target


def policies(model: TabularMDP, rows: npt.NDArray[np.bool_]):
    choices = [[r for r in model.rows(s) if rows[r]] for s in range(model.n_states)]
    return (np.array(choice) for choice in itertools.product(*choices))


def chain_reachability(model: TabularMDP, policy, target, avoid=None) -> npt.NDArray[np.float64]:
    n = model.n_states
    P = model.P[policy].toarray()
    avoid = np.zeros(n, dtype=bool) if avoid is None else avoid & ~target
    P[target | avoid] = 0
    # states that reach target in the chain
    graph = sp.csr_array((P.T > 0).astype(np.int8))
    reach = np.zeros(n, dtype=bool)
    for t in np.flatnonzero(target):
        reach[breadth_first_order(graph, t, directed=True, return_predecessors=False)] = True
    maybe = reach & ~target
    x = target.astype(float)
    if maybe.any():
        A = np.eye(int(maybe.sum())) - P[np.ix_(maybe, maybe)]
        x[maybe] = np.linalg.solve(A, P[np.ix_(maybe, target)].sum(axis=1))
    return x


def chain_cost(model: TabularMDP, policy) -> npt.NDArray[np.float64]:
    P = model.P[policy].toarray()
    return np.linalg.solve(np.eye(model.n_states) - model.discount * P, model.cost[policy])


@settings(max_examples=200, deadline=None)
@given(small_mdps())
def test_reachability_matches_brute_force(case) -> None:
    model, rows, target = case
    values = np.array([chain_reachability(model, p, target) for p in policies(model, rows)])
    for maximize in (False, True):
        result = reachability(model, rows, target, maximize=maximize, tol=1e-12)
        expected = values.max(axis=0) if maximize else values.min(axis=0)
        assert np.all(np.abs(result.values - expected) <= result.bound + 1e-9), (maximize, result.values, expected)
        assert result.bound < 1e-8


@settings(max_examples=100, deadline=None)
@given(small_mdps())
def test_until_matches_brute_force(case) -> None:
    model, rows, target = case
    avoid = np.zeros(model.n_states, dtype=bool)
    avoid[-1] = True
    values = np.array([chain_reachability(model, p, target, avoid) for p in policies(model, rows)])
    for maximize in (False, True):
        result = reachability(model, rows, target, maximize=maximize, avoid=avoid, tol=1e-12)
        expected = values.max(axis=0) if maximize else values.min(axis=0)
        assert np.all(np.abs(result.values - expected) <= result.bound + 1e-9)


@settings(max_examples=100, deadline=None)
@given(small_mdps())
def test_extremal_costs_match_brute_force(case) -> None:
    model, rows, _ = case
    values = np.array([chain_cost(model, p) for p in policies(model, rows)])
    for maximize in (False, True):
        result = extremal_costs(model, rows, model.cost, maximize=maximize)
        expected = values.max(axis=0) if maximize else values.min(axis=0)
        assert np.all(np.abs(result.values - expected) <= result.bound + 1e-9)
        assert result.certified and result.bound < 1e-8


@settings(max_examples=60, deadline=None)
@given(small_mdps(), st.integers(0, 4))
def test_bounded_and_next_match_brute_force(case, steps) -> None:
    model, rows, target = case
    chains = [model.P[p].toarray() for p in policies(model, rows)]

    # step-bounded optima need step-dependent policies: at every step the best memoryless policy
    # against the values of the remaining steps (enumerated, elementwise best)
    for maximize in (False, True):
        pick = np.max if maximize else np.min
        x = target.astype(float)
        for _ in range(steps):
            x = np.where(target, 1.0, pick([P @ x for P in chains], axis=0))
        result = bounded_reachability(model, rows, target, steps, maximize=maximize)
        assert result.values == pytest.approx(x, abs=1e-12)
        result = next_probabilities(model, rows, target, maximize=maximize)
        assert result.values == pytest.approx(pick([P @ target for P in chains], axis=0), abs=1e-12)
