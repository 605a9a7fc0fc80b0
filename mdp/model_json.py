"""The explicit model as JSON (``corrigo export --to json``): every state, choice, cost and transition.

The schema is documented, and versioned by ``schema_version``, in ``docs/model-schema.md``. States keep
the model's indices (breadth-first from the initial state, which is 0 for compiled specs); variable
values are JSON numbers, strings (enums) and booleans, as the spec declares them.
"""

from __future__ import annotations

from typing import Any

from dsl.spec import BoolDomain, EnumDomain, IntDomain, Variable

from .model import TERMINAL_ACTION, TabularMDP

__all__ = ["SCHEMA_VERSION", "to_json"]

SCHEMA_VERSION = 1


def _variable(variable: Variable) -> dict[str, Any]:
    domain = variable.domain
    if isinstance(domain, IntDomain):
        return {"name": variable.name, "type": "int", "lo": domain.lo, "hi": domain.hi}
    if isinstance(domain, EnumDomain):
        return {"name": variable.name, "type": "enum", "values": list(domain.values)}
    return {"name": variable.name, "type": "bool"}


def _value(variable: Variable, code: int) -> int | str | bool:
    if isinstance(variable.domain, IntDomain):
        return int(code)
    if isinstance(variable.domain, BoolDomain):
        return bool(code)
    assert isinstance(variable.domain, EnumDomain)
    return variable.domain.decode(code)


def to_json(model: TabularMDP) -> dict[str, Any]:
    """The model as a JSON-ready dict: variables, states with their values and choices, costs per term.

    Examples
    --------
    >>> from mdp.model import from_arrays
    >>> model = from_arrays([[[0, 1], [0, 1]]], [[2, 0]], discount=0.5, action_names=["go"], terminal=[0, 1])
    >>> document = to_json(model)
    >>> document["states"][0]["choices"]
    [{'action': 'go', 'costs': {'cost': 2.0}, 'intents': {}, 'transitions': [{'to': 1, 'probability': 1.0}]}]
    >>> document["states"][1]["terminal"], document["states"][1]["choices"]
    (True, [])
    """
    P = model.P
    indptr, indices, data = P.indptr.tolist(), P.indices.tolist(), P.data.tolist()
    costs = {term: vector.tolist() for term, vector in model.costs.items()}
    intents = {name: vector.tolist() for name, vector in model.intents.items()}
    labels = {name: mask.tolist() for name, mask in model.labels.items()}
    codes = model.state_codes.tolist() if model.state_codes is not None else None
    states: list[dict[str, Any]] = []
    for state in range(model.n_states):
        choices = []
        for row in model.rows(state):
            action = model.action_names[model.row_action[row]]
            if action == TERMINAL_ACTION:
                continue  # the zero-cost self-loop of a terminal state is implied by "terminal"
            choices.append({
                "action": action,
                "costs": {term: values[row] for term, values in costs.items()},
                "intents": {name: values[row] for name, values in intents.items()},
                "transitions": [{"to": indices[k], "probability": data[k]}
                                for k in range(indptr[row], indptr[row + 1]) if data[k] > 0],
            })
        values = ({} if codes is None else
                  {v.name: _value(v, code) for v, code in zip(model.variables, codes[state])})
        states.append({
            "index": state,
            "values": values,
            "terminal": bool(model.terminal[state]),
            "labels": [name for name, mask in labels.items() if mask[state]],
            "choices": choices,
        })
    return {
        "schema_version": SCHEMA_VERSION,
        "model": model.name,
        "discount": float(model.discount),
        "initial": int(model.initial),
        "starts": [{"state": s, "probability": str(p)} for s, p in model.starts]
        or [{"state": int(model.initial), "probability": "1"}],
        "variables": [_variable(v) for v in model.variables],
        "cost_terms": list(model.costs),
        "intents": list(model.intents),
        "labels": list(model.labels),
        "n_states": model.n_states,
        "n_choices": sum(len(s["choices"]) for s in states),
        "states": states,
    }
