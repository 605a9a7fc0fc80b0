"""Graph questions about a tabular model: which states can be reached, under which choices, and which
closed classes (options, in Turner et al.'s sense) stay reachable from each state.

Also every graph precomputation the numerics need, on a transition matrix ``P`` (m, n) with the state
``row_state`` (m,) of each row and a row mask: which states some or every policy can lead into a set
with positive probability (PRISM's prob0E/prob0A), with probability 1 (prob1E/prob1A), which end
components the rows contain, and whether a Markov chain terminates almost surely. These decide
probabilities of 0 and 1 exactly, before any arithmetic (Baier and Katoen, *Principles of Model
Checking*, 2008, section 10.6: algorithms 45-47).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components

from dsl.numbers import counted

from .model import TabularMDP

__all__ = ["OptionGraph", "breadth_first_depths", "end_components", "every_policy_reaches", "first_rows", "option_graph",
           "positive_edges", "ranges", "reach", "reachable_states", "rows_leaving", "some_policy_reaches",
           "some_policy_surely_reaches", "state_graph", "terminates_surely"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def state_graph(model: TabularMDP, rows: npt.NDArray[np.bool_] | None = None) -> sp.csr_array:
    """(n, n) adjacency: ``s -> t`` when some allowed row of ``s`` moves to ``t`` with positive probability.

    ``rows`` is an optional (m,) mask of the choices to keep (e.g. the optimal ones, for M*).
    """
    P = model.P if rows is None else model.P[np.flatnonzero(rows)]
    row_state = model.row_state if rows is None else model.row_state[rows]
    coo = P.tocoo()
    keep = coo.data > 0
    return sp.csr_array((np.ones(int(keep.sum()), dtype=np.int8), (row_state[coo.row[keep]], coo.col[keep])),
                        shape=(model.n_states, model.n_states))


def reachable_states(model: TabularMDP, rows: npt.NDArray[np.bool_] | None = None,
                     start: int | None = None) -> npt.NDArray[np.bool_]:
    """(n,) mask of the states reachable from ``start`` (default: the start states) using ``rows`` only.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1, 0], [0, 1, 0], [0, 0, 1]]], [[0, 0, 0]], discount=0.5)
    >>> reachable_states(model).tolist()
    [True, True, False]
    """
    order = start_order(model, rows) if start is None else \
        breadth_first_order(state_graph(model, rows), start, directed=True, return_predecessors=False)
    mask = np.zeros(model.n_states, dtype=bool)
    mask[order] = True
    return mask


def start_order(model: TabularMDP, rows: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int32]:
    """The states reachable from the start states (the initial one, or those of an ``init``) using ``rows``
    only (all by default), in breadth-first order."""
    return start_tree(model, rows)[0]


def start_tree(model: TabularMDP, rows: npt.NDArray[np.bool_] | None = None
               ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """:func:`start_order` and each state's breadth-first predecessor (negative for the start states and the
    unreached, as scipy marks its root)."""
    graph = state_graph(model, rows)
    starts = model.start_states
    if starts.size == 1:
        order, parent = breadth_first_order(graph, int(starts[0]), directed=True, return_predecessors=True)
        return order, parent
    n = model.n_states  # a root above the start states
    rooted = sp.csr_array((np.r_[graph.data, np.ones(starts.size, dtype=graph.data.dtype)],
                           np.r_[graph.indices, starts.astype(graph.indices.dtype)],
                           np.r_[graph.indptr, graph.indptr[-1] + starts.size]), shape=(n + 1, n + 1))
    order, parent = breadth_first_order(rooted, n, directed=True, return_predecessors=True)
    parent = parent[:n].copy()
    parent[parent == n] = -9999
    return order[1:], parent


def positive_edges(P: sp.csr_array, row_state: IntArray, rows: BoolArray | None = None) -> tuple[IntArray, IntArray]:
    """State-level edges ``(source, target)`` of the rows selected (all by default), positive probability only."""
    nz_row = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    keep = P.data > 0
    if rows is not None:
        keep &= rows[nz_row]
    return row_state[nz_row[keep]], P.indices[keep].astype(np.int64)


def reach(n: int, source: IntArray, target: IntArray, start: BoolArray,
          backward: bool = False) -> tuple[BoolArray, npt.NDArray[np.int32]]:
    """States reachable from ``start`` along the edges (or that can reach ``start``, if ``backward``).

    Returns the mask and the BFS predecessor of every state (``n`` for the start states, negative if
    unreached): along the edges towards ``start`` when ``backward``.
    """
    if backward:
        source, target = target, source
    starts = np.flatnonzero(start)
    edge_rows = np.concatenate([source, np.full(starts.size, n)])
    edge_cols = np.concatenate([target, starts])
    graph = sp.csr_array((np.ones(edge_rows.size, dtype=np.int8), (edge_rows, edge_cols)), shape=(n + 1, n + 1))
    order, predecessor = breadth_first_order(graph, n, directed=True, return_predecessors=True)
    mask = np.zeros(n + 1, dtype=bool)
    mask[order] = True
    return mask[:n], predecessor[:n]


def breadth_first_depths(graph: sp.csr_array, start: int) -> IntArray:
    """Breadth-first depth of every state from ``start`` and from the states no other state leads to (models from
    arrays may have states the initial one never reaches; -1 for what neither reaches), by pointer jumping
    on the breadth-first tree (C speed: no Python loop per layer)."""
    n = graph.shape[0]
    owner = np.repeat(np.arange(n), np.diff(graph.indptr))
    sources = np.flatnonzero(np.bincount(graph.indices[graph.indices != owner], minlength=n) == 0)  # (self-loops aside)
    roots = np.unique(np.r_[start, sources]).astype(graph.indices.dtype)
    rooted = sp.csr_array((np.r_[graph.data, np.ones(roots.size)], np.r_[graph.indices, roots],
                           np.r_[graph.indptr, graph.indptr[-1] + roots.size]), shape=(n + 1, n + 1))
    order, parent = breadth_first_order(rooted, n, directed=True, return_predecessors=True)
    up = np.where(parent < 0, np.arange(n + 1), parent).astype(np.int64)  # the root and the unreached: themselves
    hops = (parent >= 0).astype(np.int64)
    while True:
        further = hops[up]
        if not further.any():
            break
        hops += further
        up = up[up]
    depth = np.full(n + 1, -1, dtype=np.int64)
    depth[order] = hops[order] - 1
    return depth[:n]


def rows_leaving(P: sp.csr_array, inside: BoolArray) -> BoolArray:
    """(m,) rows with a positive-probability successor outside ``inside``."""
    outside = (~inside[P.indices]) & (P.data > 0)
    nz_row = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    return np.bincount(nz_row, weights=outside, minlength=P.shape[0]) > 0


def some_policy_reaches(P: sp.csr_array, row_state: IntArray, target: BoolArray,
                        rows: BoolArray | None = None) -> BoolArray:
    """(n,) states from which some policy on ``rows`` reaches ``target`` with positive probability (Pmax > 0)."""
    source, dest = positive_edges(P, row_state, rows)
    return reach(target.size, source, dest, target, backward=True)[0]


def every_policy_reaches(P: sp.csr_array, row_state: IntArray, target: BoolArray, rows: BoolArray,
                         blocked: BoolArray) -> BoolArray:
    """(n,) states from which every policy on ``rows`` reaches ``target`` with positive probability
    (Pmin > 0), not passing through ``blocked`` states: the least fixed point of "every row of the state
    can move into the set". States without rows never join it unless they are targets."""
    selected = np.flatnonzero(rows)
    sub = P[selected]
    states, starts = np.unique(row_state[selected], return_index=True)
    into = target.copy()
    while True:
        hits = (sub @ into.astype(np.float64)) > 0
        every = np.zeros(target.size, dtype=bool)
        if states.size:
            every[states] = np.logical_and.reduceat(hits, starts)
        new = into | (every & ~blocked)
        if np.array_equal(new, into):
            return into
        into = new


