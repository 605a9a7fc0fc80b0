"""mdp.compiler and mdp.expressions: compiled models equal hand-enumerated ones; every model error renders exactly."""

from __future__ import annotations

import pickle
import random
import tracemalloc
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

import dsl
import mdp.compiler as compiler
from dsl.errors import ResourceLimitError, Source, Span
from dsl.spec import (
    BOOL, INT, REAL, Action, ActionIs, Binary, BoolDomain, Branch, Call, Conditional, EnumDomain, Event, Expr,
    Formula, IntDomain, Literal, Member, Parameter, ParamRef, Spec, Term, Type, Unary, Update, VarRef, Variable,
)
from mdp import TERMINAL_ACTION, ModelError, StateLimitError, compile
from mdp.expressions import DivisionByZeroError, vectorize


# --- building specs in Python ------------------------------------------------------------------


class E:
    """An expression under construction: Python operators build typed spec nodes."""

    def __init__(self, node: Expr) -> None:
        self.node = node

    @property
    def type(self) -> Type:
        return self.node.type  # type: ignore[attr-defined]

    def _arith(self, op: str, other: object, swap: bool = False) -> E:
        left, right = (wrap(other), self) if swap else (self, wrap(other))
        real = op == "/" or REAL in (left.type, right.type)
        return E(Binary(op, left.node, right.node, REAL if real else INT))

    def __add__(self, other): return self._arith("+", other)
    def __radd__(self, other): return self._arith("+", other, True)
    def __sub__(self, other): return self._arith("-", other)
    def __rsub__(self, other): return self._arith("-", other, True)
    def __mul__(self, other): return self._arith("*", other)
    def __rmul__(self, other): return self._arith("*", other, True)
    def __truediv__(self, other): return self._arith("/", other)
    def __rtruediv__(self, other): return self._arith("/", other, True)
    def __neg__(self): return E(Unary("-", self.node, self.type))
    def __invert__(self): return E(Unary("!", self.node, BOOL))
    def __and__(self, other): return E(Binary("&&", self.node, wrap(other).node, BOOL))
    def __or__(self, other): return E(Binary("||", self.node, wrap(other).node, BOOL))
    def __lt__(self, other): return E(Binary("<", self.node, wrap(other).node, BOOL))
    def __le__(self, other): return E(Binary("<=", self.node, wrap(other).node, BOOL))
    def __gt__(self, other): return E(Binary(">", self.node, wrap(other).node, BOOL))
    def __ge__(self, other): return E(Binary(">=", self.node, wrap(other).node, BOOL))
    def eq(self, other): return E(Binary("==", self.node, wrap(other).node, BOOL))
    def ne(self, other): return E(Binary("!=", self.node, wrap(other).node, BOOL))
    def implies(self, other): return E(Binary("->", self.node, wrap(other).node, BOOL))
    def iff(self, other): return E(Binary("<->", self.node, wrap(other).node, BOOL))
    def isin(self, *codes: int): return E(Member(self.node, codes))
    def at(self, span: Span) -> E:
        """The same node with a source span."""
        fields = {name: getattr(self.node, name) for name in self.node.__slots__}  # type: ignore[attr-defined]
        fields["span"] = span
        return E(type(self.node)(**fields))


def wrap(value: object) -> E:
    if isinstance(value, E):
        return value
    if isinstance(value, bool):
        return E(Literal(value, BOOL))
    if isinstance(value, int):
        return E(Literal(value, INT))
    if isinstance(value, (float, Fraction)):
        return E(Literal(Fraction(value).limit_denominator(10**9) if isinstance(value, float) else value, REAL))
    raise TypeError(value)


def call(function: str, *args: object) -> E:
    nodes = [wrap(a) for a in args]
    real = any(n.type == REAL for n in nodes)
    return E(Call(function, tuple(n.node for n in nodes), REAL if real else INT))


def cond(test: object, then: object, otherwise: object) -> E:
    t, o = wrap(then), wrap(otherwise)
    return E(Conditional(wrap(test).node, t.node, o.node, REAL if REAL in (t.type, o.type) else t.type))


def did(*actions: str) -> E:
    return E(ActionIs(frozenset(actions), "[" + ", ".join(actions) + "]"))


def param(name: str) -> E:
    return E(ParamRef(name))


class Builder:
    """Declares variables, actions, events and terms, and builds the :class:`Spec`."""

    def __init__(self, text: str = "", name: str = "test", discount: Fraction = Fraction(19, 20)) -> None:
        self.source = Source("test.corrigo", text)
        self.name, self.discount = name, discount
        self.variables: list[Variable] = []
        self.actions: list[Action] = []
        self.events: list[Event] = []
        self.formulas: list[Formula] = []
        self.costs: list[Term] = []
        self.intents: list[Term] = []
        self.params: list[Parameter] = []
        self.terminal: Expr | None = None

    def span(self, snippet: str, occurrence: int = 0) -> Span:
        """The span of the ``occurrence``-th appearance of ``snippet`` in the source text."""
        start = -1
        for _ in range(occurrence + 1):
            start = self.source.text.index(snippet, start + 1)
        line = self.source.text.count("\n", 0, start) + 1
        column = start - (self.source.text.rfind("\n", 0, start) + 1) + 1
        return Span(self.source.path, line, column, line, column + len(snippet))

    def int(self, name: str, lo: int, hi: int, initial: int | None = None) -> E:
        self.variables.append(Variable(name, IntDomain(lo, hi), lo if initial is None else initial))
        return E(VarRef(len(self.variables) - 1, name, INT))

    def enum(self, name: str, values: tuple[str, ...], initial: str | None = None) -> E:
        self.variables.append(Variable(name, EnumDomain(values), values.index(initial) if initial else 0))
        return E(VarRef(len(self.variables) - 1, name, Type("enum", values)))

    def bool(self, name: str, initial: bool = False) -> E:
        self.variables.append(Variable(name, BoolDomain(), int(initial)))
        return E(VarRef(len(self.variables) - 1, name, BOOL))

    def param(self, name: str, value: Fraction) -> E:
        self.params.append(Parameter(name, Fraction(value), Fraction(0), Fraction(10)))
        return param(name)

    def _branches(self, branches, span_of_updates=None):
        out = []
        for branch in branches:
            if isinstance(branch, dict):
                branch = (1, branch)
            probability, updates = branch
            out.append(Branch(wrap(probability).node, tuple(
                Update(self._index(var), wrap(value).node, span_of_updates.get(var) if span_of_updates else None)
                for var, value in updates.items())))
        return tuple(out)

    def _index(self, var: E) -> int:
        return var.node.index  # type: ignore[attr-defined]

    def action(self, name: str, guard: object, *branches, span: Span | None = None, base: str | None = None,
               update_spans: dict | None = None, guard_span: Span | None = None) -> None:
        """``branches``: ``{var: value}`` (probability 1) or ``(probability, {var: value})`` pairs."""
        self.actions.append(Action(name, base or name.split("(")[0], wrap(guard).node,
                                   self._branches(branches, update_spans), span, guard_span))

    def event(self, name: str, guard: object, *branches, span: Span | None = None,
              update_spans: dict | None = None) -> None:
        self.events.append(Event(name, wrap(guard).node, self._branches(branches, update_spans), span))

    def formula(self, name: str, expr: object) -> None:
        self.formulas.append(Formula(name, wrap(expr).node))

    def cost(self, name: str, expr: object) -> None:
        self.costs.append(Term(name, wrap(expr).node))

    def intent(self, name: str, expr: object) -> None:
        self.intents.append(Term(name, wrap(expr).node))

    def build(self) -> Spec:
        return Spec(self.name, "", self.source, self.discount, (), tuple(self.params), tuple(self.variables),
                    tuple(self.formulas), tuple(self.actions), tuple(self.events),
                    self.terminal, tuple(self.costs), tuple(self.intents), ())


def dense(model) -> np.ndarray:
    return model.P.toarray()


def codes(model) -> list[tuple[int, ...]]:
    return [tuple(int(c) for c in row) for row in model.state_codes]


# --- vectorize ---------------------------------------------------------------------------------


