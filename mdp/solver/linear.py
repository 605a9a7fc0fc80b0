"""Policy evaluation: the one linear solve ``(I - gamma P_pi) V = c_pi`` behind every value of a fixed policy.

The solver's policy iteration, the per-term split of a policy's value, a random policy's POWER, the
occupancy of a policy and the parametric sweep all evaluate Markov chains; they all come here.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import numpy.typing as npt
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..expressions import UNIT_ROUNDOFF as _U
from .iteration import OrderedSweeps
from .problem import FloatArray, IntArray, Problem

__all__ = ["chain_values", "evaluate", "linear_solve", "system"]

_DENSE_LIMIT = 1500  # linear systems up to this size are solved densely (LAPACK)
_LU_LIMIT = 10_000  # a sparse LU beyond this can fill in without bound (50x at 10^5 grid states): never used there
_KRYLOV_MAXITER = 100  # bicgstab iterations before a sparse LU, up to _LU_LIMIT
_KRYLOV_MAXITER_LARGE = 1000  # beyond it, before fixed-point sweeps finish the job
_SWEEPS = 2000  # fixed-point sweeps at most
_KRYLOV_CHECK = 1e-11  # largest relative residual (2-norm) accepted from bicgstab, asked for 1e-13
_RESTARTS = 3  # preconditioned bicgstab runs when it reports success that its residual belies
_ORDERED_PROBE = 6  # ordered sweeps that must each halve the change, on average, for them to go on
_KRYLOV_RTOL = 1e-13  # the relative residual asked of bicgstab
# scipy 1.12 renamed bicgstab's `tol` to `rtol` (1.14 dropped `tol`); we support scipy 1.11 too
_HAS_RTOL = "rtol" in inspect.signature(spla.bicgstab).parameters


def system(P_chain: sp.csr_array, idx: IntArray, gamma: float) -> sp.csr_array:
    """``I - gamma * P_chain`` restricted to the states ``idx`` (rows and columns)."""
    return _minus(_restricted(P_chain, idx), gamma)


def _restricted(P_chain: sp.csr_array, idx: IntArray) -> sp.csr_array:
    """``P_chain`` on the states ``idx`` (rows and columns); itself when ``idx`` is every state."""
    if idx.size == P_chain.shape[0]:
        return P_chain
    return sp.csr_array(P_chain[idx][:, idx])


def _minus(sub: sp.csr_array, gamma: float) -> sp.csr_array:
    # sp.identity, not sp.eye_array: eye_array is new in scipy 1.12 and we support 1.11
    return sp.csr_array(sp.csr_array(sp.identity(sub.shape[0], format="csr")) - gamma * sub)


def linear_solve(A: sp.csr_array, B: npt.NDArray[np.float64], x0: FloatArray | None = None) -> FloatArray:
    """Solve ``A X = B`` for an M-matrix ``A`` (``I - gamma P`` of a chain that ends almost surely).

    Small systems: dense LAPACK. Larger: bicgstab (fast on well-mixed models, where a sparse LU fills
    in catastrophically), then, up to 10^4 states, a sparse LU (fast on structured models, where Krylov
    methods crawl); beyond, never a factorisation (its fill-in has no bound: 8 GB and counting for a 10^6
    grid): bicgstab longer, then fixed-point sweeps ``x <- x + (b - A x)``, which converge for such an
    ``A``. The result need not be exact: every use is followed by a residual check or a certificate.
    """
    k = A.shape[0]
    if k == 0:
        return np.zeros(B.shape)
    if k <= _DENSE_LIMIT:
        dense = A.toarray()
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            try:
                X = np.asarray(scipy.linalg.solve(dense, B, check_finite=False))
            except np.linalg.LinAlgError:  # singular in floats (a leaving probability below their rounding)
                X = None
        # scipy 1.15 (the last for Python 3.10) divides by a diagonal matrix's zeros instead of raising
        if X is None or (np.isfinite(dense).all() and np.isfinite(B).all() and not np.isfinite(X).all()):
            return np.asarray(scipy.linalg.lstsq(dense, B, check_finite=False)[0])
        return X
    columns = B.reshape(k, -1)
    starts = None if x0 is None else x0.reshape(k, -1)  # a start per column, or one for the first
    X = np.empty(columns.shape)
    large = k > _LU_LIMIT
    preconditioner: spla.LinearOperator | None = None
    factored = False
    for i in range(columns.shape[1]):
        b = columns[:, i]
        if not float(np.abs(b).max(initial=0.0)):
            X[:, i] = 0.0
            continue
        start = None if starts is None or i >= starts.shape[1] else starts[:, i]
        if not factored:  # once plain bicgstab has failed on one column, the others go straight to its fallback
            x, info = _bicgstab(A, b, start, _KRYLOV_MAXITER)
            if _solved(A, x, b, info):
                X[:, i] = x
                continue
            if not large:
                return np.asarray(spla.splu(sp.csc_array(A), permc_spec="COLAMD").solve(columns)).reshape(B.shape)
            preconditioner, factored = _incomplete_lu(A), True
            start = _closer(A, b, x, start)
        x = start if start is not None else np.zeros(k)
        for _ in range(_RESTARTS if preconditioner is not None else 0):
            x, info = _bicgstab(A, b, x, _KRYLOV_MAXITER_LARGE, preconditioner)
            if info != 0 or _solved(A, x, b, info):  # (a restart helps only where the recurrence drifted)
                break
        X[:, i] = x if _solved(A, x, b, 0) else _sweeps(A, b, _closer(A, b, x, start))
    return X.reshape(B.shape)


def _closer(A: sp.csr_array, b: FloatArray, x: FloatArray, start: FloatArray | None) -> FloatArray:
    """Whichever of ``x`` and ``start`` (0 if none) has the smaller residual: a start for the next method
    (a broken-down bicgstab can leave an ``x`` far worse than where it began)."""
    other = start if start is not None else np.zeros(b.size)
    if not np.isfinite(x).all():
        return other
    return x if np.linalg.norm(A @ x - b) < np.linalg.norm(A @ other - b) else other


def _bicgstab(A: sp.csr_array, b: FloatArray, x0: FloatArray | None, maxiter: int,
              M: spla.LinearOperator | None = None) -> tuple[FloatArray, int]:
    """scipy's bicgstab to the relative residual :data:`_KRYLOV_RTOL` (``rtol`` since scipy 1.12, ``tol`` before)."""
    if _HAS_RTOL:
        return spla.bicgstab(A, b, x0=x0, rtol=_KRYLOV_RTOL, atol=0.0, maxiter=maxiter, M=M)
    # scipy-stubs describe scipy >= 1.12, which has no tol
    return spla.bicgstab(A, b, x0=x0, tol=_KRYLOV_RTOL, atol=0.0,  # type: ignore[call-overload]
                         maxiter=maxiter, M=M)


