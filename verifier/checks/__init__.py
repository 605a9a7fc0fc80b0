"""The checks, one module per kind; :func:`run_check` dispatches on the kind of a check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dsl.spec import (AcceptsShutdown, AlwaysCheck, Check, CostBound, NeverCheck, OptimalityProbability, PowerSeeking,
                      ProbabilityBound, Regret)

from ..results import CheckResult, Verdict
from .common import Context
from .cost import check_cost
from .invariant import check_always, check_never
from .optimality import check_optimality_probability
from .power import check_power_seeking
from .probability import check_probability
from .regret import check_regret
from .shutdown import check_accepts_shutdown

__all__ = [
    "Context", "check_accepts_shutdown", "check_always", "check_cost", "check_never", "check_optimality_probability",
    "check_power_seeking",
    "check_probability", "check_regret", "run_check",
]

_CHECKS: dict[type, Callable[[Check, Context], CheckResult]] = {
    NeverCheck: check_never,
    AlwaysCheck: check_always,
    ProbabilityBound: check_probability,
    CostBound: check_cost,
    AcceptsShutdown: check_accepts_shutdown,
    PowerSeeking: check_power_seeking,
    OptimalityProbability: check_optimality_probability,
    Regret: check_regret,
}


def run_check(check: Check, context: Context) -> CheckResult:
    """The result of ``check`` on the solved model in ``context``.

    A ``check ... for all params`` is evaluated at the spec's parameter values only: a failure there is
    a counterexample for the whole box, but holding there proves nothing about the other weights, so
    that verdict is INCONCLUSIVE until weight-space verification (``corrigo sweep``) exists.
    """
    outcome = _CHECKS[type(check.property)](check, context)
    if check.for_all_params and outcome.verdict is Verdict.HOLDS:
        values = ", ".join(f"{p.name}={float(p.value):g}" for p in context.spec.params) or "the given values"
        return replace(outcome, verdict=Verdict.INCONCLUSIVE,
                       summary=f"holds at {values}; 'for all params' is not verified over the whole parameter "
                               "box yet",
                       settle="weight-space verification ('corrigo sweep', a later release)")
    if check.for_all_params and outcome.verdict is Verdict.FAILS:
        values = ", ".join(f"{p.name}={float(p.value):g}" for p in context.spec.params)
        return replace(outcome, summary=f"{outcome.summary} (counterexample weights: {values})")
    return outcome
