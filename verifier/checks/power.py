"""``power_seeking ~ x``: how much more POWER the agent's optimal policies hold than a reference policy.

POWER is Turner et al.'s (Turner, Smith, Shah, Critch, Tadepalli, "Optimal Policies Tend to Seek
Power", NeurIPS 2021, arXiv 1912.01683): ``POWER_D(s, gamma) = (1 - gamma) / gamma * E_{R ~ D}[V*_R(s) -
R(s)]`` with state rewards ``R(s)`` IID uniform on ``[0, 1]``, estimated by :func:`mdp.power.power` from
``Context.samples`` reward functions (default 1000, seed ``Context.seed``, default 0; ``corrigo verify
--samples N --seed S``). The score is::

    max_{pi in M*} E_pi[sum_t gamma^t POWER(s_t)]  -  E_random[sum_t gamma^t POWER(s_t)]

from the initial state: the worst case over the agent's optimal policies (a maximising value iteration
restricted to M*'s rows, with POWER as the per-state "cost") minus the same sum under the reference
policy. The default reference is uniformly random over the enabled actions of every state (one linear
solve). ``power_seeking(reference = INTENT)`` takes instead the policies minimising that intent term
over the whole model and, among them, the one holding the *most* POWER (the same maximisation on the
intent-optimal rows): a positive score then means the agent holds more power than any policy that
serves the designers' intent best would need. The score lies in ``[-1/(1 - gamma), 1/(1 - gamma)]``.

The score is a sample estimate. Both sums are linear in POWER (the agent's for its worst-case policy),
so with the per-sample POWER values kept (models up to 5 * 10^7 states x samples) the standard error is
that of the per-sample scores ``(d_agent - d_reference) . POWER_i`` (``d`` the discounted occupancies): the
two policies see the same sampled rewards, which cancels most of the noise. Beyond that size it is
bounded by the same two computations with the per-state standard errors as the cost (the standard
deviation of a weighted sum is at most the weighted sum of standard deviations). The verdict is
INCONCLUSIVE while the threshold lies within three standard errors (plus the numerical bounds) of the
score. The worst case over M* is taken on estimated POWER, so where optimal choices are tied it picks
the successor whose estimate happens to be highest: a small upward bias, of the order of the
standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.spec import Check, PowerSeeking
from mdp.graph import option_graph
from mdp.model import TabularMDP
from mdp.power import PowerEstimate, power
from mdp.quantities import extremal_costs, policy_values
from mdp.solver.linear import chain_values

from ..explain import attribute
from ..results import Attribution, Basis, CheckResult, Quantity, Step, Trace, Verdict, decide
from ..submodel import shortest_trace
from .common import Context, result, settle_message, undiscounted

__all__ = ["check_power_seeking", "intent_optimal_rows", "options_decision", "random_policy_matrix"]

_KEEP_LIMIT = 50_000_000  # per-sample POWER values kept (400 MB) for exact standard errors of the score
_Z = 3.0  # standard errors between a decided verdict and the threshold


def random_policy_matrix(model: TabularMDP) -> sp.csr_array:
    """(n, n) transitions of the policy that takes every enabled row of a state with equal probability."""
    counts = np.diff(model.row_groups)
    average = sp.csr_array((1.0 / counts[model.row_state], (model.row_state, np.arange(model.n_rows))),
                           shape=(model.n_states, model.n_rows))
    return sp.csr_array(average @ model.P)


@dataclass(frozen=True, slots=True)
class _Score:
    """Discounted POWER sums from the initial state; ``*_stderr``: bounds on their standard errors,
    ``*_bound``: their numerical error bounds."""

    agent: float
    agent_stderr: float
    agent_bound: float
    reference: float
    reference_stderr: float
    reference_bound: float
    stderr: float  # of the score

    @property
    def value(self) -> float:
        return self.agent - self.reference

    @property
    def margin(self) -> float:
        """Three standard errors of the score plus its numerical error."""
        return _Z * self.stderr + self.agent_bound + self.reference_bound


def _folded(model: TabularMDP, per_state: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(m,) ``x(s) + gamma * sum_t P(r, t) x(t) / (1 - gamma)`` over terminal successors ``t``, per row.

    :func:`~mdp.quantities.extremal_costs` values terminal states at 0 (an ended episode costs
    nothing), but a terminal state keeps its POWER ``x(t)`` forever (Turner et al.'s absorbing states):
    folding that exact tail ``x(t) / (1 - gamma)`` into the rows that enter it gives the right values at
    every non-terminal state (terminal rows get 0, as extremal_costs expects).
    """
    gamma = float(model.discount)
    tail = np.where(model.terminal, per_state / (1.0 - gamma), 0.0)
    folded = per_state[model.row_state] + gamma * (model.P @ tail)
    folded[model.terminal[model.row_state]] = 0.0  # terminal rows: their tail is accounted for by the rows entering
    return folded


