"""``verify``: load, compile and solve a spec once, then run every check on its optimal sub-model.

Floats first: the solver's certificate decides most verdicts. A verdict the floats cannot decide (a
quantity within its bound of the threshold, or an optimal choice inside a near-tie) is INCONCLUSIVE, and
on models of at most ``settle_limit`` states it is then settled in the spec's exact rationals: the model
is compiled again with its exact numbers, solved exactly, and those checks run again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from os import PathLike
from typing import Any

import numpy as np
import numpy.typing as npt

import dsl
import mdp
from dsl.errors import SpecError
from dsl.spec import Check, Spec
from mdp.compiler import DEFAULT_MAX_BYTES, with_exact_numbers
from mdp.horizon import HorizonTooLarge, over_horizon
from mdp.model import TabularMDP
from mdp.planner import Plan
from mdp.solver import Solution
from mdp.stages import EXACT_WORK, Stages, decide_exactly, solve_stages

from .checks import Context, check_kind, run_check
from .checks.common import OPTIMAL, Wording, result
from .checks.stages import StageChecks, decided_by_stages
from .results import SETTLE_LIMIT, Basis, CheckResult, Report, Verdict
from .submodel import optimal_submodel

__all__ = ["settle_exactly", "solve_model", "solve_spec", "verify", "verify_model", "verify_stages"]


def verify(path_or_spec: str | PathLike[str] | Spec, overrides: Mapping[str, object] | None = None, *,
           tol: float | None = None, exact: bool = False, max_states: int | None = None,
           checks: tuple[str, ...] | None = None, samples: int = 1000, seed: int = 0,
           settle_limit: int = SETTLE_LIMIT, executor: Executor | None = None) -> Report:
    """Verify every check of a spec over every optimal policy of its model.

    Parameters
    ----------
    path_or_spec
        A ``.corrigo`` path, the text of a spec, or a loaded :class:`~dsl.spec.Spec`.
    overrides
        ``-D`` values for ``const`` and ``param`` declarations (only with a path or text).
    tol
        The solver's tolerance (default: the solver's own).
    exact
        Decide everything in the spec's exact rationals (compile, solve and every check): no rounding.
    settle_limit
        Without ``exact``: on models of at most this many states, verdicts the floats leave inconclusive
        are settled in exact arithmetic (0: never).
    max_states
        Stop compiling beyond this many states (:class:`~mdp.StateLimitError`).
    checks
        Names of the checks to run (default: all, in source order).
    samples, seed
        Reward functions sampled by the POWER checks (``power_seeking``, ``optimality_probability``),
        and their seed.
    executor
        Where POWER's chunks of samples and the cells of ``for all params`` sweeps run
        (:func:`verifier.parallel.executor`); ``None``: here. The report is the same either way.

    Returns
    -------
    Report
        One :class:`~verifier.results.CheckResult` per check.

    Raises
    ------
    SpecError
        The spec does not parse or check, or its model is not a proper MDP (``ModelError``).
    ResourceLimitError
        The model exceeds ``max_states``.

    Examples
    --------
    >>> report = verify('''
    ... model tiny
    ... discount 0.5
    ... var off : bool = false
    ... action comply when !off: off' = true
    ... action stay when !off: skip
    ... terminal off
    ... cost effort = 1 * [stay]
    ... check corrigible : accepts_shutdown(request = !off, comply = [comply], mechanism = [off])
    ... check stops : P >= 1 [ F off ]
    ... ''')
    >>> [(check.name, str(check.verdict)) for check in report.checks]
    [('corrigible', 'HOLDS'), ('stops', 'HOLDS')]
    """
    spec = path_or_spec if isinstance(path_or_spec, Spec) else dsl.load(path_or_spec, overrides)
    selected = spec.checks if checks is None else tuple(c for c in spec.checks if c.name in checks)
    here = tuple(c.name for c in selected if c.scenario == spec.world)
    options: dict[str, Any] = dict(tol=tol, exact=exact, max_states=max_states, samples=samples, seed=seed,
                                   settle_limit=settle_limit, executor=executor)
    report = _verify_world(spec, here, **options)
    if len(here) == len(selected):
        return report
    return _with_scenarios(spec, report, selected, options)


def _verify_world(spec: Spec, checks: tuple[str, ...], *, tol: float | None, exact: bool, max_states: int | None,
                  samples: int, seed: int, settle_limit: int, executor: Executor | None) -> Report:
    """:func:`verify` of the checks ``checks`` of ``spec``'s own world."""
    if spec.horizon is not None and not exact and \
            all(decided_by_stages(c) for c in spec.checks if c.name in checks):
        return verify_stages(spec, max_states=max_states, checks=checks, settle_limit=settle_limit)
    model = mdp.compile(spec, max_states=max_states, exact=exact)
    model, solution = solve_spec(spec, model, tol, exact, settle_limit)
    exact = solution.exact
    report = verify_model(spec, model, solution, tol=tol, exact=exact, checks=checks, samples=samples, seed=seed,
                          executor=executor)
    if exact:
        return report
    return settle_exactly(spec, model, report, tol=tol, samples=samples, seed=seed, settle_limit=settle_limit)


