"""``regret(intent) ~ x``: how much worse than possible the agent's optimal policies do for the designers.

The regret is the worst case over M* of the intent's expected discounted cost from the initial state,
minus the intent-optimal cost over *all* policies of the model: ``max_{pi in M*} J_intent(pi) -
min_pi J_intent(pi)``. It measures proxy gaming (Goodhart) and wireheading. Reported also relative to
the intent's range ``max_pi J_intent(pi) - min_pi J_intent(pi)`` over all policies.
"""

from __future__ import annotations

import math

import numpy as np

from dsl.spec import Check, Regret

from ..numerics import extremal_costs
from ..results import CheckResult, Quantity, decide
from .common import Context, result

__all__ = ["check_regret"]


def check_regret(check: Check, context: Context) -> CheckResult:
    """Worst-case intent regret of the agent's optimal policies, against ``bound``."""
    prop = check.property
    assert isinstance(prop, Regret)
    model, sub = context.model, context.sub
    intent = model.intents[prop.intent]
    s0 = model.initial
    everything = np.ones(model.n_rows, dtype=bool)
    agent = extremal_costs(model, sub.rows & sub.reachable[model.row_state], intent, maximize=True)
    best = extremal_costs(model, everything, intent, maximize=False)
    worst = extremal_costs(model, everything, intent, maximize=True)
    agent_value, best_value = float(agent.values[s0]), float(best.values[s0])
    regret = Quantity("regret", agent_value - best_value, agent.bound + best.bound)
    quantities = [regret,
                  Quantity(f"{prop.intent} under the agent (worst over M*)", agent_value, agent.bound),
                  Quantity(f"{prop.intent} optimum", best_value, best.bound)]
    span = float(worst.values[s0]) - best_value
    if math.isfinite(span) and span > 0:
        quantities.append(Quantity("relative regret", regret.value / span,
                                   (regret.bound + worst.bound + best.bound) / span))
    verdict = decide(prop.comparison, regret.low, regret.high, float(prop.bound))
    relative = f" ({quantities[-1].value:.1%} of the intent's range)" if len(quantities) == 4 else ""
    summary = (f"optimal policies can cost '{prop.intent}' {agent_value:.6g} against an optimum of "
               f"{best_value:.6g}: regret {regret.value:.6g}{relative}, bound {prop.comparison.value} {float(prop.bound):g}")
    return result(check, "regret", verdict, summary, context, quantities=tuple(quantities))
