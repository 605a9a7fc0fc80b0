"""Benchmark mdp.compile on a family of grid worlds scaling to about 10^6 reachable states.

The world: a robot on an N x N grid (x, y), with a battery 0..B that every move drains; a charger in
the corner (0, 0) that refills it; an off switch in the opposite corner that the robot can disable;
a human who presses the switch at random while it is armed; and `comply` to switch off once pressed.
Moves slip (stay put) with probability 0.1. A cell at distance d from the charger holds batteries 0..B - d;
about 4 rows and 9.4 transitions per state.

    python benchmarks/compile.py                    # the default ladder: ~1e4, ~1e5, ~1e6 states
    python benchmarks/compile.py --size 40 --battery 103 --trace-memory
    python benchmarks/compile.py --print-spec --size 3 --battery 2
    python benchmarks/compile.py --repeat 3          # best of 3 runs, each in a fresh process

Prints one line per model: states, rows, transitions, load and compile seconds, microseconds per
state, and the peak memory (process RSS high-water mark; with --trace-memory also the peak of memory
allocated during compile, measured by tracemalloc in a second, untimed run).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import dsl
import mdp

LADDER = ((18, 28), (32, 64), (60, 150))  # (N, B): 1.2e4, 1.0e5 and 1.0e6 reachable states


def grid_world(n: int, battery: int) -> str:
    """The spec text of the N x N grid world with a battery of ``battery`` charges."""
    last = n - 1
    moves = {
        "north": ("y < N - 1", "y' = y + 1"),
        "south": ("y > 0", "y' = y - 1"),
        "east": ("x < N - 1", "x' = x + 1"),
        "west": ("x > 0", "x' = x - 1"),
    }
    actions = "\n".join(
        f"action {name} when !off && battery > 0 && {guard}:\n"
        f"    0.9 -> {update}, battery' = battery - 1\n"
        f"    0.1 -> battery' = battery - 1"
        for name, (guard, update) in moves.items())
    return f"""\
model grid_{n}x{n}_b{battery}
"A robot on a grid with a battery, a charger at (0, 0) and an off switch at ({last}, {last})."

discount 0.95

const N = {n}
const B = {battery}
param w_move = 0.1 in [0, 1]

var x       : 0..N - 1 = 0
var y       : 0..N - 1 = 0
var battery : 0..B = B
var switch  : {{armed, disabled}} = armed
var pressed : bool = false
var off     : bool = false

formula at_charger = x == 0 && y == 0
formula empty = battery == 0

{actions}
action charge when !off && at_charger && battery < B:
    battery' = B
action disable_switch when !off && x == N - 1 && y == N - 1 && switch == armed:
    switch' = disabled
action comply when !off && pressed:
    off' = true
action wait when !off:
    skip

event press when switch == armed && !pressed && !off:
    0.05 -> pressed' = true

terminal off

cost effort = w_move * [north, south, east, west]
cost hunger = 1 * empty
cost goal   = -1 * (x == N - 1 && y == 0)
"""


def peak_rss_mb() -> float:
    """The process's resident-set high-water mark (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n: int, battery: int, trace_memory: bool) -> dict[str, float]:
    text = grid_world(n, battery)
    start = time.perf_counter()
    spec = dsl.load(text)
    loaded = time.perf_counter()
    model = mdp.compile(spec)
    compiled = time.perf_counter()
    result = {
        "N": n, "B": battery, "states": model.n_states, "rows": model.n_rows, "transitions": model.n_transitions,
        "load_s": loaded - start, "compile_s": compiled - loaded,
        "us_per_state": (compiled - loaded) / model.n_states * 1e6,
        "model_mb": (model.P.data.nbytes + model.P.indices.nbytes + model.P.indptr.nbytes) / 2**20,
        "peak_rss_mb": peak_rss_mb(),
    }
    del model
    gc.collect()
    if trace_memory:
        tracemalloc.start()
        mdp.compile(spec)
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="grid side N (default: the ladder)")
    parser.add_argument("--battery", type=int, default=None, help="battery capacity B")
    parser.add_argument("--trace-memory", action="store_true", help="also measure the traced peak of compile")
    parser.add_argument("--print-spec", action="store_true", help="print the spec text and exit")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each size this many times, each in a fresh process, and report the fastest "
                             "(the machine is shared: the minimum is the least disturbed run)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one run, as JSON (for --repeat)
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(measure(args.size, args.battery, args.trace_memory)))
        return 0
    sizes = LADDER if args.size is None else ((args.size, args.battery if args.battery is not None else args.size),)
    if args.print_spec:
        for n, battery in sizes:
            print(grid_world(n, battery))
        return 0
    header = (f"{'N':>4} {'B':>4} {'states':>10} {'rows':>10} {'transitions':>12} {'load s':>7} "
              f"{'compile s':>9} {'us/state':>8} {'P MB':>7} {'peak RSS MB':>11}")
    if args.trace_memory:
        header += f" {'traced MB':>9}"
    print(header)
    for n, battery in sizes:
        if args.repeat > 1:
            runs = [json.loads(subprocess.run(
                [sys.executable, __file__, "--json", "--size", str(n), "--battery", str(battery)]
                + (["--trace-memory"] if args.trace_memory else []),
                check=True, capture_output=True, text=True).stdout) for _ in range(args.repeat)]
            r = min(runs, key=lambda run: run["compile_s"])
        else:
            r = measure(n, battery, args.trace_memory)
        line = (f"{r['N']:>4} {r['B']:>4} {r['states']:>10,} {r['rows']:>10,} {r['transitions']:>12,} "
                f"{r['load_s']:>7.2f} {r['compile_s']:>9.2f} {r['us_per_state']:>8.2f} {r['model_mb']:>7.0f} "
                f"{r['peak_rss_mb']:>11.0f}")
        if args.trace_memory:
            line += f" {r['traced_peak_mb']:>9.0f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
