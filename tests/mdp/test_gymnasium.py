"""``mdp.to_gymnasium``: the environment samples the model's transitions, and an RL agent learns its optimal policy."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
import mdp
from tests.strategies import mdp_arrays

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from mdp.gym_env import DisabledActionError, MDPEnv, default_disabled_action_cost  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# the worlds of issue 16, where check_env's random actions hit disabled ones: example -> (states, default
# penalty); the penalty is twice the largest |cost| of a choice: 3 in the household, 1 in the grid world
# (serving pays 1), 2 in the off-switch game (u_good, paid for a good outcome)
WORLDS = {"household_robot": (105, 6.0), "gridworld_robot": (128, 2.0), "off_switch_game": (7, 4.0)}
# fed/off/switch; 'eat' feeds the robot with probability 0.8; optimal: eat when hungry, then wait forever
HUNGRY = ROOT / "tests" / "golden" / "reports" / "hungry_robot.corrigo"
# deterministic: every action enabled in the initial state
ERRAND = """
model errand
discount 0.5
var n : 0..3 = 0
var done : bool = false
action finish when !done: done' = true
action delay when !done && n < 3: n' = n + 1
terminal done
cost effort = 1 * [finish]
cost boredom = 0.25 * [delay]
"""


@pytest.fixture(scope="module")
def hungry() -> mdp.TabularMDP:
    return mdp.compile(dsl.load(HUNGRY))


@pytest.fixture(scope="module")
def worlds() -> dict[str, mdp.TabularMDP]:
    return {name: mdp.compile(dsl.load(ROOT / "examples" / f"{name}.corrigo")) for name in WORLDS}


def checker_warnings(env: gymnasium.Env) -> list[str]:
    """Run ``check_env`` and return every warning it gave (none of them is turned into an error here)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.mark.parametrize("name", WORLDS)
def test_the_examples_pass_the_gymnasium_env_checker_without_warnings(name: str, worlds) -> None:
    """check_env samples actions from the whole action space, disabled ones included; each form of the
    environment passes with no warning at all (the render check runs too: ``env.spec`` remakes the env)."""
    model = worlds[name]
    assert checker_warnings(mdp.to_gymnasium(model)) == []
    assert checker_warnings(mdp.to_gymnasium(model, render_mode="ansi")) == []
    made = gymnasium.make("corrigo/Spec-v0", spec=str(ROOT / "examples" / f"{name}.corrigo"))
    assert checker_warnings(made.unwrapped) == []  # check_env wants the env, not gymnasium.make's wrappers
    # and it does take disabled actions: the strict environment fails it
    with pytest.raises(DisabledActionError, match="is not enabled in the state"):
        check_env(mdp.to_gymnasium(model, strict=True))


def test_small_models_pass_the_env_checker(hungry: mdp.TabularMDP) -> None:
    assert checker_warnings(mdp.to_gymnasium(mdp.compile(dsl.load(ERRAND)))) == []
    assert checker_warnings(mdp.to_gymnasium(hungry, disabled_action_cost=10.0, render_mode="ansi")) == []


def test_spaces_observation_and_action_mask(hungry: mdp.TabularMDP) -> None:
    env = mdp.to_gymnasium(hungry, render_mode="ansi")
    assert env.actions == ("comply", "eat", "wait")
    assert env.action_space == gymnasium.spaces.Discrete(3)
    observation, info = env.reset(seed=0)
    assert observation.tolist() == [0, 0, 0]  # fed=false, off=false, switch=armed
    assert env.observation_space.contains(observation)
    assert info["action_mask"].tolist() == [1, 1, 0] and info["state"] == "fed=false, off=false, switch=armed"
    assert env.render() == "fed=false, off=false, switch=armed\n"
    observation, reward, terminated, truncated, info = env.step(0)  # comply
    assert observation.tolist() == [0, 1, 0] and terminated and not truncated
    assert reward == -1.0 and info["costs"] == {"hunger": 1.0, "joy": 0.0, "effort": 0.0}  # hunger 1 * !fed
    assert info["action_mask"].tolist() == [0, 0, 0]


