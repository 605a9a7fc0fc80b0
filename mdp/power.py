"""Turner et al.'s POWER and optimality probability, estimated from sampled reward functions.

POWER measures how many options a state keeps open: the average optimal value, over a distribution
``D`` of reward functions, of what can still be obtained from the state (Turner, Smith, Shah, Critch,
Tadepalli, "Optimal Policies Tend to Seek Power", NeurIPS 2021, arXiv 1912.01683: its definitions of
POWER and of the optimality probability; their numbering is not quoted here because we could not check
it against the paper's text)::

    POWER_D(s, gamma) = (1 - gamma) / gamma * E_{R ~ D}[ V*_R(s, gamma) - R(s) ]

with *state-based* rewards ``R(s)`` that are *maximised*: ``V*_R(s) = R(s) + gamma * max_a P(s, a) V*_R``.
Terminal states absorb: their self-loop row collects ``R(s)`` every step. The spec's own costs play no
part. The default ``D`` draws ``R(s)`` IID uniform on ``[0, 1]``; then a state whose only future is
one absorbing state has POWER ``1/2`` and a state that can move to any of ``k`` absorbing states has
``E[max of k uniforms] = k / (k + 1)``.

Absorbing states (a single self-loop row, terminal states among them) get their exact POWER
``E_D[R(s)]`` with standard error 0 instead of a sample mean.

``N`` sampled reward vectors are solved together: a dense ``(n, N)`` value matrix, one sparse-dense
product per sweep on the solver's action-major row layout (so the maximum over actions is a few
``np.maximum`` calls on contiguous blocks), chunked over samples to bound memory. Each sample stops by
its own sound rule, so an estimate does not depend on how the samples are chunked.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator, Sequence
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from dsl.distributions import DISTRIBUTION_FORMS, parse_distribution
from dsl.errors import Diagnostic, ResourceLimitError, SpecError
from dsl.numbers import counted, float_text

from .graph import ranges
from .model import TabularMDP
from .solver.errors import SolverError
from .solver.iteration import SweepLayout
from .solver.optimize import optimize
from .solver.problem import from_model

__all__ = ["DISTRIBUTIONS", "PowerEstimate", "PowerUndefinedError", "RewardDistribution", "absorbing_states", "check_rewards",
           "optimal_counts", "optimality_probabilities", "optimality_probability", "power", "reward_distribution"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MEMORY_BUDGET = 256 * 2**20  # bytes of working arrays per chunk of samples
_BATCH_SWEEPS = 20_000  # batched value-iteration sweeps before the open samples go one by one
_SLOW_MODE = 0.25  # extrapolate when d - gamma d_prev spans at most this share of d's span
_TRIAL_SWEEPS = 40  # sweeps an extrapolation has to bring the span below where it started
_EXTRAPOLATIONS = 8  # per column
_LOOK_EVERY = 4  # sweeps between two looks for the slow mode (each costs about a sweep's elementwise work)
_GAIN_LP_STATES = 2000  # the limit gamma -> 1 solves a linear program per sample: up to this many states
_GREEDY_TOL = 1e-12  # the limit gamma -> 0: a sparse dot product of rewards in [0, 1] (scaled by given rewards)
_GAIN_TOL = 1e-6  # the limit gamma -> 1: HiGHS's default feasibility tolerance (1e-7), with room
_NEAR_ONE = 0.999  # the discount whose optimal rows start the policy iteration of the shares' limit 1


class PowerUndefinedError(SpecError):
    """POWER is not defined for this model (discount 1: the ``(1 - gamma) / gamma`` normalisation vanishes).

    A spec error, located at the spec's ``discount`` line for compiled models: changing it is the fix.
    """


@dataclass(frozen=True, slots=True)
class RewardDistribution:
    """The distribution ``D`` of each state's reward, drawn IID over states: ``uniform`` on [0, 1],
    ``bernoulli(p)`` (1 with probability ``p``, else 0) or ``beta(a, b)``; all bounded in [0, 1].

    Examples
    --------
    >>> reward_distribution("beta(2, 6)").mean, str(reward_distribution(" bernoulli( 0.25 ) "))
    (0.25, 'bernoulli(0.25)')
    """

    name: str
    parameters: tuple[float, ...] = ()

    def __str__(self) -> str:
        return self.name + (f"({', '.join(f'{p:g}' for p in self.parameters)})" if self.parameters else "")

    @property
    def mean(self) -> float:
        """``E_D[R(s)]``: the exact POWER of an absorbing state."""
        if self.name == "uniform":
            return 0.5
        if self.name == "bernoulli":
            return self.parameters[0]
        a, b = self.parameters
        return a / (a + b)

    def sample(self, rng: np.random.Generator, size: int, n: int) -> FloatArray:
        """``(n, size)``: ``size`` reward vectors over ``n`` states, one per column, in sample order."""
        if self.name == "uniform":
            draws = rng.random((size, n))
        elif self.name == "bernoulli":
            draws = (rng.random((size, n)) < self.parameters[0]).astype(np.float64)
        else:
            a, b = self.parameters
            draws = rng.beta(a, b, size=(size, n))
        return np.ascontiguousarray(draws.T)


DISTRIBUTIONS = DISTRIBUTION_FORMS
"""The reward distributions :func:`reward_distribution` reads."""


def reward_distribution(text: str | RewardDistribution) -> RewardDistribution:
    """Read ``uniform``, ``bernoulli(p)`` (``p`` in [0, 1]) or ``beta(a, b)`` (``a, b > 0``)
    (:func:`dsl.distributions.parse_distribution`, which a spec's checks use too).

    Raises
    ------
    ValueError
        Saying what was expected, on anything else.
    """
    if isinstance(text, RewardDistribution):
        return text
    return RewardDistribution(*parse_distribution(text))


@dataclass(frozen=True, eq=False)
class PowerEstimate:
    """Per-state POWER estimated from ``samples`` reward functions, with standard errors.

    Attributes
    ----------
    model
        The model the estimate is for.
    power
        ``(n,)`` the sample mean of ``(1 - gamma) / gamma * (V*_R(s) - R(s))``; exact ``E_D[R(s)]`` at
        absorbing states.
    stderr
        ``(n,)`` its standard error (sample standard deviation over ``sqrt(samples)``; 0 at absorbing states).
    tol
        Bound on the numerical error of every per-sample POWER value (and so of :attr:`power`).
    samples, seed, distribution
        What was sampled.
    discount
        The discount the POWER is at: the model's unless asked for another; ``0`` and ``1`` are the limits
        ``gamma -> 0`` and ``gamma -> 1`` (see :func:`power`).
    sweeps
        The largest number of value-iteration sweeps a sample needed.
    sample_values
        ``(n, samples)`` every sample's POWER values (model order), if asked for with ``keep_samples``;
        for standard errors of other linear functionals of POWER than per-state means.
    """

    model: TabularMDP
    power: FloatArray  # (n,)
    stderr: FloatArray  # (n,)
    tol: float
    samples: int
    seed: int
    distribution: str
    sweeps: int
    sample_values: FloatArray | None = None  # (n, samples)
    discount: float = math.nan

    def __repr__(self) -> str:
        discount = self.model.discount if math.isnan(self.discount) else self.discount
        spread = f"; POWER from {self.power.min():.4g} to {self.power.max():.4g}" if self.power.size else ""
        return (f"<PowerEstimate {self.model.name}: {counted(self.model.n_states, 'state')}, "
                f"{counted(self.samples, 'sample')} of {self.distribution} (seed {self.seed}), discount "
                f"{float_text(discount)}{spread}>")


def _in_order(executor: Executor, fn: Callable[..., Any], arguments: Iterator[tuple[Any, ...]],
              window: int = 16) -> Iterator[Any]:
    """``fn(*args)`` for each of ``arguments`` on ``executor``, results in order, at most ``window`` in flight
    (so that the reward chunks are not all drawn, and held, at once)."""
    pending: deque[Future[Any]] = deque()
    for args in arguments:
        pending.append(executor.submit(fn, *args))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _chunk_power(batch: _BatchedSweep, R: FloatArray, tol: float, max_iter: int) -> tuple[FloatArray, int]:
    """Per-sample POWER of one chunk of reward vectors ``R`` (model order, one per column), in the batch's
    internal order, and the sweeps it took."""
    V, sweeps = batch.solve(R[batch.layout.perm], tol, max_iter)
    return batch.futures(V), sweeps


def _limit_power(model: TabularMDP, R: FloatArray, gamma: float) -> tuple[FloatArray, int]:
    """Per-sample POWER of the reward vectors ``R`` (model order, one per column) in the limit ``gamma -> 0``
    (the best expected next reward) or ``gamma -> 1`` (the optimal gain), in model order; no sweeps."""
    if gamma == 0.0:
        Q = model.P @ R  # (m, k): E[R(s')] of every row
        return np.maximum.reduceat(Q, np.asarray(model.row_groups[:-1]), axis=0), 0
    return np.column_stack([_optimal_gain(model, R[:, j]) for j in range(R.shape[1])]), 0


def _optimal_gain(model: TabularMDP, R: FloatArray) -> FloatArray:
    """``(n,)`` the optimal long-run average of the state reward ``R`` from each state, for any chain
    structure: the multichain linear program (Puterman 1994, 9.3.8) in ``(g, h)``, by HiGHS."""
    import scipy.optimize

    A, n = _gain_constraints(model), model.n_states
    b = np.concatenate([np.zeros(model.n_rows), -R[model.row_state]])
    result = scipy.optimize.linprog(np.r_[np.ones(n), np.zeros(n)], A_ub=A, b_ub=b, bounds=(None, None),
                                    method="highs")
    if result.status != 0 or result.x is None:  # pragma: no cover - the LP is feasible and bounded
        raise SolverError(f"the average-reward linear program failed: {result.message}")
    return np.asarray(result.x[:n])


def _gain_constraints(model: TabularMDP) -> Any:
    """The constraint matrix of :func:`_optimal_gain` for ``x = (g, h)``, one model's, built once: per row
    ``r`` of state ``s``, ``P_r g - g(s) <= 0`` and ``P_r h - h(s) - g(s) <= -R(s)``."""
    cached = _GAIN_CONSTRAINTS.get(model)
    if cached is None:
        import scipy.sparse as sparse

        P, m, n = model.P, model.n_rows, model.n_states
        own = sparse.csr_array((np.ones(m), (np.arange(m), model.row_state)), shape=(m, n))
        zero = sparse.csr_array((m, n))
        cached = _GAIN_CONSTRAINTS[model] = sparse.vstack([sparse.hstack([P - own, zero]),
                                                           sparse.hstack([-own, P - own])]).tocsr()
    return cached


_GAIN_CONSTRAINTS: weakref.WeakKeyDictionary[TabularMDP, Any] = weakref.WeakKeyDictionary()


def _chunk_power_of(model: TabularMDP, R: FloatArray, tol: float, max_iter: int) -> tuple[FloatArray, int]:
    """:func:`_chunk_power` on a worker, which builds the batch from the model itself, once per model (a
    worker keeps the model it was sent for all the chunks: :mod:`verifier.parallel`)."""
    batch = _WORKER_BATCHES.get(model)
    if batch is None:
        batch = _WORKER_BATCHES[model] = _BatchedSweep(model)
    return _chunk_power(batch, R, tol, max_iter)


_WORKER_BATCHES: weakref.WeakKeyDictionary[TabularMDP, _BatchedSweep] = weakref.WeakKeyDictionary()


class _BatchedSweep:
    """Bellman sweeps for ``N`` reward vectors at once, on the solver's action-major layout.

    Works in the layout's internal state order (``perm``/``inv``); ``P`` has the rows slot by slot, so
    ``max_a P(s, a) V`` is ``np.maximum`` over contiguous row blocks of ``P @ V``.
    """

    def __init__(self, model: TabularMDP) -> None:
        self.problem = from_model(model, np.zeros(model.n_rows), 0.0, None)
        self.layout = SweepLayout(self.problem)
        self.layout.q = np.empty(0)  # the scalar sweep's buffers are not used here
        self.gamma = float(model.discount)

    def solve(self, R: FloatArray, tol: float, max_iter: int) -> tuple[FloatArray, int]:
        """``V*_R`` for every column of ``R`` (internal order), each within ``tol * gamma / (1 - gamma)``.

        MacQueen's bounds, as in the solver: after a sweep from any ``V`` with changes ``d = TV - V`` in
        ``[lo, hi]`` (per column), ``TV + g lo <= V* <= TV + g hi`` with ``g = gamma / (1 - gamma)``. A
        column stops once ``(hi - lo) / 2 <= tol`` and returns the midpoint, within ``g * tol`` of ``V*``,
        so its POWER ``(V - R) / g`` is within ``tol``. (Implied by the absolute rule ``max |d| <= tol``.)

        The bounds hold whatever ``V`` is, so the iterates may be extrapolated. Near a discount of 1 the
        span shrinks by only ``gamma`` per sweep once the greedy policy has settled: the error left is then
        constant on each recurrent class of that policy (eigenvalue 1 of its transition matrix), so ``d =
        (1 - gamma) (V* - V)`` and ``TV + g d`` removes it state by state. A column extrapolates when its
        change is that mode (``d - gamma d_prev`` spans at most :data:`_SLOW_MODE` of ``d``'s span); a wave
        of policy switches follows, and if the span has not come below where it was within
        :data:`_TRIAL_SWEEPS` sweeps, the column goes back to the plain iterate and does not extrapolate
        again (a periodic class, whose mode alternates in sign, is such a case). On the slippery 10^4 grid
        at discount 0.99: 97 sweeps instead of 973.

        Every decision is per column, from its own elementwise values and minima and maxima, and stopped
        columns leave the batch, so each column's iterates do not depend on the others (nor on the
        chunking). Columns still open after :data:`_BATCH_SWEEPS` sweeps are solved one by one by the
        solver's policy iteration, within its certified bound.
        """
        gamma = self.gamma
        g = gamma / (1.0 - gamma)
        R = np.array(R, dtype=np.float64)  # compacted below as columns stop
        V = R / (1.0 - gamma)  # V_0: exact at absorbing states and self-loops, so chains settle in few sweeps
        done = np.empty_like(V)
        active = np.arange(V.shape[1])
        change: FloatArray | None = None  # the last sweep's d, per active column, before a look
        plain = np.empty_like(V)  # a column's plain iterate while its extrapolation is on trial
        since = np.full(active.size, -1)  # sweeps since the column extrapolated; -1: not on trial
        start_span = np.zeros(active.size)  # the span when it extrapolated
        left = np.full(active.size, _EXTRAPOLATIONS)
        sweeps = 0
        for k in range(1, max_iter + 1):
            if active.size == 0:
                break
            if k > _BATCH_SWEEPS:
                done[:, active] = self._one_by_one(R, tol)
                active = active[:0]
                break
            W = self.layout.best_of_batch(V)
            W *= gamma
            W += R
            d = np.subtract(W, V, out=V)
            if W.shape[0]:
                lo, hi = d.min(axis=0), d.max(axis=0)
            else:
                lo = hi = np.zeros(active.size)
            span = hi - lo
            sweeps = k
            trial = since >= 0
            if trial.any():
                since[trial] += 1
                won = trial & (span < start_span)
                lost = trial & ~won & (since >= _TRIAL_SWEEPS)
                since[won | lost] = -1
                if lost.any():  # back to the plain iterate; its next sweep comes next
                    W[:, lost] = plain[:, lost]
                    span[lost] = np.inf
                    left[lost] = 0
            stop = span <= 2.0 * tol
            if stop.any():
                done[:, active[stop]] = W[:, stop] + g * 0.5 * (lo[stop] + hi[stop])
                keep = ~stop
                active, W, R, d, plain = active[keep], W[:, keep], R[:, keep], d[:, keep], plain[:, keep]
                span, since, start_span, left = span[keep], since[keep], start_span[keep], left[keep]
                if change is not None:
                    change = change[:, keep]
            if change is not None and W.shape[0]:
                ready = np.flatnonzero((left > 0) & (since < 0))
                if ready.size:
                    every = ready.size == active.size  # then slices: no copies
                    columns: slice | IntArray = slice(None) if every else ready
                    residual = change[:, columns]
                    residual *= -gamma
                    residual += d[:, columns]
                    slow = ready[np.ptp(residual, axis=0) <= _SLOW_MODE * span[ready]]
                    if slow.size:
                        plain[:, slow] = W[:, slow]
                        W[:, slow] += g * d[:, slow]
                        since[slow], start_span[slow] = 0, span[slow]
                        left[slow] -= 1
            change = d if (k + 1) % _LOOK_EVERY == 0 else None  # the check needs the change just before it
            V = W
        else:
            if active.size:
                raise SolverError(f"POWER value iteration did not converge in {max_iter} sweeps; "
                                  "raise max_iter or tol", iterations=max_iter)
        return done, sweeps

    def _one_by_one(self, R: FloatArray, tol: float) -> FloatArray:
        """``V*_R`` of each column of ``R`` (internal order) by the solver's pipeline (value iteration, then
        policy iteration), each maximising the state reward ``R``."""
        layout, problem = self.layout, self.problem
        out = np.empty_like(R)
        for j in range(R.shape[1]):
            reward = R[layout.inv, j]  # model order
            column = replace(problem, c=-reward[problem.row_state])
            out[:, j] = -optimize(column, tol=tol * (1.0 - self.gamma)).V[layout.perm]
        return out

    def futures(self, V: FloatArray) -> FloatArray:
        """``(1 - gamma) max_a P(s, a) V``: POWER from ``V*_R``, without the cancellation of ``(V - R) (1 -
        gamma) / gamma`` (for a tiny discount, ``R + gamma max P V`` rounds to ``R``)."""
        return (1.0 - self.gamma) * self.layout.best_of_batch(V)


def absorbing_states(model: TabularMDP) -> npt.NDArray[np.bool_]:
    """(n,) states whose only row is a self-loop with probability 1 (terminal states among them).

    Their POWER is known exactly: ``V*_R(s) = R(s) / (1 - gamma)``, so ``POWER(s) = E_D[R(s)]``.
    """
    single = np.diff(model.row_groups) == 1
    rows = np.asarray(model.row_groups[:-1])
    P = model.P
    lo, hi = P.indptr[rows], P.indptr[rows + 1]
    one_entry = (hi - lo) == 1
    states = np.arange(model.n_states)
    loop = np.zeros(model.n_states, dtype=bool)
    ok = single & one_entry
    loop[ok] = (P.indices[lo[ok]] == states[ok]) & (P.data[lo[ok]] == 1.0)
    return loop


def _check_model(model: TabularMDP) -> float:
    gamma = float(model.discount)
    if not 0.0 < gamma < 1.0:
        raise PowerUndefinedError(Diagnostic(
            f"POWER needs a discount below 1, the model '{model.name}' has discount {gamma:g}", model.discount_span,
            hint="Turner et al.'s normalisation (1 - gamma) / gamma vanishes at 1; declare e.g. `discount 0.9`, "
                 "or ask for the limit (`corrigo power --discount 1`, `power(at = ..., discount = 1)`)"),
            model.source)
    return gamma


def _reward_chunks(model: TabularMDP, size: int, samples: int, seed: int, distribution: RewardDistribution,
                   rewards: FloatArray | None) -> Iterator[FloatArray]:
    """``(n, k)`` reward vectors in model order, one per column, chunk by chunk in sample order (so
    chunking does not change them): drawn from ``distribution``, or the rows of the user's ``rewards``."""
    if rewards is not None:
        for start in range(0, rewards.shape[0], size):
            yield np.ascontiguousarray(rewards[start:start + size].T, dtype=np.float64)
        return
    rng = np.random.default_rng(seed)
    done = 0
    while done < samples:
        k = min(size, samples - done)
        yield distribution.sample(rng, k, model.n_states)
        done += k


