"""Value iteration: Bellman sweeps on an action-major layout, with MacQueen's bounds.

Value iteration only brings the values close; policy iteration (:mod:`.linear`) makes them exact up to
rounding and the certificate (:mod:`.certificate`) bounds what is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .problem import FloatArray, Problem

try:  # y += A @ x in place, without allocating the product (scipy's own kernel behind ``A @ x``)
    from scipy.sparse._sparsetools import csr_matvec
    _csr_matvec: Callable[..., None] | None = csr_matvec
except ImportError:  # pragma: no cover - private API; fall back to the public product
    _csr_matvec = None

__all__ = ["SweepLayout", "value_iteration"]

_PROGRESS_EVERY = 50  # sweeps between two progress reports


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
        rows = np.concatenate([problem.groups[self.perm[:nj]] + j for j, nj in enumerate(self.slot_sizes)]) \
            if n_slots else np.zeros(0, dtype=np.int64)
        P = sp.csr_array(problem.P[rows]) if rows.size else sp.csr_array((0, n))
        if not np.array_equal(self.perm, np.arange(n)):
            P.indices = self.inv[P.indices].astype(P.indices.dtype)
        self.P = P
        self.indptr, self.indices, self.data = P.indptr, P.indices, P.data
        self.c = np.ascontiguousarray(problem.c[rows])
        self.q = np.empty(rows.size)
        self.scaled = np.empty(n)

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


def value_iteration(layout: SweepLayout, eps: float, max_sweeps: int,
                    progress: Callable[[int, float], object] | None, discounted: bool
                    ) -> tuple[FloatArray, int, bool]:
    """Jacobi value iteration from 0; returns ``(V in problem order, sweeps, converged)``.

    Discounted: after a sweep with changes ``d = V_{k+1} - V_k`` in ``[lo, hi]``, MacQueen's bounds give
    ``V_{k+1} + g lo <= V* <= V_{k+1} + g hi`` with ``g = gamma / (1 - gamma)``; we stop when
    ``g (hi - lo) / 2 <= eps`` and return the midpoint, within ``eps`` of ``V*`` (in exact arithmetic).
    This is implied by the absolute rule ``max |d| <= eps (1 - gamma) / gamma``. Discount 1: stop when
    ``max |d| <= eps * max(1, max |V|)``. Either way this is a warm start: policy iteration takes over,
    also when ``max_sweeps`` are done first (``converged`` is then False).
    """
    n = layout.n
    v = np.zeros(n)
    w = np.empty(n)
    d = np.empty(n)
    gamma = layout.gamma
    g = gamma / (1.0 - gamma) if discounted else 0.0
    span_limit = 2.0 * eps / g if discounted else 0.0
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
    return v[layout.inv], max_sweeps, False
