"""Which actions are optimal for a reward function in the limits ``gamma -> 0`` and ``gamma -> 1``.

Turner et al.'s optimality probability ``P_D(s, a, gamma)`` (the share of reward functions ``R ~ D`` for
which ``a`` is optimal at ``s``) has limits at both ends of the discount, as POWER does. For one ``R``
the optimal actions are constant on an interval next to each end, so the limits count, per sample, the
actions optimal on those intervals. With state rewards, ``Q_gamma(s, a) = P(s, a) V_gamma``:

- **gamma -> 0**: ``V_gamma = v0 + gamma v1 + gamma^2 v2 + ...`` with ``v0 = R``; an action is optimal
  for every small enough ``gamma`` iff its sequence ``(P(s, a) v0, P(s, a) v1, ...)`` is lexicographically
  largest, where ``v(k+1)(s)`` is the best ``P(s, a) vk`` among the actions still tied on the earlier
  orders. Compared order by order until each state's remaining actions have identical successor
  distributions (then they tie at every discount), at most one order per state.
- **gamma -> 1** (Blackwell optimality): ``V_gamma = g / (1 - gamma) + h + O(1 - gamma)`` with ``g`` the
  optimal gain and ``h`` the optimal bias, so an action is optimal for every discount close enough to 1
  iff it maximises ``P(s, a) g`` and, among those, ``P(s, a) h``. Both come from multichain policy
  iteration (Puterman 1994, section 9.2: improve on ``P g`` first, then on ``R + P h`` among the
  gain-optimal actions, keeping the current action on ties), each policy evaluated exactly by its
  recurrent classes (stationary distributions, bias normalised by ``mu h = 0`` on each class) and its
  transient states. Ties left after the bias are broken by higher orders of the expansion, which this
  does not compare: for rewards drawn from a continuous law they happen only between actions with the same
  successor distribution (which tie at every discount), so the result is the limit; for discrete rewards
  (``bernoulli``, or given reward functions with repeated values) such ties count for every tied action.

Both work on reward vectors in model order, one per column, and return an ``(m, k)`` mask of the rows
optimal for each.
"""

from __future__ import annotations

import weakref

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from dsl.errors import ResourceLimitError
from dsl.numbers import counted

from .model import TabularMDP
from .solver.errors import SolverError

