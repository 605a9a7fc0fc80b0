"""mdp.graph: option graphs (reachable bottom strongly connected components) against a per-state search."""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings

from mdp.graph import option_graph, state_graph
from mdp.model import from_arrays
from tests.strategies import MDPArrays, mdp_arrays


def brute_force(model) -> list[set[frozenset[int]]]:
    """Per state: the attracting components (networkx) among its descendants, one search per state."""
    graph = nx.from_scipy_sparse_array(state_graph(model), create_using=nx.DiGraph)
    bottoms = [frozenset(c) for c in nx.attracting_components(graph)]
    return [{b for b in bottoms if b & (nx.descendants(graph, s) | {s})} for s in range(model.n_states)]


@settings(max_examples=60, deadline=None)
@given(mdp_arrays(max_states=6, max_actions=3))
def test_options_are_the_reachable_attracting_components(arrays: MDPArrays) -> None:
    model = arrays.build()
    graph = option_graph(model)
    expected = brute_force(model)
    assert {frozenset(b) for b in graph.bottoms} == set().union(*expected)
    for s in range(model.n_states):
        assert {frozenset(b) for b in graph.options(s)} == expected[s]
        assert graph.n_options(s) == len(expected[s])
    assert graph.n_options_all().tolist() == [len(e) for e in expected]


def test_terminals_and_options_after_each_action() -> None:
    # state 0: 'off' -> terminal 1; 'on' -> 2, which may enter the cycle 3 <-> 4 or the terminal 5
    n = 6
    off, on = np.zeros((n, n)), np.zeros((n, n))
    off[0, 1] = on[0, 2] = 1.0
    for T in (off, on):
        T[2, 3], T[2, 5] = 0.5, 0.5
        T[3, 4] = T[4, 3] = 1.0
        T[1, 1] = T[5, 5] = 1.0
    model = from_arrays([off, on], [[0.0] * n] * 2, discount=0.9, action_names=["off", "on"],
                        terminal=[False, True, False, False, False, True])
    graph = option_graph(model)
    assert graph.n_options(0) == 3 and graph.terminals(0) == [1, 5]
    assert graph.options(2) == [(3, 4), (5,)]
    rows = range(model.row_groups[0], model.row_groups[1])
    after = {model.action_names[model.row_action[r]]: graph.n_options_after(r) for r in rows}
    assert after == {"off": 1, "on": 2}


def test_a_long_chain_is_handled_without_one_search_per_state() -> None:
    n = 20_000  # a DAG: as many components as states
    successor = np.minimum(np.arange(n) + 1, n - 1)  # the last state loops
    chain = sp.csr_array((np.ones(n), (np.arange(n), successor)), shape=(n, n))
    model = from_arrays([chain], [np.zeros(n)], discount=0.9)
    graph = option_graph(model)
    assert graph.bottoms == ((n - 1,),)
    assert graph.n_options_all().tolist() == [1] * n
