"""The Gymnasium environment of a tabular model (imports gymnasium: use :func:`mdp.to_gymnasium`).

A disabled action is what an RL library's random exploration and ``gymnasium.utils.env_checker.check_env``
take all the time, so by default it is legal: the state stays as it is and the reward is minus a penalty
larger than any choice of the model costs, which leaves the optimal policies those of the model. Masks say
which actions are enabled, in the two forms RL libraries read: ``info["action_mask"]`` (``int8``, as
Gymnasium's ``Discrete.sample(mask=...)`` and its Taxi take it) and ``action_masks()`` (``bool``, the
method sb3-contrib's ``MaskablePPO`` calls). ``strict=True`` raises :class:`DisabledActionError` instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from os import PathLike
from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

import dsl
from dsl.errors import CorrigoError

from .compiler import compile
from .environment import ENTRY_POINTS, MODEL_ENV_ID, SPEC_ENV_ID
from .model import TERMINAL_ACTION, TabularMDP

__all__ = ["DisabledActionError", "MDPEnv", "default_disabled_action_cost", "make_spec_env"]


class DisabledActionError(CorrigoError, ValueError):
    """The agent took an action that is not enabled in the current state (see ``info["action_mask"]``)."""


def default_disabled_action_cost(model: TabularMDP) -> float:
    """Twice the largest ``|cost|`` of a choice of ``model`` (1 if every cost is 0): the default penalty.

    A disabled action keeps the state ``s`` and costs ``c``, so it is worth ``c + gamma V*(s)``: more than
    ``V*(s)`` exactly when ``c > (1 - gamma) V*(s)``. No policy pays more than ``max_cost`` a step, so
    ``V*(s) <= max_cost / (1 - gamma)`` when ``gamma < 1``, and ``(1 - gamma) V*(s) = 0`` when ``gamma = 1``:
    any ``c > max(max_cost, 0)`` makes every disabled action strictly worse than the optimum in every
    state, and the environment has the model's ``V*`` and optimal actions. Twice the largest ``|cost|`` is
    such a ``c``, by a margin of at least that largest ``|cost|``.
    """
    largest = float(np.abs(model.cost).max()) if model.n_rows else 0.0
    return 2.0 * largest if largest > 0 else 1.0


class MDPEnv(gymnasium.Env):
    """Episodes of a :class:`~mdp.model.TabularMDP`: from its initial state, successors sampled from ``P``.

    The options are those of :func:`mdp.to_gymnasium`; ``gymnasium.make("corrigo/Model-v0", model=...)``
    makes one too.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, model: TabularMDP, *, render_mode: str | None = None, strict: bool = False,
                 disabled_action_cost: float | None = None) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be True or False, got {strict!r}")
        if disabled_action_cost is not None:
            if strict:
                raise ValueError("disabled_action_cost has no effect with strict=True, which raises "
                                 "DisabledActionError on a disabled action: pass one or the other")
            if isinstance(disabled_action_cost, bool) or not isinstance(disabled_action_cost, (int, float,
                                                                                               np.number)):
                raise TypeError(f"disabled_action_cost must be a number, got {disabled_action_cost!r}")
            if not math.isfinite(disabled_action_cost):
                raise ValueError(f"disabled_action_cost must be finite, got {disabled_action_cost!r}")
        self.model = model
        self.render_mode = render_mode
        self.strict = strict
        # the penalty of a disabled action; None when strict
        self.disabled_action_cost: float | None = (
            None if strict else float(disabled_action_cost) if disabled_action_cost is not None
            else default_disabled_action_cost(model))
        self.discount = float(model.discount)  # for the agent: rewards are not discounted here
        self.actions = tuple(name for name in model.action_names if name != TERMINAL_ACTION)
        self.action_space = spaces.Discrete(len(self.actions))
        lo = np.array([v.domain.lo for v in model.variables], dtype=np.int64)
        hi = np.array([v.domain.hi for v in model.variables], dtype=np.int64)
        self.observation_space = spaces.MultiDiscrete(hi - lo + 1, start=lo)
        # (n, actions) the row of each enabled (state, action), -1 where the action is disabled
        self._rows = np.full((model.n_states, len(self.actions)), -1, dtype=np.int64)
        user = model.row_action < len(self.actions)  # the terminal self-loop is nobody's action
        self._rows[model.row_state[user], model.row_action[user]] = np.flatnonzero(user)
        self.state = model.initial
        # what gymnasium.make would record: check_env and env.spec.make() remake the environment from it
        # (gymnasium.make replaces it by the spec it made the environment from)
        self.spec = EnvSpec(MODEL_ENV_ID, entry_point=ENTRY_POINTS[MODEL_ENV_ID], order_enforce=False,
                            disable_env_checker=True,
                            kwargs={"model": model, "render_mode": render_mode, "strict": strict,
                                    "disabled_action_cost": disabled_action_cost})

    def action_mask(self, state: int | None = None) -> npt.NDArray[np.int8]:
        """(actions,) 1 where the action is enabled in ``state`` (default: the current state); all 0 when terminal."""
        return (self._rows[self.state if state is None else state] >= 0).astype(np.int8)

    def action_masks(self) -> npt.NDArray[np.bool_]:
        """(actions,) True where the action is enabled in the current state: what ``MaskablePPO`` asks for."""
        return self._rows[self.state] >= 0

    def _observation(self) -> npt.NDArray[np.int64]:
        codes = self.model.state_codes
        return np.array(codes[self.state] if codes is not None else [self.state], dtype=np.int64)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_mask(), "state": self.model.describe(self.state)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[npt.NDArray[np.int64], dict[str, Any]]:
        super().reset(seed=seed)
        starts = self.model.start_states  # an `init` distribution: drawn with the environment's generator
        self.state = int(starts[0]) if starts.size == 1 else \
            int(self.np_random.choice(starts, p=self.model.start_probabilities))
        return self._observation(), self._info()

    def step(self, action: int) -> tuple[npt.NDArray[np.int64], float, bool, bool, dict[str, Any]]:
        model = self.model
        if model.terminal[self.state]:
            raise DisabledActionError(f"the episode has ended in the terminal state {model.describe(self.state)}: "
                                      "call reset()")
        if not self.action_space.contains(action) and not (isinstance(action, (int, np.integer))
                                                           and 0 <= action < len(self.actions)):
            raise ValueError(f"action must be an integer in 0..{len(self.actions) - 1} "
                             f"({', '.join(self.actions)}), got {action!r}")
        row = int(self._rows[self.state, int(action)])
        if row < 0:
            if self.strict or self.disabled_action_cost is None:
                enabled = ", ".join(self.actions[a] for a in np.flatnonzero(self.action_mask()))
                raise DisabledActionError(f"action '{self.actions[int(action)]}' is not enabled in the state "
                                          f"{model.describe(self.state)}; enabled: {enabled} "
                                          "(info['action_mask'] marks them)")
            info = {**self._info(), "costs": {}, "disabled_action": True}
            return self._observation(), -self.disabled_action_cost, False, False, info
        start, stop = model.P.indptr[row], model.P.indptr[row + 1]
        cumulative = np.cumsum(model.P.data[start:stop])
        pick = int(np.searchsorted(cumulative, self.np_random.random() * cumulative[-1], side="right"))
        self.state = int(model.P.indices[start + min(pick, stop - start - 1)])
        costs = {term: float(vector[row]) for term, vector in model.costs.items()}
        info = {**self._info(), "costs": costs, "disabled_action": False}
        return self._observation(), -float(model.cost[row]), bool(model.terminal[self.state]), False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self.model.describe(self.state) + "\n"
        return None


