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

from mdp.quantities import extremal_costs

from ..explain import attribute
from ..results import Attribution, CheckResult, Quantity, Step, Trace, Verdict
from ..submodel import shortest_trace
from .common import Context, Range, at_initial, result

__all__ = ["check_regret", "regret_verdict"]


def check_regret(check: Check, context: Context) -> CheckResult:
    """Worst-case intent regret of the agent's optimal policies, against ``bound``."""
    prop = check.property
    assert isinstance(prop, Regret)
    model, exact = context.model, context.exact
    everything = np.ones(model.n_rows, dtype=bool)
    agent = extremal_costs(model, context.agent_rows, prop.intent, maximize=True, exact=exact)
    best = extremal_costs(model, everything, prop.intent, maximize=False, exact=exact)
    worst = extremal_costs(model, everything, prop.intent, maximize=True, exact=exact)
    if agent.unbounded or best.unbounded:
        return result(check, "regret", Verdict.INCONCLUSIVE,
                      f"the intent '{prop.intent}' has no finite optimum over the policies that end: with discount 1 "
                      "a policy can loop forever through a cycle that costs the intent nothing or less", context,
                      settle=f"give every cycle a positive '{prop.intent}' cost, or use a discount below 1")
    agent_range = at_initial(agent, model)
    if context.sub.has_uncertain:  # floats cannot tell which rows of an ambiguous state are optimal
        agent_range = agent_range.union(at_initial(
            extremal_costs(model, context.agent_rows, prop.intent, maximize=False), model))
    quantities, verdict, summary = regret_verdict(prop, agent_range, at_initial(best, model), at_initial(worst, model),
                                                  context.words.they_can)
    trace, attribution = None, None
    if verdict is Verdict.FAILS:
        trace, attribution = _deviation(context, model.intents[prop.intent], best.values,
                                        tolerance=max(best.bound, 1e-9))
        if attribution is not None:
            summary += (f"; first deviation: '{attribution.chosen}' where the intent prefers "
                        f"'{attribution.alternative}'")
    return result(check, "regret", verdict, summary, context, quantities=tuple(quantities), trace=trace,
                  attribution=attribution)


def regret_verdict(prop: Regret, agent: Range, best: Range, worst: Range, they_can: str
                   ) -> tuple[tuple[Quantity, ...], Verdict, str]:
    """The quantities, verdict and summary of ``regret(intent) ~ x`` from the intent's worst cost under the
    agent, its optimum and its worst over all policies (``they_can``: how the summary names the agent)."""
    regret = agent.minus(best)
    quantities = [Quantity("regret", regret.value, regret.bound),
                  Quantity(f"{prop.intent} under the agent (worst over M*)", agent.value, agent.bound),
                  Quantity(f"{prop.intent} optimum", best.value, best.bound)]
    span = worst.value - best.value
    if math.isfinite(span) and span > 0:
        quantities.append(Quantity("relative regret", regret.value / span,
                                   (regret.bound + worst.bound + best.bound) / span))
    relative = f" ({quantities[-1].value:.1%} of the intent's range)" if len(quantities) == 4 else ""
    summary = (f"{they_can} cost '{prop.intent}' {agent.value:.6g} against an optimum of {best.value:.6g}: regret "
               f"{regret.value:.6g}{relative}, bound {prop.comparison.value} {float(prop.bound):g}")
    return tuple(quantities), regret.decide(prop.comparison, prop.bound), summary


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
