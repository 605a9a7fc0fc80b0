"""Benchmark: batched POWER estimation (:func:`mdp.power.power`) on slippery grid worlds.

    python benchmarks/power.py                      # 10^4 states x 1000 samples, 10^5 states x 200 samples
    python benchmarks/power.py --sizes 10000 --samples 1000

Issue 5's targets (2-core machine): 1000 reward samples on a 10^4-state model in under 30 s, 200 on a
10^5-state model in under 2 minutes, peak memory under 4 GB, each batched sweep within 2x of one bare
scipy sparse-times-dense product of the same shapes.

The model: a side x side grid, 4 moves per state, each reaching its target with probability 0.8 and
staying put with 0.2 (walls clamp), discount 0.9; no terminal states, so no closed form shortcut
applies. Prints, per size: the wall time of :func:`power`, the sweeps the slowest sample needed, the
chunk of samples solved together, the ratio of one batched sweep (product and maximum over actions) to
one bare ``P @ V`` on that chunk, and the peak resident memory of the process so far.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp

from mdp.model import TabularMDP, from_arrays
from mdp.power import _BatchedSweep, _default_chunk, power


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


def sweep_ratio(model: TabularMDP, chunk: int, repeats: int = 5) -> float:
    batch = _BatchedSweep(model)
    V = np.random.default_rng(1).random((model.n_states, chunk))
    start = time.perf_counter()
    for _ in range(repeats):
        batch.layout.best_of_batch(V)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        model.P @ V
    return batched / (time.perf_counter() - start)


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
    print("| states | samples | time (s) | sweeps | chunk | sweep / bare product | peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, k in zip(args.sizes, samples):
        model = grid(n, args.discount)
        start = time.perf_counter()
        estimate = power(model, samples=k, seed=0)
        elapsed = time.perf_counter() - start
        chunk = min(k, _default_chunk(model))
        ratio = sweep_ratio(model, chunk)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {model.n_states:,} | {k} | {elapsed:.1f} | {estimate.sweeps} | {chunk} | {ratio:.2f} | {peak:.0f} |",
              flush=True)


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
