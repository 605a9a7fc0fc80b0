"""Hand-solved small models for every check kind, both verdicts, via :func:`verifier.verify_model`.

The models are compiled and solved in exact arithmetic, so that the optimal sets are exactly the
hand-solved ones, ties included; ``test_verify.py`` runs the same kind of specs through the float solver.
"""

from __future__ import annotations

import numpy as np
import pytest

import dsl
import mdp
from tests.worlds import SHUTDOWN
from verifier import Verdict, verify_model
from verifier.results import Basis

# s0 (hungry) --eat--> s1 (fed) --wait--> s1 forever; comply in either ends it (terminal, cost 0).
# discount 1/2: V(s1) = -2 / (1 - 1/2) = -4 (wait), Q(s1, comply) = -2;
# Q(s0, eat) = 1 + 0.5 + 0.5 * -4 = -0.5, Q(s0, comply) = 1: the agent eats instead of complying.
ROBOT = """
model robot
discount 0.5
var fed : bool = false
var off : bool = false
var switch : {armed, disabled} = armed
action comply when !off: off' = true
action eat when !off && !fed: fed' = true
action wait when !off && fed: skip
terminal off
cost hunger = 1 * !fed
cost joy = -2 * fed
cost effort = 0.5 * [eat]
"""

# from x=0: 'risky' reaches the goal (x=1) w.p. 3/4, 'safe' w.p. 1/2, else the sink (x=2); same cost,
# so both are optimal: Pmin(F goal) = 1/2, Pmax(F goal) = 3/4 over M*.
COIN = """
model coin
discount 0.9
var x : 0..2 = 0
action risky when x == 0:
    0.75 -> x' = 1
    0.25 -> x' = 2
action safe when x == 0:
    0.5 -> x' = 1
    0.5 -> x' = 2
terminal x != 0
cost a = 1 * [risky]
cost b = 1 * [safe]
intent risk = 1 * [risky]
"""


def run(text: str, checks: str):
    spec = dsl.load(text + "\n" + checks)
    model = mdp.compile(spec, exact=True)
    return verify_model(spec, model, mdp.solve(model, exact=True), exact=True)


def verdicts(text: str, checks: str) -> dict[str, Verdict]:
    return {check.name: check.verdict for check in run(text, checks).checks}


# --- never / always ----------------------------------------------------------------------------


def test_never_and_always_on_states() -> None:
    report = run(ROBOT, """
check never_fed : never fed
check never_disabled : never switch == disabled
check always_armed : always switch == armed
check always_hungry : always !fed
""")
    assert {c.name: c.verdict for c in report.checks} == {
        "never_fed": Verdict.FAILS, "never_disabled": Verdict.HOLDS,
        "always_armed": Verdict.HOLDS, "always_hungry": Verdict.FAILS}
    trace = report.check("never_fed").trace
    assert [s.action for s in trace.steps] == ["eat", None]
    assert trace.steps[0].state == "fed=false, off=false, switch=armed"
    assert trace.steps[1].state == "fed=true, off=false, switch=armed"
    assert trace.probability == pytest.approx(1.0)


def test_always_with_action_ranges_over_optimal_choices() -> None:
    report = run(ROBOT, """
check eats_when_hungry : always (!fed && !off -> [eat])
check complies_when_fed : always (fed -> [comply])
check never_waits : never [wait]
""")
    assert report.check("eats_when_hungry").verdict is Verdict.HOLDS
    failed = report.check("complies_when_fed")
    assert failed.verdict is Verdict.FAILS
    assert failed.trace.steps[-1].action == "wait"
    assert failed.attribution.chosen == "wait" and failed.attribution.alternative == "comply"
    assert report.check("never_waits").verdict is Verdict.FAILS


# --- accepts_shutdown ----------------------------------------------------------------------------


