"""Storm's values on corrigo's PRISM export agree with corrigo's own, within the certified bound.

In the spirit of momba's ``CrossChecker``: two checkers, one model, agreement within a stated delta. The
model is exported explicit state (:mod:`mdp.prism`), so Storm checks exactly the model corrigo solved.

How Storm is asked (stormpy 2.0.0):

- discount < 1: ``R{"cost"}min=? [ Cdiscount=γ ]`` on a double model, in ``environments.sound()`` with
  ``min_max().precision = Rational(1e-10)`` and ``relative_termination_criterion = False``. Storm solves
  discounted objectives with its own value iteration whatever method is set, and offers no exact mode for
  them; against exact policy iteration its error stayed below the precision (worst 0.9995 of it).
- discount 1 and costs >= 0: ``R{"cost"}min=? [ F "terminal" ]`` in the same sound environment (interval
  iteration, certified to the precision).
- discount 1 with a negative cost: a Rational model in ``environments.exact()``. Storm's floating-point
  methods assume non-negative rewards for reachability rewards and silently return wrong values
  otherwise (the sound default gave -10.95 where the value is -15.20; known upstream as Storm issue
  #1061, and #29); exact mode is right.

Storm builds only the states reachable from the initial one; values are compared there.
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

stormpy = pytest.importorskip("stormpy")

from mdp.graph import reachable_states  # noqa: E402
from mdp.model import TabularMDP  # noqa: E402
from dsl.spec import CostBound, Spec  # noqa: E402
from mdp.prism import STATE_VARIABLE, TOTAL_COST, prism_checks, prism_names, to_prism_files  # noqa: E402
from random_mdps import policy_iteration, random_mdp  # noqa: E402

pytestmark = pytest.mark.crosscheck

STORM_PRECISION = 1e-10
"""Absolute precision asked of Storm; its answers are within it (certified for reachability)."""
MAX_STATES = 5_000
"""Storm's build of an explicit-state program is quadratic in the states (4,000 states of 4 actions took
20 s, 10^4 would take about 2 minutes): keep cross-checks small."""
EXAMPLES = sorted(glob.glob(str(Path(__file__).resolve().parents[2] / "examples" / "*.corrigo")))
SEEDS = range(40)


@dataclass(frozen=True)
class StormRun:
    """What Storm built and computed, indexed by corrigo's state numbers (NaN where Storm has no state)."""

    states: npt.NDArray[np.int64]  # (Storm states,) corrigo's index of each Storm state
    n_choices: int
    n_transitions: int
    values: dict[str, npt.NDArray[np.float64]]  # property name -> (n,)
    labels: dict[str, npt.NDArray[np.bool_]]  # Storm label -> (n,)
    model: object  # the stormpy model
    exact: bool


def storm_environment(exact: bool):
    """Sound (or exact) environment with an absolute precision of :data:`STORM_PRECISION`."""
    if exact:
        return stormpy.environments.exact()
    environment = stormpy.environments.sound()
    min_max = environment.solver().min_max()
    min_max.precision = stormpy.Rational(STORM_PRECISION)
    min_max.relative_termination_criterion = False
    return environment


def check_with_storm(model: TabularMDP, directory: Path, spec: Spec | None = None) -> StormRun:
    """Export ``model`` (with the checks of ``spec``), build it with Storm and check every property of the export;
    a bound's value is 1.0 where Storm finds it true, 0.0 where false."""
    model_path, properties_path = to_prism_files(model, directory / "model", spec)
    program = stormpy.parse_prism_program(str(model_path))
    properties = stormpy.parse_properties(properties_path.read_text(), program)
    exact = model.discount == 1 and bool((model.cost < 0).any())
    options = stormpy.BuilderOptions(properties, program)
    options.set_build_state_valuations()
    options.set_build_all_labels()
    options.set_build_all_reward_models()
    options.set_build_choice_labels()
    built = stormpy.build_model[stormpy.Rational if exact else float](program, options=options)

    variable = program.get_module(prism_names(model).module).get_integer_variable(STATE_VARIABLE).expression_variable
    states = np.array([built.state_valuations.get_int64_value(i, variable) for i in range(built.nr_states)],
                      dtype=np.int64)
    values = {}
    for prop in properties:
        result = stormpy.model_checking(built, prop, environment=storm_environment(exact))
        column = np.full(model.n_states, np.nan)
        if result.is_qualitative():
            truth = result.get_truth_values_vector()
            column[states] = [float(truth.get(i)) for i in range(built.nr_states)]
        else:
            column[states] = [float(result.get_value(i)) for i in range(built.nr_states)]
        values[prop.get_name()] = column
    labels = {}
    for label in built.labeling.get_labels():
        mask = np.zeros(model.n_states, dtype=bool)
        mask[states[list(built.labeling.get_states(label))]] = True
        labels[label] = mask
    return StormRun(states, built.nr_choices, built.nr_transitions, values, labels, built, exact)


