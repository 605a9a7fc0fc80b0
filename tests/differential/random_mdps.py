"""Seeded random MDPs for the differential tests, and an exact policy-iteration reference.

Every model is built with :func:`mdp.model.from_arrays`, the way models from elsewhere come in. With
discount 1 every policy is made proper (so the optimal total cost is finite and Storm's ``Rmin [F
"terminal"]`` means the same thing as ours) in one of two ways: strictly positive costs and a path from
every state to a terminal one, or costs of mixed sign and a chance of termination on every choice.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mdp.model import TabularMDP, from_arrays

DISCOUNTS = (0.5, 0.9, 0.95, Fraction(19, 20), 1)


def random_mdp(seed: int, n_states: int | None = None, discount: float | Fraction | None = None,
               n_labels: int = 2) -> TabularMDP:
    """A random MDP with 5-200 states, 1-4 actions, some terminal states and costs of mixed sign."""
    rng = np.random.default_rng(seed)
    n = int(n_states if n_states is not None else rng.integers(5, 201))
    n_actions = int(rng.integers(1, 5))
    gamma = discount if discount is not None else DISCOUNTS[int(rng.integers(len(DISCOUNTS)))]
    undiscounted = float(gamma) == 1
    positive_costs = undiscounted and bool(rng.integers(2))

    terminal = rng.random(n) < 0.1
    if undiscounted or rng.random() < 0.7:
        terminal[rng.integers(n)] = True
    terminal[0] = False  # keep something to decide at the initial state
    if not terminal.any() and undiscounted:
        terminal[n - 1] = True
    targets = np.flatnonzero(terminal)

    available = rng.random((n_actions, n)) < 0.8
    available[rng.integers(n_actions, size=n), np.arange(n)] = True  # no deadlocks
    # rank 0 for terminal states; every other state gets a choice leading to a state of smaller rank
    rank = np.empty(n, dtype=np.int64)
    rank[rng.permutation(n)] = np.arange(n)
    rank[terminal] = -1

    transitions, costs = [], []
    for a in range(n_actions):
        matrix = np.zeros((n, n))
        for s in np.flatnonzero(available[a]):
            k = int(rng.integers(1, 5))
            successors = rng.choice(n, size=k, replace=False)
            weights = rng.integers(1, 5, size=k) if rng.random() < 0.3 else rng.random(k) + 0.05
            probabilities = weights / weights.sum()
            matrix[s, successors] += probabilities
        transitions.append(matrix)
        if positive_costs:
            costs.append(rng.uniform(0.1, 2.0, n))
        else:
            vector = rng.normal(0.0, 1.0, n)
            whole = rng.random(n) < 0.3
            vector[whole] = np.round(vector[whole] * 3)
            costs.append(vector)

    if undiscounted:
        for s in np.flatnonzero(~terminal):
            if positive_costs:
                # one available action of s moves some mass to a state of smaller rank
                a = int(rng.choice(np.flatnonzero(available[:, s])))
                closer = np.flatnonzero(rank < rank[s])
                transitions[a][s] *= 0.5
                transitions[a][s, rng.choice(closer)] += 0.5
            else:
                # every choice stops with probability >= 0.1, so every policy is proper
                for a in np.flatnonzero(available[:, s]):
                    transitions[a][s] *= 0.9
                    transitions[a][s, rng.choice(targets)] += 0.1

    model = from_arrays(transitions, costs, discount=gamma, initial=0,
                        action_names=[f"act{a}" for a in range(n_actions)], terminal=terminal)
    labels = {f"label{i}": rng.random(n) < rng.uniform(0.02, 0.5) for i in range(n_labels)}
    return dataclasses.replace(model, labels=labels)


def policy_iteration(model: TabularMDP, max_iter: int = 1000) -> npt.NDArray[np.float64]:
    """Optimal values by policy iteration with exact (direct) policy evaluation.

    Independent of corrigo's solver: a second reference for the export tests. With discount 1 it
    starts from a proper policy (an attractor strategy towards the terminal states) and assumes the
    model is a proper stochastic shortest path problem, as :func:`random_mdp` makes it.
    """
    n, gamma, cost = model.n_states, model.discount, model.cost
    starts = model.row_groups[:-1]
    P = model.P.tocsr()
    choice = _attractor_policy(model) if gamma == 1 else starts.copy()
    # terminal states are fixed at 0 (their self-loop would make I - P singular for gamma = 1)
    keep = sp.diags((~model.terminal).astype(float))
    identity = sp.identity(n, format="csr")
    for _ in range(max_iter):
        system = (identity - gamma * (keep @ P[choice])).tocsc()
        values = spla.spsolve(system, np.where(model.terminal, 0.0, cost[choice]))
        Q = cost + gamma * (P @ values)
        best = np.minimum.reduceat(Q, starts)
        improve = Q[choice] > best + 1e-12 * (1 + np.abs(best))
        if not improve.any():
            return values
        for s in np.flatnonzero(improve):
            rows = model.rows(int(s))
            choice[s] = rows.start + int(np.argmin(Q[rows.start:rows.stop]))
    raise AssertionError("policy iteration did not converge")


def _attractor_policy(model: TabularMDP) -> npt.NDArray[np.int64]:
    """One row per state that reaches a terminal state with probability 1 (backwards from them)."""
    choice = model.row_groups[:-1].copy()
    reached = model.terminal.copy()
    P = model.P.tocsr()
    while not reached.all():
        hits = (P @ reached.astype(float)) > 0  # rows with some mass into the reached set
        new = hits & ~reached[model.row_state]
        if not new.any():
            raise AssertionError("some state cannot reach a terminal state")
        rows = np.flatnonzero(new)
        states, first = np.unique(model.row_state[rows], return_index=True)
        choice[states] = rows[first]
        reached[states] = True
    return choice
