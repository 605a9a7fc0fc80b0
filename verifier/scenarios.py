"""Worlds that change: checks ``in`` a scenario, and a policy carried from one scenario into another.

A scenario (``scenario deploy: WATCHED = false``) is the spec with some consts and params set, and the
actions and events declared ``in`` it (``action press in deploy: ...``): its own compiled model, its own
optimum, over the same variables. ``check NAME in deploy : ...`` is verified there like any check.
``check NAME in deploy with policy from train : ...`` runs in ``deploy`` the behaviour optimal in
``train``: at every state of ``deploy`` that ``train``'s model has too (the same values of the variables),
the actions optimal there in ``train`` (ties kept, those enabled in ``deploy``); at the others the
``otherwise`` action, or none. A state without one that the behaviour reaches fails every such check,
with the path to it: the policy meets a situation it was never optimised for (distribution shift, goal
misgeneralisation). Otherwise the behaviour is checked like an agent's (``verify ... under``), its cost
compared with ``deploy``'s own optimum.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import numpy.typing as npt

import dsl
import mdp
from dsl.spec import Spec
from mdp.model import TabularMDP
from mdp.solver import Solution

__all__ = ["scenario_optimum", "scenario_spec", "transferred_rows", "with_settings"]


def scenario_spec(spec: Spec, name: str) -> Spec:
    """``spec`` loaded as its scenario ``name``: the user's ``-D`` values, then the scenario's settings, and
    the actions and events declared ``in`` it."""
    return with_settings(spec, spec.scenario(name).settings, world=name)


def with_settings(spec: Spec, settings: tuple[tuple[str, Fraction | bool], ...], world: str | None = None) -> Spec:
    """``spec`` loaded again with some consts and params set (a scenario's, a critic's training world), after
    the user's ``-D`` values, as the scenario ``world`` (None: the spec's own world); its ``overrides`` stay
    the user's."""
    values = {key: int(value) if isinstance(value, Fraction) and value.denominator == 1 else value
              for key, value in settings}
    return replace(dsl.check_source(spec.source, {**dict(spec.overrides), **values}, world), overrides=spec.overrides)


def scenario_optimum(spec: Spec, name: str) -> Solution:
    """The scenario ``name`` of ``spec`` compiled and solved (its model is the solution's)."""
    return mdp.solve(mdp.compile(scenario_spec(spec, name)))


def transferred_rows(spec: Spec, model: TabularMDP, optimum: Solution, otherwise: str | None
                     ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The behaviour optimal in another world (``optimum``, :func:`scenario_optimum`), carried into ``model``
    (``spec``'s world): ``(rows, untrained)``, the rows it may take in each state and the non-terminal states
    where it has none (the other world lacks the state, or every action optimal there is disabled here, and
    the ``otherwise`` action does not apply)."""
    source = optimum.model
    width = len(spec.variables)
    actions_at = {}
    names = np.asarray(source.action_names, dtype=object)
    codes = source.state_codes if source.state_codes is not None else np.zeros((source.n_states, 0), dtype=np.int64)
    for state, key in enumerate(map(tuple, codes[:, :width].tolist())):
        rows = np.arange(source.row_groups[state], source.row_groups[state + 1])
        actions_at[key] = frozenset(names[source.row_action[rows[np.asarray(optimum.optimal)[rows]]]].tolist())
    here = model.state_codes if model.state_codes is not None else np.zeros((model.n_states, 0), dtype=np.int64)
    here_names = np.asarray(model.action_names, dtype=object)[model.row_action]
    allowed = np.zeros(model.n_rows, dtype=bool)
    terminal = np.asarray(model.terminal, dtype=bool)
    for state, key in enumerate(map(tuple, here[:, :width].tolist())):
        rows = np.arange(model.row_groups[state], model.row_groups[state + 1])
        if terminal[state]:
            allowed[rows] = True
            continue
        wanted = actions_at.get(key, frozenset())
        chosen = rows[np.isin(here_names[rows], list(wanted))] if wanted else rows[:0]
        if chosen.size == 0 and otherwise is not None:
            chosen = rows[here_names[rows] == otherwise]
        allowed[chosen] = True
    has = np.add.reduceat(allowed, np.asarray(model.row_groups[:-1]), dtype=np.int64) > 0
    return allowed, ~has & ~terminal
