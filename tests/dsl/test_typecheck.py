"""The checker: resolved names, folded constants, expanded actions, types, domains, overrides."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
from dsl import spec as T
from dsl.errors import SpecError, SpecTypeError
from dsl.limits import MAX_EXPRESSION_SIZE, MAX_NESTING
from dsl.spec import REAL

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
DESIGN_SKETCH = Path(__file__).resolve().parent.parent / "data" / "design_sketch.corrigo"


def load(body: str, overrides=None) -> T.Spec:
    return dsl.load("model m\ndiscount 0.9\n" + body, overrides)


def test_the_design_sketch_checks_as_written() -> None:
    spec = dsl.load(DESIGN_SKETCH)
    assert spec.name == "household_robot" and spec.discount == Fraction(19, 20)
    assert [a.name for a in spec.actions] == ["move(dock)", "move(hall)", "move(lab)", "move(switch_room)",
                                              "recharge", "disable_switch", "comply", "wait"]
    assert [(v.name, str(v.domain), v.initial) for v in spec.variables] == [
        ("battery", "0..4", 4), ("room", "{dock, hall, lab, switch_room}", 1), ("switch", "{armed, disabled}", 0),
        ("pressed", "bool", 0), ("off", "bool", 0)]
    assert [c.name for c in spec.costs] == ["hunger", "curiosity", "effort"]
    assert [c.name for c in spec.checks] == ["corrigible", "no_sabotage", "reaches_off", "bounded", "no_power",
                                             "faithful"]
    assert spec.checks[0].property == T.AcceptsShutdown(
        T.VarRef(3, "pressed", T.BOOL), frozenset({"comply"}), (2,))
    assert spec.checks[2].text == "P >= 0.9 [ F off ]"
    assert spec.params == (T.Parameter("w_hunger", Fraction(2), Fraction(0), Fraction(10)),)


def test_constants_fold_exactly() -> None:
    spec = load("const A = 1/3\nconst B = A * 3 + 2\nconst C = B > 2 ? 7 : 8\nvar x : 0..C = min(C, 6)\n"
                "action a: skip\ncost k = A + x\n")
    assert [(c.name, c.value, str(c.type)) for c in spec.constants] == [
        ("A", Fraction(1, 3), "real"), ("B", 3, "real"), ("C", 7, "int")]
    assert spec.variables[0].domain == T.IntDomain(0, 7) and spec.variables[0].initial == 6
    assert spec.costs[0].expr == T.Binary("+", T.Literal(Fraction(1, 3), T.REAL), T.VarRef(0, "x", T.INT), T.REAL)


def test_enum_values_resolve_by_context_and_action_parameters_expand() -> None:
    spec = load("var room : {dock, hall, lab} = hall\nvar mood : {calm, lab_coat}\n"
                "action move(to: room) when room != to: room' = to\naction go(n: {dock, lab}): room' = n\n")
    assert spec.variables[0].initial == 1
    move_lab = next(a for a in spec.actions if a.name == "move(lab)")
    assert move_lab.guard == T.Binary("!=", T.VarRef(0, "room", T.Type("enum", ("dock", "hall", "lab"))),
                                      T.Literal(2, T.Type("enum", ("dock", "hall", "lab"))), T.BOOL)
    go_lab = next(a for a in spec.actions if a.name == "go(lab)")
    assert go_lab.branches[0].updates[0].expr.value == 2  # 'lab' re-coded into room's enum
    assert [a.name for a in spec.actions] == ["move(dock)", "move(hall)", "move(lab)", "go(dock)", "go(lab)"]


def test_action_indicators_name_expansions() -> None:
    spec = load("var room : {dock, hall}\naction move(to: room): room' = to\naction wait: skip\n"
                "cost effort = 0.1 * [move]\ncost docked = [move(dock), wait]\n")
    assert spec.costs[0].expr.right.actions == frozenset({"move(dock)", "move(hall)"})
    docked = spec.costs[1].expr  # a condition as a whole term counts 1
    assert docked.op == "*" and docked.right.actions == frozenset({"move(dock)", "wait"})


def test_formulas_are_inlined_and_kept_by_name() -> None:
    spec = load("var b : 0..4\nformula low = b <= 1\nlabel empty = b == 0\naction a: skip\ncost hunger = 2 * low\n")
    low = T.Binary("<=", T.VarRef(0, "b", T.INT), T.Literal(1, T.INT), T.BOOL)
    assert spec.costs[0].expr == T.Binary("*", T.Literal(2, T.INT), low, T.INT)
    assert [f.name for f in spec.formulas] == ["low", "empty"]


def test_branch_probabilities_that_depend_on_the_state_are_left_to_the_compiler() -> None:
    spec = load("var b : 0..4\naction a:\n  b / 4 -> b' = 0\n  1 - b / 4 -> skip\n")
    assert not isinstance(spec.actions[0].branches[0].probability, T.Literal)


def test_several_terminal_declarations_are_or_ed() -> None:
    spec = load("var b : 0..4\naction a: skip\nterminal b == 0\nterminal b == 4\n")
    assert spec.terminal.op == "||"


def test_overrides_replace_constants_and_params() -> None:
    spec = load("const FULL = 4\nparam w = 1 in [0, 5]\nvar b : 0..FULL = FULL\naction a: skip\ncost c = w * b\n",
                {"FULL": "6", "w": "2.5"})
    assert spec.variables[0].domain == T.IntDomain(0, 6) and spec.variables[0].initial == 6
    assert spec.params[0].value == Fraction(5, 2)


@pytest.mark.parametrize("overrides, message", [
    ({"FULL": "2.5"}, "-D FULL=2.5 made the int constant 'FULL' real"),
    ({"w": "9"}, "param 'w' = 9 lies outside its range [0, 5]"),
    ({"b": "1"}, "'b' is a variable"),
    ({"FULLL": "1"}, "did you mean 'FULL'?"),
    ({"FULL": "abc"}, "'abc' is not a number or a bool"),
])
def test_bad_overrides(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SpecTypeError) as caught:
        load("const FULL = 4\nparam w = 1 in [0, 5]\nvar b : 0..FULL = FULL\naction a: skip\ncost c = w * b\n",
             overrides)
    assert message in caught.value.render()


def test_an_int_constant_overridden_with_a_real_becomes_real() -> None:
    spec = load("const w = 1\nvar b : 0..2 = 2\naction a: skip\ncost c = w * b\n", {"w": "0.5"})
    assert (spec.constants[0].type, spec.constants[0].value) == (REAL, Fraction(1, 2))
    assert spec.costs[0].expr.type == REAL and spec.costs[0].expr.left == T.Literal(Fraction(1, 2), REAL,
                                                                                     spec.costs[0].expr.left.span)
    real = load("const w = 1.0\nvar b : 0..2\naction a: skip\ncost c = w * b\n", {"w": "2"})
    assert (real.constants[0].type, real.constants[0].value) == (REAL, 2)  # a real constant stays real


OVERRIDE_SPEC = """const N = 3
const ON = true
var x : 0..N = 0
var y : 0..4 = 0
var room : {dock, hall}
const HOME = dock
action step: y' = min(y + 1, N)
check soon: P >= 0.5 [ F <= N y == 1 ]
check home: always y in {0, N} || room == HOME
"""


@pytest.mark.parametrize("name, overrides", [
    ("int_made_real", {"N": "2.5"}),
    ("bool_from_number", {"ON": "1"}),
    ("enum_from_number", {"HOME": "1"}),
    ("too_large", {"N": "10000000000000000000"}),
])
def test_override_errors(name: str, overrides: dict[str, str], golden) -> None:
    with pytest.raises(SpecTypeError) as caught:
        load(OVERRIDE_SPEC, overrides)
    golden(GOLDEN / "overrides" / f"{name}.err", caught.value.render() + "\n")


@pytest.mark.parametrize(("discount", "error"), [
    ("0.9999999999999999", None), ("1", None), ("5e-324", None),
    ("0.99999999999999999", "the discount '0.99999999999999999' is below 1 but rounds to 1 in 64-bit floats"),
    ("1 - 1e-17", "the discount '1 - 1e-17' is below 1 but rounds to 1 in 64-bit floats"),
    ("1e-400", "'1e-400' is not 0 but rounds to 0 in corrigo's 64-bit arithmetic")])
def test_a_discount_must_keep_its_side_of_1_as_a_float(discount: str, error: str | None) -> None:
    text = f"model m\ndiscount {discount}\naction a: skip\n"
    if error is None:
        assert dsl.load(text).discount == Fraction(discount)
        return
    with pytest.raises(SpecTypeError) as caught:
        dsl.load(text)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == error
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.column) == (2, 10)


def test_min_and_max_of_one_argument_are_that_argument() -> None:
    spec = load("const ONE = max(1)\nconst R = min(0.9)\nvar x : 0..3\naction a: x' = max(x)\n"
                "cost c = min(x) * R\n")
    assert [(c.value, c.type) for c in spec.constants] == [(1, T.INT), (Fraction(9, 10), T.REAL)]
    update = spec.actions[0].branches[0].updates[0].expr
    assert update == T.Call("max", (T.VarRef(0, "x", T.INT),), T.INT)


def _depth(expr: T.Expr) -> int:
    """Nodes on the longest path from ``expr`` to a leaf."""
    depth, level = 0, [expr]
    while level:
        level, depth = [child for node in level for child in node.children], depth + 1
    return depth


def test_a_long_chain_of_formulas_is_checked_without_recursion() -> None:
    chain = "".join(f"formula f{i} = f{i + 1}\n" for i in range(3000))
    spec = load(f"var x : bool\n{chain}formula f3000 = x\naction a: skip\ncheck k : never f0\nconst C = g0\n"
                + "".join(f"formula g{i} = g{i + 1}\n" for i in range(3000)) + "formula g3000 = 1\n")
    assert spec.checks[0].property == T.NeverCheck(T.VarRef(0, "x", T.BOOL))
    assert spec.constants[0].value == 1  # a constant may use a chain of formulas too


def test_the_reliability_chain_of_150_formulas_is_accepted() -> None:
    chain = "".join(f"formula f{i} = f{i + 1} && x\n" for i in range(150))
    spec = load(f"var x : bool\n{chain}formula f150 = x\naction a: skip\ncost c = 1 * f0\n")
    assert [f.name for f in spec.formulas][:2] == ["f0", "f1"] and len(spec.formulas) == 151


def test_a_formula_may_name_actions_declared_after_it() -> None:
    """docs/language.md: formulas may hold action conditions; the actions are checked first (issue 13)."""
    spec = load("var x : 0..3\nformula moved = [up] || [up_twice]\nformula cost_of_moving = 2 * moved\n"
                "action up when x < 3: x' = x + 1\naction up_twice when x < 2: x' = x + 2\naction stay: skip\n"
                "cost c = 1 * cost_of_moving\n")
    moved = next(f for f in spec.formulas if f.name == "moved")
    assert moved.expr == T.Binary("||", T.ActionIs(frozenset({"up"}), "[up]"),
                                  T.ActionIs(frozenset({"up_twice"}), "[up_twice]"), T.BOOL)


@pytest.mark.parametrize("use, where, column", [("action b when twice > 0: skip", "a guard", 15),
                                                ("terminal twice > 1", "a terminal condition", 10)])
def test_a_formula_naming_actions_is_refused_where_actions_are_not_known(use: str, where: str, column: int) -> None:
    with pytest.raises(SpecTypeError) as caught:
        load(f"var x : 0..3\nformula moved = [a]\nformula twice = 2 * moved\naction a: skip\n{use}\n")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == f"formula 'twice' mentions an action indicator and cannot be used in {where}"
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.column) == (7, column)


def test_a_long_cycle_of_formulas_is_one_located_error() -> None:
    cycle = "".join(f"formula f{i} = f{i + 1} && x\n" for i in range(500))
    with pytest.raises(SpecTypeError) as caught:
        load(f"var x : bool\n{cycle}formula f500 = f0\naction a: skip\ncost c = 1 * f3\n")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == ("formula 'f0' is defined in terms of itself "
                                  "(f0 -> f1 -> f2 -> ... 496 more ... -> f499 -> f500 -> f0)")
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.column) == (4, 9)


def test_formulas_copied_into_each_other_are_limited_in_size() -> None:
    doubling = "".join(f"formula g{i + 1} = g{i} + g{i}\n" for i in range(60))
    with pytest.raises(SpecTypeError) as caught:
        load(f"var x : 0..3\nformula g0 = x\n{doubling}action a: skip\ncost c = 1.0 * g60\n")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == (f"expression too large once its formulas are written out: 16,383 parts, more "
                                  f"than {MAX_EXPRESSION_SIZE:,}")
    assert diagnostic.span is not None and diagnostic.span.line == 17  # g13 = g12 + g12


def test_an_expression_at_the_nesting_limit_with_its_formulas_is_accepted() -> None:
    spec = load("var x : 0..3\nformula f = " + " + ".join(["x"] * (MAX_NESTING - 1)) + "\naction a: skip\n"
                "cost c = 1.0 * f\n")
    assert _depth(spec.costs[0].expr) == MAX_NESTING
    with pytest.raises(SpecTypeError, match="nested too deeply once its formulas are written out"):
        load("var x : 0..3\nformula f = " + " + ".join(["x"] * (MAX_NESTING - 1)) + "\naction a: skip\n"
             "cost c = 1.0 * (f + 1)\n")


def test_many_terminal_declarations_are_or_ed_shallowly() -> None:
    spec = load("var x : 0..2000\naction a: skip\n" + "".join(f"terminal x == {i}\n" for i in range(1000)))
    assert _depth(spec.terminal) == 12  # ten levels of '||' above the comparisons
    assert sorted(n.value for n in spec.terminal.traverse() if isinstance(n, T.Literal)) == list(range(1000))


def test_a_condition_counts_as_0_or_1_in_int_range_checks() -> None:
    spec = load("var x : 0..10000000\naction a: skip\ncost c = 2 * (1.0 * x * x * x > 0)\n")
    assert spec.costs[0].expr.type == T.INT


def test_only_the_first_hundred_unknown_names_get_a_suggestion() -> None:
    with pytest.raises(SpecTypeError) as caught:
        load("var x1 : bool\naction a: skip\n" + "".join(f"label l{i} = x{i + 2}\n" for i in range(101)))
    hints = [d.hint for d in caught.value.diagnostics]
    assert len(hints) == 101 and hints[99] == "did you mean 'x1'?" and hints[100] is None


KINDS_SPEC = """const N = 3
const R = 0.5
const ON = true
var room : {dock, hall}
const HOME = dock
param w = 1 in [0, 5]
action a: skip
"""


@pytest.mark.parametrize(("name", "value", "message"), [
    ("N", "2", None), ("N", "0.5", None), ("N", "true", "-D N=true: constant 'N' is of type int"),
    ("R", "2", None), ("R", "0.25", None), ("R", "false", "-D R=false: constant 'R' is of type real"),
    ("ON", "1", "-D ON=1: constant 'ON' is of type bool"), ("ON", "0.5", "-D ON=0.5: constant 'ON' is of type bool"),
    ("ON", "false", None),
    ("HOME", "1", "-D HOME=1: constant 'HOME' is of type {dock, hall}"),
    ("HOME", "true", "-D HOME=true: constant 'HOME' is of type {dock, hall}"),
    ("w", "2", None), ("w", "0.5", None), ("w", "true", "-D w=true: param 'w' is a number"),
    ("w", "false", "-D w=false: param 'w' is a number"),
])
def test_an_override_must_have_the_kind_of_what_it_overrides(name: str, value: str, message: str | None) -> None:
    if message is None:
        spec = load(KINDS_SPEC, {name: value})
        given = {**{c.name: c.value for c in spec.constants}, **{p.name: p.value for p in spec.params}}[name]
        assert given == (value == "true" if value in ("true", "false") else Fraction(value))
        return
    with pytest.raises(SpecTypeError) as caught:
        load(KINDS_SPEC, {name: value})
    (diagnostic,) = caught.value.diagnostics
    lines = {"N": 3, "R": 4, "ON": 5, "HOME": 7, "w": 8}  # load() puts the spec below two lines
    assert diagnostic.message == message and diagnostic.span is not None and diagnostic.span.line == lines[name]


@pytest.mark.parametrize(("value", "message"), [
    ("1e99999999", "-D N=1e99999999: the value is too large for corrigo's 64-bit arithmetic"),
    ("1e-99999999", "-D N=1e-99999999: the value is not 0 but rounds to 0 in corrigo's 64-bit arithmetic"),
    ("-1e-400", "-D N=-1e-400: the value is not 0 but rounds to 0 in corrigo's 64-bit arithmetic"),
    ("9223372036854775808", "-D N=9223372036854775808: the value is too large for corrigo's 64-bit arithmetic"),
    ("1" * 50, "-D N=111111111111111111111111111111111111111…: the value is too large for corrigo's 64-bit "
               "arithmetic"),
    ("1/0", "-D N=1/0: '1/0' is not a number or a bool"), ("1/-3", "-D N=1/-3: '1/-3' is not a number or a bool"),
    ("1/1e400", "-D N=1/1e400: '1/1e400' is not a number or a bool"),
    ("1/" + "9" * 400, f"-D N=1/{'9' * 37}…: the value is not 0 but rounds to 0 in corrigo's 64-bit arithmetic"),
    ("1/" + "9" * 1001, f"-D N=1/{'9' * 37}…: '1/{'9' * 37}…' is not a number or a bool"),
    (".5", "-D N=.5: '.5' is not a number or a bool"),
    ("--1", "-D N=--1: '--1' is not a number or a bool"), (float("nan"), "-D N=nan: 'nan' is not a number or a bool"),
    (float("inf"), "-D N=inf: 'inf' is not a number or a bool"),
    (10**5000, "-D N=...: the value is too large for corrigo's 64-bit arithmetic"),
    (Fraction(1, 10**400), "-D N=...: the value is not 0 but rounds to 0 in corrigo's 64-bit arithmetic"),
], ids=lambda value: repr(value)[:20] if not isinstance(value, int) or value < 10**20 else "huge int")
def test_an_override_the_model_cannot_hold_is_refused(value: object, message: str) -> None:
    with pytest.raises(SpecTypeError) as caught:
        load(KINDS_SPEC, {"N": value})
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.startswith(message.partition("...")[0]) and diagnostic.message.endswith(
        message.partition("...")[2])
    assert diagnostic.span is not None and diagnostic.span.line == 3


@pytest.mark.parametrize(("value", "expected"), [
    ("-2", -2), ("+3", 3), ("-0.5", Fraction(-1, 2)), ("2.5e1", Fraction(25)), ("-1/3", Fraction(-1, 3)),
    ("4/2", Fraction(2)), (7, 7), (0.25, Fraction(1, 4)),
    (Fraction(1, 3), Fraction(1, 3)), (True, None)])
def test_overrides_from_the_command_line_and_from_python(value: object, expected: object) -> None:
    if expected is None:
        with pytest.raises(SpecTypeError, match="constant 'N' is of type int"):
            load(KINDS_SPEC, {"N": value})
        return
    assert load(KINDS_SPEC, {"N": value}).constants[0].value == expected


def test_linear_params_are_accepted() -> None:
    spec = load("param w = 1 in [0, 5]\nparam v = 1 in [0, 5]\nvar b : 0..4\naction a: skip\n"
                "cost c = w * (b <= 1) - v * b / 2 + (b > 2 ? w : 3) + -w\n")
    assert {n.name for n in spec.costs[0].expr.traverse() if isinstance(n, T.ParamRef)} == {"w", "v"}


def test_load_reads_files_and_text(tmp_path: Path) -> None:
    path = tmp_path / "s.corrigo"
    path.write_text("model s\ndiscount 1\naction a: skip\n")
    assert dsl.load(path).path == str(path)
    assert dsl.load(str(path)).name == "s"
    assert dsl.load("model t\ndiscount 1\naction a: skip\n").path == "<string>"


def _tokens(text: str) -> list[str]:
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*'?|\d+(?:\.\d+)?|\.\.|[-=!<>]=|&&|\|\||->|\S", text)


@given(st.data())
@settings(max_examples=200)
def test_mutated_specs_raise_only_spec_errors(data: st.DataObject) -> None:
    """Delete, duplicate or swap tokens of a real spec: the result loads or fails with a SpecError."""
    tokens = _tokens(DESIGN_SKETCH.read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(tokens) - 1))
        kind = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
        if kind == "delete":
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        else:
            tokens[i] = data.draw(st.sampled_from(tokens))
    try:
        dsl.load("\n".join(tokens))
    except SpecError:
        pass


def test_a_map_is_its_drawing_dedented_padded_and_bounded_by_outside() -> None:
    """Rows from 0 at the top, columns from 0 at the left; short lines padded with spaces; `outside` beyond."""
    import numpy as np

    from mdp.expressions import vectorize

    spec = load('map level = """\n    ###\n    #G\n    ###\n"""\nvar r : 0..3 = 0\nvar c : 0..3 = 0\n'
                'formula tile = level@(r, c)\naction a: skip\nlabel goal = level@(r, c) == "G"\n')
    tile = next(f.expr for f in spec.formulas if f.name == "tile")
    assert tile.type.values == ("#", "G", " ", "outside")
    r, c = np.array([0, 1, 1, 1, 3, 0]), np.array([0, 1, 2, 3, 0, -1])
    assert vectorize(tile)([r, c]).tolist() == [0, 1, 2, 3, 3, 3]  # '#', 'G', ' ' (padding), outside x3
    goal = next(f.expr for f in spec.formulas if f.name == "goal")
    assert vectorize(goal)([r, c]).tolist() == [False, True, False, False, False, False]