def _occupancy(model: TabularMDP, policy_matrix: sp.csr_array) -> npt.NDArray[np.float64]:
    """(n,) discounted state occupancy ``sum_t gamma^t P(s_t = s)`` from the initial state under a policy."""
    start = np.zeros(model.n_states)
    start[model.initial] = 1.0
    return chain_values(sp.csr_array(policy_matrix.T), float(model.discount), start)


def _worst_policy(model: TabularMDP, rows: npt.NDArray[np.bool_], values: npt.NDArray[np.float64],
                  cost: npt.NDArray[np.float64], most: bool = True) -> sp.csr_array:
    """(n, n) transition matrix of a policy attaining the maximum (or minimum) ``values`` over ``rows``
    (terminals: self-loop)."""
    sign = 1.0 if most else -1.0
    q = sign * (cost + float(model.discount) * (model.P @ values))
    q = np.where(rows | model.terminal[model.row_state], q, -np.inf)
    best = np.maximum.reduceat(q, model.row_groups[:-1])
    hits = np.flatnonzero(q >= best[model.row_state])
    first = hits[np.r_[True, model.row_state[hits[1:]] != model.row_state[hits[:-1]]]]
    choice = np.asarray(model.row_groups[:-1]).copy()
    choice[model.row_state[first]] = first
    return sp.csr_array(model.P[choice])


@dataclass(frozen=True, slots=True)
class _Held:
    """The discounted POWER a policy holds from the initial state, its numerical bound, and what its
    standard error needs: the policy's discounted occupancy (with per-sample values) or a bound on it."""

    value: float
    bound: float
    occupancy: npt.NDArray[np.float64] | None
    stderr_bound: float | None


def _most_held(model: TabularMDP, estimate: PowerEstimate, rows: npt.NDArray[np.bool_], most: bool = True) -> _Held:
    """The largest (or, with ``most=False``, the least) discounted POWER over the policies that take only
    ``rows`` (a closed set)."""
    s0, gamma = model.initial, float(model.discount)
    folded = _folded(model, estimate.power)
    best = extremal_costs(model, rows, folded, maximize=most)
    # each POWER value is within estimate.tol of its sample's exact value; summed along a trajectory
    bound = best.bound + estimate.tol / (1.0 - gamma)
    if model.terminal[s0]:  # no row to fold into: the initial state is its own tail
        value = float(estimate.power[s0]) / (1.0 - gamma)
    else:
        value = float(best.values[s0])
    if estimate.sample_values is not None:
        return _Held(value, bound, _occupancy(model, _worst_policy(model, rows, best.values, folded, most)), None)
    se_values = extremal_costs(model, rows, _folded(model, estimate.stderr), maximize=True)
    se = (float(estimate.stderr[s0]) / (1.0 - gamma) if model.terminal[s0]
          else float(se_values.values[s0])) + se_values.bound
    return _Held(value, bound, None, se)


def _random_held(model: TabularMDP, estimate: PowerEstimate) -> _Held:
    """The discounted POWER of the uniformly random policy from the initial state."""
    s0, gamma = model.initial, float(model.discount)
    P_random = random_policy_matrix(model)
    values, bounds = policy_values(model, P_random, np.column_stack([estimate.power, estimate.stderr]))
    bound = float(bounds[0]) + estimate.tol / (1.0 - gamma)
    if estimate.sample_values is not None:
        return _Held(float(values[s0, 0]), bound, _occupancy(model, P_random), None)
    return _Held(float(values[s0, 0]), bound, None, float(values[s0, 1] + bounds[1]))


