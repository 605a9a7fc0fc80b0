"""``cost ~ x`` and ``cost[term] ~ x``: the expected discounted cost from the initial state.

The whole intrinsic cost is the same for every optimal policy: the optimal value ``V*(s0)``, with the
solver's certified bound (or exactly). One term is not: optimal policies may trade one term for
another, so ``cost[term]`` ranges over ``[min, max]`` across the policies of M*, and the check is
decided on its worst side (the maximum for ``<``/``<=``, the minimum for ``>``/``>=``). Where floats
leave a reachable state's optimal rows ambiguous, the worst side lies somewhere in that whole range,
and the verdict must hold for all of it.
"""

from __future__ import annotations

from dsl.spec import Check, CostBound
from mdp.quantities import extremal_costs

from ..results import CheckResult, Quantity
from .common import Context, Range, at_initial, result

__all__ = ["check_cost", "term_range"]


def check_cost(check: Check, context: Context) -> CheckResult:
    """``cost ~ x``: ``V*(s0) ~ x``; ``cost[term] ~ x``: the worst value of the term over M* ``~ x``."""
    prop = check.property
    assert isinstance(prop, CostBound)
    if prop.term is None:
        value = optimal_value(context)
        quantity = Quantity("cost", value.value, value.bound)
        summary = (f"{context.words.expected_cost} is {number_text(value.value, value.bound)}, "
                   f"bound {prop.comparison.value} {float(prop.bound):g}")
        return result(check, "cost", value.decide(prop.comparison, prop.bound), summary, context,
                      quantities=(quantity,))
    low, high = term_range(context, prop.term)
    worst = low.union(high) if context.sub.has_uncertain else high if prop.comparison.is_upper else low
    side = "at most" if prop.comparison.is_upper else "at least"
    spread = (f"exactly {number_text(low.value, max(low.bound, high.bound))}"
              if abs(high.value - low.value) <= max(low.bound, high.bound) else
              f"{number_text(low.value, low.bound)} to {number_text(high.value, high.bound)}")
    summary = f"{context.words.they_incur} {spread} of '{prop.term}'; {side} {float(prop.bound):g} is required"
    return result(check, "cost", worst.decide(prop.comparison, prop.bound), summary, context,
                  quantities=(Quantity(f"cost[{prop.term}] min over M*", low.value, low.bound),
                              Quantity(f"cost[{prop.term}] max over M*", high.value, high.bound)))


def optimal_value(context: Context) -> Range:
    """``V*(s0)`` (averaged over the start states of an ``init``): exactly, or within the solver's bound."""
    solution, model = context.solution, context.model
    exact = model.exact_at_start(solution.exact_V) if solution.exact_V is not None else None
    if exact is not None:
        return Range.exactly(exact)
    return Range.around(model.at_start(solution.V), solution.bound)


def term_range(context: Context, term: str) -> tuple[Range, Range]:
    """The min and the max of term ``term``'s expected discounted cost over the policies of M*."""
    model, rows = context.model, context.agent_rows
    low = extremal_costs(model, rows, term, maximize=False, exact=context.exact)
    high = extremal_costs(model, rows, term, maximize=True, exact=context.exact)
    return at_initial(low, model), at_initial(high, model)


def number_text(value: float, bound: float) -> str:
    value = value + 0.0  # no "-0"
    return f"{value:.6g}" if bound < 5e-7 * max(1.0, abs(value)) else f"{value:.6g} ± {bound:.2g}"