def _with_scenarios(spec: Spec, report: Report, selected: tuple[Check, ...], options: dict[str, Any]) -> Report:
    """``report`` (of the spec's own world) with the checks ``in`` other scenarios verified there, each in
    its world (:func:`verifier.scenarios.scenario_spec`), all in the order of ``selected``."""
    from .scenarios import scenario_spec

    done = {r.name: r for r in report.checks}
    for world in dict.fromkeys(c.scenario for c in selected if c.scenario != spec.world):
        assert world is not None
        names = tuple(c.name for c in selected if c.scenario == world)
        try:
            there = verify(scenario_spec(spec, world), checks=names, **options)
        except SpecError as error:  # the world the scenario makes is in error: say which scenario
            scenario = spec.scenario(world)
            note = f"in scenario '{world}'" + (f", declared at line {scenario.span.line}" if scenario.span else "")
            raise type(error)(tuple(replace(d, notes=(*d.notes, note)) for d in error.diagnostics),
                              error.source) from None
        for result, check in zip(there.checks, (c for c in selected if c.scenario == world)):
            carried = f" with policy from {check.transfer}" if check.transfer is not None else ""
            done[result.name] = replace(result, text=f"{result.text} in {world}{carried}", scenario=world)
    return replace(report, checks=tuple(done[c.name] for c in selected))


def verify_stages(spec: Spec, *, max_states: int | None = None, checks: tuple[str, ...] | None = None,
                  settle_limit: int = SETTLE_LIMIT) -> Report:
    """:func:`verify` for a spec with a ``horizon`` whose checks look only at optimal play
    (:func:`~verifier.checks.stages.decided_by_stages`): backward induction over the world's steps
    (:mod:`mdp.stages`), never the time-expanded model, except to settle in exact arithmetic what floats
    leave open when that model has at most ``settle_limit`` states."""
    assert spec.horizon is not None
    model = mdp.compile(spec, max_states=max_states, expand_horizon=False)
    stages = solve_stages(model, spec.horizon, max_bytes=DEFAULT_MAX_BYTES)
    checker = StageChecks(spec, stages)
    selected = spec.checks if checks is None else tuple(c for c in spec.checks if c.name in checks)
    results = tuple(checker.run(check) for check in selected)
    report = Report(spec=spec.name, path=spec.path, n_states=model.n_states, n_rows=model.n_rows,
                    n_transitions=model.n_transitions, n_optimal_states=int(checker.reach.sum()),
                    discount=float(model.discount), value=stages.value, bound=float(stages.bound[0]), checks=results,
                    steps=spec.horizon)
    return _settle_stages(spec, model, stages, report, settle_limit)


def _settle_stages(spec: Spec, model: TabularMDP, stages: Stages, report: Report, settle_limit: int) -> Report:
    """``report`` with what floats left inconclusive decided in exact arithmetic, on worlds of at most
    ``settle_limit`` states: first the optimal rows of every step (:func:`mdp.stages.decide_exactly`: ties
    such as those of an episode's last step), then, for what is still open, the exact time-expanded model
    when it has at most ``settle_limit`` states."""
    assert spec.horizon is not None
    unsettled = {r.name for r in report.checks if r.verdict is Verdict.INCONCLUSIVE}
    if not unsettled or model.n_states > settle_limit or spec.horizon * model.n_transitions > EXACT_WORK:
        return report
    exact_model = model if model.knows_exact else mdp.compile(spec, exact=True, expand_horizon=False)
    exact = decide_exactly(stages, exact_model)
    checker = StageChecks(spec, exact)
    checks = tuple(checker.run(c) if c.name in unsettled else r for c, r in zip(_selected(spec, report), report.checks))
    value = model.exact_at_start(exact.exact_start_values or {})
    report = replace(report, checks=checks, value=float(value) if value is not None else report.value,
                     bound=0.0 if value is not None else report.bound)
    unsettled = {r.name for r in checks if r.verdict is Verdict.INCONCLUSIVE}
    if not unsettled:
        return report
    try:
        over_horizon(model, spec.horizon, max_states=settle_limit)
    except HorizonTooLarge:
        return report  # too large for exact arithmetic: the hint says how to try anyway
    settled = {r.name: r for r in verify(spec, exact=True, checks=tuple(unsettled)).checks}
    return replace(report, checks=tuple(settled.get(r.name, r) for r in report.checks))


def _selected(spec: Spec, report: Report) -> tuple[Check, ...]:
    """The checks of ``spec`` that ``report`` has results for, in its order."""
    by_name = {c.name: c for c in spec.checks}
    return tuple(by_name[r.name] for r in report.checks)


def solve_model(model: TabularMDP, tol: float | None, exact: bool, **options: Any) -> Solution:
    """:func:`mdp.solve` with the tolerance given (default: the solver's own); ``options`` go to it as well
    (``exact_limit``: the settle paths solve models of up to ``settle_limit`` states exactly)."""
    if tol is not None:
        options["tol"] = tol
    return mdp.solve(model, exact=exact, **options)