def some_policy_surely_reaches(P: sp.csr_array, row_state: IntArray, target: BoolArray, rows: BoolArray
                               ) -> tuple[BoolArray, BoolArray, npt.NDArray[np.int32]]:
    """States from which some policy on ``rows`` reaches ``target`` with probability 1 (Pmax = 1, prob1E):
    the greatest set from which ``target`` stays reachable using rows that never leave the set.

    Returns ``(states, rows, predecessor)``: the set, the rows that stay inside it, and for every state
    of the set its successor one BFS layer closer to ``target`` along those rows.
    """
    n = target.size
    inside = np.ones(n, dtype=bool)
    while True:
        kept = rows & inside[row_state] & ~rows_leaving(P, inside)
        source, dest = positive_edges(P, row_state, kept)
        reached, predecessor = reach(n, source, dest, target, backward=True)
        if np.array_equal(reached, inside):
            return inside, kept, predecessor
        inside = reached & inside


def terminates_surely(P_pi: sp.csr_array, terminal: BoolArray) -> BoolArray:
    """(n,) states from which the Markov chain ``P_pi`` (one row per state) reaches ``terminal`` almost surely."""
    n = terminal.size
    source, dest = positive_edges(P_pi, np.arange(n, dtype=np.int64))
    can, _ = reach(n, source, dest, terminal, backward=True)
    doomed, _ = reach(n, source, dest, ~can, backward=True)  # can reach a state that cannot end
    return ~doomed


