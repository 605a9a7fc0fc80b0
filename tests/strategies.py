"""Hypothesis strategies shared by the test suite: small random MDPs as arrays (see ``from_arrays``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from mdp.model import TabularMDP, from_arrays

__all__ = ["MDPArrays", "mdp_arrays"]


@dataclass(frozen=True)
class MDPArrays:
    """The arrays a random MDP was built from, and the model: ``transitions[a]`` is ``(n, n)``."""

    transitions: tuple[np.ndarray, ...]
    costs: dict[str, tuple[np.ndarray, ...]]
    discount: float
    terminal: np.ndarray
    initial: int

    def build(self) -> TabularMDP:
        return from_arrays(list(self.transitions), {t: list(v) for t, v in self.costs.items()}, self.discount,
                           initial=self.initial, terminal=self.terminal)


@st.composite
def mdp_arrays(draw: st.DrawFn, max_states: int = 4, max_actions: int = 3, ssp: bool = False,
               terms: int = 1) -> MDPArrays:
    """A small MDP whose probabilities are ``w / sum(w)`` for small integer weights and whose costs are small
    integers (sometimes halves or negative, for discount < 1), so exact ties are common.

    With ``ssp=True`` the discount is 1, the last state is terminal, costs are positive and every other
    state has an action ``escape`` to the terminal state, so a proper policy exists and no loop is optimal.
    Actions are sometimes duplicated (same row twice) to force exact ties.
    """
    n = draw(st.integers(1 if not ssp else 2, max_states))
    n_actions = draw(st.integers(1, max_actions))
    discount = 1.0 if ssp else draw(st.sampled_from([0.5, 0.9, 0.95, 0.3, 0.99]))
    terminal = np.zeros(n, dtype=bool)
    if ssp:
        terminal[-1] = True
    elif draw(st.booleans()):
        terminal[draw(st.integers(0, n - 1))] = True
    weights = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    transitions: list[np.ndarray] = []
    available = np.zeros((n_actions, n), dtype=bool)
    duplicate = np.zeros((n_actions + 1, n), dtype=bool)
    for a in range(n_actions):
        matrix = np.zeros((n, n))
        for s in range(n):
            if a > 0 and draw(st.integers(0, 3)) == 0:
                continue  # action not available here
            if a > 0 and draw(st.integers(0, 5)) == 0:
                matrix[s] = transitions[0][s]  # a duplicate of action 0 (costs copied below): an exact tie
                duplicate[a, s] = True
            else:
                w = np.array(draw(weights), dtype=float)
                if w.sum() == 0:
                    w[draw(st.integers(0, n - 1))] = 1.0
                matrix[s] = w / w.sum()
            available[a, s] = matrix[s].sum() > 0
        if a == 0:
            matrix[~(matrix.sum(axis=1) > 0), 0] = 1.0
            available[0] = True
        transitions.append(matrix)
    if ssp:
        escape = np.zeros((n, n))
        escape[:, -1] = 1.0
        transitions.append(escape)
    cost_values = st.sampled_from([1.0, 2.0, 3.0, 0.5, 1.5]) if ssp else \
        st.sampled_from([0.0, 1.0, 2.0, -1.0, 0.5, 3.0, 1.0])
    costs: dict[str, tuple[np.ndarray, ...]] = {}
    for t in range(terms):
        vectors = [np.array(draw(st.lists(cost_values, min_size=n, max_size=n))) for _ in transitions]
        if ssp:
            vectors[-1] = vectors[-1] + 4.0  # escaping is allowed but rarely cheapest
        for a in range(1, len(vectors)):
            vectors[a] = np.where(duplicate[a], vectors[0], vectors[a])
        costs[f"term{t}"] = tuple(vectors)
    initial = draw(st.integers(0, n - 1))
    return MDPArrays(tuple(transitions), costs, discount, terminal, initial)