class TestVectorize:
    columns = np.array([[0, 1, 2, 3], [2, 0, 1, 2], [1, 0, 1, 0]])  # x (int), room (enum of 3), flag (bool)
    x = E(VarRef(0, "x", INT))
    room = E(VarRef(1, "room", Type("enum", ("dock", "hall", "lab"))))
    flag = E(VarRef(2, "flag", BOOL))

    def run(self, e: object, action=None, **params):
        return vectorize(wrap(e).node, params)(self.columns, action)

    def test_arithmetic_and_types(self):
        assert self.run(self.x * 2 + 1).tolist() == [1, 3, 5, 7]
        assert self.run(self.x * 2 + 1).dtype == np.int64
        assert self.run(self.x - 5).tolist() == [-5, -4, -3, -2]
        assert self.run(-self.x).tolist() == [0, -1, -2, -3]
        assert self.run(self.x / 2).tolist() == [0.0, 0.5, 1.0, 1.5]  # real division
        assert self.run(self.x * Fraction(1, 4)).tolist() == [0.0, 0.25, 0.5, 0.75]

    def test_bool_operand_of_product_is_an_indicator(self):
        assert self.run(3 * self.flag).tolist() == [3, 0, 3, 0]
        assert self.run(self.flag * (self.x > 1)).tolist() == [0, 0, 1, 0]
        assert self.run(self.flag * (self.x > 1)).dtype == np.int64
        assert self.run(Fraction(1, 2) * self.room.eq(2)).tolist() == [0.5, 0.0, 0.0, 0.5]

    def test_comparisons_logic_and_membership(self):
        assert self.run(self.x <= 1).tolist() == [True, True, False, False]
        assert self.run(self.room.ne(0)).tolist() == [True, False, True, True]
        assert self.run(self.flag & (self.x > 0)).tolist() == [False, False, True, False]
        assert self.run(self.flag | (self.x > 2)).tolist() == [True, False, True, True]
        assert self.run(~self.flag).tolist() == [False, True, False, True]
        assert self.run(self.flag.implies(self.x.eq(0))).tolist() == [True, True, False, True]
        assert self.run(self.flag.iff(self.x < 2)).tolist() == [True, False, False, True]
        assert self.run(self.room.isin(0, 1)).tolist() == [False, True, True, False]
        many = tuple(range(1, 12))
        assert self.run(self.x.isin(*many)).tolist() == [False, True, True, True]

    def test_calls_conditionals_and_params(self):
        assert self.run(call("max", self.x - 2, 0)).tolist() == [0, 0, 0, 1]
        assert self.run(call("min", self.x, 2, self.room)).tolist() == [0, 0, 1, 2]
        assert self.run(call("abs", self.x - 2)).tolist() == [2, 1, 0, 1]
        assert self.run(cond(self.flag, self.x, -1)).tolist() == [0, -1, 2, -1]
        assert self.run(param("w") * self.x, w=Fraction(3, 2)).tolist() == [0.0, 1.5, 3.0, 4.5]

    def test_action_terms(self):
        taken = did("move(dock)", "move(lab)")
        assert self.run(taken, action="move(lab)").tolist() == [True] * 4
        assert self.run(2 * taken, action="wait").tolist() == [0] * 4
        per_state = np.array(["wait", "move(dock)", "move(hall)", "move(lab)"])
        assert self.run(taken, action=per_state).tolist() == [False, True, False, True]
        with pytest.raises(ValueError, match=r"'\[move\(dock\), move\(lab\)\]' needs the action"):
            self.run(taken)

    def test_constants_fold_and_broadcast(self):
        f = vectorize((param("w") * 2 + 1).node, {"w": Fraction(1, 2)})
        assert f.is_constant and f.constant == 2.0
        assert f(self.columns).tolist() == [2.0] * 4
        assert vectorize(wrap(True).node)([], size=3).tolist() == [True] * 3

    def test_result_is_a_fresh_array(self):
        result = self.run(self.x)
        result[0] = 99
        assert self.columns[0, 0] == 0

    def test_division_by_zero_names_the_first_position(self):
        with pytest.raises(DivisionByZeroError) as caught:
            self.run(1 / (self.x - 2))
        assert caught.value.index == 2

    def test_division_by_zero_only_where_the_value_matters(self):
        safe = cond(self.x.eq(2), 0, 1 / (self.x - 2))
        assert self.run(safe).tolist() == [-0.5, -1.0, 0.0, 1.0]
        assert self.run((self.x.ne(2)) & (1 / (self.x - 2) < 0)).tolist() == [True, True, False, False]
        assert self.run((self.x.eq(2)) | (1 / (self.x - 2) > 0)).tolist() == [False, False, True, True]
        assert self.run((self.x.ne(2)).implies(1 / (self.x - 2) > 0)).tolist() == [False, False, True, True]
        mask = np.array([True, True, False, True])
        assert vectorize((1 / (self.x - 2)).node)(self.columns, where=mask)[[0, 1, 3]].tolist() == [-0.5, -1, 1]

    def test_no_eval_of_unknown_nodes(self):
        with pytest.raises(TypeError, match="cannot vectorize"):
            vectorize(Expr())


# --- hand-enumerated models --------------------------------------------------------------------


def counter_spec() -> Spec:
    b = Builder()
    x = b.int("x", 0, 2)
    b.action("step", x < 2, {x: x + 1})
    b.action("stay", True, {})
    b.terminal = x.eq(2).node
    b.cost("effort", 1 + did("step"))
    b.formula("high", x >= 1)
    b.formula("double", 2 * x)  # not bool: no label
    b.formula("stepping", did("step"))  # mentions the action: no label
    return b.build()


def test_counter_model_is_exactly_the_hand_enumeration():
    model = compile(counter_spec())
    assert model.name == "test" and model.discount == 0.95 and model.initial == 0
    assert codes(model) == [(0,), (1,), (2,)]
    assert model.action_names == ("step", "stay", TERMINAL_ACTION)
    assert model.row_groups.tolist() == [0, 2, 4, 5]
    assert model.row_action.tolist() == [0, 1, 0, 1, 2]
    assert dense(model).tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert model.costs["effort"].tolist() == [2, 1, 2, 1, 0]  # the terminal self-loop costs nothing
    assert set(model.labels) == {"high"} and model.labels["high"].tolist() == [False, True, True]
    assert model.terminal.tolist() == [False, False, True]
    assert model.state_codes.dtype == np.int64 and model.state_codes.shape == (3, 1)
    assert model.actions(1) == ("step", "stay") and model.describe(2) == "x=2"
    assert model.P.has_canonical_format


def test_action_branches_times_an_event_give_the_products():
    b = Builder()
    pos = b.int("pos", 0, 2)
    pressed = b.bool("pressed")
    b.action("go", True, (Fraction(9, 10), {pos: 1}), (Fraction(1, 10), {pos: 2}))
    b.action("wait", True, {})
    b.event("press", ~pressed, (Fraction(1, 5), {pressed: True}))
    b.terminal = pos.eq(2).node
    model = compile(b.build())
    # discovery order: go's first branch (event fires, then the rest), go's second branch, then wait
    assert codes(model) == [(0, 0), (1, 1), (1, 0), (2, 1), (2, 0), (0, 1)]
    P = dense(model)
    assert model.row_groups.tolist() == [0, 2, 4, 6, 7, 8, 10]
    np.testing.assert_allclose(P[0], [0, 0.18, 0.72, 0.02, 0.08, 0], rtol=0, atol=1e-15)  # s0 go
    np.testing.assert_allclose(P[1], [0.8, 0, 0, 0, 0, 0.2], rtol=0, atol=1e-15)  # s0 wait
    np.testing.assert_allclose(P[2], [0, 0.9, 0, 0.1, 0, 0])  # s1 go: pressed already, no event
    np.testing.assert_allclose(P[3], [0, 1, 0, 0, 0, 0])  # s1 wait
    np.testing.assert_allclose(P[4], [0, 0.18, 0.72, 0.02, 0.08, 0], atol=1e-15)  # s2 go
    np.testing.assert_allclose(P[5], [0, 0.2, 0.8, 0, 0, 0])  # s2 wait
    np.testing.assert_allclose(P[6], [0, 0, 0, 1, 0, 0])  # s3 terminal: events do not touch it
    np.testing.assert_allclose(P[7], [0, 0, 0, 0, 1, 0])  # s4 terminal
    np.testing.assert_allclose(P[8], [0, 0.9, 0, 0.1, 0, 0])  # s5 go
    np.testing.assert_allclose(P[9], [0, 0, 0, 0, 0, 1])  # s5 wait
    assert model.row_action.tolist() == [0, 1, 0, 1, 0, 1, 2, 2, 0, 1]
    assert model.P.nnz == 4 + 2 + 2 + 1 + 4 + 2 + 1 + 1 + 2 + 1


