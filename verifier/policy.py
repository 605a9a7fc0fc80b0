"""``verify_policy``: run a spec's checks on one given policy (e.g. a learned one) instead of the optimal ones.

Every check quantifies over the policies of a sub-model: for :func:`~verifier.verify` that is M*, the
optimal rows of every state. A fixed deterministic policy is the sub-model with exactly one row per
state, so the same checks answer for it once they get that sub-model and the policy's own values in
place of the optimal ones: ``V`` is the policy's expected cost, ``Q(s, a)`` the cost of taking ``a``
once in ``s`` and then following the policy. Hence ``cost`` checks bound the policy's cost,
``regret(intent)`` compares the policy's intent cost with the intent optimum over all policies, and
``accepts_shutdown``, ``never``, ``always`` and ``P`` look at the states and actions of the policy.

A policy is consulted only in the states it reaches from the initial state (a learned policy need not
know the others); elsewhere a representative optimal policy stands in, which only matters for the
``Q`` of actions the policy does not take (the attribution of a failure).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from os import PathLike
from typing import Any, Union

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

import dsl
import mdp
from dsl.errors import CorrigoError, Diagnostic
from dsl.spec import Agent, Check, Spec
from dsl.spec import Policy as DeclaredPolicy
from mdp.graph import first_rows, reachable_states, start_tree, terminates_surely
from mdp.planner import Plan, plan
from mdp.expressions import vectorize
from mdp.model import TERMINAL_ACTION, ModelError, TabularMDP
from mdp.solver import Solution
from mdp.solver.optimize import optimize, restricted
from mdp.solver.problem import from_model
from mdp.quantities import extremal_costs
from mdp.solver.solution import policy_term_values, total_cost_error, total_cost_exact_rows
from mdp.tables import html_table, markdown_table

from .checks import check_kind
from .checks.common import AGENT, ONE_POLICY, location
from .checks.critic import critic_values, untrained_states
from .results import Basis, CheckResult, Report, Verdict, tally
from .scenarios import scenario_optimum, transferred_rows
from .submodel import OptimalSubmodel, shortest_trace
from .verification import solve_model, verify_model

__all__ = ["PolicyError", "PolicyLike", "PolicyReport", "agent_behaviour", "declared_policy_rows", "evaluate_policy",
           "horizon_sweep", "policy_rows", "under_policies", "value_chain", "verify_policy"]

Action = Union[str, int]
PolicyLike = Union[Mapping[tuple[int, ...], Action], Callable[[dict[str, Any]], Action], npt.ArrayLike]
"""A deterministic policy: see :func:`verify_policy` for the accepted forms."""


class PolicyError(CorrigoError, ValueError):
    """The policy does not fit the model: an unknown or disabled action, or a reachable state without an action
    (``state``: where, when one state is at fault)."""

    def __init__(self, message: str, state: int | None = None) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True, slots=True)
class PolicyReport:
    """The checks of a spec verified on one policy, with the policy's expected cost next to the optimum.

    ``report.value`` is the policy's cost and ``report.n_optimal_states`` the number of states it
    reaches; every check result refers to the policy.
    """

    report: Report
    value: float  # the policy's expected (discounted) cost from the initial state
    optimal_value: float  # the optimal cost, V*(s0)
    bound: float  # certified absolute error of ``gap`` (the two values' error bounds added)

    @property
    def gap(self) -> float:
        """How much more the policy costs than an optimal one (>= 0 up to ``bound``)."""
        return self.value - self.optimal_value

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        return self.report.checks

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict

    @property
    def holds(self) -> bool:
        return self.report.holds

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (``KeyError`` if there is none)."""
        return self.report.check(name)

    def __repr__(self) -> str:
        return (f"<PolicyReport {self.report.spec}: cost {self.value:.6g}, optimal {self.optimal_value:.6g}, gap "
                f"{self.gap:.6g}; {tally(check.verdict for check in self.report.checks)}>")

    def _summary(self) -> tuple[str, list[str], list[list[str]]]:
        report = self.report
        title = (f"policy on {report.spec} ({report.path}): expected cost {self.value:.6g}, optimal "
                 f"{self.optimal_value:.6g}, gap {self.gap:.6g}; it reaches {report.n_optimal_states:,} of "
                 f"{report.n_states:,} states; verdict {report.verdict}")
        rows = [[check.name, str(check.verdict), check.text, check.summary] for check in report.checks]
        return title, ["check", "verdict", "property", "result"], rows

    def _repr_markdown_(self) -> str:
        title, header, rows = self._summary()
        return f"{title}\n\n{markdown_table(header, rows)}\n"

    def _repr_html_(self) -> str:
        from html import escape

        title, header, rows = self._summary()
        return f"<p>{escape(title)}</p>\n{html_table(header, rows)}\n"


