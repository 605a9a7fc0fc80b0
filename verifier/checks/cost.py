"""``cost ~ x`` and ``cost[term] ~ x``: the expected discounted cost from the initial state.

The whole intrinsic cost is the same for every optimal policy: the optimal value ``V*(s0)``, with the
solver's certified bound. One term is not: optimal policies may trade one term for another, so
``cost[term]`` ranges over ``[min, max]`` across the policies of M*, and the check is decided on its
worst side (the maximum for ``<``/``<=``, the minimum for ``>``/``>=``).
"""

from __future__ import annotations

from dsl.spec import Check, CostBound

from ..numerics import extremal_costs
from ..results import CheckResult, Quantity, Verdict, decide
from .common import Context, result

__all__ = ["check_cost", "term_range"]


def check_cost(check: Check, context: Context) -> CheckResult:
    """``cost ~ x``: ``V*(s0) ~ x``; ``cost[term] ~ x``: the worst value of the term over M* ``~ x``."""
    prop = check.property
    assert isinstance(prop, CostBound)
    threshold = float(prop.bound)
    model = context.model
    if prop.term is None:
        value = float(context.solution.V[model.initial])
        quantity = Quantity("cost", value, context.bound)
        verdict = decide(prop.comparison, quantity.low, quantity.high, threshold)
        summary = f"{context.words.expected_cost} is {_number(value, quantity.bound)}, bound {prop.comparison.value} {float(prop.bound):g}"
        return result(check, "cost", verdict, summary, context, quantities=(quantity,))
    low, high = term_range(context, prop.term)
    worst = high if prop.comparison.is_upper else low
    verdict = decide(prop.comparison, worst.low, worst.high, threshold)
    if context.sub.has_uncertain:
        # the range may depend on near-tied choices: decide again without them, they must agree
        low_c, high_c = term_range(context, prop.term, certain_only=True)
        worst_c = high_c if prop.comparison.is_upper else low_c
        if decide(prop.comparison, worst_c.low, worst_c.high, threshold) is not verdict:
            verdict = Verdict.INCONCLUSIVE
    side = "at most" if prop.comparison.is_upper else "at least"
    spread = (f"exactly {_number(low.value, max(low.bound, high.bound))}"
              if abs(high.value - low.value) <= max(low.bound, high.bound) else
              f"{_number(low.value, low.bound)} to {_number(high.value, high.bound)}")
    summary = f"{context.words.they_incur} {spread} of '{prop.term}'; {side} {float(prop.bound):g} is required"
    return result(check, "cost", verdict, summary, context, quantities=(low, high))


def term_range(context: Context, term: str, certain_only: bool = False) -> tuple[Quantity, Quantity]:
    """The min and the max of term ``term``'s expected discounted cost over the policies of M*."""
    model, sub = context.model, context.sub
    rows = (sub.certain & sub.reachable_with(sub.certain)[model.row_state] if certain_only else
            sub.rows & sub.reachable[model.row_state])
    vector = model.costs[term] if term in model.costs else model.intents[term]
    low = extremal_costs(model, rows, vector, maximize=False)
    high = extremal_costs(model, rows, vector, maximize=True)
    s0 = model.initial
    return (Quantity(f"cost[{term}] min over M*", float(low.values[s0]), low.bound + context.bound),
            Quantity(f"cost[{term}] max over M*", float(high.values[s0]), high.bound + context.bound))


def _number(value: float, bound: float) -> str:
    value = value + 0.0  # no "-0"
    return f"{value:.6g}" if bound < 5e-7 * max(1.0, abs(value)) else f"{value:.6g} ± {bound:.2g}"
