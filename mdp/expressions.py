"""Expressions of the checked spec, compiled once into functions over arrays of variable codes.

:func:`vectorize` walks an expression tree once and returns a :class:`Vectorized` function that
evaluates it on many states at a time with numpy: the compiler calls it on whole BFS frontiers, the
verifier on the state arrays of a model. No text is ever executed (no ``eval``/``exec``): every node
becomes a small closure over numpy operations.

Values are numpy arrays of codes (see :mod:`dsl.spec`): ``int64`` for ints and enums, ``bool`` for
bools, ``float64`` for reals. Exact numbers (``Fraction``) become floats here. Constant subtrees are
folded once, so ``w_hunger * 2`` costs nothing per state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from dsl.spec import (
    ActionIs, Binary, Call, Conditional, Expr, Literal, Member, ParamRef, Type, Unary, VarRef,
)

__all__ = ["DivisionByZeroError", "Vectorized", "vectorize"]

Columns = Sequence[npt.NDArray[np.integer[Any]]]
"""``columns[j]`` holds the codes of variable ``j``, one entry per evaluated state (a ``(k, n)`` array works)."""

Value = Union[npt.NDArray[Any], bool, int, float, np.generic]
"""What a node evaluates to: an array, or a scalar when it does not depend on the state."""

ActionArg = Union[str, Sequence[str], npt.NDArray[Any], None]

# A compiled node: (columns, action, care) -> value. ``care`` is ``None`` (every position matters) or a
# boolean mask of the positions whose value is used; a division by zero is an error only there.
_Fn = Callable[[Columns, ActionArg, Any], Value]

_NOT_CONSTANT = object()

_COMPARISONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply}
_LOGIC = ("&&", "||", "->", "<->")
_INT64_LIMIT = 2**63
_MEMBER_BY_EQUALITY = 8  # up to this many values, `x in {...}` is a chain of `==` (faster than np.isin)


class DivisionByZeroError(ZeroDivisionError):
    """A division by zero at a position whose value mattered.

    Attributes
    ----------
    expr
        The ``/`` node (its ``span`` points at the source).
    index
        The first position (in the evaluated arrays) where the denominator is zero.
    """

    def __init__(self, expr: Binary, index: int) -> None:
        super().__init__(f"division by zero at position {index}")
        self.expr = expr
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable
        return (type(self), (self.expr, self.index))


@dataclass(frozen=True, slots=True)
class _Node:
    fn: _Fn
    constant: Any = _NOT_CONSTANT  # the folded value, when the node depends on neither state nor action
    checks_division: bool = False  # a division whose denominator may be zero somewhere below

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
        """The folded value of a constant expression (``ValueError`` otherwise)."""
        if not self._node.is_constant:
            raise ValueError("the expression depends on the state or the action")
        return self._node.constant

    def evaluate(self, columns: Columns, action: ActionArg = None,
                 where: npt.NDArray[np.bool_] | None = None) -> Value:
        """The value at every state, or a scalar when it does not depend on the state (cheaper).

        The result may share memory with ``columns``: do not write into it.
        """
        return self._node.fn(columns, action, where)

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
            ``float64`` for reals.

        Raises
        ------
        DivisionByZeroError
            When a denominator is zero at a state whose value matters.
        """
        n = size if size is not None else (len(columns[0]) if len(columns) else 1)
        value = self._node.fn(columns, action, where)
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
        The value of every ``param`` the expression mentions (``spec.param_values()``).
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
    >>> from dsl.spec import INT, BOOL, Binary, Literal, VarRef
    >>> battery = VarRef(0, "battery", INT)
    >>> low = vectorize(Binary("<=", battery, Literal(1, INT), BOOL))
    >>> low([[0, 1, 2, 3]]).tolist()
    [True, True, False, False]
    """
    return Vectorized(expr, _compile(expr, _Context(dict(params or {}), action)))


def _dtype(type_: Type) -> type:
    return {"bool": np.bool_, "real": np.float64}.get(type_.kind, np.int64)


def _number(value: Value) -> Value:
    """A bool operand of arithmetic counts as 0/1."""
    if isinstance(value, np.ndarray):
        return value.astype(np.int64) if value.dtype == np.bool_ else value
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return value


def _exact(value: bool | int | float | Fraction) -> bool | int | float:
    """A whole number stays an int while int64 holds it (numpy would overflow), anything else is a float."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 and -_INT64_LIMIT <= value < _INT64_LIMIT else float(value)
    return value