def verify_policy(path_or_spec: str | PathLike[str] | Spec, policy: PolicyLike,
                  overrides: Mapping[str, object] | None = None, *, tol: float | None = None,
                  exact: bool = False, max_states: int | None = None,
                  checks: tuple[str, ...] | None = None) -> PolicyReport:
    """Verify every check of a spec on one deterministic ``policy`` instead of the optimal policies.

    Parameters
    ----------
    path_or_spec
        A ``.corrigo`` path, the text of a spec, or a loaded :class:`~dsl.spec.Spec`.
    policy
        What to do in each state the policy reaches, in one of these forms:

        - a callable ``policy(state) -> action`` on the state as a dict of variable values
          (``{"battery": 3, "room": "lab", "off": False}``, as :meth:`mdp.TabularMDP.state_values`);
        - a mapping ``{observation: action}`` keyed by tuples of variable codes, i.e. ``tuple(obs)`` of
          an observation of :func:`mdp.to_gymnasium` (a tabular agent's greedy table);
        - an ``(n_states,)`` array indexed by the compiled model's state indices: of action names, or of
          row indices as :attr:`mdp.Solution.policy`.

        An action is an action name, or an integer action of the Gymnasium environment (the index in
        ``model.action_names``). Terminal states need no action.
    overrides, tol, exact, max_states, checks
        As for :func:`~verifier.verify`.

    Returns
    -------
    PolicyReport
        The check results for the policy, its expected cost, the optimal cost and the gap.

    Raises
    ------
    PolicyError
        The policy names an unknown action, takes an action that is not enabled in a state it
        reaches, gives no action for such a state, or (discount 1) never ends from one.
    SpecError
        The spec does not load or compile.

    Examples
    --------
    >>> text = '''
    ... model tiny
    ... discount 0.5
    ... var off : bool = false
    ... action comply when !off: off' = true
    ... action stay when !off: skip
    ... terminal off
    ... cost effort = 1 * [stay]
    ... check corrigible : accepts_shutdown(request = !off, comply = [comply], mechanism = [off])
    ... '''
    >>> result = verify_policy(text, lambda state: "stay")
    >>> str(result.check("corrigible").verdict), result.value, result.optimal_value
    ('FAILS', 2.0, 0.0)
    """
    spec = path_or_spec if isinstance(path_or_spec, Spec) else dsl.load(path_or_spec, overrides)
    model = mdp.compile(spec, max_states=max_states, exact=exact)
    optimal = solve_model(model, tol, exact)
    evaluated = evaluate_policy(model, optimal, policy_rows(model, policy))
    report = verify_model(spec, model, evaluated, tol=tol, exact=exact, checks=checks, words=ONE_POLICY)
    return PolicyReport(report, value=evaluated.value, optimal_value=optimal.value,
                        bound=evaluated.bound + optimal.bound)


def policy_rows(model: TabularMDP, policy: PolicyLike) -> npt.NDArray[np.int64]:
    """(n,) the row ``policy`` takes in every state it reaches from the initial state; -1 elsewhere.

    Raises
    ------
    PolicyError
        See :func:`verify_policy`.
    """
    action_of = _action_lookup(model, policy)
    rows = np.full(model.n_states, -1, dtype=np.int64)
    depth = {int(s): 0 for s in model.start_states}
    queue = deque(depth)
    while queue:
        state = queue.popleft()
        if model.terminal[state]:
            row = int(model.row_groups[state])  # the terminal self-loop
        else:
            row = _row_of(model, state, action_of(state), depth[state])
        rows[state] = row
        start, stop = model.P.indptr[row], model.P.indptr[row + 1]
        for successor in model.P.indices[start:stop][model.P.data[start:stop] > 0]:
            if int(successor) not in depth:
                depth[int(successor)] = depth[state] + 1
                queue.append(int(successor))
    return rows