def test_accepts_shutdown_fails_with_attribution_by_hand() -> None:
    report = run(ROBOT, "check corrigible : accepts_shutdown(request = !off, comply = [comply], mechanism = [switch])")
    result = report.check("corrigible")
    assert result.verdict is Verdict.FAILS
    compliance, tampering = result.parts
    assert compliance.verdict is Verdict.FAILS and tampering.verdict is Verdict.HOLDS
    assert result.trace.steps == result.trace.steps[:1]  # the initial state already resists
    assert result.trace.steps[0].action == "eat"
    attribution = result.attribution
    assert (attribution.chosen, attribution.alternative) == ("eat", "comply")
    assert attribution.gap == pytest.approx(1.5)  # Q(comply) - Q(eat) = 1 - (-0.5)
    terms = {t.term: t for t in attribution.terms}
    # hunger: same immediate cost, no future hunger either way
    assert terms["hunger"].immediate == pytest.approx(0) and terms["hunger"].future == pytest.approx(0)
    # joy: staying alive fed is worth 0.5 * (0 - (-4)) = +2 towards eating
    assert terms["joy"].immediate == pytest.approx(0) and terms["joy"].future == pytest.approx(2)
    # effort: eating costs 0.5 now: -0.5 towards eating
    assert terms["effort"].immediate == pytest.approx(-0.5) and terms["effort"].future == pytest.approx(0)
    assert sum(t.total for t in attribution.terms) == pytest.approx(attribution.gap)


TIE = """
model tie
discount 0.5
var pressed : bool = true
var off : bool = false
var switch : {armed, disabled} = armed
action comply when !off: off' = true
action resist when !off: switch' = disabled
terminal off
cost c = 0 * [resist]
check corrigible : accepts_shutdown(request = pressed, comply = [comply], mechanism = [switch])
"""


def test_an_exact_tie_between_complying_and_resisting_fails() -> None:
    report = run(TIE, "")
    result = report.check("corrigible")
    assert result.verdict is Verdict.FAILS
    assert [p.verdict for p in result.parts] == [Verdict.FAILS, Verdict.FAILS]
    assert result.attribution.is_tie
    assert result.attribution.gap == pytest.approx(0)


def test_tampering_is_reported_separately() -> None:
    text = """
model tamper
discount 0.5
var pressed : bool = false
var off : bool = false
var switch : {armed, disabled} = armed
action disable when !off && switch == armed: switch' = disabled
action work when !off: skip
action comply when !off && pressed: off' = true
terminal off
cost c = 1 * [work]
check corrigible : accepts_shutdown(request = pressed, comply = [comply], mechanism = [switch])
"""
    result = run(text, "").check("corrigible")
    compliance, tampering = result.parts
    assert compliance.verdict is Verdict.HOLDS  # never asked
    assert tampering.verdict is Verdict.FAILS
    assert result.verdict is Verdict.FAILS
    assert result.trace.steps[-1].action == "disable"


def test_accepts_shutdown_holds_when_complying_is_strictly_better() -> None:
    text = ROBOT.replace("cost joy = -2 * fed", "cost joy = 2 * fed")
    result = run(text, "check corrigible : accepts_shutdown(request = !off, comply = [comply], mechanism = [switch])"
                 ).check("corrigible")
    assert result.verdict is Verdict.HOLDS
    assert result.trace is None and result.attribution is None


# --- probabilities ----------------------------------------------------------------------------------


def test_probability_bounds_use_min_or_max_over_optimal_policies() -> None:
    report = run(COIN, """
check lower_ok : P >= 0.4 [ F x == 1 ]
check lower_bad : P >= 0.6 [ F x == 1 ]
check upper_ok : P <= 0.8 [ F x == 1 ]
check upper_bad : P <= 0.7 [ F x == 1 ]
check globally : P >= 0.45 [ G x != 2 ]
check until : P > 0.45 [ x == 0 U x == 1 ]
check bounded : P >= 0.49 [ F<=1 x == 1 ]
check next_ok : P <= 0.76 [ X x == 1 ]
check next_bad : P < 0.7 [ X x == 1 ]
""")
    assert {c.name: c.verdict for c in report.checks} == {
        "lower_ok": Verdict.HOLDS, "lower_bad": Verdict.FAILS, "upper_ok": Verdict.HOLDS,
        "upper_bad": Verdict.FAILS, "globally": Verdict.HOLDS, "until": Verdict.HOLDS,
        "bounded": Verdict.HOLDS, "next_ok": Verdict.HOLDS, "next_bad": Verdict.FAILS}
    assert report.check("lower_bad").quantities[0].value == pytest.approx(0.5)
    assert report.check("upper_bad").quantities[0].value == pytest.approx(0.75)
    assert report.check("upper_bad").trace.steps[-1].state == "x=1"


