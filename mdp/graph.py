"""Graph questions about a tabular model: which states can be reached, under which choices, and which
closed classes (options, in Turner et al.'s sense) stay reachable from each state."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components

from .model import TabularMDP

__all__ = ["OptionGraph", "option_graph", "reachable_states", "state_graph"]


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
    """(n,) mask of the states reachable from ``start`` (default: the initial state) using ``rows`` only.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1, 0], [0, 1, 0], [0, 0, 1]]], [[0, 0, 0]], discount=0.5)
    >>> reachable_states(model).tolist()
    [True, True, False]
    """
    order = breadth_first_order(state_graph(model, rows), model.initial if start is None else start,
                                directed=True, return_predecessors=False)
    mask = np.zeros(model.n_states, dtype=bool)
    mask[order] = True
    return mask


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
