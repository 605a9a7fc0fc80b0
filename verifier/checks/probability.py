"""``P ~ p [ path ]``: probabilities over every optimal policy, with PRISM/Storm min/max semantics.

A lower bound (``>=``, ``>``) must hold for the least favourable policy of M*, so it is checked against
Pmin; an upper bound (``<=``, ``<``) against Pmax. Paths: ``F φ``, ``φ U ψ`` (graph precomputation of
the probability-0 and -1 states, then the rest solved and certified like costs, :mod:`mdp.quantities`),
``G φ`` (``P(G φ) = 1 - P(F !φ)`` with min and max swapped), ``F<=k φ`` (backups until the bound or a
fixed point) and ``X φ`` (one step). Where floats leave a reachable state's optimal rows ambiguous, the
probability lies between Pmin and Pmax of M*, and the verdict must hold for all of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from dsl.spec import Check, Eventually, Globally, Next, ProbabilityBound, Until
from mdp.quantities import EXACT_STEPS, Values, bounded_reachability, next_probabilities, reachability

from ..results import Basis, CheckResult, Quantity, Verdict
from ..submodel import shortest_trace
from .common import Context, at_initial, mentions_action, result

__all__ = ["check_probability"]


def check_probability(check: Check, context: Context) -> CheckResult:
    """``P ~ p [ path ]`` from the initial state, over the policies of M*."""
    prop = check.property
    assert isinstance(prop, ProbabilityBound)
    path = prop.path
    formulas = [getattr(path, name) for name in ("target", "hold") if hasattr(path, name)]
    if any(mentions_action(f) for f in formulas):
        return result(check, "probability", Verdict.INCONCLUSIVE,
                      "action indicators inside a path formula are not supported", context,
                      settle="state the path formula over variables only")
    model = context.model
    maximize = prop.comparison.is_upper
    values, witness = _probabilities(context, prop, maximize)
    known = at_initial(values, model)
    if context.sub.has_uncertain:  # floats cannot tell which rows of an ambiguous state are optimal
        known = known.union(at_initial(_probabilities(context, prop, not maximize)[0], model))
    name = "Pmax" if maximize else "Pmin"
    start = at_initial(values, model)
    quantity = Quantity(name, start.value, start.bound)
    verdict = known.decide(prop.comparison, prop.bound)
    summary = f"{name} = {probability_text(quantity)} {context.words.over}; required {prop.comparison.value} {float(prop.bound):g}"
    rest: dict[str, Any] = {}
    if context.exact and not known.is_exact:  # F<=k beyond exact arithmetic's backups: floats decided
        summary += f" (computed in floats: F<=k takes at most {EXACT_STEPS:,} backups in exact arithmetic)"
        rest["basis"] = Basis.CERTIFICATE
        rest["settle"] = (f"a step bound of at most {EXACT_STEPS:,}, or the unbounded F (the limit of F<=k), "
                          "is decided in exact arithmetic")
    trace = None
    if verdict is Verdict.FAILS and witness is not None:
        found = shortest_trace(context.sub, witness(values))
        trace = found.trace if found is not None and found.rows else None
        if trace is not None:
            summary += ("; the trace leads to a state from which some optimal policy never gets there"
                        if not maximize and not isinstance(prop.path, Globally) else
                        "; the trace shows a shortest way there")
    if verdict is not Verdict.INCONCLUSIVE:
        rest.pop("settle", None)
    return result(check, "probability", verdict, summary, context, quantities=(quantity,), trace=trace, **rest)


def _probabilities(context: Context, prop: ProbabilityBound, maximize: bool
                   ) -> tuple[Values, Callable[[Values], npt.NDArray[np.bool_]] | None]:
    """Pmin or Pmax of the path formula over M*, and the witness function for a failure."""
    model, rows, exact = context.model, context.agent_rows, context.exact
    path = prop.path
    target = context.states_where(path.target)
    witness = None  # values -> (n,) states a shortest path to illustrates the failure
    if isinstance(path, Eventually) and path.steps is not None:
        values = bounded_reachability(model, rows, target, path.steps, maximize=maximize, exact=exact)
    elif isinstance(path, Eventually):
        values = reachability(model, rows, target, maximize=maximize, exact=exact)
        witness = _reach_witness(target, maximize)
    elif isinstance(path, Until):
        hold = context.states_where(path.hold)
        values = reachability(model, rows, target, maximize=maximize, avoid=~hold, exact=exact)
        witness = _reach_witness(target, maximize)
    elif isinstance(path, Globally):
        opposite = reachability(model, rows, ~target, maximize=not maximize, exact=exact)
        values = Values(1.0 - opposite.values, opposite.bound + 2.0**-53, opposite.decided,
                        None if opposite.exact is None else {s: 1 - v for s, v in opposite.exact.items()})
        if not maximize:  # P(G φ) too low: show a way out of φ
            witness = lambda values: ~target  # noqa: E731
    elif isinstance(path, Next):
        values = next_probabilities(model, rows, target, maximize=maximize, exact=exact)
    else:  # pragma: no cover - the checker knows every path kind
        raise TypeError(f"unknown path formula {type(path).__name__}")
    return values, witness


def _reach_witness(target: npt.NDArray[np.bool_], maximize: bool) -> Callable[[Values], npt.NDArray[np.bool_]]:
    """Too likely: a path to the target. Too unlikely: a path to a state that never reaches it."""
    if maximize:
        return lambda values: target
    return lambda values: ~target & (values.values + values.bound <= 1e-12)


def probability_text(quantity: Quantity) -> str:
    if quantity.bound < 5e-9:
        return f"{quantity.value:.6g}"
    return f"{quantity.value:.6g} ± {quantity.bound:.2g}"
