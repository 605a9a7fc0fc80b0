"""Every verdict of ``verify`` against an independent exact reference, on random small specs with ties.

The specs come from ``tests/strategies.py: spec_texts``: at most 8 states, 2-4 actions (often copies of
each other), weights that make exact ties and near-ties common, and one check of every kind but the
sampled ones (POWER, optimality probability), with thresholds on the true value, 1e-15 or 1e-17 off it,
on its nearest float, a relative 1e-12 or 1e-10 off it (about the certified bounds), or 0.1 away. The
truth of each check comes from ``tests/exact_reference.py: ExactChecks`` (rationals; V* by policy
iteration certified by the exact Bellman equation, or by enumerating the proper policies when steps may
cost nothing; Pmin/Pmax by enumerating the policies of M*); it reads only the compiled model's exact
numbers, state codes, terminal states and row actions, and evaluates the check formulas itself.

Asserted for every check:

- ``verify(spec, exact=True)`` says exactly the truth (never INCONCLUSIVE);
- ``verify(spec)`` (floats, then exact arithmetic for what floats leave open) says exactly the truth;
- ``verify(spec, settle_limit=0)`` (floats only) never says the opposite of the truth, agrees with the
  default run wherever it decides, and is INCONCLUSIVE only where the case is genuinely close:

  * *band*: the check compares a quantity (cost, cost[term], P, regret) whose exact value (on its worst
    side) lies within ``BAND * max(1, |value|)`` of the threshold: inside any float's rounding; or
  * *ambiguity*: the check depends on which rows are optimal (every kind but ``cost ~ x``, which is V*(s0)
    alone), the reference confirms a state floats cannot resolve, and the verdict does depend on it.
    Floats' M* lies between M* and the *near-optimal rows* N (exact gap at most ``BAND * scale``,
    ``scale`` the largest exact |Q|, at least 1; the solver's threshold is far below that): it holds every
    optimal row, and where it holds several rows of a state it cannot tell a tie from a near-tie, so every
    *candidate*, a set of rows of N with at least one per state, might be the true M*. Ambiguous: a state
    reachable through N has two or more rows of N. The verdict depends on it: for a quantity, the
    candidates' values lie between its min and max over the policies of N, and those two disagree (or one
    is in the band); for ``never``, ``always`` and ``accepts_shutdown``: if the check fails, a smaller
    candidate may avoid the violation; if it holds, it fails on N (whose many rows make it the worst
    candidate: more reachable states, more choices). With discount 1, a loop of N allows it too.

A spec whose model is invalid (a located ``ModelError``; here: with discount 1, an optimal policy that can
loop forever through steps that cost nothing) must be rejected by all three modes and by the reference; the
test counts them and asserts they stay a small fraction. Float mode may instead leave every check INCONCLUSIVE
when it cannot tell whether an optimal loop is only nearly optimal. A valid spec may be rejected only
for a loop that is optimal up to rounding (a near-optimal loop of the reference's N), and only in float
mode; exact and default mode decide it. It prints how often float mode was inconclusive, and why (``pytest -s``).

The default run draws the profile's number of examples (``dev`` 100, ``ci`` 40) times ``SCALE``;
``CORRIGO_DIFFERENTIAL_EXAMPLES=2000 pytest -m slow tests/verifier/test_differential.py`` runs a long one.
"""

from __future__ import annotations

import os
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

import dsl
import mdp
from dsl.spec import Check, CostBound, ProbabilityBound, Regret, Spec
from exact_reference import ExactChecks, InvalidModel, optimal_costs
from mdp.model import ModelError
from tests.strategies import CHECKS_MARK, exact_checks, spec_texts
from verifier import verify
from verifier.results import Basis, Report, Verdict

BAND = 1e-9  # relative: a threshold this close to the exact value may be inside the floats' certified bound
SCALE = 2  # default run: twice the profile's examples
LONG_RUN = int(os.environ.get("CORRIGO_DIFFERENTIAL_EXAMPLES", "0"))
KINDS = ("CostBound", "ProbabilityBound", "Regret", "AcceptsShutdown", "NeverCheck", "AlwaysCheck")
LOOP = "an optimal policy can loop forever"  # the located error of a discount-1 model whose optimum may not end

