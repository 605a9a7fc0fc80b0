"""``to_gymnasium``: the compiled world as a Gymnasium environment, so an RL agent learns in the very same MDP.

Gymnasium is an optional extra (``pip install 'corrigo[gym]'``): it is imported only when an
environment is made, or to register ours when it is installed, and its absence is a clear error naming
the extra. Importing :mod:`mdp` registers two environment ids with Gymnasium, when it is installed:
``corrigo/Spec-v0`` (``gymnasium.make("corrigo/Spec-v0", spec="world.corrigo")``) and
``corrigo/Model-v0`` (``gymnasium.make("corrigo/Model-v0", model=mdp.compile(spec))``).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from dsl.errors import CorrigoError

from .model import TabularMDP

if TYPE_CHECKING:
    from .gym_env import MDPEnv

__all__ = ["MissingExtraError", "to_gymnasium"]

SPEC_ENV_ID = "corrigo/Spec-v0"  # gymnasium.make(SPEC_ENV_ID, spec=...)
MODEL_ENV_ID = "corrigo/Model-v0"  # gymnasium.make(MODEL_ENV_ID, model=...)
# id -> entry point; the entry points live in mdp.gym_env, which gymnasium.make imports, not this module
ENTRY_POINTS = {SPEC_ENV_ID: "mdp.gym_env:make_spec_env", MODEL_ENV_ID: "mdp.gym_env:MDPEnv"}


class MissingExtraError(CorrigoError, ImportError):
    """An optional feature needs a package that is not installed; the message says which extra installs it."""


def to_gymnasium(model: TabularMDP, *, render_mode: str | None = None, strict: bool = False,
                 disabled_action_cost: float | None = None) -> MDPEnv:
    """A ``gymnasium.Env`` that samples the transitions of ``model``, for training RL agents on the verified world.

    Observation: the state variables as a ``MultiDiscrete`` vector of variable codes (declaration order;
    integers are their values, ``bool`` is 0/1, an enum value its position). Action: ``Discrete`` over the
    model's action names; ``info["action_mask"]`` (``int8``) and ``env.action_masks()`` (``bool``, for
    sb3-contrib's ``MaskablePPO``) mark the actions enabled in the current state. Reward: minus the
    intrinsic cost of the choice taken (``info["costs"]`` splits it by term). ``terminated`` on terminal
    states; episodes are never truncated (wrap it in ``gymnasium.wrappers.TimeLimit``, or pass
    ``max_episode_steps`` to ``gymnasium.make``).

    Parameters
    ----------
    model
        A compiled model (:func:`mdp.compile`) or one from :func:`mdp.from_arrays`.
    render_mode
        ``None`` or ``"ansi"`` (``render()`` returns the state as ``var=value, ...``).
    strict
        ``False`` (default): an action that is not enabled in the current state is legal: the state
        does not change (nor do the world's events happen), the reward is minus ``disabled_action_cost``,
        ``info["costs"]`` is empty and ``info["disabled_action"]`` is true. ``True``: it raises
        :class:`~mdp.gym_env.DisabledActionError`, for agents that must never take one.
    disabled_action_cost
        The penalty of a disabled action when not ``strict``. Default:
        :func:`~mdp.gym_env.default_disabled_action_cost`, twice the largest ``|cost|`` of a choice (1
        if all are 0). Any penalty above both 0 and the largest cost of a choice keeps the optimal
        policies of the environment those of the model; a smaller one may not.

    Raises
    ------
    MissingExtraError
        Gymnasium is not installed.
    ValueError
        An unknown ``render_mode``, a non-finite ``disabled_action_cost``, or one given with ``strict=True``.

    Examples
    --------
    >>> import dsl, mdp
    >>> spec = dsl.load('''
    ... model door
    ... discount 0.9
    ... var open : bool
    ... action push when !open: open' = true
    ... action pull when open: open' = false
    ... cost effort = 1 * [push] + 1 * [pull]
    ... ''')
    >>> env = mdp.to_gymnasium(mdp.compile(spec))
    >>> env.actions, env.disabled_action_cost
    (('push', 'pull'), 2.0)
    >>> observation, info = env.reset(seed=0)
    >>> info["action_mask"], env.action_masks()
    (array([1, 0], dtype=int8), array([ True, False]))
    >>> observation, reward, terminated, truncated, info = env.step(env.actions.index("pull"))
    >>> observation, reward, info["disabled_action"]  # not enabled: nothing happens, at a cost
    (array([0]), -2.0, True)
    """
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        raise MissingExtraError("mdp.to_gymnasium needs the gymnasium package; install it with: "
                                "pip install 'corrigo[gym]'") from None
    from .gym_env import MDPEnv

    return MDPEnv(model, render_mode=render_mode, strict=strict, disabled_action_cost=disabled_action_cost)


def register_environments() -> None:
    """Register ``corrigo/Spec-v0`` and ``corrigo/Model-v0`` with Gymnasium if it is installed, else do nothing.

    Called when :mod:`mdp` is imported. Without Gymnasium nothing is imported (``find_spec`` only looks
    for it); with it, only its registry is touched: the environments' module is imported by
    ``gymnasium.make``. Registering twice is a no-op.
    """
    try:
        if importlib.util.find_spec("gymnasium") is None:
            return
        from gymnasium.envs.registration import register, registry
    except (ImportError, ValueError):  # ValueError: a gymnasium module without a spec, as some test doubles are
        return
    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point)
