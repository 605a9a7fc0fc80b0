"""The solver: certified optimal values and optimal action sets, in floats or in the spec's rationals.

One pipeline serves every numerical question corrigo asks (:mod:`.optimize` on a :mod:`.problem`):
the agent's optimum (:func:`solve`), and through :mod:`mdp.quantities` a cost term's or an intent's
range over a set of policies and reachability probabilities. The package by concern:

* :mod:`.problem` the one problem (minimise a cost over the policies of a sub-model) and its exact numbers;
* :mod:`.iteration` the action-major sweep layout and value iteration;
* :mod:`.linear` policy evaluation, the one linear solve;
* :mod:`.certificate` the error bound and the optimal-row threshold, bound by bound;
* :mod:`.exact` rational arithmetic: exact policy values and exact policy iteration;
* :mod:`.proper` discount 1: proper policies, loops, and their located errors;
* :mod:`.optimize` the pipeline; :mod:`.solution` :func:`solve` and :class:`Solution`.
"""

from .errors import SolverError
from .solution import Solution, policy_term_values, solve, start_term_values

__all__ = ["Solution", "SolverError", "policy_term_values", "solve", "start_term_values"]
