"""Costs on arrival: cost and intent terms that read the state after the step (``x'``).

A row ``(s, a)`` of the model moves to ``s'`` with probability ``P(s, a, s')``; a term ``c(s, a, s')`` that
reads ``s'`` costs the row its expectation ``sum_{s'} P(s, a, s') c(s, a, s')``, which is the cost the
Bellman equation needs (costs enter it only through their expectation). The compiler and the param sweep
(:mod:`mdp.parametric`) both compute it here, from the finished transition matrix: one evaluation per
transition, the current variables' columns followed by the successor's (the layout of ``VarRef.next``).
Terminal self-loops cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from dsl.spec import Expr, VarRef

from .expressions import UNIT_ROUNDOFF as _U
from .expressions import Vectorized
from .model import TabularMDP

__all__ = ["Arrival", "entry_row", "expected_on_arrival", "reads_next_state"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def reads_next_state(expr: Expr) -> bool:
    """Whether ``expr`` mentions a value after the step (``x'``)."""
    return any(isinstance(node, VarRef) and node.next for node in expr.traverse())


@dataclass(frozen=True)
class Arrival:
    """A term's expected value per row: the floats, a bound on their error per row, and, when asked for, the
    exact numbers (rationals) they are rounded from."""

    values: FloatArray  # (m,)
    errors: FloatArray  # (m,)
    exact: tuple[Fraction, ...] | None = None


class _Transitions(Sequence[IntArray]):
    """The columns an arrival term reads, one entry per transition: the row's state's variables, then the
    successor's; gathered lazily (only the variables the term reads)."""

    def __init__(self, codes: npt.NDArray[np.int64], current: IntArray, successor: IntArray) -> None:
        self._codes, self._states = codes, (current, successor)
        self._k = codes.shape[1]
        self._cache: dict[int, IntArray] = {}

    def __len__(self) -> int:
        return 2 * self._k

    def __getitem__(self, j: int) -> IntArray:  # type: ignore[override]  # read one at a time, never sliced
        column = self._cache.get(j)
        if column is None:
            column = self._cache[j] = self._codes[self._states[j // self._k], j % self._k]
        return column


def entry_row(model: TabularMDP) -> IntArray:
    """(nnz,) the row of each transition (entry of ``model.P``): a division by zero at entry ``i`` is in the
    state ``model.row_state[entry_row(model)[i]]``."""
    return np.repeat(np.arange(model.n_rows, dtype=np.int64), np.diff(model.P.indptr))


def expected_on_arrival(expr: Vectorized, model: TabularMDP, exact: bool = False, variables: int | None = None
                        ) -> Arrival:
    """``sum_{s'} P(r, s') expr(s, a, s')`` for every row ``r = (s, a)``; 0 on terminal self-loops.

    ``variables``: how many of the model's variables the term was written over (the spec's), when the model
    has more (the step counter of :mod:`mdp.horizon` comes after them).

    With ``exact``, from the model's exact numbers (:attr:`~mdp.model.TabularMDP.exact`) and the term's
    exact values, the floats then rounded from them. Otherwise the error bound of each row adds the term's
    own (per transition), what the rounding of ``P`` can make of the values (``Rounding.P`` times the
    largest), and the rounding of the sum.

    Raises
    ------
    UndefinedValueError
        Where the term divides by zero or reads outside a table; its ``index`` is the transition (see :func:`entry_row`).
    """
    P = model.P
    rows = entry_row(model)
    codes = model.state_codes
    if codes is None:
        raise ValueError(f"the model '{model.name}' has no state variables for a term to read")
    codes = np.asarray(codes)[:, :variables] if variables is not None else np.asarray(codes)
    columns = _Transitions(codes, model.row_state[rows], P.indices.astype(np.int64))
    actions = np.asarray(model.action_names, dtype=object)[model.row_action[rows]]
    care = ~np.asarray(model.terminal, dtype=bool)[model.row_state[rows]]
    m = model.n_rows
    if exact:
        exact_values = np.asarray(expr.exact_at(columns, actions, None, care), dtype=object)
        if exact_values.size != rows.size:  # a constant
            exact_values = np.broadcast_to(exact_values, (rows.size,))
        sums = [Fraction(0)] * m
        for r, probability, v, used in zip(rows.tolist(), model.exact.P, exact_values.tolist(), care.tolist()):
            if used:
                sums[r] += probability * Fraction(v)
        rounded = np.array([float(x) for x in sums], dtype=np.float64)
        return Arrival(rounded, _U * np.abs(rounded), tuple(sums))
    value, error = expr.bounded(columns, actions, care)
    value = np.where(care, np.broadcast_to(np.asarray(value, dtype=np.float64), (rows.size,)), 0.0)
    error = np.where(care, np.broadcast_to(np.asarray(error, dtype=np.float64), (rows.size,)), 0.0)
    p = P.data
    expected = np.bincount(rows, weights=p * value, minlength=m).astype(np.float64)
    size = np.bincount(rows, weights=p * np.abs(value), minlength=m)
    largest = np.zeros(m)
    np.maximum.at(largest, rows, np.abs(value) + error)
    entries = np.diff(P.indptr).astype(np.float64)
    errors = (np.bincount(rows, weights=p * error, minlength=m) + model.rounding.P * largest
              + (entries + 1) * _U * size) * (1 + 4 * _U)
    return Arrival(expected, errors)
