"""Attainable utility preservation: the ``aup(noop = [...], c_1, ..., c_n)`` penalty, per row of a model.

Turner, Hadfield-Menell and Tadepalli ("Conservative Agency via Attainable Utility Preservation", AIES
2020, eq. 1) penalise an action by how much it changes the agent's ability to pursue other objectives,
compared with doing nothing. For the row ``r = (s, a)`` of a model,

    penalty(s, a) = (1/n) sum_i |Q*_i(s, a) - Q*_i(s, noop)|

where ``Q*_i`` are the optimal Q-values of the auxiliary cost ``c_i`` (minimised, like every cost in
corrigo) in the same world: the same transitions and discount, every action allowed. A reward ``R``
maximised and the cost ``-R`` minimised have Q-values of opposite sign, so they give the same penalty.
The form is Turner's plain one: the sum divided by ``n``, not also by ``Q*_i(s, noop)`` (the scaling of
some later versions). The penalty is 0 at the noop row itself and on terminal self-loops.

The compiler (and the param sweep, :mod:`mdp.parametric`) computes it once the transitions are known,
like costs on arrival (:mod:`mdp.arrival`): each auxiliary is solved by the one solver
(:mod:`mdp.solver.optimize`), with its certificate. In floats a row's penalty carries the auxiliaries'
error: the solver's threshold ``delta_i = (1 + rho) bound_i + slack_i`` bounds ``|Q_i - Q*_i|`` at every
row (``rho bound_i`` from the values, the rest from one Bellman evaluation), so the penalty is within
``(1/n) sum_i 2 delta_i`` plus its own rounding; that error joins the term's rounding, which the agent's
certificate adds in turn. In exact mode (``compile(spec, exact=True)``) the auxiliaries are solved by exact
policy iteration and the penalty is an exact rational.

A cost term holds at most one penalty, affinely (``LAMBDA * aup(...)``, checked by ``dsl.typecheck``), so
its value is ``f(0) + (f(1) - f(0)) * penalty`` with ``f(p)`` the term with the penalty replaced by ``p``:
linear in the params when ``f`` is, which is what ``corrigo sweep`` needs.
"""

from __future__ import annotations

import weakref
from dataclasses import fields, replace
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from dsl.errors import Span
from dsl.spec import REAL, AttainableUtility, Expr, Literal

from .arrival import Arrival, entry_row, expected_on_arrival, reads_next_state
from .expressions import UNIT_ROUNDOFF as _U
from .expressions import UndefinedValueError, vectorize
from .model import ModelError, TabularMDP, nearest_float
from .solver.optimize import optimize, restricted
from .solver.problem import from_model

