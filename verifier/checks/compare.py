"""Comparisons of POWER and of optimality shares between states: ``power(at = a) > power(at = b)``,
``power(at = a) >= 0.7``, ``optimality_probability(at = s, actions = [right]) > optimality_probability(at =
s, actions = [left])``: Turner et al.'s statements ("this state has more POWER", "this action is optimal for
more reward functions") as checks.

Each side names one state of the model (``at`` must hold in exactly one). Both sides are estimated from the
same reward samples (the check's ``samples`` and ``seed``). POWER: the per-sample differences, so the
comparison is paired, with 3 standard errors of their mean (plus the numerical error of each value).
Shares: each side's Wilson interval at z = 3, as ``optimality_probability``; the difference lies between
the intervals' far ends. The verdict holds or fails only when the whole range does; otherwise it is
INCONCLUSIVE and more samples settle it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from dsl.errors import Diagnostic
from dsl.spec import Check, Expr, PowerAt, QuantityComparison, ShareAt
from mdp.model import ModelError
from mdp.power import absorbing_states, optimal_counts

from ..results import Basis, CheckResult, Quantity, Verdict, decide
from .common import Context, result, undiscounted
from .optimality import at_discount, wilson_interval
from .power import power_estimate

__all__ = ["check_quantity_comparison"]

_Z = 3.0


def check_quantity_comparison(check: Check, context: Context) -> CheckResult:
    prop = check.property
    assert isinstance(prop, QuantityComparison)
    model = context.model
    at_own_discount = prop.left.discount is None or \
        (isinstance(prop.right, (PowerAt, ShareAt)) and prop.right.discount is None)
    undefined = undiscounted(check, "comparison", "a comparison of POWER or of optimality shares",
                             "Turner et al.'s rewards are discounted", context) if at_own_discount else None
    if undefined is not None:
        return undefined
    left = _state(context, prop.left.at)
    right = _state(context, prop.right.at) if not isinstance(prop.right, Fraction) else None
    if isinstance(prop.left, PowerAt):
        return _power(check, context, prop, left, right)
    return _shares(check, context, prop, left, right)


def _state(context: Context, at: Expr) -> int:
    """The one state where ``at`` holds; a located error when there is none or several."""
    states = np.flatnonzero(context.states_where(at))
    if states.size != 1:
        model = context.model
        shown = ", ".join(f"({model.describe(int(s))})" for s in states[:3]) + (", ..." if states.size > 3 else "")
        raise ModelError(Diagnostic(
            f"a comparison needs the 'at' condition to hold in exactly one state; it holds in {states.size:,}"
            + (f": {shown}" if states.size else ""), at.span,
            hint="name every variable of the state, e.g. `at = x == 2 && off == false`"), context.spec.source)
    return int(states[0])


def _power(check: Check, context: Context, prop: QuantityComparison, left: int, right: int | None) -> CheckResult:
    assert isinstance(prop.left, PowerAt)
    model = context.model
    estimate = power_estimate(context, prop.left.distribution, keep=True, discount=prop.left.discount)
    assert estimate.sample_values is not None
    exact = absorbing_states(model)  # POWER there is E[R] exactly, no numerical error
    a = estimate.sample_values[left]
    error = 0.0 if exact[left] else estimate.tol
    if right is None:
        assert isinstance(prop.right, Fraction)
        b, other = np.full_like(a, float(prop.right)), f"{float(prop.right):g}"
    else:
        shown = at_discount(prop.right.discount) if isinstance(prop.right, PowerAt) else ""
        b, other = estimate.sample_values[right], f"POWER{shown} at ({model.describe(right)})"
        error += 0.0 if exact[right] else estimate.tol
        if isinstance(prop.right, PowerAt) and (prop.right.distribution, prop.right.discount) != \
                (prop.left.distribution, prop.left.discount):
            other_estimate = power_estimate(context, prop.right.distribution, keep=True, discount=prop.right.discount)
            assert other_estimate.sample_values is not None
            b = other_estimate.sample_values[right]
            error = (0.0 if exact[left] else estimate.tol) + (0.0 if exact[right] else other_estimate.tol)
    difference = a - b
    mean = float(difference.mean())
    margin = _Z * float(difference.std(ddof=1)) / np.sqrt(difference.size) + error
    verdict = decide(prop.comparison, mean - margin, mean + margin, 0)
    where = f"POWER{at_discount(prop.left.discount)} at ({model.describe(left)}) {float(a.mean()):.4g}"
    against = other if right is None else f"{other} {float(b.mean()):.4g}"
    summary = (f"{where} against {against}: difference {mean:.4g} ± {margin:.2g} (3 standard errors of "
               f"{context.samples} paired samples); required {prop.comparison.value} 0")
    quantities = (Quantity("POWER difference", mean, margin),)
    return _result(check, context, verdict, summary, quantities)


def _shares(check: Check, context: Context, prop: QuantityComparison, left: int, right: int | None) -> CheckResult:
    assert isinstance(prop.left, ShareAt)
    model, samples = context.model, context.samples
    sides = [(prop.left, left)] + ([(prop.right, right)] if isinstance(prop.right, ShareAt) and right is not None else [])
    counts: list[int] = []

    def discount(side: ShareAt) -> float | None:
        return None if side.discount is None else float(side.discount)

    if len(sides) == 2 and (prop.left.distribution, prop.left.discount) == \
            (sides[1][0].distribution, sides[1][0].discount):  # one batch of samples for both
        both = optimal_counts(model, [left, sides[1][1]], samples, context.seed, distribution=prop.left.distribution,
                              actions=(prop.left.actions, sides[1][0].actions), discount=discount(prop.left))
        counts = [both[left][2][0], both[sides[1][1]][2][1]]
    else:
        counts = [optimal_counts(model, [state], samples, context.seed, distribution=side.distribution,
                                 actions=(side.actions,), discount=discount(side))[state][2][0]
                  for side, state in sides]

    def share(count: int) -> tuple[float, float, float]:
        low, high = wilson_interval(count, samples)
        return count / samples, low, high

    a, a_low, a_high = share(counts[0])
    if right is None:
        assert isinstance(prop.right, Fraction)
        b = b_low = b_high = float(prop.right)
        against = f"{b:g}"
    else:
        assert isinstance(prop.right, ShareAt)
        b, b_low, b_high = share(counts[1])
        against = (f"[{', '.join(sorted(prop.right.actions))}] at ({model.describe(right)})"
                   f"{at_discount(prop.right.discount)} {b:.1%}")
    verdict = decide(prop.comparison, a_low - b_high, a_high - b_low, 0)
    summary = (f"[{', '.join(sorted(prop.left.actions))}] optimal at ({model.describe(left)}) for {a:.1%} of "
               f"random rewards{at_discount(prop.left.discount)} against {against} (Wilson intervals at z = 3, "
               f"{samples} samples); the difference is required {prop.comparison.value} 0")
    quantities = (Quantity("share difference", a - b, max(a - (a_low - b_high), (a_high - b_low) - a)),)
    return _result(check, context, verdict, summary, quantities)


def _result(check: Check, context: Context, verdict: Verdict, summary: str,
            quantities: tuple[Quantity, ...]) -> CheckResult:
    settle = None if verdict is not Verdict.INCONCLUSIVE else \
        f"the two are within the sampling error: more reward samples (--samples, now {context.samples})"
    return result(check, "comparison", verdict, summary, context, quantities=quantities, settle=settle,
                  basis=Basis.SAMPLING)
