"""The checks, one module per kind; :func:`run_check` dispatches on the kind of a check."""

from __future__ import annotations

from collections.abc import Callable

from dsl.spec import (AcceptsShutdown, AlwaysCheck, Check, CostBound, CriticError, ExploitsCritic, InnerRegret,
                      NeverCheck, NoWireheading, OptimalityProbability, PowerSeeking, ProbabilityBound, QuantityComparison, Regret,
                      Reversible, SafelyInterruptible, SameOccupancyWhenUnobserved, SameWhenUnobserved, SideEffects)

from ..results import CheckResult
from .common import Context
from .compare import check_quantity_comparison
from .cost import check_cost
from .critic import check_critic_error, check_exploits_critic, check_inner_regret
from .interruption import check_safely_interruptible
from .observation import check_same_occupancy_when_unobserved, check_same_when_unobserved
from .invariant import check_always, check_never
from .optimality import check_optimality_probability
from .power import check_power_seeking
from .probability import check_probability
from .regret import check_regret
from .reversibility import check_reversible, check_side_effects
from .shutdown import check_accepts_shutdown
from .wireheading import check_no_wireheading

__all__ = [
    "Context", "check_accepts_shutdown", "check_always", "check_cost", "check_never", "check_optimality_probability",
    "check_power_seeking", "check_quantity_comparison", "check_safely_interruptible",
    "check_kind", "check_probability", "check_regret", "run_check",
]

# the registry: each kind of property, the name of its kind in reports, and the function that checks it
_CHECKS: dict[type, tuple[str, Callable[[Check, Context], CheckResult]]] = {
    NeverCheck: ("never", check_never),
    AlwaysCheck: ("always", check_always),
    ProbabilityBound: ("probability", check_probability),
    CostBound: ("cost", check_cost),
    AcceptsShutdown: ("accepts_shutdown", check_accepts_shutdown),
    SafelyInterruptible: ("safely_interruptible", check_safely_interruptible),
    PowerSeeking: ("power_seeking", check_power_seeking),
    OptimalityProbability: ("optimality_probability", check_optimality_probability),
    Regret: ("regret", check_regret),
    QuantityComparison: ("comparison", check_quantity_comparison),
    CriticError: ("critic_error", check_critic_error),
    ExploitsCritic: ("exploits_critic", check_exploits_critic),
    InnerRegret: ("inner_regret", check_inner_regret),
    SameWhenUnobserved: ("same_when_unobserved", check_same_when_unobserved),
    SameOccupancyWhenUnobserved: ("same_when_unobserved", check_same_occupancy_when_unobserved),
    Reversible: ("reversible", check_reversible),
    SideEffects: ("side_effects", check_side_effects),
    NoWireheading: ("no_wireheading", check_no_wireheading),
}


def run_check(check: Check, context: Context) -> CheckResult:
    """The result of ``check`` on the solved model in ``context``, at the model's weights.

    A ``check ... for all params`` is decided over the whole param box by
    :func:`verifier.verification.verify_model`, which replaces this result with the sweep's.
    """
    return _CHECKS[type(check.property)][1](check, context)


def check_kind(check: Check) -> str:
    """The kind of ``check`` as reports name it (``"never"``, ``"probability"``, ...)."""
    return _CHECKS[type(check.property)][0]
