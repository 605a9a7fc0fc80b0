"""The numbers the exports for Storm (:mod:`mdp.drn`, :mod:`mdp.jani`) write: probabilities and rewards.

Both formats carry a number either as a decimal or as an exact fraction. A model compiled with
``exact=True`` knows the spec's numbers exactly (``model.rationals``); its exports write those, so Storm's
exact engine checks the very rationals corrigo's exact solver does. Any other model writes its floats as
the shortest decimals that read back as the same doubles.

Costs become rewards, one reward structure per cost term plus ``"cost"`` for their sum, named as the
PRISM export names them (:func:`mdp.prism.prism_names`), so that the properties file of the PRISM export
fits the other exports as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .model import ModelError, TabularMDP
from .prism import TOTAL_COST, PrismNames

__all__ = ["StormNumbers", "require_single_start", "reward_names", "storm_numbers"]

Number = Fraction | int | float
"""An exact number (from ``model.rationals``: a Fraction, or an int where the spec's number is one) or a float."""


@dataclass(frozen=True, slots=True)
class StormNumbers:
    """The transitions and rewards of every row, as an export writes them.

    ``successors[r]`` and ``probabilities[r]`` are the successors of row ``r`` with nonzero probability, in
    CSR order; ``rewards`` maps each reward structure's name (``"cost"`` first) to its value on every row.
    """

    exact: bool  # the numbers are the spec's rationals (Fractions), not floats
    successors: tuple[tuple[int, ...], ...]  # (m,) rows
    probabilities: tuple[tuple[Number, ...], ...]  # (m,) rows, aligned with successors
    rewards: dict[str, tuple[Number, ...]]  # structure -> (m,)

    @property
    def n_transitions(self) -> int:
        return sum(len(row) for row in self.successors)


def storm_numbers(model: TabularMDP, names: PrismNames) -> StormNumbers:
    """The model's transitions and reward structures, exactly when the model was compiled with ``exact=True``.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> from mdp.prism import prism_names
    >>> model = from_arrays([[[0.5, 0.5], [0, 1]]], {"time": [[2, 0]], "risk": [[0.25, 0]]}, discount=0.9,
    ...                     terminal=[False, True])
    >>> numbers = storm_numbers(model, prism_names(model))
    >>> numbers.successors, numbers.probabilities
    (((0, 1), (1,)), ((0.5, 0.5), (1.0,)))
    >>> numbers.rewards
    {'cost': (2.25, 0.0), 'time': (2.0, 0.0), 'risk': (0.25, 0.0)}
    """
    P = model.P.tocsr()
    indptr, indices = P.indptr.tolist(), P.indices.tolist()
    exact = model.rationals is not None
    data: list[Number]
    if model.rationals is not None:
        data = list(model.rationals.P)
        totals: tuple[Number, ...] = tuple(model.rationals.cost())
        terms: dict[str, tuple[Number, ...]] = {t: tuple(v) for t, v in model.rationals.costs.items()}
    else:
        data = P.data.tolist()
        totals = tuple(model.cost.tolist())
        terms = {t: tuple(np.asarray(v, dtype=np.float64).tolist()) for t, v in model.costs.items()}
    successors, probabilities = [], []
    for row in range(model.n_rows):
        kept = [k for k in range(indptr[row], indptr[row + 1]) if data[k] != 0]
        successors.append(tuple(indices[k] for k in kept))
        probabilities.append(tuple(data[k] for k in kept))
    rewards = {TOTAL_COST: totals}
    rewards.update((names.terms[term], values) for term, values in terms.items() if names.terms[term] != TOTAL_COST)
    return StormNumbers(exact, tuple(successors), tuple(probabilities), rewards)


def reward_names(model: TabularMDP, names: PrismNames) -> list[str]:
    """The names of the reward structures, ``"cost"`` (the sum of the cost terms) first, then one per term."""
    return [TOTAL_COST, *(names.terms[t] for t in model.costs if names.terms[t] != TOTAL_COST)]


def require_single_start(model: TabularMDP, fmt: str) -> None:
    """Raise unless the model has one start state (an ``init`` distribution has no place in ``fmt``)."""
    if len(model.starts) > 1:
        raise ModelError(f"the model starts in one of several states at random (`init`); a {fmt} model has one "
                         "initial state (or a set, not a distribution): export each start state's spec instead")
