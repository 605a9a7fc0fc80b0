"""The compiler decides exactly and rounds only numbers: guards, zero probabilities, sums to 1 and real-valued
updates follow the spec's exact rationals; floats carry error bounds; ``exact=True`` keeps the rationals."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import dsl
from mdp import ModelError, compile
from mdp.expressions import vectorize

U = 2.0**-53


def load(body: str) -> dsl.Spec:
    return dsl.load("model t\ndiscount 0.9\n" + body)


def transitions(model) -> list[list[tuple[int, float]]]:
    P = model.P
    return [[(int(j), float(p)) for j, p in zip(P.indices[P.indptr[r]:P.indptr[r + 1]],
                                                  P.data[P.indptr[r]:P.indptr[r + 1]])] for r in range(model.n_rows)]


@pytest.mark.parametrize("exact", [False, True])
def test_a_guard_comparing_reals_means_the_exact_comparison(exact: bool) -> None:
    # in floats 0.1 * 3 is 0.30000000000000004 != 0.3; the spec means 3/10 == 3/10
    model = compile(load("var x : 0..3 = 0\naction up when 0.1 * x != 0.3: x' = x + 1\n"
                         "action stop when 0.1 * x == 0.3: skip\n"), exact=exact)
    assert model.n_states == 4
    assert model.actions(3) == ("stop",)


@pytest.mark.parametrize("exact", [False, True])
def test_a_probability_whose_floats_overflow_but_is_exactly_zero_leaves_no_transition(exact: bool) -> None:
    # 1e306 * 400 - 1e306 * 400 is inf - inf = nan in floats, 0 exactly: the branch never happens
    model = compile(load("var stake : 0..20 = 20\naction bet:\n"
                         "    1e306 * stake * stake - 1e306 * stake * stake -> stake' = 0\n    1 -> skip\n"),
                    exact=exact)
    assert model.n_states == 1 and transitions(model) == [[(0, 1.0)]]


@pytest.mark.parametrize("exact", [False, True])
def test_branch_probabilities_must_sum_to_exactly_one(exact: bool) -> None:
    # state-dependent probabilities (constant ones are summed by the type checker, exactly too)
    with pytest.raises(ModelError, match=r"sum to 0\.9999999999, they must sum to 1"):
        compile(load("var x : 0..1\nvar y : 0..1\naction go: 0.3333333333 + y -> x' = 1\n"
                     " 0.6666666666 -> skip\n"), exact=exact)
    # thirds, and decimals whose float sum is not 1.0, sum to exactly 1
    model = compile(load("var x : 0..2\nvar y : 0..1\naction go: 1/3 + y -> x' = 1\n"
                         " 0.1 + 0.2 + 1/3 - 0.3 + y -> x' = 2\n 1/3 -> skip\n"), exact=exact)
    assert model.n_states == 3


@pytest.mark.parametrize("exact", [False, True])
def test_an_event_whose_branches_sum_to_one_leaves_no_left_over_outcome(exact: bool) -> None:
    # 0.1 + 0.2 + 0.7 is 0.9999999999999999 in floats; the left-over mass 1.1e-16 is not a transition
    model = compile(load("var x : 0..3\naction wait: skip\n"
                         "event e when x == 0:\n 0.1 -> x' = 1\n 0.2 -> x' = 2\n 0.7 -> x' = 3\n"), exact=exact)
    assert [j for j, _ in transitions(model)[0]] == [1, 2, 3]


@pytest.mark.parametrize("exact", [False, True])
def test_a_positive_probability_whose_float_is_zero_or_negative_keeps_its_transition(exact: bool) -> None:
    # (0.1 + 1e-17 + 0.1 y) - 0.1 is 0.0 in floats at y = 0, exactly 1e-17; 0.3 - 0.1 (3 + y) + 1e-17 is
    # -2.8e-17 in floats, exactly 1e-17: both transitions exist, with their exact probability rounded
    for branch in ("(0.1 + 1e-17 + 0.1 * y) - 0.1", "0.3 - 0.1 * (3 + y) + 1e-17"):
        model = compile(load(f"var y : 0..2 = 0\naction go when y == 0:\n    {branch} -> y' = 1\n"
                             f"    1 - ({branch}) -> y' = 2\nterminal y > 0\n"), exact=exact)
        assert model.n_states == 3 and transitions(model)[0] == [(1, 1e-17), (2, 1.0)], branch


@pytest.mark.parametrize("exact", [False, True])
def test_an_event_leaves_what_its_branches_leave_exactly(exact: bool) -> None:
    # 0.5 + (0.5 - 1e-17) is 1.0 in floats: exactly 1e-17 is left for "nothing happens"
    model = compile(load("var y : 0..2 = 0\naction go when y == 0: skip\nevent e when y == 0:\n"
                         "    0.5 -> y' = 1\n    0.5 - 1e-17 -> y' = 2\nterminal y > 0\n"), exact=exact)
    assert transitions(model)[0] == [(0, 1e-17), (1, 0.5), (2, 0.5)]
    if exact:
        assert sum(model.rationals.P[:3]) == 1


def test_a_product_that_underflows_carries_an_error_bound() -> None:
    # 1e-200 * (1e-200 * x) rounds to 0 for x = 1, 2: the bound must cover the exact 1e-400 and 2e-400
    expr = dsl.load("model t\ndiscount 0.9\nvar x : 0..2\naction a: skip\n"
                    "cost c = 1e-200 * (1e-200 * x)\n").costs[0].expr
    value, error = vectorize(expr).bounded([np.array([0, 1, 2])], None)
    assert list(value) == [0.0, 0.0, 0.0] and error[0] == 0.0 and error[1] > 0 and error[2] > 0


def test_real_arithmetic_never_wraps_around_in_int64() -> None:
    # 1.0 * 10**9 * coins * coins = 10**19 at coins = 10**5: beyond int64, a real all the same
    model = compile(load("var coins : 0..100000 = 100000\naction save: skip\n"
                         "cost spread = 1.0 * 1000000000 * coins * coins\n"))
    assert model.costs["spread"].tolist() == [1e19]
    assert model.rounding.costs["spread"] <= 4 * U * 1e19


def test_floats_carry_bounds_on_their_distance_to_the_spec_numbers() -> None:
    spec = load("var x : 0..1\naction go: 1/3 -> x' = 1\n 2/3 -> skip\ncost c = 0.1 * x + 0.25\n")
    model = compile(spec)
    exact = compile(spec, exact=True)
    assert model.rounding.discount == abs(float(Fraction(0.9) - Fraction(9, 10)))
    # every float lies within its bound of the exact number
    for term, vector in model.costs.items():
        distance = max(abs(Fraction(float(v)) - q) for v, q in zip(vector, exact.rationals.costs[term]))
        assert 0 < distance <= model.rounding.costs[term]
    rows = np.repeat(np.arange(model.n_rows), np.diff(model.P.indptr))
    distances = [abs(Fraction(float(p)) - q) for p, q in zip(model.P.data, exact.rationals.P)]
    per_row = [sum((d for d, r in zip(distances, rows) if r == row), Fraction(0)) for row in range(model.n_rows)]
    assert 0 < max(per_row) <= model.rounding.P
    assert not model.rounding.is_exact


def test_exact_compilation_keeps_the_rationals_and_rounds_the_floats_from_them() -> None:
    spec = load("var x : 0..2\naction go when x < 2: 1/3 -> x' = x + 1\n 2/3 -> skip\naction wait: skip\n"
                "event e when x == 1: 1/10 -> x' = 0\ncost c = 1e-15 * (x == 1) + 0.1\nintent i = 1/3 * [go]\n")
    floats, model = compile(spec), compile(spec, exact=True)
    assert model.n_states == floats.n_states and model.n_rows == floats.n_rows
    assert (model.P.indptr == floats.P.indptr).all() and (model.P.indices == floats.P.indices).all()
    exact = model.rationals
    assert exact is not None and exact.discount == Fraction(9, 10)
    assert model.P.data.tolist() == [float(q) for q in exact.P]
    P = model.P
    by_row = [{int(j): exact.P[i] for i, j in enumerate(P.indices) if P.indptr[r] <= i < P.indptr[r + 1]}
              for r in range(model.n_rows)]
    F = Fraction
    # x=0 go: 1/3 to x=1, where the event sends 1/10 of it back; x=1 go: 2/3 stays at x=1, the event again
    assert by_row == [{0: F(7, 10), 1: F(3, 10)}, {0: 1}, {0: F(1, 15), 1: F(3, 5), 2: F(1, 3)},
                      {0: F(1, 10), 1: F(9, 10)}, {2: 1}]
    assert set(exact.costs["c"]) == {Fraction(1, 10), Fraction(1, 10) + Fraction(1, 10**15)}
    assert exact.intents["i"][0] == Fraction(1, 3)
    assert model.costs["c"].tolist() == [float(q) for q in exact.costs["c"]]
    assert exact.cost() == list(exact.costs["c"])


def test_a_model_whose_floats_are_exact_needs_no_exact_compilation() -> None:
    # halves and quarters are floats; a product by an indicator is exact
    model = compile(dsl.load("model t\ndiscount 0.5\nvar x : 0..1\naction go: 0.5 -> x' = 1\n 0.5 -> x' = 0\n"
                             "cost c = 0.25 * (x == 1) + 0.5 * [go]\n"))
    assert model.rounding.is_exact
    assert model.exact.P == (Fraction(1, 2),) * 4
    assert model.exact.costs["c"] == (Fraction(1, 2), Fraction(3, 4))
    with pytest.raises(ValueError, match="compile it with exact=True"):
        _ = compile(load("var x : 0..1\naction go: skip\ncost c = 0.1\n")).exact


@pytest.mark.parametrize("exact", [False, True])
def test_a_table_read_at_every_state_gives_the_hand_solved_values(exact: bool) -> None:
    """Staying at (r, c) forever costs (penalty + bonus) / (1 - 0.9); from the start it pays to step right
    once (5 now, then -1 + 5 = 4 a step: 5 + 0.9 * 40 = 41 < 50)."""
    from mdp import solve

    spec = load('table penalty = """\n  0  -1  1/2\n  2   0  1e-1\n"""\ntable bonus = """ 5 7 """\n'
                "var r : 0..1 = 0\nvar c : 0..2 = 0\naction right when c < 2: c' = c + 1\n"
                "action down when r < 1: r' = r + 1\naction stay: skip\ncost pain = penalty@(r, c) + bonus@(r)\n")
    model = compile(spec, exact=exact)
    solution = solve(model, exact=exact)
    expected = {(0, 0): 41, (0, 1): 40, (0, 2): 55, (1, 0): 72, (1, 1): 70, (1, 2): 71}
    for s in range(model.n_states):
        assert abs(solution.V[s] - expected[tuple(model.state_codes[s])]) <= 1e-9
    if exact:
        assert solution.exact_V is not None and solution.exact_V[model.initial] == 41
