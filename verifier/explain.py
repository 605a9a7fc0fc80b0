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

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from mdp.model import TabularMDP
from mdp.solver import Solution, policy_term_values

from .results import Attribution, TermContribution

__all__ = ["attribute", "best_row", "split_gap"]


def best_row(model: TabularMDP, solution: Solution, state: int, allowed: npt.NDArray[np.bool_]) -> int | None:
    """The row of ``state`` with the smallest Q-value among ``allowed`` rows, or None if there is none."""
    rows = np.arange(model.row_groups[state], model.row_groups[state + 1])
    rows = rows[allowed[rows]]
    if rows.size == 0:
        return None
    Q = np.asarray(solution.Q, dtype=float)
    return int(rows[np.argmin(Q[rows])])


def attribute(model: TabularMDP, solution: Solution, chosen: int, alternative: int | None) -> Attribution:
    """The Q-value gap between the agent's row ``chosen`` and the ``alternative`` row, split by cost term.

    The agent's policy is the solver's representative optimal policy, switched to ``chosen`` at its
    state so that the explanation follows the counterexample.
    """
    if alternative is None:
        return split_gap(model, model.describe(int(model.row_state[chosen])), chosen, None, {}, solution.Q, False)
    state = int(model.row_state[chosen])
    policy = np.array(solution.policy, dtype=np.int64)
    policy[state] = chosen
    successors = np.unique(np.concatenate([_successors(model.P, chosen), _successors(model.P, alternative)]))
    values = policy_term_values(model, policy, starts=successors)
    if any(np.isnan(v[successors]).any() for v in values.values()):  # (discount 1: the policy may not end)
        values = {}
    optimal = np.asarray(solution.optimal, dtype=bool)
    # a tie: both rows certainly optimal (a near-tie inside the numerical uncertainty is not one)
    tie = bool(optimal[alternative] and optimal[chosen] and solution.certain[[alternative, chosen]].all())
    return split_gap(model, model.describe(state), chosen, alternative, values, solution.Q, tie)


def split_gap(model: TabularMDP, state: str, chosen: int, alternative: int | None,
              values: dict[str, npt.NDArray[np.float64]], Q: npt.ArrayLike, tie: bool) -> Attribution:
    """The :class:`Attribution` of row ``chosen`` over ``alternative`` at ``state`` (as reports write it),
    given each term's expected future cost ``values`` (per state of ``model``) under the agent's policy after
    this step (``{}``: no split by term) and the rows' values ``Q``; ``tie`` says both are optimal."""
    chosen_name = model.action_names[model.row_action[chosen]]
    if alternative is None:
        return Attribution(state, chosen_name, None, None)
    gamma = model.discount
    difference = model.P[[alternative]] - model.P[[chosen]]  # (1, n)
    terms = tuple(TermContribution(term, float(vector[alternative] - vector[chosen]),
                                   float(gamma * (difference @ values[term])[0]))
                  for term, vector in model.costs.items()) if values else ()
    Q = np.asarray(Q, dtype=float)
    return Attribution(state=state, chosen=chosen_name, alternative=model.action_names[model.row_action[alternative]],
                       gap=float(Q[alternative] - Q[chosen]), terms=terms, is_tie=tie)


def _successors(P: sp.csr_array, row: int) -> npt.NDArray[np.int64]:
    start, stop = P.indptr[row], P.indptr[row + 1]
    return P.indices[start:stop][P.data[start:stop] > 0].astype(np.int64)