# a loop of 'wait' 1e-15 from optimal: exact and default mode once rejected it as an optimal loop
NEAR_LOOP = """model near_loop
discount 1
var x : 0..1 = 0
action go: x' = 1
action wait: skip
terminal x == 1
cost effort = 1 * [go] + 1e-15 * [wait]
# checks
check waits : never [wait]
check cost_one : cost <= 1
"""

# cases found while writing this test, pinned: the near loop, and a tie that only floats cannot tell from a
# near-tie deciding a regret (0 if only a1 is optimal, 2 if a0 is): float mode must doubt it, exact mode not
# found by hypothesis (2026-12-07): floats cannot rule out an optimal loop, so every check is inconclusive there
FLOAT_LOOP_DOUBT = """model random
discount 1
var x : 0..3 = 2
action a0: x' = min(x + 1, 3)
action a1: x' = min(x + 1, 3)
action a2: skip
event e0 when x != 0: 0.1 -> x' = max(x - 1, 0)
terminal x == 3
cost effort = 0 * [a0] + 0 * [a1] + 0 * [a2]
cost place = 1 * (x == 2)
intent goal = 0 * (x == 0 || x == 0) + 0 * [a0]
# checks
check c0 : cost < (10.0 / 9.0)
check c1 : cost[effort] < 0.0
check c2 : P < 0.0 [ F x == 0 ]
check c3 : P < 0.0 [ (x == 0 || x == 0) U (x == 0) ]
check c4 : P < 0.0 [ G x == 0 ]
check c5 : P < 0.0 [ F<=0 (x == 0) ]
check c6 : P < 0.0 [ X x == 0 ]
check c7 : regret(goal) < 0.0
check c8 : accepts_shutdown(request = x == 0, comply = [a0], mechanism = [x])
check c9 : never x == 0
check c10 : always x == 0
check c11 : never [a0]
"""
REGRESSIONS: list[str] = [NEAR_LOOP, FLOAT_LOOP_DOUBT, """model random
discount 0.5
var x : 0..1 = 0
action a0: skip
action a1: skip
cost effort = 0 * [a0] + 0 * [a1]
intent goal = 1 * [a0]
# checks
check c0 : regret(goal) > (19.0 / 10.0)
check c1 : never [a0]
"""]


def truth_verdict(holds: bool) -> Verdict:
    return Verdict.HOLDS if holds else Verdict.FAILS


def threshold_of(check: Check) -> Fraction | None:
    prop = check.property
    return prop.bound if isinstance(prop, (CostBound, ProbabilityBound, Regret)) else None


def is_near(value: Fraction | None, bound: Fraction | None) -> bool:
    """Whether ``value`` lies within the rounding band of ``bound``."""
    if value is None or bound is None:
        return False
    return abs(value - bound) <= Fraction(BAND) * max(Fraction(1), abs(value))


def closeness(check: Check, reference: ExactChecks, truth: bool) -> str | None:
    """Why float mode may leave ``check`` inconclusive (see the module docstring), or ``None``."""
    bound = threshold_of(check)
    if is_near(reference.quantity(check), bound):
        return "band"
    prop = check.property
    wide = reference.widened(BAND)
    if reference.model.discount == 1 and wide.loops(wide.optimal):
        return "ambiguity"  # a near-optimal loop: a candidate policy may never end, the spec may be invalid
    if (isinstance(prop, CostBound) and prop.term is None) or not reference.is_ambiguous(BAND):
        return None  # V*(s0) does not depend on which rows are optimal
    span = wide.range(check)
    if span is not None:  # the quantity of every candidate lies in span: do they all give one verdict?
        assert isinstance(prop, (CostBound, ProbabilityBound, Regret))
        low, high = span
        split = prop.comparison.holds(low, prop.bound) != prop.comparison.holds(high, prop.bound)
        return "ambiguity" if split or is_near(low, bound) or is_near(high, bound) else None
    # never, always, accepts_shutdown: the more rows, the more violations; N is the worst candidate
    return "ambiguity" if not truth or not wide.holds(check) else None


LOOP_DOUBT = "floats cannot tell whether the spec is in error"


def all_inconclusive(report: Report) -> bool:
    return all(check.verdict is Verdict.INCONCLUSIVE for check in report.checks)


def verify_or_error(spec: Spec, **options: Any) -> Report | ModelError:
    try:
        return verify(spec, **options)
    except ModelError as error:
        return error