def test_a_deterministic_episode_is_exact() -> None:
    env = mdp.to_gymnasium(mdp.compile(dsl.load(ERRAND)))
    observation, _ = env.reset(seed=123)
    delay, finish = env.actions.index("delay"), env.actions.index("finish")
    steps = [env.step(a) for a in (delay, delay, finish)]
    assert [s[0].tolist() for s in steps] == [[1, 0], [2, 0], [2, 1]]
    assert [s[1] for s in steps] == [-0.25, -0.25, -1.0]
    assert [s[2] for s in steps] == [False, False, True]
    assert steps[2][4]["costs"] == {"effort": 1.0, "boredom": 0.0}


def test_transition_frequencies_match_the_model(hungry: mdp.TabularMDP) -> None:
    # 'eat' while hungry: fed with probability 0.8. With N = 4000 samples the frequency has standard
    # deviation sqrt(0.8 * 0.2 / N) = 0.0063; 0.03 is almost 5 of them (a false alarm below 1e-5 for
    # any seed), while a wrong row (e.g. 0.2 or 1.0) is off by 0.2 or more.
    env = mdp.to_gymnasium(hungry)
    env.reset(seed=7)
    eat = env.actions.index("eat")
    fed = 0
    for _ in range(4000):
        env.reset()
        observation, *_ = env.step(eat)
        fed += int(observation[0])
    assert abs(fed / 4000 - 0.8) < 0.03


def test_reset_with_a_seed_reproduces_the_episode(hungry: mdp.TabularMDP) -> None:
    env = mdp.to_gymnasium(hungry)
    eat, wait = env.actions.index("eat"), env.actions.index("wait")

    def episode(seed: int) -> list[list[int]]:
        observation, info = env.reset(seed=seed)
        seen = [observation.tolist()]
        for _ in range(4):  # eat until fed (probability 0.8 per step), then wait
            observation, _, _, _, info = env.step(eat if info["action_mask"][eat] else wait)
            seen.append(observation.tolist())
        return seen

    assert all(episode(seed) == episode(seed) for seed in range(10))
    assert len({str(episode(seed)) for seed in range(20)}) > 1  # and the seed matters


def test_q_learning_recovers_the_optimal_actions(hungry: mdp.TabularMDP) -> None:
    """Tabular Q-learning (reward = -cost, the model's discount) learns the solver's optimal policy."""
    solution = mdp.solve(hungry)
    env = mdp.to_gymnasium(hungry)
    rng = np.random.default_rng(0)
    Q: dict[tuple[int, ...], np.ndarray] = {}
    visits: dict[tuple[int, ...], np.ndarray] = {}  # learning rate visits ** -0.7 (Robbins-Monro)
    env.reset(seed=0)
    for _ in range(1500):
        observation, info = env.reset()
        for _ in range(6):  # wait forever never terminates: cap each episode
            key = tuple(observation.tolist())
            q = Q.setdefault(key, np.zeros(len(env.actions)))
            enabled = np.flatnonzero(info["action_mask"])
            action = int(rng.choice(enabled)) if rng.random() < 0.3 else int(enabled[np.argmax(q[enabled])])
            observation, reward, terminated, _, info = env.step(action)
            following = Q.setdefault(tuple(observation.tolist()), np.zeros(len(env.actions)))
            mask = info["action_mask"].astype(bool)
            target = reward + (0.0 if terminated else env.discount * following[mask].max())
            n = visits.setdefault(key, np.zeros(len(env.actions)))
            n[action] += 1
            q[action] += (target - q[action]) / n[action] ** 0.7
            if terminated:
                break
    for state in range(hungry.n_states):
        key = tuple(hungry.state_codes[state].tolist())
        if hungry.terminal[state] or key not in Q:
            continue
        enabled = np.flatnonzero(mdp.to_gymnasium(hungry).action_mask(state))
        greedy = env.actions[int(enabled[np.argmax(Q[key][enabled])])]
        assert greedy in solution.optimal_actions(state), hungry.describe(state)
    # the learned value of the start is the optimal one, reward = -cost: V* = -1/9, so 1/9. Over seeds
    # 0..9 it came out within 0.1 of it (constant-free step sizes converge slowly with the 0.8/0.2
    # noise of 'eat'); the other choice, comply, is worth -1, so 0.15 still tells them apart.
    start = tuple(hungry.state_codes[hungry.initial].tolist())
    assert Q[start].max() == pytest.approx(-solution.value, abs=0.15)