def end_components(P: sp.csr_array, row_state: IntArray, rows: BoolArray, states: BoolArray
                   ) -> tuple[IntArray, BoolArray]:
    """Maximal end components inside ``states`` using ``rows``: ``(n,)`` component id (-1 if none) and the
    ``(m,)`` rows that stay inside their component.

    The classic refinement: drop rows that may leave the candidate states, split the rest into strongly
    connected components, drop rows that may leave their component, repeat until nothing changes.
    """
    n = states.size
    nz_row = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    positive = P.data > 0
    keep = rows & states[row_state]
    labels: npt.NDArray[np.int32] = np.arange(n, dtype=np.int32)
    while True:
        candidates = states & (np.bincount(row_state[keep], minlength=n) > 0)
        keep = keep & candidates[row_state] & ~rows_leaving(P, candidates)
        source, dest = positive_edges(P, row_state, keep)
        graph = sp.csr_array((np.ones(source.size, dtype=np.int8), (source, dest)), shape=(n, n))
        _, labels = connected_components(graph, directed=True, connection="strong")
        crossing = positive & (labels[P.indices] != labels[row_state[nz_row]])
        new = keep & ~(np.bincount(nz_row, weights=crossing, minlength=P.shape[0]) > 0)
        if np.array_equal(new, keep):
            break
        keep = new
    candidates = states & (np.bincount(row_state[keep], minlength=n) > 0)
    component = np.full(n, -1, dtype=np.int64)
    if candidates.any():
        _, dense = np.unique(labels[candidates], return_inverse=True)
        component[candidates] = dense.reshape(-1)
    return component, keep


@dataclass(frozen=True, eq=False)
class OptionGraph:
    """Per state, the bottom strongly connected components (closed classes) it can still reach.

    A bottom SCC is a set of states that, once entered, is never left under any choice: a terminal
    state (its self-loop), or a cycle the world cannot leave. Turner et al. call the reachable ones the
    *options* a state keeps open: "Optimal Policies Tend to Seek Power" (NeurIPS 2021, abstract) finds that
    most reward functions make it optimal to keep a range of options available and, far-sighted, to
    navigate towards larger sets of potential terminal states.

    Attributes
    ----------
    model
        The model it is for.
    component
        ``(n,)`` the strongly connected component of each state (condensation node).
    bottoms
        The bottom components, each a tuple of states in increasing order, numbered by position.
    reach
        Per component, a bit mask (Python int) of the bottom components it reaches: bit ``i`` is
        ``bottoms[i]``. Computed once for all states on the condensation DAG, in reverse topological order.
    """

    model: TabularMDP
    component: npt.NDArray[np.int64]  # (n,)
    bottoms: tuple[tuple[int, ...], ...]
    reach: tuple[int, ...]  # per component

    def __repr__(self) -> str:
        return (f"<OptionGraph {self.model.name}: {counted(self.model.n_states, 'state')}, "
                f"{counted(len(self.reach), 'strongly connected component')}, {len(self.bottoms):,} of them bottom>")

    def n_options(self, state: int) -> int:
        """How many bottom components (closed classes, terminal states among them) ``state`` can reach."""
        return self.reach[self.component[state]].bit_count()

    def options(self, state: int) -> list[tuple[int, ...]]:
        """The bottom components ``state`` can reach, as tuples of states."""
        mask = self.reach[self.component[state]]
        return [bottom for i, bottom in enumerate(self.bottoms) if mask >> i & 1]

    def terminals(self, state: int) -> list[int]:
        """The terminal states ``state`` can reach, in index order."""
        terminal = self.model.terminal
        return sorted(b[0] for b in self.options(state) if len(b) == 1 and terminal[b[0]])

    def n_options_after(self, row: int) -> int:
        """How many bottom components stay reachable after taking ``row`` (the union over its successors)."""
        P = self.model.P
        successors = P.indices[P.indptr[row]:P.indptr[row + 1]][P.data[P.indptr[row]:P.indptr[row + 1]] > 0]
        mask = 0
        for t in successors:
            mask |= self.reach[self.component[t]]
        return mask.bit_count()

    def n_options_all(self) -> npt.NDArray[np.int64]:
        """``(n,)`` :meth:`n_options` of every state."""
        counts = np.array([mask.bit_count() for mask in self.reach], dtype=np.int64)
        return counts[self.component]