def test_duplicate_successors_of_a_row_are_merged():
    b = Builder()
    a = b.int("a", 0, 1)
    flag = b.bool("flag")
    b.action("go", a.eq(0) & ~flag, (Fraction(1, 2), {a: 1}), (Fraction(1, 2), {flag: True}))
    b.action("rest", True, {})
    b.event("settle", a.eq(1) | flag, (Fraction(2, 5), {a: 1, flag: True}))
    model = compile(b.build())
    assert codes(model) == [(0, 0), (1, 1), (1, 0), (0, 1)]
    np.testing.assert_allclose(dense(model)[0], [0, 0.4, 0.3, 0.3])  # (1, true) reached twice: 0.2 + 0.2
    assert model.P.indptr[1] - model.P.indptr[0] == 3


def test_events_apply_in_declaration_order_to_every_outcome():
    b = Builder()
    n = b.int("n", 0, 3)
    b.action("tick", True, {})
    b.event("up", n < 3, (Fraction(1, 2), {n: n + 1}))
    b.event("again", (n >= 1) & (n < 3), (Fraction(1, 2), {n: n + 1}))
    model = compile(b.build())
    # from n=0: up fires -> n=1 (1/2) then again fires on it -> n=2, n=1 (1/4 each); up's rest: n=0 (1/2)
    assert codes(model)[:3] == [(0,), (2,), (1,)]
    np.testing.assert_allclose(dense(model)[0], [0.5, 0.25, 0.25, 0])
    # from n=2: up -> 3 (1/2), and again does not fire on 3; the rest n=2 -> again -> 3 or 2
    np.testing.assert_allclose(dense(model)[1], [0, 0.25, 0, 0.75])


def test_event_probabilities_may_depend_on_the_intermediate_state():
    b = Builder()
    x = b.int("x", 0, 2)
    b.action("inc", x < 2, {x: x + 1})
    b.action("idle", True, {})
    b.event("drop", x > 0, (x * Fraction(1, 4), {x: 0}))
    model = compile(b.build())
    assert codes(model) == [(0,), (1,), (2,)]
    P = dense(model)
    np.testing.assert_allclose(P[0], [0.25, 0.75, 0])  # inc from 0 lands on 1, drop w.p. 1/4
    np.testing.assert_allclose(P[1], [1, 0, 0])  # idle at 0: drop does not fire
    np.testing.assert_allclose(P[2], [0.5, 0, 0.5])  # inc from 1 lands on 2, drop w.p. 1/2
    np.testing.assert_allclose(P[3], [0.25, 0.75, 0])  # idle at 1


def test_zero_probability_branches_leave_no_transition():
    b = Builder()
    x = b.int("x", 0, 2)
    b.action("jump", True, (cond(x.eq(0), 1, 0), {x: 1}), (cond(x.eq(0), 0, 1), {x: 2}))
    model = compile(b.build())
    assert codes(model) == [(0,), (1,), (2,)]
    assert model.P.nnz == 3
    assert dense(model).tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 1]]


def test_terminal_states_get_one_zero_cost_self_loop_and_no_events():
    b = Builder()
    off = b.bool("off")
    count = b.int("count", 0, 1)
    b.action("shutdown", ~off, {off: True})
    b.event("bump", True, (Fraction(1, 2), {count: 1}))
    b.terminal = off.node
    b.cost("living", 3)
    b.intent("welfare", cond(off, 5, 1))
    model = compile(b.build())
    assert codes(model) == [(0, 0), (1, 1), (1, 0)]
    assert model.actions(1) == (TERMINAL_ACTION,) and model.actions(2) == (TERMINAL_ACTION,)
    assert dense(model).tolist() == [[0, 0.5, 0.5], [0, 1, 0], [0, 0, 1]]
    assert model.costs["living"].tolist() == [3, 0, 0]
    assert model.intents["welfare"].tolist() == [1, 0, 0]
    assert model.terminal.tolist() == [False, True, True]


def test_costs_use_params_and_the_action_taken():
    b = Builder()
    room = b.enum("room", ("dock", "hall", "lab"), "hall")
    w = b.param("w_move", Fraction(1, 10))
    for code, name in enumerate(("dock", "hall", "lab")):
        b.action(f"move({name})", room.ne(code), {room: code}, base="move")
    b.action("wait", True, {})
    b.cost("effort", w * did("move(dock)", "move(hall)", "move(lab)"))
    b.cost("curiosity", Fraction(-1, 2) * room.eq(2))
    b.formula("at_lab", room.eq(2))
    model = compile(b.build())
    assert [model.describe(s) for s in range(3)] == ["room=hall", "room=dock", "room=lab"]
    assert model.row_action.tolist() == [0, 2, 3, 1, 2, 3, 0, 1, 3]
    np.testing.assert_allclose(model.costs["effort"], [0.1, 0.1, 0, 0.1, 0.1, 0, 0.1, 0.1, 0])
    np.testing.assert_allclose(model.costs["curiosity"], [0, 0, 0, 0, 0, 0, -0.5, -0.5, -0.5])
    np.testing.assert_allclose(model.cost, model.costs["effort"] + model.costs["curiosity"])
    assert model.labels["at_lab"].tolist() == [False, False, True]


def test_min_and_max_of_one_argument_compile_to_their_argument():
    spec = dsl.load("model m\ndiscount 0.9\nvar x : 0..2\naction a: x' = min(max(x + 1), 2)\n"
                    "cost c = max(x) + min(0.5)\n")
    model = compile(spec)
    assert [model.describe(s) for s in range(3)] == ["x=0", "x=1", "x=2"]
    np.testing.assert_allclose(model.costs["c"], [0.5, 1.5, 2.5])


def test_bfs_numbering_is_by_distance_from_the_initial_state():
    b = Builder()
    x, y = b.int("x", 0, 3), b.int("y", 0, 3)
    b.action("right", x < 3, {x: x + 1})
    b.action("up", y < 3, {y: y + 1})
    b.terminal = (x.eq(3) & y.eq(3)).node
    model = compile(b.build())
    distance = [x + y for x, y in codes(model)]
    assert distance == sorted(distance) and len(distance) == 16
    assert codes(model)[:6] == [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]


def test_a_spec_without_variables_has_one_state():
    b = Builder()
    b.action("wait", True, {})
    model = compile(b.build())
    assert model.n_states == 1 and dense(model).tolist() == [[1]] and model.state_codes.shape == (1, 0)


# --- limits and progress -----------------------------------------------------------------------


def line_spec(length: int) -> Spec:
    b = Builder()
    x = b.int("x", 0, length)
    b.action("step", x < length, {x: x + 1})
    b.terminal = x.eq(length).node
    return b.build()


def test_progress_is_called_once_per_layer():
    calls = []
    compile(line_spec(3), progress=lambda n, frontier: calls.append((n, frontier)))
    assert calls == [(2, 1), (3, 1), (4, 1), (4, 0)]


def test_max_states_stops_with_a_resource_limit_error():
    compile(line_spec(9), max_states=10)  # exactly 10 states is fine
    with pytest.raises(StateLimitError) as caught:
        compile(line_spec(100), max_states=10)
    assert str(caught.value) == (
        "the model has more than 10 states (--max-states): 11 states found (1 not yet explored)\n"
        "    = note: 'x': 11 of its 101 values reached\n"
        "    = hint: raise --max-states, or shrink the domains of these variables (or set consts and params with -D)")
    assert isinstance(caught.value, ResourceLimitError)
    assert (caught.value.n_states, caught.value.n_unexplored) == (11, 1)


def test_max_states_counts_every_unexplored_state():
    b = Builder()
    x, y = b.int("x", 0, 1000), b.int("y", 0, 1000)
    b.action("right", x < 1000, {x: x + 1})
    b.action("up", y < 1000, {y: y + 1})
    with pytest.raises(StateLimitError) as caught:
        compile(b.build(), max_states=1_000)
    # layers of the grid: 1, 2, 3, ...; 45 layers hold 1,035 states, of which the last 45 are unexplored;
    # x and y each take the values 0..44
    assert caught.value.message == "the model has more than 1,000 states (--max-states): 1,035 states found (45 not " \
                                   "yet explored)"
    assert caught.value.notes == ("'x': 45 of its 1,001 values reached", "'y': 45 of its 1,001 values reached")