def test_a_disabled_action_is_a_penalised_no_op_or_in_strict_mode_an_error(hungry: mdp.TabularMDP) -> None:
    env = mdp.to_gymnasium(hungry)
    assert env.disabled_action_cost == 4.0  # twice the largest |cost|: joy -2 while fed
    observation, _ = env.reset(seed=0)
    after, reward, terminated, truncated, info = env.step(env.actions.index("wait"))
    assert after.tolist() == observation.tolist() and env.state == hungry.initial
    assert (reward, terminated, truncated) == (-4.0, False, False)
    assert info["disabled_action"] and info["costs"] == {} and info["action_mask"].tolist() == [1, 1, 0]
    _, reward, _, _, info = env.step(env.actions.index("eat"))  # an enabled action still does what it does
    assert reward == -1.5 and not info["disabled_action"]  # hunger 1 + effort 0.5

    env = mdp.to_gymnasium(hungry, disabled_action_cost=10.0)
    env.reset(seed=0)
    assert env.step(env.actions.index("wait"))[1] == -10.0

    env = mdp.to_gymnasium(hungry, strict=True)
    assert env.disabled_action_cost is None
    env.reset(seed=0)
    with pytest.raises(DisabledActionError) as error:
        env.step(env.actions.index("wait"))
    assert str(error.value) == ("action 'wait' is not enabled in the state fed=false, off=false, switch=armed; "
                                "enabled: comply, eat (info['action_mask'] marks them)")
    assert isinstance(error.value, ValueError) and env.state == hungry.initial


def test_the_default_penalty_is_twice_the_largest_cost(worlds) -> None:
    for name, (n_states, penalty) in WORLDS.items():
        assert worlds[name].n_states == n_states
        assert default_disabled_action_cost(worlds[name]) == penalty
        assert mdp.to_gymnasium(worlds[name]).disabled_action_cost == penalty
    free = mdp.from_arrays([[[0, 1], [0, 1]]], [[0, 0]], discount=0.5)
    assert default_disabled_action_cost(free) == 1.0  # every cost 0: a penalty of 1


def idling_for_disabled_actions(model: mdp.TabularMDP, cost: float) -> mdp.TabularMDP:
    """``model`` with what the environment does on a disabled action as a choice: stay, at ``cost``."""
    n = model.n_states
    actions = [a for a in model.action_names if a != mdp.TERMINAL_ACTION]
    transitions = [sp.lil_array((n, n)) for _ in actions]
    costs = [np.full(n, cost) for _ in actions]
    for s in range(n):
        for a in range(len(actions)):
            transitions[a][s, s] = 1.0
        for row in range(model.row_groups[s], model.row_groups[s + 1]):
            a = int(model.row_action[row])
            if a < len(actions):  # not the terminal self-loop
                transitions[a][[s], :] = model.P[[row]].toarray()
                costs[a][s] = model.cost[row]
    return mdp.from_arrays([t.tocsr() for t in transitions], costs, model.discount, initial=model.initial,
                           action_names=actions, terminal=model.terminal)


