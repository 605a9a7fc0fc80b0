"""A small reference solver for verifier tests: exact-enough values and A*(s) by a plain tolerance.

It stands in for :func:`mdp.solve` where a test wants to control the optimal sets (e.g. a declared tie)
independently of the solver's own tolerance rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mdp.model import TabularMDP
from verifier.numerics import extremal_costs


@dataclass(frozen=True, eq=False)
class ReferenceSolution:
    V: npt.NDArray[np.float64]
    Q: npt.NDArray[np.float64]
    optimal: npt.NDArray[np.bool_]
    bound: float
    ties: npt.NDArray[np.bool_] | None = None


def reference_solve(model: TabularMDP, tie_tol: float = 1e-9) -> ReferenceSolution:
    values = extremal_costs(model, np.ones(model.n_rows, dtype=bool), model.cost, maximize=False, tol=1e-13)
    V = values.values
    Q = model.cost + model.discount * (model.P @ V)
    optimal = Q <= V[model.row_state] + tie_tol
    return ReferenceSolution(V, Q, optimal, values.bound)
