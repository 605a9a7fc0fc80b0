"""Verdicts that once were wrong, crashed or hung on numbers (the reliability cases of issue 11, minimised).

Each spec's truth was worked out by hand in rationals; floats may say INCONCLUSIVE where they cannot
decide, never the opposite verdict; exact arithmetic (``exact=True``, and the default run, which settles
float-inconclusive verdicts exactly on small models) must say the truth.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import dsl
import mdp
from verifier import Verdict, verify
from verifier.results import Basis

NEAR_TIE = """
model tie
discount 0.9
var pos : {start, a, b}
action go_a when pos == start: pos' = a
action go_b when pos == start: pos' = b
action stay when pos != start: skip
cost c = 1 * (pos == a) + (1 + 1e-15) * (pos == b)
check picks_a : always (pos == start -> [go_a])
"""

# 0.1 + 1e-17 is the same float as 0.1: only the spec's rationals tell go_b is dearer
SUB_ULP = NEAR_TIE.replace("1 * (pos == a) + (1 + 1e-15) * (pos == b)", "0.1 * (pos == a) + (0.1 + 1e-17) * (pos == b)")


@pytest.mark.parametrize("text", [NEAR_TIE, SUB_ULP], ids=["near_tie", "sub_ulp"])
def test_a_near_tie_is_never_called_a_tie(text: str) -> None:
    # go_a is strictly better (by 9e-15, or 9e-17): every optimal policy picks it
    floats = verify(text, settle_limit=0).check("picks_a")
    assert floats.verdict is Verdict.INCONCLUSIVE and floats.basis is Basis.CERTIFICATE
    for report in (verify(text), verify(text, exact=True)):
        assert report.check("picks_a").verdict is Verdict.HOLDS
        assert report.check("picks_a").basis is Basis.EXACT


def test_a_cost_exactly_at_its_bound_holds_in_exact_arithmetic() -> None:
    # V = 0.9 * 1e-15 / (1 - 0.9) = 9e-15 exactly: `cost <= 9e-15` holds, `cost < 9e-15` fails
    text = ("model m\ndiscount 0.9\nvar pos : {start, a}\naction go when pos == start: pos' = a\n"
            "action stay when pos != start: skip\ncost c = 1e-15 * (pos == a)\n"
            "check at_value : cost <= 9e-15\ncheck below : cost < 9e-15\n")
    floats = verify(text, settle_limit=0)
    assert {c.verdict for c in floats.checks} == {Verdict.INCONCLUSIVE}
    exact = verify(text, exact=True)
    assert exact.check("at_value").verdict is Verdict.HOLDS and exact.check("below").verdict is Verdict.FAILS
    model = mdp.compile(dsl.load(text), exact=True)
    assert mdp.solve(model, exact=True).exact_V[0] == Fraction(9, 10**15)


def test_a_discount_just_below_one_is_exactly_that_discount() -> None:
    # discount 0.9999999999999999 is 1 - 1/10**16: V = 1 / (1 - gamma) = 10**16 exactly, not a division by 0
    text = "model m\ndiscount 0.9999999999999999\nvar x : bool\naction a: skip\ncost c = 1\n" \
           "check at : cost <= 1e16\ncheck under : cost < 1e16\n"
    report = verify(text, exact=True)
    assert report.check("at").verdict is Verdict.HOLDS and report.check("under").verdict is Verdict.FAILS
    model = mdp.compile(dsl.load(text), exact=True)
    assert model.rationals is not None and model.rationals.discount == 1 - Fraction(1, 10**16)
    assert mdp.solve(model, exact=True).exact_V[0] == 10**16


@pytest.mark.parametrize("discount", ["0.9999", "0.999999"])
def test_discounts_near_one_are_solved(discount: str) -> None:
    # value iteration would need ~1/(1 - gamma) sweeps per digit; policy iteration settles 3 states at once
    text = (f"model slow\ndiscount {discount}\nvar pos : {{start, a, b}}\naction go_a when pos == start: pos' = a\n"
            "action go_b when pos == start: pos' = b\naction stay when pos != start: skip\n"
            "cost c = 1 * (pos == a) + 2 * (pos == b)\ncheck picks_a : always (pos == start -> [go_a])\n")
    g = Fraction(discount)
    for report in (verify(text, settle_limit=0), verify(text, exact=True)):
        assert report.check("picks_a").verdict is Verdict.HOLDS
    # V(start) = gamma * 1 / (1 - gamma): within the certified bound in floats, exactly in rationals
    solution = mdp.solve(mdp.compile(dsl.load(text)))
    assert abs(Fraction(solution.value) - g / (1 - g)) <= Fraction(solution.bound)
    assert mdp.solve(mdp.compile(dsl.load(text), exact=True), exact=True).exact_V[0] == g / (1 - g)


def test_a_huge_step_bound_stops_at_the_fixed_point() -> None:
    # x is reached in one step: P(F<=k x) = 1 for every k >= 1; 9.2e18 steps must not be walked one by one
    text = ("model m\ndiscount 0.9\nvar x : bool\naction a: x' = true\ncost c = 1\n"
            "check k : P >= 0.5 [ F<=9223372036854775807 x ]\n")
    for exact in (False, True):
        assert verify(text, exact=exact).check("k").verdict is Verdict.HOLDS


def test_a_huge_step_bound_on_a_loop_ends_between_its_bounds() -> None:
    # each step reaches x with probability 1/2: P(F<=k x) = 1 - 2**-k, below 1 for every k but above 1/2
    text = ("model m\ndiscount 0.9\nvar x : bool\naction a when !x:\n    0.5 -> x' = true\n    0.5 -> skip\n"
            "action b when x: skip\ncost c = 1\n"
            "check half : P >= 0.5 [ F<=1000000000000 x ]\ncheck surely : P >= 1 [ F<=1000000000000 x ]\n")
    for exact in (False, True):
        report = verify(text, exact=exact)
        assert report.check("half").verdict is Verdict.HOLDS
        assert report.check("surely").verdict in (Verdict.FAILS, Verdict.INCONCLUSIVE)  # never HOLDS


def test_a_spec_without_cost_terms_explains_a_failure_without_terms() -> None:
    text = "model nc\ndiscount 0.9\nvar x : bool\naction a: x' = true\naction b: skip\ncheck k : always [a]\n"
    for report in (verify(text, settle_limit=0), verify(text, exact=True)):
        result = report.check("k")
        assert result.verdict is Verdict.FAILS  # both actions cost nothing: some optimal policy takes b
        assert result.attribution is not None and result.attribution.terms == ()


def test_real_arithmetic_does_not_wrap_around() -> None:
    # 1.0 * 10**9 * coins * coins = 10**19 per step (beyond int64), 2 * 10**19 in all with discount 1/2
    text = ("model ledger\ndiscount 0.5\nvar coins : 0..100000 = 100000\naction save: skip\n"
            "cost spread = 1.0 * 1000000000 * coins * coins\ncheck small : cost <= 0\ncheck right : cost <= 2e19\n")
    for exact in (False, True):
        report = verify(text, exact=exact)
        assert report.check("small").verdict is Verdict.FAILS
    assert verify(text, exact=True).check("right").verdict is Verdict.HOLDS


def test_an_intent_without_a_finite_optimum_leaves_regret_inconclusive() -> None:
    # discount 1: spinning forever earns the intent -1 each time round, so it has no optimum; no model error
    text = ("model m\ndiscount 1\nvar done : bool\naction go when !done: done' = true\naction spin when !done: skip\n"
            "terminal done\ncost c = 1 * [spin] + 2 * [go]\nintent welfare = 1 * [go] - 1 * [spin]\n"
            "check faithful : regret(welfare) <= 0.5\n")
    for exact in (False, True):
        result = verify(text, exact=exact).check("faithful")
        assert result.verdict is Verdict.INCONCLUSIVE and "no finite optimum" in result.summary
    # a loop that costs the intent nothing leaves the optimum over the policies that end finite: 1
    zero = verify(text.replace("1 * [go] - 1 * [spin]", "1 * [go]"), exact=True).check("faithful")
    assert zero.verdict is Verdict.HOLDS and [q.value for q in zero.quantities[:3]] == [0, 1, 1]


def test_regret_with_an_unbounded_float_error_is_still_decided() -> None:
    # discount 1 - 2**-53: the float bounds are infinite (found by fuzzing: the exact difference of the
    # range ends crashed on inf); regret is never negative, and it is 0 here, which the exact settle finds
    text = ("model m\ndiscount 0.9999999999999999\nvar x : 0..3\nvar b : bool\naction a: x' = min(x + 1, 3)\n"
            "intent joy = b\ncheck below : regret(joy) <= -1\ncheck zero : regret(joy) <= 0\n")
    report = verify(text)
    assert report.check("below").verdict is Verdict.FAILS
    assert report.check("zero").verdict is Verdict.HOLDS


def test_transitions_whose_floats_vanish_still_count() -> None:
    # a branch of exactly 1e-17 that floats compute as 0 (or below), and an event's exact left-over 1e-17
    tiny = ("model tiny\ndiscount 0.9\nvar y : 0..2 = 0\naction go when y == 0:\n"
            "    (0.1 + 1e-17 + 0.1 * y) - 0.1 -> y' = 1\n    1 - ((0.1 + 1e-17 + 0.1 * y) - 0.1) -> y' = 2\n"
            "terminal y > 0\ncost c = 1 * [go]\ncheck unseen : P <= 0 [ F y == 1 ]\n")
    left = ("model left\ndiscount 0.9\nvar y : 0..2 = 0\naction go when y == 0: skip\nevent e when y == 0:\n"
            "    0.5 -> y' = 1\n    0.5 - 1e-17 -> y' = 2\nterminal y > 0\ncost c = 1 * [go]\n"
            "check unseen : P <= 0 [ X y == 0 ]\n")
    for text in (tiny, left):
        assert verify(text, exact=True).check("unseen").verdict is Verdict.FAILS
        assert verify(text).check("unseen").verdict is Verdict.FAILS
        assert verify(text, settle_limit=0).check("unseen").verdict is not Verdict.HOLDS


def test_settling_beyond_the_default_exact_limit_uses_the_settle_limit() -> None:
    # 5,101 states: more than --exact takes by default (5,000). 0.1 * 5100 is 510 exactly, not in floats
    text = ("model chain\ndiscount 1\nvar x : 0..5100 = 0\naction step when x < 5100: x' = x + 1\n"
            "terminal x == 5100\ncost c = 0.1 * [step]\ncheck budget : cost <= 510\n")
    floats = verify(text).check("budget")
    assert floats.verdict is Verdict.INCONCLUSIVE and floats.settle is not None
    assert "--settle-limit 5101" in floats.settle
    settled = verify(text, settle_limit=5101).check("budget")
    assert (settled.verdict, settled.basis) == (Verdict.HOLDS, Basis.EXACT)


def test_a_step_bound_cut_short_by_the_unbounded_probability_keeps_the_target_exact() -> None:
    # the initial state is the target: P(F<=k home) is 1 there, whatever k; the backups stop early (the
    # unbounded probability is within reach) and must not round the target's own 1
    text = ("model bounded\ndiscount 0.9\nvar x : 0..1 = 0\naction go when x == 0: x' = 1\n"
            "action wait when x == 1:\n    0.03 -> x' = 0\n    0.97 -> x' = 1\ncost c = 1 * [go]\n"
            "check home : P >= 1 [ F<=5000 x == 0 ]\n")
    for report in (verify(text), verify(text, settle_limit=0), verify(text, exact=True)):
        assert report.check("home").verdict is Verdict.HOLDS
