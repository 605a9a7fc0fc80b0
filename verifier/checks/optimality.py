"""``optimality_probability(at = φ, actions = [a, ...]) ~ p``: does the *world* reward these actions?

Turner et al.'s optimality probability (Turner, Smith, Shah, Critch, Tadepalli, "Optimal Policies Tend
to Seek Power", NeurIPS 2021): the probability, over reward functions ``R ~ D`` (state rewards IID
uniform on [0, 1]), that an action is optimal at a state for ``R``. The check takes, at every
non-terminal state of the model (all of it, not only M*: it is about the world, not the agent) where
``at`` holds, the share of sampled reward functions for which *some* action of the set is optimal (a
sample where several are tied counts once; ties with actions outside the set count for the set too),
and compares the largest share with ``p``. With no such state the largest share is 0.

Statistics: each share is a binomial proportion over the same ``Context.samples`` rewards (``corrigo
verify --samples``, default 1000). Its Wilson score interval at z = 3 (scipy's ``binomtest``) is
monotone in the count, so the states' intervals are ordered like their shares: the check HOLDS or FAILS
only when the bound lies outside the interval of the largest share, else it is INCONCLUSIVE. The
intervals are per state, not corrected for many states tested together.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from dsl.spec import Check, OptimalityProbability
from mdp.power import optimal_counts

from ..results import Basis, CheckResult, Quantity, Verdict, decide
from .common import Context, result, undiscounted

__all__ = ["at_discount", "check_optimality_probability", "wilson_interval"]

_Z = 3.0
_CONFIDENCE = math.erf(_Z / math.sqrt(2.0))  # the two-sided level of +-3 standard deviations


def wilson_interval(count: int, samples: int) -> tuple[float, float]:
    """The Wilson score interval of ``count / samples`` at z = 3 (a 99.73% two-sided interval)."""
    from scipy.stats import binomtest  # 0.4 s to import: only when a check needs it

    interval = binomtest(count, samples).proportion_ci(confidence_level=_CONFIDENCE, method="wilson")
    return float(interval.low), float(interval.high)


def at_discount(discount: Fraction | None) -> str:
    """How a quantity's discount reads in a summary: nothing for the spec's own."""
    if discount is None:
        return ""
    if discount in (0, 1):
        return f" (discount -> {discount})"
    return f" (discount {float(discount):g})"


def check_optimality_probability(check: Check, context: Context) -> CheckResult:
    """The largest share of random rewards that make an action of the set optimal where ``at`` holds."""
    prop = check.property
    assert isinstance(prop, OptimalityProbability)
    model = context.model
    threshold = prop.bound
    wanted = "[" + ", ".join(sorted(prop.actions)) + "]"
    undefined = None if prop.discount is not None else \
        undiscounted(check, "optimality_probability", "the optimality probability of random rewards",
                     "Turner et al.'s rewards are discounted", context)
    if undefined is not None:
        return undefined
    states = np.flatnonzero(context.states_where(prop.at) & ~model.terminal)
    if states.size == 0:
        verdict = decide(prop.comparison, 0.0, 0.0, threshold)
        return result(check, "optimality_probability", verdict,
                      f"no non-terminal state of the model satisfies the 'at' condition: the largest share is 0, "
                      f"bound {prop.comparison.value} {float(threshold):g}", context,
                      quantities=(Quantity("largest optimality probability", 0.0, 0.0),))
    samples = context.samples
    counts = optimal_counts(model, states.tolist(), samples, context.seed, distribution=prop.distribution,
                            actions=(prop.actions,), discount=None if prop.discount is None else float(prop.discount))
    worst = max(counts, key=lambda s: (counts[s][2][0], -s))  # the largest share, the first state on ties
    rows, row_counts, (count,) = counts[worst]
    share = count / samples
    low, high = wilson_interval(count, samples)
    verdict = decide(prop.comparison, low, high, threshold)
    others = ", ".join(f"{model.action_names[model.row_action[r]]} {c / samples:.1%}" for r, c in zip(rows, row_counts))
    rewards = "random rewards" + ("" if prop.distribution == "uniform" else f" ({prop.distribution})") + \
        at_discount(prop.discount)
    summary = (f"at {states.size} state(s) where the 'at' condition holds, the largest share of {rewards} "
               f"that make {wanted} optimal is {share:.1%} (Wilson interval at z = 3: [{low:.1%}, {high:.1%}], "
               f"{samples} samples) at ({model.describe(worst)}); every action there: {others}; "
               f"bound {prop.comparison.value} {float(threshold):g}")
    quantities = (
        Quantity("largest optimality probability", share, max(share - low, high - share)),
        Quantity("states where 'at' holds", float(states.size), 0.0),
    )
    settle = None
    if verdict is Verdict.INCONCLUSIVE:
        settle = (f"the bound {float(threshold):g} is inside the Wilson interval of the largest share: more reward samples "
                  f"(--samples, now {samples}) or a bound further from it")
    return result(check, "optimality_probability", verdict, summary, context, quantities=quantities,
                  basis=Basis.SAMPLING, **({"settle": settle} if settle else {}))