def tolerance(values: npt.NDArray[np.float64], bound: float, exact: bool) -> npt.NDArray[np.float64]:
    """Our bound plus Storm's precision plus float round-off on values of this size."""
    return bound + (0.0 if exact else STORM_PRECISION * (1 + 1e-3)) + 1e-12 * (1 + np.abs(values))


def assert_agree(ours: npt.NDArray[np.float64], storm: npt.NDArray[np.float64], allowed: npt.NDArray[np.float64],
                 what: str) -> None:
    gap = np.abs(ours - storm)
    worst = int(np.argmax(gap - allowed))
    assert np.all(gap <= allowed), (
        f"{what}: Storm {storm[worst]!r} against ours {ours[worst]!r} at state {worst} "
        f"(gap {gap[worst]:.3g}, allowed {allowed[worst]:.3g})"
    )


def solve_or_skip():
    solver = pytest.importorskip("mdp.solver", reason="mdp.solver is not written yet")
    if not hasattr(solver, "solve"):
        pytest.skip("mdp.solver has no solve() yet")
    return solver.solve


def certified_bound(solution: object) -> float:
    """The absolute error bound the solver certifies for ``solution.V``."""
    for name in ("bound", "error_bound", "certified_bound"):
        if hasattr(solution, name):
            return float(getattr(solution, name))
    raise AssertionError(f"{type(solution).__name__} has no error bound attribute")


