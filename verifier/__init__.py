"""Verify what every optimal policy of an intrinsic cost does: checks, verdicts, explanations, reports.

The names below are imported on first use (PEP 562), so that importing ``verifier.pytest_plugin``,
which pytest does at every start in any environment where corrigo is installed, stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .policy import PolicyError, PolicyReport, verify_policy
    from .results import (Attribution, CheckResult, Location, Quantity, Report, Step, TermContribution, Trace,
                          Verdict)
    from .submodel import OptimalSubmodel, optimal_submodel
    from .verification import verify, verify_model

__all__ = [
    "Attribution", "CheckResult", "Location", "OptimalSubmodel", "PolicyError", "PolicyReport", "Quantity", "Report",
    "Step", "TermContribution", "Trace", "Verdict", "optimal_submodel", "verify", "verify_model", "verify_policy",
]

_MODULE_OF = {
    **dict.fromkeys(("PolicyError", "PolicyReport", "verify_policy"), "policy"),
    **dict.fromkeys(("Attribution", "CheckResult", "Location", "Quantity", "Report", "Step", "TermContribution",
                     "Trace", "Verdict"), "results"),
    **dict.fromkeys(("OptimalSubmodel", "optimal_submodel"), "submodel"),
    **dict.fromkeys(("verify", "verify_model"), "verification"),
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'verifier' has no attribute '{name}'")
    value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
