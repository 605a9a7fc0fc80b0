"""The one problem every numerical method of corrigo solves, in its own indices.

*Minimise the expected (discounted) total cost over the policies of a sub-model*: states, the rows
(choices) allowed in each, their transitions and costs, a discount ``gamma`` (``gamma = 1``: the run
ends in a ``terminal`` state, worth 0). The agent's optimum, a cost term's range over the optimal
policies, an intent's optimum and reachability probabilities are all this problem (a maximum is the
minimum of the negated costs), so they share one solver and one certificate.

A problem also knows how far its floats may lie from the exact numbers they stand for (``cost_error``,
``P_error``, ``gamma_error``: the certificate adds their effect) and, on demand, those exact numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..model import TabularMDP, exact_floats

__all__ = ["Exact", "Problem", "from_model", "sole_rows"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Entries = list[list[tuple[int, Fraction]]]
"""Per row: its successors (problem states) with their exact probabilities."""


@dataclass(frozen=True, eq=False)
class Exact:
    """A problem's numbers as exact rationals: the discount, the cost of every row, and its transitions."""

    gamma: Fraction
    cost: list[Fraction]  # (m,)
    entries: Entries  # (m,) rows


@dataclass(frozen=True, eq=False)
class Problem:
    """Minimise ``E[sum_t gamma^t c(s_t, r_t)]`` over the policies choosing among each state's rows.

    Shapes: ``n`` states, ``m`` rows grouped by state (``groups``, as the model's row groups).
    ``states``/``rows`` map back to the model (``-1``: a state or row the problem added, such as the end
    of a run in a reachability problem).
    """

    states: IntArray  # (n,) model state of each problem state
    rows: IntArray  # (m,) model row of each problem row
    P: sp.csr_array  # (m, n) no explicit zeros, sorted indices
    groups: IntArray  # (n + 1,)
    c: FloatArray  # (m,) the cost, minimised
    terminal: BoolArray  # (n,) absorbing and worth 0 (discount 1); a self-loop of cost 0 otherwise
    gamma: float
    cost_error: float  # bound on |c - exact cost| over the rows
    P_error: float  # bound on sum_j |P[r, j] - exact P[r, j]| over the rows r
    gamma_error: float  # |gamma - exact gamma|
    exact_numbers: Callable[[], Exact] | None = None  # None: the floats are the exact numbers
    model: TabularMDP | None = None  # the model, for located errors
    exact_rows: BoolArray | None = None  # (m,) rows whose float cost is exactly the exact one (None: unknown)

    @property
    def n(self) -> int:
        return int(self.groups.size - 1)

    @property
    def m(self) -> int:
        return int(self.P.shape[0])

    @cached_property
    def row_state(self) -> IntArray:
        """(m,) the problem state of each row."""
        return np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.groups))

    @cached_property
    def kmax(self) -> int:
        """The most successors of a row."""
        return int(np.diff(self.P.indptr).max(initial=1))

    @cached_property
    def cmax(self) -> float:
        """The largest ``|c|``."""
        return float(np.abs(self.c).max(initial=0.0))

    @cached_property
    def rowsum(self) -> float:
        """The largest row sum of ``P``, as computed."""
        lengths = np.diff(self.P.indptr)
        nonempty = np.flatnonzero(lengths)
        return float(np.add.reduceat(self.P.data, self.P.indptr[nonempty]).max(initial=0.0)) if nonempty.size \
            else 0.0

    @cached_property
    def exact(self) -> Exact:
        """The exact numbers (from ``exact_numbers``, or the floats themselves when they are exact)."""
        if self.exact_numbers is not None:
            return self.exact_numbers()
        return Exact(Fraction(self.gamma), exact_floats(self.c), _entries(self.P, exact_floats(self.P.data)))

    def restrict(self, states: BoolArray, rows: BoolArray) -> Problem:
        """The sub-problem on ``states`` with ``rows`` (which must lead only into ``states``)."""
        state_idx = np.flatnonzero(states)
        row_idx = np.flatnonzero(rows)
        new_index = np.full(self.n, -1, dtype=np.int64)
        new_index[state_idx] = np.arange(state_idx.size)
        P = _select(self.P, row_idx, new_index, state_idx.size)
        groups = np.zeros(state_idx.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_index[self.row_state[row_idx]], minlength=state_idx.size), out=groups[1:])
        parent = self

        def exact_numbers() -> Exact:
            exact = parent.exact
            return Exact(exact.gamma, [exact.cost[r] for r in row_idx.tolist()],
                         [[(int(new_index[j]), p) for j, p in exact.entries[r]] for r in row_idx.tolist()])
        return Problem(self.states[state_idx], self.rows[row_idx], P, groups, self.c[row_idx],
                       self.terminal[state_idx], self.gamma, self.cost_error, self.P_error, self.gamma_error,
                       exact_numbers if self.exact_numbers is not None else None, self.model,
                       None if self.exact_rows is None else self.exact_rows[row_idx])