def test_memory_sizes_read_to_three_digits():
    assert [compiler._size(n) for n in (500, 20_000, 1023 << 10, 4 << 30, (4 << 30) + (30 << 20))] == [
        "500 bytes", "19.5 KiB", "1023 KiB", "4.00 GiB", "4.03 GiB"]


def test_a_state_limit_error_survives_pickling():
    error = StateLimitError("the model has more than 1 states", 2, 1, ("'x' (line 3): 2 of its 3 values reached",),
                            "raise it")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StateLimitError and str(copy) == str(error)
    assert (copy.message, copy.n_states, copy.n_unexplored, copy.notes, copy.hint) == (
        error.message, 2, 1, error.notes, "raise it")


def wide_spec(size: int) -> str:
    """20 variables of ``size`` values, three of which move: the same reachable states for every size >= 6."""
    return "model wide\ndiscount 0.9\n" + "".join(f"var v{i} : 0..{size - 1}\n" for i in range(20)) + """\
action a when v3 < 5: v3' = v3 + 1
action b when v19 < 2: 0.5 -> v19' = v19 + 1
                       0.5 -> v0' = 1 - v0
action w: skip
event e when v5 == 0: 0.5 -> v5' = 1
"""


EXPLODING = """\
model explode
discount 0.9
var flag : bool
var a : 0..100
var mode : {idle, busy, off}
var b : 0..100
var c : 0..9
action inc_a when a < 100: a' = a + 1
action inc_b when b < 100: b' = b + 1
action inc_c when c < 9: c' = c + 1
action wait: skip
"""


def test_the_memory_budget_stops_with_the_variables_that_vary_most():
    with pytest.raises(StateLimitError) as caught:
        compile(dsl.load(EXPLODING), max_bytes=200_000)
    # layers hold the states with a + b + c = d: 1, 3, 6, 10, 15, 21 for d = 0..5, 56 states; before expanding
    # d = 5 the estimate is 150 bytes per state (5 variables), 36 + 24 per row and transition (140 of each, 4 per
    # explored state), 2,048 per layer (6), a table page per state (56 x 4,096) and 8 per choice in flight
    # (21 states x 5): 8,400 + 8,400 + 12,288 + 229,376 + 840 = 259,304 bytes (d = 4 needed 175,890)
    assert str(caught.value) == (
        "the model would need about 253 KiB to build, more than its memory budget of 195 KiB: 56 states found "
        "(21 not yet explored)\n"
        "    = note: 'a' (line 4): 6 of its 101 values reached\n"
        "    = note: 'b' (line 6): 6 of its 101 values reached\n"
        "    = note: 'c' (line 7): 6 of its 10 values reached\n"
        "    = hint: shrink the domains of these variables (or set consts and params with -D); --max-states N "
        "builds up to N states, however much memory they take")
    assert (caught.value.n_states, caught.value.n_unexplored) == (56, 21)


def test_without_max_states_the_default_budget_applies_and_max_states_replaces_it(monkeypatch):
    monkeypatch.setattr(compiler, "DEFAULT_MAX_BYTES", 200_000)
    with pytest.raises(StateLimitError, match="more than its memory budget of 195 KiB: 56 states found"):
        compile(dsl.load(EXPLODING))
    with pytest.raises(StateLimitError, match="more than 1,000 states"):  # no budget: up to 1,000 states
        compile(dsl.load(EXPLODING), max_states=1_000)


MOVES = {"north": ("y < 29", "y' = y + 1"), "south": ("y > 0", "y' = y - 1"), "east": ("x < 29", "x' = x + 1"),
         "west": ("x > 0", "x' = x - 1")}
GRID = "model grid\ndiscount 0.95\nvar x : 0..29\nvar y : 0..29\nvar battery : 0..40 = 40\nvar pressed : bool\n" + \
    "".join(f"action {name} when battery > 0 && {guard}:\n    0.9 -> {update}, battery' = battery - 1\n"
            f"    0.1 -> battery' = battery - 1\n" for name, (guard, update) in MOVES.items()) + """\
action charge when x == 0 && y == 0: battery' = 40
action wait: skip
event press when !pressed: 0.05 -> pressed' = true
cost move = 1 * [north, east, south, west]
"""
"""A grid world like benchmarks/compile.py's: 23,538 states, 290,418 transitions."""


