"""How close is a value-iteration sweep of ``mdp.solver`` to one bare CSR matrix-vector product?

Builds random sparse MDPs (``n`` states, 4 actions, 4 successors per action, discount 0.95; vectorised
numpy, the ``TabularMDP`` constructed directly) and prints, per size: the time of one bare ``P @ v`` on
the model's ``(m, n)`` matrix, the time of one solver sweep (``c + P (gamma v)`` into a preallocated
buffer, then the minimum over actions in the action-major layout), their ratio, the number of sweeps
and policy evaluations, the total ``solve`` time, and bytes per transition (the model's CSR arrays, and
the solver's action-major copy). Run: ``python benchmarks/sweep_ratio.py [n ...]`` (default 1e5 1e6).
Figures on the shared 2-core machine are noisy: take the median of repeats and compare side by side.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mdp.model import TabularMDP  # noqa: E402
from mdp.solver import solve  # noqa: E402
from mdp.solver.iteration import SweepLayout, _csr_matvec  # noqa: E402
from mdp.solver.problem import from_model  # noqa: E402


def random_mdp(n: int, actions: int = 4, successors: int = 4, discount: float = 0.95, seed: int = 0) -> TabularMDP:
    """Every state has ``actions`` rows, each with ``successors`` uniformly random successors."""
    rng = np.random.default_rng(seed)
    m = n * actions
    cols = rng.integers(0, n, size=(m, successors), dtype=np.int32)
    cols.sort(axis=1)
    probs = rng.random((m, successors))
    probs /= probs.sum(axis=1, keepdims=True)
    P = sp.csr_array((probs.ravel(), cols.ravel(), np.arange(0, m * successors + 1, successors, dtype=np.int32)),
                     shape=(m, n))
    return TabularMDP(P=P, row_groups=np.arange(0, m + 1, actions, dtype=np.int64),
                      row_action=np.tile(np.arange(actions, dtype=np.int32), n),
                      action_names=tuple(f"a{a}" for a in range(actions)), costs={"cost": rng.random(m)},
                      discount=discount, initial=0, terminal=np.zeros(n, dtype=bool), name=f"random{n}")


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def csr_bytes(P: sp.csr_array) -> int:
    return P.data.nbytes + P.indices.nbytes + P.indptr.nbytes


def measure(n: int, repeats: int) -> None:
    start = time.perf_counter()
    model = random_mdp(n)
    build = time.perf_counter() - start
    P = model.P
    v = np.random.default_rng(1).random(n)
    bare = median_time(lambda: P @ v, repeats)
    y = np.zeros(model.n_rows)
    kernel = median_time(lambda: _csr_matvec(model.n_rows, n, P.indptr, P.indices, P.data, v, y), repeats)

    cost = np.asarray(model.cost)
    layout = SweepLayout(from_model(model, cost, 0.0, None))
    out = np.empty(n)
    sweep = median_time(lambda: layout.sweep(v, out), repeats)
    layout_bytes = csr_bytes(layout.P) + layout.c.nbytes + layout.q.nbytes
    del layout

    start = time.perf_counter()
    solution = solve(model, tol=1e-9)
    total = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    nnz = P.nnz
    print(f"n={n:.0e} states, {model.n_rows:.1e} rows, {nnz:.2e} transitions (built in {build:.2f} s)")
    print(f"  bare P @ v          {bare * 1e3:8.2f} ms")
    print(f"  bare kernel, no alloc {kernel * 1e3:6.2f} ms   (y += P v into a preallocated y)")
    print(f"  solver sweep        {sweep * 1e3:8.2f} ms   ratio {sweep / bare:.2f} to P @ v, "
          f"{sweep / kernel:.2f} to the kernel")
    print(f"  solve               {total:8.2f} s    {solution.iterations} sweeps, "
          f"{solution.policy_iterations} policy evaluations, bound {solution.bound:.2e}, "
          f"{solution.ties.size} states with ties")
    print(f"  bytes/transition    model CSR {csr_bytes(P) / nnz:.1f}, solver's sweep copy "
          f"{layout_bytes / nnz:.1f} (incl. cost and Q buffers); peak RSS {rss:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=float, default=[1e5, 1e6])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    for size in args.sizes:
        measure(int(size), args.repeats)


if __name__ == "__main__":
    main()
