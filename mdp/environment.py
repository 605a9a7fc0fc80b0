"""``to_gymnasium``: the compiled world as a Gymnasium environment, so an RL agent learns in the very same MDP.

Gymnasium is an optional extra (``pip install 'corrigo[gym]'``): it is imported only when an
environment is made, and its absence is a clear error naming the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsl.errors import CorrigoError

from .model import TabularMDP

if TYPE_CHECKING:
    from .gym_env import MDPEnv

__all__ = ["MissingExtraError", "to_gymnasium"]


class MissingExtraError(CorrigoError, ImportError):
    """An optional feature needs a package that is not installed; the message says which extra installs it."""


def to_gymnasium(model: TabularMDP, *, render_mode: str | None = None,
                 disabled_action_cost: float | None = None) -> MDPEnv:
    """A ``gymnasium.Env`` that samples the transitions of ``model``, for training RL agents on the verified world.

    Observation: the state variables as a ``MultiDiscrete`` vector of variable codes (declaration order;
    integers are their values, ``bool`` is 0/1, an enum value its position). Action: ``Discrete`` over the
    model's action names; ``info["action_mask"]`` marks the actions enabled in the new state. Reward:
    minus the intrinsic cost of the choice taken (``info["costs"]`` splits it by term). ``terminated``
    on terminal states; episodes are never truncated (wrap it in ``gymnasium.wrappers.TimeLimit``).

    Parameters
    ----------
    model
        A compiled model (:func:`mdp.compile`) or one from :func:`mdp.from_arrays`.
    render_mode
        ``None`` or ``"ansi"`` (``render()`` returns the state as ``var=value, ...``).
    disabled_action_cost
        ``None`` (default): taking an action that is not enabled raises
        :class:`~mdp.gym_env.DisabledActionError`. A number: nothing happens, the reward is minus this
        cost and ``info["disabled_action"]`` is true (for agents that cannot mask).

    Raises
    ------
    MissingExtraError
        Gymnasium is not installed.
    """
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        raise MissingExtraError("mdp.to_gymnasium needs the gymnasium package; install it with: "
                                "pip install 'corrigo[gym]'") from None
    from .gym_env import MDPEnv

    return MDPEnv(model, render_mode=render_mode, disabled_action_cost=disabled_action_cost)
