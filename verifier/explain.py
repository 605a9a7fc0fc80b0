"""Why the agent chooses what it does: Q-value gaps decomposed by cost term.

At a decisive state ``s`` the agent takes an optimal row ``a`` where the designer wanted ``b``. With
``pi`` the agent's policy (an optimal policy that takes ``a`` at ``s``) and ``V_k`` the expected
discounted cost of term ``k`` under ``pi``, the Q-value of a row splits exactly by term:

    Q(s, x) = sum_k [ c_k(s, x) + gamma * P(s, x) . V_k ]

so the gap ``Q(s, b) - Q(s, a)`` is the sum over terms of ``(c_k(s, b) - c_k(s, a))`` (immediate) plus
``gamma * (P(s, b) - P(s, a)) . V_k`` (future). A positive total means term ``k`` pushes the agent
towards ``a``: "hunger contributes +3.1 towards disabling the switch".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import breadth_first_order

from mdp.model import TabularMDP

from .results import Attribution, TermContribution
from .submodel import uncertain_rows

__all__ = ["agent_policy", "attribute", "best_row", "term_values"]


def agent_policy(model: TabularMDP, solution: Any) -> npt.NDArray[np.int64]:
    """(n,) one optimal row per state: the solver's representative policy (proper with discount 1), else
    the optimal row with the smallest Q-value (the first on ties)."""
    policy = getattr(solution, "policy", None)
    if policy is not None:
        return np.array(policy, dtype=np.int64)
    optimal = np.asarray(solution.optimal, dtype=bool)
    values = np.where(optimal, np.asarray(solution.Q, dtype=float), np.inf)
    minima = np.minimum.reduceat(values, model.row_groups[:-1])
    candidates = np.flatnonzero(values == minima[model.row_state])
    policy = np.full(model.n_states, -1, dtype=np.int64)
    policy[model.row_state[candidates][::-1]] = candidates[::-1]
    return policy


def best_row(model: TabularMDP, solution: Any, state: int, allowed: npt.NDArray[np.bool_]) -> int | None:
    """The row of ``state`` with the smallest Q-value among ``allowed`` rows, or None if there is none."""
    rows = np.arange(model.row_groups[state], model.row_groups[state + 1])
    rows = rows[allowed[rows]]
    if rows.size == 0:
        return None
    Q = np.asarray(solution.Q, dtype=float)
    return int(rows[np.argmin(Q[rows])])


def term_values(model: TabularMDP, policy: npt.NDArray[np.int64], starts: npt.NDArray[np.int64],
                costs: dict[str, npt.NDArray[np.float64]]) -> dict[str, npt.NDArray[np.float64]]:
    """(n,) expected discounted cost of each term under ``policy``, at the states reachable from ``starts``.

    One sparse LU of ``I - gamma * P_pi`` over those states (terminal states are worth 0), solved
    for every term at once. Other states get 0.
    """
    n = model.n_states
    P_pi = model.P[policy]
    order = breadth_first_order(_with_source(P_pi, starts), n, directed=True, return_predecessors=False)
    states = np.sort(order[order < n])
    states = states[~model.terminal[states]]
    out = {term: np.zeros(n) for term in costs}
    if states.size == 0:
        return out
    A = sp.identity(states.size, format="csc") - model.discount * P_pi[states][:, states].tocsc()
    rhs = np.column_stack([np.asarray(vector, dtype=float)[policy[states]] for vector in costs.values()])
    solution = spla.splu(A).solve(rhs)
    for k, term in enumerate(costs):
        out[term][states] = solution[:, k]
    return out


def _with_source(P_pi: sp.csr_array, starts: npt.NDArray[np.int64]) -> sp.csr_array:
    """The policy's state graph plus a virtual source ``n`` pointing at ``starts``."""
    n = P_pi.shape[0]
    coo = P_pi.tocoo()
    keep = coo.data > 0
    rows = np.concatenate([coo.row[keep], np.full(starts.size, n)])
    cols = np.concatenate([coo.col[keep], starts])
    return sp.csr_array((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n + 1, n + 1))


def attribute(model: TabularMDP, solution: Any, chosen: int, alternative: int | None) -> Attribution:
    """The Q-value gap between the agent's row ``chosen`` and the ``alternative`` row, split by cost term.

    The agent's policy is :func:`agent_policy`, switched to ``chosen`` at its state so that the
    explanation follows the counterexample.
    """
    state = int(model.row_state[chosen])
    chosen_name = model.action_names[model.row_action[chosen]]
    if alternative is None:
        return Attribution(model.describe(state), chosen_name, None, None)
    policy = agent_policy(model, solution)
    policy[state] = chosen
    successors = np.unique(np.concatenate([_successors(model.P, chosen), _successors(model.P, alternative)]))
    costs = dict(model.costs)
    try:
        values = term_values(model, policy, successors, costs)
    except RuntimeError:  # a singular system: this policy can loop forever (discount 1); no split
        values = None
    gamma = model.discount
    difference = model.P[[alternative]] - model.P[[chosen]]  # (1, n)
    terms = []
    for term, vector in costs.items():
        if values is None:
            break
        immediate = float(vector[alternative] - vector[chosen])
        future = float(gamma * (difference @ values[term])[0])
        terms.append(TermContribution(term, immediate, future))
    Q = np.asarray(solution.Q, dtype=float)
    optimal = np.asarray(solution.optimal, dtype=bool)
    return Attribution(
        state=model.describe(state),
        chosen=chosen_name,
        alternative=model.action_names[model.row_action[alternative]],
        gap=float(Q[alternative] - Q[chosen]),
        terms=tuple(terms),
        # a tie: both rows certainly optimal (a near-tie inside the numerical uncertainty is not one)
        is_tie=bool(optimal[alternative] and optimal[chosen]
                    and not uncertain_rows(model, solution)[[alternative, chosen]].any()),
    )


def _successors(P: sp.csr_array, row: int) -> npt.NDArray[np.int64]:
    start, stop = P.indptr[row], P.indptr[row + 1]
    return P.indices[start:stop][P.data[start:stop] > 0].astype(np.int64)
