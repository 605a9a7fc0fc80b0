"""The Gymnasium environment of a tabular model (imports gymnasium: use :func:`mdp.to_gymnasium`)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from dsl.errors import CorrigoError

from .model import TERMINAL_ACTION, TabularMDP

__all__ = ["DisabledActionError", "MDPEnv"]


class DisabledActionError(CorrigoError, ValueError):
    """The agent took an action that is not enabled in the current state (see ``info["action_mask"]``)."""


class MDPEnv(gymnasium.Env):
    """Episodes of a :class:`~mdp.model.TabularMDP`: from its initial state, successors sampled from ``P``."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, model: TabularMDP, render_mode: str | None = None,
                 disabled_action_cost: float | None = None) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.model = model
        self.render_mode = render_mode
        self.disabled_action_cost = disabled_action_cost
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

    def action_mask(self, state: int | None = None) -> npt.NDArray[np.int8]:
        """(actions,) 1 where the action is enabled in ``state`` (default: the current state); all 0 when terminal."""
        return (self._rows[self.state if state is None else state] >= 0).astype(np.int8)

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
            enabled = ", ".join(self.actions[a] for a in np.flatnonzero(self.action_mask()))
            if self.disabled_action_cost is None:
                raise DisabledActionError(f"action '{self.actions[int(action)]}' is not enabled in the state "
                                          f"{model.describe(self.state)}; enabled: {enabled} "
                                          "(info['action_mask'] marks them)")
            info = {**self._info(), "costs": {}, "disabled_action": True}
            return self._observation(), -float(self.disabled_action_cost), False, False, info
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