def check_rewards(model: TabularMDP, rewards: npt.ArrayLike) -> FloatArray:
    """The user's reward samples as a ``(samples, n)`` float array, or a ValueError saying what is wrong."""
    array = np.asarray(rewards, dtype=np.float64)
    n = model.n_states
    if array.ndim != 2 or array.shape[1] != n:
        raise ValueError(f"rewards must have one row per sample and one column per state ({n} for the model "
                         f"'{model.name}', in model order), got shape {array.shape}")
    if array.shape[0] < 1:
        raise ValueError("rewards must have at least 1 row (one reward function), got 0")
    if not np.isfinite(array).all():
        row, column = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"rewards must be finite numbers, row {row} column {column} is {array[row, column]}")
    return array


def _default_chunk(model: TabularMDP) -> int:
    per_sample = 8 * (model.n_rows + 8 * model.n_states)  # P @ V plus a few (n,) columns
    return max(1, _MEMORY_BUDGET // max(per_sample, 1))


def power(model: TabularMDP, samples: int = 1000, seed: int = 0, distribution: str | RewardDistribution = "uniform",
          chunk: int | None = None, tol: float = 1e-6, max_iter: int = 100_000,
          progress: Callable[[int], object] | None = None, keep_samples: bool = False,
          rewards: npt.ArrayLike | None = None, executor: Executor | None = None,
          discount: float | None = None) -> PowerEstimate:
    """Estimate POWER at every state from ``samples`` reward functions drawn from ``distribution``.

    Parameters
    ----------
    model
        The world; only its transitions, terminal states and discount matter.
    samples
        Number of reward functions ``N``.
    seed
        Seed of ``numpy.random.default_rng``; sample ``j`` is the same whatever ``chunk`` is.
    distribution
        ``R(s)`` IID over states from ``"uniform"`` on ``[0, 1]``, ``"bernoulli(p)"`` or ``"beta(a, b)"``
        (see :func:`reward_distribution`).
    chunk
        Samples solved together (default: as many as fit in about 256 MB of working arrays).
    tol
        Numerical error allowed on each per-sample POWER value.
    max_iter
        Largest number of sweeps for one sample.
    progress
        Called as ``progress(samples_done)`` after every chunk.
    keep_samples
        Also return every sample's POWER values (``n * samples`` floats).
    rewards
        The user's own reward functions instead of sampled ones: ``(N, n)``, one row per sample, one
        column per state in model order (:meth:`~mdp.model.TabularMDP.describe` of the column index
        names the state). ``samples``, ``seed`` and ``distribution`` are then not used, and absorbing
        states get the sample mean of their rewards (no closed form: ``D`` is unknown).
    executor
        Where the chunks of samples are solved (:mod:`verifier.parallel` makes one from a Dask cluster);
        ``None``: here. The rewards are drawn here, chunk by chunk in sample order, and the results are
        added up in sample order: bit-identical to a run without it. With an executor the default chunk is
        at most an eighth of the samples, so that there is work for every worker.
    discount
        POWER at this discount instead of the model's: in ``(0, 1)``, or ``0`` or ``1`` for Turner et al.'s
        limits (defined even where the model's own discount is 1). ``gamma -> 0``: ``max_a E[R(s')]`` over
        the next state, per sample, exactly (one sparse product). ``gamma -> 1``: the best long-run average
        reward from ``s``, the optimal gain ``g*_R(s)`` of the multichain average-reward MDP, one linear
        program per sample (Puterman 1994, section 9.3: minimise ``sum g`` subject to ``g(s) >= P(s, a) g``
        and ``g(s) + h(s) >= R(s) + P(s, a) h``), solved by HiGHS to its default tolerances (``tol`` then
        states that scale, not a certified bound), for models of up to 2,000 states.

    Returns
    -------
    PowerEstimate

    Raises
    ------
    PowerUndefinedError
        If the discount is not below 1 (and no ``discount`` is given).
    SolverError
        If a sample needs more than ``max_iter`` sweeps.
    ResourceLimitError
        For the limit ``discount = 1`` on more than 2,000 states.
    ValueError
        On ``samples < 2``, ``chunk < 1``, ``tol <= 0``, a ``discount`` outside ``[0, 1]``, an unknown
        distribution, or ``rewards`` of the wrong shape or with non-finite values.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> world = from_arrays([[[0, 1], [0, 1]]], [[0, 0]], discount=0.9, terminal=[False, True])
    >>> estimate = power(world, samples=2000, seed=1)
    >>> bool(abs(estimate.power[0] - 0.5) < 3 * estimate.stderr[0])  # one absorbing future: E[R] = 1/2
    True
    >>> given = power(world, rewards=[[0.0, 1.0], [0.0, 0.5]])  # state 0 moves to 1 and stays: POWER = R(1)
    >>> given.power.round(9).tolist(), given.distribution
    ([0.75, 0.75], 'given')
    """
    gamma = _check_model(model) if discount is None else float(discount)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"discount must lie in [0, 1] (0 and 1: the limits), got {discount}")
    limit = discount is not None and gamma in (0.0, 1.0)
    if limit and gamma == 1.0 and model.n_states > _GAIN_LP_STATES:
        raise ResourceLimitError(f"POWER in the limit of discount 1 solves one linear program per sample, for at "
                                 f"most {_GAIN_LP_STATES:,} states; the model '{model.name}' has {model.n_states:,}")
    world = model if discount is None or limit or gamma == float(model.discount) else \
        replace(model, discount=gamma, rationals=None)
    given = None if rewards is None else check_rewards(model, rewards)
    if given is not None:
        samples = given.shape[0]
    if samples < 2 and given is None:
        raise ValueError(f"samples must be at least 2 (for a standard error), got {samples}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    law = reward_distribution(distribution)
    n = model.n_states
    size = chunk if chunk is not None else _default_chunk(model)
    if executor is not None and chunk is None:
        size = max(1, min(size, math.ceil(samples / 8)))
    total = np.zeros(n)
    squares = np.zeros(n)
    most_sweeps = 0
    done = 0
    kept = np.empty((n, samples)) if keep_samples else None
    chunks = _reward_chunks(model, size, samples, seed, law, given)
    results: Iterator[tuple[FloatArray, int]]
    if limit:
        inv = np.arange(n)  # the limits' values come in model order
        scale = 1.0 if given is None else max(1.0, float(np.abs(given).max()))
        tol = (_GREEDY_TOL if gamma == 0.0 else _GAIN_TOL) * scale
        if executor is None:
            results = (_limit_power(model, R, gamma) for R in chunks)
        else:
            results = _in_order(executor, _limit_power, ((model, R, gamma) for R in chunks))
    elif executor is None:
        batch = _BatchedSweep(world)
        inv = batch.layout.inv
        results = (_chunk_power(batch, R, tol, max_iter) for R in chunks)
    else:
        inv = _BatchedSweep(world).layout.inv
        results = _in_order(executor, _chunk_power_of, ((world, R, tol, max_iter) for R in chunks))
    for values, sweeps in results:
        k = values.shape[1]
        most_sweeps = max(most_sweeps, sweeps)
        if kept is not None:
            kept[:, done:done + k] = values[inv]
        for j in range(k):  # one sample at a time: the sums do not depend on the chunking
            column = values[:, j]
            total += column
            squares += column * column
        done += k
        if progress is not None:
            progress(done)
    total, squares = total[inv], squares[inv]  # model order
    mean = total / samples
    variance = np.maximum(squares - samples * mean * mean, 0.0) / max(samples - 1, 1)  # one given row: 0
    stderr = np.sqrt(variance / samples)
    if given is None:
        # closed form: an absorbing state (one row, a self-loop) has POWER R(s) per sample, so E_D[R(s)] exactly
        absorbing = absorbing_states(model)
        mean[absorbing] = law.mean
        stderr[absorbing] = 0.0
        if kept is not None:
            kept[absorbing] = law.mean
    return PowerEstimate(model=model, power=mean, stderr=stderr, tol=tol, samples=samples, seed=seed,
                         distribution=str(law) if given is None else "given", sweeps=most_sweeps,
                         sample_values=kept, discount=gamma)


def optimality_probability(model: TabularMDP, state: int, samples: int = 1000, seed: int = 0,
                           distribution: str | RewardDistribution = "uniform", tol: float = 1e-7,
                           rewards: npt.ArrayLike | None = None, discount: float | None = None) -> dict[str, float]:
    """The share of sampled reward functions for which each action of ``state`` is optimal there.

    Turner et al.'s optimality probability ``P_D(s, a, gamma)``: the probability under
    ``D`` that ``a`` is optimal at ``s``. **Ties count for every tied action**: an action is optimal for a
    sample when its ``P(s, a) V*_R`` is within the numerical error of the best one, so actions with the
    same consequences (e.g. two ways into the same state) each get the full share and the shares can
    sum to more than 1. Under a continuous ``D`` only such structural ties occur with positive probability.
    ``discount``: the share at another discount than the model's; ``0`` and ``1`` are its limits, the
    actions optimal for every discount close enough to 0 or 1 (:mod:`mdp.limits`).

    Returns
    -------
    dict
        Action name -> share in ``[0, 1]``, in row order.

    Raises
    ------
    PowerUndefinedError
        If the discount is not below 1 (and no ``discount`` is given).
    ResourceLimitError
        For the limit ``discount = 1`` on more than 2,000 states.
    ValueError
        For the limit ``discount = 1`` under ``bernoulli(p)`` rewards (ties there need more of the expansion).

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> stop = [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    >>> go = [[0, 0, 1], [0, 1, 0], [0, 0, 1]]
    >>> world = from_arrays([stop, go], [[0] * 3] * 2, discount=0.9, terminal=[False, True, True])
    >>> shares = optimality_probability(world, 0, samples=400)
    >>> round(shares['a0'] + shares['a1'], 6), 0.4 < shares['a0'] < 0.6
    (1.0, True)
    """
    return optimality_probabilities(model, [state], samples, seed, distribution, tol, rewards, discount)[state]


def optimality_probabilities(model: TabularMDP, states: Sequence[int], samples: int = 1000, seed: int = 0,
                             distribution: str | RewardDistribution = "uniform", tol: float = 1e-7,
                             rewards: npt.ArrayLike | None = None, discount: float | None = None,
                             ) -> dict[int, dict[str, float]]:
    """:func:`optimality_probability` at several states from one batch of sampled rewards (ties counted
    for every tied action): state -> action name -> share."""
    counts = optimal_counts(model, states, samples, seed, distribution, tol, rewards=rewards, discount=discount)
    if rewards is not None:
        samples = np.shape(rewards)[0]
    return {s: {model.action_names[model.row_action[r]]: float(c / samples) for r, c in zip(rows, row_counts)}
            for s, (rows, row_counts, _) in counts.items()}


def optimal_counts(model: TabularMDP, states: Sequence[int], samples: int = 1000, seed: int = 0,
                   distribution: str | RewardDistribution = "uniform", tol: float = 1e-7,
                   actions: Sequence[frozenset[str]] = (), rewards: npt.ArrayLike | None = None,
                   discount: float | None = None,
                   ) -> dict[int, tuple[npt.NDArray[np.int64], FloatArray, tuple[int, ...]]]:
    """For every state: its rows, how many sampled rewards make each row optimal (ties count for every
    tied row), and for each set of ``actions``, how many make *some* row of an action in it optimal.

    The count for a set is not the sum of its rows' counts: a sample where two actions of the set tie
    counts once. One batch of rewards serves every state and every set (a comparison of two sets at one
    state solves the samples once), vectorised over all their rows. ``rewards``: the user's reward
    functions, as for :func:`power`. ``discount``: as for :func:`power`, ``0`` and ``1`` the limits
    (:mod:`mdp.limits`; the limit 1 needs a continuous law unless ``rewards`` are given, and at most 2,000
    states).
    """
    gamma = _check_model(model) if discount is None else float(discount)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"discount must lie in [0, 1] (0 and 1: the limits), got {discount}")
    limit = discount is not None and gamma in (0.0, 1.0)
    if limit and gamma == 1.0:
        if model.n_states > _GAIN_LP_STATES:
            raise ResourceLimitError(f"optimality shares in the limit of discount 1 run a policy iteration per sample, "
                                     f"for at most {_GAIN_LP_STATES:,} states; the model '{model.name}' has "
                                     f"{model.n_states:,}")
        if rewards is None and reward_distribution(distribution).name == "bernoulli":
            raise ValueError("optimality shares in the limit of discount 1 need a continuous reward law (uniform or "
                             "beta): under bernoulli(p) ties between actions are broken by terms of the expansion "
                             "that are not compared")
    # the discount the samples are solved at: near 1 for the limit 1 (a start for its policy iteration)
    solved_at = _NEAR_ONE if limit and gamma == 1.0 else gamma
    world = model if solved_at in (0.0, float(model.discount)) else replace(model, discount=solved_at, rationals=None)
    given = None if rewards is None else check_rewards(model, rewards)
    states = list(dict.fromkeys(int(s) for s in states))
    for state in states:
        if not 0 <= state < model.n_states:
            raise ValueError(f"state {state} is not in 0..{model.n_states - 1}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    law = reward_distribution(distribution)
    starts = np.asarray(model.row_groups)[states]
    sizes = np.asarray(model.row_groups)[np.asarray(states, dtype=np.int64) + 1] - starts
    rows = ranges(starts, starts + sizes)
    owner = np.repeat(np.arange(len(states)), sizes)  # (r,) position of each row's state in ``states``
    offsets = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    names = np.asarray(model.action_names, dtype=object)[model.row_action[rows]]
    in_sets = [np.isin(names, sorted(wanted)) for wanted in actions]
    row_counts = np.zeros(rows.size)
    set_counts = np.zeros((len(actions), len(states)), dtype=np.int64)
    from .limits import blackwell_optimal_rows, greedy_optimal_rows

    P_rows = model.P[rows]
    batch = None if solved_at == 0.0 else _BatchedSweep(world)  # (the limit 0 solves nothing)
    margin = 4.0 * tol * gamma / (1.0 - gamma) + 1e-12 if not limit else 0.0  # twice the error of P(s, a) V
    chunks = _reward_chunks(model, _default_chunk(model), samples, seed, law, given) if rows.size else iter(())
    for R in chunks:
        k = R.shape[1]
        if batch is None:
            optimal = greedy_optimal_rows(model, R)[rows]
        else:
            V, _ = batch.solve(R[batch.layout.perm], tol, 100_000)
            V = V[batch.layout.inv]  # model order
            if limit:
                optimal = blackwell_optimal_rows(model, R, near=V)[rows]
            else:
                Q = P_rows @ V  # (r, k)
                optimal = Q >= np.maximum.reduceat(Q, offsets, axis=0)[owner] - margin
        row_counts += optimal.sum(axis=1)
        for j, in_set in enumerate(in_sets):
            if in_set.any():
                hit = np.zeros((len(states), k), dtype=bool)
                np.logical_or.at(hit, owner[in_set], optimal[in_set])
                set_counts[j] += hit.sum(axis=1)
    return {s: (rows[a:a + m], row_counts[a:a + m], tuple(int(c) for c in set_counts[:, i]))
            for i, (s, a, m) in enumerate(zip(states, offsets, sizes))}
