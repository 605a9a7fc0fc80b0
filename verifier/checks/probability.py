"""``P ~ p [ path ]``: probabilities over every optimal policy, with PRISM/Storm min/max semantics.

A lower bound (``>=``, ``>``) must hold for the least favourable policy of M*, so it is checked against
Pmin; an upper bound (``<=``, ``<``) against Pmax. Paths: ``F φ``, ``φ U ψ`` (graph precomputation of
the probability-0 states, then interval iteration), ``G φ`` (``P(G φ) = 1 - P(F !φ)`` with min and max
swapped), ``F<=k φ`` (k exact backups) and ``X φ`` (one step).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from dsl.spec import Check, Eventually, Globally, Next, ProbabilityBound, Until

from ..numerics import Values, bounded_reachability, next_probabilities, reachability
from ..results import CheckResult, Quantity, Verdict, decide
from ..submodel import shortest_trace
from .common import Context, mentions_action, result

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
    model, sub = context.model, context.sub
    maximize = prop.comparison.is_upper
    values, witness = _probabilities(context, prop, sub.rows & sub.reachable[model.row_state])
    s0 = model.initial
    name = ("Pmax" if maximize else "Pmin")
    quantity = Quantity(name, float(values.values[s0]), values.bound_at(s0))
    threshold = float(prop.bound)
    verdict = decide(prop.comparison, max(quantity.low, 0.0), min(quantity.high, 1.0), threshold)
    if sub.has_uncertain:
        # the answer must not depend on near-tied choices that may not be optimal
        certain = sub.certain & sub.reachable_with(sub.certain)[model.row_state]
        alone, _ = _probabilities(context, prop, certain)
        low, high = float(alone.values[s0]) - alone.bound_at(s0), float(alone.values[s0]) + alone.bound_at(s0)
        if decide(prop.comparison, max(low, 0.0), min(high, 1.0), threshold) is not verdict:
            verdict = Verdict.INCONCLUSIVE
    summary = f"{name} = {_probability(quantity)} {context.words.over}; required {prop.comparison.value} {float(prop.bound):g}"
    trace = None
    if verdict is Verdict.FAILS and witness is not None:
        found = shortest_trace(sub, witness(values))
        trace = found.trace if found is not None and found.rows else None
        if trace is not None:
            summary += ("; the trace leads to a state from which some optimal policy never gets there"
                        if not maximize and not isinstance(prop.path, Globally) else
                        "; the trace shows a shortest way there")
    return result(check, "probability", verdict, summary, context, quantities=(quantity,), trace=trace)


def _probabilities(context: Context, prop: ProbabilityBound, rows: npt.NDArray[np.bool_]
                   ) -> tuple[Values, Callable[[Values], npt.NDArray[np.bool_]] | None]:
    """Pmin or Pmax of the path formula on ``rows``, and the witness function for a failure."""
    model = context.model
    path = prop.path
    maximize = prop.comparison.is_upper
    tol = min(context.tol or 1e-10, 1e-10)
    target = context.states_where(path.target)
    witness = None  # values -> (n,) states a shortest path to illustrates the failure
    if isinstance(path, Eventually) and path.steps is not None:
        values = bounded_reachability(model, rows, target, path.steps, maximize=maximize)
    elif isinstance(path, Eventually):
        values = reachability(model, rows, target, maximize=maximize, tol=tol)
        witness = _reach_witness(target, maximize)
    elif isinstance(path, Until):
        hold = context.states_where(path.hold)
        values = reachability(model, rows, target, maximize=maximize, avoid=~hold, tol=tol)
        witness = _reach_witness(target, maximize)
    elif isinstance(path, Globally):
        opposite = reachability(model, rows, ~target, maximize=not maximize, tol=tol)
        values = Values(1.0 - opposite.values, opposite.bound, opposite.certified, opposite.iterations,
                        opposite.decided)
        if not maximize:  # P(G φ) too low: show a way out of φ
            witness = lambda values: ~target  # noqa: E731
    elif isinstance(path, Next):
        values = next_probabilities(model, rows, target, maximize=maximize)
    else:  # pragma: no cover - the checker knows every path kind
        raise TypeError(f"unknown path formula {type(path).__name__}")
    return values, witness


def _reach_witness(target: npt.NDArray[np.bool_], maximize: bool) -> Callable[[Values], npt.NDArray[np.bool_]]:
    """Too likely: a path to the target. Too unlikely: a path to a state that never reaches it."""
    if maximize:
        return lambda values: target
    return lambda values: ~target & (values.values + values.bound <= 1e-12)


def _probability(quantity: Quantity) -> str:
    if quantity.bound < 5e-9:
        return f"{quantity.value:.6g}"
    return f"{quantity.value:.6g} ± {quantity.bound:.2g}"