_MISSING = object()


def _action_lookup(model: TabularMDP, policy: PolicyLike) -> Callable[[int], object]:
    """state index -> what the policy says there (an action name or index, or ``_MISSING``)."""
    if isinstance(policy, Mapping):
        codes = model.state_codes
        return lambda s: policy.get(tuple(int(c) for c in codes[s]) if codes is not None else (s,), _MISSING)
    if callable(policy):
        return lambda s: policy(model.state_values(s))
    array = np.asarray(policy)
    if array.shape != (model.n_states,):
        raise PolicyError(f"a policy array must have one entry per state, shape ({model.n_states},); got shape "
                          f"{array.shape} (or pass a mapping from observations, or a callable on states)")
    if np.issubdtype(array.dtype, np.integer):  # row indices, as Solution.policy
        def action_of_row(s: int) -> object:
            row = int(array[s])
            if not model.row_groups[s] <= row < model.row_groups[s + 1]:
                raise PolicyError(f"policy[{s}] = {row} is not a row of state {s} ({model.describe(s)}): expected "
                                  f"one of rows {model.row_groups[s]}..{model.row_groups[s + 1] - 1}")
            return model.action_names[model.row_action[row]]
        return action_of_row
    return lambda s: array[s].item() if isinstance(array[s], np.generic) else array[s]


def _row_of(model: TabularMDP, state: int, action: object, depth: int) -> int:
    """The row of ``action`` in ``state``, or a :class:`PolicyError` that names the state readably."""
    where = f"the state {model.describe(state)}" + (" (the initial state)" if depth == 0 else
                                                    f" (reachable in {depth} step(s))")
    names = [name for name in model.action_names if name != TERMINAL_ACTION]
    if action is _MISSING or action is None:
        raise PolicyError(f"the policy gives no action for {where}", state)
    if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)):
        if not 0 <= int(action) < len(names):
            raise PolicyError(f"the policy takes action {int(action)} in {where}; action indices are "
                              f"0..{len(names) - 1} ({', '.join(names)})", state)
        action = names[int(action)]
    if not isinstance(action, str):
        raise PolicyError(f"the policy gives {action!r} for {where}; expected an action name or index", state)
    if action not in names:
        raise PolicyError(f"the policy takes an unknown action '{action}' in {where}; the actions are: "
                          f"{', '.join(names)}", state)
    for row in model.rows(state):
        if model.action_names[model.row_action[row]] == action:
            return row
    raise PolicyError(f"the policy takes '{action}' in {where}, where it is not enabled; enabled there: "
                      f"{', '.join(model.actions(state))}", state)


def evaluate_policy(model: TabularMDP, optimal: Solution, rows: npt.NDArray[np.int64]) -> Solution:
    """The policy as a :class:`~mdp.solver.Solution` whose "optimal" rows are the policy's own.

    ``V`` is the policy's expected cost, ``Q = cost + discount * P V``; where ``rows`` is -1 (states
    the policy does not reach) the optimal solution's representative policy stands in. The policy is the
    one-row-per-state problem of the solver's core (:mod:`mdp.solver`), evaluated and certified there,
    in rationals when ``optimal`` is exact; ``exact`` is set because its row set is given, so no verdict
    waits on near-ties.

    Raises
    ------
    PolicyError
        With discount 1, when the policy never ends from some state it reaches.
    """
    reached = rows >= 0
    full = np.where(reached, rows, np.asarray(optimal.policy, dtype=np.int64))
    if model.discount == 1:
        ends = terminates_surely(sp.csr_array(model.P[full]), model.terminal)
        if not ends[reached].all():
            state = int(np.flatnonzero(reached & ~ends)[0])
            raise PolicyError(f"with discount 1 the policy never ends from the state {model.describe(state)}, which it "
                              "reaches: its expected cost is undefined (it must reach a terminal state with "
                              "probability 1)")
    mask = np.zeros(model.n_rows, dtype=bool)
    mask[full] = True
    problem = from_model(model, model.cost, total_cost_error(model), lambda: model.exact.cost(), mask,
                         exact_rows=total_cost_exact_rows(model))
    problem, start = restricted(problem, None)
    optimum = optimize(problem, exact=optimal.exact, start=start, check_loops=False)
    V = np.full(model.n_states, np.nan)
    V[problem.states] = optimum.V
    with np.errstate(invalid="ignore"):
        Q = model.cost + model.discount * (model.P @ V)
        gap = Q - V[model.row_state]
    exact_V = None if optimum.exact_V is None else dict(zip(problem.states.tolist(), optimum.exact_V))
    return Solution(model=model, V=V, Q=Q, optimal=mask, gap=gap, bound=optimum.bound, delta=0.0,
                    ties=np.zeros(0, dtype=np.int64), policy=full, iterations=optimum.sweeps,
                    policy_iterations=optimum.evaluations, exact=True, exact_V=exact_V)