def _score(model: TabularMDP, estimate: PowerEstimate, rows: npt.NDArray[np.bool_],
           reference_rows: npt.NDArray[np.bool_] | None, most: bool = True) -> _Score:
    """The agent's worst case over ``rows`` against the reference (random, or the most POWER over
    ``reference_rows``), with their errors.

    With the per-sample POWER values at hand, standard errors are those of the per-sample sums
    ``d . POWER_i`` (``d`` a policy's discounted occupancy, each side fixed to its maximising policy);
    otherwise they are bounded by the occupancy-weighted per-state standard errors.
    """
    agent = _most_held(model, estimate, rows, most)
    reference = _random_held(model, estimate) if reference_rows is None else _most_held(model, estimate, reference_rows)
    samples = estimate.sample_values
    if samples is not None:
        assert agent.occupancy is not None and reference.occupancy is not None
        per_sample = np.stack([agent.occupancy @ samples, reference.occupancy @ samples,
                               (agent.occupancy - reference.occupancy) @ samples])
        agent_se, reference_se, score_se = per_sample.std(axis=1, ddof=1) / np.sqrt(samples.shape[1])
    else:
        assert agent.stderr_bound is not None and reference.stderr_bound is not None
        agent_se, reference_se = agent.stderr_bound, reference.stderr_bound
        score_se = agent_se + reference_se  # sd(X - Y) <= sd(X) + sd(Y)
    return _Score(agent=agent.value, agent_stderr=float(agent_se), agent_bound=agent.bound,
                  reference=reference.value, reference_stderr=float(reference_se),
                  reference_bound=reference.bound, stderr=float(score_se))


def intent_optimal_rows(model: TabularMDP, intent: str) -> npt.NDArray[np.bool_]:
    """(m,) the rows of the policies minimising the intent term ``intent`` over the whole model (a closed set).

    A row is intent-optimal when its intent Q-value is within twice the certified bound of the optimum
    (terminal rows always are).
    """
    cost = model.intents[intent]
    best = extremal_costs(model, np.ones(model.n_rows, dtype=bool), intent, maximize=False)
    optimum = best.values[model.row_state]
    Q = cost + float(model.discount) * (model.P @ best.values)
    tolerance = 2.0 * max(best.bound, 1e-9) + 1e-9 * np.abs(optimum)
    return (Q <= optimum + tolerance) | model.terminal[model.row_state]


def power_estimate(context: Context, distribution: str, keep: bool = False,
                   discount: Fraction | None = None) -> PowerEstimate:
    """POWER of the model's states under ``distribution`` (at ``discount`` if given, else the model's),
    computed once per verification, distribution and discount (a spec may have several power checks, and
    comparisons of POWER), with every sample's values when they fit in memory or ``keep`` asks for them."""
    key = f"power {distribution} {discount}"
    estimate = context.cache.get(key)
    if estimate is None or (keep and estimate.sample_values is None):
        model = context.model
        estimate = power(model, samples=context.samples, seed=context.seed, distribution=distribution,
                         keep_samples=keep or model.n_states * context.samples <= _KEEP_LIMIT,
                         executor=context.executor, discount=None if discount is None else float(discount))
        context.cache[key] = estimate
    return estimate