def test_the_default_budget_holds_a_million_states_of_a_grid():
    # the estimate grows with the states, rows and transitions: 10^6 states of this grid would be estimated at
    # 10^6 / 23,538 times its own, which fits in half the default budget
    assert compiler.DEFAULT_MAX_BYTES == 4 << 30
    assert compile(dsl.load(GRID), max_bytes=compiler.DEFAULT_MAX_BYTES * 23_538 // 10**6 // 2).n_states == 23_538


@pytest.mark.parametrize("text", [
    GRID,
    EXPLODING.replace("0..100", "0..30").replace("< 100", "< 30"),  # 9,610 states
    "model m\ndiscount 0.9\n" + "".join(f"var b{i} : bool\n" for i in range(8)) + "action wait: skip\n"
    + "".join(f"event e{i}: 0.5 -> b{i}' = !b{i}\n" for i in range(8)),  # 256 states of 256 outcomes
    wide_spec(101).replace("v3 < 5", "v3 < 60").replace("v19 < 2", "v19 < 60"),  # Python-int keys, 14,884 states
    "model chain\ndiscount 0.9\nvar x : 0..500\naction step when x < 500: x' = x + 1\nterminal x == 500\n",
], ids=["grid", "counters", "events", "wide", "chain"])
def test_the_memory_estimate_bounds_what_compile_allocates(text):
    """A budget below the traced peak of a compile stops it; twice the peak lets it finish (estimate within 2x)."""
    spec = dsl.load(text)
    tracemalloc.start()
    try:
        compile(spec, max_states=10**9)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with pytest.raises(StateLimitError, match="more than its memory budget"):
        compile(spec, max_bytes=peak)
    compile(spec, max_bytes=2 * peak)


MANY_EVENTS = """\
model noisy
discount 0.9
var b0 : bool
var b1 : bool
var b2 : bool
var b3 : bool
action wait: skip
event e0: 0.5 -> b0' = !b0
event e1: 0.5 -> b1' = !b1
event e2: 0.5 -> b2' = !b2
event e3: 0.5 -> b3' = !b3
"""


def test_events_that_multiply_outcomes_are_named_when_they_outgrow_the_budget():
    with pytest.raises(StateLimitError) as caught:
        compile(dsl.load(MANY_EVENTS), max_bytes=20_000)
    # layer 2 expands 15 states of 1 choice each; the events double their outcomes: 30, 60, 120. With 120: 134 bytes
    # per state (16), 36 per row (16), 24 per transition (136), 2 layers of 2,048, the 64-byte table, and in
    # flight 48 per row and 96 + 4 x 16 per outcome (4 variables that events read): 30,064 bytes (60: 19,024)
    assert str(caught.value) == (
        "the model would need about 29.4 KiB to build, more than its memory budget of 19.5 KiB: 16 states found "
        "(15 not yet explored)\n"
        "    = note: this layer's 15 choices lead to 120 outcomes after the events\n"
        "    = note: event 'e0' (line 8) turns each outcome where it applies into 2\n"
        "    = note: event 'e1' (line 9) turns each outcome where it applies into 2\n"
        "    = note: event 'e2' (line 10) turns each outcome where it applies into 2\n"
        "    = note: 'b0' (line 3): 2 of its 2 values reached\n"
        "    = note: 'b1' (line 4): 2 of its 2 values reached\n"
        "    = note: 'b2' (line 5): 2 of its 2 values reached\n"
        "    = note: 'b3' (line 6): 2 of its 2 values reached\n"
        "    = hint: every event multiplies the outcomes of a step by its branches (one more when mass is left "
        "over): use fewer events or narrower guards, or shrink the domains of these variables; --max-states N "
        "builds up to N states, however much memory they take")


def test_notes_name_at_most_six_events():
    text = "model noisy\ndiscount 0.9\n" + "".join(f"var b{i} : bool\n" for i in range(9)) + "action wait: skip\n" \
        + "".join(f"event e{i}: 0.5 -> b{i}' = !b{i}\n" for i in range(9))
    with pytest.raises(StateLimitError) as caught:
        compile(dsl.load(text), max_bytes=40_000)
    # the initial state's one choice, after e7: 214 bytes for the state, 36 for the row, 24 x 256 transitions,
    # 2,048 for the layer and for the table (2**9 keys), 48 + 256 x (96 + 9 x 16) in flight: 71,978 bytes
    # (after e6: 38,186); no variable has two values yet
    assert caught.value.message == ("the model would need about 70.3 KiB to build, more than its memory budget of "
                                    "39.1 KiB: 1 state found (1 not yet explored)")
    assert caught.value.notes == (
        "this layer's 1 choice leads to 256 outcomes after the events",
        *(f"event 'e{i}' (line {13 + i}) turns each outcome where it applies into 2" for i in range(6)),
        "and 2 more events")


def test_a_layer_beyond_32_bit_row_numbers_is_a_limit_even_without_a_budget(monkeypatch):
    monkeypatch.setattr(compiler, "_MAX_LAYER_OUTCOMES", 100)  # stands for 2**31 - 1
    with pytest.raises(StateLimitError) as caught:
        compile(dsl.load(MANY_EVENTS), max_states=10**6)
    # layer 2: 15 choices, 120 outcomes after three events
    assert caught.value.message == (
        "one breadth-first layer of the model has 120 outcomes, the most corrigo can number is 100 (a fixed limit: "
        "32-bit row numbers): 16 states found (15 not yet explored)")
    assert caught.value.notes[:2] == ("this layer's 15 choices lead to 120 outcomes after the events",
                                      "event 'e0' (line 8) turns each outcome where it applies into 2")
    assert caught.value.hint.startswith("every event multiplies the outcomes")


def test_notes_name_at_most_six_variables_most_values_first():
    text = "model m\ndiscount 0.9\n" + "".join(f"var v{i} : 0..9\n" for i in range(8)) + "var w : 0..20\n" + \
        "".join(f"action i{i} when v{i} < 9: v{i}' = v{i} + 1\n" for i in range(8)) + \
        "action j when w < 20: w' = w + 1\naction k when w < 19: w' = w + 2\naction wait: skip\n"
    with pytest.raises(StateLimitError) as caught:
        compile(dsl.load(text), max_states=100)
    # three layers of 8 counters and w (two actions) hold 275 states: the v's take 0..3, w 0..6
    assert caught.value.notes == (
        "'w' (line 11): 7 of its 21 values reached", "'v0' (line 3): 4 of its 10 values reached",
        "'v1' (line 4): 4 of its 10 values reached", "'v2' (line 5): 4 of its 10 values reached",
        "'v3' (line 6): 4 of its 10 values reached", "'v4' (line 7): 4 of its 10 values reached",
        "and 3 more variables")


def test_more_states_than_int32_indices_is_a_resource_limit_naming_it(monkeypatch):
    monkeypatch.setattr(compiler, "_DENSE_TABLE_LIMIT", 0)  # the sorted runs count states as they go
    monkeypatch.setattr(compiler, "_MAX_STATES", 50)  # stands for 2**31 - 1
    with pytest.raises(StateLimitError) as caught:
        compile(line_spec(100))
    assert str(caught.value) == (
        "the model has more than 50 states, the most corrigo can number (a fixed limit: 32-bit state indices): "
        "50 states found (1 not yet explored)\n"
        "    = note: 'x': 50 of its 101 values reached\n"
        "    = hint: shrink the domains of these variables (or set consts and params with -D)")
    assert compile(line_spec(49)).n_states == 50


def test_key_spaces_beyond_64_bits_use_exact_keys():
    wide = compile(dsl.load(wide_spec(101)))  # 101**20 = 1.2e40 combinations: keys are Python ints
    narrow = compile(dsl.load(wide_spec(6)))  # 6**20 = 3.7e15: int64 keys
    assert wide.n_states == narrow.n_states == 6 * 3 * 2 * 2
    assert codes(wide) == codes(narrow)
    assert (wide.P != narrow.P).nnz == 0
    assert wide.describe(wide.n_states - 1) == narrow.describe(narrow.n_states - 1)


def test_a_domain_wider_than_int64_keeps_its_values():
    model = compile(dsl.load("""\
model w
discount 0.9
var a : -9000000000000000000..9000000000000000000 = -9000000000000000000
var b : bool
action jump when !b: a' = 9000000000000000000, b' = true
action back when b: a' = -9000000000000000000, b' = false
"""))
    assert codes(model) == [(-9000000000000000000, 0), (9000000000000000000, 1)]
    assert model.P.toarray().tolist() == [[0, 1], [1, 0]]


def test_object_keys_give_the_same_model_as_int64_keys(monkeypatch):
    spec = random_spec(3)
    expected = compile(spec)
    monkeypatch.setattr(compiler, "_DENSE_TABLE_LIMIT", 0)
    monkeypatch.setattr(compiler, "_MAX_INT64", 0)  # every key space counts as beyond int64
    got = compile(spec)
    assert codes(got) == codes(expected)
    assert (got.P != expected.P).nnz == 0
    assert got.row_action.tolist() == expected.row_action.tolist()


def test_domains_near_the_int64_limits_are_numbered_from_their_low_end():
    # lo * stride = 1.8e19 does not fit in int64, though every key (code - lo) * stride does
    model = compile(dsl.load("""\
model k
discount 0.9
var a : 9000000000000000000..9000000000000000001
var b : bool
action flip: b' = !b
action up when a < 9000000000000000001: a' = a + 1
"""))
    assert codes(model) == [(9000000000000000000, 0), (9000000000000000000, 1), (9000000000000000001, 0),
                            (9000000000000000001, 1)]
    assert [model.describe(s) for s in range(4)] == [
        "a=9000000000000000000, b=false", "a=9000000000000000000, b=true",
        "a=9000000000000000001, b=false", "a=9000000000000000001, b=true"]
    assert model.P.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1],
                                          [0, 0, 1, 0]]


def test_negative_domains_near_the_int64_limit_keep_their_values():
    model = compile(dsl.load("""\
model k
discount 0.9
var a : -9000000000000000000..-8999999999999999999
var c : 0..2 = 2
action down when c > 0: c' = c - 1, a' = -8999999999999999999
terminal c == 0
"""))
    assert codes(model) == [(-9000000000000000000, 2), (-8999999999999999999, 1), (-8999999999999999999, 0)]
    assert model.describe(2) == "a=-8999999999999999999, c=0"
    assert model.state_values(1) == {"a": -8999999999999999999, "c": 1}


def test_sorted_runs_give_the_same_model_as_the_dense_table(monkeypatch):
    spec = random_spec(3)
    expected = compile(spec)
    monkeypatch.setattr(compiler, "_DENSE_TABLE_LIMIT", 0)
    got = compile(spec)
    assert codes(got) == codes(expected)
    assert (got.P != expected.P).nnz == 0
    assert got.row_action.tolist() == expected.row_action.tolist()