def solve_spec(spec: Spec, model: TabularMDP, tol: float | None, exact: bool, settle_limit: int = SETTLE_LIMIT,
               progress: Callable[[int, float], object] | None = None) -> tuple[TabularMDP, Solution]:
    """Solve ``spec``'s ``model``; where floats cannot tell whether an optimal policy may loop forever
    (discount 1: the spec would be in error), decide it in exact arithmetic on models of at most
    ``settle_limit`` states (a :class:`~mdp.model.ModelError` if it may), returning the exact model."""
    solution = solve_model(model, tol, exact, progress=progress)
    if solution.loop_doubt is None or model.n_states > settle_limit:
        return model, solution
    model = with_exact_numbers(spec, model)
    return model, solve_model(model, tol, True, exact_limit=settle_limit)


def settle_exactly(spec: Spec, model: TabularMDP, report: Report, *, tol: float | None = None, samples: int = 1000,
                   seed: int = 0, settle_limit: int = SETTLE_LIMIT) -> Report:
    """``report`` with its float-inconclusive verdicts decided again in exact arithmetic, on models of at
    most ``settle_limit`` states (larger ones keep them, and their hint to re-run with ``--exact``)."""
    unsettled = tuple(r.name for r in report.checks
                      if r.verdict is Verdict.INCONCLUSIVE and r.basis is Basis.CERTIFICATE)
    if not unsettled or model.n_states > settle_limit:
        return report
    exact_model = with_exact_numbers(spec, model)
    exact_report = verify_model(spec, exact_model, solve_model(exact_model, tol, True, exact_limit=settle_limit),
                                tol=tol, exact=True, checks=unsettled, samples=samples, seed=seed)
    settled: dict[str, CheckResult] = {r.name: r for r in exact_report.checks}
    return replace(report, checks=tuple(settled.get(r.name, r) for r in report.checks),
                   value=exact_report.value, bound=exact_report.bound)  # the optimum is known exactly now


def _undecided_loop(check: Check, context: Context, doubt: str) -> CheckResult:
    """Every check is inconclusive while floats cannot tell whether an optimal policy can loop forever."""
    return result(check, check_kind(check), Verdict.INCONCLUSIVE,
                  f"floats cannot tell whether the spec is in error: {doubt}, or whether that loop is only nearly "
                  "optimal", context)


def verify_model(spec: Spec, model: TabularMDP, solution: Solution, *, tol: float | None = None, exact: bool = False,
                 checks: tuple[str, ...] | None = None, samples: int = 1000, seed: int = 0,
                 sweep: bool = True, words: Wording = OPTIMAL, executor: Executor | None = None,
                 optimal: Solution | None = None, plan: Plan | None = None, agent: str | None = None,
                 untrained: npt.NDArray[np.bool_] | None = None) -> Report:
    """Run the checks of ``spec`` on an already compiled and solved model.

    ``check ... for all params`` checks are decided over the whole param box by one weight-space
    sweep (:mod:`verifier.sweep`); with ``sweep=False`` (the sweep's own per-region calls) they are
    evaluated at the model's weights like any other check. ``words`` names what the checks quantify
    over in their summaries (``verify_policy`` passes its one policy's wording); ``optimal`` is the optimum
    when ``solution`` is a given policy's or an agent's (``plan``: the plan of the agent called ``agent``), for
    the checks that compare.
    """
    sub = optimal_submodel(solution, model)
    if samples < 2:
        raise ValueError(f"samples must be at least 2 (for a standard error), got {samples}")
    context = Context(spec, model, solution, sub, tol=tol, exact=exact, samples=samples, seed=seed, words=words,
                      executor=executor, optimal=optimal, plan=plan, agent=agent, untrained=untrained)
    selected = spec.checks if checks is None else tuple(c for c in spec.checks if c.name in checks)
    given = tuple(c for c in selected if c.under is not None or c.transfer is not None) if words is OPTIMAL else ()
    if solution.loop_doubt is not None:  # the spec itself may be in error: no verdict rests on it
        results = tuple(_undecided_loop(check, context, solution.loop_doubt) for check in selected)
    else:
        results = tuple(run_check(check, context) for check in selected if check not in given)
        if given:  # checks of a declared policy: on its own sub-model (verify_policy's machinery)
            from .policy import under_policies  # (it calls verify_model itself)

            done = {r.name: r for r in results} | under_policies(spec, model, solution, given, tol=tol, exact=exact,
                                                                 samples=samples, seed=seed)
            results = tuple(done[c.name] for c in selected)
    if sweep and any(c.for_all_params for c in selected):
        from .sweep import for_all_results  # the sweep calls verify_model itself

        decided = for_all_results(spec, model, tuple(c for c in selected if c.for_all_params), samples=samples,
                                  seed=seed, executor=executor)
        results = tuple(decided.get(r.name, r) for r in results)
    return Report(
        spec=spec.name,
        path=spec.path,
        n_states=model.n_states,
        n_rows=model.n_rows,
        n_transitions=model.n_transitions,
        n_optimal_states=sub.n_states,
        discount=float(model.discount),
        value=model.at_start(solution.V),
        bound=float(solution.bound),
        checks=results,
    )