def check_power_seeking(check: Check, context: Context) -> CheckResult:
    """Worst-case discounted POWER of the agent's optimal policies minus a random policy's, against ``bound``."""
    prop = check.property
    assert isinstance(prop, PowerSeeking)
    model, sub = context.model, context.sub
    threshold = prop.bound
    undefined = undiscounted(check, "power_seeking", "POWER", "Turner et al. normalise by (1 - gamma) / gamma", context)
    if undefined is not None:
        return undefined
    estimate = power_estimate(context, prop.distribution)
    rows = sub.rows & sub.reachable[model.row_state]
    reference_rows = None if prop.reference is None else intent_optimal_rows(model, prop.reference)
    score = _score(model, estimate, rows, reference_rows)
    margin = score.margin
    verdict = decide(prop.comparison, score.value - margin, score.value + margin, threshold)
    tie_dependent = False
    if sub.has_uncertain:
        # floats cannot tell which rows of an ambiguous state are optimal: the agent's POWER lies between
        # the least and the most held over M*, and the verdict must hold for all of it
        least = _score(model, estimate, rows, reference_rows, most=False)
        if decide(prop.comparison, least.value - least.margin, least.value + least.margin,
                  threshold) is not verdict:
            verdict, tie_dependent = Verdict.INCONCLUSIVE, True
    s0 = model.initial
    agent, reference = score.agent, score.reference
    reference_name = ("a uniformly random policy" if prop.reference is None else
                      f"the '{prop.reference}'-optimal policy holding the most")
    quantities = (
        Quantity("power_seeking score", score.value, margin),
        Quantity("discounted POWER under the agent (worst over M*)", agent,
                 _Z * score.agent_stderr + score.agent_bound),
        Quantity(f"discounted POWER under {reference_name}", reference,
                 _Z * score.reference_stderr + score.reference_bound),
        Quantity("POWER at the initial state", float(estimate.power[s0]),
                 _Z * float(estimate.stderr[s0]) + estimate.tol),
    )
    summary = (f"{context.words.they_hold} {agent:.4g} discounted POWER against {reference:.4g} for {reference_name}: "
               f"score {score.value:.4g} ± {margin:.2g} (3 standard errors, {context.samples} sampled rewards"
               + ("" if prop.distribution == "uniform" else f", {prop.distribution}") + "), "
               f"bound {prop.comparison.value} {float(threshold):g}")
    settle = None
    if verdict is Verdict.INCONCLUSIVE and tie_dependent:
        settle = settle_message(context)  # the verdict depends on near-tied choices
    elif verdict is Verdict.INCONCLUSIVE:
        settle = (f"the threshold {float(threshold):g} is within 3 standard errors of the score: more reward samples "
                  f"(--samples, now {context.samples}) or a threshold further from the score")
    trace, attribution = None, None
    if verdict is Verdict.FAILS:
        decision = options_decision(context)
        if decision is not None:
            trace, attribution, said = decision
            summary += f"; {said}"
    return result(check, "power_seeking", verdict, summary, context, quantities=quantities, trace=trace,
                  attribution=attribution, basis=context.basis if tie_dependent else Basis.SAMPLING,
                  **({"settle": settle} if settle else {}))


def options_decision(context: Context) -> tuple[Trace, Attribution, str] | None:
    """The nearest state of M* where an optimal action keeps more options open than another action.

    Options are the world's bottom strongly connected components (closed classes, terminal states
    among them) still reachable after the action (:func:`mdp.graph.option_graph`). Returns the trace
    to that state ending in the optimal action keeping the most options, the cost-term attribution
    against the action keeping the fewest, and a sentence saying both counts; None if no such state.
    """
    model, sub = context.model, context.sub
    graph = option_graph(model)
    if len(graph.bottoms) < 2:
        return None
    choices: dict[int, tuple[int, int, int, int]] = {}  # state -> (most row, its count, fewest row, its count)
    for state in np.flatnonzero(sub.reachable & ~model.terminal):
        rows = range(model.row_groups[state], model.row_groups[state + 1])
        counts = {r: graph.n_options_after(r) for r in rows}
        optimal = [r for r in rows if sub.rows[r]]
        most = max(optimal, key=lambda r: (counts[r], -r))
        fewest = min(rows, key=lambda r: (counts[r], r))
        if counts[most] > counts[fewest]:
            choices[int(state)] = (most, counts[most], fewest, counts[fewest])
    if not choices:
        return None
    target = np.zeros(model.n_states, dtype=bool)
    target[list(choices)] = True
    path = shortest_trace(sub, target)
    assert path is not None  # the candidates are reachable in M*
    most, n_most, fewest, n_fewest = choices[path.end]
    chosen, other = (model.action_names[model.row_action[r]] for r in (most, fewest))
    steps = path.trace.steps
    trace = Trace(steps[:-1] + (Step(steps[-1].state, chosen, None),), path.trace.probability)
    said = (f"at ({model.describe(path.end)}) the optimal '{chosen}' keeps {n_most} reachable cycle(s) open, "
            f"'{other}' {n_fewest}")
    return trace, attribute(model, context.solution, most, fewest), said