def test_the_default_penalty_keeps_the_optimal_policies_of_the_model(worlds) -> None:
    """With disabled actions as penalised no-ops the world has the same V* and the same optimal actions in
    every state; with a free no-op (penalty 0) it does not."""
    for name, model in worlds.items():
        solution = mdp.solve(model)
        penalised = mdp.solve(idling_for_disabled_actions(model, mdp.to_gymnasium(model).disabled_action_cost))
        assert np.abs(penalised.V - solution.V).max() <= solution.bound + penalised.bound, name
        assert all(penalised.optimal_actions(s) == solution.optimal_actions(s) for s in range(model.n_states)), name
    # a free no-op does not: with discount 1 it is worth V*(s) itself, so it ties with the optimum; in the
    # off-switch game's first state 'finish' (disabled there) would be as good as waiting for the human
    model = worlds["off_switch_game"]
    assert mdp.solve(model).optimal_actions(model.initial) == ("wait",)
    assert mdp.solve(idling_for_disabled_actions(model, 0.0)).optimal_actions(model.initial) == ("wait", "finish")


@settings(max_examples=30)
@given(mdp_arrays(max_states=4))
def test_the_default_penalty_keeps_the_optimal_policies_of_random_models(arrays) -> None:
    model = arrays.build()
    solution = mdp.solve(model)
    penalised = mdp.solve(idling_for_disabled_actions(model, default_disabled_action_cost(model)))
    assert np.abs(penalised.V - solution.V).max() <= solution.bound + penalised.bound
    assert all(penalised.optimal_actions(s) == solution.optimal_actions(s) for s in range(model.n_states))


@pytest.mark.parametrize("name", WORLDS)
def test_the_mask_is_the_models_enabled_actions_in_every_state_reached(name: str, worlds) -> None:
    """Random walks over the whole action space (disabled actions too): in every state reached the masks
    are the actions of the state's rows in the compiled model, the observation is the state's codes, and
    a step does what the model (or, for a disabled action, the penalty) says. Same seed, same walk."""
    model = worlds[name]
    env = mdp.to_gymnasium(model)
    n_actions = len(env.actions)

    def enabled(state: int) -> list[int]:
        actions = model.row_action[model.row_groups[state]:model.row_groups[state + 1]]
        return sorted(int(a) for a in actions if model.action_names[a] != mdp.TERMINAL_ACTION)

    def walk(seed: int) -> tuple[set[int], list[object]]:
        rng = np.random.default_rng(seed)
        reached, seen = set(), []
        observation, info = env.reset(seed=seed)
        for _ in range(60):
            state = env.state
            reached.add(state)
            assert observation.tolist() == model.state_codes[state].tolist()
            assert env.observation_space.contains(observation)
            assert np.flatnonzero(info["action_mask"]).tolist() == enabled(state)
            assert info["action_mask"].dtype == np.int8 and env.action_masks().dtype == np.bool_
            assert np.flatnonzero(env.action_masks()).tolist() == enabled(state)
            if model.terminal[state]:
                assert enabled(state) == []
                break
            action = int(rng.integers(n_actions))
            observation, reward, terminated, truncated, info = env.step(action)
            seen.append((action, observation.tolist(), reward, terminated, info["state"]))
            if action in enabled(state):
                row = next(r for r in model.rows(state) if model.row_action[r] == action)
                assert reward == -model.cost[row] and model.P[[row]].toarray()[0, env.state] > 0
                assert terminated == bool(model.terminal[env.state]) and not info["disabled_action"]
            else:
                assert env.state == state and reward == -env.disabled_action_cost and not terminated
                assert info["disabled_action"] and info["costs"] == {}
            assert not truncated
        return reached, seen

    walks = [walk(seed) for seed in range(40)]
    assert all(walk(seed)[1] == walks[seed][1] for seed in range(3))  # reset(seed=...) replays the walk
    reached = set().union(*(r for r, _ in walks))
    assert len(reached) >= min(model.n_states, 40)  # household 43 of 105, grid world 59 of 128, off-switch all 7
    # and the masks of all states, reached or not, through action_mask(state)
    for state in range(model.n_states):
        assert np.flatnonzero(env.action_mask(state)).tolist() == enabled(state)


