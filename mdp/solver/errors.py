"""The solver's own error: it did not reach the accuracy it needs within its limits."""

from __future__ import annotations

from typing import Any

from dsl.errors import CorrigoError

__all__ = ["SolverError"]


class SolverError(CorrigoError):
    """The solver did not reach the requested accuracy within its iteration limit.

    Attributes
    ----------
    iterations
        Sweeps (or policy-iteration steps) done before giving up.
    residual
        The last ``max |V_{k+1} - V_k|`` (or Bellman residual), in cost units.
    """

    def __init__(self, message: str, iterations: int | None = None, residual: float | None = None) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable across processes
        return (type(self), (self.args[0], self.iterations, self.residual))
