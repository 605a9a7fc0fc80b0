"""Benchmark: the APTAMI planner (``mdp.planner``) and the critic fit, against their bare floors.

    python benchmarks/planner.py                 # the random family at 10^5 states, H = 1, 2, 5, 10
    python benchmarks/planner.py --states 1000000

Issue 14's targets: the planner's behaviour at H = 1..10 on 10^5 states in at most H sparse sweeps each
(baseline: H bare sweeps, ``np.minimum.reduceat(c + gamma P @ W)``, measured in the same run); fitting a
linear critic on 10^5 states within 2x of a bare ``scipy.sparse.linalg.lsqr`` on the same (weighted)
matrix. Prints the ratios. A bare lsqr is given the weights; the fit must first find them, the training
policy's discounted visits (hundreds of sweeps of its transposed transitions at discount 0.95), so the
fit is also compared with the floor of that: the same sweeps, bare, then lsqr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    from families import rand_arrays, to_model

    from mdp.planner import fit_critic, plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=100_000)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = to_model(rand_arrays(args.states, args.seed), "rand")
    rng = np.random.default_rng(args.seed)
    critic = rng.normal(0.0, 10.0, model.n_states)
    starts, cost, gamma = np.asarray(model.row_groups[:-1]), np.asarray(model.cost), float(model.discount)
    print(f"random family: {model.n_states:,} states, {model.n_rows:,} rows, {model.P.nnz:,} transitions")
    print("| H | planner (s) | bare H sweeps (s) | ratio |")
    print("|---:|---:|---:|---:|")
    for steps in args.steps:
        start = time.perf_counter()
        plan(model, critic, steps)
        planner = time.perf_counter() - start
        start = time.perf_counter()
        W = critic.copy()
        for _ in range(steps):
            W = np.minimum.reduceat(cost + gamma * (model.P @ W), starts)
        bare = time.perf_counter() - start
        print(f"| {steps} | {planner:.3f} | {bare:.3f} | {planner / bare:.2f} |", flush=True)
    features = np.column_stack([rng.random(model.n_states) for _ in range(4)])
    values = rng.normal(0.0, 10.0, model.n_states)
    policy = np.asarray(model.row_groups[:-1], dtype=np.int64)  # each state's first row
    start = time.perf_counter()
    fitted = fit_critic(model, features, values, policy, "lsq")
    fit = time.perf_counter() - start
    root = np.sqrt(fitted.visits)
    Phi = np.column_stack([np.ones(model.n_states), features])
    start = time.perf_counter()
    scipy.sparse.linalg.lsqr(root[:, None] * Phi, root * values, atol=1e-12, btol=1e-12)
    lsqr = time.perf_counter() - start
    start = time.perf_counter()  # the floor of a fit that needs the training distribution: its sweeps, then lsqr
    backwards = model.P[policy].T.tocsr()
    visits = step = np.zeros(model.n_states)
    visits[model.initial] = step[model.initial] = 1.0
    visits, step = visits.copy(), step.copy()
    while float(step.sum()) > 1e-12 * (1.0 - gamma) * float(visits.sum()):
        step = gamma * (backwards @ step)
        visits += step
    root = np.sqrt(visits)
    scipy.sparse.linalg.lsqr(root[:, None] * Phi, root * values, atol=1e-12, btol=1e-12)
    floor = time.perf_counter() - start
    print(f"fit (least squares, visits included): {fit:.3f} s; bare lsqr on the weighted matrix: {lsqr:.3f} s "
          f"(ratio {fit / lsqr:.2f}); bare visits by the same sweeps + lsqr: {floor:.3f} s (ratio {fit / floor:.2f})")


if __name__ == "__main__":
    main()