def compare(text: str, stats: Counter[str]) -> None:
    """Verify ``text`` in the three modes and compare every verdict with the reference (module docstring)."""
    spec = dsl.load(text)
    model_text = text.split(CHECKS_MARK)[0]
    stats["specs"] += 1
    exact, default, floats = (verify_or_error(spec, exact=True), verify_or_error(spec),
                              verify_or_error(spec, settle_limit=0))
    try:
        reference = exact_checks(model_text, spec)
    except (ModelError, InvalidModel):
        stats["invalid"] += 1
        assert isinstance(exact, ModelError) and isinstance(default, ModelError), (exact, default)
        assert isinstance(floats, ModelError) or all_inconclusive(floats), floats
        return
    wide = reference.widened(BAND)
    assert isinstance(exact, Report) and isinstance(default, Report), (exact, default)
    if isinstance(floats, ModelError):  # only a loop that is optimal up to rounding: floats cannot tell
        assert LOOP in str(floats) and reference.model.discount == 1 and wide.loops(wide.optimal), floats
        stats["float mode: a loop error for a near-optimal loop"] += 1
    elif floats.checks and all(c.summary.startswith(LOOP_DOUBT) for c in floats.checks):
        # floats could not rule out an optimal loop (discount 1), so no verdict rests on them: every check is
        # INCONCLUSIVE, and the other two modes (checked below) decide in rationals
        assert reference.model.discount == 1 and all_inconclusive(floats), floats
        stats["float mode: every check inconclusive for a possible optimal loop"] += 1
        floats = ModelError("loop doubt")
    for check in spec.checks:
        holds = reference.holds(check)
        truth = truth_verdict(holds)
        stats["checks"] += 1
        stats[f"truth: {type(check.property).__name__}: {truth}"] += 1
        name = check.name
        for mode, report in (("exact", exact), ("default", default)):
            assert report.check(name).verdict is truth, (name, check.text, mode, report.check(name).summary)
        if not isinstance(floats, Report):
            continue
        verdict = floats.check(name).verdict
        if verdict is Verdict.INCONCLUSIVE:
            reason = closeness(check, reference, holds)
            assert reason is not None, (name, check.text, "float mode inconclusive", floats.check(name).summary)
            stats[f"float inconclusive: {reason}"] += 1
            stats[f"float inconclusive: {reason}: {floats.check(name).kind}"] += 1
            assert default.check(name).basis is Basis.EXACT
        else:
            assert verdict is truth, (name, check.text, "float mode", floats.check(name).summary)
            assert default.check(name).verdict is verdict


def run_differential(max_examples: int) -> Counter[str]:
    stats: Counter[str] = Counter()

    # the strategy solves each model exactly to place the thresholds: slow to draw, on purpose
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(spec_texts())
    def differential(text: str) -> None:
        compare(text, stats)

    for regression in REGRESSIONS:
        differential = example(regression)(differential)
    differential()
    return stats


def report(stats: Counter[str]) -> str:
    lines = [f"{stats['specs']} specs ({stats['invalid']} invalid), {stats['checks']} checks; float mode "
             f"inconclusive on {stats['float inconclusive: band'] + stats['float inconclusive: ambiguity']}:"]
    lines += [f"  {key}: {count}" for key, count in sorted(stats.items()) if key.startswith("float inconclusive")]
    lines += [f"{key}: {count}" for key, count in sorted(stats.items()) if "loop error" in key]
    return "\n".join(lines)


def test_verdicts_agree_with_the_exact_reference() -> None:
    stats = run_differential(settings().max_examples * SCALE)
    print(report(stats))
    assert stats["specs"] >= settings().max_examples * SCALE
    assert stats["invalid"] <= 0.1 * stats["specs"]
    # the specs are not degenerate: every kind both holds and fails, and float mode both decides and doubts
    assert all(stats[f"truth: {kind}: {verdict}"] for kind in KINDS for verdict in ("HOLDS", "FAILS")), stats
    assert 0 < stats["float inconclusive: band"] + stats["float inconclusive: ambiguity"] < stats["checks"] / 2


@pytest.mark.slow
@pytest.mark.skipif(not LONG_RUN, reason="a long run: set CORRIGO_DIFFERENTIAL_EXAMPLES (e.g. 2000)")
def test_verdicts_agree_with_the_exact_reference_long() -> None:
    stats = run_differential(LONG_RUN)
    print(report(stats))
    assert stats["invalid"] <= 0.1 * stats["specs"]


# --- the reference itself ---------------------------------------------------------------------------------

