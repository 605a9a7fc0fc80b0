"""Graph questions about a tabular model: which states can be reached, under which choices."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from .model import TabularMDP

__all__ = ["reachable_states", "state_graph"]


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