# --- the export reads back as the model we built ------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_storm_builds_the_model_we_built(seed, tmp_path):
    model = random_mdp(seed)
    run = check_with_storm(model, tmp_path)
    reachable = reachable_states(model)
    assert sorted(run.states.tolist()) == np.flatnonzero(reachable).tolist()
    rows = np.flatnonzero(reachable[model.row_state])
    assert run.n_choices == rows.size
    assert run.n_transitions == model.P[rows].count_nonzero()

    names = prism_names(model)
    assert np.array_equal(run.labels["terminal"], model.terminal & reachable)
    for label, mask in model.labels.items():
        assert np.array_equal(run.labels[names.labels[label]], mask & reachable)

    # every Storm choice is one of our rows: same successors, same probabilities (Storm reads decimals
    # through ExprTk, which may land an ulp or two away), same cost
    action = {label: a for a, label in enumerate(names.actions)}
    matrix, P = run.model.transition_matrix, model.P.tocsr()
    cost = np.asarray(run.model.reward_models[TOTAL_COST].state_action_rewards)
    for storm_state, state in enumerate(run.states.tolist()):
        for storm_row in range(matrix.get_row_group_start(storm_state), matrix.get_row_group_end(storm_state)):
            (label,) = run.model.choice_labeling.get_labels_of_choice(storm_row)
            (row,) = [r for r in model.rows(state) if model.row_action[r] == action[label]]
            theirs = {int(run.states[e.column]): e.value for e in matrix.get_row(storm_row)}
            ours = dict(zip(P.indices[P.indptr[row]:P.indptr[row + 1]].tolist(),
                            P.data[P.indptr[row]:P.indptr[row + 1]].tolist()))
            assert theirs.keys() == ours.keys()
            assert all(math.isclose(theirs[j], ours[j], rel_tol=1e-15, abs_tol=0) for j in ours)
            assert math.isclose(cost[storm_row], model.cost[row], rel_tol=1e-15, abs_tol=1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_storm_agrees_with_exact_policy_iteration(seed, tmp_path):
    """Independent of corrigo's solver: Storm on the export against a direct-evaluation reference."""
    model = random_mdp(seed)
    run = check_with_storm(model, tmp_path)
    reference = policy_iteration(model)[run.states]
    storm = run.values[TOTAL_COST][run.states]
    assert_agree(reference, storm, tolerance(reference, 0.0, run.exact), f"seed {seed}, discount {model.discount}")


# --- Storm against corrigo's solver and verifier ------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_storm_agrees_with_solver(seed, tmp_path):
    solve = solve_or_skip()
    model = random_mdp(seed)
    run = check_with_storm(model, tmp_path)
    solution = solve(model)
    ours = np.asarray(solution.V)[run.states]
    storm = run.values[TOTAL_COST][run.states]
    assert_agree(ours, storm, tolerance(ours, certified_bound(solution), run.exact),
                 f"seed {seed}, discount {model.discount}")


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_storm_reach_probabilities_agree_with_verifier(seed, tmp_path):
    numerics = pytest.importorskip("mdp.quantities")
    model = random_mdp(seed)
    run = check_with_storm(model, tmp_path)
    names = prism_names(model)
    everything = np.ones(model.n_rows, dtype=bool)
    for label, mask in model.labels.items():
        for maximize, properties in ((True, names.reach_properties), (False, names.reach_min_properties)):
            ours = numerics.reachability(model, everything, np.asarray(mask, dtype=bool), maximize=maximize)
            storm = run.values[properties[label]][run.states]
            mine = ours.values[run.states]
            assert_agree(mine, storm, tolerance(mine, ours.bound, run.exact),
                         f"seed {seed}, {'Pmax' if maximize else 'Pmin'} F {label}")


# --- the shipped examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES or [None], ids=lambda p: Path(p).name if p else "no-examples")
def test_examples_agree_with_storm(path, tmp_path):
    if path is None:
        pytest.skip("examples/ has no *.corrigo yet")
    import dsl
    import mdp

    if not hasattr(mdp, "compile"):
        pytest.skip("mdp.compile is not written yet")
    solve = solve_or_skip()
    model = mdp.compile(dsl.load(path))
    if model.n_states > MAX_STATES:
        pytest.skip(f"{model.n_states} states: Storm's explicit-state build is too slow past {MAX_STATES}")
    run = check_with_storm(model, tmp_path)
    solution = solve(model)
    ours = np.asarray(solution.V)[run.states]
    storm = run.values[TOTAL_COST][run.states]
    assert_agree(ours, storm, tolerance(ours, certified_bound(solution), run.exact), Path(path).name)

    numerics = pytest.importorskip("mdp.quantities")
    names = prism_names(model)
    everything = np.ones(model.n_rows, dtype=bool)
    for label, mask in model.labels.items():
        for maximize, properties in ((True, names.reach_properties), (False, names.reach_min_properties)):
            reach = numerics.reachability(model, everything, np.asarray(mask, dtype=bool), maximize=maximize)
            mine = reach.values[run.states]
            assert_agree(mine, run.values[properties[label]][run.states], tolerance(mine, reach.bound, run.exact),
                         f"{Path(path).name}: {'Pmax' if maximize else 'Pmin'} F {label}")


# --- the spec's checks in the properties file ---------------------------------------------------------

CHECKS_SPEC = str(Path(__file__).resolve().parents[1] / "golden" / "export" / "prism_checks.corrigo")
CHECK_STATES = 1_000
"""Specs up to this size also have their checks cross-checked (the largest example is checked above)."""


@pytest.mark.parametrize("path", [*EXAMPLES, CHECKS_SPEC], ids=lambda p: Path(p).name)
def test_storm_reads_the_exported_checks_and_never_contradicts_corrigo(path, tmp_path):
    """Every exported check parses and is checked by Storm; a bound Storm finds true (over every policy) is
    never a check corrigo finds failing (over the optimal ones), and a `cost` check's query is corrigo's optimum."""
    import dsl
    import mdp
    from verifier import Verdict, verify

    spec = dsl.load(path)
    model = mdp.compile(spec)
    if model.n_states > CHECK_STATES:
        pytest.skip(f"{model.n_states} states: the model is cross-checked by test_examples_agree_with_storm")
    exported = [p for p in prism_checks(model, spec).properties if p.is_exported]
    run = check_with_storm(model, tmp_path, spec)
    assert {p.name for p in exported} <= run.values.keys()  # Storm parsed and checked each of them
    report = verify(spec, checks=tuple(p.check for p in exported))
    checks = {check.name: check for check in spec.checks}
    for prop in exported:
        storm = run.values[prop.name][model.initial]
        verdict = report.check(prop.check).verdict
        bound = checks[prop.check].property
        if isinstance(bound, CostBound) and bound.term is None:  # the query of the optimal cost
            allowed = tolerance(np.array([report.value]), report.bound, run.exact)[0]
            assert abs(storm - report.value) <= allowed, (prop.check, storm, report.value)
            if abs(storm - float(bound.bound)) > allowed:
                assert (verdict is Verdict.HOLDS) == bound.comparison.holds(storm, float(bound.bound)), prop.check
        elif storm == 1.0:  # true for every policy, so for the optimal ones
            assert verdict is not Verdict.FAILS, (Path(path).name, prop.check, prop.formula)
        else:
            assert storm == 0.0, (prop.check, storm)


def test_a_bound_over_every_policy_can_fail_where_the_optimal_policies_meet_it(tmp_path):
    """The walker's optimal policies never walk far (walking costs), but some policy does: Storm's `P<=0 [ F "far" ]`
    is false where corrigo's `never far` holds. Bounds that no policy can break are true in both."""
    import dsl
    import mdp
    from verifier import Verdict, verify

    spec = dsl.load(CHECKS_SPEC)
    model = mdp.compile(spec)
    run = check_with_storm(model, tmp_path, spec)
    report = verify(spec, checks=("never_far", "in_house", "asked_soon", "not_at_once"))
    assert run.values["never_far"][model.initial] == 0.0
    assert report.check("never_far").verdict is Verdict.HOLDS
    for name in ("in_house", "asked_soon", "not_at_once"):
        assert run.values[name][model.initial] == 1.0
        assert report.check(name).verdict is Verdict.HOLDS