def option_graph(model: TabularMDP, rows: npt.NDArray[np.bool_] | None = None) -> OptionGraph:
    """The :class:`OptionGraph` of ``model`` (of the choices in ``rows``, if given), for every state at once.

    The strongly connected components come from scipy (linear time, in C); their condensation is a DAG
    (networkx) whose sinks are the bottom components, and reachable bottom components propagate from
    the sinks upwards in reverse topological order: linear in the DAG's edges times a bit-mask union,
    not one search per state.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> stay = [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]  # 1 absorbs; 2 <-> 3 cycle
    >>> leave = [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    >>> graph = option_graph(from_arrays([stay, leave], [[0] * 4] * 2, discount=0.9))
    >>> graph.n_options(0), graph.options(0), graph.n_options(2)
    (2, [(1,), (2, 3)], 1)
    """
    import networkx as nx  # 0.16 s to import: only here, not on every start

    adjacency = state_graph(model, rows).tocoo()
    n_components, labels = connected_components(adjacency, directed=True, connection="strong")
    component = labels.astype(np.int64)
    # the condensation DAG: one edge per pair of distinct components joined by a transition
    source, target = component[adjacency.row], component[adjacency.col]
    between = source != target
    edges = sp.coo_array((np.ones(int(between.sum()), dtype=np.int8), (source[between], target[between])),
                         shape=(n_components, n_components)).tocsr()
    edges.sum_duplicates()
    condensed = nx.from_scipy_sparse_array(edges, create_using=nx.DiGraph)
    first_state = np.full(n_components, model.n_states, dtype=np.int64)
    np.minimum.at(first_state, component, np.arange(model.n_states))
    sinks = np.flatnonzero(np.diff(edges.indptr) == 0)
    sinks = sinks[np.argsort(first_state[sinks], kind="stable")]  # numbered by their first state
    bit = {int(c): 1 << i for i, c in enumerate(sinks)}
    reach = [0] * n_components
    indptr, indices = edges.indptr, edges.indices
    for c in reversed(list(nx.topological_sort(condensed))):
        mask = bit.get(c, 0)
        for d in indices[indptr[c]:indptr[c + 1]]:
            mask |= reach[d]
        reach[c] = mask
    order = np.argsort(component, kind="stable")
    starts = np.searchsorted(component[order], sinks)
    sizes = np.bincount(component, minlength=n_components)[sinks]
    bottoms = tuple(tuple(int(s) for s in order[a:a + k]) for a, k in zip(starts, sizes))
    return OptionGraph(model=model, component=component, bottoms=bottoms, reach=tuple(reach))


def first_rows(mask: npt.NDArray[np.bool_], row_state: npt.ArrayLike, n: int) -> IntArray:
    """(n,) the first row of ``mask`` in each state, -1 where it has none (a behaviour's representative)."""
    rows = np.flatnonzero(mask)
    first = np.full(n, -1, dtype=np.int64)
    first[np.asarray(row_state)[rows[::-1]]] = rows[::-1]  # the last write to a state is its first row
    return first


def ranges(starts: npt.ArrayLike, stops: npt.ArrayLike) -> IntArray:
    """The concatenation of ``range(a, b)`` for each pair ``(a, b)``, vectorised: the rows of some states (from
    ``row_groups``), the entries of some rows (from ``indptr``)."""
    begin, end = np.asarray(starts, dtype=np.int64), np.asarray(stops, dtype=np.int64)
    lengths = end - begin
    runs = np.cumsum(lengths) - lengths
    return np.repeat(begin, lengths) + np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(runs, lengths)
