"""``no_wireheading``: hand-solved robots that can rewire the battery sensor their hunger reads.

The tiny world (discount 1/2): the battery starts empty and the sensor reads it (``reading = battery``
holds). ``charge`` fills both, ``rewire`` sets the sensor alone, ``work`` (only while the sensor reads full)
ends the episode. Hunger 4 is paid in the first state whatever the robot does, then nothing, so
Q(charge) = 4 + T and Q(rewire) = 4 + E: the costs ``T`` of charging and ``E`` of rewiring decide.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dsl
import mdp
from verifier import Verdict, verify, verify_model
from verifier.results import Basis

ROOT = Path(__file__).resolve().parents[2]

TINY = """
model tiny
discount 0.5
var battery : 0..1 = 0
var reading : 0..1 = 0
var done : bool = false
action charge when !done && battery == 0: battery' = 1, reading' = 1
action rewire when !done && reading == 0: reading' = 1
action work when !done && reading == 1: done' = true
terminal done
cost hunger = 4 * (reading == 0)
cost time = {T} * [charge]
cost effort = {E} * [rewire]
"""
CHECK = "check honest : no_wireheading(reading = battery)"


def run(text: str, exact: bool = True):
    spec = dsl.load(text)
    model = mdp.compile(spec, exact=exact)
    return verify_model(spec, model, mdp.solve(model, exact=exact), exact=exact).checks[0]


def tiny(T: str, E: str, check: str = CHECK, extra: str = "") -> str:
    return TINY.format(T=T, E=E) + extra + check + "\n"


@pytest.mark.parametrize("exact", [True, False])
def test_rewiring_when_it_is_cheaper_fails_with_the_term_that_profits(exact: bool) -> None:
    """T = 1, E = 1/2: Q(rewire) = 4.5 < Q(charge) = 5. The gap 0.5 = time +1 (charging's cost, saved)
    + effort -0.5; hunger 0 (4 is paid now either way, 0 after both)."""
    result = run(tiny("1", "0.5"), exact)
    assert result.verdict is Verdict.FAILS
    assert [(s.state, s.action) for s in result.trace.steps] == [("battery=0, reading=0, done=false", "rewire")]
    attribution = result.attribution
    assert (attribution.chosen, attribution.alternative, attribution.is_tie) == ("rewire", "charge", False)
    assert attribution.gap == pytest.approx(0.5)
    assert {t.term: t.total for t in attribution.terms} == pytest.approx({"hunger": 0, "time": 1, "effort": -0.5})
    assert result.summary == (
        "an optimal policy takes 'rewire' (in the initial state) while every sensor reads as declared: 'reading' "
        "then misreads with probability 1 (0 after 'charge'); the cost term 'time' profits most: it favours "
        "'rewire' by +1 of the total +0.5")


def test_charging_when_rewiring_costs_more_holds() -> None:
    """T = 1/2, E = 1: charge (4.5 < 5), then work: both states reached read honestly."""
    result = run(tiny("0.5", "1"))
    assert result.verdict is Verdict.HOLDS
    assert result.summary == ("in every reachable state of M* where 'reading' reads as declared (2 states), every "
                              "optimal action keeps it so as surely as any action there can")


def test_an_exact_tie_fails_and_floats_cannot_tell_it_from_a_near_tie() -> None:
    """T = E = 1: Q(rewire) = Q(charge) = 5 exactly. Ties included, some optimal policy rewires (FAILS in
    exact arithmetic); in floats the two rows are within the solver's uncertainty: INCONCLUSIVE."""
    exact = run(tiny("1", "1"))
    assert exact.verdict is Verdict.FAILS and exact.attribution.is_tie
    assert exact.summary.endswith("; it is indifferent between 'rewire' and 'charge'")
    floats = run(tiny("1", "1"), exact=False)
    assert floats.verdict is Verdict.INCONCLUSIVE
    assert "floats cannot tell whether it is optimal" in floats.summary and floats.settle
    settled = verify(dsl.load(tiny("1", "1"))).checks[0]
    assert settled.verdict is Verdict.FAILS and settled.basis is Basis.EXACT


def test_noise_every_action_suffers_is_not_tampering() -> None:
    """A glitch flips the sensor w.p. 1/4 after every action. From (0, 0): charge misreads w.p. 1/4 (the
    glitch after it), rewire w.p. 3/4; the least is 1/4, so charging is not blamed for its 1/4.
    Values: V(1, 0) = 4 + 1 + 1/2 (3/4 * 0 + 1/4 V(1, 0)), so 40/7 (only rewire is enabled there);
    Q(charge) = 4.5 + 1/2 * 1/4 * 40/7 = 73/14 < Q(rewire) = 40/7 (rewiring again w.p. 1/4): charge."""
    glitch = "event glitch when !done: 0.25 -> reading' = 1 - reading\n"
    spec = dsl.load(tiny("0.5", "1", extra=glitch))
    model = mdp.compile(spec, exact=True)
    solution = mdp.solve(model, exact=True)
    assert solution.exact_V[model.initial] == pytest.approx(73 / 14)
    assert solution.optimal_actions(model.initial) == ("charge",)
    result = verify_model(spec, model, solution, exact=True).checks[0]
    assert result.verdict is Verdict.HOLDS and "(2 states)" in result.summary  # (0, 0) and (1, 1)
    rewired = run(tiny("1", "0.5", extra=glitch))  # rewiring cheap: 3/4 > 1/4, tampering again
    assert rewired.verdict is Verdict.FAILS
    assert "'reading' then misreads with probability 0.75 (0.25 after 'charge')" in rewired.summary


SPLIT = """
model split
discount 0.5
var reading : 0..3 = 0
var done : bool = false
action a when !done:
    0.1 -> reading' = 1, done' = true
    0.2 -> reading' = 2, done' = true
    0.7 -> done' = true
action b when !done:
    0.3 -> reading' = 1, done' = true
    0.7 -> done' = true
terminal done
cost glitch = 1 * (reading == 3)
cost slow = 1 * [b]
check honest : no_wireheading(reading = 0)
"""


def test_chances_equal_only_exactly_are_inconclusive_in_floats() -> None:
    """'a' (optimal: 'b' costs 1) misreads w.p. 0.1 + 0.2, 'b' w.p. 0.3: equal exactly, but in floats
    0.1 + 0.2 = 0.30000000000000004, a difference within the rounding of the probabilities."""
    assert run(SPLIT).verdict is Verdict.HOLDS
    floats = run(SPLIT, exact=False)
    assert floats.verdict is Verdict.INCONCLUSIVE
    assert "'a' makes 'reading' misread more likely than 'b' by 5.6e-17" in floats.summary
    settled = verify(dsl.load(SPLIT)).checks[0]  # a small model: verify settles it in exact arithmetic
    assert settled.verdict is Verdict.HOLDS and settled.basis is Basis.EXACT


def test_several_sensors_name_the_one_tampered_with() -> None:
    """A second sensor, 'gauge', that rewire leaves alone: both read honestly at the start; rewire makes
    'reading' misread only."""
    text = tiny("1", "0.5", check="check honest : no_wireheading(reading = battery, gauge = battery)",
                extra="var gauge : 0..1 = 0\ncost dial = 1 * (gauge == 0) * [work]\n")
    text = text.replace("battery' = 1, reading' = 1", "battery' = 1, reading' = 1, gauge' = 1")
    result = run(text)
    assert result.verdict is Verdict.FAILS
    assert "'reading' then misreads with probability 1" in result.summary and "'gauge' then" not in result.summary


def test_a_sensor_never_honest_holds_vacuously() -> None:
    result = run(tiny("1", "0.5", check="check honest : no_wireheading(reading = 2)"))  # (its domain is 0..1)
    assert result.verdict is Verdict.HOLDS
    assert result.summary.startswith("holds vacuously: no reachable state of M* has 'reading' reading as declared")


def test_the_sensor_tampering_example_header() -> None:
    """examples/sensor_tampering.corrigo: the header's values. The robot rewires (V = 2 + 0.5 = 2.5) where
    charging twice costs 3; of the gap 0.5, hunger +1 = 1/2 * (V_hunger(1, 1) - V_hunger(0, 2)) = 1/2 * 2,
    effort -0.5; `powered` regret 4 - 3 = 1. Sealed, it charges twice (cost 3) and `honest_sealed` holds."""
    report = verify(ROOT / "examples" / "sensor_tampering.corrigo")
    assert report.value == 2.5
    honest = report.check("honest")
    assert honest.verdict is Verdict.FAILS
    assert (honest.attribution.chosen, honest.attribution.alternative) == ("rewire", "charge")
    assert honest.attribution.gap == 0.5
    assert {t.term: t.total for t in honest.attribution.terms} == {"hunger": 1, "effort": -0.5}
    assert "the cost term 'hunger', which reads 'reading', profits most" in honest.summary
    assert report.check("faithful").verdict is Verdict.FAILS
    regret = report.check("faithful").quantities[0]
    assert abs(regret.value - 1) <= regret.bound
    sealed = report.check("honest_sealed")
    assert sealed.verdict is Verdict.HOLDS and "(3 states)" in sealed.summary
    assert verify(ROOT / "examples" / "sensor_tampering.corrigo", {"SEALED": "1"}).value == 3


def test_under_a_policy_and_for_all_params() -> None:
    """The example with rewiring's effort a param w in [0, 2]: Q(rewire) = 2 + w against Q(charge) = 3, so the
    optimum rewires exactly where w < 1; a declared policy that rewires fails whatever the optimum does."""
    text = (ROOT / "examples" / "sensor_tampering.corrigo").read_text()
    text = text.replace("cost effort = 0.5 * [rewire]", "param w = 0.5 in [0, 2]\ncost effort = w * [rewire]")
    text += ("policy lazy:\n    rewire when reading < FULL\n    wait\n"
             "check lazy_honest under lazy : no_wireheading(reading = battery)\n"
             "check always_honest for all params : no_wireheading(reading = battery)\n")
    report = verify(dsl.load(text))
    lazy = report.check("lazy_honest")
    assert lazy.verdict is Verdict.FAILS and "the policy takes 'rewire' (in the initial state)" in lazy.summary
    swept = report.check("always_honest")
    assert swept.verdict is Verdict.FAILS and "(in a region: w < 1)" in swept.summary
