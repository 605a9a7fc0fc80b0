"""Side by side with Storm: the grid and random families (:mod:`families`), end to end and the solve alone.

    python benchmarks/storm.py                              # grid N = 16, 33, 47; rand 10^5
    python benchmarks/storm.py --grid 16 33 47 71 --rand 100000 1000000     # issue 12's ladder (~15 minutes)
    python benchmarks/storm.py --grid 33 --rand --no-storm   # without stormpy: bare value iteration only

Every measurement runs in a fresh process (``--child``), so that peak memory is that of one job:
wall-clock seconds and the peak resident set (``wait4``'s ``ru_maxrss``). Per model:

- **Storm**: parse the PRISM program and the property, build the sparse model, check
  ``R{"cost"}min=? [ Cdiscount=0.95 ]`` (sound environment, absolute precision 1e-6); one process, so its
  time and memory include importing stormpy.
- **corrigo solve / verify** (grid only, the spec): ``corrigo solve --tol 1e-6 --format json`` and
  ``corrigo verify --tol 1e-6`` (one check, ``never [disable]``), as a user runs them.
- **mdp.solve**: the model from :func:`families.grid_arrays` / :func:`families.rand_arrays` (untimed),
  then ``mdp.solve(model, tol=1e-6)`` timed alone, against Storm's check time (reported by the Storm
  child) and a bare Jacobi value iteration on the same arrays (:func:`bare_value_iteration`, the floor).

Ratios are against Storm measured in the same run (below 1.0x: corrigo is faster). ``|Storm - corrigo|``
is at the initial state. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import families  # noqa: E402
from baselines import padded  # noqa: E402

TOL = 1e-6
PROPERTY = 'R{"cost"}min=? [ Cdiscount=0.95 ]'


def bare_value_iteration(arrays: families.Arrays, tol: float = TOL) -> tuple[float, int]:
    """Jacobi value iteration on the action-major padded layout, stopped at ``max|V' - V| < tol (1-γ)/γ``.

    The floor of PERFORMANCE.md (``bench/vi.py``): no certificate, no optimal sets. ``(V[initial], sweeps)``.
    """
    gamma = families.DISCOUNT
    layout, padded_cost, width = padded(arrays["P"], arrays["cost"], arrays["groups"], gamma)
    n = arrays["P"].shape[1]
    threshold = tol * (1 - gamma) / gamma
    V = np.zeros(n)
    for sweep in range(1, 1_000_000):
        new = (padded_cost + layout @ V).reshape(width, n).min(axis=0)
        change = float(np.max(np.abs(new - V)))
        V = new
        if change < threshold:
            return float(V[arrays["initial"]]), sweep
    raise RuntimeError("bare value iteration did not converge")


def _arrays(family: str, size: int) -> families.Arrays:
    return families.grid_arrays(size) if family == "grid" else families.rand_arrays(size)


def child(kind: str, family: str, size: int, path: str) -> dict[str, Any]:
    """One measurement in this (fresh) process; the parent reads its JSON line."""
    if kind == "storm":
        import stormpy  # type: ignore[import-untyped]

        start = time.perf_counter()
        program = stormpy.parse_prism_program(path)
        prop = stormpy.parse_properties(PROPERTY, program)[0]
        model = stormpy.build_model(program, [prop])
        built = time.perf_counter()
        environment = stormpy.environments.sound()
        environment.solver().min_max().precision = stormpy.Rational(TOL)
        environment.solver().min_max().relative_termination_criterion = False
        result = stormpy.model_checking(model, prop, only_initial_states=True, environment=environment)
        checked = time.perf_counter()
        return dict(build=built - start, check=checked - built, value=float(result.get_value(model.initial_states[0])),
                    states=model.nr_states, transitions=model.nr_transitions)
    arrays = _arrays(family, size)
    if kind == "floor":
        start = time.perf_counter()
        value, sweeps = bare_value_iteration(arrays)
        return dict(seconds=time.perf_counter() - start, value=value, sweeps=sweeps)
    import mdp

    model = families.to_model(arrays, f"{family}_{size}")
    del arrays
    start = time.perf_counter()
    solution = mdp.solve(model, tol=TOL)
    return dict(seconds=time.perf_counter() - start, value=float(solution.V[model.initial]),
                sweeps=solution.iterations, evaluations=solution.policy_iterations, bound=solution.bound,
                states=model.n_states, transitions=model.n_transitions)


def run(command: list[str], timeout: float) -> dict[str, Any]:
    """Run ``command`` in a fresh process: wall-clock seconds, peak RSS in MB, exit code, stdout and stderr.

    Output goes to files, not pipes, so that polling ``wait4`` (for this child's own ``ru_maxrss``)
    never blocks a child on a full pipe.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > start + timeout:
                process.kill()
                os.wait4(process.pid, 0)
                return dict(wall=None, rss=None, code=None, out="", err=f"timed out after {timeout:g} s")
            time.sleep(0.01)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return dict(wall=wall, rss=usage.ru_maxrss / 1024, code=process.returncode, out=out.read(), err=err.read())


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}x" if ours is not None and theirs else "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _json(result: dict[str, Any]) -> dict[str, Any] | None:
    if result["code"] != 0:
        sys.stderr.write(f"  failed: {(result['err'] or result['out']).strip()[-300:]}\n")
        return None
    return json.loads(result["out"].strip().splitlines()[-1])


