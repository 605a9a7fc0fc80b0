"""Finite horizons: ``horizon H`` as the time-expanded model.

With episodes of ``H`` steps the objective is ``E[sum_{t < H} discount^t c(s_t, a_t)]`` and the optimal
policies depend on the steps left: at the last step a long-term investment no longer pays. The model of
that objective is the base model's states paired with the step ``t``: state ``(s, t)`` has the rows of
``s``, each leading to ``(s', t + 1)``, and ``(s, H)`` is terminal (absorbing, cost 0), as are the base
model's terminal states at every step. Only the pairs reachable from ``(s0, 0)`` are built, stage by
stage, from the compiled arrays (no expression is evaluated again). Every solver, check and report then
works on it unchanged, in rationals too, and traces show the step.

This copies the reachable states once per step they can be met at (up to ``H`` times the base model).
``corrigo verify`` decides the checks that look only at optimal play without it, by backward induction
over the steps of the base model alone (:mod:`mdp.stages`); this model serves everything else
(docs/horizon.md).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from dsl.spec import IntDomain, Variable

from .graph import ranges
from .model import TERMINAL_ACTION, Rationals, TabularMDP

__all__ = ["over_horizon", "STEP_VARIABLE", "step_name"]

STEP_VARIABLE = "step"
"""The name of the variable that counts the steps taken (``step_`` if the spec already has a ``step``)."""

IntArray = npt.NDArray[np.int64]
_ROW_BYTES = 64  # per product row: its costs, action, and a few transitions (an estimate for the budget)


def step_name(model: TabularMDP) -> str:
    """The step counter's name in traces and tables: ``step``, or ``step_`` if the world has a ``step``."""
    return STEP_VARIABLE if STEP_VARIABLE not in {v.name for v in model.variables} else STEP_VARIABLE + "_"


class HorizonTooLarge(ValueError):
    """The time-expanded model would have more states (or bytes) than allowed: the caller raises its own
    resource error with ``states``, the number of product states."""

    def __init__(self, states: int) -> None:
        super().__init__(states)
        self.states = states