def from_model(model: TabularMDP, cost: FloatArray, cost_error: float,
               exact_cost: Callable[[], Sequence[Fraction]] | None, rows: BoolArray | None = None,
               maximize: bool = False, exact_rows: BoolArray | None = None) -> Problem:
    """The problem of ``cost`` (per row) over the policies of ``model`` taking only ``rows`` (default: all).

    ``rows`` must be closed: every successor of a selected row has selected rows itself (the states
    without selected rows are left out). ``cost_error`` bounds ``|cost - exact cost|``; ``exact_cost``
    gives the exact costs on demand (``None``: the floats are exact), ``exact_rows`` (m,) the rows whose
    float cost is exact (``None``: unknown). A maximisation minimises ``-cost``.
    """
    sign = -1.0 if maximize else 1.0
    P = model.P
    n, m = model.n_states, model.n_rows
    if rows is None or rows.all():
        state_idx = np.arange(n, dtype=np.int64)
        row_idx = np.arange(m, dtype=np.int64)
        new_index = state_idx
        matrix = sp.csr_array((P.data, P.indices, P.indptr), shape=P.shape)
        groups = np.asarray(model.row_groups, dtype=np.int64)
    else:
        states = np.bincount(model.row_state[rows], minlength=n) > 0
        state_idx = np.flatnonzero(states).astype(np.int64)
        row_idx = np.flatnonzero(rows).astype(np.int64)
        new_index = np.full(n, -1, dtype=np.int64)
        new_index[state_idx] = np.arange(state_idx.size)
        matrix = _select(P, row_idx, new_index, state_idx.size)
        groups = np.zeros(state_idx.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_index[model.row_state[row_idx]], minlength=state_idx.size), out=groups[1:])
    rounding = model.rounding
    exact_numbers = None
    if exact_cost is not None or not rounding.is_exact:
        def exact_numbers() -> Exact:
            exact = model.exact
            costs = list(exact_cost()) if exact_cost is not None else exact_floats(cost)
            data = exact.P
            indptr, indices = P.indptr.tolist(), P.indices.tolist()
            entries = [[(int(new_index[indices[k]]), data[k]) for k in range(indptr[r], indptr[r + 1])]
                       for r in row_idx.tolist()]
            return Exact(exact.discount, [-costs[r] if maximize else costs[r] for r in row_idx.tolist()], entries)
    if exact_cost is None:
        exact_rows = np.ones(m, dtype=bool)
    return Problem(state_idx, row_idx, matrix, groups, np.ascontiguousarray(sign * np.asarray(cost)[row_idx]),
                   np.asarray(model.terminal, dtype=bool)[state_idx], float(model.discount), cost_error,
                   rounding.P, rounding.discount, exact_numbers, model,
                   None if exact_rows is None else exact_rows[row_idx])


def sole_rows(mask: BoolArray, row_state: IntArray, n: int) -> BoolArray:
    """(m,) the rows of ``mask`` that are the only row of ``mask`` in their state: where the optimal-row set
    of a float solution holds several rows of a state, floats cannot tell which of them are optimal."""
    counts = np.bincount(row_state[mask], minlength=n)
    return mask & (counts[row_state] == 1)


def _select(P: sp.csr_array, row_idx: IntArray, new_index: IntArray, n: int) -> sp.csr_array:
    """Rows ``row_idx`` of ``P`` with columns renumbered by ``new_index`` (all kept columns map)."""
    sub = sp.csr_array(P[row_idx])
    return sp.csr_array((sub.data, new_index[sub.indices].astype(sub.indices.dtype), sub.indptr),
                        shape=(row_idx.size, n))


def _entries(P: sp.csr_array, data: list[Fraction]) -> Entries:
    indptr, indices = P.indptr.tolist(), P.indices.tolist()
    return [[(indices[k], data[k]) for k in range(indptr[r], indptr[r + 1])] for r in range(P.shape[0])]
