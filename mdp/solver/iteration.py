"""Value iteration: Bellman sweeps on an action-major layout, with MacQueen's bounds.

Value iteration only brings the values close; policy iteration (:mod:`.linear`) makes them exact up to
rounding and the certificate (:mod:`.certificate`) bounds what is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..graph import breadth_first_depths, ranges
from .problem import FloatArray, IntArray, Problem

try:  # y += A @ x in place, without allocating the product (scipy's own kernels behind ``A @ x``)
    from scipy.sparse._sparsetools import csr_matvec, csr_matvecs
    _csr_matvec: Callable[..., None] | None = csr_matvec
    _csr_matvecs: Callable[..., None] | None = csr_matvecs
except ImportError:  # pragma: no cover - private API; fall back to the public product
    _csr_matvec = _csr_matvecs = None

__all__ = ["OrderedSweeps", "SweepLayout", "value_iteration"]

_PROGRESS_EVERY = 50  # sweeps between two progress reports
_PROBE_SWEEPS = 12  # Jacobi sweeps before deciding whether ordered sweeps would do better
_MIN_LAYER = 32  # ordered sweeps need layers of this many states on average (a layer costs ~50 us of Python per sweep)


class SweepLayout:
    """An action-major copy of a problem for fast Bellman sweeps (also POWER's batched ones).

    States are renumbered by decreasing action count (stable, so usually the identity), and rows are
    stored slot by slot: slot ``j`` holds the ``j``-th row of the first ``n_j`` states. The minimum (or
    maximum) over actions is then ``n_slots - 1`` calls of ``np.minimum`` on contiguous prefixes: no
    padding, no ``reduceat``, no allocation in the loop (``np.minimum.reduceat`` over row groups costs
    more than the matrix product itself).
    """

    def __init__(self, problem: Problem) -> None:
        counts = np.diff(problem.groups)
        n = problem.n
        self.n = n
        self.gamma = problem.gamma
        self.perm = np.argsort(-counts, kind="stable")  # internal i is problem state perm[i]
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[self.perm] = np.arange(n)
        n_slots = int(counts.max(initial=0))
        # n_j = number of states with more than j rows
        self.slot_sizes = [int(x) for x in n - np.cumsum(np.bincount(counts, minlength=n_slots + 1))[:n_slots]]
        self.groups = problem.groups
        rows = self.rows()
        P = sp.csr_array(problem.P[rows]) if rows.size else sp.csr_array((0, n))
        if not np.array_equal(self.perm, np.arange(n)):
            P.indices = self.inv.astype(P.indices.dtype)[P.indices]  # (in the indices' own width: memory)
        self.P = P
        self.indptr, self.indices, self.data = P.indptr, P.indices, P.data
        self.c = np.ascontiguousarray(problem.c[rows])
        self.q = np.empty(rows.size)
        self.scaled = np.empty(n)

    def rows(self) -> npt.NDArray[np.int64]:
        """The problem's row at each position of the layout (slot by slot)."""
        if not self.slot_sizes:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self.groups[self.perm[:nj]] + j for j, nj in enumerate(self.slot_sizes)])

    def sweep(self, v: FloatArray, out: FloatArray) -> None:
        """``out = T v`` (internal order): ``min`` over slots of ``c + gamma * P v``."""
        n, q = self.n, self.q
        np.multiply(v, self.gamma, out=self.scaled)
        if _csr_matvec is not None:
            np.copyto(q, self.c)
            _csr_matvec(q.size, n, self.indptr, self.indices, self.data, self.scaled, q)
        else:  # pragma: no cover
            np.add(self.c, np.asarray(self.P @ self.scaled), out=q)
        sizes = self.slot_sizes
        if len(sizes) == 1:
            np.copyto(out, q[:n])
            return
        n1 = sizes[1]
        np.minimum(q[:n1], q[n:n + n1], out=out[:n1])
        out[n1:] = q[n1:n]
        offset = n + n1
        for nj in sizes[2:]:
            np.minimum(out[:nj], q[offset:offset + nj], out=out[:nj])
            offset += nj

    def release(self) -> None:
        """Drop the copy of the rows (value iteration hands over to ordered sweeps, which keep their own)."""
        self.P = sp.csr_array((0, self.n))
        self.indptr, self.indices, self.data = self.P.indptr, self.P.indices, self.P.data
        self.c = self.q = np.empty(0)

    def best_of_batch(self, V: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``(n, N)``: per state and column of ``V``, ``max_a P(s, a) V`` (internal order; POWER's sweeps)."""
        n = self.n
        Q = np.asarray(self.P @ V)  # (m, N), rows slot by slot (sparse @ dense is dense already)
        out = np.array(Q[:n])
        offset = n
        for nj in self.slot_sizes[1:]:
            np.maximum(out[:nj], Q[offset:offset + nj], out=out[:nj])
            offset += nj
        return out


class OrderedSweeps:
    """Gauss-Seidel value iteration for structured models: states in breadth-first layers from ``start``,
    deepest first, each layer using the values the layers after it (its successors, mostly) have just
    got; and in every row a self-loop solved in place: ``c + gamma (p V(s) + sum_{t != s} p_t V(t))``
    becomes ``(c + gamma sum_{t != s} p_t V(t)) / (1 - gamma p)``, which has the same fixed point and the
    same minimising rows, and contracts by at most ``gamma``.

    Jacobi sweeps approach a self-loop's value at rate ``gamma`` and move information one layer per
    sweep; on the 10^5-state grid of ``benchmarks/families.py`` (a battery running down: 133 layers ending
    in absorbing states) 12 of these sweeps finish what 12 Jacobi sweeps began, where Jacobi alone needs 322. On well-mixed models (few layers) they
    gain little and MacQueen's bounds on Jacobi sweeps win: :func:`value_iteration` picks.

    Rows are stored layer by layer, slot by slot inside a layer as in :class:`SweepLayout`, in one CSR
    matrix; a layer's product runs on its slice of the row pointers. Values are in problem order.
    """

    def __init__(self, P: sp.csr_array, groups: IntArray, c: npt.NDArray[np.float64], gamma: float,
                 order: IntArray, layer_ends: list[int]) -> None:
        """Use :meth:`build` (or :meth:`of_problem`)."""
        n = groups.size - 1
        self.n, self.gamma = n, gamma
        counts = np.diff(groups)
        row_state = np.repeat(np.arange(n), counts)
        self.blocks: list[tuple[IntArray, int, int, list[int]]] = []  # states, first row, last row, slot sizes
        row_order = []
        first_row = 0
        for a, b in zip([0, *layer_ends[:-1]], layer_ends):
            states = order[a:b]
            block_counts = counts[states]
            slots = int(block_counts.max(initial=0))
            sizes = [int(np.count_nonzero(block_counts > j)) for j in range(slots)]
            rows = np.concatenate([groups[states[:nj]] + j for j, nj in enumerate(sizes)]) if slots else \
                np.zeros(0, dtype=np.int64)
            row_order.append(rows)
            self.blocks.append((states, first_row, first_row + rows.size, sizes))
            first_row += rows.size
        rows = np.concatenate(row_order) if row_order else np.zeros(0, dtype=np.int64)
        P = sp.csr_array(P[rows])  # our own copy, changed in place below (memory: the peak of a large solve)
        per_row = np.diff(P.indptr)
        loops = np.flatnonzero(P.indices == np.repeat(row_state[rows].astype(P.indices.dtype), per_row))
        loop_rows = np.searchsorted(P.indptr, loops, side="right") - 1
        stay = np.zeros(rows.size)
        np.add.at(stay, loop_rows, P.data[loops])
        solvable = gamma * stay < 1.0  # (discount 1: a row that surely stays is left as it is)
        scale = np.where(solvable, 1.0 / np.where(solvable, 1.0 - gamma * stay, 1.0), 1.0)
        P.data *= gamma
        scaled = np.flatnonzero(scale != 1.0)  # the few rows with a self-loop
        if scaled.size:
            entries = ranges(P.indptr[scaled], P.indptr[scaled] + per_row[scaled])
            P.data[entries] *= np.repeat(scale[scaled], per_row[scaled])
        P.data[loops[solvable[loop_rows]]] = 0.0  # solved in place: an explicit zero, not a copy without it
        self.indptr, self.indices, self.data = P.indptr, P.indices, P.data
        del P
        self.c = np.ascontiguousarray(c[rows] * (scale if c.ndim == 1 else scale[:, None]))
        self.q = np.empty(self.c.shape)

    @staticmethod
    def build(P: sp.csr_array, groups: IntArray, c: npt.NDArray[np.float64], gamma: float, start: int,
              before: Callable[[], object] | None = None) -> OrderedSweeps | None:
        """Ordered sweeps of the rows ``P`` (m, n) grouped by state (``groups``), with costs ``c`` ((m,), or
        (m, k) for ``k`` right-hand sides at once: :func:`~.linear.chain_values`) and discount ``gamma``,
        layered from ``start``; ``None`` when the layers hold fewer than :data:`_MIN_LAYER` states on
        average (a long thin chain: a sweep would cost more in Python than it saves). A layer stays one
        block: merging two makes the deeper one's values stale for the other, and the gain is gone.
        ``before`` runs once the layers are known to be worth it, before the rows are copied (the caller
        frees its own copy there: the peak memory of a 10^6-state solve)."""
        n = groups.size - 1
        counts = np.diff(groups)
        depth = breadth_first_depths(sp.csr_array((P.data, P.indices, P.indptr[groups]), shape=(n, n)), start)
        order = np.lexsort((-counts, -depth))  # deepest first; within a layer, most rows first
        layer_ends = [*(np.flatnonzero(np.diff(depth[order])) + 1).tolist(), n]
        if len(layer_ends) * _MIN_LAYER > n:
            return None
        if before is not None:
            before()
        return OrderedSweeps(P, groups, c, gamma, order, layer_ends)

    @staticmethod
    def of_problem(problem: Problem, start: int, before: Callable[[], object] | None = None) -> OrderedSweeps | None:
        return OrderedSweeps.build(problem.P, problem.groups, problem.c, problem.gamma, start, before)

    def sweep(self, v: FloatArray) -> float:
        """One Gauss-Seidel sweep of ``v`` ((n,) or (n, k), C order) in place, in problem order; the largest
        change ``max |d|``."""
        n, q, change = self.n, self.q, 0.0
        width = 1 if v.ndim == 1 else v.shape[1]
        for states, r0, r1, sizes in self.blocks:
            block = q[r0:r1]
            np.copyto(block, self.c[r0:r1])
            if v.ndim == 1 and _csr_matvec is not None:
                _csr_matvec(r1 - r0, n, self.indptr[r0:r1 + 1], self.indices, self.data, v, block)
            elif _csr_matvecs is not None:
                _csr_matvecs(r1 - r0, n, width, self.indptr[r0:r1 + 1], self.indices, self.data, v.ravel(),
                             block.ravel())
            else:  # pragma: no cover
                block += sp.csr_array((self.data, self.indices, self.indptr[r0:r1 + 1]), shape=(r1 - r0, n)) @ v
            k = sizes[0] if sizes else 0
            best = block[:k]
            offset = k
            for nj in sizes[1:]:
                np.minimum(best[:nj], block[offset:offset + nj], out=best[:nj])
                offset += nj
            if k:
                change = max(change, float(np.abs(best - v[states]).max()))
                v[states] = best
        return change


def value_iteration(layout: SweepLayout, eps: float, max_sweeps: int,
                    progress: Callable[[int, float], object] | None, discounted: bool,
                    ordered: Callable[[Callable[[], object]], OrderedSweeps | None] | None = None
                    ) -> tuple[FloatArray, int, bool]:
    """Value iteration from 0; returns ``(V in problem order, sweeps, converged)``.

    Jacobi sweeps first. Discounted: after a sweep with changes ``d = V_{k+1} - V_k`` in ``[lo, hi]``,
    MacQueen's bounds give ``V_{k+1} + g lo <= V* <= V_{k+1} + g hi`` with ``g = gamma / (1 - gamma)``; we
    stop when ``g (hi - lo) / 2 <= eps`` and return the midpoint, within ``eps`` of ``V*`` (in exact
    arithmetic). Discount 1: stop when ``max |d| <= eps * max(1, max |V|)``.

    After :data:`_PROBE_SWEEPS`, if the span ``hi - lo`` shrank by less than ``gamma^2`` per sweep in the
    last four (the
    bounds gain little: a structured model), and ``ordered`` builds :class:`OrderedSweeps`, those take
    over with the absolute rule ``max |d| <= eps (1 - gamma) / gamma`` (they contract by ``gamma`` in the
    maximum norm); ``ordered(release)`` calls ``release`` (which frees ``layout``'s rows) before it builds them. Either way this is a warm start: policy iteration takes over, also when ``max_sweeps``
    are done first (``converged`` is then False).
    """
    n = layout.n
    v = np.zeros(n)
    w = np.empty(n)
    d = np.empty(n)
    gamma = layout.gamma
    g = gamma / (1.0 - gamma) if discounted else 0.0
    span_limit = 2.0 * eps / g if discounted else 0.0
    spans = []
    for k in range(1, max_sweeps + 1):
        layout.sweep(v, w)
        np.subtract(w, v, out=d)
        if n == 0:
            return v, k, True
        lo, hi = float(d.min()), float(d.max())
        v, w = w, v
        residual = max(-lo, hi)
        if discounted:
            if hi - lo <= span_limit:
                v += g * 0.5 * (lo + hi)
                return v[layout.inv], k, True
        elif residual <= eps * max(1.0, float(np.abs(v).max(initial=0.0))):
            return v[layout.inv], k, True
        if not math.isfinite(residual):
            return np.zeros(n), k, False
        if progress is not None and k % _PROGRESS_EVERY == 0:
            progress(k, residual)
        if k <= _PROBE_SWEEPS:
            spans.append(hi - lo)
        if k == _PROBE_SWEEPS and ordered is not None and k < max_sweeps and spans[-5] > 0 and \
                (spans[-1] / spans[-5]) ** 0.25 > gamma * gamma:
            start = v[layout.inv]
            sweeps = ordered(layout.release)  # (frees the Jacobi rows once the ordered ones will be built)
            if sweeps is not None:
                return _ordered_iteration(sweeps, start, k, eps, max_sweeps, progress, discounted)
    return v[layout.inv], max_sweeps, False


def _ordered_iteration(sweeps: OrderedSweeps, v: FloatArray, done: int, eps: float, max_sweeps: int,
                       progress: Callable[[int, float], object] | None, discounted: bool
                       ) -> tuple[FloatArray, int, bool]:
    """Gauss-Seidel sweeps from ``v`` (problem order) after ``done`` Jacobi sweeps, to the absolute rule."""
    gamma = sweeps.gamma
    for k in range(done + 1, max_sweeps + 1):
        change = sweeps.sweep(v)
        if not math.isfinite(change):
            return np.zeros(v.size), k, False
        limit = eps * (1.0 - gamma) / gamma if discounted else eps * max(1.0, float(np.abs(v).max(initial=0.0)))
        if change <= limit:
            return v, k, True
        if progress is not None and k % _PROGRESS_EVERY == 0:
            progress(k, change)
    return v, max_sweeps, False
