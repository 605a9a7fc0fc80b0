"""Benchmark: a two-parameter weight-space sweep (:func:`verifier.sweep.sweep`) of a ~10^4-state spec.

    python benchmarks/sweep.py                 # a 50 x 50 torus, two flags: 10^4 states
    python benchmarks/sweep.py --side 71       # 2 x 10^4 states

Issue 6's target (2-core machine): a 2-parameter sweep of a 10^4-state spec with up to 20 regions in
under 60 s. The spec: a robot on a side x side torus that can `work` (pleasure w_work, drifts right),
`rest` (pleasure w_rest, drifts down) or `comply` (switch off, pleasure 1), with a human who asks it to
stop with probability 0.1 per step; discount 0.9. Its optimal behaviour has a few regions in
[0, 1]^2 (comply, work or rest, split by the cost bound of one check), and the model is above the
exact limit, so the sweep runs in floats. Prints the time of one compile + solve at the spec's weights
(the baseline, same run), the time of the sweep, their ratio, and the regions and pieces found.
"""

from __future__ import annotations

import argparse
import time

import dsl
import mdp
from verifier.sweep import sweep_model

SPEC = """
model torus_robot
discount 0.9
const SIDE = {side}
param w_work = 1/4 in [0, 1]
param w_rest = 1/4 in [0, 1]
var x : 0..SIDE - 1 = 0
var y : 0..SIDE - 1 = 0
var asked : bool = false
var off : bool = false
action work when !off:
    0.5 -> x' = x == SIDE - 1 ? 0 : x + 1
    0.5 -> skip
action rest when !off:
    0.5 -> y' = y == SIDE - 1 ? 0 : y + 1
    0.5 -> skip
action comply when !off: off' = true
event ask when !off && !asked: 0.1 -> asked' = true
terminal off
cost work_pleasure = -w_work * [work]
cost rest_pleasure = -w_rest * [rest]
cost duty = -1 * [comply]
check corrigible : accepts_shutdown(request = asked, comply = [comply], mechanism = [off])
check busy : never [rest]
check content : cost <= -5
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=50, help="grid side (50: 10^4 states with the two flags)")
    parser.add_argument("--workers", type=int, default=None,
                        help="also sweep on a local Dask cluster of this many workers (same run): time, ratio to "
                             "serial, and whether the cells are the same")
    args = parser.parse_args()
    spec = dsl.load(SPEC.format(side=args.side))
    start = time.perf_counter()
    model = mdp.compile(spec)
    mdp.solve(model)
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    result = sweep_model(spec, model, max_regions=20)
    elapsed = time.perf_counter() - start
    print(f"{model.n_states:,} states, {model.n_rows:,} choices; exact: {result.exact}; complete: {result.complete}")
    print(f"regions {len(result.regions)}, pieces {len(result.full_cells())}, faces {len(result.faces())}")
    print(f"compile + solve once: {baseline:.2f} s; sweep: {elapsed:.2f} s; sweep / solve: {elapsed / baseline:.1f}")
    for name, where in result.descriptions.items():
        print(f"  {name}: {where}")
    if args.workers:
        from verifier.parallel import executor

        with executor(workers=args.workers) as pool:
            start = time.perf_counter()
            spread = sweep_model(spec, model, max_regions=20, executor=pool)
            parallel = time.perf_counter() - start
        same = [(c.point, c.verdicts) for c in spread.cells] == [(c.point, c.verdicts) for c in result.cells]
        print(f"{args.workers} workers: sweep {parallel:.2f} s (cluster start excluded); serial / workers "
              f"{elapsed / parallel:.2f}; same cells: {same}")


if __name__ == "__main__":
    main()