def test_gymnasium_make_builds_the_environment_of_a_spec(worlds) -> None:
    path = ROOT / "examples" / "household_robot.corrigo"
    env = gymnasium.make("corrigo/Spec-v0", spec=str(path))
    direct = mdp.to_gymnasium(worlds["household_robot"])
    assert isinstance(env.unwrapped, MDPEnv) and env.unwrapped.model.n_states == 105
    assert env.action_space == direct.action_space and env.observation_space == direct.observation_space
    assert env.unwrapped.actions == direct.actions and env.spec.id == "corrigo/Spec-v0"
    observation, info = env.reset(seed=3)
    assert observation.tolist() == direct.reset(seed=3)[0].tolist()
    assert env.unwrapped.action_masks().tolist() == info["action_mask"].astype(bool).tolist()
    walk = [env.step(a)[:2] for a in (0, 1, 2)]
    direct.reset(seed=3)
    again = [direct.step(a)[:2] for a in (0, 1, 2)]
    assert [(o.tolist(), r) for o, r in walk] == [(o.tolist(), r) for o, r in again]

    # a Path, the text, a checked spec; overrides as -D; the options of to_gymnasium; "mdp:" imports mdp first
    game = ROOT / "examples" / "off_switch_game.corrigo"
    assert gymnasium.make("corrigo/Spec-v0", spec=game).unwrapped.model.n_states == 7
    assert gymnasium.make("corrigo/Spec-v0", spec=game.read_text()).unwrapped.model.n_states == 7
    assert gymnasium.make("corrigo/Spec-v0", spec=dsl.load(game)).unwrapped.disabled_action_cost == 4.0
    bigger = gymnasium.make("corrigo/Spec-v0", spec=game, overrides={"u_good": 5})
    assert bigger.unwrapped.disabled_action_cost == 10.0  # twice |-u_good|
    strict = gymnasium.make("mdp:corrigo/Spec-v0", spec=game, strict=True, render_mode="ansi")
    strict.reset(seed=0)
    assert strict.render() == "outcome=undecided, done=false\n"
    with pytest.raises(DisabledActionError, match="action 'finish' is not enabled"):
        strict.step(strict.unwrapped.actions.index("finish"))
    model = gymnasium.make("corrigo/Model-v0", model=worlds["gridworld_robot"], disabled_action_cost=3.0)
    assert model.unwrapped.model is worlds["gridworld_robot"] and model.unwrapped.disabled_action_cost == 3.0
    # to_gymnasium's environment carries the spec that remakes it, as gymnasium.make's do
    direct = mdp.to_gymnasium(worlds["off_switch_game"], strict=True, render_mode="ansi")
    remade = direct.spec.make().unwrapped
    assert direct.spec.id == "corrigo/Model-v0" and isinstance(remade, MDPEnv)
    assert (remade.strict, remade.render_mode, remade.model.n_states) == (True, "ansi", 7)


def test_gymnasium_make_truncates_with_max_episode_steps() -> None:
    env = gymnasium.make("corrigo/Spec-v0", spec=ERRAND, max_episode_steps=2)
    env.reset(seed=0)
    delay = env.unwrapped.actions.index("delay")
    assert [env.step(delay)[2:4] for _ in range(2)] == [(False, False), (False, True)]


def test_gymnasium_make_errors_say_what_to_pass() -> None:
    with pytest.raises(TypeError, match=r"corrigo/Spec-v0 needs spec=: a path to a \.corrigo file, the text of a "
                                        r"spec, or a dsl\.Spec"):
        gymnasium.make("corrigo/Spec-v0")
    with pytest.raises(dsl.SpecError, match="no such file 'nowhere.corrigo'"):
        gymnasium.make("corrigo/Spec-v0", spec="nowhere.corrigo")
    with pytest.raises(ValueError, match="overrides apply when the spec is loaded"):
        gymnasium.make("corrigo/Spec-v0", spec=dsl.load(ERRAND), overrides={"x": 1})