HAND_SOLVED = """model hand
discount 0.5
var x : 0..2 = 0
action a0: x' = min(x + 1, 2)
action a1: x' = min(x + 1, 2)
action a2 when x == 0: 1/2 -> x' = 2
                       1/2 -> skip
terminal x == 2
cost effort = 1 * [a0] + 1 * [a1] + 1.25 * [a2]
intent goal = 1 * [a1]
check cost_is : cost <= 1.5
check below : cost < 1.5
check term : cost[effort] >= 1.5
check ends : P >= 1 [ F x == 2 ]
check next : P <= 0 [ X x == 1 ]
check regret : regret(goal) <= 1.5
check small_regret : regret(goal) < 1.5
check shutdown : accepts_shutdown(request = x == 1, comply = [a0], mechanism = [x])
check never_one : never x == 1
check chooses : always (x == 0 -> [a0, a1])
"""


def test_the_reference_on_a_hand_solved_spec() -> None:
    """V*(1) = 1 (a0 or a1, a tie); at 0, a0 or a1 cost 1 + 1/2 = 3/2, a2 would cost V = 5/4 + V/4, so
    5/3: gap 5/4 + (1/2)(1/2)(3/2) - 3/2 = 1/8. The agent may take a1 twice: 'goal' 3/2 against 0."""
    spec = dsl.load(HAND_SOLVED)
    reference = ExactChecks(mdp.compile(spec, exact=True))
    assert reference.V == [Fraction(3, 2), 1, 0]
    assert reference.gap == [0, 0, Fraction(1, 8), 0, 0, 0]  # rows: a0, a1, a2 at x=0; a0, a1 at 1; terminal
    assert reference.reachable.tolist() == [True, True, True]
    truth = {check.name: reference.holds(check) for check in spec.checks}
    assert truth == {"cost_is": True, "below": False, "term": True, "ends": True, "next": False, "regret": True,
                     "small_regret": False, "shutdown": False, "never_one": False, "chooses": True}
    regret = next(check for check in spec.checks if check.name == "regret")
    assert reference.range(regret) == (0, Fraction(3, 2))


@settings(max_examples=30, deadline=None)
@given(spec_texts())
def test_policy_iteration_agrees_with_enumeration(text: str) -> None:
    """The reference's optimum (policy iteration, certified by the Bellman equation) is the minimum over
    every deterministic policy; its extremes over M* the extremes over M*'s deterministic policies."""
    spec = dsl.load(text)
    try:
        model = mdp.compile(spec, exact=True)
        reference = ExactChecks(model)
    except (ModelError, InvalidModel):
        return
    n_policies = 1
    for s in range(model.n_states):
        n_policies *= len(model.rows(s))
    if n_policies > 300:
        return
    assert reference.V == optimal_costs(model, reference.cost)
    for maximize in (False, True):
        for term, reward in model.exact.costs.items():
            expected = optimal_costs(model, reward, reference.optimal, maximize)[model.initial]
            assert reference.term(reward, maximize) == expected, term


# --- the near-optimal loop -----------------------------------------------------------------------------


def test_exact_mode_accepts_a_loop_that_is_not_optimal() -> None:
    """Waiting costs 1e-15 more than going, forever: no optimal policy loops; the spec is valid."""
    spec = dsl.load(NEAR_LOOP)
    reference = ExactChecks(mdp.compile(spec, exact=True))  # valid: no loop of optimal rows
    assert not reference.loops(reference.optimal) and reference.gap == [0, Fraction(1, 10**15), 0]
    report = verify(spec, exact=True)
    assert [(c.name, c.verdict) for c in report.checks] == [("waits", Verdict.HOLDS), ("cost_one", Verdict.HOLDS)]


def test_default_mode_settles_a_loop_that_floats_cannot_tell_from_optimal() -> None:
    report = verify(dsl.load(NEAR_LOOP))
    assert [(c.name, c.verdict, c.basis) for c in report.checks] == [
        ("waits", Verdict.HOLDS, Basis.EXACT), ("cost_one", Verdict.HOLDS, Basis.EXACT)]


def test_float_mode_leaves_a_loop_optimal_up_to_rounding_open() -> None:
    """1e-15 is inside the solver's uncertainty: the loop may be optimal, so floats decide nothing."""
    report = verify(dsl.load(NEAR_LOOP), settle_limit=0)
    assert all_inconclusive(report) and LOOP in report.checks[0].summary
