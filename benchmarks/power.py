"""Benchmark: batched POWER estimation (:func:`mdp.power.power`) on slippery grid worlds.

    python benchmarks/power.py                      # 10^4 states x 1000 samples, 10^5 states x 200 samples
    python benchmarks/power.py --sizes 10000 --samples 1000

Targets (2-core machine): issue 5's, 1000 reward samples on a 10^4-state model in under 30 s, 200 on a
10^5-state model in under 2 minutes, peak memory under 4 GB; issue 12's, 10^5 states x 200 samples at
discount 0.99 in under 2 minutes, and at 0.9 within 1.2x of a bare batched value iteration.

The model: a side x side grid, 4 moves per state, each reaching its target with probability 0.8 and
staying put with 0.2 (walls clamp), discount 0.9 (``--discount``); no terminal states, so no closed form
shortcut applies. Prints, per size: the wall time of :func:`power`, the sweeps the slowest sample needed,
the chunk of samples solved together, the baseline measured in the same run (:func:`bare_batched_vi` on
the same number of samples and chunks: product, maximum, reward, span rule and nothing else) with its
sweeps, the ratio, and the peak resident memory of the process after :func:`power`.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp

from mdp.model import TabularMDP, from_arrays
from mdp.power import _default_chunk, power


def grid(n_states: int, discount: float = 0.9) -> TabularMDP:
    side = int(np.sqrt(n_states))
    n = side * side
    idx = np.arange(n)
    x, y = idx % side, idx // side
    moves = []
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        target = np.clip(y + dy, 0, side - 1) * side + np.clip(x + dx, 0, side - 1)
        moves.append(sp.csr_array((np.r_[np.full(n, 0.8), np.full(n, 0.2)], (np.r_[idx, idx], np.r_[target, idx])),
                                  shape=(n, n)))
    return from_arrays(moves, [np.zeros(n)] * 4, discount=discount)


def bare_batched_vi(model: TabularMDP, R: np.ndarray, tol: float) -> int:
    """The floor: batched value iteration maximising the state rewards ``R`` (``(n, k)``) with nothing but
    one padded action-major sparse product and an elementwise maximum per sweep (the layout of
    ``../shared/bench/vi.py``), stopping when every column's MacQueen span is at most ``2 tol`` (power()'s
    rule). Returns the sweeps."""
    n, groups = model.n_states, np.asarray(model.row_groups)
    sizes = np.diff(groups)
    A = int(sizes.max())
    owner = np.repeat(np.arange(n), sizes)
    row = (np.arange(model.n_rows) - groups[owner]) * n + owner
    C = model.P.tocoo()
    Pa = sp.csr_array((model.discount * C.data, (row[C.row], C.col)), shape=(A * n, n))
    missing = np.ones(A * n, dtype=bool)
    missing[row] = False
    V = R / (1 - model.discount)
    for sweep in range(1, 100_000):
        Q = (Pa @ V).reshape(A, n, -1)
        Q[missing.reshape(A, n)] = -np.inf
        W = Q.max(axis=0) + R
        d = W - V
        V = W
        if ((d.max(axis=0) - d.min(axis=0)) <= 2 * tol).all():
            return sweep
    raise RuntimeError("bare value iteration did not converge")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samples", type=int, nargs="+", default=None,
                        help="samples per size (default: 1000 for 10^4, 200 for larger)")
    parser.add_argument("--discount", type=float, default=0.9)
    parser.add_argument("--workers", type=int, default=None,
                        help="also run on a local Dask cluster of this many workers: time, ratio to serial, "
                             "and whether the estimates are bit-identical")
    args = parser.parse_args()
    samples = args.samples or [1000 if n <= 10_000 else 200 for n in args.sizes]
    if args.workers:
        compare_workers(args.sizes, samples, args.discount, args.workers)
        return
    print("| states | samples | discount | time (s) | sweeps | chunk | bare batched VI (s) | its sweeps | "
          "time / bare | peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, k in zip(args.sizes, samples):
        model = grid(n, args.discount)
        start = time.perf_counter()
        estimate = power(model, samples=k, seed=0)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        chunk = min(k, _default_chunk(model))
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        bare_sweeps = max(bare_batched_vi(model, rng.random((min(chunk, k - i), model.n_states)).T, 1e-6)
                          for i in range(0, k, chunk))
        bare = time.perf_counter() - start
        print(f"| {model.n_states:,} | {k} | {args.discount} | {elapsed:.1f} | {estimate.sweeps} | {chunk} | "
              f"{bare:.1f} | {bare_sweeps} | {elapsed / bare:.2f} | {peak:.0f} |", flush=True)


def compare_workers(sizes: list[int], samples: list[int], discount: float, workers: int) -> None:
    """Serial against a local Dask cluster (verifier.parallel), same seed, in one run."""
    from verifier.parallel import executor

    print(f"| states | samples | discount | serial (s) | {workers} workers (s) | serial / workers | identical |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    with executor(workers=workers) as pool:
        for n, k in zip(sizes, samples):
            model = grid(n, discount)
            start = time.perf_counter()
            serial = power(model, samples=k, seed=0)
            middle = time.perf_counter()
            parallel = power(model, samples=k, seed=0, executor=pool)
            end = time.perf_counter()
            same = np.array_equal(serial.power, parallel.power) and np.array_equal(serial.stderr, parallel.stderr)
            print(f"| {model.n_states:,} | {k} | {discount} | {middle - start:.1f} | {end - middle:.1f} | "
                  f"{(middle - start) / (end - middle):.2f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
