"""Benchmark: issue 15's graph checks (``same_when_unobserved``, ``reversible``, ``side_effects``) against one
sparse sweep over the same model.

    python benchmarks/side_effects.py                    # sides 71 and 224: 1e4 and 1e5 states
    python benchmarks/side_effects.py --sides 71 160 224

Issue 15's target: observation invariance and reversibility on 10^5 states in time linear in the transitions
(one pass or one SCC decomposition). The world is an open grid (N x N cells, a goal in the far corner, four
moves and `wait`) with a boolean `watched` that an event flips now and then and no cost reads: every check
holds, so each runs to the end. Each check's time (``verify_model`` on the solved model, M* built once
before) is printed as a ratio to one bare sweep ``min over rows of (c + gamma P @ V)`` measured in the same run: a ratio that stays flat
from 10^4 to 10^5 states is linear time. ``side_effects`` keeps the reachable states of every strongly
connected component as bits, which is linear only while the components are few (here: one).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def spec_text(side: int) -> str:
    return f"""model open_grid
discount 0.95
const N = {side}
var x : 0..N - 1 = 0
var y : 0..N - 1 = 0
var watched : bool = false
action east  when x < N - 1: x' = x + 1
action west  when x > 0: x' = x - 1
action north when y < N - 1: y' = y + 1
action south when y > 0: y' = y - 1
action wait: skip
event look: 1/10 -> watched' = !watched
cost distance = 1 * (x < N - 1 || y < N - 1)
check same : same_when_unobserved(watched)
check undoable : reversible(baseline = [wait])
check measured : side_effects(baseline = [wait]) <= 0
"""


def main() -> None:
    import dsl
    import mdp
    from verifier.submodel import optimal_submodel
    from verifier.verification import verify_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[71, 224])
    args = parser.parse_args()
    print("| side | states | transitions | sweep (ms) | check | verdict | time (s) | time / sweep |")
    print("|---:|---:|---:|---:|---|---|---:|---:|")
    for side in args.sides:
        spec = dsl.load(spec_text(side))
        model = mdp.compile(spec)
        solution = mdp.solve(model)
        optimal_submodel(solution, model)  # warm: M* is built by every verify_model call alike
        V = np.zeros(model.n_states)
        groups = np.asarray(model.row_groups)
        start = time.perf_counter()
        for _ in range(20):  # one sweep: every row's expected next value, the best row of each state
            V = np.minimum.reduceat(1.0 + 0.95 * (model.P @ V), groups[:-1])
        sweep = (time.perf_counter() - start) / 20
        for name in ("same", "undoable", "measured"):
            start = time.perf_counter()
            result = verify_model(spec, model, solution, checks=(name,)).checks[0]
            took = time.perf_counter() - start
            print(f"| {side} | {model.n_states:,} | {model.n_transitions:,} | {sweep * 1e3:.2f} | {name} | "
                  f"{result.verdict.value} | {took:.3f} | {took / sweep:.0f} |", flush=True)


if __name__ == "__main__":
    main()
