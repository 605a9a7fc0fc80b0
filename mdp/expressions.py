"""Expressions of the checked spec, compiled once into functions over arrays of variable codes.

:func:`vectorize` walks an expression tree once and returns a :class:`Vectorized` function that
evaluates it on many states at a time with numpy: the compiler calls it on whole BFS frontiers, the
verifier on the state arrays of a model. No text is ever executed (no ``eval``/``exec``): every node
becomes a small closure over numpy operations.

The spec's numbers are exact rationals, and two arithmetics serve them:

* **floats with an error bound** (:meth:`Vectorized.evaluate`, :meth:`Vectorized.bounded`): ints,
  enum codes and bools are exact (``int64``, ``bool``); a real is a ``float64`` together with a bound on
  its distance to the exact value, by running error analysis (each operation adds its rounding,
  ``u |result|`` with ``u = 2**-53``, to the propagated errors of its operands). Real arithmetic is
  always done in floats, never in ``int64`` (``1.0 * 10**9 * x * x`` cannot wrap around);
* **exact** (:meth:`Vectorized.exact`, :meth:`Vectorized.exact_at`): reals are ``Fraction`` objects.

Every *decision* is exact in both: a comparison of reals, a zero denominator. Where floats cannot tell
(the operands lie within their error bounds of each other) the operands are evaluated exactly at just
those positions, once per distinct combination of the variables they read. So a guard, a label or a
check's formula means exactly what the spec says, and only numbers carry rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from dsl.spec import (
    REAL, ActionIs, Binary, Call, Conditional, Expr, Literal, MapCell, Member, ParamRef, TableCell, Type, Unary, VarRef,
)

__all__ = ["DivisionByZeroError", "TableIndexError", "UNIT_ROUNDOFF", "UndefinedValueError", "Vectorized", "vectorize"]

UNIT_ROUNDOFF = 2.0**-53
"""``u``: a float64 operation on exact inputs is off by at most ``u`` times the size of its result."""

Columns = Sequence[npt.NDArray[np.integer[Any]]]
"""``columns[j]`` holds the codes of variable ``j``, one entry per evaluated state (a ``(k, n)`` array works)."""

Value = Union[npt.NDArray[Any], bool, int, float, np.generic]
"""What a node evaluates to: an array, or a scalar when it does not depend on the state."""

Error = Union[npt.NDArray[np.float64], float]
"""A bound on ``|float value - exact value|``: an array, or a scalar (0.0 for exact values)."""

ActionArg = Union[str, Sequence[str], npt.NDArray[Any], None]

_U = UNIT_ROUNDOFF
_SMALLEST_NORMAL = 2.0**-1022
_SMALLEST_SUBNORMAL = 2.0**-1074
_EXACT_INTEGER = 2.0**53  # int64 values up to this size convert to float64 exactly

# A compiled node: (columns, action, care) -> its value; in float mode a (value, error) pair. ``care`` is
# None (every position matters) or a boolean mask of the positions whose value is used: a division by
# zero is an error only there.
_Fn = Callable[[Columns, ActionArg, Any], Any]

_NOT_CONSTANT = object()

_COMPARISONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply}
_LOGIC = ("&&", "||", "->", "<->")
_MEMBER_BY_EQUALITY = 8  # up to this many values, `x in {...}` is a chain of `==` (faster than np.isin)


class UndefinedValueError(ArithmeticError):
    """An expression without a value at a position whose value mattered.

    Attributes
    ----------
    expr
        The node without a value (its ``span`` points at the source).
    index
        The first position (in the evaluated arrays) where it has none.
    """

    problem = "no value"
    hint = "guard the expression with a condition"

    def __init__(self, expr: Expr, index: int) -> None:
        self.expr = expr
        self.index = index
        super().__init__(f"{self.problem} at position {index}")

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable
        return (type(self), (self.expr, self.index))


class DivisionByZeroError(UndefinedValueError, ZeroDivisionError):
    """A division by zero at a position whose value mattered."""

    problem = "division by zero"
    hint = "guard the division, e.g. `d == 0 ? 0 : n / d`"


class TableIndexError(UndefinedValueError, IndexError):
    """A table read outside the table at a position whose value mattered."""

    @property
    def problem(self) -> str:  # type: ignore[override]
        table = self.expr
        assert isinstance(table, TableCell)
        shape = f"{len(table.values[0])} columns" if table.row is None else \
            f"{len(table.values)} rows and {len(table.values[0])} columns"
        return f"a read outside table '{table.table}' ({shape}, counted from 0)"

    @property
    def hint(self) -> str:  # type: ignore[override]
        table = self.expr
        assert isinstance(table, TableCell)
        if table.row is None:
            return f"guard the read, e.g. `i < {len(table.values[0])} ? {table.table}@(i) : 0`"
        return f"guard the read, e.g. `r < {len(table.values)} && c < {len(table.values[0])} ? {table.table}@(r, c) : 0`"


@dataclass(frozen=True, slots=True)
class _Node:
    fn: _Fn
    constant: Any = _NOT_CONSTANT  # the folded value (float mode: a (value, error) pair) of a constant node
    may_be_undefined: bool = False  # a division whose denominator may be zero somewhere below

    @property
    def is_constant(self) -> bool:
        return self.constant is not _NOT_CONSTANT


@dataclass(frozen=True, eq=False)
class Vectorized:
    """An expression compiled for arrays: call it on the columns of many states at once.

    Use :func:`vectorize` to build one.
    """

    expr: Expr
    _node: _Node = field(repr=False)
    _context: _Context = field(repr=False)

    @property
    def type(self) -> Type:
        """The type of the expression (``int``, ``real``, ``bool`` or an enum)."""
        return self.expr.type

    @property
    def is_constant(self) -> bool:
        """True when the value depends on neither the state nor the action."""
        return self._node.is_constant

    @property
    def constant(self) -> Any:
        """The folded value of a constant expression, as a float for reals (``ValueError`` otherwise)."""
        return self.constant_bounded[0]

    @property
    def constant_bounded(self) -> tuple[Any, float]:
        """The folded value of a constant expression and its error bound (``ValueError`` otherwise)."""
        if not self._node.is_constant:
            raise ValueError("the expression depends on the state or the action")
        value, error = self._node.constant
        return value, float(error)

    @property
    def exact_constant(self) -> bool | int | Fraction:
        """The exact value of a constant expression (``ValueError`` otherwise)."""
        if not self._exact.node.is_constant:
            raise ValueError("the expression depends on the state or the action")
        return self._exact.node.constant

    def evaluate(self, columns: Columns, action: ActionArg = None,
                 where: npt.NDArray[np.bool_] | None = None) -> Value:
        """The value at every state (floats for reals), or a scalar when it does not depend on the state.

        The result may share memory with ``columns``: do not write into it.
        """
        return self._node.fn(columns, action, where)[0]

    def bounded(self, columns: Columns, action: ActionArg = None,
                where: npt.NDArray[np.bool_] | None = None) -> tuple[Value, Error]:
        """``(value, error)``: floats for reals and a bound on their distance to the exact values."""
        value, error = self._node.fn(columns, action, where)
        return value, error

    def exact_at(self, columns: Columns, action: ActionArg = None,
                 positions: npt.NDArray[np.int64] | None = None,
                 where: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[Any]:
        """The exact values at ``positions`` (default: all) as an object array, computed once per distinct
        combination of the variables (and action) the expression reads: cheap on large arrays."""
        return self._exact.at(columns, action, positions, where)

    @property
    def reads(self) -> tuple[int, ...]:
        """The indices of the state variables the expression reads (its exact value depends on nothing else,
        but the action for ``[name]`` terms)."""
        return self._exact.variables

    @cached_property
    def _exact(self) -> _Exactly:
        return _Exactly.of(self.expr, self._context)

    def __call__(self, columns: Columns, action: ActionArg = None, *, size: int | None = None,
                 where: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[Any]:
        """Evaluate on many states at once.

        Parameters
        ----------
        columns
            ``columns[j]`` are the codes of variable ``j`` (a ``(k, n)`` array, or ``state_codes.T``).
        action
            The action taken, for ``[name]`` terms: one expanded action name for all states, or one
            name per state. ``None`` when the expression does not mention actions.
        size
            The number of states ``n``; needed only when ``columns`` is empty (a spec without
            variables).
        where
            Optional boolean mask of the states whose value matters: a division by zero elsewhere is
            not an error.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` values, a fresh array: ``bool`` for bools, ``int64`` for ints and enum codes,
            ``float64`` for reals (the floats of :meth:`bounded`).

        Raises
        ------
        DivisionByZeroError
            When a denominator is zero at a state whose value matters.
        """
        n = size if size is not None else (len(columns[0]) if len(columns) else 1)
        value = self.evaluate(columns, action, where)
        out: npt.NDArray[Any] = np.array(np.broadcast_to(value, (n,)), dtype=_dtype(self.type), copy=True)
        return out


def vectorize(expr: Expr, params: Mapping[str, Fraction | float | int] | None = None,
              action: str | None = None) -> Vectorized:
    """Compile ``expr`` once into a function over arrays of variable codes.

    Parameters
    ----------
    expr
        A checked expression (:mod:`dsl.spec`): literals, variables, parameters, ``[action]``,
        unary and binary operators, ``min``/``max``/``abs``, ``?:`` and ``in``.
    params
        The value of every ``param`` the expression mentions (``spec.param_values()``), exact.
    action
        Fold ``[name]`` terms for this (expanded) action name at compile time: the result is then
        specialised to rows of that action, and often constant.

    Returns
    -------
    Vectorized
        Call it as ``f(columns, action=None)``, see :meth:`Vectorized.__call__`.

    Raises
    ------
    KeyError
        When the expression mentions a parameter missing from ``params``.
    TypeError
        On a node type this module does not know.

    Examples
    --------
    >>> from dsl.spec import INT, BOOL, REAL, Binary, Literal, VarRef
    >>> battery = VarRef(0, "battery", INT)
    >>> low = vectorize(Binary("<=", battery, Literal(1, INT), BOOL))
    >>> low([[0, 1, 2, 3]]).tolist()
    [True, True, False, False]
    >>> tenth = vectorize(Binary("*", Literal(Fraction(1, 10), REAL), battery, REAL))
    >>> tenth([[3]]).tolist(), tenth.exact_at([[3]]).tolist()  # 0.1 * 3 in floats, and exactly
    ([0.30000000000000004], [Fraction(3, 10)])
    """
    context = _Context({name: Fraction(value) for name, value in (params or {}).items()}, action)
    return Vectorized(expr, _compile(expr, context), context)


def _dtype(type_: Type) -> type:
    return {"bool": np.bool_, "real": np.float64}.get(type_.kind, np.int64)


@dataclass(frozen=True, slots=True)
class _Context:
    params: dict[str, Fraction]
    action: str | None  # fold `[name]` for this action, when given


# --- floats with error bounds --------------------------------------------------------------------


def _number(value: Value) -> Value:
    """A bool operand of arithmetic counts as 0/1."""
    if isinstance(value, np.ndarray):
        return value.astype(np.int64) if value.dtype == np.bool_ else value
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return value


def _to_float(value: Value, error: Error) -> tuple[Value, Error]:
    """An operand of real arithmetic as floats: ints convert exactly up to 2**53, beyond with rounding."""
    value = _number(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return value, error
        converted = value.astype(np.float64)
        if converted.size and float(np.abs(converted).max()) > _EXACT_INTEGER:
            return converted, np.asarray(error) + _U * np.abs(converted)
        return converted, error
    if isinstance(value, float):
        return value, error
    converted_scalar = float(value)
    return converted_scalar, (_U * abs(converted_scalar) if abs(converted_scalar) > _EXACT_INTEGER else error)


def _scalar(value: Any) -> Any:
    """numpy scalars from folding back to Python numbers (so NEP 50 keeps array dtypes)."""
    return value.item() if isinstance(value, np.generic) else value


def _float_constant(value: bool | int | Fraction, type_: Type) -> tuple[Any, float]:
    """A literal or param value as the float graph holds it: reals as the nearest float and its error."""
    if type_.kind != "real":
        return value, 0.0
    number = float(value)  # correctly rounded
    off = abs(Fraction(number) - value)
    error = float(off)
    return number, error if error >= off else math.nextafter(error, math.inf)  # the bound rounded up


def _constant(pair: tuple[Any, Error]) -> _Node:
    return _Node(lambda columns, action, care: pair, pair)


def _compile(expr: Expr, context: _Context) -> _Node:
    """The float graph: every node returns ``(value, error)``."""
    if isinstance(expr, Literal):
        return _constant(_float_constant(expr.value, expr.type))
    if isinstance(expr, ParamRef):
        return _constant(_float_constant(context.params[expr.name], expr.type))
    if isinstance(expr, VarRef):
        return _variable(expr, exact=False)
    if isinstance(expr, ActionIs):
        return (_action_is(expr, exact=False) if context.action is None
                else _constant((context.action in expr.actions, 0.0)))
    if isinstance(expr, Unary):
        return _unary(expr, _compile(expr.operand, context))
    if isinstance(expr, Binary):
        if expr.op in _COMPARISONS and _is_real(expr.left, expr.right):
            return _real_comparison(expr, context)
        if expr.op == "/":
            return _division(expr, context)
        return _binary(expr, _compile(expr.left, context), _compile(expr.right, context))
    if isinstance(expr, Call):
        return _call(expr, [_compile(arg, context) for arg in expr.args])
    if isinstance(expr, Conditional):
        return _conditional(_compile(expr.test, context), _compile(expr.then, context),
                            _compile(expr.otherwise, context), exact=False)
    if isinstance(expr, Member):
        return _member(expr, _compile(expr.operand, context), exact=False)
    if isinstance(expr, MapCell):
        return _map_cell(expr, _compile(expr.row, context), _compile(expr.col, context), exact=False)
    if isinstance(expr, TableCell):
        return _table_cell(expr, [_compile(child, context) for child in expr.children], exact=False)
    raise TypeError(f"cannot vectorize a {type(expr).__name__} expression")


def _is_real(*operands: Expr) -> bool:
    return any(e.type.kind == "real" for e in operands)


def _variable(expr: VarRef, exact: bool) -> _Node:
    index = expr.index
    if expr.type.kind == "bool":
        if exact:
            return _Node(lambda columns, action, care: np.asarray(columns[index]) != 0)
        return _Node(lambda columns, action, care: (np.asarray(columns[index]) != 0, 0.0))
    if exact:
        return _Node(lambda columns, action, care: np.asarray(columns[index]))
    return _Node(lambda columns, action, care: (np.asarray(columns[index]), 0.0))


def _action_is(expr: ActionIs, exact: bool) -> _Node:
    names = expr.actions
    ordered = sorted(names)

    def value(action: ActionArg) -> Value:
        if action is None:
            raise ValueError(f"'{expr.written}' needs the action taken, but none was given")
        if isinstance(action, str):
            return action in names
        return np.isin(np.asarray(action), ordered)
    if exact:
        return _Node(lambda columns, action, care: value(action))
    return _Node(lambda columns, action, care: (value(action), 0.0))


def _unary(expr: Unary, operand: _Node) -> _Node:
    if expr.op == "!":
        def op(pair: tuple[Any, Error]) -> tuple[Any, Error]:
            return np.logical_not(pair[0]), 0.0
    elif expr.op == "-":
        def op(pair: tuple[Any, Error]) -> tuple[Any, Error]:
            return np.negative(_number(pair[0])), pair[1]
    else:
        raise TypeError(f"unknown unary operator {expr.op!r}")
    if operand.is_constant:
        value, error = op(operand.constant)
        return _constant((_scalar(value), error))
    inner = operand.fn
    return _Node(lambda columns, action, care: op(inner(columns, action, care)),
                 may_be_undefined=operand.may_be_undefined)


def _restrict(care: Any, mask: Value) -> Any:
    """The positions that matter for an operand evaluated only where ``mask`` holds."""
    return mask if care is None else np.logical_and(care, mask)


def _arithmetic(op: str, real: bool, indicator: bool) -> Callable[[tuple[Any, Error], tuple[Any, Error]],
                                                                  tuple[Any, Error]]:
    """``+ - *`` on (value, error) pairs: exact ``int64`` for ints (the type checker bounds them), floats
    with the propagated error plus the rounding of the result for reals (none for a product by an
    ``indicator``, a bool: ``w * [a]`` is ``w`` or 0 exactly)."""
    ufunc = _ARITHMETIC[op]
    if not real:
        return lambda a, b: (ufunc(_number(a[0]), _number(b[0])), 0.0)

    def combine(a: tuple[Any, Error], b: tuple[Any, Error]) -> tuple[Any, Error]:
        x, ex = _to_float(*a)
        y, ey = _to_float(*b)
        value = ufunc(x, y)
        error: Any = 0.0 if indicator else _U * np.abs(value)
        left, right = np.any(ex), np.any(ey)
        if op == "*":
            if not indicator:
                error = error + _underflow(value, x, y)
            if right:
                error = error + np.abs(x) * ey
            if left:
                error = error + np.abs(y) * ex
            if left and right:
                error = error + np.multiply(ex, ey)
        else:
            # the rounding of a sum, exactly (Knuth's TwoSum): 0 where the floats add up exactly
            addend = y if op == "+" else np.negative(y)
            back = np.subtract(value, x)
            with np.errstate(invalid="ignore"):
                error = np.abs(np.add(np.subtract(x, np.subtract(value, back)), np.subtract(addend, back)))
            error = np.where(np.isfinite(error), error, _U * np.abs(value))
            if left:
                error = error + ex
            if right:
                error = error + ey
        return value, error
    return combine


def _underflow(value: Any, x: Any, y: Any) -> Any:
    """The absolute rounding of a product or quotient of nonzero floats below the smallest normal float,
    where ``u |value|`` does not bound it (``1e-200 * 1e-200`` is 0): one smallest subnormal; else 0."""
    if float(np.min(np.abs(value), initial=np.inf)) >= _SMALLEST_NORMAL:
        return 0.0
    with np.errstate(invalid="ignore"):
        tiny = (np.abs(value) < _SMALLEST_NORMAL) & (np.not_equal(x, 0) & np.not_equal(y, 0))
    return np.where(tiny, _SMALLEST_SUBNORMAL, 0.0) if np.ndim(tiny) else _SMALLEST_SUBNORMAL if tiny else 0.0


def _drop_zero(error: Any) -> Error:
    """An all-zero error array becomes the scalar 0.0 (exact), which later operations skip cheaply."""
    if isinstance(error, np.ndarray):
        return error if error.ndim and error.any() else float(error.max(initial=0.0)) if error.size else 0.0
    return float(error)


def _binary(expr: Binary, left: _Node, right: _Node) -> _Node:
    op = expr.op
    checks = left.may_be_undefined or right.may_be_undefined
    if op in _ARITHMETIC:
        combine = _arithmetic(op, expr.type.kind == "real",
                              op == "*" and "bool" in (expr.left.type.kind, expr.right.type.kind))
    elif op in _COMPARISONS:  # of exact operands (reals go through _real_comparison)
        ufunc = _COMPARISONS[op]
        combine = lambda a, b: (ufunc(a[0], b[0]), 0.0)  # noqa: E731
    elif op in _LOGIC:
        return _logic(op, left, right, exact=False)
    else:
        raise TypeError(f"unknown binary operator {op!r}")
    if left.is_constant and right.is_constant:
        value, error = combine(left.constant, right.constant)
        return _constant((_scalar(value), error))
    lf, rf = left.fn, right.fn
    return _Node(lambda columns, action, care: combine(lf(columns, action, care), rf(columns, action, care)),
                 may_be_undefined=checks)


def _logic(op: str, left: _Node, right: _Node, exact: bool) -> _Node:
    """``&& || -> <->``; the right operand of the first three matters only where the left lets it."""
    combine: Callable[[Any, Any], Any]
    guard: Callable[[Any], Any] | None
    if op == "&&":
        combine, guard = np.logical_and, (lambda a: a)
    elif op == "||":
        combine, guard = np.logical_or, np.logical_not
    elif op == "->":
        combine, guard = (lambda a, b: np.logical_or(np.logical_not(a), b)), (lambda a: a)
    else:  # "<->"
        combine, guard = np.equal, None
    unpack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda pair: pair[0])
    pack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda v: (v, 0.0))
    if left.is_constant and right.is_constant:
        folded = pack(_scalar(combine(unpack(left.constant), unpack(right.constant))))
        return _Node(lambda columns, action, care: folded, folded)
    lf, rf = left.fn, right.fn
    if right.may_be_undefined and guard is not None:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
            a = unpack(lf(columns, action, care))
            return pack(combine(a, unpack(rf(columns, action, _restrict(care, guard(a))))))
    else:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
            return pack(combine(unpack(lf(columns, action, care)), unpack(rf(columns, action, care))))
    return _Node(fn, may_be_undefined=left.may_be_undefined or right.may_be_undefined)


def _real_comparison(expr: Binary, context: _Context) -> _Node:
    """A comparison of reals, decided exactly: in floats where the operands are further apart than their
    errors, exactly at the other positions."""
    ufunc = _COMPARISONS[expr.op]
    left, right = _compile(expr.left, context), _compile(expr.right, context)
    checks = left.may_be_undefined or right.may_be_undefined
    if left.is_constant and right.is_constant:
        exact = _compile_exact(expr, context)
        return _constant((exact.constant, 0.0))
    exactly = _Exactly.of(Binary("-", expr.left, expr.right, REAL, expr.span), context)
    lf, rf = left.fn, right.fn

    def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
        x, ex = _to_float(*lf(columns, action, care))
        y, ey = _to_float(*rf(columns, action, care))
        decided = ufunc(x, y)
        if not (np.any(ex) or np.any(ey)):
            return decided, 0.0  # both exact floats: the float comparison is the exact one
        with np.errstate(invalid="ignore"):
            unsure = np.abs(np.subtract(x, y)) <= (np.add(ex, ey) * (1 + 4 * _U)
                                                    + _U * (np.abs(x) + np.abs(y)))
        if care is not None:
            unsure = np.logical_and(unsure, care)
        if not np.any(unsure):
            return decided, 0.0
        if np.ndim(unsure) == 0:
            difference = exactly.at(columns, action, None, None)
            return ufunc(difference, 0).astype(bool), 0.0
        positions = np.flatnonzero(unsure)
        difference = exactly.at(columns, action, positions, care)
        decided = np.array(np.broadcast_to(decided, np.shape(unsure)), dtype=bool)
        decided[positions] = ufunc(difference, 0).astype(bool)
        return decided, 0.0
    return _Node(fn, may_be_undefined=checks)


def _division(expr: Binary, context: _Context) -> _Node:
    """Real division; a zero denominator (decided exactly) where the value matters raises
    :class:`DivisionByZeroError`. Error: ``(e_a + |a / b| e_b) / (|b| - e_b)`` plus the rounding."""
    left, right = _compile(expr.left, context), _compile(expr.right, context)
    denominator = _Exactly.of(expr.right, context)

    def divide(a: tuple[Any, Error], b: tuple[Any, Error]) -> tuple[Any, Error]:
        x, ex = _to_float(*a)
        y, ey = _to_float(*b)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.true_divide(x, y)
            size = np.abs(y)
            propagated = (np.add(ex, np.abs(value) * ey)) / np.where(size > ey, size - ey, np.nan)
            error = np.where(np.isnan(propagated), np.inf, propagated) + _U * np.abs(value) + _underflow(value, x, y)
        return value, _drop_zero(error)

    if right.is_constant and denominator.node.constant != 0:
        if left.is_constant:
            value, error = divide(left.constant, right.constant)
            return _constant((_scalar(value), _drop_zero(error)))
        lf, b = left.fn, right.constant
        return _Node(lambda columns, action, care: divide(lf(columns, action, care), b),
                     may_be_undefined=left.may_be_undefined)
    lf, rf = left.fn, right.fn

    def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
        numerator = lf(columns, action, care)
        b = rf(columns, action, care)
        y, ey = _to_float(*b)
        zero: Any = np.abs(y) <= ey  # 0 exactly where the error is 0; unsure elsewhere inside the band
        if care is not None:
            zero = np.logical_and(zero, care)
        if np.any(zero) and np.any(ey):  # decide the band exactly
            band = np.flatnonzero(zero) if np.ndim(zero) else None
            exact_zero = denominator.at(columns, action, band, care) == 0
            if band is None:
                zero = np.bool_(exact_zero.reshape(-1)[0]) if np.size(exact_zero) else np.bool_(False)
            else:
                zero = np.zeros(np.shape(zero), dtype=bool)
                zero[band] = exact_zero
        if np.any(zero):
            raise DivisionByZeroError(expr, int(np.argmax(zero)) if np.ndim(zero) else 0)
        return divide(numerator, b)
    return _Node(fn, may_be_undefined=True)


def _call(expr: Call, args: list[_Node]) -> _Node:
    name = expr.function
    real = expr.type.kind == "real"
    if name == "abs":
        if len(args) != 1:
            raise TypeError("abs takes one argument")

        def reduce(values: list[tuple[Any, Error]]) -> tuple[Any, Error]:
            return np.abs(_number(values[0][0])), values[0][1]
    elif name in ("min", "max"):
        ufunc = np.minimum if name == "min" else np.maximum

        def reduce(values: list[tuple[Any, Error]]) -> tuple[Any, Error]:
            # |min(a, b) - min(a', b')| <= max(|a - a'|, |b - b'|): no rounding of its own
            pairs = [_to_float(*pair) if real else (_number(pair[0]), pair[1]) for pair in values]
            out, error = pairs[0]
            for value, e in pairs[1:]:
                out = ufunc(out, value)
                error = _drop_zero(np.maximum(error, e))
            return out, error
    else:
        raise TypeError(f"unknown function {name!r}")
    if all(arg.is_constant for arg in args):
        value, error = reduce([arg.constant for arg in args])
        return _constant((_scalar(value), error))
    fns = [arg.fn for arg in args]
    return _Node(lambda columns, action, care: reduce([f(columns, action, care) for f in fns]),
                 may_be_undefined=any(arg.may_be_undefined for arg in args))


def _conditional(test: _Node, then: _Node, otherwise: _Node, exact: bool) -> _Node:
    if test.is_constant:
        return then if (test.constant if exact else test.constant[0]) else otherwise
    tf, yes, no = test.fn, then.fn, otherwise.fn
    careful = then.may_be_undefined or otherwise.may_be_undefined

    def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
        t = tf(columns, action, care)
        if not exact:
            t = t[0]
        if np.ndim(t) == 0:
            return yes(columns, action, care) if t else no(columns, action, care)
        if careful:
            a = yes(columns, action, _restrict(care, t))
            b = no(columns, action, _restrict(care, np.logical_not(t)))
        else:
            a, b = yes(columns, action, care), no(columns, action, care)
        if exact:
            return np.where(t, a, b)
        return np.where(t, a[0], b[0]), _drop_zero(np.where(t, a[1], b[1])) if (np.any(a[1]) or np.any(b[1])) else 0.0
    return _Node(fn, may_be_undefined=test.may_be_undefined or careful)


def _member(expr: Member, operand: _Node, exact: bool) -> _Node:
    values = tuple(int(v) for v in expr.values)
    unpack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda pair: pair[0])
    pack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda v: (v, 0.0))
    if operand.is_constant:
        folded = pack(int(unpack(operand.constant)) in values)
        return _Node(lambda columns, action, care: folded, folded)
    inner = operand.fn
    if not values:
        return _Node(lambda columns, action, care: pack(np.zeros(np.shape(unpack(inner(columns, action, care))),
                                                                 dtype=bool)),
                     may_be_undefined=operand.may_be_undefined)
    if len(values) <= _MEMBER_BY_EQUALITY:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
            x = unpack(inner(columns, action, care))
            out = np.equal(x, values[0])
            for v in values[1:]:
                out = np.logical_or(out, np.equal(x, v))
            return pack(out)
    else:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
            return pack(np.isin(unpack(inner(columns, action, care)), values))
    return _Node(fn, may_be_undefined=operand.may_be_undefined)


def _map_cell(expr: MapCell, row: _Node, col: _Node, exact: bool) -> _Node:
    """The code of the map's character at (row, column), ``outside`` (the type's last code) beyond it."""
    tiles = np.array(expr.tiles, dtype=np.int64)
    height, width = tiles.shape
    outside = len(expr.type.values) - 1
    unpack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda pair: pair[0])
    pack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda v: (v, 0.0))

    def cell(r: Any, c: Any) -> Any:
        r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        return np.where(inside, tiles[np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)], outside)
    if row.is_constant and col.is_constant:
        folded = pack(int(cell(unpack(row.constant), unpack(col.constant))))
        return _Node(lambda columns, action, care: folded, folded)
    row_fn, col_fn = row.fn, col.fn

    def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
        return pack(cell(unpack(row_fn(columns, action, care)), unpack(col_fn(columns, action, care))))
    return _Node(fn, may_be_undefined=row.may_be_undefined or col.may_be_undefined)


def _table_cell(expr: TableCell, indices: list[_Node], exact: bool) -> _Node:
    """The table's number at (row, column) (or at the column of a one-row table); a read outside the
    table where the value matters raises :class:`TableIndexError`. Floats: the nearest float of each
    entry, off by that rounding."""
    values = expr.values
    height, width = len(values), len(values[0])
    if exact:
        table: Any = np.array([[Fraction(x) if expr.type.kind == "real" else x for x in row] for row in values],
                              dtype=object)
    else:
        pairs = [[_float_constant(x, expr.type) for x in row] for row in values]
        numbers = np.array([[p[0] for p in row] for row in pairs], dtype=np.float64 if expr.type.kind == "real"
                           else np.int64)
        errors = np.array([[p[1] for p in row] for row in pairs], dtype=np.float64)
    unpack: Callable[[Any], Any] = (lambda v: v) if exact else (lambda pair: pair[0])
    if expr.row is None:
        indices = [_constant((0, 0.0)) if not exact else _Node(lambda columns, action, care: 0, 0), *indices]

    def read(r: Any, c: Any, care: Any) -> Any:
        r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
        outside = (r < 0) | (r >= height) | (c < 0) | (c >= width)
        if care is not None:
            outside = np.logical_and(outside, care)
        if np.any(outside):
            raise TableIndexError(expr, int(np.argmax(outside)) if np.ndim(outside) else 0)
        at = (np.clip(r, 0, height - 1), np.clip(c, 0, width - 1))
        if exact:
            return table[at]
        error = errors[at]
        return numbers[at], (error if np.any(error) else 0.0)
    row, col = indices
    if row.is_constant and col.is_constant:
        folded = read(unpack(row.constant), unpack(col.constant), None)
        folded = (_scalar(folded[0]), _scalar(folded[1])) if not exact else _scalar(folded)
        return _Node(lambda columns, action, care: folded, folded)
    row_fn, col_fn = row.fn, col.fn

    def fn(columns: Columns, action: ActionArg, care: Any) -> Any:
        return read(unpack(row_fn(columns, action, care)), unpack(col_fn(columns, action, care)), care)
    return _Node(fn, may_be_undefined=True)


# --- exact arithmetic ----------------------------------------------------------------------------


_to_fraction = np.frompyfunc(Fraction, 1, 1)


def _exact_number(value: Any) -> Any:
    """An operand of exact real arithmetic: bools as 0/1, int arrays as arrays of Python ints."""
    value = _number(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return value.astype(object)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fractions(value: Any) -> Any:
    """Every element a ``Fraction`` (so ``/`` divides exactly)."""
    if isinstance(value, np.ndarray):
        return _to_fraction(value.astype(object)) if value.size else value.astype(object)
    return Fraction(value)


def _compile_exact(expr: Expr, context: _Context) -> _Node:
    """The exact graph: every node returns its value, reals as ``Fraction`` (object arrays)."""
    if isinstance(expr, (Literal, ParamRef)):
        value = expr.value if isinstance(expr, Literal) else context.params[expr.name]
        return _Node(lambda columns, action, care: value, value)
    if isinstance(expr, VarRef):
        return _variable(expr, exact=True)
    if isinstance(expr, ActionIs):
        if context.action is None:
            return _action_is(expr, exact=True)
        taken = context.action in expr.actions
        return _Node(lambda columns, action, care: taken, taken)
    children = [_compile_exact(child, context) for child in expr.children]
    if isinstance(expr, MapCell):
        return _map_cell(expr, children[0], children[1], exact=True)
    if isinstance(expr, TableCell):
        return _table_cell(expr, children, exact=True)
    if isinstance(expr, Conditional):
        return _conditional(children[0], children[1], children[2], exact=True)
    if isinstance(expr, Member):
        return _member(expr, children[0], exact=True)
    if isinstance(expr, Binary) and expr.op in _LOGIC:
        return _logic(expr.op, children[0], children[1], exact=True)
    operation = _exact_operation(expr)
    checks = any(child.may_be_undefined for child in children) or (isinstance(expr, Binary) and expr.op == "/")
    if all(child.is_constant for child in children):
        value = _scalar(operation([child.constant for child in children], None))
        return _Node(lambda columns, action, care: value, value)
    fns = [child.fn for child in children]
    return _Node(lambda columns, action, care: operation([f(columns, action, care) for f in fns], care),
                 may_be_undefined=checks)


def _exact_operation(expr: Expr) -> Callable[[list[Any], Any], Any]:
    """The exact operation of a unary, binary or call node on its operands' exact values."""
    if isinstance(expr, Unary):
        if expr.op == "!":
            return lambda v, care: np.logical_not(v[0])
        return lambda v, care: np.negative(_exact_number(v[0]))
    if isinstance(expr, Call):
        if expr.function == "abs":
            return lambda v, care: np.abs(_exact_number(v[0]))
        extreme: Any = np.minimum if expr.function == "min" else np.maximum

        def reduce(values: list[Any], care: Any) -> Any:
            out = _exact_number(values[0])
            for value in values[1:]:
                out = extreme(out, _exact_number(value))
            return out
        return reduce
    if isinstance(expr, Binary):
        op = expr.op
        if op in _COMPARISONS:
            compare: Any = _COMPARISONS[op]
            return lambda v, care: _bools(compare(_exact_number(v[0]), _exact_number(v[1])))
        if op in _ARITHMETIC:
            arithmetic: Any = _ARITHMETIC[op]
            if expr.type.kind == "real":
                return lambda v, care: arithmetic(_exact_number(v[0]), _exact_number(v[1]))
            return lambda v, care: arithmetic(_number(v[0]), _number(v[1]))
        if op == "/":
            def divide(values: list[Any], care: Any) -> Any:
                numerator, denominator = _fractions(_exact_number(values[0])), _exact_number(values[1])
                zero = np.equal(denominator, 0)
                if care is not None:
                    zero = np.logical_and(zero, care)
                if np.any(zero):
                    raise DivisionByZeroError(expr, int(np.argmax(zero)) if np.ndim(zero) else 0)
                safe: Any = np.where(np.equal(denominator, 0), 1, denominator) if np.ndim(denominator) else denominator
                return numerator / safe if np.ndim(safe) or safe != 0 else numerator
            return divide
    raise TypeError(f"cannot vectorize a {type(expr).__name__} expression")


def _bools(value: Any) -> Any:
    """Comparisons of object arrays as ``bool`` arrays (numpy may leave them as objects)."""
    return value.astype(bool) if isinstance(value, np.ndarray) else bool(value)


@dataclass(frozen=True, eq=False)
class _Exactly:
    """An expression's exact graph, and the variables it reads: evaluated at chosen positions once per
    distinct combination of those variables (and of the action, when it reads one)."""

    node: _Node
    variables: tuple[int, ...]
    reads_action: bool

    @staticmethod
    def of(expr: Expr, context: _Context) -> _Exactly:
        nodes = list(expr.traverse())
        variables = tuple(sorted({n.index for n in nodes if isinstance(n, VarRef)}))
        reads_action = context.action is None and any(isinstance(n, ActionIs) for n in nodes)
        return _Exactly(_compile_exact(expr, context), variables, reads_action)

    def at(self, columns: Columns, action: ActionArg, positions: npt.NDArray[np.int64] | None,
           care: Any) -> npt.NDArray[Any]:
        node = self.node
        length = self._length(columns, action, care)
        size = positions.size if positions is not None else length
        if node.is_constant:
            return np.full(size, node.constant, dtype=object)
        keys = [np.broadcast_to(np.asarray(columns[j]), (length,)) for j in self.variables]
        if positions is not None:
            keys = [k[positions] for k in keys]
        names = None
        if self.reads_action and not isinstance(action, str) and action is not None:
            names = np.asarray(action)
            names = names[positions] if positions is not None else names
            uniques, codes = np.unique(names, return_inverse=True)
            keys.append(codes.reshape(-1))
        if keys:
            table = np.stack([np.broadcast_to(k, (size,)) for k in keys]).astype(np.int64)
            distinct, inverse = np.unique(table, axis=1, return_inverse=True)
            inverse = inverse.reshape(-1)
        else:
            distinct, inverse = np.zeros((0, 1), dtype=np.int64), np.zeros(size, dtype=np.int64)
        width = distinct.shape[1]
        by_variable: dict[int, npt.NDArray[np.int64]] = {j: distinct[i] for i, j in enumerate(self.variables)}
        view = _Sparse(by_variable, width)
        taken: ActionArg = action
        if names is not None:
            taken = uniques[distinct[-1]]
        mask = None
        if care is not None and np.ndim(care):
            selected = np.asarray(care)[positions] if positions is not None else np.asarray(care)
            mask = np.zeros(width, dtype=bool)
            np.logical_or.at(mask, inverse, np.broadcast_to(selected, (size,)))
        try:
            values = node.fn(view, taken, mask)
        except UndefinedValueError as error:  # report the first position of that combination
            first = int(np.flatnonzero(inverse == error.index)[0])
            raise type(error)(error.expr, int(positions[first]) if positions is not None else first) from None
        out = np.empty(width, dtype=object)
        out[:] = list(np.broadcast_to(np.asarray(values, dtype=object), (width,)))
        return out[inverse]

    def _length(self, columns: Columns, action: ActionArg, care: Any) -> int:
        """How many positions the arrays have (1 when nothing the expression reads says)."""
        for j in self.variables:
            if np.ndim(columns[j]):
                return len(columns[j])
        if action is not None and not isinstance(action, str):
            return len(action)
        if care is not None and np.ndim(care):
            return len(care)
        return 1




class _Sparse(Sequence[npt.NDArray[np.int64]]):
    """Columns for the distinct combinations: only the variables an expression reads are present."""

    def __init__(self, columns: dict[int, npt.NDArray[np.int64]], width: int) -> None:
        self.columns, self.width = columns, width

    def __len__(self) -> int:
        return max(self.columns, default=-1) + 1

    def __getitem__(self, j: int) -> npt.NDArray[np.int64]:  # type: ignore[override]  # never sliced
        return self.columns[j]
