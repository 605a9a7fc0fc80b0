"""The second half of APTAMI's alignment problem: does the critic track the intrinsic cost where the planner
goes (Byrnes 2023)? ``critic_error(C) ~ x``, ``exploits_critic`` and ``inner_regret ~ x``.

Checked ``under`` an agent (``agent NAME plans H steps with critic C``, :mod:`mdp.planner`), the context's
solution is the agent's behaviour and ``context.optimal`` the intrinsic optimum; without one (only
``critic_error``), the solution is the optimum and the states are those optimal play reaches.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

import mdp
from dsl.errors import Diagnostic
from dsl.spec import Agent, Check, CriticError, EnumDomain, Expr, InnerRegret, Spec, Variable
from mdp.expressions import vectorize
from mdp.model import ModelError, TabularMDP
from mdp.planner import FittedCritic, fit_critic, planned_path
from mdp.solver import Solution

from ..scenarios import with_settings
from ..results import CheckResult, Quantity, Step, Trace, Verdict, decide
from ..submodel import shortest_trace
from .common import Context, result

__all__ = ["check_critic_error", "check_exploits_critic", "check_inner_regret", "critic_values", "describe_fit",
           "fitted_critic", "nearest_mean", "untrained_states"]


def critic_values(spec: Spec, model: TabularMDP, name: str, optimal: Solution) -> npt.NDArray[np.float64]:
    """(n,) the critic ``name`` at every state of ``model``, in floats (fitted ones fitted first)."""
    critic = spec.critic(name)
    if critic.is_fitted:
        return fitted_critic(spec, model, name, optimal).values
    if critic.value is None:
        return _looked_up(spec, model, name)
    return _evaluate(spec, model, critic.value)


def _looked_up(spec: Spec, model: TabularMDP, name: str) -> npt.NDArray[np.float64]:
    """A critic read from a file at every state: its line for the state, else its default (a number, or the
    nearest listed states'), else an error located at the critic that names the first state it lacks."""
    critic = spec.critic(name)
    listed_codes, listed_values = _table(spec, name)
    codes = _state_codes(spec, model)
    where = _listed_at(listed_codes, codes)
    missing = where < 0
    values = np.zeros(model.n_states)
    values[~missing] = listed_values[where[~missing]]
    if critic.nearest and missing.any() and listed_values.size:
        values[missing] = nearest_mean(listed_codes, listed_values, codes[missing], spec.variables, critic.nearest)
    elif critic.default is not None:
        values[missing] = float(critic.default)
    else:
        lacking = np.flatnonzero(missing & ~np.asarray(model.terminal, dtype=bool))  # an ended episode needs none
        if lacking.size:
            raise ModelError(Diagnostic(f"critic '{name}' has no value for the reachable state "
                                        f"{model.describe(int(lacking[0]))} in '{critic.path}'", critic.span,
                                        hint="the file lists no state, so none is nearest: add lines" if critic.nearest
                                        else "add a line for it, or give the critic a `default` (e.g. `default 0`, "
                                             "or `default nearest`)"), spec.source)
    return values


def nearest_mean(listed: npt.NDArray[np.int64], values: npt.NDArray[np.float64], queries: npt.NDArray[np.int64],
                 variables: Sequence[Variable], metric: str) -> npt.NDArray[np.float64]:
    """(q,) at each of the ``queries`` (state codes), the mean value of the ``listed`` states nearest to it.

    The distance is the l1, l2 or max norm of the per-variable differences: ints by value, bools by 0/1,
    enums 0 if equal else 1 (their declared order is no distance). The nearest states are found by a k-d
    tree, then compared by their exact integer distances; all those tied at the least one are averaged,
    summed in increasing order of value, so the result does not depend on the file's order.
    """
    p = {"l1": 1.0, "l2": 2.0, "max": np.inf}[metric]
    tree = cKDTree(_embedded(listed, variables, p))
    points = _embedded(queries, variables, p)
    means = np.empty(len(queries))
    todo, k = np.arange(len(queries)), min(4, len(listed))
    while todo.size:
        _, found = tree.query(points[todo], k=k, p=p)
        found = np.asarray(found).reshape(len(todo), k)
        distance = _distances(queries[todo][:, None, :], listed[found], variables, p)  # (t, k) exact
        tied = distance == distance.min(axis=1, keepdims=True)
        done = ~tied[:, -1] | (k == len(listed))  # else a state beyond the k-th may tie too: look further
        chosen = np.sort(np.where(tied, values[found], np.nan), axis=1)  # NaN sorts last
        means[todo[done]] = (np.nansum(chosen, axis=1) / tied.sum(axis=1))[done]
        todo, k = todo[~done], min(2 * k, len(listed))
    return means


def _embedded(codes: npt.NDArray[np.int64], variables: Sequence[Variable], p: float) -> npt.NDArray[np.float64]:
    """The states as points whose p-norm distances are those of :func:`nearest_mean`: ints and bools by their
    codes, an enum one-hot scaled by 2^(-1/p), so that two of its values are 1 apart."""
    columns = []
    for i, variable in enumerate(variables):
        if isinstance(variable.domain, EnumDomain):
            columns.append((codes[:, i:i + 1] == np.arange(variable.domain.size)) * 2.0 ** (-1 / p))
        else:
            columns.append(codes[:, i:i + 1].astype(np.float64))
    return np.hstack(columns) if columns else np.zeros((len(codes), 1))


def _distances(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], variables: Sequence[Variable],
               p: float) -> npt.NDArray[np.float64]:
    """The exact distances between the codes ``a`` and ``b`` (broadcast over all but the last axis); for l2
    the squared distance, which orders the same."""
    enum = np.array([isinstance(v.domain, EnumDomain) for v in variables], dtype=bool)
    step = np.where(enum, a != b, np.abs(a - b)).astype(np.float64)
    if p == np.inf:
        return step.max(axis=-1, initial=0.0)
    return (step ** p).sum(axis=-1)


