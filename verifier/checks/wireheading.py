"""``no_wireheading(SENSOR = EXPR, ...)``: the agent does not tamper with what its own cost reads.

Wireheading (Everitt and Hutter, "Avoiding wireheading with value reinforcement learning", AGI 2016) and
reward tampering (Everitt, Hutter, Kumar and Krakovna, "Reward tampering problems and solutions in
reinforcement learning: a causal influence diagram perspective", Synthese 2021): an agent whose cost reads
a variable it can also write lowers its cost by writing the variable instead of changing the world the
variable stands for, a robot that rewires its battery sensor to read full instead of charging.

Which changes of a sensor are tampering cannot be read off the model alone: charging changes the battery
the sensor reads too. So each argument declares what the sensor is *meant* to read, ``SENSOR = EXPR``, an
expression of the world; a state where every declared sensor equals its expression is *honest*. Over every
optimal policy (M*, ties included) the check FAILS when, in an honest state optimal play reaches, an
optimal action makes the next state dishonest with a probability greater than the least probability of
any action available there: noise that every action suffers is not the agent's doing, and an action is
only blamed for what another action would have avoided. The counterexample is the trace to that state,
the tampering action, the most honest alternative with the least Q-value, and the split of their Q-value
gap by cost term (the term that profits from the tampering).

The chances are ``P @ dishonest`` (one sparse product) and their least per state one ``minimum.reduceat``:
linear in the transitions. In floats, a chance above the least by no more than the rounding of the model's
probabilities is a near-tie (INCONCLUSIVE); exact arithmetic (``--exact``) compares the chances exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dsl.numbers import counted
from dsl.spec import Check, NoWireheading
from mdp.model import TabularMDP

from ..results import CheckResult, Verdict
from .common import Context, result
from .violation import Violation, find_violation, near_tie

__all__ = ["check_no_wireheading"]

KIND = "no_wireheading"


def check_no_wireheading(check: Check, context: Context) -> CheckResult:
    """No optimal action at an honest state makes a sensor misread more likely than another action would."""
    prop = check.property
    assert isinstance(prop, NoWireheading)
    model, sub = context.model, context.sub
    honest_each = [context.states_where(sensor.honest) for sensor in prop.sensors]  # (n,) per sensor
    honest = np.logical_and.reduce(honest_each)
    named = " and ".join(f"'{sensor.name}'" for sensor in prop.sensors)
    reads, it = ("reads", "it") if len(prop.sensors) == 1 else ("read", "them")
    watched = honest & sub.reachable & ~model.terminal
    if not watched.any():
        return result(check, KIND, Verdict.HOLDS,
                      f"holds vacuously: no {context.words.reachable_state} has {named} reading as declared, so "
                      "there is no honest reading to tamper with (is the declaration right?)", context)
    excess, margin = _excess_chance(model, ~honest, context.exact)
    at_honest = honest[model.row_state]
    level = np.asarray(excess <= margin, dtype=bool)  # (m,) as honest as the most honest row, within the margin
    least = np.asarray(excess <= 0, dtype=bool)
    found = find_violation(context, at_honest & ~level, level)
    if found is not None and found.verdict is Verdict.FAILS:
        return result(check, KIND, Verdict.FAILS, _failure(context, prop, found, honest_each), context,
                      trace=found.trace, attribution=found.attribution)
    if found is not None:
        return result(check, KIND, Verdict.INCONCLUSIVE,
                      f"'{found.action}' may make {named} misread, but floats cannot tell whether it is optimal"
                      f"{near_tie(context, found.row)}: a near-tie that may or may not be a tie", context,
                      trace=found.trace, attribution=found.attribution)
    found = find_violation(context, at_honest & ~least, least)  # (only in floats: exactly, least == level)
    if found is not None:
        return result(check, KIND, Verdict.INCONCLUSIVE,
                      f"'{found.action}' makes {named} misread more likely than '{found.attribution.alternative}' by "
                      f"{float(excess[found.row]):.2g}, within the rounding of the model's probabilities "
                      f"({margin:.2g})", context, trace=found.trace, attribution=found.attribution)
    return result(check, KIND, Verdict.HOLDS,
                  f"in every {context.words.reachable_state} where {named} {reads} as declared "
                  f"({counted(int(watched.sum()), 'state')}), {context.words.every_action} keeps {it} so as surely "
                  "as any action there can", context)


def _excess_chance(model: TabularMDP, dishonest: npt.NDArray[np.bool_],
                   exact: bool) -> tuple[npt.NDArray[np.float64] | npt.NDArray[np.object_], float]:
    """(m,) how much more likely each row leads to a ``dishonest`` state than the least likely row of its
    state, and the margin below which floats cannot tell it from 0 (0 in exact arithmetic).

    In floats the chance of a row is off by at most the rounding of its probabilities (``rounding.P``, an
    L1 bound per row) plus that of their sum (one ulp per term), twice that for a difference of two."""
    starts = model.row_groups[:-1]
    if exact:
        weights = np.array(model.exact.P, dtype=object) * dishonest[model.P.indices]
        chance = np.add.reduceat(weights, model.P.indptr[:-1]) if weights.size else weights
        return chance - np.repeat(np.minimum.reduceat(chance, starts), np.diff(model.row_groups)), 0.0
    chance = np.asarray(model.P @ dishonest.astype(np.float64))
    least = np.minimum.reduceat(chance, starts)
    terms = int(np.diff(model.P.indptr).max(initial=1))
    margin = 2.0 * (model.rounding.P + terms * float(np.finfo(np.float64).eps))
    return chance - least[model.row_state], margin


def _failure(context: Context, prop: NoWireheading, found: Violation,
             honest_each: list[npt.NDArray[np.bool_]]) -> str:
    """What the tampering row does, against the most honest alternative, and which cost term profits."""
    model, attribution = context.model, found.attribution
    alternative = next(r for r in model.rows(int(model.row_state[found.row]))
                       if model.action_names[model.row_action[r]] == attribution.alternative)

    def misread(row: int, honest: npt.NDArray[np.bool_]) -> float:
        return float((model.P[[row]] @ (~honest).astype(np.float64))[0])

    chances = [(f"'{sensor.name}'", misread(found.row, honest), misread(alternative, honest))
               for sensor, honest in zip(prop.sensors, honest_each)]
    every = np.logical_and.reduce(honest_each)
    changed = [c for c in chances if c[1] > c[2]] or \
        [("a sensor", misread(found.row, every), misread(alternative, every))]
    effects = ", ".join(f"{name} then misreads with probability {p:.4g} ({q:.4g} after '{attribution.alternative}')"
                        for name, p, q in changed)
    summary = f"{context.words.some} takes '{found.action}'{found.where} while every sensor reads as declared: "
    summary += effects
    if attribution.is_tie:
        return summary + f"; it is indifferent between '{found.action}' and '{attribution.alternative}'"
    profiting = [t for t in attribution.terms if t.total > 0]
    if profiting and attribution.gap is not None:
        best = max(profiting, key=lambda t: t.total)
        readers = [s.name for s in prop.sensors if best.term in s.terms]
        reader = f", which reads {' and '.join(repr(n) for n in readers)}," if readers else ""
        summary += (f"; the cost term '{best.term}'{reader} profits most: it favours '{found.action}' by "
                    f"{best.total:+.6g} of the total {attribution.gap:+.6g}")
    elif attribution.gap is not None:
        summary += f"; it prefers '{found.action}' by {attribution.gap:+.6g}"
    return summary