def make_spec_env(spec: str | PathLike[str] | dsl.Spec | None = None, *,
                  overrides: Mapping[str, object] | None = None, render_mode: str | None = None,
                  strict: bool = False, disabled_action_cost: float | None = None) -> MDPEnv:
    """The environment of a spec, loaded and compiled: ``gymnasium.make("corrigo/Spec-v0", spec=...)`` calls this.

    ``spec`` is a path to a ``.corrigo`` file, the text of a spec, or a checked :class:`dsl.Spec`;
    ``overrides`` replace ``const`` and ``param`` values as ``-D`` does; the other options are those of
    :func:`mdp.to_gymnasium`.
    """
    if spec is None:
        raise TypeError(f"{SPEC_ENV_ID} needs spec=: a path to a .corrigo file, the text of a spec, or a "
                        f"dsl.Spec, e.g. gymnasium.make('{SPEC_ENV_ID}', spec='examples/household_robot.corrigo')")
    if isinstance(spec, dsl.Spec):
        if overrides:
            raise ValueError("overrides apply when the spec is loaded: pass its path or text with overrides=, "
                             "or load it with dsl.load(path, overrides)")
        checked = spec
    else:
        checked = dsl.load(spec, overrides)
    return MDPEnv(compile(checked), render_mode=render_mode, strict=strict,
                  disabled_action_cost=disabled_action_cost)
