"""The reference solvers the benchmarks time corrigo against: Storm (through stormpy) and pymdptoolbox, and
the bare floor's layout (``../shared/bench/vi.py``).

Neither is a dependency of corrigo (both are in the ``crosscheck`` extra); each is imported inside the
function that needs it, so this module imports without them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from mdp.model import TabularMDP

__all__ = ["mdptoolbox_arrays", "mdptoolbox_value_iteration", "padded", "storm_build_and_check"]


def padded(P: sp.csr_array, cost: npt.ArrayLike, groups: npt.ArrayLike, gamma: float
           ) -> tuple[sp.csr_array, npt.NDArray[np.float64], int]:
    """The floor's action-major padded layout (``../shared/bench/vi.py``): row ``a * n + s`` holds the
    ``a``-th choice of state ``s``, already times ``gamma``; a missing choice is an empty row of cost +inf,
    so a sweep is ``(padded_cost + padded @ V).reshape(width, n).min(axis=0)``."""
    groups = np.asarray(groups)
    n, counts = P.shape[1], np.diff(groups)
    width = int(counts.max())
    owner = np.repeat(np.arange(n), counts)
    slot_row = (np.arange(P.shape[0]) - groups[owner]) * n + owner
    coo = P.tocoo()
    layout = sp.csr_array((gamma * coo.data, (slot_row[coo.row], coo.col)), shape=(width * n, n))
    padded_cost = np.full(width * n, np.inf)
    padded_cost[slot_row] = cost
    return layout, padded_cost, width


def storm_build_and_check(prism_text: str, props_text: str, *, precision: float = 1e-6,
                          property_name: str | None = None,
                          clock: Callable[[], float] = time.perf_counter) -> tuple[float, float, float]:
    """Build a PRISM program with Storm and check one property: ``(build_s, check_s, value)``.

    ``build_s`` covers parsing the program and the properties and building the sparse model (the only
    labels and reward structures built are those the property needs); ``check_s`` the model checking,
    in ``stormpy.environments.sound()`` with an absolute ``precision`` (``relative_termination_criterion
    = False``: Storm's default relative rule is slow near values of 0 and not sound for costs of mixed
    sign). Storm solves discounted objectives with its own value iteration whatever method is set.
    ``value`` is the result at the initial state. The property is the first one of ``props_text``, or
    the one called ``property_name``. ``clock`` measures the seconds (``time.process_time`` for CPU time
    on a shared machine).
    """
    import stormpy

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.prism"
        path.write_text(prism_text, encoding="utf-8")
        start = clock()
        program = stormpy.parse_prism_program(str(path))
        properties = stormpy.parse_properties(props_text, program)
        if property_name is not None:
            properties = [p for p in properties if p.get_name() == property_name]
            if not properties:
                raise KeyError(f"no property named {property_name!r}")
        prop = properties[0]
        model = stormpy.build_model(program, [prop])
        built = clock()
    environment = stormpy.environments.sound()
    min_max = environment.solver().min_max()
    min_max.precision = stormpy.Rational(precision)
    min_max.relative_termination_criterion = False
    start_check = clock()
    result = stormpy.model_checking(model, prop, only_initial_states=True, environment=environment)
    checked = clock()
    value = float(result.get_value(model.initial_states[0]))
    return built - start, checked - start_check, value


def mdptoolbox_arrays(model: TabularMDP, penalty: float | None = None
                      ) -> tuple[list[sp.csr_matrix], npt.NDArray[np.float64]]:
    """The model in pymdptoolbox's layout: a list of ``(S, S)`` matrices, one per action, and ``(S, A)`` rewards.

    pymdptoolbox maximises reward and needs every action in every state: rewards are the negated
    costs, and an action a state does not have becomes a self-loop with reward ``-penalty`` (default:
    twice the largest possible total cost, plus 1, so no optimal policy takes it). The terminal
    self-loop is an action of its own. Vectorised: one sparse product per action.
    """
    n, m = model.n_states, model.n_rows
    cost = model.cost
    if penalty is None:
        worst = float(np.abs(cost).max(initial=0.0))
        penalty = 2 * worst / (1 - model.discount) + 1 if model.discount < 1 else 2 * worst * n + 1
    P = sp.csr_matrix(model.P)
    transitions, rewards = [], []
    for action in range(len(model.action_names)):
        rows = np.flatnonzero(model.row_action == action)
        states = model.row_state[rows]
        pick = sp.csr_matrix((np.ones(rows.size), (states, rows)), shape=(n, m))  # state s <- its row
        missing = np.ones(n, dtype=bool)
        missing[states] = False
        transitions.append(sp.csr_matrix(pick @ P + sp.diags(missing.astype(float), format="csr")))
        reward = np.full(n, -penalty)
        reward[states] = -cost[rows]
        rewards.append(reward)
    return transitions, np.column_stack(rewards)


def mdptoolbox_value_iteration(model: TabularMDP, epsilon: float = 1e-6, max_iter: int = 1_000_000,
                               clock: Callable[[], float] = time.perf_counter) -> tuple[float, npt.NDArray[np.float64]]:
    """pymdptoolbox's ``ValueIteration`` on a discounted model: ``(seconds, V)``, ``V`` as costs.

    **Its input checks are bypassed.** The constructor runs ``mdptoolbox.util.check`` and, for the
    iteration bound, ``_boundIter``, which slices every column of every action's matrix: quadratic in
    the states on sparse input (65 s and 3.6 GB at 12k states). The object is made with
    ``ValueIteration.__new__`` and given the attributes the constructor would set (``P``, ``R``, ``S``,
    ``A``, ``discount``, ``epsilon``, ``max_iter``, ``thresh = epsilon (1 - γ) / γ``, ``V = 0``);
    ``run()`` is pymdptoolbox's own.

    Its stopping rule compares the *span* of the last change with ``thresh``: that makes the greedy
    policy ``epsilon``-optimal, but the values themselves can still be far off. So after ``run()`` one
    more Bellman backup (its ``_bellmanOperator``) gives the MacQueen bounds ``V' + γ/(1-γ)·[min Δ,
    max Δ]`` with ``Δ = V' - V``, and ``V`` is their midpoint: within ``epsilon / 2`` of the optimum.
    ``seconds`` times ``run()`` and that backup, not the conversion to its layout
    (:func:`mdptoolbox_arrays`), measured with ``clock``.
    """
    from mdptoolbox.mdp import ValueIteration

    if not model.discount < 1:
        raise ValueError("pymdptoolbox's value iteration needs a discount below 1")
    transitions, rewards = mdptoolbox_arrays(model)
    gamma = float(model.discount)
    solver = ValueIteration.__new__(ValueIteration)
    solver.S, solver.A = model.n_states, len(transitions)
    solver.P, solver.R = tuple(transitions), tuple(np.ascontiguousarray(rewards.T))
    solver.discount, solver.epsilon, solver.max_iter = gamma, float(epsilon), int(max_iter)
    solver.thresh = epsilon * (1 - gamma) / gamma
    solver.V, solver.policy, solver.iter, solver.time, solver.verbose = np.zeros(model.n_states), None, 0, None, False
    start = clock()
    solver.run()
    values = np.asarray(solver.V)
    _, after = solver._bellmanOperator(values)
    change = after - values
    middle = after + gamma / (1 - gamma) * (change.min() + change.max()) / 2
    seconds = clock() - start
    return seconds, -middle