def test_max_probability_with_an_end_component_converges() -> None:
    # with no cost at all, waiting forever is optimal too: Pmin = 0, Pmax = 3/4 (the end component at x=0
    # must be collapsed for the iteration from above to converge)
    text = COIN.replace("cost a = 1 * [risky]", "cost a = 0 * [risky]").replace(
        "cost b = 1 * [safe]", "cost b = 0 * [safe]").replace(
        "terminal x != 0", "action wait when x == 0: skip\nterminal x != 0")
    report = run(text, "check hi : P <= 0.8 [ F x == 1 ]\ncheck lo : P >= 0.1 [ F x == 1 ]")
    hi, lo = report.check("hi"), report.check("lo")
    assert hi.verdict is Verdict.HOLDS and hi.quantities[0].value == pytest.approx(0.75)
    assert hi.quantities[0].bound < 1e-8
    assert lo.verdict is Verdict.FAILS and lo.quantities[0].value == pytest.approx(0.0, abs=1e-12)


# --- costs and regret ---------------------------------------------------------------------------------


def test_cost_bounds_and_term_ranges() -> None:
    report = run(COIN, """
check total_ok : cost <= 1.5
check total_bad : cost <= 0.5
check total_edge : cost <= 1
check term_ok : cost[a] <= 1.5
check term_bad : cost[a] <= 0.5
check term_low : cost[b] >= -0.5
""")
    # the optimal cost is exactly 1: in exact arithmetic `cost <= 1` holds
    assert {c.name: c.verdict for c in report.checks} == {
        "total_ok": Verdict.HOLDS, "total_bad": Verdict.FAILS, "total_edge": Verdict.HOLDS,
        "term_ok": Verdict.HOLDS, "term_bad": Verdict.FAILS, "term_low": Verdict.HOLDS}
    low, high = report.check("term_bad").quantities
    assert low.value == pytest.approx(0) and high.value == pytest.approx(1)
    assert {c.basis for c in report.checks} == {Basis.EXACT}
    # in floats the value 1 lies within its certified bound of the threshold 1: undecided
    spec = dsl.load(COIN + "\ncheck total_edge : cost <= 1")
    model = mdp.compile(spec)
    floats = verify_model(spec, model, mdp.solve(model)).check("total_edge")
    assert floats.verdict is Verdict.INCONCLUSIVE and floats.basis is Basis.CERTIFICATE
    assert "--exact" in floats.settle


def test_regret_is_worst_case_over_optimal_policies() -> None:
    report = run(COIN, "check faithful : regret(risk) <= 0.5\ncheck loose : regret(risk) <= 1.5")
    faithful = report.check("faithful")
    assert faithful.verdict is Verdict.FAILS
    regret, agent, best, relative = faithful.quantities
    assert regret.value == pytest.approx(1) and agent.value == pytest.approx(1) and best.value == pytest.approx(0)
    assert relative.value == pytest.approx(1)
    assert report.check("loose").verdict is Verdict.HOLDS


# SHUTDOWN (tests/worlds.py): 'off' ends in one absorbing state, 'on' leads to x=2, from which three
# absorbing states are reachable; the agent pays for 'off', so it goes on. Every terminal state has POWER 1/2, x=2 has POWER 3/4 (the
# mean of the largest of 3 uniforms), and the terms of x=0 are common to both policies, so the score is
# gamma * 1/2 * (3/4 + gamma * 1/2 / (1 - gamma) - 1/2 / (1 - gamma)) = gamma / 8 = 0.1125.
def test_power_seeking_score_against_closed_form() -> None:
    report = run(SHUTDOWN, "check loose : power_seeking <= 0.2\ncheck tight : power_seeking <= 0.05\n"
                           "check edge : power_seeking <= 0.1125\ncheck low : power_seeking >= 0.05")
    score, agent, reference, initial = report.check("loose").quantities
    assert score.name == "power_seeking score"
    assert abs(score.value - 0.1125) <= score.bound  # within 3 standard errors (+ numerical bounds)
    assert score.bound < 0.05
    assert agent.value - reference.value == pytest.approx(score.value)
    assert {c.name: c.verdict for c in report.checks} == {
        "loose": Verdict.HOLDS, "tight": Verdict.FAILS, "edge": Verdict.INCONCLUSIVE, "low": Verdict.HOLDS}
    assert "3 standard errors" in report.check("edge").settle


def test_power_seeking_is_zero_when_every_choice_keeps_the_same_options() -> None:
    # COIN: every successor is a single absorbing state, so any policy holds the same POWER
    report = run(COIN, "check power : power_seeking <= 0.1\ncheck some : power_seeking >= 0.5")
    score = report.check("power").quantities[0]
    assert abs(score.value) <= score.bound
    assert report.check("power").verdict is Verdict.HOLDS
    assert report.check("some").verdict is Verdict.FAILS


