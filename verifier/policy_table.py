"""What `corrigo solve` shows: the value, the cost split by term, and the optimal policy as a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsl.numbers import float_text
from mdp.graph import reachable_states
from mdp.horizon import step_name
from mdp.model import TERMINAL_ACTION, TabularMDP
from mdp.solver import Solution, start_term_values
from mdp.stages import Stages, policy_term_values, reachable

__all__ = ["OptimalPath", "PolicyRow", "SolveSummary", "optimal_paths", "render_text", "summarise", "summarise_stages",
           "to_json"]


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One state: its optimal actions (ties have several), its value, and, when asked for, the value of
    taking each of its actions first (``Q``, in row order) and whether optimal play reaches it."""

    state: str
    actions: tuple[str, ...]
    value: float
    tie: bool
    q: tuple[tuple[str, float], ...] | None = None
    on_optimal_play: bool = True


@dataclass(frozen=True, slots=True)
class OptimalPath:
    """A path of optimal play: the states and the optimal actions taken in them, the state it ends in, its
    probability, and how it ends: at a terminal state (``ends``), back at a state already on it (``loops``),
    or cut at the length limit (``cut``)."""

    steps: tuple[tuple[str, str], ...]  # (state, action taken there)
    end: str
    probability: float
    how: str


@dataclass(frozen=True, slots=True)
class SolveSummary:
    """Everything `corrigo solve` prints, as plain data."""

    model: str
    n_states: int
    n_rows: int
    n_transitions: int
    discount: float
    initial: str
    value: float
    bound: float
    exact: bool
    iterations: int
    policy_iterations: int
    terms: tuple[tuple[str, float], ...]  # expected discounted cost of each term under the optimal policy
    rows: tuple[PolicyRow, ...]  # states reachable under optimal play (every state: all_states), breadth-first
    n_reachable_optimal: int
    n_ties: int
    loop_doubt: str | None = None  # discount 1: a loop floats cannot tell optimal (an error) or not
    at: tuple[PolicyRow, ...] = ()  # the states asked for, with their Q-values when asked for
    all_states: bool = False
    policies: tuple[tuple[str, float], ...] = ()  # the spec's declared policies and their expected costs
    paths: tuple[OptimalPath, ...] = ()  # with --paths: the paths of optimal play from a state
    more_paths: bool = False  # more paths than were listed
    chain: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()  # intent -> intrinsic cost -> agents
    steps: int | None = None  # solved step by step over episodes of this many steps: rows are (state, step) pairs

def summarise(solution: Solution, limit: int | None = 50, at: Sequence[int] = (), q: bool = False,
              all_states: bool = False, policies: Sequence[tuple[str, float]] = (),
              paths_from: int | None = None,
              chain: Sequence[tuple[str, tuple[tuple[str, float], ...]]] = ()) -> SolveSummary:
    """The summary of ``solution`` (an :class:`mdp.solver.Solution`); ``limit`` caps the policy table, which
    lists the states optimal play reaches, or every state of the model with ``all_states``. ``at``: states
    to show on their own, with the value of each action (``q``); ``policies``: declared policies and their
    expected costs, shown against the optimum."""
    model = solution.model
    on_optimal_play = reachable_states(model, solution.optimal)
    states = np.flatnonzero(on_optimal_play)  # breadth-first numbering: in order of distance
    listed = np.arange(model.n_states) if all_states else states
    shown = listed if limit is None else listed[:limit]
    ties = set(np.asarray(solution.ties).tolist())

    def row(s: int, with_q: bool) -> PolicyRow:
        actions = tuple(a for a in solution.optimal_actions(s) if a != TERMINAL_ACTION) or ("(terminal)",)
        values = tuple((model.action_names[model.row_action[r]], float(solution.Q[r])) for r in model.rows(s)
                       if model.action_names[model.row_action[r]] != TERMINAL_ACTION) if with_q else None
        return PolicyRow(model.describe(s), actions, float(solution.V[s]), s in ties, values, bool(on_optimal_play[s]))

    rows = tuple(row(int(s), False) for s in shown)
    term_values = start_term_values(model, solution.policy)
    return SolveSummary(
        model=model.name, n_states=model.n_states, n_rows=model.n_rows, n_transitions=model.n_transitions,
        discount=model.discount, value=solution.value,
        initial=_initial(model), bound=float(solution.bound), exact=bool(solution.exact), iterations=int(solution.iterations),
        policy_iterations=int(solution.policy_iterations),
        terms=tuple(term_values.items()),
        rows=rows, n_reachable_optimal=int(states.size), n_ties=len(ties), loop_doubt=solution.loop_doubt,
        at=tuple(row(int(s), q) for s in at), all_states=all_states, policies=tuple(policies), chain=tuple(chain),
        **_paths(solution, paths_from))


