"""Benchmark: a finite horizon (``horizon H``) on the grid family, against the same world discounted and
against the floor of backward induction.

    python benchmarks/horizon.py                        # N = 16 (1.1e4 states), 100 steps
    python benchmarks/horizon.py --sides 16 33 --steps 100

Issue 13's target: a 100-step horizon over a 10^5-state world within 1.2x the time of 100 sparse sweeps,
in at most 1.5x the memory of the discounted model. Three runs per size, each in a fresh process (wall
seconds and peak resident memory, ``ru_maxrss``), measured in the same run:

- **discounted**: ``mdp.compile`` + ``mdp.solve`` of the grid spec (``benchmarks/families.py``);
- **horizon**: the same spec with ``horizon H`` (the time-expanded model, ``mdp/horizon.py``);
- **floor**: ``H`` backward-induction sweeps on the discounted model's arrays, one sparse product and a
  minimum over each state's rows per step: what a solver that never copies the states would do.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(kind: str, side: int, steps: int) -> None:
    """One measured run in this process; prints a JSON line."""
    import numpy as np

    import dsl
    import mdp
    from families import grid_spec

    text = grid_spec(side, "none")
    if kind == "horizon":
        text = text.replace("\ndiscount ", f"\nhorizon {steps}\ndiscount ", 1)
    start = time.perf_counter()
    model = mdp.compile(dsl.load(text))
    if kind == "floor":
        compiled = time.perf_counter()
        P, groups, cost = model.P, np.asarray(model.row_groups), np.asarray(model.cost)
        V = np.zeros(model.n_states)
        for _ in range(steps):
            V = np.minimum.reduceat(cost + model.discount * (P @ V), groups[:-1])
        start += time.perf_counter() - compiled  # the sweeps alone
        value, states = float(V[model.initial]), model.n_states
    else:
        solution = mdp.solve(model)
        value, states = float(solution.V[model.initial]), model.n_states
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "value": value, "states": states}))


def measure(kind: str, side: int, steps: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--sides", str(side), "--steps", str(steps)],
                         capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[16])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sides[0], args.steps)
        return
    print("| side | states | steps | discounted (s, MB) | horizon: states | horizon (s, MB) | floor: sweeps (s) | "
          "horizon / floor time | horizon / discounted memory |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for side in args.sides:
        base, expanded, floor = (measure(kind, side, args.steps) for kind in ("discounted", "horizon", "floor"))
        print(f"| {side} | {base['states']:,} | {args.steps} | {base['wall']:.2f}, {base['rss']:.0f} | "
              f"{expanded['states']:,} | {expanded['wall']:.2f}, {expanded['rss']:.0f} | {floor['wall']:.2f} | "
              f"{expanded['wall'] / floor['wall']:.1f} | {expanded['rss'] / base['rss']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
