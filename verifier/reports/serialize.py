"""``to_json``: a report as a JSON-ready dict with a stable, versioned schema (``docs/report-schema.md``)."""

from __future__ import annotations

import decimal
import math
from typing import Any

from dsl.errors import CorrigoError, Diagnostic, SpecError

from ..results import Attribution, CheckResult, Quantity, Report, Trace

__all__ = ["SCHEMA_VERSION", "diagnostic_json", "error_json", "to_json"]

SCHEMA_VERSION = 1


def to_json(report: Report) -> dict[str, Any]:
    """The report as plain dicts, lists, strings and numbers (floats to 10 significant digits)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "spec": report.spec,
        "file": report.path,
        "verdict": report.verdict.value,
        "model": {
            "states": report.n_states,
            "rows": report.n_rows,
            "transitions": report.n_transitions,
            "optimal_states": report.n_optimal_states,
            "steps": report.steps,
            "discount": _number(report.discount),
        },
        "value": {"value": _number(report.value), "bound": _bound(report.bound)},
        "checks": [_check(check) for check in report.checks],
        "error": None,
    }


def error_json(path: str, error: CorrigoError, kind: str) -> dict[str, Any]:
    """A spec that could not be verified, in the report's shape: verdict ``"error"``, no model, no checks,
    and ``error`` saying what (``kind``: ``spec``, ``resource`` or ``internal``; a spec error's diagnostics)."""
    diagnostics = error.diagnostics if isinstance(error, SpecError) else ()
    return {
        "schema_version": SCHEMA_VERSION,
        "spec": None,
        "file": path,
        "verdict": "error",
        "model": None,
        "value": None,
        "checks": [],
        "error": {"kind": kind, "message": error.render() if isinstance(error, SpecError) else str(error),
                  "diagnostics": [diagnostic_json(path, d) for d in diagnostics]},
    }


def diagnostic_json(path: str, diagnostic: Diagnostic) -> dict[str, Any]:
    """One located message of a spec error (``corrigo lint --format json`` lists these)."""
    span = diagnostic.span
    return {
        "file": span.path if span else path,
        "line": span.line if span else None,
        "col": span.column if span else None,
        "end_line": span.end_line if span else None,
        "end_col": span.end_column if span else None,
        "severity": "error",
        "message": diagnostic.message,
        "hint": diagnostic.hint,
        "notes": list(diagnostic.notes),
    }


def _check(check: CheckResult) -> dict[str, Any]:
    location = check.location
    return {
        "name": check.name,
        "kind": check.kind,
        "property": check.text,
        "location": None if location is None else {"file": location.path, "line": location.line,
                                                   "col": location.column},
        "verdict": check.verdict.value,
        "summary": check.summary,
        "settle": check.settle,
        "basis": None if check.basis is None else check.basis.value,
        "scenario": check.scenario,
        "quantities": [_quantity(q) for q in check.quantities],
        "parts": [_check(part) for part in check.parts],
        "trace": _trace(check.trace),
        "attribution": _attribution(check.attribution),
    }


def _quantity(quantity: Quantity) -> dict[str, Any]:
    return {"name": quantity.name, "value": _number(quantity.value), "bound": _bound(quantity.bound),
            "low": _number(quantity.low, decimal.ROUND_FLOOR), "high": _number(quantity.high, decimal.ROUND_CEILING)}


def _trace(trace: Trace | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    return {"probability": _number(trace.probability),
            "steps": [{"state": step.state, "action": step.action,
                       "probability": None if step.probability is None else _number(step.probability)}
                      for step in trace.steps]}


def _attribution(attribution: Attribution | None) -> dict[str, Any] | None:
    if attribution is None:
        return None
    return {
        "state": attribution.state,
        "chosen": attribution.chosen,
        "alternative": attribution.alternative,
        "gap": None if attribution.gap is None else _number(attribution.gap),
        "is_tie": attribution.is_tie,
        "terms": [{"term": t.term, "immediate": _number(t.immediate), "future": _number(t.future),
                   "total": _number(t.total)} for t in attribution.terms],
    }


def _number(value: float, rounding: str = decimal.ROUND_HALF_EVEN, digits: int = 10) -> float | str | None:
    """Finite floats to 10 significant digits (stable across platforms), rounded as ``rounding`` says (the
    ends of an interval outward, so that it still holds the true value); infinities as strings."""
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    rounded = float(decimal.Context(prec=digits, rounding=rounding).create_decimal(value))
    return 0.0 if rounded == 0 else rounded


def _bound(value: float) -> float | str | None:
    """Error bounds to 2 significant digits, rounded up: they are upper estimates, not values."""
    return _number(value, decimal.ROUND_CEILING, 2)