__all__ = ["blackwell_optimal_rows", "greedy_optimal_rows"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_TIE = 1e-9  # relative: values of one state compared within this share of the largest magnitude in play
_GREEDY_WORK = 2_000_000_000  # transitions x samples x orders the limit gamma -> 0 may sweep


def greedy_optimal_rows(model: TabularMDP, R: FloatArray) -> BoolArray:
    """``(m, k)`` the rows optimal for each reward column of ``R`` for every small enough discount."""
    starts = np.asarray(model.row_groups[:-1])
    states = np.asarray(model.row_state)
    same = _same_successors(model)
    candidate = np.ones((model.n_rows, R.shape[1]), dtype=bool)
    v = R
    seen: set[bytes] = set()
    orders = model.n_states + 1  # ties through n + 1 orders are ties of the whole rational function
    if orders * max(model.P.nnz, 1) * R.shape[1] > _GREEDY_WORK:
        orders = max(1, _GREEDY_WORK // (max(model.P.nnz, 1) * R.shape[1]))
    for _ in range(orders):
        Q = model.P @ v
        best = np.maximum.reduceat(np.where(candidate, Q, -np.inf), starts, axis=0)
        candidate &= Q >= best[states] - _TIE * (1.0 + np.abs(best[states]))
        if _settled(candidate, same, starts):
            return candidate
        key = best.tobytes() + np.packbits(candidate).tobytes()
        if key in seen:  # the orders repeat from here on (each follows from the last): the ties are for good
            return candidate
        seen.add(key)
        v = best
    if orders < model.n_states + 1:
        raise ResourceLimitError(
            f"in the limit discount -> 0, actions with different consequences still tie after "
            f"{counted(orders, 'order')} of the expansion (rewards with repeated values, e.g. bernoulli); comparing up to the {model.n_states + 1:,} "
            "that settle it would take too long: use a continuous reward law or fewer samples")
    return candidate


def blackwell_optimal_rows(model: TabularMDP, R: FloatArray, near: FloatArray | None = None,
                           max_iter: int = 1000) -> BoolArray:
    """``(m, k)`` the rows optimal for each reward column of ``R`` for every discount close enough to 1.

    ``near``: ``(n, k)`` values of the reward columns at a discount close to 1, whose greedy rows start the
    policy iteration (they are usually Blackwell optimal already: one evaluation confirms them); the
    greedy rows of ``R`` otherwise."""
    starts = np.asarray(model.row_groups[:-1])
    states = np.asarray(model.row_state)
    policy = _argmax_rows(model.P @ (R if near is None else near), starts, states)
    result = np.zeros((model.n_rows, R.shape[1]), dtype=bool)
    open_, changed = np.arange(R.shape[1]), np.arange(R.shape[1])
    g, h = np.empty_like(R), np.empty_like(R)
    for _ in range(max_iter):
        g[:, changed], h[:, changed] = _evaluate(model, policy[:, changed], R[:, changed])
        Pg, Ph = model.P @ g[:, open_], model.P @ h[:, open_]
        gain_rows = _near_best(Pg, np.ones_like(Pg, dtype=bool), starts, states)
        bias_rows = _near_best(Ph, gain_rows, starts, states)
        current = policy[:, open_], np.arange(open_.size)
        keeps_gain = np.asarray(gain_rows[current].all(axis=0))  # no state improves its gain
        settled = keeps_gain & bias_rows[current].all(axis=0)
        result[:, open_[settled]] = bias_rows[:, settled]
        if settled.all():
            return result
        wanted: BoolArray = np.where(keeps_gain[None, :], bias_rows, gain_rows)[:, ~settled]
        stay = wanted[policy[:, open_[~settled]], np.arange(wanted.shape[1])]
        open_ = open_[~settled]
        policy[:, open_] = np.where(stay, policy[:, open_], _argmax_rows(np.where(wanted, 0.0, -1.0), starts, states))
        changed = open_
    raise SolverError(f"policy iteration for the limit discount -> 1 did not settle in {max_iter} rounds")


def _near_best(values: FloatArray, among: BoolArray, starts: npt.NDArray[np.int64],
               states: npt.NDArray[np.int64]) -> BoolArray:
    """The rows of ``among`` whose value is within the tie tolerance of their state's best in ``among``."""
    best = np.maximum.reduceat(np.where(among, values, -np.inf), starts, axis=0)[states]
    return among & (values >= best - _TIE * (1.0 + np.abs(values).max(axis=0, keepdims=True)))


def _argmax_rows(values: FloatArray, starts: npt.NDArray[np.int64],
                 states: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``(n, k)`` the first row of each state with the state's largest value, per column."""
    best = np.maximum.reduceat(values, starts, axis=0)[states]
    rows = np.arange(values.shape[0])[:, None]
    first = np.where(values >= best, rows, values.shape[0])
    return np.minimum.reduceat(first, starts, axis=0)


def _same_successors(model: TabularMDP) -> npt.NDArray[np.int64]:
    """``(m,)`` a label per row, equal for rows with the same successor distribution (once per model: every
    chunk of samples asks)."""
    found = _SAME_SUCCESSORS.get(model)
    if found is None:
        P = model.P
        labels: dict[tuple[bytes, bytes], int] = {}
        found = _SAME_SUCCESSORS[model] = np.array(
            [labels.setdefault((P.indices[a:b].tobytes(), P.data[a:b].tobytes()), len(labels))
             for a, b in zip(P.indptr[:-1], P.indptr[1:])], dtype=np.int64)
    return found


_SAME_SUCCESSORS: weakref.WeakKeyDictionary[TabularMDP, npt.NDArray[np.int64]] = weakref.WeakKeyDictionary()


def _settled(candidate: BoolArray, same: npt.NDArray[np.int64], starts: npt.NDArray[np.int64]) -> bool:
    """Whether every state's remaining rows, per column, share one successor distribution."""
    label = same[:, None].astype(np.float64)
    low = np.minimum.reduceat(np.where(candidate, label, np.inf), starts, axis=0)
    high = np.maximum.reduceat(np.where(candidate, label, -np.inf), starts, axis=0)
    return bool((low == high).all())


def _evaluate(model: TabularMDP, policy: npt.NDArray[np.int64], R: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(g, h)``, each ``(n, k)``: the gain and the bias of each column's policy (rows per state) for its
    reward column, columns with the same policy evaluated together."""
    g, h = np.empty_like(R), np.empty_like(R)
    unique, which = np.unique(policy, axis=1, return_inverse=True)
    for j in range(unique.shape[1]):
        columns = np.flatnonzero(which.ravel() == j)
        g[:, columns], h[:, columns] = _gain_and_bias(sp.csr_array(model.P[unique[:, j]]), R[:, columns])
    return g, h


def _gain_and_bias(P: sp.csr_array, r: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The gain and bias of the Markov chain ``P`` for the reward columns ``r`` (Puterman 1994, 8.2):
    on each closed class, ``g = mu r`` and ``(I - P) h = r - g`` with ``mu h = 0``; on the transient states,
    ``(I - P_TT) g_T = P_TR g_R`` and ``(I - P_TT) h_T = r_T - g_T + P_TR h_R``. The systems are built
    from the chain's entries directly (this runs once per policy and sample)."""
    n = P.shape[0]
    n_classes, labels = connected_components(P, directed=True, connection="strong")
    entries = P.tocoo()
    source, target, p = entries.row, entries.col, entries.data
    leaves = np.zeros(n_classes, dtype=bool)
    leaves[labels[source[labels[source] != labels[target]]]] = True
    is_recurrent = ~leaves[labels]
    recurrent, transient = np.flatnonzero(is_recurrent), np.flatnonzero(~is_recurrent)
    size = recurrent.size
    at = np.full(n, -1)
    at[recurrent], at[transient] = np.arange(size), np.arange(transient.size)
    classes = np.unique(labels[recurrent], return_inverse=True)[1].ravel()
    c = int(classes.max()) + 1
    inside = is_recurrent[source]  # a closed class's entries stay in it
    i, j, q = at[source[inside]], at[target[inside]], p[inside]
    diagonal = np.arange(size)
    # (I - P_RR) as (row, column, value) triples
    rows, cols, values = np.r_[diagonal, i], np.r_[diagonal, j], np.r_[np.ones(size), -q]
    # stationary distributions of all classes at once: mu (I - P) = 0, one equation per class replaced by sum mu = 1
    first = np.unique(classes, return_index=True)[1]
    replaced = np.zeros(size, dtype=bool)
    replaced[first] = True
    keep = ~replaced[cols]
    stationary = sp.csc_array((np.r_[values[keep], np.ones(size)], (np.r_[cols[keep], first[classes]],
                                                                     np.r_[rows[keep], diagonal])), shape=(size, size))
    rhs = np.zeros(size)
    rhs[first] = 1.0
    mu = _solve(stationary, rhs)
    weights = sp.csr_array((mu, (classes, diagonal)), shape=(c, size))  # (c, size) mu of each class
    g, h = np.empty_like(r), np.empty_like(r)
    g[recurrent] = np.asarray(weights @ r[recurrent])[classes]
    bordered = sp.csc_array((np.r_[values, np.ones(size), mu], (np.r_[rows, diagonal, size + classes],
                                                               np.r_[cols, size + classes, diagonal])),
                            shape=(size + c, size + c))
    h[recurrent] = _solve(bordered, np.vstack([r[recurrent] - g[recurrent], np.zeros((c, r.shape[1]))]))[:size]
    if transient.size:
        out = ~inside
        i, j, q = at[source[out]], at[target[out]], p[out]
        to_recurrent = is_recurrent[target[out]]
        P_TR = sp.csr_array((q[to_recurrent], (i[to_recurrent], j[to_recurrent])), shape=(transient.size, size))
        t = transient.size
        stay = sp.csc_array((np.r_[np.ones(t), -q[~to_recurrent]], (np.r_[np.arange(t), i[~to_recurrent]],
                                                                     np.r_[np.arange(t), j[~to_recurrent]])),
                            shape=(t, t))
        lu = _factor(stay)
        g[transient] = lu.solve(np.asarray(P_TR @ g[recurrent]))
        h[transient] = lu.solve(r[transient] - g[transient] + P_TR @ h[recurrent])
    return g, h


def _factor(A: sp.csc_array):  # type: ignore[no-untyped-def]
    try:
        return splu(A)
    except RuntimeError as error:  # pragma: no cover - the systems are nonsingular by construction
        raise SolverError(f"a policy's gain and bias: {error}") from error


def _solve(A: sp.csc_array, b: FloatArray) -> FloatArray:
    return np.asarray(_factor(A).solve(np.asarray(b, dtype=np.float64)))
