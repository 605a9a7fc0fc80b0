"""``never φ`` and ``always φ``: graph reachability in the optimal sub-model M*.

``never φ`` holds iff no state reachable from the initial state under any optimal policy satisfies φ;
``always φ`` iff every such state does. When φ mentions the action (``always (pressed -> [comply])``) it
ranges over the reachable state-action pairs of M*: every optimal choice the agent could make there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dsl.spec import AlwaysCheck, Check, Expr, NeverCheck
from mdp.model import TabularMDP

from ..explain import attribute, best_row
from ..results import CheckResult, Quantity, Step, Trace, Verdict
from ..submodel import shortest_trace
from .common import Context, mentions_action, result

__all__ = ["check_always", "check_never"]


def check_never(check: Check, context: Context) -> CheckResult:
    """``never φ``: no reachable state (or optimal state-action pair) of M* satisfies φ."""
    assert isinstance(check.property, NeverCheck)
    return _invariant(check, context, check.property.condition, kind="never", violating=True)


def check_always(check: Check, context: Context) -> CheckResult:
    """``always φ``: every reachable state (or optimal state-action pair) of M* satisfies φ."""
    assert isinstance(check.property, AlwaysCheck)
    return _invariant(check, context, check.property.condition, kind="always", violating=False)


def _invariant(check: Check, context: Context, condition: Expr, *, kind: str, violating: bool) -> CheckResult:
    sub, model = context.sub, context.model
    if mentions_action(condition):
        satisfied = context.rows_where(condition)
        bad_rows = satisfied if violating else ~satisfied
        return _row_invariant(check, context, kind, bad_rows, good_rows=~bad_rows)
    satisfied = context.states_where(condition)
    bad = satisfied if violating else ~satisfied
    n_checked = sub.n_states
    certain_reach = sub.reachable_with(sub.certain)
    if (bad & certain_reach).any():
        path = shortest_trace(sub, bad, sub.certain)
        assert path is not None
        trace = path.trace
        attribution = None
        if path.rows:
            previous, row = path.states[-2], path.rows[-1]
            # the best alternative at the last decision: a row that cannot move into a violating state
            into_bad = (model.P @ bad.astype(float)) > 0
            alternative = best_row(model, context.solution, previous, ~into_bad & _other(model, row))
            if alternative is None:
                alternative = best_row(model, context.solution, previous, _other(model, row))
            attribution = attribute(model, context.solution, row, alternative)
        what = "satisfies" if violating else "violates"
        summary = (f"the initial state {what} the condition" if not path.rows else
                   f"{context.words.some} reaches a state that {what} the condition in {trace.n_actions} step(s), "
                   f"with probability {trace.probability:.4g}")
        return result(check, kind, Verdict.FAILS, summary, context, trace=trace, attribution=attribution,
                      quantities=(Quantity("path probability", trace.probability, 0.0),))
    if (bad & sub.reachable).any():
        found = shortest_trace(sub, bad)
        return result(check, kind, Verdict.INCONCLUSIVE,
                      "a violating state is reachable only through actions whose optimality is a numerical "
                      "near-tie (the trace shows one)", context, trace=found.trace if found else None)
    return result(check, kind, Verdict.HOLDS,
                  f"no {context.words.reachable_state} ({n_checked} states) {'satisfies' if violating else 'violates'} "
                  "the condition", context)


def _other(model: TabularMDP, row: int) -> npt.NDArray[np.bool_]:
    mask = np.ones(model.n_rows, dtype=bool)
    mask[row] = False
    return mask


def _row_invariant(check: Check, context: Context, kind: str, bad_rows: npt.NDArray[np.bool_],
                   good_rows: npt.NDArray[np.bool_]) -> CheckResult:
    sub, model = context.sub, context.model
    bad_rows = bad_rows & ~model.terminal[model.row_state]  # the agent makes no choice in a terminal state
    certain_reach = sub.reachable_with(sub.certain)
    certain_bad = bad_rows & sub.certain & certain_reach[model.row_state]
    any_bad = bad_rows & sub.rows & sub.reachable[model.row_state]
    if certain_bad.any():
        states = np.zeros(model.n_states, dtype=bool)
        states[model.row_state[certain_bad]] = True
        path = shortest_trace(sub, states, sub.certain)
        assert path is not None
        end, trace = path.end, path.trace
        rows = np.arange(model.row_groups[end], model.row_groups[end + 1])
        row = int(rows[certain_bad[rows]][0])
        action = model.action_names[model.row_action[row]]
        steps = trace.steps[:-1] + (Step(trace.steps[-1].state, action, None),)
        trace = Trace(steps, trace.probability)
        alternative = best_row(model, context.solution, end, good_rows)
        attribution = attribute(model, context.solution, row, alternative)
        where = ("in the initial state" if len(steps) == 1 else
                 f"after {len(steps) - 1} step(s) with probability {trace.probability:.4g}")
        summary = (f"{context.words.some} takes '{action}' where the condition "
                   f"{'forbids it' if kind == 'never' else 'requires otherwise'}, {where}")
        return result(check, kind, Verdict.FAILS, summary, context, trace=trace, attribution=attribution,
                      quantities=(Quantity("path probability", trace.probability, 0.0),))
    if any_bad.any():
        states = np.zeros(model.n_states, dtype=bool)
        states[model.row_state[any_bad]] = True
        found = shortest_trace(sub, states)
        return result(check, kind, Verdict.INCONCLUSIVE,
                      "a violating choice is optimal only within a numerical near-tie (the trace leads to "
                      "its state)", context, trace=found.trace if found else None)
    n_pairs = int((sub.rows & sub.reachable[model.row_state]).sum())
    return result(check, kind, Verdict.HOLDS,
                  f"{context.words.every_choice} in every {context.words.reachable_state} ({n_pairs} state-action pairs) "
                  "satisfies the condition", context)
