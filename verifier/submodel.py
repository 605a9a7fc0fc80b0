"""The optimal sub-model M*: the model restricted to the optimal action sets A*(s).

Every check quantifies over all policies the agent could adopt, i.e. over every (also randomised)
policy of M*. Graph questions on M* (reachability, shortest paths) are answered here, vectorised with
:mod:`scipy.sparse.csgraph`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dsl.numbers import counted
from mdp.graph import every_policy_reaches, reachable_states, start_tree
from mdp.model import TabularMDP
from mdp.solver import Solution

from .results import Step, Trace

__all__ = ["OptimalSubmodel", "Path", "best_step", "optimal_submodel", "shortest_trace"]


@dataclass(frozen=True, eq=False)
class OptimalSubmodel:
    """M*: which rows (choices) may be optimal, which states optimal policies reach, and how.

    ``rows`` is A*(s) for every state: every truly optimal row is in it. ``certain`` are the rows that
    are optimal beyond numerical doubt: in exact arithmetic all of ``rows``; in floats the only row of
    A*(s) where it has one. Where A*(s) holds several rows in floats (*ambiguous* states), at least one
    of them is optimal, but not necessarily all: a tie and a near-tie look alike there.
    """

    model: TabularMDP
    rows: npt.NDArray[np.bool_]  # (m,) A*(s) as a row mask
    certain: npt.NDArray[np.bool_]  # (m,) rows optimal beyond numerical doubt
    reachable: npt.NDArray[np.bool_]  # (n,) states reachable from the initial state in M*
    order: npt.NDArray[np.int32]  # reachable states in breadth-first order (nearest first)
    predecessors: npt.NDArray[np.int32]  # (n,) breadth-first tree of M*; -9999 where none
    exact: bool = False  # A*(s) decided in exact arithmetic: every row of it is optimal

    def __repr__(self) -> str:
        return (f"<OptimalSubmodel {self.model.name}: {self.n_states:,} of {counted(self.model.n_states, 'state')} "
                f"reached, {counted(int(self.reachable_rows.sum()), 'optimal choice')} there, "
                f"{'exact' if self.exact else 'floats'}>")

    @property
    def n_states(self) -> int:
        """States reachable in M*."""
        return int(self.reachable.sum())

    @property
    def has_uncertain(self) -> bool:
        """Whether some reachable state is ambiguous (results may depend on which of its rows are optimal)."""
        return bool((self.rows & ~self.certain & self.reachable[self.model.row_state]).any())

    @property
    def reachable_rows(self) -> npt.NDArray[np.bool_]:
        """(m,) rows of M* whose state is reachable in M*: the state-action pairs optimal policies use."""
        return self.rows & self.reachable[self.model.row_state]

    def reachable_with(self, rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """(n,) states reachable from the start states using only ``rows``."""
        return reachable_states(self.model, rows)

    def surely_reached(self, states: npt.NDArray[np.bool_]) -> bool:
        """Whether some truly optimal policy surely reaches ``states`` with positive probability.

        In exact arithmetic: some policy of M* does. In floats, whichever rows of the ambiguous states
        are the optimal ones: every policy of M* must (the truly optimal rows of an ambiguous state may be
        any one of them, and a single one leaves a single policy)."""
        model = self.model
        if self.exact or not self.has_uncertain:
            return bool((states & self.reachable).any())
        everyone = every_policy_reaches(model.P, model.row_state, states, self.rows,
                                        np.zeros(model.n_states, dtype=bool))
        return bool(everyone[model.start_states].any())  # positive probability from some start

    def violations(self, bad_rows: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """``(surely, possibly)``: (n,) the reachable states where an optimal choice is surely / possibly in
        ``bad_rows``. Surely: every row of A*(s) is bad (in exact arithmetic: any row of it), so whichever
        is optimal, it is a bad one."""
        model = self.model
        possible_rows = bad_rows & self.rows & self.reachable[model.row_state]
        possibly = np.bincount(model.row_state[possible_rows], minlength=model.n_states) > 0
        if self.exact:
            return possibly, possibly
        candidates = np.bincount(model.row_state[self.rows], minlength=model.n_states)
        surely = possibly & (np.bincount(model.row_state[possible_rows], minlength=model.n_states) == candidates)
        return surely, possibly


@dataclass(frozen=True, slots=True)
class Path:
    """A path of M* by index: ``states[i]`` takes row ``rows[i]`` to ``states[i + 1]``; and its readable trace."""

    states: tuple[int, ...]
    rows: tuple[int, ...]
    trace: Trace

    @property
    def end(self) -> int:
        return self.states[-1]


def optimal_submodel(solution: Solution, model: TabularMDP | None = None) -> OptimalSubmodel:
    """M* of a solved model: rows restricted to A*(s), and the states its policies reach.

    Parameters
    ----------
    solution
        The solved model (:func:`mdp.solve`): ``optimal`` is the (m,) row mask of A*(s), ``certain`` its
        rows beyond numerical doubt.
    model
        The solved model (default: ``solution.model``).
    """
    model = solution.model if model is None else model
    rows = np.asarray(solution.optimal, dtype=bool)
    certain = rows & solution.certain
    order, predecessors = start_tree(model, rows)
    reachable = np.zeros(model.n_states, dtype=bool)
    reachable[order] = True
    return OptimalSubmodel(model, rows, certain, reachable, order, predecessors, solution.is_decided)


def shortest_trace(sub: OptimalSubmodel, target: npt.NDArray[np.bool_],
                   rows: npt.NDArray[np.bool_] | None = None) -> Path | None:
    """A shortest path in M* from a start state (the initial state, or one of an ``init``) to a ``target``
    state, and that state.

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
    order, predecessors = start_tree(model, rows)
    hits = order[target[order]]
    if hits.size == 0:
        return None
    end = int(hits[0])  # breadth-first order: the first hit is a nearest one
    path = [end]
    while predecessors[path[-1]] >= 0:
        path.append(int(predecessors[path[-1]]))
    path.reverse()
    steps: list[Step] = []
    taken: list[int] = []
    starts = dict(zip(model.start_states.tolist(), model.start_probabilities.tolist()))
    probability = starts[path[0]]  # the chance to start there (1 with one initial state)
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