def _constant(value: Any) -> _Node:
    return _Node(lambda columns, action, care: value, value)


@dataclass(frozen=True, slots=True)
class _Context:
    params: dict[str, Fraction | float | int]
    action: str | None  # fold `[name]` for this action, when given


def _compile(expr: Expr, context: _Context) -> _Node:
    if isinstance(expr, Literal):
        return _constant(_exact(expr.value))
    if isinstance(expr, ParamRef):
        value = context.params[expr.name]
        return _constant(float(value) if expr.type.kind == "real" else _exact(value))
    if isinstance(expr, VarRef):
        return _variable(expr)
    if isinstance(expr, ActionIs):
        return _action_is(expr) if context.action is None else _constant(context.action in expr.actions)
    if isinstance(expr, Unary):
        return _unary(expr, _compile(expr.operand, context))
    if isinstance(expr, Binary):
        return _binary(expr, _compile(expr.left, context), _compile(expr.right, context))
    if isinstance(expr, Call):
        return _call(expr, [_compile(arg, context) for arg in expr.args])
    if isinstance(expr, Conditional):
        return _conditional(_compile(expr.test, context), _compile(expr.then, context),
                            _compile(expr.otherwise, context))
    if isinstance(expr, Member):
        return _member(expr, _compile(expr.operand, context))
    raise TypeError(f"cannot vectorize a {type(expr).__name__} expression")


def _variable(expr: VarRef) -> _Node:
    index = expr.index
    if expr.type.kind == "bool":
        return _Node(lambda columns, action, care: np.asarray(columns[index]) != 0)
    return _Node(lambda columns, action, care: np.asarray(columns[index]))


def _action_is(expr: ActionIs) -> _Node:
    names = expr.actions
    ordered = sorted(names)

    def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
        if action is None:
            raise ValueError(f"'{expr.written}' needs the action taken, but none was given")
        if isinstance(action, str):
            return action in names
        return np.isin(np.asarray(action), ordered)
    return _Node(fn)


def _unary(expr: Unary, operand: _Node) -> _Node:
    if expr.op == "!":
        op: Callable[[Value], Value] = np.logical_not
    elif expr.op == "-":
        op = lambda value: np.negative(_number(value))  # noqa: E731
    else:
        raise TypeError(f"unknown unary operator {expr.op!r}")
    if operand.is_constant:
        return _constant(_scalar(op(operand.constant)))
    inner = operand.fn
    return _Node(lambda columns, action, care: op(inner(columns, action, care)),
                 checks_division=operand.checks_division)


def _scalar(value: Any) -> Any:
    """numpy scalars from folding back to Python numbers (so NEP 50 keeps array dtypes)."""
    return value.item() if isinstance(value, np.generic) else value


def _restrict(care: Any, mask: Value) -> Any:
    """The positions that matter for an operand evaluated only where ``mask`` holds."""
    return mask if care is None else np.logical_and(care, mask)


def _binary(expr: Binary, left: _Node, right: _Node) -> _Node:
    op = expr.op
    checks = left.checks_division or right.checks_division
    if op == "/":
        return _division(expr, left, right)
    if op in _ARITHMETIC:
        ufunc = _ARITHMETIC[op]
        combine: Callable[[Value, Value], Value] = lambda a, b: ufunc(_number(a), _number(b))  # noqa: E731
    elif op in _COMPARISONS:
        combine = _COMPARISONS[op]
    elif op in _LOGIC:
        return _logic(op, left, right)
    else:
        raise TypeError(f"unknown binary operator {op!r}")
    if left.is_constant and right.is_constant:
        return _constant(_scalar(combine(left.constant, right.constant)))
    lf, rf = left.fn, right.fn
    return _Node(lambda columns, action, care: combine(lf(columns, action, care), rf(columns, action, care)),
                 checks_division=checks)