def declared_policy_rows(spec: Spec, model: TabularMDP, policy: DeclaredPolicy) -> npt.NDArray[np.int64]:
    """(n,) the rows of a policy declared in the spec (``policy NAME: ...``) in the states it reaches, -1
    elsewhere: in each state the action of the first rule whose condition holds.

    Raises
    ------
    ModelError
        Located at the rule (or the policy, where no rule applies) when the policy takes an action that is
        not enabled in a state it reaches, or has none there.
    """
    n = model.n_states
    columns = list(model.state_codes.T) if model.state_codes is not None else []
    rule_of = np.full(n, -1, dtype=np.int64)
    for i in reversed(range(len(policy.rules))):  # the first rule that holds wins
        condition = policy.rules[i].condition
        holds = np.ones(n, dtype=bool) if condition is None else \
            np.asarray(vectorize(condition, spec.param_values())(columns, size=n), dtype=bool)
        rule_of[holds] = i
    actions = np.array([policy.rules[i].action if i >= 0 else None for i in rule_of.tolist()], dtype=object)
    try:
        return policy_rows(model, actions)
    except PolicyError as error:
        rule = policy.rules[int(rule_of[error.state])] if error.state is not None and rule_of[error.state] >= 0 \
            else None
        hint = "give the rule a condition that excludes this state" if rule is not None else \
            "add a last rule without `when`, the action for every other state"
        raise ModelError(Diagnostic(f"policy '{policy.name}': {error}", rule.span if rule else policy.span,
                                    hint=hint), spec.source) from None


def under_policies(spec: Spec, model: TabularMDP, optimal: Solution, checks: tuple[Check, ...], *,
                   tol: float | None, exact: bool, samples: int, seed: int) -> dict[str, CheckResult]:
    """The checks declared ``under`` a policy of the spec, each on its policy (the one-policy sub-model, as
    :func:`verify_policy`), their summaries saying which policy and what it costs against the optimum."""
    out: dict[str, CheckResult] = {}
    agents = {a.name for a in spec.agents}
    for source in dict.fromkeys(c.transfer for c in checks if c.transfer is not None):
        assert source is not None
        there = scenario_optimum(spec, source)  # once per world carried from
        for otherwise in dict.fromkeys(c.otherwise for c in checks if c.transfer == source):
            group = tuple(c for c in checks if c.transfer == source and c.otherwise == otherwise)
            out.update(_transferred(spec, model, optimal, group, there, tol=tol, exact=exact, samples=samples,
                                    seed=seed))
    for name in dict.fromkeys(c.under for c in checks if c.under is not None):
        names = tuple(c.name for c in checks if c.under == name)
        if name in agents:
            evaluated, plan, ties = agent_behaviour(spec, model, optimal, spec.agent(name))
            report = verify_model(spec, model, evaluated, tol=tol, exact=exact, checks=names, samples=samples,
                                  seed=seed, sweep=False, words=AGENT, optimal=optimal, plan=plan, agent=name,
                                  untrained=untrained_states(spec, model, optimal, spec.agent(name)))
            agent = spec.agent(name)
            cost = (f"under the agent '{name}' (plans {agent.steps} step{'s' if agent.steps != 1 else ''}"
                    f"{f' with critic {agent.critic}' if agent.critic else ''}; expected cost "
                    f"{_short(evaluated.value)} against the optimal {_short(optimal.value)})")
        else:
            evaluated = evaluate_policy(model, optimal, declared_policy_rows(spec, model, spec.policy(name)))
            report = verify_model(spec, model, evaluated, tol=tol, exact=exact, checks=names, samples=samples,
                                  seed=seed, sweep=False, words=ONE_POLICY, optimal=optimal)
            cost = (f"under the policy '{name}' (expected cost {_short(evaluated.value)} against the optimal "
                    f"{_short(optimal.value)})")
            ties = 0
        for result in report.checks:
            result = _untied(result, ties, "give the critic values that separate the tied actions")
            out[result.name] = replace(result, text=f"{result.text} under {name}", summary=f"{cost}: {result.summary}")
    return out


