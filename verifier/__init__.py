"""Verify what every optimal policy of an intrinsic cost does: checks, verdicts, explanations, reports."""

from .results import Attribution, CheckResult, Location, Quantity, Report, Step, TermContribution, Trace, Verdict
from .policy import PolicyError, PolicyReport, verify_policy
from .submodel import OptimalSubmodel, optimal_submodel
from .verification import verify, verify_model

__all__ = [
    "Attribution", "CheckResult", "Location", "OptimalSubmodel", "PolicyError", "PolicyReport", "Quantity", "Report",
    "Step", "TermContribution", "Trace", "Verdict", "optimal_submodel", "verify", "verify_model", "verify_policy",
]
