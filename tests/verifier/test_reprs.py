"""The reprs of what a notebook or a REPL holds: one line that says what it is, not every array it keeps.

Exact text on the hungry robot (4 states; every number here is also in its golden reports) and on a
one-param switch, then a length bound on everything the household robot gives.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import dsl
import mdp
from mdp.graph import option_graph
from tests.verifier.test_sweep import switching
from verifier import optimal_submodel, verify_model, verify_policy
from verifier.results import Attribution, CheckResult, Location, Report, Step, TermContribution, Trace, Verdict
from verifier.sweep import sweep, sweep_model

ROOT = Path(__file__).resolve().parents[2]
HUNGRY = Path("tests/golden/reports/hungry_robot.corrigo")  # relative: reprs name the spec by its path
HOUSEHOLD = Path("examples/household_robot.corrigo")

SWITCH = switching(1, 1)  # stay is worth -2w, complying -2: they cross at w = 1


@pytest.fixture
def hungry(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    spec = dsl.load(HUNGRY)
    model = mdp.compile(spec, exact=True)
    solution = mdp.solve(model, exact=True)
    return spec, model, solution, verify_model(spec, model, solution, exact=True)


def test_spec_model_and_solution(hungry) -> None:
    spec, model, solution, _ = hungry
    assert repr(spec) == ("<Spec hungry_robot (tests/golden/reports/hungry_robot.corrigo): 3 variables, 3 actions, "
                          "3 cost terms, 1 intent, 7 checks>")
    # 3 actions of the spec (the terminal self-loop's is not one); 4 states: off, and fed x switch unchanged
    assert repr(model) == ("<TabularMDP hungry_robot: 4 states, 6 choices, 7 transitions, 3 actions, 3 cost terms, "
                           "discount 0.5>")
    assert repr(model.rationals) == ("<Rationals: discount 1/2, 7 probabilities, cost terms hunger, joy, effort, "
                                     "intents service; 6 rows>")
    assert "exact_rows" not in repr(model.rounding) and repr(model.rounding).startswith("Rounding(costs={'hunger': ")
    # V(start) = -1/9: the reports' optimal cost -0.111111
    assert repr(solution) == ("<Solution hungry_robot: 4 states, value -0.111111 (exact), 31 sweeps, "
                              "2 policy evaluations>")
    floats = mdp.solve(mdp.compile(spec))
    assert repr(floats) == f"<Solution hungry_robot: 4 states, value -0.111111 ± {floats.bound:.2g}, 31 sweeps, " \
                           "1 policy evaluation>"


def test_report_and_checks(hungry) -> None:
    *_, report = hungry
    assert repr(report) == ("<Report hungry_robot: 7 checks, 3 hold, 3 fail, 1 inconclusive; 4 states, "
                            "optimal cost -0.111111 (exact)>")
    at = "at tests/golden/reports/hungry_robot.corrigo"
    assert [repr(check) for check in report.checks] == [
        f"<CheckResult corrigible FAILS: 'accepts_shutdown(request = !off, comply = [comply], mechani…' {at}:24:1; "
        "counterexample of 1 action>",
        f"<CheckResult no_sabotage HOLDS: 'never switch == disabled' {at}:25:1>",
        f"<CheckResult shuts_down FAILS: 'P >= 0.5 [ F off ]' {at}:26:1>",
        f"<CheckResult bounded HOLDS: 'cost <= 0' {at}:27:1>",
        f"<CheckResult effort_cap HOLDS: 'cost[effort] <= 2' {at}:28:1>",
        f"<CheckResult faithful FAILS: 'regret(service) <= 0.5' {at}:29:1; counterexample of 1 action>",
        f"<CheckResult no_power INCONCLUSIVE: 'power_seeking <= 0.1' {at}:30:1>",
    ]
    corrigible = report.check("corrigible")
    assert repr(corrigible.trace) == "<Trace of 1 action, probability 1: eat>"
    # the gap 10/9 is the sum of the terms' totals in the golden HTML (-1/9 + 16/9 - 5/9)
    assert repr(corrigible.attribution) == ("<Attribution at 'fed=false, off=false, switch=armed': 'eat' over "
                                            "'comply' by 1.11111, 3 cost terms>")


def test_power_submodel_policy_and_options(hungry) -> None:
    spec, model, solution, _ = hungry
    estimate = mdp.power(model, samples=20, seed=0)
    # the terminal state's POWER is exactly E[R] = 0.5 (the smallest); the largest is a sample mean
    assert repr(estimate) == (f"<PowerEstimate hungry_robot: 4 states, 20 samples of uniform (seed 0), discount 0.5; "
                              f"POWER from 0.5 to {estimate.power.max():.4g}>")
    assert estimate.power.min() == 0.5
    # optimal play: eat until fed, then wait (fed=true, off=false): 2 states, one optimal choice each
    assert repr(optimal_submodel(solution)) == ("<OptimalSubmodel hungry_robot: 2 of 4 states reached, "
                                                "2 optimal choices there, exact>")
    policy = verify_policy(spec, solution.policy, exact=True)
    assert repr(policy) == ("<PolicyReport hungry_robot: cost -0.111111, optimal -0.111111, gap 0; 7 checks, 3 hold, "
                            "3 fail, 1 inconclusive>")
    # bottom components: off (terminal) and the fed robot waiting forever
    assert repr(option_graph(model)) == ("<OptionGraph hungry_robot: 4 states, 4 strongly connected components, "
                                         "2 of them bottom>")


def test_sweep() -> None:
    # staying is worth -2w, complying -2: they tie at w = 1, where an optimal policy may stay forever
    result = sweep(dsl.load(SWITCH))
    assert repr(result) == ("<SweepResult switch: w; 2 regions, 3 cells, complete, exact; 1 check: 0 hold throughout, "
                            "1 fail somewhere>")
    assert [repr(cell) for cell in result.cells] == [
        "<Cell 0, in region 0: dimension 1, 1 constraint, at (1/2); 1 check, 1 holds, 0 fail>",
        "<Cell 1, a face of region 0: dimension 0, 1 constraint, at (1); 1 check, 0 hold, 1 fails>",
        "<Cell 2, in region 1: dimension 1, 1 constraint, at (5/2); 1 check, 0 hold, 1 fails>",
    ]
    assert [repr(region).split(", sampled at")[0] for region in result.regions] == [
        "<Region 0: 1 constraint", "<Region 1: 1 constraint"]


def test_long_text_is_clipped_to_one_line() -> None:
    state = "battery=4,\n room=" + "x" * 200
    trace = Trace((Step(state, "go" * 100, 0.5), Step(state)), 0.5)
    attribution = Attribution(state, "go", "stay", None, (TermContribution("t", 1.0, 0.0),), is_tie=True)
    check = CheckResult("c", "never", "never " + "x" * 300, Location("a.corrigo", 3, 1), Verdict.FAILS, "s",
                        trace=trace, attribution=attribution)
    report = Report("m", "a.corrigo", 2, 2, 2, 1, 0.5, 1.0, 0.0, ())
    assert repr(trace) == f"<Trace of 1 action, probability 0.5: {'go' * 29}g…>"
    assert repr(attribution) == f"<Attribution at 'battery=4, room={'x' * 43}…': 'go' over 'stay' by ? (a tie), " \
                                "1 cost term>"
    assert repr(check) == f"<CheckResult c FAILS: 'never {'x' * 53}…' at a.corrigo:3:1; counterexample of 1 action>"
    assert repr(report) == "<Report m: no checks; 2 states, optimal cost 1 (exact)>"


def test_equality_is_still_by_value(hungry) -> None:
    spec, model, solution, report = hungry
    again = verify_model(spec, model, solution, exact=True)
    assert again == report and again.checks[0] == report.checks[0]
    assert dataclasses.replace(report, value=0.0) != report
    assert dsl.load(HUNGRY) == spec


def test_household_robot_reprs_fit_a_few_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    spec = dsl.load(HOUSEHOLD)
    model = mdp.compile(spec, exact=True)
    solution = mdp.solve(model)
    report = verify_model(spec, model, solution)
    result = sweep_model(spec, model, params=["w_hunger"], max_regions=1)
    held = [spec, model, model.rationals, model.rounding, solution, mdp.solve(model, exact=True), report,
            mdp.power(model, samples=20), optimal_submodel(solution), verify_policy(spec, solution.policy),
            option_graph(model), result, *result.cells, *result.regions]
    for check in report.checks:
        held += [check, *([check.trace] if check.trace else []), *([check.attribution] if check.attribution else [])]
    assert sum(isinstance(x, CheckResult) for x in held) == 5
    assert sum(isinstance(x, Trace) for x in held) >= 4
    lengths = {type(x).__name__: max(len(repr(y)) for y in held if type(y) is type(x)) for x in held}
    assert max(lengths.values()) <= 300, lengths
    assert all("\n" not in repr(x) for x in held)