def summarise_stages(stages: Stages, limit: int = 50) -> SolveSummary:
    """The summary of a finite horizon solved step by step (:func:`mdp.stages.solve_stages`): the policy table
    lists the first ``limit`` (state, step) pairs optimal play reaches, step by step, with the optimal actions
    of that step; the terms are those of a representative optimal policy (the first optimal action)."""
    model = stages.model
    reach = reachable(stages, stages.optimal)
    pairs = np.argwhere(reach)[:limit]
    rows, values, ties = [], {}, 0
    for t in range(stages.steps):
        optimal = stages.optimal(t)
        ties += int((np.add.reduceat(optimal, np.asarray(model.row_groups[:-1]), dtype=np.int64)[reach[t]] > 1).sum())
    for t, s in pairs.tolist():
        if t not in values:
            values[t] = stages.values(t)
        chosen = np.flatnonzero(stages.optimal(t)[model.rows(s)]) if t < stages.steps else np.zeros(0, dtype=int)
        actions = tuple(model.action_names[model.row_action[r]] for r in np.asarray(model.rows(s))[chosen]
                        if model.action_names[model.row_action[r]] != TERMINAL_ACTION) or ("(terminal)",)
        rows.append(PolicyRow(f"{model.describe(s)}, {step_name(model)}={t}", actions, float(values[t][s]),
                              len(actions) > 1))
    term_values = policy_term_values(stages, 0)
    return SolveSummary(
        model=model.name, n_states=model.n_states, n_rows=model.n_rows, n_transitions=model.n_transitions,
        discount=model.discount, value=stages.value, initial=_initial(model), bound=float(stages.bound[0]),
        exact=False, iterations=stages.steps, policy_iterations=0,
        terms=tuple((term, model.at_start(v)) for term, v in term_values.items()), rows=tuple(rows),
        n_reachable_optimal=int(reach.sum()), n_ties=ties, steps=stages.steps)


def _initial(model: TabularMDP) -> str:
    return model.describe(model.initial) if len(model.starts) <= 1 else \
        "the start distribution: " + ", ".join(f"{p} at ({model.describe(s)})" for s, p in model.starts)


def _paths(solution: Solution, start: int | None) -> dict[str, Any]:
    if start is None:
        return {}
    paths, more = optimal_paths(solution, start)
    return {"paths": paths, "more_paths": more}


def optimal_paths(solution: Solution, start: int, limit: int = 20, max_steps: int = 50
                  ) -> tuple[tuple[OptimalPath, ...], bool]:
    """The paths of optimal play from ``start``, depth first in row and successor order: every optimal action
    (ties branch) and every successor it can reach; at most ``limit`` of them, each at most ``max_steps``
    long; and whether there are more."""
    model = solution.model
    P = model.P
    found: list[OptimalPath] = []
    stack: list[tuple[int, tuple[tuple[int, int], ...], float]] = [(start, (), 1.0)]
    while stack:
        state, steps, probability = stack.pop()
        visited = {s for s, _ in steps}
        how = "ends" if model.terminal[state] else "loops" if state in visited else \
            "cut" if len(steps) >= max_steps else None
        if how is not None:
            if len(found) == limit:
                return tuple(found), True
            found.append(OptimalPath(tuple((model.describe(s), model.action_names[model.row_action[r]])
                                           for s, r in steps), model.describe(state), probability, how))
            continue
        branches = [(r, int(t), float(q)) for r in solution.optimal_rows(state)
                    for t, q in zip(P.indices[P.indptr[r]:P.indptr[r + 1]], P.data[P.indptr[r]:P.indptr[r + 1]])
                    if q > 0]
        for r, successor, q in reversed(branches):
            stack.append((successor, (*steps, (state, int(r))), probability * q))
    return tuple(found), False


def _number(value: float, bound: float = 0.0) -> str:
    """Six significant digits; a value within the certified error of zero is shown as 0."""
    return "0" if abs(value) <= max(bound, 1e-12) else f"{value:.6g}"


