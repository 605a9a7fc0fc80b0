"""mdp.solver: values against closed forms and exact brute force, certified bounds, optimal sets, errors."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spilu
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dsl.errors import CorrigoError, ResourceLimitError
import dsl
from exact_reference import optimal_costs, transitions
from mdp import ModelError, Solution, SolverError, compile, solve
from mdp.model import TabularMDP, from_arrays
from tests.strategies import MDPArrays, mdp_arrays

# --- an independent reference: every deterministic policy, evaluated in rational arithmetic -------------


def brute_force(model: TabularMDP) -> tuple[list[Fraction], np.ndarray]:
    """``V*`` as the minimum over all deterministic (proper) policies, and the exact optimal row mask."""
    cost, gamma = model.exact.cost(), model.exact.discount
    best = optimal_costs(model, cost)
    assert all(v is not None for v in best)
    P = transitions(model)
    Q = [cost[r] + gamma * sum((p * best[j] for j, p in P[r].items()), Fraction(0)) for r in range(model.n_rows)]
    optimal = np.array([Q[r] == best[model.row_state[r]] for r in range(model.n_rows)])
    return best, optimal  # type: ignore[return-value]


def assert_certified(solution: Solution, V_star: list[Fraction]) -> None:
    """``|V - V*| <= bound``, compared exactly."""
    bound = Fraction(solution.bound)
    for s, v in enumerate(V_star):
        assert abs(Fraction(float(solution.V[s])) - v) <= bound, (s, solution.V[s], float(v), solution.bound)


def assert_well_formed(solution: Solution) -> None:
    model = solution.model
    counts = np.bincount(model.row_state[solution.optimal], minlength=model.n_states)
    assert (counts >= 1).all(), "A*(s) is never empty"
    assert (solution.gap[solution.optimal] <= solution.delta).all()
    assert np.array_equal(solution.ties, np.flatnonzero(counts > 1))
    assert solution.optimal[solution.policy].all()
    assert (model.row_state[solution.policy] == np.arange(model.n_states)).all()
    finite = np.isfinite(solution.V[model.row_state])
    if solution.exact:  # each of Q, V and gap is the exact number rounded
        assert (solution.gap[solution.optimal] == 0).all()
        np.testing.assert_allclose(solution.gap[finite], (solution.Q - solution.V[model.row_state])[finite],
                                   rtol=0, atol=1e-15 * (1 + np.abs(solution.Q[finite]).max()))
    else:
        np.testing.assert_array_equal(solution.gap[finite], (solution.Q - solution.V[model.row_state])[finite])


def bellman_residual(model: TabularMDP, V: np.ndarray) -> float:
    """``max |V - T V|``, computed here with a plain loop over rows."""
    Q = model.cost + model.discount * (model.P @ V)
    TV = np.array([Q[list(model.rows(s))].min() for s in range(model.n_states)])
    return float(np.abs(V - TV).max())


# --- closed forms -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cost, discount", [(3.0, 0.9), (1.0, 0.5), (-2.5, 0.99), (0.1, 0.95)])
def test_one_state_loop_is_worth_c_over_1_minus_gamma(cost, discount):
    model = from_arrays([[[1.0]]], [[cost]], discount=discount)
    solution = solve(model)
    expected = Fraction(cost) / (1 - Fraction(discount))
    assert abs(Fraction(solution.value) - expected) <= Fraction(solution.bound)
    assert solution.bound < 1e-12 * (1 + abs(cost) / (1 - discount))
    assert solution.iterations <= 2  # MacQueen's bounds are exact on a single state
    exact = solve(model, exact=True)
    assert exact.value == float(expected) and exact.bound == 0.0 and exact.exact


def test_chain_discounted_closed_form():
    # s0 -> s1 -> ... -> s4 (terminal), costs 1, 2, 3, 4: V(s_i) = sum_j gamma^(j - i) c_j
    n, gamma = 5, 0.9
    P = np.zeros((n, n))
    for i in range(n - 1):
        P[i, i + 1] = 1.0
    P[n - 1, n - 1] = 1.0
    costs = [1.0, 2.0, 3.0, 4.0, 0.0]
    model = from_arrays([P], [costs], discount=gamma, terminal=[False] * (n - 1) + [True])
    solution = solve(model)
    g = Fraction(gamma)
    expected = [sum((g ** (j - i) * Fraction(costs[j]) for j in range(i, n - 1)), Fraction(0)) for i in range(n)]
    assert_certified(solution, expected)
    assert solve(model, exact=True).V.tolist() == [float(v) for v in expected]


def fork(second_cost: float, discount: float = 0.9) -> TabularMDP:
    """s0 chooses a0 (to terminal s1, cost 1) or a1 (to terminal s2, cost ``second_cost``)."""
    to1 = [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    to2 = [[0, 0, 1], [0, 1, 0], [0, 0, 1]]
    return from_arrays([to1, to2], [[1, 0, 0], [second_cost, 0, 0]], discount=discount,
                       terminal=[False, True, True])


@pytest.mark.parametrize("exact", [False, True])
def test_fork_with_an_exact_tie_keeps_both_actions(exact):
    solution = solve(fork(1.0), exact=exact)
    assert solution.optimal_actions(0) == ("a0", "a1")
    assert solution.ties.tolist() == [0]
    assert solution.value == 1.0
    assert_well_formed(solution)


@pytest.mark.parametrize("exact", [False, True])
def test_fork_with_a_gap_of_1e_7_keeps_one_action(exact):
    solution = solve(fork(1.0 + 1e-7), exact=exact)
    assert solution.optimal_actions(0) == ("a0",)
    assert solution.ties.size == 0
    assert solution.gap[1] == pytest.approx(1e-7, rel=1e-6)
    assert solution.delta < 1e-12


def test_exact_drops_a_gap_below_the_float_resolution():
    # costs 1 and 1 + 2**-50: four ulps apart, inside the float uncertainty, but not a tie (and no
    # decimal a spec could have written lies within two ulps of 1 + 2**-50)
    model = fork(1.0 + 2.0**-50)
    floating = solve(model)
    exact = solve(model, exact=True)
    assert floating.optimal_actions(0) == ("a0", "a1")  # a near-tie: reported, not broken
    assert exact.optimal_actions(0) == ("a0",)
    assert exact.gap[1] == 2.0**-50 and exact.ties.size == 0


def test_multiple_cost_terms_add_up_and_term_values_split_the_value():
    model = from_arrays([[[0, 1], [0, 1]]], {"time": [[1.0, 0.0]], "risk": [[0.25, 0.0]]}, discount=0.9,
                        terminal=[False, True])
    solution = solve(model)
    parts = solution.term_values()
    assert parts["time"][0] == pytest.approx(1.0) and parts["risk"][0] == pytest.approx(0.25)
    np.testing.assert_allclose(sum(parts.values()), solution.V, atol=1e-12)


def test_term_values_of_a_given_policy():
    model = fork(2.0)
    solution = solve(model)
    assert solution.optimal_actions(0) == ("a0",)
    other = solution.policy.copy()
    other[0] = 1  # row 1: a1 in state 0
    assert solution.term_values(other)["cost"][0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="not a row of state 0"):
        solution.term_values([2, 2, 3])
    with pytest.raises(ValueError, match="one row per state"):
        solution.term_values([0, 1])


@given(mdp_arrays(max_states=5, terms=2), st.booleans())
@settings(max_examples=40)
def test_term_values_from_the_start_state_agree_with_the_per_state_solve(arrays, ssp):
    from mdp.solver import start_term_values

    model = arrays.build()
    solution = solve(model)
    per_state = solution.term_values()
    for start in range(model.n_states):
        at_start = start_term_values(model, solution.policy, start)
        assert list(at_start) == list(model.costs)
        for term, value in at_start.items():
            assert value == pytest.approx(per_state[term][start], rel=1e-12, abs=1e-12), (term, start)


def test_term_values_from_the_start_cost_one_solve_on_a_long_chain():
    # a corridor of 20,000 states (beyond the sparse LU limit): the expected steps to the end and a second
    # term that pays 1 only in the last state before the end, discount 1: closed forms n - 1 - i and 1
    from mdp.solver import start_term_values

    n = 20_000
    forward = sp.csr_array((np.r_[np.full(n - 1, 0.5), np.full(n - 1, 0.5), [1.0]],
                            (np.r_[np.arange(n - 1), np.arange(n - 1), [n - 1]],
                             np.r_[np.arange(1, n), np.arange(n - 1), [n - 1]])), shape=(n, n))
    last = np.zeros(n)
    last[n - 2] = 1.0
    model = from_arrays([forward], {"steps": [np.ones(n)], "last": [last]}, discount=1.0,
                        terminal=np.arange(n) == n - 1)
    solution = solve(model)
    values = start_term_values(model, solution.policy, 0)
    assert values["steps"] == pytest.approx(2 * (n - 1), rel=1e-9)  # two tries per step
    assert values["last"] == pytest.approx(2.0, rel=1e-9)
    assert start_term_values(model, solution.policy, n - 1) == {"steps": 0.0, "last": 0.0}


def test_term_values_from_a_start_whose_policy_may_not_end_are_nan():
    from mdp.solver import start_term_values

    # discount 1: state 0 loops forever under the given policy (row 0), and reaches the end with row 1
    stay = [[1, 0], [0, 1]]
    leave = [[0, 1], [0, 0]]
    model = from_arrays([stay, leave], [[0.0, 0.0], [1.0, 0.0]], discount=1.0, terminal=[False, True])
    assert math.isnan(start_term_values(model, np.array([0, 2]), 0)["cost"])
    assert start_term_values(model, np.array([1, 2]), 0) == {"cost": 1.0}


# --- discount 1: stochastic shortest path ---------------------------------------------------------------


def test_ssp_chain_expected_steps_closed_form():
    # from s_i, advance with probability p, else stay: expected steps to s_{n-1} are (n - 1 - i) / p
    n, p, cost = 6, 0.25, 3.0
    P = np.zeros((n, n))
    for i in range(n - 1):
        P[i, i + 1], P[i, i] = p, 1 - p
    P[n - 1, n - 1] = 1.0
    model = from_arrays([P], [[cost] * n], discount=1.0, terminal=[False] * (n - 1) + [True])
    expected = [Fraction(n - 1 - i) / Fraction(p) * Fraction(cost) for i in range(n)]
    solution = solve(model)
    assert_certified(solution, expected)
    assert solution.bound < 1e-10
    assert_well_formed(solution)
    assert solve(model, exact=True).V.tolist() == [float(v) for v in expected]
    np.testing.assert_allclose(solution.term_values()["cost"], [float(v) for v in expected], rtol=1e-12)


def test_ssp_picks_the_cheaper_way_to_the_terminal():
    # s0: 'walk' to s1 (cost 1), 'jump' to s2 (cost 5); s1: 'walk' to s2 (cost 1); s2 terminal
    walk = [[0, 1, 0], [0, 0, 1], [0, 0, 1]]
    jump = [[0, 0, 1], [0, 0, 0], [0, 0, 0]]
    model = from_arrays([walk, jump], [[1, 1, 0], [5, 0, 0]], discount=1.0, action_names=["walk", "jump"],
                        terminal=[False, False, True])
    solution = solve(model)
    assert solution.V.tolist() == [2.0, 1.0, 0.0]
    assert solution.optimal_actions(0) == ("walk",)


def test_ssp_reachable_state_that_cannot_terminate_is_a_model_error():
    # s0 -> s2 (cost 1) or s1 (terminal); s2 only loops: no policy from s2 terminates
    go = [[0, 0, 1], [0, 1, 0], [0, 0, 1]]
    stop = [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    model = from_arrays([go, stop], [[1, 0, 1], [1, 0, 0]], discount=1.0, action_names=["go", "stop"],
                        terminal=[False, True, False])
    with pytest.raises(ModelError, match=r"from \(s=2\) no policy reaches a terminal state") as info:
        solve(model)
    text = str(info.value)
    assert "(s=0) --go--> (s=2)" in text  # the way there
    assert "(s=2) --go--> (s=2)" in text  # the loop it is stuck in
    assert isinstance(info.value, CorrigoError)


def test_ssp_unreachable_stuck_state_gets_infinite_value():
    go = [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    model = from_arrays([go], [[1, 0, 1]], discount=1.0, terminal=[False, True, False])
    solution = solve(model)
    assert solution.V.tolist() == [1.0, 0.0, math.inf]
    assert solution.optimal[list(model.rows(2))].all()
    assert 2 not in solution.ties


def test_ssp_optimal_zero_cost_loop_is_a_model_error():
    # s0: 'wait' (self-loop, cost 0) or 'finish' (to the terminal, cost 1): waiting forever is cheaper
    wait = [[1, 0], [0, 1]]
    finish = [[0, 1], [0, 1]]
    model = from_arrays([wait, finish], [[0, 0], [1, 0]], discount=1.0, action_names=["wait", "finish"],
                        terminal=[False, True])
    with pytest.raises(ModelError, match=r"with discount 1 an optimal policy can loop forever: \(s=0\) --wait-->"):
        solve(model, exact=True)
    # in floats a tie and a near-tie look alike: the loop may be optimal (an error) or only nearly (fine)
    doubt = solve(model).loop_doubt
    assert doubt is not None and "an optimal policy can loop forever: (s=0) --wait-->" in doubt


def test_ssp_nearly_optimal_loop_is_fine():
    # waiting costs 2**-50 more than nothing: not optimal, so no policy of the optimum loops
    wait = [[1, 0], [0, 1]]
    finish = [[0, 1], [0, 1]]
    model = from_arrays([wait, finish], [[2.0**-50, 0], [1, 0]], discount=1.0, action_names=["wait", "finish"],
                        terminal=[False, True])
    exact = solve(model, exact=True)
    assert exact.optimal_actions(0) == ("finish",) and exact.value == 1.0 and exact.loop_doubt is None
    assert solve(model).loop_doubt is not None  # floats cannot tell it from a tie


def test_ssp_zero_cost_two_state_cycle_tied_with_the_exit_is_a_model_error():
    # s0 <-> s1 at cost 0; from s1 'exit' to the terminal at cost 0: V = 0 everywhere, the cycle is optimal
    move = [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    leave = [[0, 0, 0], [0, 0, 1], [0, 0, 0]]
    model = from_arrays([move, leave], [[0, 0, 0], [0, 0, 0]], discount=1.0, action_names=["move", "exit"],
                        terminal=[False, False, True])
    with pytest.raises(ModelError, match="can loop forever") as info:
        solve(model)
    assert "--move-->" in str(info.value)


def test_ssp_zero_cost_loop_off_the_optimal_path_is_fine():
    # s1 has a free self-loop, but the optimal play from s0 never enters s1
    step = [[0, 0, 1], [0, 1, 0], [0, 0, 1]]
    side = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    model = from_arrays([step, side], [[1, 0, 0], [5, 1, 0]], discount=1.0, action_names=["step", "side"],
                        terminal=[False, False, True])
    solution = solve(model)
    assert solution.value == 1.0 and solution.optimal_actions(0) == ("step",)
    # in s1 the free loop is Bellman-tied with 'side'; the representative policy still terminates
    assert solution.optimal_actions(1) == ("step", "side") and 1 in solution.ties
    assert model.row_action[solution.policy[1]] == 1
    assert np.isfinite(solution.term_values()["cost"]).all()


def test_ssp_tie_between_a_short_and_a_long_way_is_certified():
    # s0: 'direct' to the terminal (cost 2) or 'detour' via s1 (cost 1 + 1): a tie that lengthens the way
    direct = [[0, 0, 1], [0, 0, 1], [0, 0, 1]]
    detour = [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    model = from_arrays([direct, detour], [[2, 1, 0], [1, 0, 0]], discount=1.0, action_names=["direct", "detour"],
                        terminal=[False, False, True])
    solution = solve(model)
    assert solution.optimal_actions(0) == ("direct", "detour")
    assert solution.value == 2.0 and solution.bound < 1e-14
    assert solve(model, exact=True).optimal_actions(0) == ("direct", "detour")


def test_ssp_negative_cost_cycle_is_a_model_error():
    move = [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    leave = [[0, 0, 1], [0, 0, 1], [0, 0, 0]]
    model = from_arrays([move, leave], [[-1, 0, 0], [1, 1, 0]], discount=1.0, action_names=["move", "leave"],
                        terminal=[False, False, True])
    with pytest.raises(ModelError, match="unbounded below"):
        solve(model)


# --- errors and options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("discount", [0.999, 0.9999, 0.999999])
def test_value_iteration_that_stalls_hands_over_to_policy_iteration(discount):
    # a 3-cycle with cost 1 at s0: V(s0) = 1 / (1 - gamma^3); value iteration needs ~1/(1 - gamma) sweeps
    P = np.zeros((3, 3))
    P[0, 1] = P[1, 2] = P[2, 0] = 1.0
    model = from_arrays([P], [[1.0, 0.0, 0.0]], discount=discount)
    g = Fraction(discount)
    expected = [1 / (1 - g**3), g**2 / (1 - g**3), g / (1 - g**3)]
    for max_iter in (5, 100_000):
        assert_certified(solve(model, max_iter=max_iter), expected)
    assert solve(model, exact=True).V.tolist() == [float(v) for v in expected]


def test_max_iter_raises_solver_error_with_the_numbers():
    # policy iteration from the greedy policy of one sweep needs two improvements here
    line = from_arrays([[[0, 1, 0], [0, 0, 1], [0, 0, 1]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]],
                       [[1, 1, 0], [0.5, 0.5, 0]], discount=0.9)
    with pytest.raises(SolverError, match=r"policy iteration did not settle in 1 steps") as info:
        solve(line, max_iter=1)
    assert info.value.iterations == 1
    assert isinstance(info.value, CorrigoError)


def test_exact_limit_raises_resource_limit_error():
    model = from_arrays([np.eye(3)], [[1.0, 1.0, 1.0]], discount=0.5)
    with pytest.raises(ResourceLimitError, match=r"\(--exact\) is limited to 2 states \(exact_limit\), the model has 3"):
        solve(model, exact=True, exact_limit=2)


def test_bad_arguments_and_non_finite_costs():
    model = from_arrays([[[1.0]]], [[1.0]], discount=0.5)
    with pytest.raises(ValueError, match="tol"):
        solve(model, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        solve(model, max_iter=0)
    with pytest.raises(ModelError, match="expected a finite number"):
        solve(from_arrays([[[1.0]]], [[math.inf]], discount=0.5))


def test_progress_is_reported_every_50_sweeps():
    P = np.zeros((3, 3))
    P[0, 1] = P[1, 2] = P[2, 0] = 1.0
    model = from_arrays([P], [[1.0, 0.0, 0.0]], discount=0.99)
    calls: list[tuple[int, float]] = []
    solution = solve(model, progress=lambda k, r: calls.append((k, r)))
    # a cycle: value iteration's 2000 sweeps do not settle it, policy iteration does
    assert solution.iterations == 2000
    assert [k for k, _ in calls] == list(range(50, 2001, 50))
    assert all(r > 0 for _, r in calls)


# --- properties on random models ------------------------------------------------------------------------


def check_against_brute_force(arrays: MDPArrays) -> None:
    model = arrays.build()
    V_star, optimal_star = brute_force(model)
    solution = solve(model)
    assert_certified(solution, V_star)
    assert_well_formed(solution)
    assert not (optimal_star & ~solution.optimal).any(), "every truly optimal row is in A*(s)"
    assert bellman_residual(model, solution.V) <= (1 + model.discount) * solution.bound + 1e-300
    exact = solve(model, exact=True)
    assert np.array_equal(exact.optimal, optimal_star)
    assert exact.V.tolist() == [float(v) for v in V_star]
    assert_well_formed(exact)


TIE = MDPArrays(
    transitions=(np.array([[0.5, 0.5], [0.0, 1.0]]), np.array([[0.5, 0.5], [0.0, 0.0]])),
    costs={"term0": (np.array([1.0, 0.0]), np.array([1.0, 0.0]))},
    discount=0.9, terminal=np.array([False, True]), initial=0)


@given(mdp_arrays())
@example(TIE)
def test_discounted_values_and_optimal_sets_match_brute_force(arrays):
    check_against_brute_force(arrays)


@given(mdp_arrays(ssp=True, max_actions=2))
def test_ssp_values_and_optimal_sets_match_brute_force(arrays):
    check_against_brute_force(arrays)


@given(mdp_arrays(max_states=5, terms=2), st.randoms(use_true_random=False))
@settings(max_examples=30)
def test_relabelling_states_permutes_values(arrays, rng):
    model = arrays.build()
    n = model.n_states
    perm = list(range(n))
    rng.shuffle(perm)
    perm = np.array(perm)  # new state i is old state perm[i]
    transitions = [t[np.ix_(perm, perm)] for t in arrays.transitions]
    costs = {k: tuple(v[perm] for v in vectors) for k, vectors in arrays.costs.items()}
    inverse = np.argsort(perm)
    relabelled = MDPArrays(tuple(transitions), costs, arrays.discount, arrays.terminal[perm],
                           int(inverse[arrays.initial])).build()
    a, b = solve(model, exact=True), solve(relabelled, exact=True)
    assert b.V.tolist() == a.V[perm].tolist()
    for i in range(n):
        assert b.optimal_actions(i) == a.optimal_actions(int(perm[i]))
    floating = solve(relabelled)
    assert np.all(np.abs(floating.V - a.V[perm]) <= floating.bound)


@given(mdp_arrays(), st.sampled_from([0.25, 0.5, 2.0, 8.0, 3.0, 0.1]))
@settings(max_examples=30)
def test_scaling_costs_scales_values_and_keeps_optimal_sets(arrays, k):
    model = arrays.build()
    scaled = MDPArrays(arrays.transitions, {t: tuple(k * v for v in vs) for t, vs in arrays.costs.items()},
                       arrays.discount, arrays.terminal, arrays.initial).build()
    a, b = solve(model), solve(scaled)
    assert np.all(np.abs(b.V - k * a.V) <= b.bound + k * a.bound + 1e-15 * np.abs(b.V))
    if math.log2(k).is_integer():  # exact scaling of the floats: the exact optimal sets agree
        assert np.array_equal(solve(model, exact=True).optimal, solve(scaled, exact=True).optimal)


# --- larger models: the sparse solvers behind policy evaluation -------------------------------------------


def random_model(n: int, actions: int, successors: int, discount: float, seed: int) -> TabularMDP:
    rng = np.random.default_rng(seed)
    m = n * actions
    cols = rng.integers(0, n, size=(m, successors))
    probs = rng.random((m, successors))
    probs /= probs.sum(axis=1, keepdims=True)
    P = sp.csr_array((probs.ravel(), cols.ravel(), np.arange(0, m * successors + 1, successors)), shape=(m, n))
    P.sum_duplicates()
    return TabularMDP(P=P, row_groups=np.arange(0, m + 1, actions, dtype=np.int64),
                      row_action=np.tile(np.arange(actions, dtype=np.int32), n),
                      action_names=tuple(f"a{a}" for a in range(actions)), costs={"cost": rng.random(m)},
                      discount=discount, initial=0, terminal=np.zeros(n, dtype=bool))


def test_well_mixed_model_converges_fast_and_certifies_a_tight_bound():
    model = random_model(4000, 4, 4, 0.95, seed=1)
    solution = solve(model)
    assert solution.iterations < 40  # MacQueen's bounds on a well-mixed model
    assert solution.bound < 1e-11
    assert bellman_residual(model, solution.V) <= 2 * solution.bound
    assert_well_formed(solution)


def corridor(n: int, gamma: float = 0.999, p: float = 0.8) -> TabularMDP:
    """A slippery corridor: 'forward' advances with probability ``p`` (cost 1), 'back' steps back (cost 2)."""
    rows = np.arange(n - 1)
    forward = sp.csr_array((np.r_[np.full(n - 1, p), np.full(n - 1, 1 - p), [1.0]],
                            (np.r_[rows, rows, [n - 1]], np.r_[rows + 1, rows, [n - 1]])), shape=(n, n))
    back = sp.csr_array((np.ones(n), (np.arange(n), np.maximum(np.arange(n) - 1, 0))), shape=(n, n))
    return from_arrays([forward, back], [np.ones(n), np.full(n, 2.0)], discount=gamma,
                       terminal=np.arange(n) == n - 1, action_names=["forward", "back"])


def test_long_corridor_falls_back_to_a_sparse_factorisation():
    # Krylov methods crawl on a 3000-state corridor; its LU is banded
    gamma, p = 0.999, 0.8
    model = corridor(3000, gamma, p)
    solution = solve(model)
    assert solution.optimal[model.row_action == 0].all() and solution.ties.size == 0
    V = solution.V
    assert V[-1] == 0.0
    # the recurrence of 'forward': V_i = 1 + gamma (p V_{i+1} + (1 - p) V_i)
    np.testing.assert_allclose(V[:-1], 1 + gamma * (p * V[1:] + (1 - p) * V[:-1]), rtol=1e-13)
    assert solution.bound < 1e-8  # ~ (k + 3) u max|V| / (1 - gamma), with max|V| ~ 1e3 and 1 / (1 - gamma) = 1e3


def test_beyond_ten_thousand_states_no_factorisation_ever_runs(monkeypatch: pytest.MonkeyPatch):
    # a sparse LU's fill-in has no bound on large models: beyond 10^4 states Krylov iterations, preconditioned
    # by an incomplete LU (its fill capped) where plain ones crawl, as on this corridor
    import scipy.sparse.linalg as spla

    def forbidden(*args, **kwargs):
        raise AssertionError("a sparse factorisation ran on a large system")
    monkeypatch.setattr(spla, "splu", forbidden)
    monkeypatch.setattr(spla, "spsolve", forbidden)
    incomplete = []
    monkeypatch.setattr(spla, "spilu", lambda A, **options: incomplete.append(options) or spilu(A, **options))
    gamma, p, n = 0.999, 0.8, 20_000
    model = corridor(n, gamma, p)
    solution = solve(model)
    assert incomplete and all(options["fill_factor"] <= 5 for options in incomplete)
    assert solution.optimal[model.row_action == 0].all() and solution.ties.size == 0
    # V_i = (1 + gamma p V_{i+1}) / (1 - gamma (1 - p)), from the terminal end
    expected = np.zeros(n)
    for i in range(n - 2, -1, -1):
        expected[i] = (1 + gamma * p * expected[i + 1]) / (1 - gamma * (1 - p))
    assert np.abs(solution.V - expected).max() <= solution.bound + 1e-9 * expected.max()
    assert solution.bound < 1e-6


def test_fixed_point_sweeps_solve_what_krylov_iterations_leave() -> None:
    from mdp.solver.linear import _sweeps, system

    # a 3-cycle with discount 0.5: V = b + 0.5 P V; the sweeps converge from any start, at rate 1/2
    P = sp.csr_array(np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float))
    A = system(P, np.arange(3), 0.5)
    b = np.array([1.0, 0.0, 0.0])
    x = _sweeps(A, b, np.zeros(3))
    np.testing.assert_allclose(x, [8 / 7, 2 / 7, 4 / 7], rtol=0, atol=1e-12)  # V0 = 1 + V0 / 8


def test_a_failed_incomplete_factorisation_falls_back_to_sweeps(monkeypatch) -> None:
    # spilu can stop at an exactly zero pivot (its dropped entries, on a 10^5-state grid): the solve goes on
    # with fixed-point sweeps instead of crashing. A corridor beyond the LU limit, with a forced failure.
    import mdp.solver.linear as linear

    def singular(*args, **kwargs):
        raise RuntimeError("Factor is exactly singular")

    monkeypatch.setattr(linear.spla, "spilu", singular)
    monkeypatch.setattr(linear, "_KRYLOV_MAXITER", 1)  # so that plain bicgstab gives up at once
    n, gamma = linear._LU_LIMIT + 500, 0.5
    P = sp.csr_array((np.ones(n - 1), (np.arange(n - 1), np.arange(1, n))), shape=(n, n))
    x = linear.linear_solve(linear.system(P, np.arange(n), gamma), np.ones(n))
    # V_i = 1 + gamma V_{i+1}, V_{n-1} = 1: V_i = (1 - gamma^(n - i)) / (1 - gamma)
    expected = (1 - gamma ** (n - np.arange(n, dtype=float))) / (1 - gamma)
    np.testing.assert_allclose(x, expected, rtol=1e-12)


def test_a_krylov_breakdown_that_reports_success_is_not_believed() -> None:
    from mdp.solver.linear import linear_solve, system

    # expected steps to the end: 3090 states leave at once, the last 10 walk a chain. scipy's bicgstab
    # breaks down on this system and says it converged, with a residual of 10%; the answer is exact
    n, k = 3100, 10
    walk = np.arange(n - k, n - 1)
    P = sp.csr_array((np.ones(k - 1), (walk, walk + 1)), shape=(n, n))
    steps = linear_solve(system(P, np.arange(n), 1.0), np.ones(n))
    assert steps.tolist() == [1.0] * (n - k) + list(np.arange(k, 0, -1.0))


def test_a_system_singular_in_floats_is_solved_by_least_squares() -> None:
    from mdp.solver.linear import linear_solve

    # I - P of a state whose only way out has a probability below the rounding of 1: a zero on the diagonal.
    # scipy raises LinAlgError for it, except scipy 1.15 (Python 3.10's last), which divides by it: nan
    A = sp.csr_array(np.array([[0.0, 0.0], [0.0, 1.0]]))
    assert linear_solve(A, np.array([0.0, 2.0])).tolist() == [0.0, 2.0]
    assert linear_solve(A, np.zeros((2, 3))).tolist() == [[0.0] * 3] * 2


def test_exact_corridor_agrees_with_the_recurrence_in_fractions():
    gamma, p = 0.999, 0.8
    model = corridor(400, gamma, p)
    solution = solve(model, exact=True)
    g, q = Fraction(gamma), Fraction(p)
    expected = [Fraction(0)]
    for _ in range(399):  # V_i = (1 + g q V_{i+1}) / (1 - g (1 - q))
        expected.append((1 + g * q * expected[-1]) / (1 - g * (1 - q)))
    assert solution.V.tolist() == [float(v) for v in reversed(expected)]
    assert solution.optimal_actions(5) == ("forward",)


def test_exact_keeps_ties_that_hold_in_the_decimals_the_spec_wrote() -> None:
    # a costs 0.1 + 0.2 (two terms), b costs 0.3: in floats 0.1 + 0.2 != 0.3, in the spec they tie
    spec = dsl.load("model t\ndiscount 0.95\nvar done : bool\naction a when !done: done' = true\n"
                    "action b when !done: done' = true\nterminal done\ncost x = 0.1 * [a] + 0.3 * [b]\n"
                    "cost y = 0.2 * [a]\n")
    assert 0.1 + 0.2 != 0.3
    solution = solve(compile(spec, exact=True), exact=True)
    assert solution.optimal_actions(0) == ("a", "b")
    assert solution.ties.tolist() == [0]
    # arrays mean their floats: there 0.1 + 0.2 is not 0.3, and the exact solver says so
    model = from_arrays([[[0, 1], [0, 1]], [[0, 1], [0, 1]]],
                        {"x": [[0.1, 0], [0.3, 0]], "y": [[0.2, 0], [0, 0]]}, discount=0.95,
                        terminal=[False, True])
    assert solve(model, exact=True).optimal_actions(0) == ("a1",)

# --- ordered (Gauss-Seidel) sweeps -----------------------------------------------------------------------


def test_breadth_first_depths_by_pointer_jumping() -> None:
    from mdp.graph import breadth_first_depths as _depths

    # 0 -> 1 -> 2 -> 3, 0 -> 2 (a shortcut), 3 -> 0 (a cycle back); 4 -> 0 and nothing leads to 4 (a
    # source: a root too, despite its self-loop); 5 <-> 6 a cycle nothing reaches
    edges = [(0, 1), (1, 2), (2, 3), (0, 2), (3, 0), (4, 0), (4, 4), (5, 6), (6, 5)]
    graph = sp.csr_array((np.ones(len(edges)), tuple(np.array(edges).T)), shape=(7, 7))
    assert _depths(graph, 0).tolist() == [0, 1, 1, 2, 0, -1, -1]
    assert _depths(graph, 3).tolist() == [1, 2, 2, 0, 0, -1, -1]


@given(st.one_of(mdp_arrays(max_states=6, max_actions=3), mdp_arrays(max_states=6, max_actions=2, ssp=True)))
@settings(max_examples=60)
def test_ordered_sweeps_converge_to_the_optimum(arrays):
    # the rows with their self-loops solved in place keep the fixed point: sweep to it and compare
    from mdp.solver.iteration import OrderedSweeps
    from mdp.solver.problem import from_model

    model = arrays.build()
    solution = solve(model)
    problem = from_model(model, model.cost, 0.0, None)
    sweeps = OrderedSweeps(problem.P, problem.groups, problem.c, problem.gamma, np.arange(model.n_states),
                           list(range(1, model.n_states + 1)))  # one state per layer: plain Gauss-Seidel
    V = np.zeros(model.n_states)
    for _ in range(20_000):
        if sweeps.sweep(V) <= 1e-13:
            break
    scale = 1 / (1 - model.discount) if model.discount < 1 else model.n_states
    np.testing.assert_allclose(V, solution.V, rtol=1e-9, atol=1e-9 * scale)


def test_ordered_sweeps_take_over_where_the_bounds_gain_nothing() -> None:
    # a battery running down: 200 layers, each a small ring of 400 states, ending in an absorbing state
    # that costs 1 per step. Jacobi sweeps need log(tol) / log(gamma) ~ 400 sweeps (the self-loop alone
    # converges at rate gamma, and MacQueen's bounds do not help); ordered sweeps solve the self-loop in
    # place and visit the layers deepest first, so a few sweeps do
    layers, ring, gamma = 200, 400, 0.95
    n = layers * ring + 1
    s = np.arange(n - 1)
    layer, pos = s // ring, s % ring
    nxt = np.where(layer + 1 < layers, (layer + 1) * ring + (pos + 1) % ring, n - 1)
    side = np.where(layer + 1 < layers, (layer + 1) * ring + (pos - 1) % ring, n - 1)
    move = sp.csr_array((np.r_[np.full(n - 1, 0.5), np.full(n - 1, 0.5), [1.0]],
                         (np.r_[s, s, [n - 1]], np.r_[nxt, side, [n - 1]])), shape=(n, n))
    wait = sp.csr_array((np.ones(n), (np.arange(n), np.arange(n))), shape=(n, n))
    cost = np.r_[np.full(n - 1, 0.1), [1.0]]
    model = from_arrays([move, wait], [cost, cost + 1.4], discount=gamma)  # waiting forever costs 30: never
    solution = solve(model, tol=1e-9)
    # the closed form: from layer l, (layers - l) moves of 0.1, then 1 / (1 - gamma) in the end
    k = layers - layer
    expected = 0.1 * (1 - gamma ** k) / (1 - gamma) + gamma ** k / (1 - gamma)
    np.testing.assert_allclose(solution.V[:-1], expected, rtol=1e-12)
    assert solution.iterations <= 20


def test_chain_values_by_ordered_sweeps_and_by_krylov_agree() -> None:
    from mdp.solver.linear import _ordered_solve, chain_values

    # a structured chain (rings of 50 states, each moving to a neighbour in the next ring or staying; the
    # last ring into an absorbing state) converges by ordered sweeps; a well-mixed random chain does not,
    # and the Krylov path takes over
    rng = np.random.default_rng(3)
    n, width, gamma = 5001, 50, 0.97
    s = np.arange(n - 1)
    ring, position = s // width, s % width
    last = ring + 1 == (n - 1) // width
    left = np.where(last, n - 1, (ring + 1) * width + (position - 1) % width)
    right = np.where(last, n - 1, (ring + 1) * width + (position + 1) % width)
    layered = sp.csr_array((np.r_[np.full(n - 1, 0.35), np.full(n - 1, 0.35), np.full(n - 1, 0.3), [1.0]],
                            (np.r_[s, s, s, [n - 1]], np.r_[left, right, s, [n - 1]])), shape=(n, n))
    s = np.arange(n)
    mixed = sp.csr_array((np.full(4 * n, 0.25), (np.repeat(s, 4), rng.integers(0, n, 4 * n))), shape=(n, n))
    costs = np.column_stack([rng.random(n), np.ones(n)])
    for chain, ordered in ((layered, True), (mixed, False)):
        _, done = _ordered_solve(chain, gamma, costs, None, 0)
        assert done is ordered
        values = chain_values(chain, gamma, costs, start=0)
        residual = costs + gamma * (chain @ values) - values
        assert np.abs(residual).max() <= 1e-12 * np.abs(values).max()
        np.testing.assert_allclose(values[:, 1], 1 / (1 - gamma), rtol=1e-12)  # a cost of 1 every step