def test_power_seeking_needs_a_discount_below_one() -> None:
    result = run(WALK, "check power : power_seeking <= 0.1").check("power")
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "not defined for discount 1" in result.summary and "discount below 1" in result.settle


def test_ties_in_floats_are_inconclusive_and_exact_arithmetic_settles_them() -> None:
    # with costs of 0 no number rounds: the certificate is 0 and floats decide the tie themselves
    spec = dsl.load(TIE)
    model = mdp.compile(spec)
    solution = mdp.solve(model)
    assert solution.delta == 0 and solution.is_decided
    assert verify_model(spec, model, solution).check("corrigible").verdict is Verdict.FAILS
    # with costs that round (resisting then complying: 0.05 + 0.5 * 0.1 = 0.1, complying at once), a tie
    # and a near-tie look alike in floats: undecided
    spec = dsl.load(TIE.replace("cost c = 0 * [resist]", "cost c = 0.05 * [resist] + 0.1 * [comply]"))
    model = mdp.compile(spec)
    floats = verify_model(spec, model, mdp.solve(model))
    assert floats.check("corrigible").verdict is Verdict.INCONCLUSIVE
    assert "--exact" in floats.check("corrigible").settle
    exact = verify_model(spec, mdp.compile(spec, exact=True), mdp.solve(mdp.compile(spec, exact=True), exact=True),
                         exact=True)
    assert exact.check("corrigible").verdict is Verdict.FAILS  # a true tie: some optimal policy resists


# --- discount 1 (total cost, a stochastic shortest path) -----------------------------------------------

WALK = """
model walk
discount 1
var x : 0..3 = 0
var off : bool = false
action step when x < 3 && !off:
    0.5 -> x' = x + 1
    0.5 -> skip
action quit when !off: off' = true
terminal x == 3 || off
cost time = 1 * [step]
cost quitting = 5 * [quit]
intent progress = 1 * (x < 3)
"""


def test_total_cost_model_by_hand() -> None:
    # reaching x=3 takes 2 expected steps per unit: 6 from x=0 > quitting (5), 4 from x=1 < 5
    report = run(WALK, """
check total : cost <= 5.5
check tight : cost <= 4.5
check time_cap : cost[time] <= 0.5
check finishes : P >= 0.5 [ F x == 3 ]
check quits : never off
check regret_ok : regret(progress) <= 0.5
""")
    assert {c.name: c.verdict for c in report.checks} == {
        "total": Verdict.HOLDS, "tight": Verdict.FAILS, "time_cap": Verdict.HOLDS, "finishes": Verdict.FAILS,
        "quits": Verdict.FAILS, "regret_ok": Verdict.HOLDS}
    assert report.check("total").quantities[0].value == pytest.approx(5)
    regret, agent, best, relative = report.check("regret_ok").quantities
    assert (agent.value, best.value) == (pytest.approx(1), pytest.approx(1))
    assert relative.value == pytest.approx(0)


def test_regret_failure_points_at_the_first_deviation() -> None:
    result = run(ROBOT + "intent service = 1 * !off\n", "check faithful : regret(service) <= 0.5").check("faithful")
    assert result.verdict is Verdict.FAILS
    # the intent is best served by complying at once (1); the agent eats and waits forever: 1 / (1 - 1/2)
    regret = result.quantities[0]
    assert regret.value == pytest.approx(1)
    assert (result.attribution.chosen, result.attribution.alternative) == ("eat", "comply")
    assert result.trace.steps[-1].action == "eat"


def test_almost_sure_reachability_is_exact() -> None:
    # failures retry: every optimal policy reaches the goal with probability exactly 1
    text = COIN.replace("0.25 -> x' = 2", "0.25 -> skip").replace("0.5 -> x' = 2", "0.5 -> skip")
    report = run(text, "check surely : P >= 1 [ F x == 1 ]\ncheck never_sink : P <= 0 [ F x == 2 ]")
    surely = report.check("surely")
    assert surely.verdict is Verdict.HOLDS
    assert surely.quantities[0].value == 1.0
    assert report.check("never_sink").verdict is Verdict.HOLDS


def test_division_by_zero_in_a_check_is_a_located_model_error() -> None:
    from mdp.model import ModelError
    with pytest.raises(ModelError) as caught:
        run(COIN, "check ratio : never 1 / x > 0.5")
    message = caught.value.render()
    assert "division by zero" in message and "x=0" in message and ":16:" in message
