"""``mdp.to_gymnasium``: the environment samples the model's transitions, and an RL agent learns its optimal policy."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
import mdp
from tests.strategies import mdp_arrays

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from mdp.gym_env import DisabledActionError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.filterwarnings("ignore:.*alternative render modes")  # it wants a registered env for that
def test_passes_the_gymnasium_env_checker(hungry: mdp.TabularMDP) -> None:
    check_env(mdp.to_gymnasium(mdp.compile(dsl.load(ERRAND))))
    # with disabled actions in the initial state the checker's random actions need the penalty mode
    check_env(mdp.to_gymnasium(hungry, disabled_action_cost=10.0, render_mode="ansi"))


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


def test_a_disabled_action_is_an_error_or_the_documented_penalty(hungry: mdp.TabularMDP) -> None:
    env = mdp.to_gymnasium(hungry)
    env.reset(seed=0)
    with pytest.raises(DisabledActionError) as error:
        env.step(env.actions.index("wait"))
    assert str(error.value) == ("action 'wait' is not enabled in the state fed=false, off=false, switch=armed; "
                                "enabled: comply, eat (info['action_mask'] marks them)")
    env = mdp.to_gymnasium(hungry, disabled_action_cost=10.0)
    observation, _ = env.reset(seed=0)
    after, reward, terminated, _, info = env.step(env.actions.index("wait"))
    assert after.tolist() == observation.tolist() and reward == -10.0 and not terminated
    assert info["disabled_action"] and info["costs"] == {}


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


def test_missing_gymnasium_names_the_extra(hungry: mdp.TabularMDP, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # import gymnasium now raises ImportError
    with pytest.raises(mdp.MissingExtraError, match=r"install it with: pip install 'corrigo\[gym\]'"):
        mdp.to_gymnasium(hungry)


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