def over_horizon(model: TabularMDP, steps: int, max_states: int | None = None,
                 max_bytes: int | None = None) -> TabularMDP:
    """The time-expanded model of ``model`` over ``steps`` steps (see the module docstring).

    Raises
    ------
    HorizonTooLarge
        Before building anything, when the reachable pairs exceed ``max_states`` or their rows ``max_bytes``.
    """
    P, groups, terminal = model.P, np.asarray(model.row_groups), np.asarray(model.terminal, dtype=bool)
    stages = [np.unique(model.start_states)]  # the base states met at each step (sorted)
    for _ in range(steps):
        live = stages[-1][~terminal[stages[-1]]]
        rows = ranges(groups[live], groups[live + 1])
        stages.append(np.unique(P.indices[ranges(P.indptr[rows], P.indptr[rows + 1])]).astype(np.int64))
        if max_states is not None and sum(s.size for s in stages) > max_states:
            raise HorizonTooLarge(sum(s.size for s in stages))
    sizes = np.array([s.size for s in stages])
    offsets = np.r_[0, np.cumsum(sizes)]
    n = int(offsets[-1])
    expanded = [stage[~terminal[stage]] if t < steps else stage[:0] for t, stage in enumerate(stages)]
    n_rows = int(sum(int((groups[e + 1] - groups[e]).sum()) for e in expanded)) + n - sum(e.size for e in expanded)
    if (max_states is not None and n > max_states) or (max_bytes is not None and n_rows * _ROW_BYTES > max_bytes):
        raise HorizonTooLarge(n)

    terminal_action = model.action_names.index(TERMINAL_ACTION) if TERMINAL_ACTION in model.action_names else \
        len(model.action_names)
    action_names = model.action_names if terminal_action < len(model.action_names) else \
        (*model.action_names, TERMINAL_ACTION)
    row_counts, row_base, row_action, indptr_parts, index_parts, entry_parts = [], [], [], [], [], []
    for t, stage in enumerate(stages):
        expand = np.zeros(stage.size, dtype=bool) if t == steps else ~terminal[stage]
        counts = np.where(expand, groups[stage + 1] - groups[stage], 1)
        row_counts.append(counts)
        # each product row: the base row it copies (-1: the terminal self-loop of an absorbing pair)
        base_rows = np.full(int(counts.sum()), -1, dtype=np.int64)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        copied = ranges(groups[stage[expand]], groups[stage[expand] + 1])
        base_rows[ranges(starts[expand], starts[expand] + counts[expand])] = copied
        row_base.append(base_rows)
        actions = np.full(base_rows.size, terminal_action, dtype=np.int32)
        actions[base_rows >= 0] = np.asarray(model.row_action)[base_rows[base_rows >= 0]]
        row_action.append(actions)
        entries = np.where(base_rows >= 0, P.indptr[base_rows + 1] - P.indptr[np.maximum(base_rows, 0)], 1)
        indptr_parts.append(entries)
        positions = ranges(P.indptr[base_rows[base_rows >= 0]], P.indptr[base_rows[base_rows >= 0] + 1])
        columns = np.empty(int(entries.sum()), dtype=np.int64)
        where = np.r_[0, np.cumsum(entries)[:-1]]
        loop = base_rows < 0
        own = np.repeat(np.arange(stage.size), counts)  # the product row's state, as a position in the stage
        columns[where[loop]] = offsets[t] + own[loop]
        copied_at = ranges(where[~loop], where[~loop] + entries[~loop])
        if t < steps:
            columns[copied_at] = offsets[t + 1] + np.searchsorted(stages[t + 1], P.indices[positions])
        index_parts.append(columns)
        entry = np.full(columns.size, -1, dtype=np.int64)  # the base entry each copies (-1: probability 1)
        entry[copied_at] = positions
        entry_parts.append(entry)
    base_row = np.concatenate(row_base)
    entry = np.concatenate(entry_parts)
    data = np.where(entry >= 0, P.data[np.maximum(entry, 0)], 1.0)
    indptr = np.r_[0, np.cumsum(np.concatenate(indptr_parts))]
    product_P = sp.csr_array((data, np.concatenate(index_parts).astype(np.int32), indptr), shape=(base_row.size, n))
    state = np.concatenate(stages)
    step = np.repeat(np.arange(steps + 1), sizes)

    def per_row(vector: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(base_row >= 0, np.asarray(vector)[np.maximum(base_row, 0)], 0.0)

    rationals = None
    if model.rationals is not None:
        exact = model.rationals

        def exact_rows(vector: tuple[Fraction, ...]) -> tuple[Fraction, ...]:
            return tuple(vector[r] if r >= 0 else Fraction(0) for r in base_row.tolist())
        rationals = Rationals(exact.discount, tuple(exact.P[e] if e >= 0 else Fraction(1) for e in entry.tolist()),
                              {t: exact_rows(v) for t, v in exact.costs.items()},
                              {t: exact_rows(v) for t, v in exact.intents.items()}, base_row.size)
    counter = step_name(model)
    codes = model.state_codes[state] if model.state_codes is not None else state[:, None]
    return TabularMDP(
        P=product_P,
        row_groups=np.r_[0, np.cumsum(np.concatenate(row_counts))].astype(np.int64),
        row_action=np.concatenate(row_action),
        action_names=action_names,
        costs={t: per_row(v) for t, v in model.costs.items()},
        discount=model.discount,
        initial=int(np.searchsorted(stages[0], model.initial)),  # stage 0 comes first, sorted
        starts=tuple((int(np.searchsorted(stages[0], s)), p) for s, p in model.starts),
        terminal=terminal[state] | (step == steps),
        labels={name: np.asarray(v)[state] for name, v in model.labels.items()},
        intents={t: per_row(v) for t, v in model.intents.items()},
        variables=(*(model.variables or (Variable("s", IntDomain(0, model.n_states - 1), 0),)),
                   Variable(counter, IntDomain(0, steps), 0)),
        state_codes=np.column_stack([codes, step]).astype(np.int64),
        name=model.name,
        source=model.source,
        discount_span=model.discount_span,
        rounding=replace(model.rounding, exact_rows={
            t: np.where(base_row >= 0, np.asarray(v)[np.maximum(base_row, 0)], True)
            for t, v in model.rounding.exact_rows.items()}),
        rationals=rationals,
    )