def test_misuse_is_a_clear_error(hungry: mdp.TabularMDP) -> None:
    env = mdp.to_gymnasium(hungry)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be an integer in 0..2 \(comply, eat, wait\), got 3"):
        env.step(3)
    env.step(env.actions.index("comply"))
    with pytest.raises(DisabledActionError, match="the episode has ended in the terminal state .*: call reset"):
        env.step(0)
    with pytest.raises(ValueError, match="render_mode must be None or 'ansi', got 'human'"):
        mdp.to_gymnasium(hungry, render_mode="human")
    with pytest.raises(ValueError, match="disabled_action_cost has no effect with strict=True"):
        mdp.to_gymnasium(hungry, strict=True, disabled_action_cost=1.0)
    with pytest.raises(ValueError, match="disabled_action_cost must be finite, got inf"):
        mdp.to_gymnasium(hungry, disabled_action_cost=float("inf"))
    with pytest.raises(TypeError, match="disabled_action_cost must be a number, got '1'"):
        mdp.to_gymnasium(hungry, disabled_action_cost="1")
    with pytest.raises(TypeError, match="strict must be True or False, got 'yes'"):
        mdp.to_gymnasium(hungry, strict="yes")


def test_missing_gymnasium_names_the_extra(hungry: mdp.TabularMDP, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # import gymnasium now raises ImportError
    with pytest.raises(mdp.MissingExtraError, match=r"install it with: pip install 'corrigo\[gym\]'"):
        mdp.to_gymnasium(hungry)


def test_without_gymnasium_mdp_imports_and_only_making_an_environment_fails() -> None:
    """In a fresh interpreter where gymnasium cannot be imported, ``import mdp`` works (the registration
    looks for gymnasium without importing it) and only making an environment names the extra."""
    code = ("import sys\n"
            "sys.modules['gymnasium'] = None  # import gymnasium raises ImportError\n"
            "import mdp, dsl\n"
            "model = mdp.compile(dsl.load('examples/off_switch_game.corrigo'))\n"
            "try:\n"
            "    mdp.to_gymnasium(model)\n"
            "except mdp.MissingExtraError as error:\n"
            "    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "mdp.to_gymnasium needs the gymnasium package; install it with: pip install 'corrigo[gym]'\n"


def test_importing_mdp_registers_the_environment_ids() -> None:
    from gymnasium.envs.registration import registry

    assert registry["corrigo/Spec-v0"].entry_point == "mdp.gym_env:make_spec_env"
    assert registry["corrigo/Model-v0"].entry_point == "mdp.gym_env:MDPEnv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mdp.environment.register_environments()  # again: nothing changes, no "overriding" warning
    assert caught == []
    assert registry["corrigo/Spec-v0"].entry_point == "mdp.gym_env:make_spec_env"


@settings(max_examples=30)
@given(mdp_arrays(max_states=5), st.data())
def test_every_step_follows_the_model(arrays, data) -> None:
    """On random models: observations stay in the space, the mask is the enabled actions, the reward is
    minus the cost of the row taken and the successor is one the row can reach."""
    model = arrays.build()
    env = mdp.to_gymnasium(model)
    observation, info = env.reset(seed=data.draw(st.integers(0, 2**16)))
    for _ in range(10):
        state = env.state
        assert env.observation_space.contains(observation) and observation.tolist() == [state]
        enabled = [env.actions.index(a) for a in model.actions(state) if a != mdp.TERMINAL_ACTION]
        assert np.flatnonzero(info["action_mask"]).tolist() == sorted(enabled)
        if model.terminal[state]:
            break
        action = data.draw(st.sampled_from(enabled))
        row = next(r for r in model.rows(state) if model.row_action[r] == action)
        observation, reward, terminated, _, info = env.step(action)
        assert reward == -model.cost[row] and model.P[[row]].toarray()[0, env.state] > 0
        assert terminated == bool(model.terminal[env.state])