def _logic(op: str, left: _Node, right: _Node) -> _Node:
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
    if left.is_constant and right.is_constant:
        return _constant(_scalar(combine(left.constant, right.constant)))
    lf, rf = left.fn, right.fn
    if right.checks_division and guard is not None:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
            a = lf(columns, action, care)
            return combine(a, rf(columns, action, _restrict(care, guard(a))))
    else:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
            return combine(lf(columns, action, care), rf(columns, action, care))
    return _Node(fn, checks_division=left.checks_division or right.checks_division)


def _division(expr: Binary, left: _Node, right: _Node) -> _Node:
    """Real division; a zero denominator where the value matters raises :class:`DivisionByZeroError`."""
    if right.is_constant and right.constant != 0:
        if left.is_constant:
            return _constant(float(_number(left.constant)) / float(_number(right.constant)))
        lf, denominator = left.fn, float(_number(right.constant))
        return _Node(lambda columns, action, care: np.true_divide(_number(lf(columns, action, care)), denominator),
                     checks_division=left.checks_division)
    lf, rf = left.fn, right.fn

    def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
        numerator = _number(lf(columns, action, care))
        denominator = _number(rf(columns, action, care))
        zero = np.equal(denominator, 0)
        if care is not None:
            zero = np.logical_and(zero, care)
        if np.any(zero):
            raise DivisionByZeroError(expr, int(np.argmax(zero)) if np.ndim(zero) else 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide(numerator, denominator)
    return _Node(fn, checks_division=True)


def _call(expr: Call, args: list[_Node]) -> _Node:
    name = expr.function
    if name == "abs":
        if len(args) != 1:
            raise TypeError("abs takes one argument")
        reduce: Callable[[list[Value]], Value] = lambda values: np.abs(_number(values[0]))  # noqa: E731
    elif name in ("min", "max"):
        ufunc = np.minimum if name == "min" else np.maximum

        def reduce(values: list[Value]) -> Value:
            out = _number(values[0])
            for value in values[1:]:
                out = ufunc(out, _number(value))
            return out
    else:
        raise TypeError(f"unknown function {name!r}")
    if all(arg.is_constant for arg in args):
        return _constant(_scalar(reduce([arg.constant for arg in args])))
    fns = [arg.fn for arg in args]
    return _Node(lambda columns, action, care: reduce([f(columns, action, care) for f in fns]),
                 checks_division=any(arg.checks_division for arg in args))


def _conditional(test: _Node, then: _Node, otherwise: _Node) -> _Node:
    if test.is_constant:
        return then if test.constant else otherwise
    tf, yes, no = test.fn, then.fn, otherwise.fn
    careful = then.checks_division or otherwise.checks_division

    def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
        t = tf(columns, action, care)
        if np.ndim(t) == 0:
            return yes(columns, action, care) if t else no(columns, action, care)
        if careful:
            a = yes(columns, action, _restrict(care, t))
            b = no(columns, action, _restrict(care, np.logical_not(t)))
        else:
            a, b = yes(columns, action, care), no(columns, action, care)
        return np.where(t, a, b)
    return _Node(fn, checks_division=test.checks_division or careful)


def _member(expr: Member, operand: _Node) -> _Node:
    values = tuple(int(v) for v in expr.values)
    if operand.is_constant:
        return _constant(int(operand.constant) in values)
    inner = operand.fn
    if not values:
        return _Node(lambda columns, action, care: np.zeros(np.shape(inner(columns, action, care)), dtype=bool),
                     checks_division=operand.checks_division)
    if len(values) <= _MEMBER_BY_EQUALITY:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
            x = inner(columns, action, care)
            out = np.equal(x, values[0])
            for v in values[1:]:
                out = np.logical_or(out, np.equal(x, v))
            return out
    else:
        def fn(columns: Columns, action: ActionArg, care: Any) -> Value:
            return np.isin(inner(columns, action, care), values)
    return _Node(fn, checks_division=operand.checks_division)
