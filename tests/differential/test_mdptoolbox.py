"""pymdptoolbox's values on random discounted models agree with corrigo's, within the certified bound.

pymdptoolbox maximises reward in an ``(A, S, S)`` layout and needs every action in every state; the
conversion (negated costs, a self-loop with a prohibitive cost for an action a state lacks) is
``benchmarks/baselines.py``'s :func:`mdptoolbox_arrays`, tested here along with the benchmark's
:func:`mdptoolbox_value_iteration` (input checks bypassed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

mdptoolbox_mdp = pytest.importorskip("mdptoolbox.mdp")

from random_mdps import policy_iteration, random_mdp  # noqa: E402

pytestmark = [
    pytest.mark.crosscheck,
    # its own input check compares a sparse matrix with 0
    pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning"),
]

SEEDS = range(30)
DISCOUNTS = (0.5, 0.9, 0.95)


def _baselines():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "baselines.py"
    spec = importlib.util.spec_from_file_location("corrigo_benchmark_baselines", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


baselines = _baselines()


def discounted(seed):
    return random_mdp(seed, discount=DISCOUNTS[seed % len(DISCOUNTS)])


def macqueen_interval(solver, gamma):
    """Bounds on the optimal reward from one more backup of pymdptoolbox's own Bellman operator."""
    values = np.asarray(solver.V)
    _, after = solver._bellmanOperator(values)
    change = after - values
    return after + gamma / (1 - gamma) * change.min(), after + gamma / (1 - gamma) * change.max()


def solve_or_skip():
    solver = pytest.importorskip("mdp.solver", reason="mdp.solver is not written yet")
    if not hasattr(solver, "solve"):
        pytest.skip("mdp.solver has no solve() yet")
    return solver.solve


def certified_bound(solution):
    for name in ("bound", "error_bound", "certified_bound"):
        if hasattr(solution, name):
            return float(getattr(solution, name))
    raise AssertionError(f"{type(solution).__name__} has no error bound attribute")


@pytest.mark.parametrize("seed", SEEDS)
def test_policy_iteration_agrees_with_reference(seed):
    """pymdptoolbox's exact policy iteration against ours: checks the layout conversion."""
    model = discounted(seed)
    P, R = baselines.mdptoolbox_arrays(model)
    solver = mdptoolbox_mdp.PolicyIteration(P, R, model.discount, eval_type="matrix")
    solver.run()
    reference = policy_iteration(model)
    np.testing.assert_allclose(-np.asarray(solver.V), reference, rtol=0, atol=1e-9 * (1 + np.abs(reference).max()))


@pytest.mark.parametrize("seed", SEEDS)
def test_value_iteration_interval_contains_reference(seed):
    """The public ValueIteration (with its input checks) brackets the optimum after one more backup."""
    model = discounted(seed)
    P, R = baselines.mdptoolbox_arrays(model)
    solver = mdptoolbox_mdp.ValueIteration(P, R, model.discount, epsilon=1e-8)
    solver.run()
    lower, upper = macqueen_interval(solver, model.discount)
    reference = -policy_iteration(model)
    slack = 1e-10 * (1 + np.abs(reference))
    assert np.all(lower - slack <= reference) and np.all(reference <= upper + slack)


@pytest.mark.parametrize("seed", SEEDS)
def test_benchmark_baseline_agrees_with_reference(seed):
    model = discounted(seed)
    seconds, values = baselines.mdptoolbox_value_iteration(model, epsilon=1e-8)
    reference = policy_iteration(model)
    assert seconds >= 0
    np.testing.assert_allclose(values, reference, rtol=0, atol=1e-8 / 2 + 1e-12 * (1 + np.abs(reference).max()))


@pytest.mark.parametrize("seed", SEEDS)
def test_value_iteration_agrees_with_solver(seed):
    solve = solve_or_skip()
    model = discounted(seed)
    solution = solve(model)
    ours = np.asarray(solution.V)
    P, R = baselines.mdptoolbox_arrays(model)
    solver = mdptoolbox_mdp.ValueIteration(P, R, model.discount, epsilon=1e-8)
    solver.run()
    lower, upper = macqueen_interval(solver, model.discount)
    allowed = certified_bound(solution) + 1e-12 * (1 + np.abs(ours))
    assert np.all(-upper - allowed <= ours) and np.all(ours <= -lower + allowed)
    _, baseline = baselines.mdptoolbox_value_iteration(model, epsilon=1e-8)
    np.testing.assert_array_less(np.abs(baseline - ours), allowed + 1e-8 / 2)


def test_unavailable_actions_are_self_loops_with_a_prohibitive_cost():
    from mdp.model import from_arrays

    model = from_arrays([[[0, 1], [0, 0]], [[1, 0], [0, 1]]], [[3, 0], [1, 2]], discount=0.5, terminal=[False, False])
    P, R = baselines.mdptoolbox_arrays(model)
    assert len(P) == 3  # a0, a1 and the terminal self-loop
    assert P[0].toarray().tolist() == [[0, 1], [0, 1]]  # state 1 lacks a0: self-loop
    assert R.shape == (2, 3)
    assert R[0, 0] == -3 and R[1, 0] < -2 * 3 / (1 - 0.5)
    assert P[2].toarray().tolist() == [[1, 0], [0, 1]] and np.all(R[:, 2] < -6)