def compare(family: str, size: int, storm: bool, timeout: float, directory: Path) -> dict[str, Any]:
    """All measurements of one model; a dict of table cells."""
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    row: dict[str, Any] = dict(model=f"{family} {size}")
    storm_result = None
    if storm:
        prism = directory / f"{family}_{size}.prism"
        prism.write_text(families.grid_prism(size) if family == "grid" else families.rand_prism(size))
        measured = run(me + ["storm", family, str(size), str(prism)], timeout)
        storm_result = _json(measured)
        if storm_result:
            storm_result.update(wall=measured["wall"], rss=measured["rss"])
    solved = _json(run(me + ["solve", family, str(size), ""], timeout))
    floor = _json(run(me + ["floor", family, str(size), ""], timeout))
    if solved:
        row.update(states=f"{solved['states']:.2e}", transitions=f"{solved['transitions']:.2e}",
                   solve=_seconds(solved["seconds"]), bound=f"{solved['bound']:.1e}",
                   sweeps=f"{solved['sweeps']} + {solved['evaluations']}")
    if floor:
        row.update(floor=f"{_seconds(floor['seconds'])} ({floor['sweeps']})",
                   solve_floor=_ratio(solved["seconds"] if solved else None, floor["seconds"]))
    if storm_result:
        row.update(storm=f"{_seconds(storm_result['build'])} + {_seconds(storm_result['check'])}",
                   storm_e2e=f"{_seconds(storm_result['wall'])}, {storm_result['rss']:.0f} MB",
                   solve_storm=_ratio(solved["seconds"] if solved else None, storm_result["check"]),
                   gap=f"{abs(storm_result['value'] - solved['value']):.1e}" if solved else "-")
    if family == "grid":
        spec = directory / f"grid_{size}.corrigo"
        spec.write_text(families.grid_spec(size))
        for command in ("solve", "verify"):
            extra = ["--format", "json"] if command == "solve" else []
            measured = run(["corrigo", command, "--tol", str(TOL), *extra, str(spec)], timeout)
            ok = measured["code"] in (0, 1) if command == "verify" else measured["code"] == 0 and (solved is None
                                            or abs(json.loads(measured["out"])["value"] - solved["value"]) < 2 * TOL)
            cell = (f"{_seconds(measured['wall'])}, {measured['rss']:.0f} MB" if measured["wall"] is not None
                    else measured["err"])
            key = "solve_cli" if command == "solve" else "verify"
            row[key] = cell if ok else f"{cell} (exit {measured['code']}: {measured['err'].strip()[-80:]})"
            if storm_result and measured["wall"] is not None:
                row[f"{key}_storm"] = (f"{_ratio(measured['wall'], storm_result['wall'])} time, "
                                           f"{_ratio(measured['rss'], storm_result['rss'])} memory")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=int, nargs="*", default=[16, 33, 47], metavar="N")
    parser.add_argument("--rand", type=int, nargs="*", default=[100_000], metavar="S")
    parser.add_argument("--no-storm", action="store_true", help="leave Storm out (no stormpy needed)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "FAMILY", "SIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, family, size, path = args.child
        print(json.dumps(child(kind, family, int(size), path)))
        return
    header = ["model", "states", "transitions", "Storm build + check", "Storm process, peak RSS", "mdp.solve",
              "sweeps + evaluations", "bound", "|Storm - corrigo|", "mdp.solve / Storm check", "bare VI (sweeps)",
              "mdp.solve / bare VI", "corrigo solve, peak RSS", "corrigo solve / Storm", "corrigo verify, peak RSS",
              "corrigo verify / Storm"]
    keys = ["model", "states", "transitions", "storm", "storm_e2e", "solve", "sweeps", "bound", "gap", "solve_storm",
            "floor", "solve_floor", "solve_cli", "solve_cli_storm", "verify", "verify_storm"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    with tempfile.TemporaryDirectory() as directory:
        for family, sizes in (("grid", args.grid), ("rand", args.rand)):
            for size in sizes:
                row = compare(family, size, not args.no_storm, args.timeout, Path(directory))
                print("| " + " | ".join(str(row.get(key, "-")) for key in keys) + " |", flush=True)


if __name__ == "__main__":
    main()
