"""Benchmark: corrigo's solver against Storm and pymdptoolbox on random sparse MDPs, 10^3 to 10^6 states.

    python benchmarks/solve.py --sizes 1000 10000 100000 1000000 > table.md

Needs the ``crosscheck`` extra (stormpy, pymdptoolbox) for the baseline columns; ``--no-storm`` and
``--no-mdptoolbox`` leave them out. Prints a Markdown table (results go in ``benchmarks/README.md``).

The model: ``n`` states, 4 actions in every state, 4 successors per action. Successor ``k`` of action
``a`` is ``(s * m[a, k] + o[a, k]) mod n`` with large random multipliers (scattered memory access, like a
random graph), except that action 0's first successor is ``s + 1 mod n`` so that every state is reachable
from state 0 and Storm builds the same ``n`` states. Probabilities are random per (action, successor);
the cost of ``a`` in ``s`` is ``((s * c[a] + d[a]) mod 1000) / 1000 - 0.3`` (mixed sign). Because the
successors and costs are arithmetic in ``s``, the same model is also a four-command PRISM program, which
Storm builds in linear time; corrigo's explicit-state export (:mod:`mdp.prism`) would make Storm's build
quadratic. corrigo gets the model from vectorised numpy (``from_arrays``), as a compiler would build it.

Columns: corrigo's construction and :func:`mdp.solve` (``tol`` = the target error), Storm's parse+build
and check (sound environment, absolute precision, ``R{"cost"}min=? [ Cdiscount=γ ]``), pymdptoolbox's
``ValueIteration`` with its quadratic input checks bypassed (:mod:`baselines`), the largest difference
from corrigo at the initial state (Storm) or over all states (pymdptoolbox), and the bytes of corrigo's
model arrays per transition.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mdp.model import TabularMDP, from_arrays  # noqa: E402
from mdp.solver import solve  # noqa: E402

N_ACTIONS, N_SUCCESSORS, COST_MODULUS = 4, 4, 1000


def random_sparse(n: int, seed: int, discount: float,
                  clock: Callable[[], float] = time.process_time) -> tuple[TabularMDP, str, str, float]:
    """The model built with numpy, the same model as a PRISM program and properties, and the build seconds."""
    rng = np.random.default_rng(seed)
    multipliers = rng.integers(1_000_003, 2**31 - 1, size=(N_ACTIONS, N_SUCCESSORS))
    offsets = rng.integers(0, n, size=(N_ACTIONS, N_SUCCESSORS))
    weights = rng.integers(1, 100, size=(N_ACTIONS, N_SUCCESSORS))
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    cost_multipliers = rng.integers(1_000_003, 2**31 - 1, size=N_ACTIONS)
    cost_offsets = rng.integers(0, COST_MODULUS, size=N_ACTIONS)

    start = clock()
    s = np.arange(n, dtype=np.int64)
    matrices, costs = [], []
    for a in range(N_ACTIONS):
        columns = (s[:, None] * multipliers[a] + offsets[a]) % n  # (n, K)
        if a == 0:
            columns[:, 0] = (s + 1) % n
        data = np.broadcast_to(probabilities[a], (n, N_SUCCESSORS))
        matrices.append(sp.csr_array((data.ravel(), (np.repeat(s, N_SUCCESSORS), columns.ravel())), shape=(n, n)))
        costs.append(((s * cost_multipliers[a] + cost_offsets[a]) % COST_MODULUS) / COST_MODULUS - 0.3)
    model = from_arrays(matrices, costs, discount=discount)
    build = clock() - start

    lines = ["mdp", "", f"const int N = {n};", "", "module random_sparse", f"  s : [0..{n - 1}] init 0;"]
    for a in range(N_ACTIONS):
        updates = []
        for k in range(N_SUCCESSORS):
            target = "mod(s+1, N)" if (a, k) == (0, 0) else f"mod(s*{multipliers[a, k]}+{offsets[a, k]}, N)"
            updates.append(f"{float(probabilities[a, k])!r}:(s'={target})")
        lines.append(f"  [a{a}] true -> {' + '.join(updates)};")
    lines += ["endmodule", "", 'rewards "cost"']
    lines += [f"  [a{a}] true : mod(s*{cost_multipliers[a]}+{cost_offsets[a]}, {COST_MODULUS})/{COST_MODULUS} - 0.3;"
              for a in range(N_ACTIONS)]
    lines += ["endrewards", ""]
    program = "\n".join(lines)
    gamma = Fraction(repr(discount))
    properties = f'"cost": R{{"cost"}}min=? [ Cdiscount={gamma.numerator}/{gamma.denominator} ];\n'
    return model, program, properties, build


def model_bytes(model: TabularMDP) -> int:
    """Bytes of the arrays that make up the model (transitions, row groups, row actions, costs)."""
    P = model.P
    arrays = [P.data, P.indices, P.indptr, model.row_groups, model.row_action, model.terminal, *model.costs.values()]
    return sum(a.nbytes for a in arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--discount", type=float, default=0.95)
    parser.add_argument("--tol", type=float, default=1e-6, help="target error for every solver (default 1e-6)")
    parser.add_argument("--no-storm", action="store_true")
    parser.add_argument("--no-mdptoolbox", action="store_true")
    parser.add_argument("--explicit-sizes", type=float, nargs="*", default=[],
                        help="also time Storm on corrigo's explicit-state export (mdp.prism) of models this large")
    parser.add_argument("--wall", action="store_true",
                        help="wall-clock seconds instead of the process's CPU seconds (default: CPU, the machine is shared)")
    args = parser.parse_args(argv)

    if not args.no_storm or not args.no_mdptoolbox:
        import baselines
    header = ["states", "transitions", "corrigo build", "corrigo solve", "bound", "Storm build", "Storm check",
              "Storm - corrigo", "mdptoolbox VI", "mdptoolbox - corrigo", "bytes/transition"]
    clock = time.perf_counter if args.wall else time.process_time
    solve(random_sparse(100, args.seed, args.discount)[0], tol=args.tol)  # warm up imports and caches
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size in args.sizes:
        n = int(size)
        model, program, properties, build = random_sparse(n, args.seed, args.discount, clock)
        start = clock()
        solution = solve(model, tol=args.tol)
        solve_s = clock() - start
        ours = np.asarray(solution.V)
        row = [f"{n:.1e}", f"{model.n_transitions:.1e}", f"{build:.2f} s", f"{solve_s:.2f} s", f"{solution.bound:.1e}"]
        if args.no_storm:
            row += ["-", "-", "-"]
        else:
            storm_build, storm_check, value = baselines.storm_build_and_check(program, properties, precision=args.tol,
                                                                              clock=clock)
            row += [f"{storm_build:.2f} s", f"{storm_check:.2f} s", f"{abs(value - ours[model.initial]):.1e}"]
        if args.no_mdptoolbox:
            row += ["-", "-"]
        else:
            seconds, values = baselines.mdptoolbox_value_iteration(model, epsilon=args.tol, clock=clock)
            row += [f"{seconds:.2f} s", f"{np.abs(values - ours).max():.1e}"]
        row.append(f"{model_bytes(model) / model.n_transitions:.1f}")
        print("| " + " | ".join(row) + " |", flush=True)
        del model, solution
    if args.explicit_sizes:
        explicit_table(args, clock)
    return 0


def explicit_table(args: argparse.Namespace, clock: Callable[[], float]) -> None:
    """Storm on ``to_prism``'s one-command-per-choice program: the build is quadratic in the states."""
    import baselines

    from mdp.prism import to_prism

    print()
    header = ["states", "transitions", "to_prism", "Storm build", "Storm check", "Storm - corrigo"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size in args.explicit_sizes:
        model = random_sparse(int(size), args.seed, args.discount, clock)[0]
        start = clock()
        program, properties = to_prism(model)
        export = clock() - start
        value = solve(model, tol=args.tol).V[model.initial]
        storm_build, storm_check, storm_value = baselines.storm_build_and_check(
            program, properties, precision=args.tol, clock=clock)
        print(f"| {model.n_states:.1e} | {model.n_transitions:.1e} | {export:.2f} s | {storm_build:.2f} s | "
              f"{storm_check:.2f} s | {abs(storm_value - value):.1e} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
