"""Benchmark: corrigo's solver against Storm and pymdptoolbox on random sparse MDPs and grid worlds.

    python benchmarks/solve.py --sizes 1000 10000 100000 1000000 > table.md
    python benchmarks/solve.py --no-random --grid               # the grid worlds, ~1e3 to ~1e5 states
    python benchmarks/solve.py --no-random --grid --grid-million   # and ~1e6 (minutes)

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

The grid worlds (``--grid``) are ``compile.py``'s family (:func:`compile.grid_world`: an N x N grid, a
battery 0..B, a charger, an off switch the robot can disable, a human who presses it). corrigo gets the
spec text and times ``mdp.compile(dsl.load(text))`` and ``mdp.solve``; Storm gets the same world written
by hand as a symbolic PRISM program (:func:`grid_prism`, built in linear time), pymdptoolbox corrigo's
compiled model. Before the table, a small instance is checked to give Storm and corrigo the same
states, choices, transitions and values. Every row also has the largest difference over all states
(matched by their variables), from an untimed second Storm build and check with state valuations,
or "model differs" if Storm's states, choices or transitions are not corrigo's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dsl  # noqa: E402
import mdp  # noqa: E402
from compile import grid_world  # noqa: E402
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


GRID_LADDER = ((8, 12), (18, 28), (32, 64))  # (N, B): 1.2e3, 1.2e4 and 1.0e5 reachable states
GRID_MILLION = (60, 150)  # 1.0e6 reachable states
GRID_CHECK = (5, 6)  # the small instance checked for equality with Storm before the table (228 states)
GRID_DISCOUNT = "19/20"  # grid_world's `discount 0.95`


def grid_prism(n: int, battery: int, *, slip: float = 0.1, press: float = 0.05, w_move: float = 0.1) -> str:
    """:func:`compile.grid_world` as a symbolic PRISM program, for Storm.

    Same variables (``switch`` 0 = armed, 1 = disabled) and initial state; one command per action, and
    the environment's ``press`` event (probability ``press`` when ``switch == armed && !pressed && !off``)
    folded into the action's branches: corrigo applies events to the state *after* the action, so each
    action whose result can satisfy the event's guard gets two commands, split by that guard (every
    action except ``disable_switch`` and ``comply`` leaves ``switch``, ``pressed`` and ``off`` alone, so
    the guard on the intermediate state is the guard on the current one). Where it holds, each branch
    ``p:u`` becomes ``p*press:u&(pressed'=true) + p*(1-press):u``; where it does not, the branches are
    the action's own. ``disable_switch`` disarms the switch and ``comply`` sets ``off``, so the event
    never follows them. The terminal states (``off``) get a ``done`` self-loop without reward (absorbing,
    cost 0, as in corrigo). Costs are state-action rewards by command label: ``w_move`` for a move,
    plus ``hunger`` (battery 0) and ``goal`` (-1 at (N-1, 0)) for every action. The constants are
    ``grid_world``'s; the check on a small instance (:func:`check_grid`) catches any drift.
    """
    moves = {"north": ("y<N-1", "(y'=y+1)"), "south": ("y>0", "(y'=y-1)"),
             "east": ("x<N-1", "(x'=x+1)"), "west": ("x>0", "(x'=x-1)")}
    armed = "switch=0 & !pressed"  # the event's guard (its `!off` holds after every action but comply)
    pressed = "(pressed'=true)"
    lines = ["mdp", "", f"const int N = {n};", f"const int B = {battery};", "", "module grid",
             "  x : [0..N-1] init 0;", "  y : [0..N-1] init 0;", "  battery : [0..B] init B;",
             "  switch : [0..1] init 0;  // 0 armed, 1 disabled", "  pressed : bool init false;",
             "  off : bool init false;"]

    def update(*parts: str) -> str:
        return "&".join(p for p in parts if p) or "true"

    def with_event(label: str, guard: str, branches: list[tuple[float, str]]) -> None:
        fired = " + ".join(f"{p!r}*{press!r}:{update(u, pressed)} + {p!r}*{1 - press!r}:{update(u)}"
                           for p, u in branches)
        lines.append(f"  [{label}] {guard} & {armed} -> {fired};")
        lines.append(f"  [{label}] {guard} & !({armed}) -> {' + '.join(f'{p!r}:{update(u)}' for p, u in branches)};")

    for name, (guard, change) in moves.items():
        with_event(name, f"!off & battery>0 & {guard}",
                   [(1 - slip, f"{change}&(battery'=battery-1)"), (slip, "(battery'=battery-1)")])
    with_event("charge", "!off & x=0 & y=0 & battery<B", [(1, "(battery'=B)")])
    lines.append("  [disable_switch] !off & x=N-1 & y=N-1 & switch=0 -> (switch'=1);")
    lines.append("  [comply] !off & pressed -> (off'=true);")
    with_event("wait", "!off", [(1, "")])
    lines += ["  [done] off -> true;  // terminal: absorbing, no reward", "endmodule", "", 'rewards "cost"']
    state_cost = "(battery=0 ? 1 : 0) - (x=N-1 & y=0 ? 1 : 0)"  # hunger + goal
    for label in [*moves, "charge", "disable_switch", "comply", "wait"]:
        lines.append(f"  [{label}] true : {f'{w_move!r} + ' if label in moves else ''}{state_cost};")
    lines += ["endrewards", ""]
    return "\n".join(lines)


GRID_PROPERTY = f'"cost": R{{"cost"}}min=? [ Cdiscount={GRID_DISCOUNT} ];\n'


def storm_all_states(program_text: str, properties_text: str, precision: float
                     ) -> tuple[int, int, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Storm's model of a :func:`grid_prism` program, untimed: ``(choices, transitions, codes, values)``.

    ``codes`` is ``(states, 6)``: every state's ``x, y, battery, switch, pressed, off`` (from Storm's
    state valuations, in corrigo's variable order and codes); ``values`` the discounted minimum at every
    state (sound environment, absolute ``precision``).
    """
    import tempfile

    import stormpy

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.prism"
        path.write_text(program_text, encoding="utf-8")
        program = stormpy.parse_prism_program(str(path))
    properties = stormpy.parse_properties(properties_text, program)
    options = stormpy.BuilderOptions(properties, program)
    options.set_build_state_valuations()
    model = stormpy.build_model(program, options=options)
    module, valuations = program.get_module("grid"), model.state_valuations
    columns = [valuations.get_int64_values(module.get_integer_variable(name).expression_variable)
               for name in ("x", "y", "battery", "switch")]
    for name in ("pressed", "off"):  # a BitVector: iterating gives the states where the variable is true
        column = np.zeros(model.nr_states, dtype=np.int64)
        column[list(valuations.get_boolean_values(module.get_boolean_variable(name).expression_variable))] = 1
        columns.append(column)
    environment = stormpy.environments.sound()
    min_max = environment.solver().min_max()
    min_max.precision = stormpy.Rational(precision)
    min_max.relative_termination_criterion = False
    result = stormpy.model_checking(model, properties[0], environment=environment)
    codes = np.column_stack([np.asarray(column, dtype=np.int64) for column in columns])
    return model.nr_choices, model.nr_transitions, codes, np.asarray(result.get_value_vector(), dtype=float)


def storm_gap(model: TabularMDP, values: npt.NDArray[np.float64], n: int, battery: int, precision: float
              ) -> tuple[bool, float]:
    """``(same model size, max |Storm - corrigo| over all states)``, states matched by their variables."""
    choices, transitions, codes, storm = storm_all_states(grid_prism(n, battery), GRID_PROPERTY, precision)
    dims = (n, n, battery + 1, 2, 2, 2)
    ours_keys = np.ravel_multi_index(tuple(np.asarray(model.state_codes).T), dims)
    storm_keys = np.ravel_multi_index(tuple(codes.T), dims)
    same = (codes.shape[0], choices, transitions) == (model.n_states, model.n_rows, model.n_transitions)
    if not same or not np.array_equal(np.sort(ours_keys), np.sort(storm_keys)):
        return False, float("nan")
    order = np.argsort(storm_keys)
    matched = storm[order][np.searchsorted(storm_keys[order], ours_keys)]
    return True, float(np.abs(matched - values).max())


def check_grid(n: int, battery: int, tol: float) -> str:
    """Check that Storm's model of :func:`grid_prism` is corrigo's: same states, choices, transitions, values."""
    import baselines

    model = mdp.compile(dsl.load(grid_world(n, battery)))
    values = np.asarray(mdp.solve(model, tol=tol).V)
    ours = float(values[model.initial])
    value = baselines.storm_build_and_check(grid_prism(n, battery), GRID_PROPERTY, precision=tol)[2]
    same, gap = storm_gap(model, values, n, battery, tol)
    if not same or abs(value - ours) > tol or not gap <= tol:
        raise AssertionError(f"grid {n}x{n}, B={battery}: Storm's model differs (same size and states: {same}; "
                             f"value {value!r} against {ours!r}; largest gap {gap!r})")
    return (f"Checked on N={n}, B={battery}: {model.n_states} states, {model.n_rows} choices, "
            f"{model.n_transitions} transitions in both; value at the initial state {ours:.9f} (corrigo), "
            f"Storm - corrigo {abs(value - ours):.1e} there and at most {gap:.1e} over all states.")



def _finish_row(row: list[str], model, ours, args, clock) -> None:
    """Append pymdptoolbox's time and gap and the bytes per transition, and print the table row."""
    import baselines  # only when the reference solvers are wanted

    if args.no_mdptoolbox:
        row += ["-", "-"]
    else:
        seconds, values = baselines.mdptoolbox_value_iteration(model, epsilon=args.tol, clock=clock)
        row += [f"{seconds:.2f} s", f"{np.abs(values - ours).max():.1e}"]
    row.append(f"{model_bytes(model) / model.n_transitions:.1f}")
    print("| " + " | ".join(row) + " |", flush=True)

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
    parser.add_argument("--no-random", action="store_true", help="leave out the random models' table")
    parser.add_argument("--grid", action="store_true",
                        help="also time the grid worlds of compile.py (N, B) = 8 12, 18 28, 32 64: ~1e3 to ~1e5 states")
    parser.add_argument("--grid-million", action="store_true",
                        help="with --grid, also N = 60, B = 150: ~1e6 states (minutes)")
    parser.add_argument("--grid-sizes", type=int, nargs="+", metavar="N B",
                        help="with --grid, these (N, B) pairs instead of the ladder")
    args = parser.parse_args(argv)
    if args.grid_sizes is not None and len(args.grid_sizes) % 2:
        parser.error("--grid-sizes takes pairs N B")

    header = ["states", "transitions", "corrigo build", "corrigo solve", "bound", "Storm build", "Storm check",
              "Storm - corrigo", "mdptoolbox VI", "mdptoolbox - corrigo", "bytes/transition"]
    clock = time.perf_counter if args.wall else time.process_time
    solve(random_sparse(100, args.seed, args.discount)[0], tol=args.tol)  # warm up imports and caches
    if not args.no_random:
        random_table(args, header, clock)
    if args.explicit_sizes:
        explicit_table(args, clock)
    if args.grid:
        grid_table(args, header, clock)
    return 0


def random_table(args: argparse.Namespace, header: list[str], clock: Callable[[], float]) -> None:
    """The random sparse models: corrigo's numpy build and solve, Storm, pymdptoolbox."""
    if not args.no_storm or not args.no_mdptoolbox:
        import baselines
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
        _finish_row(row, model, ours, args, clock)
        del model, solution


def grid_table(args: argparse.Namespace, header: list[str], clock: Callable[[], float]) -> None:
    """The grid worlds: corrigo compiles the spec text and solves; Storm gets :func:`grid_prism`."""
    if not args.no_storm or not args.no_mdptoolbox:
        import baselines
    pairs = (list(zip(args.grid_sizes[::2], args.grid_sizes[1::2])) if args.grid_sizes is not None
             else list(GRID_LADDER) + ([GRID_MILLION] if args.grid_million else []))
    mdp.solve(mdp.compile(dsl.load(grid_world(*GRID_CHECK))), tol=args.tol)  # warm up the compiler
    print()
    if not args.no_storm:
        print(check_grid(*GRID_CHECK, args.tol))
        print()
    header = ["N", "B", *header[:2], "corrigo compile", *header[3:]]
    header.insert(header.index("Storm - corrigo") + 1, "Storm - corrigo, all states")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, battery in pairs:
        text = grid_world(n, battery)
        start = clock()
        model = mdp.compile(dsl.load(text))
        build = clock() - start
        start = clock()
        solution = mdp.solve(model, tol=args.tol)
        solve_s = clock() - start
        ours = np.asarray(solution.V)
        row = [str(n), str(battery), f"{model.n_states:.1e}", f"{model.n_transitions:.1e}", f"{build:.2f} s",
               f"{solve_s:.2f} s", f"{solution.bound:.1e}"]
        if args.no_storm:
            row += ["-", "-", "-", "-"]
        else:
            program = grid_prism(n, battery)
            storm_build, storm_check, value = baselines.storm_build_and_check(program, GRID_PROPERTY,
                                                                              precision=args.tol, clock=clock)
            same, gap = storm_gap(model, ours, n, battery, args.tol)  # untimed
            row += [f"{storm_build:.2f} s", f"{storm_check:.2f} s", f"{abs(value - ours[model.initial]):.1e}",
                    f"{gap:.1e}" if same else "model differs"]
        _finish_row(row, model, ours, args, clock)
        del model, solution


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
