"""The optimal sub-model M*: the model restricted to the optimal action sets A*(s).

Every check quantifies over all policies the agent could adopt, i.e. over every (also randomised)
policy of M*. Graph questions on M* (reachability, shortest paths) are answered here, vectorised with
:mod:`scipy.sparse.csgraph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import breadth_first_order

from mdp.graph import state_graph
from mdp.model import TabularMDP

from .results import Step, Trace

__all__ = ["OptimalSubmodel", "Path", "optimal_submodel", "shortest_trace"]


@dataclass(frozen=True, eq=False)
class OptimalSubmodel:
    """M*: which rows (choices) are optimal, which states optimal policies reach, and how.

    ``rows`` is A*(s) for every state, including near-ties the solver could not separate; ``certain``
    are the rows that are optimal beyond numerical doubt (``rows`` minus rows of unresolved ties), so a
    violation reached through certain rows is a real one.
    """

    model: TabularMDP
    rows: npt.NDArray[np.bool_]  # (m,) A*(s) as a row mask
    certain: npt.NDArray[np.bool_]  # (m,) rows optimal beyond numerical doubt
    reachable: npt.NDArray[np.bool_]  # (n,) states reachable from the initial state in M*
    order: npt.NDArray[np.int32]  # reachable states in breadth-first order (nearest first)
    predecessors: npt.NDArray[np.int32]  # (n,) breadth-first tree of M*; -9999 where none

    @property
    def n_states(self) -> int:
        """States reachable in M*."""
        return int(self.reachable.sum())

    @property
    def has_uncertain(self) -> bool:
        """Whether some reachable row of M* is an unresolved near-tie (results may depend on it)."""
        return bool((self.rows & ~self.certain & self.reachable[self.model.row_state]).any())

    @property
    def reachable_rows(self) -> npt.NDArray[np.bool_]:
        """(m,) rows of M* whose state is reachable in M*: the state-action pairs optimal policies use."""
        return self.rows & self.reachable[self.model.row_state]

    def reachable_with(self, rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """(n,) states reachable from the initial state using only ``rows``."""
        order = breadth_first_order(state_graph(self.model, rows), self.model.initial, directed=True,
                                    return_predecessors=False)
        mask = np.zeros(self.model.n_states, dtype=bool)
        mask[order] = True
        return mask


@dataclass(frozen=True, slots=True)
class Path:
    """A path of M* by index: ``states[i]`` takes row ``rows[i]`` to ``states[i + 1]``; and its readable trace."""

    states: tuple[int, ...]
    rows: tuple[int, ...]
    trace: Trace

    @property
    def end(self) -> int:
        return self.states[-1]


def optimal_submodel(solution: Any, model: TabularMDP | None = None) -> OptimalSubmodel:
    """M* of a solved model: rows restricted to A*(s), and the states its policies reach.

    Parameters
    ----------
    solution
        A :class:`mdp.solver.Solution`; ``solution.optimal`` is the (m,) row mask of A*(s), and
        ``solution.gap``/``solution.exact`` tell exact ties from unresolved near-ties.
    model
        The solved model (default: ``solution.model``).
    """
    model = solution.model if model is None else model
    rows = np.asarray(solution.optimal, dtype=bool)
    certain = rows & ~uncertain_rows(model, solution)
    order, predecessors = breadth_first_order(state_graph(model, rows), model.initial, directed=True,
                                              return_predecessors=True)
    reachable = np.zeros(model.n_states, dtype=bool)
    reachable[order] = True
    return OptimalSubmodel(model, rows, certain, reachable, order, predecessors)


_ROUNDING = 8 * 2.0**-53
"""A computed gap within this many units of roundoff (relative to |Q| + |V|) is a tie, not a near-tie."""


def uncertain_rows(model: TabularMDP, solution: Any) -> npt.NDArray[np.bool_]:
    """(m,) rows of A*(s) whose optimality the solver could not decide within its certified bound.

    With ``solution.exact`` there are none: A*(s) is exact. Otherwise a row of A*(s) whose computed gap
    ``Q - V`` is zero up to float rounding is an (exact) tie, so some optimal policy takes it; a row
    whose gap is positive but inside the solver's ``delta`` is an unresolved near-tie: it may be
    optimal or not, and a verdict that rests on it is INCONCLUSIVE until ``--exact`` or a tighter
    tolerance settles it.

    Solutions without ``gap`` (e.g. test doubles) may give ``ties`` as a row mask, a state mask or state
    indices; then every optimal row of a tied state but its best one is uncertain.
    """
    mask = np.zeros(model.n_rows, dtype=bool)
    optimal = np.asarray(solution.optimal, dtype=bool)
    if getattr(solution, "exact", False):
        return mask
    gap = getattr(solution, "gap", None)
    if gap is not None:
        gap = np.asarray(gap, dtype=float)
        V = np.asarray(solution.V, dtype=float)[model.row_state]
        Q = np.asarray(solution.Q, dtype=float)
        with np.errstate(invalid="ignore"):
            rounding = _ROUNDING * (np.abs(Q) + np.abs(V))
            mask = optimal & (gap > rounding)
        # the smallest gap of each state is certainly optimal: one row of A*(s) is
        mask[_best_rows(model, np.where(optimal, gap, np.inf))] = False
        return mask
    ties = getattr(solution, "ties", None)
    if ties is None:
        return mask
    ties = np.asarray(ties)
    if ties.dtype == np.bool_ and ties.shape == (model.n_rows,):
        return ties.copy()
    if ties.dtype == np.bool_ and ties.shape == (model.n_states,):
        states = ties
    else:
        states = np.zeros(model.n_states, dtype=bool)
        states[ties.astype(np.int64).ravel()] = True
    # a tied state: only the rows inside the numerical band are uncertain, but without the band we
    # cannot tell which; the row with the smallest Q is certainly optimal
    mask = states[model.row_state] & optimal
    Q = np.asarray(solution.Q, dtype=float)
    best = _best_rows(model, np.where(optimal, Q, np.inf))
    mask[best] = False
    return mask


def _best_rows(model: TabularMDP, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """(n,) the row of each state with the smallest value (the first on ties)."""
    starts = model.row_groups[:-1]
    minima = np.minimum.reduceat(values, starts)
    is_min = values == minima[model.row_state]
    candidates = np.flatnonzero(is_min)
    # the first candidate of each state
    first = np.full(model.n_states, -1, dtype=np.int64)
    first[model.row_state[candidates][::-1]] = candidates[::-1]
    return first


def shortest_trace(sub: OptimalSubmodel, target: npt.NDArray[np.bool_],
                   rows: npt.NDArray[np.bool_] | None = None) -> Path | None:
    """A shortest path in M* from the initial state to a ``target`` state, and that state.

    Parameters
    ----------
    sub
        M*.
    target
        (n,) states that violate the check.
    rows
        Rows to walk on (default: all of M*); e.g. ``sub.certain`` for a path of certain choices.

    Returns
    -------
    Path or None
        The path to a nearest target state; at each step the most probable allowed row that moves to
        the next state. ``None`` when no target state is reachable.
    """
    model = sub.model
    rows = sub.rows if rows is None else rows
    order, predecessors = breadth_first_order(state_graph(model, rows), model.initial, directed=True,
                                              return_predecessors=True)
    hits = order[target[order]]
    if hits.size == 0:
        return None
    end = int(hits[0])  # breadth-first order: the first hit is a nearest one
    path = [end]
    while path[-1] != model.initial:
        path.append(int(predecessors[path[-1]]))
    path.reverse()
    steps: list[Step] = []
    taken: list[int] = []
    probability = 1.0
    for state, successor in zip(path[:-1], path[1:]):
        row, p = best_step(model, rows, state, successor)
        probability *= p
        taken.append(row)
        steps.append(Step(model.describe(state), model.action_names[model.row_action[row]], p))
    steps.append(Step(model.describe(end)))
    return Path(tuple(path), tuple(taken), Trace(tuple(steps), probability))


def best_step(model: TabularMDP, rows: npt.NDArray[np.bool_], state: int, successor: int) -> tuple[int, float]:
    """The allowed row of ``state`` most likely to move to ``successor``, and that probability."""
    best_row, best_p = -1, 0.0
    for row in model.rows(state):
        if not rows[row]:
            continue
        start, stop = model.P.indptr[row], model.P.indptr[row + 1]
        hit = model.P.indices[start:stop] == successor
        p = float(model.P.data[start:stop][hit].sum())
        if p > best_p:
            best_row, best_p = row, p
    return best_row, best_p
