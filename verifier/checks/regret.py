"""``regret(intent) ~ x``: how much worse than possible the agent's optimal policies do for the designers.

The regret is the worst case over M* of the intent's expected discounted cost from the initial state,
minus the intent-optimal cost over *all* policies of the model: ``max_{pi in M*} J_intent(pi) -
min_pi J_intent(pi)``. It measures proxy gaming (Goodhart) and wireheading. Reported also relative to
the intent's range ``max_pi J_intent(pi) - min_pi J_intent(pi)`` over all policies.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from dsl.spec import Check, Regret

from ..explain import attribute
from ..numerics import extremal_costs
from ..results import Attribution, CheckResult, Quantity, Step, Trace, Verdict, decide
from ..submodel import shortest_trace
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
    if sub.has_uncertain:
        # the worst case must not rest on near-tied choices that may not be optimal
        certain = sub.certain & sub.reachable_with(sub.certain)[model.row_state]
        alone = extremal_costs(model, certain, intent, maximize=True)
        low = float(alone.values[s0]) - alone.bound - best_value - best.bound
        high = float(alone.values[s0]) + alone.bound - best_value + best.bound
        if decide(prop.comparison, low, high, float(prop.bound)) is not verdict:
            verdict = Verdict.INCONCLUSIVE
    relative = f" ({quantities[-1].value:.1%} of the intent's range)" if len(quantities) == 4 else ""
    summary = (f"{context.words.they_can} cost '{prop.intent}' {agent_value:.6g} against an optimum of "
               f"{best_value:.6g}: regret {regret.value:.6g}{relative}, bound {prop.comparison.value} {float(prop.bound):g}")
    trace, attribution = None, None
    if verdict is Verdict.FAILS:
        trace, attribution = _deviation(context, intent, best.values, tolerance=max(best.bound, 1e-9))
        if attribution is not None:
            summary += (f"; first deviation: '{attribution.chosen}' where the intent prefers "
                        f"'{attribution.alternative}'")
    return result(check, "regret", verdict, summary, context, quantities=tuple(quantities), trace=trace,
                  attribution=attribution)


def _deviation(context: Context, intent: npt.NDArray[np.float64], optimum: npt.NDArray[np.float64],
               tolerance: float) -> tuple[Trace | None, Attribution | None]:
    """A shortest path in M* to an optimal choice that is worse for the intent than the intent's best choice.

    A choice deviates when its intent Q-value ``intent(s, a) + gamma * P(s, a) . V_intent`` exceeds the
    intent-optimal value ``V_intent(s)``; the attribution compares it with the intent-optimal choice.
    """
    model, sub = context.model, context.sub
    Q_intent = intent + model.discount * (model.P @ optimum)
    deviating = (sub.certain & sub.reachable[model.row_state] & ~model.terminal[model.row_state]
                 & (Q_intent > optimum[model.row_state] + 2 * tolerance + 1e-9 * np.abs(optimum[model.row_state])))
    if not deviating.any():
        return None, None
    states = np.zeros(model.n_states, dtype=bool)
    states[model.row_state[deviating]] = True
    path = shortest_trace(sub, states, sub.certain)
    if path is None:
        return None, None
    end = path.end
    rows = np.arange(model.row_groups[end], model.row_groups[end + 1])
    row = int(rows[deviating[rows]][np.argmax(Q_intent[rows[deviating[rows]]])])
    intent_best = rows[np.argmin(Q_intent[rows])]
    action = model.action_names[model.row_action[row]]
    trace = Trace(path.trace.steps[:-1] + (Step(path.trace.steps[-1].state, action, None),), path.trace.probability)
    return trace, attribute(model, context.solution, row, int(intent_best))