def _table(spec: Spec, name: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(m, n_variables) the codes of the states the critic's file lists, (m,) their values in floats."""
    table = spec.critic(name).table
    codes = np.array([codes for codes, _ in table], dtype=np.int64).reshape(-1, len(spec.variables))
    return codes, np.array([float(value) for _, value in table], dtype=np.float64)


def _listed_at(listed: npt.NDArray[np.int64], codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """(n,) for each state (its ``codes``), the index of its row in ``listed``, or -1 if it is not there."""
    _, inverse = np.unique(np.vstack([listed, codes]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    row_of = np.full(inverse.max(initial=-1) + 1, -1, dtype=np.int64)
    row_of[inverse[:len(listed)]] = np.arange(len(listed))
    return row_of[inverse[len(listed):]]


def fitted_critic(spec: Spec, model: TabularMDP, name: str, optimal: Solution) -> FittedCritic:
    """The fitted critic ``name`` (:func:`mdp.planner.fit_critic`) on ``model``'s states; a located error when it
    cannot be fitted. With a training world (``where NAME = VALUE``) it is fitted there (that world compiled
    and solved with those consts and params) and applied here: its visits are those of the training world's
    states, by their variables (0 for the states it does not have)."""
    key = (spec.name, name, id(optimal))
    cached = _FITTED.get(model, {}).get(key)
    if cached is not None and cached[0] is optimal:
        return cached[1]
    fitted = _fit(spec, model, name, optimal)
    _FITTED.setdefault(model, {})[key] = (optimal, fitted)
    return fitted


_FITTED: weakref.WeakKeyDictionary[TabularMDP, dict[tuple[str, str, int], tuple[Solution, FittedCritic]]] = \
    weakref.WeakKeyDictionary()  # a critic is fitted once per model and optimum (a training world: a solve)


def _fit(spec: Spec, model: TabularMDP, name: str, optimal: Solution) -> FittedCritic:
    critic = spec.critic(name)
    trained_spec, trained_model, trained_optimum = spec, model, optimal
    if critic.training_world:
        trained_spec = with_settings(spec, critic.training_world)
        trained_model = mdp.compile(trained_spec)
        trained_optimum = mdp.solve(trained_model)
    features = np.column_stack([_evaluate(trained_spec, trained_model, f) for f in critic.features])
    policy = np.asarray(trained_optimum.policy, dtype=np.int64) if critic.trained_on == "optimal" else None
    try:
        fitted = fit_critic(trained_model, features, trained_optimum.V, policy, critic.method)
    except ValueError as error:
        raise ModelError(Diagnostic(f"critic '{name}' cannot be fitted: {error}", critic.span,
                                    hint="train on another policy, or choose other features"), spec.source) from None
    if trained_model is model:
        return fitted
    here = np.column_stack([np.ones(model.n_states), *(_evaluate(spec, model, f) for f in critic.features)])
    here[np.asarray(model.terminal, dtype=bool)] = 0.0
    visits_by_state = dict(zip(_state_keys(trained_spec, trained_model), fitted.visits.tolist()))
    visits = np.array([visits_by_state.get(key, 0.0) for key in _state_keys(spec, model)], dtype=np.float64)
    return FittedCritic(values=here @ fitted.weights, weights=fitted.weights, visits=visits)


def untrained_states(spec: Spec, model: TabularMDP, optimal: Solution, agent: Agent) -> npt.NDArray[np.bool_] | None:
    """(n,) the non-terminal states the agent's critic was not trained on: never visited by its training
    policy (a fitted critic), or not in its file (a critic read from one); None for a hand-written critic."""
    if agent.critic is None:
        return None
    critic = spec.critic(agent.critic)
    live = ~np.asarray(model.terminal, dtype=bool)
    if critic.is_fitted:
        return (fitted_critic(spec, model, agent.critic, optimal).visits == 0) & live
    if critic.value is None:
        return (_listed_at(_table(spec, agent.critic)[0], _state_codes(spec, model)) < 0) & live
    return None


def _state_keys(spec: Spec, model: TabularMDP) -> list[tuple[int, ...]]:
    """Every state as the codes of the spec's variables (the step counter of a horizon left out): how critic
    files and training worlds name states."""
    if model.state_codes is None:
        return [()] * model.n_states
    return list(map(tuple, model.state_codes[:, :len(spec.variables)].tolist()))


def _state_codes(spec: Spec, model: TabularMDP) -> npt.NDArray[np.int64]:
    """(n, n_variables) the codes of the spec's variables at every state (a horizon's step counter left out)."""
    if model.state_codes is None:
        return np.zeros((model.n_states, 0), dtype=np.int64)
    return np.asarray(model.state_codes[:, :len(spec.variables)], dtype=np.int64)


def _evaluate(spec: Spec, model: TabularMDP, expr: Expr) -> npt.NDArray[np.float64]:
    columns = list(model.state_codes.T) if model.state_codes is not None else []
    values = vectorize(expr, spec.param_values())(columns, size=model.n_states)
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (model.n_states,)).copy()


def describe_fit(spec: Spec, name: str, fit: FittedCritic) -> str:
    """``fitted by least squares on V* over the 3 states an optimal policy visits: 1 -> 2.5, x -> -1``."""
    critic = spec.critic(name)
    how = "least squares on V*" if critic.method == "lsq" else "TD(0)"
    who = "an optimal policy" if critic.trained_on == "optimal" else "the uniformly random policy"
    weights = ", ".join(f"{label} -> {_show(w)}" for label, w in zip(("1", *critic.feature_texts), fit.weights))
    world = "" if not critic.training_world else \
        " in the world where " + ", ".join(f"{n} = {str(v).lower() if isinstance(v, bool) else _show(float(v))}"
                                          for n, v in critic.training_world)
    return f"fitted by {how} over the {int((fit.visits > 0).sum()):,} states {who} visits{world} ({weights})"


def check_critic_error(check: Check, context: Context) -> CheckResult:
    """The largest ``|critic - V*|`` over the non-terminal states the agent (or optimal play) reaches."""
    prop = check.property
    assert isinstance(prop, CriticError)
    model, optimal = context.model, context.optimum
    critic = critic_values(context.spec, model, prop.critic, optimal)
    error = np.abs(critic - optimal.V)
    live = ~np.asarray(model.terminal, dtype=bool)
    reached = context.sub.reachable & live
    worst, everywhere = _worst(error, reached), _worst(error, live)
    value = float(error[worst]) if worst is not None else 0.0
    verdict = decide(prop.comparison, max(0.0, value - optimal.bound), value + optimal.bound, prop.bound)
    who = context.words.reachable_state.replace("state ", "states ", 1) if context.optimal is not None \
        else "states optimal policies reach"
    where = "" if worst is None else \
        f" at ({model.describe(worst)}: critic {_show(critic[worst])}, V* {_show(optimal.V[worst])})"
    overall = "" if everywhere is None else (f"; over all {int(live.sum()):,} non-terminal states at most "
                                             f"{_show(float(error[everywhere]))} ({model.describe(everywhere)})")
    fit = "" if not context.spec.critic(prop.critic).is_fitted else \
        f" (the critic is {describe_fit(context.spec, prop.critic, fitted_critic(context.spec, model, prop.critic, optimal))})"
    summary = (f"the critic '{prop.critic}' is off by at most {_show(value)} over the {int(reached.sum()):,} "
               f"{who}{where}{overall}; required {prop.comparison.value} {float(prop.bound):g}{fit}")
    return result(check, "critic_error", verdict, summary, context,
                  quantities=(Quantity(f"critic_error({prop.critic})", value, optimal.bound),))


def check_exploits_critic(check: Check, context: Context) -> CheckResult:
    """FAILS where the agent takes an action that no optimal policy takes, at a state it reaches: its plan,
    ending in the critic, prefers it; the intrinsic optimum does not."""
    model, optimal, plan = context.model, context.optimum, context.plan
    assert plan is not None
    agent_rows = context.sub.rows & context.sub.reachable[model.row_state] & ~model.terminal[model.row_state]
    exploiting = agent_rows & (optimal.gap > optimal.delta)  # certainly suboptimal for the intrinsic cost
    if not exploiting.any():
        return result(check, "exploits_critic", Verdict.HOLDS, f"{context.words.every_choice} at the "
                      f"{int(context.sub.reachable.sum()):,} states it reaches is optimal for the intrinsic cost",
                      context)
    states = np.zeros(model.n_states, dtype=bool)
    states[model.row_state[exploiting]] = True
    path = shortest_trace(context.sub, states)
    assert path is not None  # the agent reaches every state of its sub-model
    end = path.end
    rows = np.arange(model.row_groups[end], model.row_groups[end + 1])
    row = int(rows[exploiting[rows]][np.argmax(optimal.gap[rows[exploiting[rows]]])])
    best = int(rows[np.argmin(optimal.gap[rows])])
    taken, instead = (model.action_names[model.row_action[r]] for r in (row, best))
    trace = Trace(path.trace.steps[:-1] + (Step(path.trace.steps[-1].state, taken, None),), path.trace.probability)
    agent = context.spec.agent(context.agent) if context.agent else None
    split = ""
    if agent is not None:
        critic = None if agent.critic is None else critic_values(context.spec, model, agent.critic, optimal)
        paths = [planned_path(model, critic, agent.steps, r, optimal.V) for r in (row, best)]
        split = "; " + "; ".join(
            f"'{name}' plans " + ", ".join(f"{term} {_show(v)}" for term, v in path.terms.items() if v) +
            (f" and the critic {_show(path.critic)} where the plan ends (V* there: {_show(path.optimal)})"
             if agent.steps and agent.critic else "")
            for name, path in ((taken, paths[0]), (instead, paths[1])))
    summary = (f"at ({model.describe(end)}) the agent plans '{taken}' (planned cost {_show(plan.planned[row])} "
               f"against {_show(plan.planned[best])} for '{instead}'), but '{taken}' costs {_show(optimal.gap[row])} "
               f"more than the optimal '{instead}' (Q* {_show(optimal.Q[row])} against {_show(optimal.Q[best])}): "
               f"its critic misjudges where the plan ends{split}")
    return result(check, "exploits_critic", Verdict.FAILS, summary, context, trace=trace,
                  quantities=(Quantity("intrinsic cost given up", float(optimal.gap[row]), optimal.bound),))


def check_inner_regret(check: Check, context: Context) -> CheckResult:
    """The agent's (or policy's) expected intrinsic cost from the initial state minus the optimal one."""
    prop = check.property
    assert isinstance(prop, InnerRegret)
    model, optimal, own = context.model, context.optimum, context.solution
    mine, best = model.at_start(own.V), model.at_start(optimal.V)
    value = mine - best
    bound = float(own.bound + optimal.bound)
    verdict = decide(prop.comparison, value - bound, value + bound, prop.bound)
    summary = (f"{context.words.expected_cost} is {_show(mine)} against the optimal {_show(best)}: "
               f"inner regret {_show(value)}; required {prop.comparison.value} {float(prop.bound):g}")
    return result(check, "inner_regret", verdict, summary, context,
                  quantities=(Quantity("inner regret", value, bound),))


def _worst(error: npt.NDArray[np.float64], where: npt.NDArray[np.bool_]) -> int | None:
    states = np.flatnonzero(where)
    return int(states[np.argmax(error[states])]) if states.size else None


def _show(x: float) -> str:
    return f"{float(x) + 0.0:.6g}"