def _untied(result: CheckResult, ties: int, settle: str) -> CheckResult:
    """``result`` INCONCLUSIVE when it rests on one expected cost of a behaviour that ties at ``ties`` states."""
    if not ties or result.kind not in _VALUE_KINDS:
        return result
    return replace(result, verdict=Verdict.INCONCLUSIVE, quantities=(), trace=None, attribution=None,
                   summary=f"the agent ties between actions at {ties:,} state(s) it reaches and its expected cost "
                           "depends on how it breaks them; corrigo does not bound that range yet", settle=settle)


def _transferred(spec: Spec, model: TabularMDP, optimal: Solution, checks: tuple[Check, ...], there: Solution, *,
                 tol: float | None, exact: bool, samples: int, seed: int) -> dict[str, CheckResult]:
    """The checks ``in`` this world ``with policy from`` another (:mod:`verifier.scenarios`; ``there``: its
    optimum): FAILS where the behaviour reaches a state the other world lacks (the path to it); else each check
    on the behaviour."""
    source = checks[0].transfer
    rows, untrained = transferred_rows(spec, model, there, checks[0].otherwise)
    reach = reachable_states(model, rows)
    if (reach & untrained).any():
        order, predecessors = start_tree(model, rows)
        sub = OptimalSubmodel(model, rows, rows, reach, order, predecessors, True)
        path = shortest_trace(sub, reach & untrained)
        assert path is not None
        state = model.describe(path.end)
        summary = (f"the policy optimal in '{source}' reaches a state that world does not have ({state}) in "
                   f"{path.trace.n_actions} step(s), with probability {path.trace.probability:.4g}: it was never "
                   "optimised for it" + ("" if checks[0].otherwise is None else
                                         f", and '{checks[0].otherwise}' is not enabled there"))
        return {c.name: CheckResult(c.name, check_kind(c), c.text, location(c), Verdict.FAILS, summary,
                                    trace=path.trace, basis=Basis.EXACT,
                                    settle=None) for c in checks}
    try:
        evaluated, ties = behaviour_solution(model, optimal, rows)
    except PolicyError as error:
        raise ModelError(Diagnostic(f"the policy optimal in '{source}': {error}", checks[0].span,
                                    hint="give it an `otherwise` action that ends the episode"), spec.source) from None
    names = tuple(c.name for c in checks)
    report = verify_model(spec, model, evaluated, tol=tol, exact=exact, checks=names, samples=samples, seed=seed,
                          sweep=False, words=AGENT, optimal=optimal)
    cost = (f"under the policy optimal in '{source}' (expected cost {_short(evaluated.value)} against this world's "
            f"optimal {_short(optimal.value)})")
    untied = (_untied(r, ties, f"make the optimal actions of '{source}' unique") for r in report.checks)
    return {r.name: replace(r, summary=f"{cost}: {r.summary}") for r in untied}


_VALUE_KINDS = ("cost", "regret", "inner_regret", "power_seeking")  # verdicts that rest on one expected cost


