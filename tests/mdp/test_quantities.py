"""Certified quantities (:mod:`mdp.quantities`) against an independent exact solver that enumerates every
deterministic policy of small random MDPs in rational arithmetic (``tests/exact_reference.py``).

Float mode: every value within its certified bound of the exact optimum. Exact mode: equal to it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exact_reference import bounded_reach, optimal_costs, optimal_reach
from mdp.model import from_arrays
from mdp.quantities import bounded_reachability, extremal_costs, next_probabilities, reachability


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


def assert_matches(result, expected: list, exact: bool) -> None:
    for s, want in enumerate(expected):
        if exact:
            assert result.exact_at(s) == want, (s, result.exact_at(s), want)
            assert result.values[s] == float(want)
        else:
            assert abs(Fraction(float(result.values[s])) - want) <= Fraction(result.bound_at(s)), \
                (s, result.values[s], want, result.bound_at(s))
    if not exact:
        assert result.bound < 1e-8


@settings(max_examples=150, deadline=None)
@given(small_mdps(), st.booleans())
def test_reachability_matches_the_exact_reference(case, exact) -> None:
    model, rows, target = case
    for maximize in (False, True):
        result = reachability(model, rows, target, maximize=maximize, exact=exact)
        assert_matches(result, optimal_reach(model, target, rows, maximize), exact)


@settings(max_examples=80, deadline=None)
@given(small_mdps(), st.booleans())
def test_until_matches_the_exact_reference(case, exact) -> None:
    model, rows, target = case
    avoid = np.zeros(model.n_states, dtype=bool)
    avoid[-1] = True
    for maximize in (False, True):
        result = reachability(model, rows, target, maximize=maximize, avoid=avoid, exact=exact)
        assert_matches(result, optimal_reach(model, target, rows, maximize, avoid), exact)


@settings(max_examples=80, deadline=None)
@given(small_mdps(), st.booleans())
def test_extremal_costs_match_the_exact_reference(case, exact) -> None:
    model, rows, _ = case
    for maximize in (False, True):
        result = extremal_costs(model, rows, "cost", maximize=maximize, exact=exact)
        assert_matches(result, optimal_costs(model, model.exact.costs["cost"], rows, maximize), exact)


@settings(max_examples=60, deadline=None)
@given(small_mdps(), st.integers(0, 4), st.booleans())
def test_bounded_and_next_match_the_exact_reference(case, steps, exact) -> None:
    model, rows, target = case
    for maximize in (False, True):
        result = bounded_reachability(model, rows, target, steps, maximize=maximize, exact=exact)
        assert_matches(result, bounded_reach(model, target, steps, rows, maximize), exact)
        result = next_probabilities(model, rows, target, maximize=maximize, exact=exact)
        # X target: one step, not counting the start (bounded_reach(1) would count a start in the target)
        one_step = bounded_reach(model, target, 1, rows, maximize, count_start=False)
        assert_matches(result, one_step, exact)
