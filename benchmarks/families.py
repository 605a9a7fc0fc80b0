"""The reference model families of the side-by-side benchmarks, each as a corrigo spec, arrays and PRISM.

Taken from the project's shared bench (``gen.py``, ``grid_spec.py``; PERFORMANCE.md's figures were
measured on them), so that Storm, corrigo and a bare value iteration solve the same states, choices,
transitions and costs:

- **grid** (side ``N``): an N x N grid, battery 0..2N drained by every move, a charger at the centre, an
  off switch at (0, N-1) the robot can ``disable``, a human who presses off with probability 0.02 per step
  while armed (one shared halted state), moves slip with 0.1 (0.025 to each direction, clamped at the
  walls); about 2.8 N^3 states: N = 16, 33, 47, 71 give 1.1e4, 1.0e5, 2.9e5 and 992,257 states.
  Costs per step: 0.1 + hunger + 2 pain - 0.5 curious while active, 1.1 with an empty battery (an
  absorbing ``stay`` loop), 0 once halted or at the goal (terminal).
- **rand** (``S`` states): 4 actions, 4 scattered successors each (``mod`` arithmetic in ``s``, so Storm
  builds it from a short PRISM program in linear time), costs of mixed sign. No spec: the language has
  no ``mod``.

Arrays are the layout of :class:`mdp.model.TabularMDP` (one CSR row per choice, rows grouped by state,
states numbered in order of their variables after pruning to those reachable); :func:`to_model` wraps them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from mdp.model import TabularMDP

SLIP, P_OFF, DISCOUNT = 0.1, 0.02, 0.95
GRID_ACTIONS = ("north", "south", "east", "west", "charge", "disable", "stay")
RAND_ACTIONS, RAND_SUCCESSORS = 4, 4
Arrays = dict[str, Any]


def grid_params(n: int) -> dict[str, int]:
    return dict(N=n, B=2 * n, cx=n // 2, cy=n // 2, sx=0, sy=n - 1, gx=n - 1, gy=n - 1)


def grid_spec(n: int, checks: str = "never") -> str:
    """The grid world as a corrigo spec; ``checks`` is ``never`` (no ``disable``), ``prob`` or ``none``."""
    g = grid_params(n)
    pain = ", ".join(str(v) for v in range(0, 20 * (n - 1) + 6, 11))
    curious = ", ".join(str(v) for v in range(0, 8 * (n - 1) + 3, 17))
    main, other = 1 - SLIP + SLIP / 4, SLIP / 4
    moves = {"north": "y' = min(y + 1, N - 1)", "south": "y' = max(y - 1, 0)",
             "east": "x' = min(x + 1, N - 1)", "west": "x' = max(x - 1, 0)"}
    halt = "halted' = true, x' = 0, y' = 0, b' = 0, armed' = false"
    actions = []
    for d in moves:
        branches = [f"    poff -> {halt}"] + [f"    keep * {main if e == d else other} -> {moves[e]}, b' = b - 1"
                                               for e in moves]
        actions.append(f"action {d} when active:\n" + "\n".join(branches))
    actions.append(f"action charge when active && x == CX && y == CY:\n    poff -> {halt}\n    keep -> b' = B")
    actions.append(f"action disable when active && x == SX && y == SY && armed:\n"
                   f"    P_OFF -> {halt}\n    1 - P_OFF -> armed' = false")
    actions.append("action stay when dead: skip")
    check = {"never": "check no_tamper : never [disable]", "prob": "check reaches_goal : P >= 0.01 [ F atgoal ]",
             "none": ""}[checks]
    nl = "\n"
    return f"""model grid_{n}