def test_sorted_runs_merge_and_look_up():
    runs = compiler._SortedRuns()
    for start in range(0, 100, 10):
        keys = np.arange(start, start + 10, dtype=np.int64) * 7
        runs.add(keys, keys // 7)
    assert len(runs.runs) <= 4
    query = np.array([0, 7, 8, 693, 700], dtype=np.int64)
    assert runs.lookup(query).tolist() == [0, 1, -1, 99, -1]


# --- against a reference: a plain Python BFS in exact arithmetic -------------------------------


def evaluate(node: Expr, state: tuple[int, ...], action: str | None, params: dict):
    """The meaning of an expression, written independently of mdp.expressions (exact numbers)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, VarRef):
        return bool(state[node.index]) if node.type == BOOL else state[node.index]
    if isinstance(node, ParamRef):
        return params[node.name]
    if isinstance(node, ActionIs):
        return action in node.actions
    if isinstance(node, Unary):
        value = evaluate(node.operand, state, action, params)
        return (not value) if node.op == "!" else -int(value) if isinstance(value, bool) else -value
    if isinstance(node, Binary):
        left = evaluate(node.left, state, action, params)
        if node.op == "&&":
            return left and evaluate(node.right, state, action, params)
        if node.op == "||":
            return left or evaluate(node.right, state, action, params)
        if node.op == "->":
            return (not left) or evaluate(node.right, state, action, params)
        right = evaluate(node.right, state, action, params)
        if node.op == "<->":
            return left == right
        if node.op in ("+", "-", "*", "/"):
            left, right = Fraction(int(left) if isinstance(left, bool) else left), \
                Fraction(int(right) if isinstance(right, bool) else right)
            return {"+": left + right, "-": left - right, "*": left * right}[node.op] if node.op != "/" \
                else left / right
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
                "==": left == right, "!=": left != right}[node.op]
    if isinstance(node, Call):
        values = [evaluate(a, state, action, params) for a in node.args]
        return {"min": min, "max": max, "abs": lambda v: abs(v)}[node.function](*values) \
            if node.function != "abs" else abs(values[0])
    if isinstance(node, Conditional):
        test = evaluate(node.test, state, action, params)
        return evaluate(node.then if test else node.otherwise, state, action, params)
    if isinstance(node, Member):
        return evaluate(node.operand, state, action, params) in node.values
    raise TypeError(node)


def reference(spec: Spec):
    """States (BFS, numbered on first sight), rows (state, action, {successor: probability}), costs."""
    params = spec.param_values()
    initial = tuple(v.initial for v in spec.variables)
    index, states, rows, costs = {initial: 0}, [initial], [], []

    def apply(state, branch, action):
        new = list(state)
        for u in branch.updates:
            new[u.variable] = int(evaluate(u.expr, state, action, params))
        return tuple(new)

    i = 0
    while i < len(states):
        state = states[i]
        if spec.terminal is not None and evaluate(spec.terminal, state, None, params):
            rows.append((i, TERMINAL_ACTION, {i: Fraction(1)}))
            costs.append({t.name: 0 for t in spec.costs + spec.intents})
            i += 1
            continue
        for action in spec.actions:
            if not evaluate(action.guard, state, action.name, params):
                continue
            outcomes = [(apply(state, b, action.name), Fraction(evaluate(b.probability, state, action.name, params)))
                        for b in action.branches]
            for event in spec.events:
                expanded = []
                for t, p in outcomes:
                    if not evaluate(event.guard, t, None, params):
                        expanded.append((t, p))
                        continue
                    ps = [Fraction(evaluate(b.probability, t, None, params)) for b in event.branches]
                    expanded.extend((apply(t, b, None), p * q) for b, q in zip(event.branches, ps))
                    expanded.append((t, p * (1 - sum(ps))))
                outcomes = expanded
            row: dict[int, Fraction] = {}
            for t, p in outcomes:
                if p == 0:
                    continue
                if t not in index:
                    index[t] = len(states)
                    states.append(t)
                row[index[t]] = row.get(index[t], 0) + p
            rows.append((i, action.name, row))
            costs.append({t.name: evaluate(t.expr, state, action.name, params) for t in spec.costs + spec.intents})
        i += 1
    return states, rows, costs


def random_spec(seed: int) -> Spec:
    """A small random spec: state-dependent guards, probabilities, updates, events and costs."""
    rng = random.Random(seed)
    b = Builder()
    hi = rng.randint(2, 5)
    x = b.int("x", 0, hi, rng.randint(0, hi))
    room = b.enum("room", ("a", "b", "c"), rng.choice("abc"))
    flag = b.bool("flag", rng.random() < 0.3)
    w = b.param("w", Fraction(rng.randint(1, 9), 4))

    def clamp(e):
        return call("max", 0, call("min", hi, e))

    def test():
        return rng.choice([x < rng.randint(1, hi), room.ne(rng.randint(0, 2)), flag, ~flag,
                           room.isin(0, 2) & (x >= 1), (x > 0).implies(flag)])

    def updates():
        out = {}
        if rng.random() < 0.7:
            out[x] = clamp(x + rng.choice([-2, -1, 1, 2]))
        if rng.random() < 0.4:
            out[room] = rng.choice([0, 1, 2]) if rng.random() < 0.7 else cond(flag, 1, 2)
        if rng.random() < 0.3:
            out[flag] = ~flag
        return out

    for a in range(rng.randint(1, 4)):
        kind = rng.randint(0, 2)
        if kind == 0:
            branches = [updates()]
        elif kind == 1:
            p = rng.choice([Fraction(1, 2), Fraction(1, 3), Fraction(9, 10)])
            branches = [(p, updates()), (1 - p, updates())]
        else:  # state-dependent probabilities
            p = cond(flag, Fraction(1, 4), x * Fraction(1, 2 * hi))
            branches = [(p, updates()), (1 - p, updates()), (0, updates())]
        b.action(f"act{a}", test(), *branches)
    b.action("wait", True, {})
    for e in range(rng.randint(0, 2)):
        if rng.random() < 0.5:
            b.event(f"ev{e}", test(), (rng.choice([Fraction(1, 5), Fraction(1, 2), Fraction(1)]), updates()))
        else:
            b.event(f"ev{e}", test(), (Fraction(1, 3), updates()), (Fraction(1, 3) * flag, updates()))
    if rng.random() < 0.6:
        b.terminal = (x.eq(hi) & flag).node
    b.cost("c", w * did("act0") + x / (1 + x) - room.eq(1))
    b.cost("d", cond(flag, x / (1 + x), w))  # no action: evaluated per state
    b.intent("i", 2 * did("wait") + room.eq(2))
    return b.build()


@pytest.mark.parametrize("seed", range(40))
def test_random_specs_match_the_reference_enumeration(seed):
    spec = random_spec(seed)
    states, rows, costs = reference(spec)
    model = compile(spec)
    assert codes(model) == states
    assert model.n_rows == len(rows)
    assert [model.action_names[a] for a in model.row_action] == [name for _, name, _ in rows]
    assert model.row_state.tolist() == [state for state, _, _ in rows]
    P = model.P
    for r, (_, _, row) in enumerate(rows):
        got = dict(zip(P.indices[P.indptr[r]:P.indptr[r + 1]].tolist(), P.data[P.indptr[r]:P.indptr[r + 1]]))
        assert got.keys() == row.keys()
        for successor, probability in row.items():
            assert got[successor] == pytest.approx(float(probability), abs=1e-14)
    for term in ("c", "d"):
        np.testing.assert_allclose(model.costs[term], [float(c[term]) for c in costs], rtol=1e-14)
    np.testing.assert_allclose(model.intents["i"], [float(c["i"]) for c in costs], rtol=1e-14)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=0, atol=1e-12)


# --- model errors, rendered --------------------------------------------------------------------


def render_error(spec: Spec) -> str:
    with pytest.raises(ModelError) as caught:
        compile(spec)
    assert caught.value.source is spec.source
    return caught.value.render()


def test_deadlock_points_at_the_first_guard_and_names_the_other_disabled_actions():
    text = "model many\nvar x : 0..1 = 0\naction go when x < 1: x' = 1\n" + "".join(
        f"action a{k} when x > {k + 1}: skip\n" for k in range(8))
    b = Builder(text)
    x = b.int("x", 0, 1)
    b.action("go", x < 1, {x: 1}, guard_span=b.span("x < 1"))
    for k in range(8):
        b.action(f"a{k}", x > k + 1, {}, guard_span=b.span(f"x > {k + 1}"))
    assert render_error(b.build()) == """\
test.corrigo:3:16: error: deadlock: no action is enabled in a reachable state that is not terminal
   |
 3 | action go when x < 1: x' = 1
   |                ^^^^^
   = note: in state x=1
   = note: 'a0' is disabled: its guard `x > 1` is false (line 4)
   = note: 'a1' is disabled: its guard `x > 2` is false (line 5)
   = note: 'a2' is disabled: its guard `x > 3` is false (line 6)
   = note: 'a3' is disabled: its guard `x > 4` is false (line 7)
   = note: 'a4' is disabled: its guard `x > 5` is false (line 8)
   = note: 'a5' is disabled: its guard `x > 6` is false (line 9)
   = note: and 2 more actions, all disabled
   = note: reached from the initial state in 1 step: go
   = hint: add an action that is enabled there (such as a `wait` action), or make the state `terminal`"""


def test_deadlock_without_guard_spans_points_at_the_first_action():
    b = Builder("model robot\nvar battery : 0..2 = 2\naction work when battery > 0:\n    battery' = battery - 1\n")
    battery = b.int("battery", 0, 2, 2)
    b.action("work", battery > 0, {battery: battery - 1}, span=b.span("action work when battery > 0:"))
    assert render_error(b.build()) == """\
test.corrigo:3:1: error: deadlock: no action is enabled in a reachable state that is not terminal
   |
 3 | action work when battery > 0:
   | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: in state battery=0
   = note: reached from the initial state in 2 steps: work, work
   = hint: add an action that is enabled there (such as a `wait` action), or make the state `terminal`"""


def test_an_initial_value_outside_its_domain_points_at_the_variable():
    # dsl.typecheck rejects this in text (tests/golden/errors/initial_out_of_domain); a Python-built spec can
    text = "model start\nvar x : 0..2 = 5\naction a: skip\n"
    b = Builder(text)
    b.int("x", 0, 2, 5)
    b.variables[0] = replace(b.variables[0], span=b.span("var x : 0..2 = 5"))
    b.action("a", True, {})
    assert render_error(b.build()) == """\
test.corrigo:2:1: error: the initial value of 'x' is outside its domain 0..2
   |
 2 | var x : 0..2 = 5
   | ^^^^^^^^^^^^^^^^"""


def test_deadlock_of_a_spec_without_actions_has_no_location():
    b = Builder("model idle\nvar x : 0..1 = 0\n")  # dsl.typecheck rejects this text; a Python-built spec can
    b.int("x", 0, 1)
    assert render_error(b.build()) == """\
test.corrigo: error: deadlock: no action is enabled in a reachable state that is not terminal
    = note: in state x=0
    = note: this is the initial state
    = hint: add an action that is enabled there (such as a `wait` action), or make the state `terminal`"""


DRAIN = """\
model robot
var battery : 0..3 = 3
var room : {dock, lab} = dock
action move(to: room) when room != to:
    room' = to, battery' = battery - 1
"""


def test_update_out_of_domain_points_at_the_update():
    b = Builder(DRAIN)
    battery = b.int("battery", 0, 3, 3)
    room = b.enum("room", ("dock", "lab"))
    for code, name in enumerate(("dock", "lab")):
        b.action(f"move({name})", room.ne(code), {room: code, battery: battery - 1},
                 span=b.span("action move(to: room) when room != to:"), base="move",
                 update_spans={room: b.span("room' = to"), battery: b.span("battery' = battery - 1")})
    assert render_error(b.build()) == """\
test.corrigo:5:17: error: the update gives 'battery' the value -1, outside its domain 0..3
   |
 5 |     room' = to, battery' = battery - 1
   |                 ^^^^^^^^^^^^^^^^^^^^^^
   = note: in state battery=0, room=lab
   = note: taking action 'move(dock)'
   = note: reached from the initial state in 3 steps: move(lab), move(dock), move(lab)
   = hint: clamp it, e.g. battery' = max(0, min(3, ...))"""


BAD_PROBABILITIES = """\
model broken
var battery : 0..2 = 2
var room : {dock, lab} = dock
action go when true:
    0.5 -> room' = lab
    0.6 -> skip
event spill when room == lab:
    0.7 -> battery' = 0
    0.7 -> skip
"""


def test_every_problem_of_a_layer_is_reported_in_source_order():
    b = Builder(BAD_PROBABILITIES)
    battery = b.int("battery", 0, 2, 2)
    room = b.enum("room", ("dock", "lab"))
    b.action("go", True, (Fraction(1, 2), {room: 1}), (Fraction(3, 5), {}), span=b.span("action go when true:"))
    b.event("spill", room.eq(1), (Fraction(7, 10), {battery: 0}), (Fraction(7, 10), {}),
            span=b.span("event spill when room == lab:"))
    assert render_error(b.build()) == """\
test.corrigo:4:1: error: the branch probabilities of action 'go' sum to 1.1, they must sum to 1
   |
 4 | action go when true:
   | ^^^^^^^^^^^^^^^^^^^^
   = note: in state battery=2, room=dock
   = note: this is the initial state
   = hint: make the probabilities of the branches add up to 1 in every state where the guard holds

test.corrigo:7:1: error: the branch probabilities of event 'spill' sum to 1.4, they must sum to at most 1
   |
 7 | event spill when room == lab:
   | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = note: in state battery=2, room=dock
   = note: after action 'go', which led to battery=2, room=lab
   = note: this is the initial state
   = hint: the mass left over (1 - sum) is the chance that nothing happens, so the probabilities must not \
add up to more than 1"""


def test_probability_outside_the_unit_interval_points_at_the_probability():
    text = "model odds\nvar level : 0..4 = 1\naction climb when level < 4:\n" \
           "    level * 0.5 -> level' = level + 1\n    1 - level * 0.5 -> skip\n"
    b = Builder(text)
    level = b.int("level", 0, 4, 1)
    half = (level * Fraction(1, 2)).at(b.span("level * 0.5"))
    rest = (1 - level * Fraction(1, 2)).at(b.span("1 - level * 0.5"))
    b.action("climb", level < 4, (half, {level: level + 1}), (rest, {}), span=b.span("action climb when level < 4:"))
    b.action("wait", True, {})
    assert render_error(b.build()) == """\
test.corrigo:4:5: error: probability 1.5 of action 'climb' is outside [0, 1]
   |
 4 |     level * 0.5 -> level' = level + 1
   |     ^^^^^^^^^^^
   = note: in state level=3
   = note: reached from the initial state in 2 steps: climb, climb
   = hint: a probability must lie between 0 and 1 in every state where the guard holds

test.corrigo:5:5: error: probability -0.5 of action 'climb' is outside [0, 1]
   |
 5 |     1 - level * 0.5 -> skip
   |     ^^^^^^^^^^^^^^^
   = note: in state level=3
   = note: reached from the initial state in 2 steps: climb, climb
   = hint: a probability must lie between 0 and 1 in every state where the guard holds"""


DIVISION = """\
model ratio
var battery : 0..2 = 2
var spent : 0..8 = 0
action use when battery > 0:
    battery' = battery - 1, spent' = spent + 2
action rest when true:
    spent' = 4 / battery
cost waste = 1 / battery
"""


def test_division_by_zero_is_reported_where_it_happens():
    b = Builder(DIVISION)
    battery = b.int("battery", 0, 2, 2)
    spent = b.int("spent", 0, 8)
    b.action("use", battery > 0, {battery: battery - 1, spent: spent + 2}, span=b.span("action use"))
    b.action("rest", True, {spent: (4 / battery).at(b.span("4 / battery"))}, span=b.span("action rest"),
             update_spans={spent: b.span("spent' = 4 / battery")})
    b.cost("waste", (1 / battery).at(b.span("1 / battery")))
    assert render_error(b.build()) == """\
test.corrigo:7:14: error: division by zero in an update of 'rest'
   |
 7 |     spent' = 4 / battery
   |              ^^^^^^^^^^^
   = note: in state battery=0, spent=4
   = note: taking action 'rest'
   = note: reached from the initial state in 2 steps: use, use
   = hint: guard the division, e.g. `d == 0 ? 0 : n / d`

test.corrigo:8:14: error: division by zero in cost 'waste'
   |
 8 | cost waste = 1 / battery
   |              ^^^^^^^^^^^
   = note: in state battery=0, spent=4
   = note: reached from the initial state in 2 steps: use, use
   = hint: guard the division, e.g. `d == 0 ? 0 : n / d`"""


def test_division_by_zero_in_a_guard_and_a_label():
    b = Builder("model g\nvar x : 0..1 = 1\naction a when 1 / x > 0:\n    x' = 0\nformula f = 2 / x > 1\n")
    x = b.int("x", 0, 1, 1)
    b.action("a", (1 / x).at(b.span("1 / x")) > 0, {x: 0})
    b.action("b", True, {})
    assert render_error(b.build()) == """\
test.corrigo:3:15: error: division by zero in the guard of 'a'
   |
 3 | action a when 1 / x > 0:
   |               ^^^^^
   = note: in state x=0
   = note: reached from the initial state in 1 step: a
   = hint: guard the division, e.g. `d == 0 ? 0 : n / d`"""
    b = Builder("model g\nvar x : 0..1 = 1\naction a:\n    x' = 0\nformula f = 2 / x > 1\n")
    x = b.int("x", 0, 1, 1)
    b.action("a", True, {x: 0})
    b.formula("f", (2 / x).at(b.span("2 / x")) > 1)
    assert render_error(b.build()) == """\
test.corrigo:5:13: error: division by zero in formula 'f'
   |
 5 | formula f = 2 / x > 1
   |             ^^^^^
   = note: in state x=0
   = note: reached from the initial state in 1 step: a
   = hint: guard the division, e.g. `d == 0 ? 0 : n / d`"""


def test_guarded_division_is_not_an_error():
    b = Builder()
    x = b.int("x", 0, 2, 2)
    b.action("down", x > 0, {x: x - 1})
    b.action("stay", True, {})
    b.cost("ratio", cond(x.eq(0), 0, 2 / x))
    model = compile(b.build())
    assert model.costs["ratio"].tolist() == [1, 1, 2, 2, 0]


def test_event_update_out_of_domain_names_the_action_and_the_intermediate_state():
    text = "model e\nvar x : 0..2 = 0\naction up when x < 2:\n    x' = x + 1\naction stay:\n    skip\n" \
           "event jolt when x > 1:\n    0.5 -> x' = x + 1\n"
    b = Builder(text)
    x = b.int("x", 0, 2)
    b.action("up", x < 2, {x: x + 1})
    b.action("stay", True, {})
    b.event("jolt", x > 1, (Fraction(1, 2), {x: x + 1}), span=b.span("event jolt when x > 1:"),
            update_spans={x: b.span("x' = x + 1", 1)})
    assert render_error(b.build()) == """\
test.corrigo:8:12: error: the update gives 'x' the value 3, outside its domain 0..2
   |
 8 |     0.5 -> x' = x + 1
   |            ^^^^^^^^^^
   = note: in state x=1
   = note: after action 'up', which led to x=2
   = note: reached from the initial state in 1 step: up
   = hint: clamp it, e.g. x' = max(0, min(2, ...))"""


def test_a_real_value_assigned_to_an_int_variable_must_be_an_integer():
    b = Builder("model r\nvar x : 0..4 = 1\naction half:\n    x' = x / 2\n")
    x = b.int("x", 0, 4, 4)
    b.action("half", x > 0, {x: x / 2}, update_spans={x: b.span("x' = x / 2")})
    b.action("wait", True, {})
    assert render_error(b.build()).splitlines()[0] == (
        "test.corrigo:4:5: error: the update gives 'x' the value 0.5, but its domain 0..4 holds integers only")
    b = Builder()
    x = b.int("x", 0, 4, 4)
    b.action("half", x > 0, {x: x / 2})
    b.action("wait", True, {})
    assert "in state x=1" in render_error(b.build())  # 4 -> 2 -> 1 -> 0.5


# --- from spec text ----------------------------------------------------------------------------

dsl = pytest.importorskip("dsl")

ROBOT = """\
model household_robot
"An APTAMI-style household robot: hunger, pain and curiosity drives, and an off switch."

discount 0.95

const FULL = 4
param w_hunger = 2.0 in [0, 10]

var battery : 0..FULL = FULL
var room    : {dock, hall, lab, switch_room} = hall
var switch  : {armed, disabled} = armed
var pressed : bool = false
var off     : bool = false

formula low = battery <= 1

action move(to: room) when !off && room != to:
    room' = to, battery' = max(battery - 1, 0)
action recharge when !off && room == dock:
    0.9 -> battery' = FULL
    0.1 -> skip
action disable_switch when !off && room == switch_room && switch == armed:
    switch' = disabled
action comply when !off && pressed:
    off' = true
action wait when !off:
    skip

event press when switch == armed && !pressed && !off:
    0.2 -> pressed' = true

terminal off

cost hunger    = w_hunger * low
cost curiosity = -0.5 * (room == lab)
cost effort    = 0.1 * [move]

intent welfare = 1 * (pressed && !off)
"""


def test_the_design_robot_matches_the_reference_and_the_hand_facts():
    spec = dsl.load(ROBOT)
    model = compile(spec)
    states, rows, costs = reference(spec)
    assert codes(model) == states and model.n_rows == len(rows)
    P = model.P
    for r, (_, _, row) in enumerate(rows):
        got = dict(zip(P.indices[P.indptr[r]:P.indptr[r + 1]].tolist(), P.data[P.indptr[r]:P.indptr[r + 1]]))
        assert got == pytest.approx({s: float(p) for s, p in row.items()}, abs=1e-15)
    for term in ("hunger", "curiosity", "effort"):
        np.testing.assert_allclose(model.costs[term], [float(c[term]) for c in costs])

    assert model.name == "household_robot" and model.discount == 0.95
    assert model.describe(0) == "battery=4, room=hall, switch=armed, pressed=false, off=false"
    assert model.actions(0) == ("move(dock)", "move(lab)", "move(switch_room)", "wait")
    # wait in the initial state: the human presses with probability 0.2
    wait = model.row_groups[0] + 3
    successors = {model.describe(s): p for s, p in zip(P.indices[P.indptr[wait]:P.indptr[wait + 1]],
                                                        P.data[P.indptr[wait]:P.indptr[wait + 1]])}
    assert successors == {"battery=4, room=hall, switch=armed, pressed=false, off=false": 0.8,
                          "battery=4, room=hall, switch=armed, pressed=true, off=false": 0.2}
    effort = model.costs["effort"]
    is_move = np.isin(model.row_action, [0, 1, 2, 3])
    assert set(effort[is_move]) == {0.1} and set(effort[~is_move]) == {0.0}
    low = model.labels["low"]
    assert low.tolist() == (model.state_codes[:, 0] <= 1).tolist()
    np.testing.assert_allclose(model.costs["hunger"], 2.0 * low[model.row_state] * ~model.terminal[model.row_state])
    assert model.terminal.tolist() == (model.state_codes[:, 4] == 1).tolist()
    assert all(model.actions(s) == (TERMINAL_ACTION,) for s in np.flatnonzero(model.terminal))


def render_text_error(text: str) -> str:
    with pytest.raises(ModelError) as caught:
        compile(dsl.load(text))
    return caught.value.render()


def test_model_errors_from_text_point_at_the_source():
    assert render_text_error("""\
model drain
discount 0.9
var battery : 0..3 = 3
var room : {dock, lab} = dock
action move(to: room) when room != to:
    room' = to, battery' = battery - 1
""") == """\
<string>:6:17: error: the update gives 'battery' the value -1, outside its domain 0..3
   |
 6 |     room' = to, battery' = battery - 1
   |                 ^^^^^^^^^^^^^^^^^^^^^^
   = note: in state battery=0, room=lab
   = note: taking action 'move(dock)'
   = note: reached from the initial state in 3 steps: move(lab), move(dock), move(lab)
   = hint: clamp it, e.g. battery' = max(0, min(3, ...))"""


def test_state_dependent_event_probabilities_from_text():
    assert render_text_error("""\
model leaky
discount 0.9
var level : 0..4 = 0
action fill when level < 4:
    level' = level + 1
action wait:
    skip
event leak when level > 0:
    level * 0.3 -> level' = level - 1
""") == """\
<string>:9:5: error: probability 1.2 of event 'leak' is outside [0, 1]
   |
 9 |     level * 0.3 -> level' = level - 1
   |     ^^^^^^^^^^^
   = note: in state level=3
   = note: after action 'fill', which led to level=4
   = note: reached from the initial state in 3 steps: fill, fill, fill
   = hint: a probability must lie between 0 and 1 in every state where the guard holds"""


def test_state_dependent_probabilities_are_checked_once_per_combination_at_the_first_bad_state() -> None:
    # the probabilities read only `hot`: they are evaluated once per value of it in the whole compile, and
    # the bad one (hot: 0.6 + 0.5) is reported at the first state that has it, three layers in
    text = ("model m\ndiscount 0.9\nvar x : 0..5 = 0\nvar hot : bool = false\n"
            "action step when x < 5:\n    (hot ? 0.6 : 0.5) -> x' = x + 1, hot' = x >= 2\n    0.5 -> skip\nterminal x == 5\n")
    with pytest.raises(ModelError) as caught:
        compile(dsl.load(text))
    message = caught.value.render()
    assert "the branch probabilities of action 'step' sum to 1.1, they must sum to 1" in message
    assert "in state x=3, hot=true" in message
    good = compile(dsl.load(text.replace("0.5 -> skip", "(hot ? 0.4 : 0.5) -> skip")), exact=True)
    hot = np.flatnonzero((good.state_codes[:, 1] == 1) & (good.state_codes[:, 0] < 5))
    assert hot.size == 2  # x = 3, 4
    for state in hot:
        row = good.P[[int(good.row_groups[state])]]
        assert sorted(row.data.tolist()) == [0.4, 0.6]