def _solved(A: sp.csr_array, x: FloatArray, b: FloatArray, info: int) -> bool:
    """Whether bicgstab solved ``A x = b``: it says so and the residual agrees (on a breakdown, e.g. on
    the shift matrix of a long chain, scipy's bicgstab can report success with a residual of 10%)."""
    if info != 0 or not np.isfinite(x).all():
        return False
    return float(np.linalg.norm(A @ x - b)) <= _KRYLOV_CHECK * float(np.linalg.norm(b))


def _incomplete_lu(A: sp.csr_array) -> spla.LinearOperator | None:
    """An incomplete LU of ``A`` as a preconditioner, its fill-in capped at 5 times ``A``'s nonzeros: on
    structured models (corridors, grids) it makes Krylov iterations converge in a handful of steps.

    Pivots stay on the diagonal (``I - gamma P`` is an M-matrix: its diagonal dominates); with SuperLU's
    threshold pivoting the dropped entries left an exactly zero pivot on a 10^5-state grid. ``None`` if the
    factorisation fails all the same (the caller then sweeps)."""
    try:
        ilu = spla.spilu(sp.csc_array(A), drop_tol=1e-6, fill_factor=5, permc_spec="COLAMD", diag_pivot_thresh=0.0)
    except RuntimeError:  # "Factor is exactly singular"
        return None
    return spla.LinearOperator(A.shape, ilu.solve)


