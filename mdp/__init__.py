"""The finite MDP: compiled from a checked spec, or built from arrays."""

from .compiler import StateLimitError, compile
from . import environment
from .environment import MissingExtraError, to_gymnasium
from .model import TERMINAL_ACTION, ModelError, TabularMDP, from_arrays
from .power import PowerEstimate, PowerUndefinedError, optimality_probability, power
from .solver import Solution, SolverError, solve

__all__ = [
    "StateLimitError",
    "TERMINAL_ACTION",
    "MissingExtraError",
    "ModelError",
    "PowerEstimate",
    "PowerUndefinedError",
    "Solution",
    "SolverError",
    "TabularMDP",
    "compile",
    "from_arrays",
    "optimality_probability",
    "power",
    "solve",
    "to_gymnasium",
]

environment.register_environments()  # gymnasium.make("corrigo/Spec-v0", spec=...), when gymnasium is installed
