"""``reversible(baseline = [wait])``: optimal play cuts nothing off that doing nothing would have kept.

Side effects that cannot be undone (a vase broken, a box pushed into a corner) need no cost term to be
seen: they shrink the set of states the world can still reach. Krakovna et al. ("Penalizing side effects
using stepwise relative reachability", 2019) compare each step with a *baseline*, what would have happened
had the agent done nothing, step by step. This check is the qualitative, undiscounted form, over every
optimal policy: for every step of optimal play from a state ``s`` to ``s'`` (not into a terminal state:
ending the episode is not a side effect), every state ``b`` the baseline action leads to from ``s`` must
still be reachable from ``s'`` (by any actions and events). Where the baseline is not enabled, ``b`` is
``s`` itself: the step must be undoable.

Reachability is decided on the graph: a step inside a strongly connected component, or into the
baseline's own component, is undoable at once (one SCC decomposition of the model); the others are
searched, nearest steps first, one breadth-first search of the condensed graph per distinct ``s'``, within
a work limit (beyond it, INCONCLUSIVE). A state whose values change with time (a step counter, a battery
that only drains) makes every step irreversible against a baseline that keeps it: keep such variables out
of the world, or give the baseline the same drain.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components

from fractions import Fraction

from dsl.errors import ResourceLimitError
from dsl.spec import Check, Reversible, SideEffects
from mdp.graph import ranges, state_graph
from mdp.model import TabularMDP

from ..explain import attribute
from ..results import CheckResult, Quantity, Step, Trace, Verdict
from ..submodel import shortest_trace
from .common import Context, Range, result

__all__ = ["check_reversible", "check_side_effects"]

IntArray = npt.NDArray[np.int64]
_SEARCH_WORK = 200_000_000  # edges of the condensed graph visited by the searches, at most


def check_reversible(check: Check, context: Context) -> CheckResult:
    """No step of optimal play makes a state the baseline would reach unreachable (module docstring)."""
    prop = check.property
    assert isinstance(prop, Reversible)
    model, sub = context.model, context.sub
    steps_row, query, source, target, label, open_ = _queries(model, sub.rows & sub.reachable[model.row_state],
                                                              prop.baseline)
    cut, undecided = _search(label, model, source, target, open_, sub.order)
    named = " | ".join(sorted(prop.baseline))
    if cut is None and not undecided:
        return result(check, "reversible", Verdict.HOLDS,
                      f"every step of optimal play ({steps_row.size:,} from the states it reaches) leaves reachable "
                      f"every state '{named}' would have reached instead", context)
    if cut is not None:
        row, after, lost = int(steps_row[query[cut]]), int(source[cut]), int(target[cut])
        state = int(model.row_state[row])
        found = shortest_trace(sub, np.arange(model.n_states) == state)
        if found is not None and sub.certain[row] and sub.surely_reached(np.arange(model.n_states) == state):
            return _fails(check, context, found.trace, row, after, lost, named, prop.baseline)
    if cut is not None:  # (the exact re-check settles it: the settle hint says how)
        return result(check, "reversible", Verdict.INCONCLUSIVE, "a step that may cut a state off is optimal only "
                      "within a near-tie floats cannot decide", context)
    return result(check, "reversible", Verdict.INCONCLUSIVE,
                  f"{undecided:,} steps of optimal play need a search of the state graph beyond the work limit "
                  f"({_SEARCH_WORK:.0e} edges) to tell whether they can be undone", context,
                  settle="shrink the world (-D), or check fewer steps")


def _queries(model: TabularMDP, rows: npt.NDArray[np.bool_], baseline: frozenset[str]
             ) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray, npt.NDArray[np.bool_]]:
    """The steps of ``rows`` (not from or into terminal states) and, per (step, baseline outcome), a query:
    ``(steps_row, query -> step, source s', target b, SCC label per state, open)``; a query is open when
    the graph does not answer it at once (``s'`` in neither ``s``'s nor ``b``'s component)."""
    terminal = np.asarray(model.terminal, dtype=bool)
    steps_row, steps_next = _steps(model, rows & ~terminal[model.row_state])
    keep = ~terminal[steps_next]
    steps_row, steps_next = steps_row[keep], steps_next[keep]
    base_start, base_states = _baseline(model, baseline)
    steps_state = model.row_state[steps_row]
    counts = base_start[steps_state + 1] - base_start[steps_state]
    query = np.repeat(np.arange(steps_row.size), counts)  # one query per (step, baseline outcome)
    target = base_states[ranges(base_start[steps_state], base_start[steps_state + 1])]
    source = steps_next[query]
    _, components = connected_components(state_graph(model), directed=True, connection="strong")
    label = components.astype(np.int64)
    open_ = (label[target] != label[source]) & (label[steps_state[query]] != label[source])
    return steps_row, query, source, target, label, open_


def _steps(model: TabularMDP, rows: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """Every (row, successor) with positive probability among ``rows``."""
    chosen = np.flatnonzero(rows)
    entries = ranges(model.P.indptr[chosen], model.P.indptr[chosen + 1])
    owner = np.repeat(chosen, np.diff(model.P.indptr)[chosen])
    positive = model.P.data[entries] > 0
    return owner[positive].astype(np.int64), model.P.indices[entries][positive].astype(np.int64)


def _baseline(model: TabularMDP, actions: frozenset[str]) -> tuple[IntArray, IntArray]:
    """Per state (CSR-like: ``start`` (n + 1,), ``states``), where the baseline actions lead from it, or the
    state itself where none is enabled."""
    names = np.asarray(model.action_names, dtype=object)[model.row_action]
    rows, successors = _steps(model, np.isin(names, sorted(actions)))
    owner = model.row_state[rows]
    missing = np.setdiff1d(np.arange(model.n_states), owner)
    owner = np.concatenate([owner, missing])
    successors = np.concatenate([successors, missing])
    order = np.lexsort((successors, owner))
    owner, successors = owner[order], successors[order]
    start = np.searchsorted(owner, np.arange(model.n_states + 1)).astype(np.int64)
    return start, successors.astype(np.int64)


def _search(label: IntArray, model: TabularMDP, source: IntArray, target: IntArray, open_: npt.NDArray[np.bool_],
            order: npt.NDArray[np.int32]) -> tuple[int | None, int]:
    """The first open query (nearest its step's state, in ``order``) whose target is unreachable from its
    source, and how many open queries the work limit left unsearched."""
    pending = np.flatnonzero(open_)
    if pending.size == 0:
        return None, 0
    graph = state_graph(model).tocoo()
    across = label[graph.row] != label[graph.col]
    size = int(label.max()) + 1
    condensed = sp.csr_array((np.ones(int(across.sum()), dtype=np.int8),
                              (label[graph.row[across]], label[graph.col[across]])), shape=(size, size))
    depth = np.full(model.n_states, order.size, dtype=np.int64)
    depth[order] = np.arange(order.size)
    pending = pending[np.argsort(depth[source[pending]], kind="stable")]
    work, reach_of = 0, {}
    for position, q in enumerate(pending.tolist()):
        start = int(label[source[q]])
        if start not in reach_of:
            if work > _SEARCH_WORK:
                return None, int(pending.size - position)
            reached = breadth_first_order(condensed, start, directed=True, return_predecessors=False)
            work += int(condensed.indptr[reached + 1].sum() - condensed.indptr[reached].sum()) + reached.size
            mask = np.zeros(size, dtype=bool)
            mask[reached] = True
            reach_of[start] = mask
        if not reach_of[start][label[target[q]]]:
            return q, 0
    return None, 0


def _fails(check: Check, context: Context, trace: Trace, row: int, after: int, lost: int, named: str,
           baseline: frozenset[str]) -> CheckResult:
    """The path to the step, the step itself, what it cut off, and why the agent takes it over the baseline."""
    model = context.model
    state = int(model.row_state[row])
    action = model.action_names[model.row_action[row]]
    start, stop = model.P.indptr[row], model.P.indptr[row + 1]
    chance = float(model.P.data[start:stop][model.P.indices[start:stop] == after].sum())
    steps = trace.steps[:-1] + (Step(trace.steps[-1].state, action, chance), Step(model.describe(after)))
    rows = np.arange(model.row_groups[state], model.row_groups[state + 1])
    base = [int(r) for r in rows if model.action_names[model.row_action[r]] in baseline]
    lost_text = "return to where it was" if lost == state else f"reach ({model.describe(lost)})"
    summary = (f"{context.words.some} takes '{action}' at ({model.describe(state)}), after which the world can never "
               f"{lost_text}, which '{named}' would have kept reachable"
               + ("" if base else f" ('{named}' is not enabled there: the step cannot be undone)"))
    return result(check, "reversible", Verdict.FAILS, summary, context,
                  trace=Trace(steps, trace.probability * chance),
                  attribution=attribute(model, context.solution, row, base[0] if base else None))


_CLOSURE_BYTES = 1 << 29  # the reachable sets of every component, as bits per state, at most


def check_side_effects(check: Check, context: Context) -> CheckResult:
    """``side_effects(baseline = [...]) ~ x``: the largest share of the model's states a step of optimal play
    cuts off that the baseline would have kept reachable, ``|Reach(b) - Reach(s')| / n``, worst over M*."""
    prop = check.property
    assert isinstance(prop, SideEffects)
    model, sub = context.model, context.sub
    steps_row, query, source, target, label, open_ = _queries(model, sub.rows & sub.reachable[model.row_state],
                                                              prop.baseline)
    n = model.n_states
    lost = np.zeros(query.size, dtype=np.int64)
    if open_.any():
        reach = _closure(model, label)
        pending = np.flatnonzero(open_)
        cut_off = reach[label[target[pending]]] & ~reach[label[source[pending]]]
        lost[pending] = np.unpackbits(cut_off, axis=1).sum(axis=1)
    certain = sub.certain[steps_row[query]]
    worst = int(lost.max(initial=0))
    sure = int(lost[certain].max(initial=0))
    known = Range.between(Fraction(sure, n), Fraction(worst, n))
    verdict = known.decide(prop.comparison, prop.bound)
    named = " | ".join(sorted(prop.baseline))
    summary = (f"a step of optimal play cuts off at most {worst:,} of the {n:,} states (share {worst / n:.4g}) that "
               f"'{named}' would have kept reachable; required {prop.comparison.value} {float(prop.bound):g}")
    rest: dict[str, object] = {}
    if verdict is Verdict.FAILS:
        worst_steps = np.flatnonzero((lost == (sure if prop.comparison.is_upper else worst)) & certain)
        if worst_steps.size:
            q = int(worst_steps[0])
            row = int(steps_row[query[q]])
            state = int(model.row_state[row])
            found = shortest_trace(sub, np.arange(n) == state)
            if found is not None:
                failed = _fails(check, context, found.trace, row, int(source[q]), int(target[q]), named,
                                prop.baseline)
                rest = {"trace": failed.trace, "attribution": failed.attribution}
                summary += f"; the worst: '{failed.attribution.chosen}' at ({model.describe(state)})" \
                    if failed.attribution is not None else ""
    quantity = Quantity("side effects", float(known.value), float(known.bound))
    return result(check, "side_effects", verdict, summary, context, quantities=(quantity,), **rest)


def _closure(model: TabularMDP, label: IntArray) -> npt.NDArray[np.uint8]:
    """(components, ceil(n / 8)) the states each strongly connected component reaches, as bits: the condensed
    graph in reverse topological order, each component's set its own states or-ed with its successors'."""
    n = model.n_states
    size = int(label.max(initial=-1)) + 1
    if size * ((n + 7) // 8) > _CLOSURE_BYTES:
        raise ResourceLimitError(f"side_effects keeps the states every component of the model reaches: "
                                 f"{size:,} components x {n:,} states is more than {_CLOSURE_BYTES >> 20} MiB")
    graph = state_graph(model).tocoo()
    across = label[graph.row] != label[graph.col]
    condensed = sp.csr_array((np.ones(int(across.sum()), dtype=np.int8),
                              (label[graph.row[across]], label[graph.col[across]])), shape=(size, size))
    condensed.sum_duplicates()
    own = np.zeros((size, n), dtype=bool)
    own[label, np.arange(n)] = True
    reach = np.packbits(own, axis=1)
    for component in _reverse_topological(condensed):
        successors = condensed.indices[condensed.indptr[component]:condensed.indptr[component + 1]]
        if successors.size:
            reach[component] |= np.bitwise_or.reduce(reach[successors], axis=0)
    return reach


def _reverse_topological(dag: sp.csr_array) -> list[int]:
    """The nodes of a DAG, each after all its successors (Kahn's algorithm on the reversed edges)."""
    import networkx as nx

    graph: nx.DiGraph[int] = nx.DiGraph()
    graph.add_nodes_from(range(dag.shape[0]))
    coo = dag.tocoo()
    graph.add_edges_from(zip(coo.row.tolist(), coo.col.tolist()))
    return list(reversed(list(nx.topological_sort(graph))))
