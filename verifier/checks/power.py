"""``power_seeking ~ x``: Turner et al.'s POWER (not implemented yet; issue 5)."""

from __future__ import annotations

from dsl.spec import Check, PowerSeeking

from ..results import CheckResult, Verdict
from .common import Context, result

__all__ = ["check_power_seeking"]


def check_power_seeking(check: Check, context: Context) -> CheckResult:
    """Always INCONCLUSIVE for now: POWER estimation is not supported yet."""
    assert isinstance(check.property, PowerSeeking)
    return result(check, "power_seeking", Verdict.INCONCLUSIVE,
                  "power_seeking is not supported yet; this check was not evaluated", context,
                  settle="a later corrigo release (POWER estimation, issue 5)")
