"""Storm reads the DRN and JANI exports as the model corrigo built, and its optimum is corrigo's.

The DRN export is read with ``stormpy.build_model_from_drn`` (states in corrigo's order), the JANI export
with ``stormpy.parse_jani_model`` and built with state valuations (Storm numbers the states in its own
order; the location variable ``_loc_<automaton>`` is corrigo's index). Then, for both:

- the sizes are corrigo's: states, choices and transitions; every choice has corrigo's action, successors,
  probabilities and cost per term (floats written as shortest decimals read back as the same doubles);
- the labels are corrigo's (``init``, ``terminal``, the spec's);
- JANI: every state's variables have corrigo's values (an enum value: its position);
- the optimal value of the ``"cost"`` property of the export's .props, in every state: with discount 1 on
  the spec's exact numbers (``compile(spec, exact=True)``), Storm's exact engine gives exactly the rationals
  of ``mdp.solve(model, exact=True)``; Storm has no exact engine for discounted rewards, so with a
  discount its sound value iteration must agree within its precision plus our bound;
- with the spec's checks in the .props, every property (the checks among them) has the same value on the
  DRN and JANI exports as on the PRISM export.
"""

from __future__ import annotations

import glob
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

stormpy = pytest.importorskip("stormpy")
stormpy_io = pytest.importorskip("stormpy.io")

import dsl  # noqa: E402
import mdp  # noqa: E402
from dsl.spec import EnumDomain, Spec  # noqa: E402
from mdp.drn import to_drn_files  # noqa: E402
from mdp.graph import reachable_states  # noqa: E402
from mdp.jani import jani_variable_names, to_jani_files  # noqa: E402
from mdp.model import TabularMDP  # noqa: E402
from mdp.prism import prism_names, to_prism_files  # noqa: E402
from random_mdps import random_mdp  # noqa: E402

pytestmark = pytest.mark.crosscheck

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples" / "*.corrigo")))
STORM_PRECISION = 1e-10
FORMATS = ["drn", "jani"]


def read(model: TabularMDP, fmt: str, directory: Path, exact: bool = False,
         spec: Spec | None = None) -> tuple[Any, list[Any], list[int]]:
    """Export ``model`` (with the checks of ``spec``), have Storm build it; return the Storm model, its
    properties and, for each Storm state, corrigo's index of it."""
    value_type = stormpy.Rational if exact else float
    if fmt == "prism":
        model_path, properties_path = to_prism_files(model, directory / "model", spec)
        program = stormpy.parse_prism_program(str(model_path))
        properties = stormpy.parse_properties(properties_path.read_text(), program)
        options = stormpy.BuilderOptions(properties, program)
        options.set_build_state_valuations()
        options.set_build_all_labels()
        options.set_build_all_reward_models()
        built = stormpy.build_model[value_type](program, options=options)
        variable = program.get_module(prism_names(model).module).get_integer_variable("s").expression_variable
        return built, properties, [built.state_valuations.get_int64_value(i, variable)
                                   for i in range(built.nr_states)]
    if fmt == "drn":
        model_path, properties_path = to_drn_files(model, directory / "model", spec)
        options = stormpy_io.DirectEncodingParserOptions()
        options.build_choice_labeling = True
        built = stormpy.build_model_from_drn[value_type](str(model_path), options=options)
        properties = stormpy.parse_properties(properties_path.read_text())
        return built, properties, list(range(built.nr_states))
    model_path, properties_path = to_jani_files(model, directory / "model", spec)
    jani, _ = stormpy.parse_jani_model(str(model_path))
    properties = stormpy.parse_properties(properties_path.read_text(), jani)
    options = stormpy.BuilderOptions([])
    options.set_build_state_valuations()
    options.set_build_all_reward_models()
    options.set_build_choice_labels()
    options.set_build_all_labels()
    built = stormpy.build_model[value_type](jani, options=options)
    (location,) = [v for v in built.state_valuations.get_all_variables()
                   if v.name == f"_loc_{prism_names(model).module}"]
    return built, properties, [built.state_valuations.get_int64_value(i, location) for i in range(built.nr_states)]


def valuation(built: Any, state: int) -> dict[str, Any]:
    """A state's variables as Storm holds them (float models: stormpy 2.0 cannot write a rational variable
    to JSON, and the transient reward variables are rational in an exact model)."""
    return json.loads(str(built.state_valuations.to_json(state)))