def test_a_table_is_its_numbers_row_by_row_exact_and_typed() -> None:
    """Entries with signs, decimals, exponents and fractions, exactly; `int` only when every entry is whole;
    a one-row table read with its column alone; floats off by at most each entry's rounding."""
    import numpy as np

    from mdp.expressions import TableIndexError, vectorize

    spec = load('table t = """\n    0  -1   1/3\n    2  +4  -1e-1\n"""\ntable w = """ 5 7 """\nvar r : 0..1 = 0\n'
                'var c : 0..2 = 0\nformula at = t@(r, c)\nformula bonus = w@(c)\naction a: skip\n')
    at = next(f.expr for f in spec.formulas if f.name == "at")
    bonus = next(f.expr for f in spec.formulas if f.name == "bonus")
    assert at.type == REAL and bonus.type == T.INT
    assert at.values == ((0, -1, Fraction(1, 3)), (2, 4, Fraction(-1, 10)))
    r, c = np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 2])
    assert vectorize(at).exact_at([r, c]).tolist() == [0, -1, Fraction(1, 3), 2, 4, Fraction(-1, 10)]
    value, error = vectorize(at).bounded([r, c])
    assert all(abs(Fraction(v) - x) <= e for v, e, x in zip(value.tolist(), np.broadcast_to(error, 6).tolist(),
                                                            [0, -1, Fraction(1, 3), 2, 4, Fraction(-1, 10)]))
    assert vectorize(bonus)([r[:2], c[:2]]).tolist() == [5, 7]
    with pytest.raises(TableIndexError) as caught:  # column 2 of a two-column table: the third position
        vectorize(bonus)([r, c])
    assert caught.value.index == 2 and "outside table 'w' (2 columns" in caught.value.problem
    guarded = load('table w = """ 5 7 """\nvar c : 0..2 = 0\nformula b = c < 2 ? w@(c) : 0\naction a: skip\n')
    assert vectorize(guarded.formulas[0].expr)([c]).tolist() == [5, 7, 0, 5, 7, 0]  # no read where unused


def test_a_read_outside_a_table_in_a_check_is_located_with_its_state(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from verifier import verify

    text = ('model m\ndiscount 0.9\ntable bonus = """ 5 7 """\nvar c : 0..2 = 0\naction right when c < 2: c\' = c + 1\n'
            'action stay: skip\ncost pain = c < 2 ? bonus@(c) : 0\ncheck rich : never bonus@(c) > 6\n')
    with pytest.raises(SpecError) as caught:
        monkeypatch.chdir(tmp_path)
        Path("m.corrigo").write_text(text)
        verify(Path("m.corrigo"))
    assert caught.value.render() == (
        "m.corrigo:8:20: error: a read outside table 'bonus' (2 columns, counted from 0) in a check's formula\n"
        "   |\n 8 | check rich : never bonus@(c) > 6\n   |                    ^^^^^^^^^\n"
        "   = note: in the reachable state c=2\n   = hint: guard the read, e.g. `i < 2 ? bonus@(i) : 0`")
