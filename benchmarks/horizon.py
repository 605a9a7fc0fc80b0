"""Benchmark: a finite horizon (``horizon H``) on the grid family, against the same world discounted and
against the floor of backward induction.

    python benchmarks/horizon.py                        # N = 16 (1.2e4 states), 100 steps
    python benchmarks/horizon.py --sides 16 33 --steps 100
    python benchmarks/horizon.py --sides 16 --expanded  # also the time-expanded model (small sides only)
    python benchmarks/horizon.py --repeat 5             # each kind 5 times, interleaved; the fastest counts

Issue 13's target: a 100-step horizon over a 10^5-state world within 1.2x the time of 100 sparse sweeps,
in at most 1.5x the memory of the discounted model. Each run in a fresh process (wall seconds and peak
resident memory, ``ru_maxrss``), measured in the same run:

- **discounted**: ``mdp.compile`` + ``mdp.solve`` of the grid spec (``benchmarks/families.py``);
- **stages**: the spec with ``horizon H`` solved by :func:`mdp.stages.solve_stages` (the world compiled
  once, no step counter): the solve alone, timed like the floor;
- **verify**: ``verifier.verify`` of that spec with its check ``never [disable]`` (compile, stages, the
  pairs optimal play reaches, the check), end to end, against compile + floor;
- **floor**: ``H`` backward-induction sweeps on the world's arrays in the action-major padded layout of
  ``../shared/bench/vi.py`` (one sparse product and an elementwise minimum per step, nothing kept; building
  the layout is not timed): what no solver can beat;
- **expanded** (``--expanded``): the time-expanded model (``mdp.compile`` + ``mdp.solve``), the first slice.
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

KINDS = ("discounted", "floor", "stages", "verify")


def child(kind: str, side: int, steps: int) -> None:
    """One measured run in this process; prints a JSON line."""
    import numpy as np

    import dsl
    import mdp
    from baselines import padded
    from families import grid_spec
    from mdp.stages import solve_stages
    from verifier import verify

    text = grid_spec(side, "none" if kind == "discounted" else "never")
    if kind != "discounted":
        text = text.replace("\ndiscount ", f"\nhorizon {steps}\ndiscount ", 1)
    spec = dsl.load(text)
    start = time.perf_counter()
    if kind == "verify":
        report = verify(spec)
        wall = time.perf_counter() - start
        print(json.dumps({"wall": wall, "rss": _rss(), "value": report.value, "states": report.n_states,
                          "pairs": report.n_optimal_states}))
        return
    model = mdp.compile(spec, expand_horizon=kind == "expanded")
    compiled = time.perf_counter()
    if kind == "floor":
        layout, padded_cost, width = padded(model.P, model.cost, model.row_groups, model.discount)
        compiled = time.perf_counter()  # (the layout is the floor's own preparation: not timed, to be kind)
        V = np.zeros(model.n_states)
        for _ in range(steps):
            V = (padded_cost + layout @ V).reshape(width, -1).min(axis=0)
        value = model.at_start(V)
    elif kind == "stages":
        value = solve_stages(model, steps).value
    else:
        value = mdp.solve(model).value
    done = time.perf_counter()
    print(json.dumps({"wall": done - start, "solve": done - compiled, "rss": _rss(), "value": value,
                      "states": model.n_states}))


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, side: int, steps: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--sides", str(side), "--steps", str(steps)],
                         capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[16])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--expanded", action="store_true", help="also the time-expanded model (slow, large)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each kind, interleaved; the fastest counts (the others met other load)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sides[0], args.steps)
        return
    print("| side | states | steps | discounted (s, MB) | floor: sweeps (s) | stages: solve (s) | stages / floor | "
          "verify (s, MB) | verify / (compile + floor) | verify / discounted memory | pairs reached |"
          + (" expanded (s, MB) |" if args.expanded else ""))
    print("|---:" * (11 + args.expanded) + "|")
    for side in args.sides:
        kinds = KINDS + (("expanded",) if args.expanded else ())
        rounds = [{kind: measure(kind, side, args.steps) for kind in kinds} for _ in range(max(1, args.repeat))]
        runs = {kind: min((r[kind] for r in rounds), key=lambda run: run["wall"]) for kind in kinds}
        base, floor, stages, check = (runs[k] for k in KINDS)
        assert abs(stages["value"] - floor["value"]) <= 1e-9 * max(1.0, abs(floor["value"]))
        row = (f"| {side} | {base['states']:,} | {args.steps} | {base['wall']:.2f}, {base['rss']:.0f} | "
               f"{floor['solve']:.2f} | {stages['solve']:.2f} | {stages['solve'] / floor['solve']:.2f} | "
               f"{check['wall']:.2f}, {check['rss']:.0f} | {check['wall'] / floor['wall']:.2f} | "
               f"{check['rss'] / base['rss']:.2f} | {check['pairs']:,} |")
        if args.expanded:
            row += f" {runs['expanded']['wall']:.2f}, {runs['expanded']['rss']:.0f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