def render_text(summary: SolveSummary, color: bool = False, width: int = 100) -> str:
    """A readable report: sizes, the value with its certified error, the cost split, the policy table
    (tables ``width`` columns wide at most, prose not wrapped)."""
    from rich.table import Table
    from rich.text import Text

    from .reports.text import text_console

    console, text = text_console(color, width)
    error = "exact" if summary.exact else f"certified error <= {summary.bound:.2g}"
    console.print(f"model {summary.model}: {summary.n_states:,} states, {summary.n_rows:,} choices, "
                  f"{summary.n_transitions:,} transitions, discount {float_text(summary.discount)}")
    if summary.steps is None:
        console.print(f"solved: {summary.iterations} value-iteration sweeps, {summary.policy_iterations} "
                      f"policy-iteration step(s), {error}")
    else:
        console.print(f"solved step by step: episodes of {summary.steps:,} steps, one backward-induction sweep "
                      f"each, {error}")
    if summary.loop_doubt is not None:
        console.print(f"warning: floats cannot tell whether the spec is in error: {summary.loop_doubt}, or whether "
                      "that loop is only nearly optimal; --exact decides")
    bound = 0.0 if summary.exact else summary.bound
    where = f"the initial state ({summary.initial})" if not summary.initial.startswith("the start") else summary.initial
    console.print(Text(f"value at {where}: ") + Text(_number(summary.value, bound), style="bold"))
    console.print("\nexpected cost by term under the optimal policy"
                  + (" (the first optimal action where they tie):" if summary.steps is not None else ":"))
    terms = Table()
    terms.add_column("term")
    terms.add_column("cost", justify="right")
    for name, value in summary.terms:
        terms.add_row(name, _number(value, bound))
    terms.add_row("total", _number(sum(v for _, v in summary.terms), bound), style="bold")
    console.print(terms)
    if summary.policies:
        console.print("\ndeclared policies and agents against the optimum:")
        given = Table()
        given.add_column("policy or agent")
        given.add_column("expected cost", justify="right")
        given.add_column("more than optimal", justify="right")
        for name, value in summary.policies:
            given.add_row(name, _number(value, bound), _number(value - summary.value, 2 * bound))
        console.print(given)
    if summary.chain:
        console.print("\nintent -> intrinsic cost -> agents (expected costs from the start):", markup=False)
        for what, values in summary.chain:
            console.print(f"  {what}: " + ", ".join(f"{label} {value:.6g}" for label, value in values), markup=False)
    for row in summary.at:
        console.print(f"\nat {row.state}: value {_number(row.value, bound)}, optimal: "
                      + " | ".join(row.actions) + ("  (tie)" if row.tie else "")
                      + ("" if row.on_optimal_play else " (optimal play does not reach this state)"), markup=False)
        if row.q is not None:
            actions = Table()
            actions.add_column("action")
            actions.add_column("Q", justify="right")
            actions.add_column("Q - value", justify="right")
            for name, value in row.q:
                actions.add_row(name, _number(value, bound), _number(value - row.value, 2 * bound),
                                style="bold" if name in row.actions else None)
            console.print(actions)
    if summary.paths:
        console.print(f"\npaths of optimal play from ({summary.paths[0].steps[0][0] if summary.paths[0].steps else summary.paths[0].end})"
                      + (", the first 20 (more exist)" if summary.more_paths else "") + ":", markup=False)
        for i, path in enumerate(summary.paths, start=1):
            walk = " ".join(f"({state}) {action}" for state, action in path.steps)
            console.print(f"  {i}. {walk} ({path.end}) {path.how}, probability {path.probability:.4g}", markup=False)
    ties = (f" ({summary.n_ties} with ties: every tied action is optimal)" if summary.n_ties and summary.exact
            else f" ({summary.n_ties} with ties or near-ties"
            + ("; --exact tells them apart)" if summary.steps is None else ")") if summary.n_ties else "")
    kind = "states" if summary.steps is None else "(state, step) pairs"
    where = (f"all {summary.n_states:,} states (* = reached under optimal play, {summary.n_reachable_optimal:,})"
             if summary.all_states else f"the {summary.n_reachable_optimal:,} {kind} reached under optimal play")
    console.print(f"\noptimal policy on {where}{ties}:")
    policy = Table()
    policy.add_column("state")
    policy.add_column("optimal actions")
    policy.add_column("value", justify="right")
    for row in summary.rows:
        policy.add_row(("* " if summary.all_states and row.on_optimal_play else "  " if summary.all_states else "")
                       + row.state, " | ".join(row.actions) + ("  (tie)" if row.tie else ""), _number(row.value, bound))
    console.print(policy)
    listed = summary.n_states if summary.all_states else summary.n_reachable_optimal
    if len(summary.rows) < listed:
        console.print(f"... {listed - len(summary.rows):,} more {kind}"
                      + (" (--all shows them)" if summary.steps is None else ""))
    return text.getvalue()


def to_json(summary: SolveSummary) -> dict[str, Any]:
    """The summary as JSON-ready data (``schema_version`` 1)."""
    return {
        "schema_version": 1,
        "model": {"name": summary.model, "states": summary.n_states, "choices": summary.n_rows,
                  "transitions": summary.n_transitions, "discount": summary.discount},
        "initial_state": summary.initial,
        "value": summary.value,
        "bound": summary.bound,
        "exact": summary.exact,
        "iterations": summary.iterations,
        "policy_iterations": summary.policy_iterations,
        "terms": dict(summary.terms),
        "chain": {what: dict(values) for what, values in summary.chain},
        "policy": [_row_json(r, summary.all_states) for r in summary.rows],
        "at": [_row_json(r, True) for r in summary.at],
        "policies": [{"name": name, "value": value, "gap": value - summary.value} for name, value in summary.policies],
        "paths": [{"steps": [{"state": state, "action": action} for state, action in p.steps], "end": p.end,
                   "probability": p.probability, "how": p.how} for p in summary.paths],
        "more_paths": summary.more_paths,
        "states_on_optimal_play": summary.n_reachable_optimal,
        "ties": summary.n_ties,
        "loop_doubt": summary.loop_doubt,
        "steps": summary.steps,
    }


def _row_json(row: PolicyRow, reach: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"state": row.state, "actions": list(row.actions), "value": row.value, "tie": row.tie}
    if reach:
        out["on_optimal_play"] = row.on_optimal_play
    if row.q is not None:
        out["q"] = [{"action": name, "value": value} for name, value in row.q]
    return out