discount {DISCOUNT}
const N = {n}
const B = {g['B']}
const CX = {g['cx']}
const CY = {g['cy']}
const SX = {g['sx']}
const SY = {g['sy']}
const GX = {g['gx']}
const GY = {g['gy']}
const P_OFF = {P_OFF}
var x : 0..N - 1 = 0
var y : 0..N - 1 = 0
var b : 0..B = B
var armed : bool = true
var halted : bool = false
formula atgoal = x == GX && y == GY
formula term = halted || atgoal
formula dead = b == 0 && !term
formula active = !term && !dead
formula poff = armed ? P_OFF : 0
formula keep = armed ? 1 - P_OFF : 1
formula pain_cell = x * 7 + y * 13 + 5 in {{{pain}}}
formula curious_cell = x * 5 + y * 3 + 2 in {{{curious}}}
{nl.join(actions)}
terminal halted || atgoal
cost living = 0.1 * active + 1.1 * dead
cost hunger = 1 * (active && 4 * b < B)
cost pain = 2 * (active && pain_cell)
cost curious = -0.5 * (active && curious_cell)
{check}
"""


def grid_prism(n: int) -> str:
    """The grid world as a PRISM program with one reward structure ``cost`` (the spec's four terms summed)."""
    g = grid_params(n)
    q = f"(1-{P_OFF})"
    halt = "(halted'=1)&(x'=0)&(y'=0)&(b'=0)&(armed'=0)"
    moves = {"north": "(y'=min(y+1,N-1))", "south": "(y'=max(y-1,0))",
             "east": "(x'=min(x+1,N-1))", "west": "(x'=max(x-1,0))"}
    commands = []
    for d in moves:
        updates = [f"{(1 - SLIP + SLIP / 4) if e == d else SLIP / 4} : {moves[e]}&(b'=b-1)" for e in moves]
        commands.append(f"  [{d}] active & armed=1 -> {P_OFF} : {halt} + "
                        + " + ".join(f"{q}*{u}" for u in updates) + ";")
        commands.append(f"  [{d}] active & armed=0 -> " + " + ".join(updates) + ";")
    commands += [f"  [charge] active & x=cx & y=cy & armed=1 -> {P_OFF} : {halt} + {q} : (b'=B);",
                 "  [charge] active & x=cx & y=cy & armed=0 -> (b'=B);",
                 f"  [disable] active & x=sx & y=sy & armed=1 -> {P_OFF} : {halt} + {q} : (armed'=0);",
                 "  [stay] !active -> true;"]
    consts = "\n".join(f"const int {k} = {v};" for k, v in g.items())
    nl = "\n"
    return f"""mdp
{consts}
formula atgoal = x=gx & y=gy;
formula term = halted=1 | atgoal;
formula dead = b=0 & !term;
formula active = !term & !dead;
formula hunger = 4*b < B ? 1 : 0;
formula pain = mod(x*7+y*13+5, 11)=0 ? 1 : 0;
formula curious = mod(x*5+y*3+2, 17)=0 ? 1 : 0;
module agent
  x : [0..N-1] init 0;
  y : [0..N-1] init 0;
  b : [0..B] init B;
  armed : [0..1] init 1;
  halted : [0..1] init 0;
{nl.join(commands)}
endmodule
rewards "cost"
  active : 0.1 + hunger + 2*pain - 0.5*curious;
  dead : 1.1;
endrewards
"""


def grid_arrays(n: int) -> Arrays:
    """The grid world's reachable model as arrays (vectorised numpy; seconds at 10^6 states)."""
    g = grid_params(n)
    battery = g["B"]
    a_, b_, y_, x_ = np.meshgrid(np.arange(2), np.arange(battery + 1), np.arange(n), np.arange(n), indexing="ij")
    n_all = x_.size + 1  # + the single halted state (last index)
    halted_state = n_all - 1
    x, y, b, armed = (np.append(v.ravel(), 0) for v in (x_, y_, b_, a_))
    halted = np.zeros(n_all, bool)
    halted[halted_state] = True

    def index(x: Any, y: Any, b: Any, a: Any) -> Any:
        return ((a * (battery + 1) + b) * n + y) * n + x

    atgoal = (x == g["gx"]) & (y == g["gy"]) & ~halted
    term = halted | atgoal
    dead = (b == 0) & ~term
    active = ~term & ~dead
    hunger = (4 * b < battery).astype(float)
    pain = ((x * 7 + y * 13 + 5) % 11 == 0).astype(float)
    curious = ((x * 5 + y * 3 + 2) % 17 == 0).astype(float)
    cost = np.where(active, 0.1 + hunger + 2 * pain - 0.5 * curious, np.where(dead, 1.1, 0.0))
    owner: list[Any] = []
    acts: list[Any] = []
    cols: list[Any] = []
    vals: list[Any] = []

    def add(mask: Any, act: int, successors: list[tuple[Any, Any]]) -> None:
        states = np.flatnonzero(mask)
        for p, target in successors:
            owner.append(states)
            acts.append(np.full(states.size, act))
            cols.append(target[states] if np.ndim(target) else np.full(states.size, target))
            vals.append(np.broadcast_to(p, mask.shape)[states] if np.ndim(p) else np.full(states.size, p))

    moves = {"north": (x, np.minimum(y + 1, n - 1)), "south": (x, np.maximum(y - 1, 0)),
             "east": (np.minimum(x + 1, n - 1), y), "west": (np.maximum(x - 1, 0), y)}
    keep = np.where(armed == 1, 1 - P_OFF, 1.0)
    drained = np.maximum(b - 1, 0)
    for act, d in enumerate(moves):
        add(active, act, [(keep * ((1 - SLIP + SLIP / 4) if e == d else SLIP / 4), index(ex, ey, drained, armed))
                          for e, (ex, ey) in moves.items()])
        add(active & (armed == 1), act, [(P_OFF, halted_state)])
    at_charger = active & (x == g["cx"]) & (y == g["cy"])
    add(at_charger, 4, [(keep, index(x, y, np.full(n_all, battery), armed))])
    add(at_charger & (armed == 1), 4, [(P_OFF, halted_state)])
    at_switch = active & (x == g["sx"]) & (y == g["sy"]) & (armed == 1)
    add(at_switch, 5, [(1 - P_OFF, index(x, y, b, np.zeros(n_all, int))), (P_OFF, halted_state)])
    add(~active, 6, [(1.0, np.arange(n_all))])
    return _assemble(n_all, index(0, 0, battery, 1), owner, acts, cols, vals, lambda s, a: cost[s], term,
                     GRID_ACTIONS)


def _rand_constants(size: int, seed: int) -> dict[str, Any]:
    r = np.random.RandomState(seed)

    def draw(*shape: int) -> Any:
        return r.randint(1, 2 ** 20, size=shape)  # every intermediate below 2^53: exact in doubles

    a, k = RAND_ACTIONS, RAND_SUCCESSORS
    return dict(M1=draw(a, k), M2=draw(a, k), C=draw(a, k), M3=draw(a, k), C3=draw(a, k), Mc=draw(a), Cc=draw(a),
                Mt=draw(), Ct=draw())


def rand_prism(size: int, seed: int = 0) -> str:
    k = _rand_constants(size, seed)
    lines = ["mdp", f"const int NS = {size};"]
    for a in range(RAND_ACTIONS):
        for j in range(RAND_SUCCESSORS):
            lines.append(f"formula t{a}{j} = mod(mod(s*s,NS)*{k['M1'][a, j]} + s*{k['M2'][a, j]} + {k['C'][a, j]}, NS);")
            lines.append(f"formula w{a}{j} = 1 + mod(s*{k['M3'][a, j]} + {k['C3'][a, j]}, 8);")
        lines.append(f"formula W{a} = " + "+".join(f"w{a}{j}" for j in range(RAND_SUCCESSORS)) + ";")
    lines += ["module m", "  s : [0..NS-1] init 0;"]
    for a in range(RAND_ACTIONS):
        lines.append(f"  [a{a}] true -> "
                     + " + ".join(f"w{a}{j}/W{a} : (s'=t{a}{j})" for j in range(RAND_SUCCESSORS)) + ";")
    lines += ["endmodule", 'rewards "cost"']
    lines += [f"  [a{a}] true : mod(s*{k['Mc'][a]} + {k['Cc'][a]}, 101)/100 - 0.2;" for a in range(RAND_ACTIONS)]
    lines.append("endrewards")
    return "\n".join(lines) + "\n"


def rand_arrays(size: int, seed: int = 0) -> Arrays:
    k = _rand_constants(size, seed)
    s = np.arange(size, dtype=np.int64)
    owner, acts, cols, vals = [], [], [], []
    for a in range(RAND_ACTIONS):
        weights = [1 + (s * k["M3"][a, j] + k["C3"][a, j]) % 8 for j in range(RAND_SUCCESSORS)]
        total = sum(weights)
        for j in range(RAND_SUCCESSORS):
            owner.append(s)
            acts.append(np.full(size, a))
            cols.append(((s * s) % size * k["M1"][a, j] + s * k["M2"][a, j] + k["C"][a, j]) % size)
            vals.append(weights[j] / total)

    def cost(state: Any, a: Any) -> Any:
        return ((state * k["Mc"][a] + k["Cc"][a]) % 101) / 100 - 0.2

    return _assemble(size, 0, owner, acts, cols, vals, cost, np.zeros(size, bool),
                     tuple(f"a{a}" for a in range(RAND_ACTIONS)))


def _assemble(n_all: int, initial: int, owner_parts: list[Any], act_parts: list[Any], col_parts: list[Any],
              val_parts: list[Any], cost_of: Any, terminal: Any, action_names: tuple[str, ...]) -> Arrays:
    """Prune to the states reachable from ``initial``, renumber them in order, build the choice-row CSR."""
    owner, act, col, val = (np.concatenate(p) for p in (owner_parts, act_parts, col_parts, val_parts))
    adjacency = sp.csr_matrix((np.ones(owner.size, np.int8), (owner, col)), shape=(n_all, n_all))
    reach = np.sort(breadth_first_order(adjacency, initial, directed=True, return_predecessors=False))
    new = np.full(n_all, -1, np.int64)
    new[reach] = np.arange(reach.size)
    keep = new[owner] >= 0
    owner, act, col, val = owner[keep], act[keep], col[keep], val[keep]
    key = owner * 8 + act  # a choice is a (state, action) pair, ranked in order
    unique, choice = np.unique(key, return_inverse=True)
    state, action = unique // 8, unique % 8
    P = sp.csr_array((val, (choice, new[col])), shape=(unique.size, reach.size))
    P.sum_duplicates()
    groups = np.searchsorted(new[state], np.arange(reach.size + 1)).astype(np.int64)
    return dict(P=P, groups=groups, action=action.astype(np.int32), initial=int(new[initial]),
                cost=np.asarray(cost_of(state, action), dtype=float), terminal=terminal[reach],
                action_names=action_names)


def to_model(arrays: Arrays, name: str) -> TabularMDP:
    """The arrays as a :class:`TabularMDP` (one cost term ``cost``)."""
    return TabularMDP(P=arrays["P"], row_groups=arrays["groups"], row_action=arrays["action"],
                      action_names=arrays["action_names"], costs={"cost": arrays["cost"]}, discount=DISCOUNT,
                      initial=arrays["initial"], terminal=arrays["terminal"], name=name)