__all__ = ["PenaltyUndefined", "attainable_utility", "penalty_of", "row_values", "term_values"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Params = dict[str, Fraction]


class PenaltyUndefined(Exception):
    """The penalty has no value at a state: no noop there, several, or an auxiliary without a finite optimum.

    The compiler turns it into a located :class:`~mdp.model.ModelError` naming the state and a path to it.
    """

    def __init__(self, message: str, span: Span | None, hint: str, state: int, notes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.span, self.hint, self.state, self.notes = message, span, hint, state, notes


def penalty_of(expr: Expr) -> AttainableUtility | None:
    """The ``aup(...)`` penalty of a term, if it has one (a term holds at most one)."""
    return next((node for node in expr.traverse() if isinstance(node, AttainableUtility)), None)


def row_values(expr: Expr, model: TabularMDP, params: Params, exact: bool = False,
               variables: int | None = None) -> Arrival:
    """A term without a penalty, per row of a built model: its value at ``(s, a)``, or its expectation over
    the successors when it reads ``x'``; 0 on terminal self-loops.

    Raises
    ------
    UndefinedValueError
        Where it divides by zero or reads outside a table; its ``index`` is the row.
    """
    function = vectorize(expr, params)
    if reads_next_state(expr):
        try:
            return expected_on_arrival(function, model, exact=exact, variables=variables)
        except UndefinedValueError as undefined:  # at a transition: name its row
            raise type(undefined)(undefined.expr, int(entry_row(model)[undefined.index])) from None
    codes = np.asarray(model.state_codes)
    codes = codes[:, :variables] if variables is not None else codes
    columns = list(codes[model.row_state].T)
    actions = np.asarray(model.action_names, dtype=object)[model.row_action]
    live = ~np.asarray(model.terminal, dtype=bool)[model.row_state]
    m = model.n_rows
    if exact:
        values = np.broadcast_to(np.asarray(function.exact_at(columns, actions, None, live), dtype=object), (m,))
        numbers = tuple(Fraction(v) if used else Fraction(0) for v, used in zip(values.tolist(), live.tolist()))
        rounded = np.array([float(q) for q in numbers], dtype=np.float64)
        return Arrival(rounded, _U * np.abs(rounded), numbers)
    value, error = function.bounded(columns, actions, live)
    value = np.where(live, np.broadcast_to(np.asarray(value, dtype=np.float64), (m,)), 0.0)
    error = np.where(live, np.broadcast_to(np.asarray(error, dtype=np.float64), (m,)), 0.0)
    return Arrival(value, error)


def term_values(expr: Expr, model: TabularMDP, params: Params, exact: bool = False,
                variables: int | None = None) -> Arrival:
    """A cost or intent term per row of a built model, its penalty (if any) computed first.

    Raises
    ------
    PenaltyUndefined
        See :func:`attainable_utility`.
    UndefinedValueError
        Where the term or an auxiliary has no value.
    """
    node = penalty_of(expr)
    if node is None:
        return row_values(expr, model, params, exact, variables)
    solved = _SOLVED.setdefault(model, {})  # auxiliaries read no params: the sweep's k + 1 feature runs share one
    key = (node, exact, variables)
    penalty = solved.get(key)
    if penalty is None:
        penalty = solved[key] = attainable_utility(node, model, params, exact, variables)
    base = row_values(_substituted(expr, node, Literal(Fraction(0), REAL)), model, params, exact, variables)
    at_one = row_values(_substituted(expr, node, Literal(Fraction(1), REAL)), model, params, exact, variables)
    if exact:
        assert base.exact is not None and at_one.exact is not None and penalty.exact is not None
        numbers = tuple(b + (a - b) * p for b, a, p in zip(base.exact, at_one.exact, penalty.exact))
        rounded = np.array([nearest_float(q) for q in numbers], dtype=np.float64)
        return Arrival(rounded, _U * np.abs(rounded), numbers)
    slope = at_one.values - base.values
    slope_error = at_one.errors + base.errors + _U * np.abs(slope)
    product = slope * penalty.values
    value = base.values + product
    error = (base.errors + np.abs(slope) * penalty.errors + slope_error * np.abs(penalty.values)
             + _U * (np.abs(product) + np.abs(value))) * (1 + 4 * _U)
    return Arrival(value, error)


_SOLVED: weakref.WeakKeyDictionary[TabularMDP, dict[tuple[AttainableUtility, bool, int | None], Arrival]] = \
    weakref.WeakKeyDictionary()


def attainable_utility(node: AttainableUtility, model: TabularMDP, params: Params, exact: bool = False,
                       variables: int | None = None, tol: float = 1e-10) -> Arrival:
    """``(1/n) sum_i |Q*_i(s, a) - Q*_i(s, noop)|`` for every row ``(s, a)`` (see the module docstring).

    Raises
    ------
    PenaltyUndefined
        A state that is not terminal where no noop action is enabled, or more than one; with discount 1,
        an auxiliary whose optimal total is not finite (a state from which no policy ends, or a cycle of
        negative cost).
    UndefinedValueError
        Where an auxiliary has no value (a division by zero).
    """
    noop = _noop_rows(node, model)
    at_noop = noop[model.row_state]
    live = at_noop >= 0
    m, n_aux = model.n_rows, len(node.auxiliaries)
    total, error = np.zeros(m), np.zeros(m)
    exact_total = [Fraction(0)] * m
    for aux in node.auxiliaries:
        cost = row_values(aux, model, params, exact, variables)
        Q, delta, exact_Q = _optimal_q(aux, model, cost, exact, tol)
        total[live] += np.abs(Q[live] - Q[at_noop[live]])
        error[live] += 2.0 * delta
        if exact_Q is not None:
            exact_total = [t + abs(exact_Q[r] - exact_Q[b]) if b >= 0 else t
                           for r, (t, b) in enumerate(zip(exact_total, at_noop.tolist()))]
    if exact:
        numbers = tuple(t / n_aux for t in exact_total)
        rounded = np.array([nearest_float(q) for q in numbers], dtype=np.float64)
        return Arrival(rounded, _U * np.abs(rounded), numbers)
    values = total / n_aux
    errors = (error / n_aux + (n_aux + 3) * _U * values) * (1 + 4 * _U)
    errors[at_noop == np.arange(m)] = 0.0  # the noop row: Q_i(s, noop) - Q_i(s, noop) is 0 in floats too
    errors[~live] = 0.0  # terminal self-loops: no penalty
    return Arrival(values, errors)


def _noop_rows(node: AttainableUtility, model: TabularMDP) -> IntArray:
    """(n,) the noop row of every state that is not terminal, -1 at terminal states."""
    names = np.asarray(model.action_names, dtype=object)
    is_noop = np.isin(names[model.row_action], list(node.noop.actions))
    n = model.n_states
    counts = np.bincount(model.row_state[is_noop], minlength=n)
    terminal = np.asarray(model.terminal, dtype=bool)
    missing = np.flatnonzero((counts == 0) & ~terminal)
    if missing.size:
        raise PenaltyUndefined(
            f"the noop {node.noop.written} of aup(...) is not enabled in a reachable state that is not terminal",
            node.noop.span, "the penalty compares each action with the noop: enable it in every state that is "
                            "not terminal (e.g. `action wait: skip`)", int(missing[0]))
    several = np.flatnonzero(counts > 1)
    if several.size:
        raise PenaltyUndefined(
            f"the noop {node.noop.written} of aup(...) names {int(counts[several[0]])} enabled actions in a "
            "reachable state, expected one", node.noop.span,
            "name one action, or guard the others so that one noop is enabled in every state", int(several[0]))
    noop = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(is_noop)
    noop[model.row_state[rows]] = rows
    noop[terminal] = -1
    return noop


def _optimal_q(aux: Expr, model: TabularMDP, cost: Arrival, exact: bool, tol: float
               ) -> tuple[FloatArray, float, list[Fraction] | None]:
    """An auxiliary's optimal Q-values at every row, the bound on their error, and their exact values."""
    exact_cost = (lambda: list(cost.exact or ())) if cost.exact is not None else None
    rounding = float(cost.errors.max(initial=0.0)) if cost.exact is None else 0.0
    problem = from_model(model, cost.values, rounding, exact_cost, exact_rows=cost.errors == 0)
    unbounded = ("aup(...) needs every auxiliary's optimal total cost to be finite: with discount 1, this one is "
                 "unbounded below (a cycle of negative cost)")
    hint = "use a discount below 1, or an auxiliary that costs nothing once it cannot be improved"
    try:
        part, start = restricted(problem, None)
        if part.n < problem.n:
            state = int(np.setdiff1d(problem.states, part.states)[0])
            raise PenaltyUndefined("aup(...) needs every auxiliary's optimal total cost to be finite: with discount 1, "
                                   "no policy reaches a terminal state from this one", aux.span,
                                   "make a terminal state reachable from every state, or use a discount below 1", state)
        optimum = optimize(part, tol=tol, exact=exact, start=start, check_loops=False)
    except ModelError as error:  # the solver names the cycle
        cycle = tuple(f"for this auxiliary {d.message}" for d in error.diagnostics[:1])
        raise PenaltyUndefined(unbounded, aux.span, hint, model.initial, cycle) from None
    if not np.isfinite(optimum.Q).all():
        raise PenaltyUndefined(unbounded, aux.span, hint, int(model.row_state[int(np.argmax(~np.isfinite(optimum.Q)))]))
    Q = np.empty(model.n_rows)
    Q[part.rows] = optimum.Q
    if optimum.exact_V is None:
        return Q, float(optimum.delta), None
    numbers = part.exact
    V = optimum.exact_V
    exact_Q = [Fraction(0)] * model.n_rows
    for r, c, entries in zip(part.rows.tolist(), numbers.cost, numbers.entries):
        exact_Q[r] = c + numbers.gamma * sum((p * V[j] for j, p in entries), Fraction(0))
    return Q, 0.0, exact_Q


def _substituted(expr: Expr, old: Expr, new: Expr) -> Expr:
    """``expr`` with the node ``old`` (by identity) replaced by ``new``."""
    if expr is old:
        return new
    changes: dict[str, Any] = {}
    for declared in fields(expr):  # every node is a dataclass
        value = getattr(expr, declared.name)
        if isinstance(value, Expr):
            replaced = _substituted(value, old, new)
            if replaced is not value:
                changes[declared.name] = replaced
        elif isinstance(value, tuple) and any(isinstance(item, Expr) for item in value):
            items = tuple(_substituted(item, old, new) if isinstance(item, Expr) else item for item in value)
            if any(a is not b for a, b in zip(items, value)):
                changes[declared.name] = items
    return replace(expr, **changes) if changes else expr