def storm_environment(exact: bool) -> Any:
    if exact:
        return stormpy.environments.exact()
    environment = stormpy.environments.sound()
    min_max = environment.solver().min_max()
    min_max.precision = stormpy.Rational(STORM_PRECISION)
    min_max.relative_termination_criterion = False
    return environment


def assert_same_model(model: TabularMDP, built: Any, states: list[int], fmt: str) -> None:
    """Storm's model, its states mapped to corrigo's by ``states``, is ``model`` choice by choice: every state
    from DRN, the states reachable from the initial one from JANI (Storm builds no others).

    Storm reads a DRN decimal as the nearest double, so DRN numbers are exactly corrigo's floats. A JANI
    decimal lands up to two units in the last place below (Storm goes through an exact rational and
    truncates).
    """
    if fmt == "drn":
        same = float.__eq__
        shown = np.ones(model.n_states, dtype=bool)
    else:
        def same(theirs: float, ours: float) -> bool:
            return abs(theirs - ours) <= 2 * math.ulp(ours)
        shown = reachable_states(model)
    assert sorted(states) == np.flatnonzero(shown).tolist()
    rows = np.flatnonzero(shown[model.row_state])
    assert (built.nr_states, built.nr_choices, built.nr_transitions) == \
        (len(states), rows.size, model.P[rows].count_nonzero())
    names = prism_names(model)
    P = model.P.tocsr()
    matrix = built.transition_matrix
    rewards = {"cost": model.cost, **{names.terms[t]: v for t, v in model.costs.items() if names.terms[t] != "cost"}}
    assert set(built.reward_models) == set(rewards)
    storm_rewards = {name: np.asarray(built.reward_models[name].state_action_rewards) for name in rewards
                     if built.reward_models[name].has_state_action_rewards}
    assert storm_rewards.keys() == {name for name, vector in rewards.items() if vector[rows].any()}
    for storm_state, state in enumerate(states):
        storm_rows = range(matrix.get_row_group_start(storm_state), matrix.get_row_group_end(storm_state))
        assert len(storm_rows) == len(model.rows(state))
        for storm_row, row in zip(storm_rows, model.rows(state)):  # choices keep their order
            assert built.choice_labeling.get_labels_of_choice(storm_row) == {names.actions[model.row_action[row]]}
            theirs = {states[entry.column]: entry.value for entry in matrix.get_row(storm_row)}
            span = slice(P.indptr[row], P.indptr[row + 1])
            ours = dict(zip(P.indices[span].tolist(), P.data[span].tolist()))
            assert theirs.keys() == ours.keys() and all(same(theirs[j], ours[j]) for j in ours)
            for name, vector in storm_rewards.items():
                assert same(vector[storm_row], rewards[name][row])

    labels = {"terminal": model.terminal, **{names.labels[label]: mask for label, mask in model.labels.items()}}
    initial = np.zeros(model.n_states, dtype=bool)
    initial[model.initial] = True
    for label, mask in {"init": initial, **labels}.items():
        storm = np.zeros(model.n_states, dtype=bool)
        if built.labeling.contains_label(label):  # DRN declares a label by using it: an empty one is missing
            storm[[states[i] for i in built.labeling.get_states(label)]] = True
        assert np.array_equal(storm, np.asarray(mask, dtype=bool) & shown), label


def storm_values(model: TabularMDP, built: Any, properties: list[Any], states: list[int],
                 exact: bool) -> list[Any]:
    """Storm's value of the ``"cost"`` property in every corrigo state."""
    (cost,) = [p for p in properties if p.get_name() == "cost"]
    result = stormpy.model_checking(built, cost, environment=storm_environment(exact))
    values: list[Any] = [None] * model.n_states
    for storm_state, state in enumerate(states):
        values[state] = result.get_value(storm_state)
    return values