def _sweeps(A: sp.csr_array, b: FloatArray, x: FloatArray) -> FloatArray:
    """Fixed-point sweeps ``x <- x + (b - A x)`` (``x <- b + gamma P x``) until the residual stops shrinking
    below ``1e-13 |b|``, or :data:`_SWEEPS` of them; the best iterate (smallest residual)."""
    goal = 1e-13 * float(np.abs(b).max(initial=0.0))
    best, best_residual = x, math.inf
    for _ in range(_SWEEPS):
        r = b - A @ x
        residual = float(np.abs(r).max(initial=0.0))
        if residual < best_residual:
            best, best_residual = x, residual
        if residual <= goal or not math.isfinite(residual):
            break
        x = x + r
    return best


def evaluate(problem: Problem, pi: IntArray, x0: FloatArray | None = None,
             rhs: FloatArray | None = None, start: int | None = None) -> FloatArray:
    """Value of the policy ``pi`` (problem rows, one per state): ``(I - gamma P_pi) V = c_pi`` (or ``rhs``,
    per state), terminal states 0 for discount 1. ``start``: see :func:`chain_values`."""
    b = problem.c[pi] if rhs is None else rhs
    return chain_values(sp.csr_array(problem.P[pi]), problem.gamma, b,
                        None if problem.gamma < 1 else ~problem.terminal, x0, start)


def chain_values(P_chain: sp.csr_array, gamma: float, columns: npt.NDArray[np.float64],
                 solve: npt.NDArray[np.bool_] | None = None, x0: FloatArray | None = None,
                 start: int | None = None) -> FloatArray:
    """``E[sum_t gamma^t x(s_t)]`` of a Markov chain ``P_chain`` (n, n) from every state, for ``x`` each
    column of ``columns`` ((n,) or (n, k)): the states ``solve`` (default all) get the solution of their
    linear system, the others 0 (discount 1: terminal states, or states from which the chain does not
    end).

    With a ``start`` state, large systems first try ordered Gauss-Seidel sweeps layered from it
    (:class:`~.iteration.OrderedSweeps`, all columns at once): on structured chains (a battery running
    down) they converge in a few dozen sweeps, without the incomplete factorisation; where they do not
    (well-mixed chains) the Krylov path below takes over from where they got."""
    n = P_chain.shape[0]
    out = np.zeros(columns.shape)
    idx = np.arange(n) if solve is None else np.flatnonzero(solve)
    if not idx.size:
        return out
    sub = _restricted(P_chain, idx)
    A = _minus(sub, gamma)
    B = columns[idx]
    x = None if x0 is None else x0[idx]
    if start is not None and idx.size > _DENSE_LIMIT:
        first = int(np.searchsorted(idx, start)) if solve is None or solve[start] else 0
        x, done = _ordered_solve(sub, gamma, B, x, min(first, idx.size - 1))
        if done and x is not None:
            X, C = x.reshape(idx.size, -1), B.reshape(idx.size, -1)
            if all(_solved(A, X[:, j], C[:, j], 0) for j in range(C.shape[1])):
                out[idx] = x
                return out
    out[idx] = linear_solve(A, B, x)
    return out


def _ordered_solve(P: sp.csr_array, gamma: float, B: FloatArray, x0: FloatArray | None, start: int
                   ) -> tuple[FloatArray | None, bool]:
    """``x = B + gamma P x`` by ordered Gauss-Seidel sweeps from ``x0`` (default 0): ``(x, True)`` once a
    sweep changes nothing beyond rounding; ``(x so far, False)`` when the changes shrink by less than half
    per sweep (a well-mixed chain: Krylov methods do better), ``(x0, False)`` if they overflow or the chain
    has too few states per layer for them."""
    n = P.shape[0]
    sweeps = OrderedSweeps.build(P, np.arange(n + 1, dtype=np.int64), B, gamma, start)
    if sweeps is None:
        return x0, False
    X = np.array(x0 if x0 is not None else np.zeros(B.shape), dtype=np.float64, order="C")
    changes: list[float] = []
    for _ in range(_SWEEPS):
        change = sweeps.sweep(X)
        if not math.isfinite(change):
            return x0, False
        if change <= 4 * _U * max(1.0, float(np.abs(X).max(initial=0.0))):
            return X, True
        changes.append(change)
        if len(changes) > _ORDERED_PROBE and changes[-1] > 0.5 ** _ORDERED_PROBE * changes[-1 - _ORDERED_PROBE]:
            return X, False
    return X, False
