"""Policy evaluation: the one linear solve ``(I - gamma P_pi) V = c_pi`` behind every value of a fixed policy.

The solver's policy iteration, the per-term split of a policy's value, a random policy's POWER, the
occupancy of a policy and the parametric sweep all evaluate Markov chains; they all come here.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .problem import FloatArray, IntArray, Problem

__all__ = ["chain_values", "evaluate", "linear_solve", "system"]

_DENSE_LIMIT = 1500  # linear systems up to this size are solved densely (LAPACK)
_LU_LIMIT = 10_000  # a sparse LU beyond this can fill in without bound (50x at 10^5 grid states): never used there
_KRYLOV_MAXITER = 100  # bicgstab iterations before a sparse LU, up to _LU_LIMIT
_KRYLOV_MAXITER_LARGE = 1000  # beyond it, before fixed-point sweeps finish the job
_SWEEPS = 2000  # fixed-point sweeps at most
_KRYLOV_CHECK = 1e-11  # largest relative residual (2-norm) accepted from bicgstab, asked for 1e-13


def system(P_chain: sp.csr_array, idx: IntArray, gamma: float) -> sp.csr_array:
    """``I - gamma * P_chain`` restricted to the states ``idx`` (rows and columns)."""
    sub = sp.csr_array(P_chain[idx][:, idx])
    return sp.csr_array(sp.eye_array(idx.size, format="csr") - gamma * sub)


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            try:
                return np.asarray(scipy.linalg.solve(A.toarray(), B, check_finite=False))
            except np.linalg.LinAlgError:  # singular in floats (a leaving probability below their rounding)
                return np.asarray(scipy.linalg.lstsq(A.toarray(), B, check_finite=False)[0])
    columns = B.reshape(k, -1)
    X = np.empty(columns.shape)
    large = k > _LU_LIMIT
    preconditioner: spla.LinearOperator | None = None
    factored = False
    for i in range(columns.shape[1]):
        b = columns[:, i]
        if not float(np.abs(b).max(initial=0.0)):
            X[:, i] = 0.0
            continue
        start = x0 if (x0 is not None and i == 0) else None
        if not factored:  # once plain bicgstab has failed on one column, the others go straight to its fallback
            x, info = spla.bicgstab(A, b, x0=start, rtol=1e-13, atol=0.0, maxiter=_KRYLOV_MAXITER)
            if _solved(A, x, b, info):
                X[:, i] = x
                continue
            if not large:
                return np.asarray(spla.splu(sp.csc_array(A), permc_spec="COLAMD").solve(columns)).reshape(B.shape)
            preconditioner, factored = _incomplete_lu(A), True
            start = x if np.isfinite(x).all() else start
        if start is None:
            start = np.zeros(k)
        x, info = start, 1
        if preconditioner is not None:
            x, info = spla.bicgstab(A, b, x0=start, rtol=1e-13, atol=0.0, maxiter=_KRYLOV_MAXITER_LARGE,
                                    M=preconditioner)
        X[:, i] = x if _solved(A, x, b, info) else _sweeps(A, b, x if np.isfinite(x).all() else start)
    return X.reshape(B.shape)


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
             rhs: FloatArray | None = None) -> FloatArray:
    """Value of the policy ``pi`` (problem rows, one per state): ``(I - gamma P_pi) V = c_pi`` (or ``rhs``,
    per state), terminal states 0 for discount 1."""
    b = problem.c[pi] if rhs is None else rhs
    return chain_values(sp.csr_array(problem.P[pi]), problem.gamma, b,
                        None if problem.gamma < 1 else ~problem.terminal, x0)


def chain_values(P_chain: sp.csr_array, gamma: float, columns: npt.NDArray[np.float64],
                 solve: npt.NDArray[np.bool_] | None = None, x0: FloatArray | None = None) -> FloatArray:
    """``E[sum_t gamma^t x(s_t)]`` of a Markov chain ``P_chain`` (n, n) from every state, for ``x`` each
    column of ``columns`` ((n,) or (n, k)): the states ``solve`` (default all) get the solution of their
    linear system, the others 0 (discount 1: terminal states, or states from which the chain does not
    end)."""
    n = P_chain.shape[0]
    out = np.zeros(columns.shape)
    idx = np.arange(n) if solve is None else np.flatnonzero(solve)
    if idx.size:
        out[idx] = linear_solve(system(P_chain, idx, gamma), columns[idx], None if x0 is None else x0[idx])
    return out