# --- the model itself ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(10))
def test_storm_reads_a_random_model_as_built(seed: int, fmt: str, tmp_path: Path) -> None:
    model = random_mdp(seed)
    built, _, states = read(model, fmt, tmp_path)
    assert_same_model(model, built, states, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_storm_reads_an_example_as_built(path: str, fmt: str, tmp_path: Path) -> None:
    model = mdp.compile(dsl.load(path))
    built, _, states = read(model, fmt, tmp_path)
    assert_same_model(model, built, states, fmt)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_storm_has_every_variable_of_every_state_from_jani(path: str, tmp_path: Path) -> None:
    model = mdp.compile(dsl.load(path))
    built, _, states = read(model, "jani", tmp_path)
    assert built.has_state_valuations()
    names = jani_variable_names(model)
    for storm_state, state in enumerate(states):
        storm = valuation(built, storm_state)
        for variable, name in zip(model.variables, names):
            value = model.state_values(state)[variable.name]
            if isinstance(variable.domain, EnumDomain):
                value = variable.domain.values.index(value)
            assert (storm[name], type(storm[name])) == (value, type(value)), \
                f"'{variable.name}' in Storm state {storm_state}, corrigo state {state}"


# --- the optimum ----------------------------------------------------------------------------------------


def exact(value: Any) -> Fraction:
    """A Storm rational as a Fraction."""
    return Fraction(str(value).replace("(", "").replace(")", ""))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_storms_optimum_is_corrigos_exact_optimum(path: str, fmt: str, tmp_path: Path) -> None:
    model = mdp.compile(dsl.load(path), exact=True)
    solution = mdp.solve(model, exact=True)
    undiscounted = model.discount == 1
    built, properties, states = read(model, fmt, tmp_path, exact=undiscounted)
    values = storm_values(model, built, properties, states, exact=undiscounted)
    if undiscounted:  # exactly the same rationals
        assert [exact(v) for v in values] == [solution.exact_V[s] for s in range(model.n_states)]
    else:
        ours = np.array([float(solution.exact_V[s]) for s in range(model.n_states)])
        storm = np.array(values, dtype=np.float64)
        assert np.abs(storm - ours).max() <= STORM_PRECISION * (1 + 1e-3) + 1e-12 * (1 + np.abs(ours).max())


@pytest.mark.parametrize("seed", range(10))
def test_storms_optimum_on_drn_is_the_solvers(seed: int, tmp_path: Path) -> None:
    model = random_mdp(seed)
    solution = mdp.solve(model)
    exact_mode = model.discount == 1 and bool((model.cost < 0).any())  # Storm's floats need costs >= 0 there
    built, properties, states = read(model, "drn", tmp_path, exact=exact_mode)
    storm = np.array([float(v) for v in storm_values(model, built, properties, states, exact_mode)])
    reachable = reachable_states(model)
    ours: npt.NDArray[np.float64] = np.asarray(solution.V)
    allowed = solution.bound + (0 if exact_mode else STORM_PRECISION * (1 + 1e-3)) + 1e-12 * (1 + np.abs(ours))
    assert np.all(np.abs(storm - ours)[reachable] <= allowed[reachable])


# --- the spec's checks ----------------------------------------------------------------------------------

CHECKS_SPEC = str(ROOT / "tests" / "golden" / "export" / "prism_checks.corrigo")


@pytest.mark.parametrize("path", [CHECKS_SPEC, *EXAMPLES], ids=lambda p: Path(p).stem)
def test_every_property_has_the_same_value_as_on_the_prism_export(path: str, tmp_path: Path) -> None:
    """The checks' labels and properties mean on DRN and JANI what they mean on the PRISM export."""
    spec = dsl.load(path)
    model = mdp.compile(spec)
    if model.n_states > 1_000:
        pytest.skip(f"{model.n_states} states: Storm's build of the PRISM export is quadratic")
    exact_mode = model.discount == 1 and bool((model.cost < 0).any())  # Storm's floats need costs >= 0 there
    values = {}
    for fmt in ("prism", "drn", "jani"):
        (tmp_path / fmt).mkdir()
        built, properties, states = read(model, fmt, tmp_path / fmt, exact_mode, spec)
        by_state: dict[str, list[Any]] = {}
        for prop in properties:
            result = stormpy.model_checking(built, prop, environment=storm_environment(exact_mode))
            column: list[Any] = [None] * model.n_states
            truth = result.get_truth_values_vector() if result.is_qualitative() else None
            for storm_state, state in enumerate(states):
                column[state] = truth.get(storm_state) if truth is not None else result.get_value(storm_state)
            by_state[prop.get_name()] = column
        values[fmt] = by_state
    assert values["drn"].keys() == values["jani"].keys() == values["prism"].keys()
    if path == CHECKS_SPEC:  # "cost", Pmax and Pmin of reaching 'far', and the 15 checks Storm can check
        assert len(values["prism"]) == 18
    reachable = reachable_states(model)
    for name, prism in values["prism"].items():
        for fmt in ("drn", "jani"):
            for state in np.flatnonzero(reachable).tolist():
                theirs, ours = values[fmt][name][state], prism[state]
                if isinstance(ours, bool):
                    assert theirs is ours, (fmt, name, state)
                else:
                    assert abs(float(theirs) - float(ours)) <= 2 * STORM_PRECISION, (fmt, name, state, theirs, ours)