def value_chain(spec: Spec, model: TabularMDP, optimal: Solution, behaviours: Mapping[str, Solution] | None = None
                ) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """The chain intent -> intrinsic cost -> agents, in expected costs from the start: for the intrinsic cost,
    the optimum and each agent (by one tie-break); for each intent, its own optimum over all policies, the
    intrinsic optimum's worst over M*, and each agent. Where a number jumps, the chain breaks: between the
    first two an intent's regret, between the optimum and an agent its inner regret. Empty without intents
    and agents. ``behaviours``: the agents' (:func:`agent_behaviour`), when the caller has them already."""
    if not spec.intents and not spec.agents:
        return ()
    agents = [(a.name, behaviours[a.name] if behaviours is not None else agent_behaviour(spec, model, optimal, a)[0])
              for a in spec.agents]
    chain = [("intrinsic cost", (("optimum", optimal.value),
                                 *((name, behaviour.value) for name, behaviour in agents)))]
    everything = np.ones(model.n_rows, dtype=bool)
    for intent in spec.intents:
        best = model.at_start(extremal_costs(model, everything, intent.name, maximize=False).values)
        worst = model.at_start(extremal_costs(model, np.asarray(optimal.optimal, dtype=bool), intent.name,
                                              maximize=True).values)
        under = [(name, model.at_start(policy_term_values(model, behaviour.policy, dict(model.intents),
                                                          starts=model.start_states)[intent.name]))
                 for name, behaviour in agents]
        chain.append((f"intent '{intent.name}'", (("its own optimum", best), ("the optimum, worst over M*", worst),
                                                  *under)))
    return tuple(chain)


def horizon_sweep(spec: Spec, model: TabularMDP, optimal: Solution, agent: str, steps: range, *,
                  tol: float | None = None, exact: bool = False, samples: int = 1000, seed: int = 0
                  ) -> list[tuple[int, tuple[CheckResult, ...]]]:
    """The checks under ``agent``, for every planning horizon in ``steps``: which horizons are safe."""
    if agent not in {a.name for a in spec.agents}:
        raise KeyError(agent)
    checks = tuple(c for c in spec.checks if c.under == agent and c.scenario == spec.world)
    out = []
    for H in steps:
        at = replace(spec, agents=tuple(replace(a, steps=H) if a.name == agent else a for a in spec.agents))
        done = under_policies(at, model, optimal, checks, tol=tol, exact=exact, samples=samples, seed=seed)
        out.append((H, tuple(done[c.name] for c in checks)))
    return out


def agent_behaviour(spec: Spec, model: TabularMDP, optimal: Solution, agent: Agent) -> tuple[Solution, Plan, int]:
    """What an agent of the spec does (:mod:`mdp.planner`) as a solution like M*: its rows at the states it
    reaches (ties kept), valued by one representative policy (its first row in each state); and how many
    states it reaches where it ties.

    Raises
    ------
    ModelError
        With discount 1, when the agent's representative policy never ends (located at the agent).
    """
    critic = None if agent.critic is None else critic_values(spec, model, agent.critic, optimal)
    planned = plan(model, critic, agent.steps)
    try:
        evaluated, ties = behaviour_solution(model, optimal, planned.rows)
    except PolicyError as error:
        raise ModelError(Diagnostic(f"agent '{agent.name}': {error}", agent.span,
                                    hint="plan further ahead, or give the critic a cost for looping"),
                         spec.source) from None
    return evaluated, planned, ties


def behaviour_solution(model: TabularMDP, optimal: Solution, rows: npt.NDArray[np.bool_]) -> tuple[Solution, int]:
    """A behaviour (the rows it may take in each state, ties kept) as a solution like M*: its rows at the states
    it reaches, valued by one representative policy (its first row in each state); and how many states it
    reaches where it ties.

    Raises
    ------
    PolicyError
        With discount 1, when the representative policy never ends.
    """
    reach = reachable_states(model, rows)
    groups = np.asarray(model.row_groups)
    evaluated = evaluate_policy(model, optimal, np.where(reach, first_rows(rows, model.row_state, model.n_states), -1))
    counts = np.add.reduceat(rows.astype(np.int64), groups[:-1])
    ties = int((reach & (counts > 1) & ~np.asarray(model.terminal, dtype=bool)).sum())
    mask = (rows & reach[model.row_state]) | (evaluated.optimal & ~reach[model.row_state])
    return replace(evaluated, optimal=mask), ties


def _short(value: float) -> str:
    return f"{value:.6g}"
