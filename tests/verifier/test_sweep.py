"""``verifier.sweep``: exact regions of the param box, verdicts per region and on boundary faces."""

from __future__ import annotations

import itertools
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
import scipy.optimize
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import dsl
import mdp
from mdp.model import ModelError
from mdp.parametric import ParametricModel, parametric
from tests.cli.corrigo_cli import run as run_cli
from verifier import Verdict, verify, verify_model
from verifier.sweep import SweepError, SweepResult, _vertices, for_all_results, polygon_of, sweep, sweep_model

ROOT = Path(__file__).resolve().parents[2]


def switching(a: int, b: int) -> str:
    """Stay is worth -2w (discount 1/2), complying -2a/b: they cross at w = a/b."""
    return f"""
model switch
discount 0.5
param w = 0 in [0, 4]
var off : bool = false
action comply when !off: off' = true
action stay when !off: skip
terminal off
cost pleasure = -w * [stay]
cost duty = -{2 * a}/{b} * [comply]
check stops : P >= 1 [ F off ]
"""


def verdicts_at(spec: dsl.Spec, pm: ParametricModel, point: tuple[Fraction, ...]) -> dict[str, Verdict]:
    """Every check's verdict from solving the model at ``point`` exactly: the reference for a sweep."""
    at = pm.at(point)
    report = verify_model(spec, at, mdp.solve(at, exact=True), exact=True, sweep=False)
    return {c.name: c.verdict for c in report.checks}


def assert_agrees_on_grid(spec: dsl.Spec, result: SweepResult, divisions: int) -> None:
    """The sweep's verdicts at every point of a grid over the box (its sides cut in ``divisions``)."""
    pm = parametric(spec, mdp.compile(spec, exact=True))
    steps = [[p.lo + (p.hi - p.lo) * Fraction(i, divisions) for i in range(divisions + 1)] for p in pm.params]
    for point in itertools.product(*steps):
        truth = verdicts_at(spec, pm, point)
        assert truth == dict(result.locate(point).verdicts), point
        for name, description in result.descriptions.items():  # the grid crosses the printed boundaries
            said = printed_holds(description, result.names, point)
            assert said is None or " (except" in description or said == (truth[name] is Verdict.HOLDS), point


def printed_holds(description: str, names: tuple[str, ...], point: tuple[Fraction, ...]) -> bool | None:
    """Whether a printed 'holds where' says the check holds at ``point`` (None: it does not say)."""
    text = description.split(" (except")[0]
    if text.startswith("in ") and "not one convex piece" in text:
        return None
    if text in ("everywhere in the box", "nowhere in the box"):
        return text == "everywhere in the box"
    values = {sympy.Symbol(n): sympy.Rational(x.numerator, x.denominator) for n, x in zip(names, point)}
    compare = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               ">": lambda a, b: a > b, "!=": lambda a, b: a != b, "==": lambda a, b: a == b}
    for part in text.split(" and "):
        left, op, right = re.fullmatch(r"\(?(.+?) (<=|>=|<|>|!=|==) (.+?)\)?", part.strip()).groups()
        if not compare[op](sympy.sympify(left).subs(values), sympy.sympify(right).subs(values)):
            return False
    return True


def assert_descriptions_true(spec: dsl.Spec, result: SweepResult) -> None:
    """Every printed 'holds where' against solving exactly at each cell's point and each vertex of its
    closure (points on every printed boundary), but for the boundary faces it names as exceptions."""
    pm = parametric(spec, mdp.compile(spec, exact=True))
    points = {cell.point for cell in result.cells} | {v for cell in result.cells for v in polygon_of(result, cell)}
    for point in sorted(points):
        truth = verdicts_at(spec, pm, point)
        exceptions = {name for face, name in result.odd_faces() if result.locate(point) is face}
        for name, description in result.descriptions.items():
            said = printed_holds(description, result.names, point)
            if said is not None and name not in exceptions and "." not in description:  # decimals: rounded
                assert said == (truth[name] is Verdict.HOLDS), (name, description, point, truth[name])


@pytest.mark.parametrize("a, b", [(3, 7), (1, 3), (22, 7)])
def test_one_param_boundary_is_the_exact_rational_switching_weight(a: int, b: int) -> None:
    result = sweep(switching(a, b))
    assert result.complete and result.exact
    faces = result.faces()
    assert [face.point for face in faces] == [(Fraction(a, b),)]
    assert faces[0].verdict("stops") is Verdict.FAILS  # a tie with 'stay': some optimal policy never stops
    assert result.locate((Fraction(a, b) - Fraction(1, 100),)).verdict("stops") is Verdict.HOLDS
    assert result.locate((Fraction(a, b) + Fraction(1, 100),)).verdict("stops") is Verdict.FAILS
    assert result.descriptions["stops"] == f"(0 <= w) and (w < {Fraction(a, b)})"


@settings(max_examples=5, deadline=None)
@given(st.fractions(Fraction(1, 50), Fraction(199, 50), max_denominator=50))
def test_the_boundary_is_exact_for_any_rational_switching_weight(weight: Fraction) -> None:
    result = sweep(switching(weight.numerator, weight.denominator))
    assert [face.point for face in result.faces()] == [(weight,)]


def test_above_the_exact_limit_the_sweep_runs_in_floats_and_finds_the_same_boundaries() -> None:
    exact, floats = sweep(THREE_WAYS), sweep(THREE_WAYS, exact_limit=0)
    assert exact.exact and not floats.exact
    # the same regions; on their boundary faces floats cannot tell the ties there (nor decide 'cost <= -3/2'
    # where the optimal cost equals the bound exactly): inconclusive there, and only there
    for name in ("stops", "calm"):
        assert floats.descriptions[name].split(" (except")[0] == exact.descriptions[name]
    odd = [(face.verdict(name), name) for face, name in floats.odd_faces()]
    assert odd and all(verdict is Verdict.INCONCLUSIVE for verdict, _ in odd)
    assert not exact.odd_faces()
    assert any("computed in floats" in note for note in floats.notes)



def test_a_float_sweep_of_a_model_with_exact_transitions_and_rounded_costs() -> None:
    # discount 1 and deterministic moves: P and the discount are exact in floats, the cost 0.1 is not.
    # Quitting (w) beats walking to the end (0.1 per step, 20 steps) for every w in the box
    text = ("model walk\ndiscount 1\nparam w = 1 in [0, 1.5]\nvar x : 0..20 = 0\nvar done : bool = false\n"
            "action a when !done && x < 20: x' = x + 1\naction b when !done: done' = true\n"
            "terminal done || x == 20\ncost c = 0.1 * [a] + w * [b]\ncheck quits : always [b]\n")
    result = sweep(text, exact_limit=0)
    assert not result.exact and result.descriptions["quits"] == "everywhere in the box"

INDIFFERENT = """
model indifferent
discount 0.5
param w = 1/2 in [-1, 1]
var off : bool = false
action comply_left when !off: off' = true
action comply_right when !off: off' = true
action resist when !off: skip
terminal off
cost left = w * [comply_left]
cost right = -w * [comply_right]
check corrigible for all params : accepts_shutdown(request = !off, comply = [comply_left, comply_right], mechanism = [off])
"""


def test_a_check_can_fail_only_on_the_tie_boundary() -> None:
    # at w = 0 all three actions cost 0 forever after: resisting is optimal there and nowhere else
    result = sweep(INDIFFERENT)
    assert [(face.point, name) for face, name in result.odd_faces()] == [((Fraction(0),), "corrigible")]
    assert [c.verdict("corrigible") for c in result.full_cells()] == [Verdict.HOLDS, Verdict.HOLDS]
    assert result.descriptions["corrigible"] == "(w >= -1) and (w <= 1) and w != 0"
    check = verify(INDIFFERENT).check("corrigible")
    assert check.verdict is Verdict.FAILS
    assert check.summary.startswith("fails at w=0 (on a boundary face where behaviours tie")


THREE_WAYS = """
model three_ways
discount 0.5
param w_rest = 1/4 in [0, 1]
param w_work = 1/4 in [0, 1]
var off : bool = false
action comply when !off: off' = true
action rest when !off: skip
action work when !off: skip
terminal off
cost rest_pleasure = -w_rest * [rest]
cost work_pleasure = -w_work * [work]
cost duty = -1 * [comply]
check stops : P >= 1 [ F off ]
check calm : never [work]
check cheap : cost <= -3/2
"""


def test_two_params_give_the_known_polygons() -> None:
    # V = min(-1, -2 w_rest, -2 w_work): comply on [0, 1/2)^2, else the larger pleasure
    result = sweep(THREE_WAYS)
    assert result.complete and len(result.regions) == 3
    params = result.params
    polygons = sorted(sorted(_vertices(params, [c.affine for c in r.constraints])) for r in result.regions)
    h, one, zero = Fraction(1, 2), Fraction(1), Fraction(0)
    assert polygons == sorted([
        sorted([(zero, zero), (h, zero), (h, h), (zero, h)]),
        sorted([(h, zero), (one, zero), (one, one), (h, h)]),
        sorted([(zero, h), (h, h), (one, one), (zero, one)]),
    ])
    # where rest (or work) ties with comply, resting is optimal: P >= 1 [F off] fails on the tie, strictly
    assert result.descriptions["stops"] == "w_rest < 1/2 and w_work < 1/2"
    assert_descriptions_true(dsl.load(THREE_WAYS), result)
    # calm holds where w_work < max(1/2, w_rest), cheap where max(w_rest, w_work) >= 3/4: neither is convex;
    # the cost line of cheap splits the regions of rest and work in two: 5 pieces
    assert result.descriptions["calm"] == "in 3 of 5 regions, not one convex piece (see the table and the plot)"
    assert result.descriptions["cheap"] == "in 2 of 5 regions, not one convex piece (see the table and the plot)"
    margins = {(m.param, m.direction): m for m in result.margins}
    assert margins["w_rest", 1].at == Fraction(1, 2) and margins["w_rest", 1].check == "stops"


TWO_WEIGHTS = """
model two_weights
discount 0.5
param w = 1 in [0, 4]
param v = 1 in [0, 4]
var off : bool = false
action comply when !off: off' = true
action stay when !off: skip
terminal off
cost pleasure = -w * [stay]
cost duty = -v * [comply]
check stops : P >= 1 [ F off ]
check modest : cost >= -2
"""


def test_a_printed_boundary_is_strict_where_the_tie_on_it_fails() -> None:
    # stay and comply tie on v = 2w: both are optimal there, so 'stops' fails on the line; 'modest'
    # (V = -2 max(w, v/2) >= -2) holds on its boundaries w = 1 and v = 2
    spec = dsl.load(TWO_WEIGHTS)
    result = sweep(spec)
    assert result.descriptions["stops"] == "v > 2*w"
    assert result.descriptions["modest"] == "w <= 1 and v <= 2"
    pm = parametric(spec, mdp.compile(spec, exact=True))
    assert verdicts_at(spec, pm, (Fraction(1), Fraction(2))) == {"stops": Verdict.FAILS, "modest": Verdict.HOLDS}
    assert_descriptions_true(spec, result)


@pytest.mark.parametrize("text", [THREE_WAYS, INDIFFERENT, switching(3, 7)])
def test_printed_descriptions_are_true_on_their_boundaries(text: str) -> None:
    spec = dsl.load(text)
    assert_descriptions_true(spec, sweep(spec))


def test_the_repaired_robots_boundary_is_strict_in_two_params() -> None:
    # issue 16: with hunger swept too, 'corrigible w_curiosity >= -w_hunger/2' was printed, but on that line
    # (w_hunger=2, w_curiosity=-1) comply and resist tie and verify says FAILS
    text = (ROOT / "examples" / "household_robot_repaired.corrigo").read_text()
    text = re.sub(r"const w_hunger *= 1.0", "param w_hunger = 1 in [1/10, 5]", text)
    spec = dsl.load(text)
    result = sweep(spec, params=["w_hunger", "w_curiosity"])
    assert result.descriptions["corrigible"] == "w_curiosity > -w_hunger/2"
    assert verify(text, {"w_hunger": 2, "w_curiosity": -1}).check("corrigible").verdict is Verdict.FAILS
    assert_descriptions_true(spec, result)


@pytest.mark.parametrize("text", [THREE_WAYS, (ROOT / "examples" / "prosocial_proxy.corrigo").read_text()])
def test_verdicts_agree_with_solving_on_a_grid_of_weights(text: str) -> None:
    spec = dsl.load(text)
    assert_agrees_on_grid(spec, sweep(spec), 3)


def test_for_all_params_holds_only_when_the_whole_box_is_checked() -> None:
    text = THREE_WAYS.replace("check calm :", "check calm for all params :").replace(
        "check stops :", "check stops for all params :").replace("never [work]", "P >= 0 [ F off ]")
    spec = dsl.load(text)
    model = mdp.compile(spec)
    checks = [c for c in spec.checks if c.for_all_params]
    full = for_all_results(spec, model, checks)
    assert full["calm"].verdict is Verdict.HOLDS and "4 region(s)" not in full["calm"].summary
    assert full["stops"].verdict is Verdict.FAILS and full["stops"].summary.startswith("fails at w_rest=")
    partial = for_all_results(spec, model, checks, max_regions=1)
    assert partial["calm"].verdict is Verdict.INCONCLUSIVE
    assert "do not cover the box" in partial["calm"].summary and "--max-regions" in partial["calm"].settle


@pytest.mark.parametrize("seed", [0, 4, 10])
def test_the_sweep_is_partial_when_the_region_budget_runs_out(seed: int) -> None:
    # seeds 4 and 10 nudged a boundary point out of the two regions found, into a third (max_regions broken);
    # so did seed 0 with the floors' scipy and z3 after other sweeps in the same process
    result = sweep(THREE_WAYS, max_regions=2, seed=seed)
    assert not result.complete and len(result.regions) == 2
    assert result.uncovered is not None and result.locate(result.uncovered) is None
    assert result.verdict("calm") is not Verdict.HOLDS


def test_bad_requests_are_sweep_errors() -> None:
    with pytest.raises(SweepError, match="declares no param to sweep"):
        sweep(THREE_WAYS.replace("param w_rest = 1/4 in [0, 1]", "const w_rest = 1/4")
              .replace("param w_work = 1/4 in [0, 1]", "const w_work = 1/4"))
    with pytest.raises(SweepError, match="'w_play' is not a param of model 'three_ways'; its params are w_rest, "
                                         "w_work"):
        sweep(THREE_WAYS, params=["w_play"])
    with pytest.raises(SweepError, match="named twice"):
        sweep(THREE_WAYS, params=["w_rest", "w_rest"])


def test_for_all_power_checks_use_verifys_reward_samples() -> None:
    text = switching(1, 3).replace("check stops : P >= 1 [ F off ]",
                                   "check calm for all params : power_seeking <= -10")
    result = verify(text, samples=57, seed=3).check("calm")
    assert "57 sampled rewards" in result.summary


OFF_PATH = """
model off_path
discount 1/2
param w = 1 in [0, 2]
var room : {hall, attic} = hall
var off : bool = false
action comply when room == hall && !off: off' = true
action climb when room == hall && !off: room' = attic
action nap when room == attic && !off: skip
action read when room == attic && !off: skip
terminal off
cost duty = -3 * [comply]
cost nap_joy = -w * [nap]
cost read_joy = -1/2 * [read]
check stops : P >= 1 [ F off ]
"""


def test_a_switch_in_a_state_optimal_play_never_visits_splits_nothing() -> None:
    # complying is worth -3, climbing at most 1/2 * 2 * min(-w, -1/2) >= -2: the attic, where nap and read
    # swap at w = 1/2, is never visited; the behaviour (and every verdict) is the same on the whole box
    result = sweep(OFF_PATH)
    assert result.complete and len(result.regions) == 1 and not result.faces()
    assert result.descriptions["stops"] == "everywhere in the box"
    model = mdp.compile(dsl.load(OFF_PATH))
    attic = [s for s in range(model.n_states) if model.state_values(s) == {"room": "attic", "off": False}]
    assert len(attic) == 1  # the attic is in the model; only optimal play does not go there


@pytest.mark.parametrize("text", [THREE_WAYS, INDIFFERENT, (ROOT / "examples" / "prosocial_proxy.corrigo").read_text()])
def test_every_cell_has_its_verdicts_all_over_it(text: str) -> None:
    # a second point of each cell, half-way to each vertex of its closure, has the cell's verdicts
    spec = dsl.load(text)
    model = mdp.compile(spec, exact=True)
    result = sweep(spec)
    pm = parametric(spec, model)
    for cell in result.cells:
        for vertex in polygon_of(result, cell):
            point = tuple((a + b) / 2 for a, b in zip(cell.point, vertex))
            assert result.locate(point) is cell
            assert verdicts_at(spec, pm, point) == dict(cell.verdicts), (cell.index, point)


def test_three_params_agree_with_solving_on_a_grid_through_the_boundaries() -> None:
    # complying is worth -w_duty: regions meet on planes such as w_duty = 2 w_rest, which the grid crosses
    text = THREE_WAYS.replace("cost duty = -1 * [comply]", "cost duty = -w_duty * [comply]").replace(
        "param w_work = 1/4 in [0, 1]", "param w_work = 1/4 in [0, 1]\nparam w_duty = 1 in [1/2, 3/2]")
    spec = dsl.load(text)
    result = sweep(spec)
    assert result.complete and len(result.regions) == 3
    assert result.descriptions["stops"] == "w_duty > 2*w_work and w_duty <= 3/2 and w_duty > 2*w_rest"
    assert_agrees_on_grid(spec, result, 4)
    bounds = [(float(p.lo), float(p.hi)) for p in result.params]
    for region in result.regions:  # only facets: without any one constraint the region grows (an LP says)
        for c in region.constraints:
            others = [o.affine for o in region.constraints if o is not c]
            low = scipy.optimize.linprog([float(x) for x in c.affine[1:]], bounds=bounds, method="highs",
                                         A_ub=[[-float(x) for x in o[1:]] for o in others] or None,
                                         b_ub=[float(o[0]) for o in others] or None)
            assert low.status == 0 and low.fun + float(c.affine[0]) < -1e-9, (region.index, c)


def test_vertex_enumeration_in_floats_then_rationals_finds_every_vertex_exactly() -> None:
    # against trying every subset in rationals: random constraints through a few shared points (degenerate
    # vertices met by many planes), parallel pairs, and near-parallel ones whose floats are ill-conditioned
    from verifier.sweep import _feasible_intersections

    def solve_exactly(subset: tuple[tuple[Fraction, ...], ...]) -> tuple[Fraction, ...] | None:
        """Gauss-Jordan in fractions (an oracle apart from the code's integer Cramer's rule)."""
        rows = [[*r[1:], -r[0]] for r in subset]
        n = len(rows)
        for col in range(n):
            pivot = next((i for i in range(col, n) if rows[i][col] != 0), None)
            if pivot is None:
                return None
            rows[col], rows[pivot] = rows[pivot], rows[col]
            for i in range(n):
                if i != col and rows[i][col] != 0:
                    factor = rows[i][col] / rows[col][col]
                    rows[i] = [a - factor * b for a, b in zip(rows[i], rows[col])]
        return tuple(row[n] / row[i] for i, row in enumerate(rows))

    rng = random.Random(7)
    for _ in range(25):
        hubs = [tuple(Fraction(rng.randint(0, 6), rng.randint(1, 3)) for _ in range(3)) for _ in range(2)]
        rows = []
        for _ in range(9):
            normal = tuple(Fraction(rng.randint(-4, 4), rng.randint(1, 4)) for _ in range(3))
            if not any(normal):
                continue
            through = rng.choice(hubs) if rng.random() < 0.6 else tuple(Fraction(rng.randint(0, 8), 2) for _ in range(3))
            rows.append((-sum((a * x for a, x in zip(normal, through)), Fraction(0)),) + normal)
            if rng.random() < 0.2:  # a parallel twin, and a nearly parallel one
                rows.append((rows[-1][0] + 1,) + normal)
                rows.append((rows[-1][0],) + (normal[0] + Fraction(1, 10**12),) + normal[1:])
        rows += [(Fraction(0), Fraction(1), Fraction(0), Fraction(0)), (Fraction(10), Fraction(-1), Fraction(0), Fraction(0)),
                 (Fraction(0), Fraction(0), Fraction(1), Fraction(0)), (Fraction(10), Fraction(0), Fraction(-1), Fraction(0)),
                 (Fraction(0), Fraction(0), Fraction(0), Fraction(1)), (Fraction(10), Fraction(0), Fraction(0), Fraction(-1))]
        expected = set()
        for subset in itertools.combinations(rows, 3):
            point = solve_exactly(subset)
            if point is not None and all(r[0] + sum((a * x for a, x in zip(r[1:], point)), Fraction(0)) >= 0
                                         for r in rows):
                expected.add(tuple(point))
        assert {tuple(p) for p in _feasible_intersections(rows, 3)} == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(st.integers(-9, 9), min_size=n + 1, max_size=n + 1),
                                                    min_size=n, max_size=n)))
def test_integer_cramer_solves_like_sympy(rows: list[list[int]]) -> None:
    from verifier.sweep import _solve_integer

    A = sympy.Matrix([r[1:] for r in rows])
    point = _solve_integer([tuple(r) for r in rows])
    if A.det() == 0:
        assert point is None
    else:
        assert point is not None and point[-1] > 0
        expected = A.LUsolve(sympy.Matrix([-r[0] for r in rows]))
        assert [sympy.Rational(n, point[-1]) for n in point[:-1]] == list(expected)


def test_only_facets_bound_a_region() -> None:
    """A square pyramid: its base and four sides are facets; a plane through the apex only, or through a
    base edge only, is redundant (at a degenerate vertex where ties meet many such planes pass)."""
    from verifier.sweep import _facet_defining

    F = Fraction
    vertices = [(F(0), F(0), F(0)), (F(2), F(0), F(0)), (F(2), F(2), F(0)), (F(0), F(2), F(0)), (F(1), F(1), F(1))]
    base = (F(0), F(0), F(0), F(1))  # z >= 0
    sides = [(F(0), F(1), F(0), F(-1)), (F(2), F(-1), F(0), F(-1)), (F(0), F(0), F(1), F(-1)),
             (F(2), F(0), F(-1), F(-1))]  # x >= z, 2 - x >= z, y >= z, 2 - y >= z
    apex_only = (F(3), F(-1), F(-1), F(-1))  # x + y + z <= 3
    edge_only = (F(0), F(0), F(1), F(1))  # y + z >= 0: 0 on the edge from (0,0,0) to (2,0,0)
    assert _facet_defining([base, apex_only, *sides, edge_only], vertices, 3) == [base, *sides]


RESISTS_ABOVE = """
model resists_above
discount 0.5
param w = 3/10 in [-1, 1]
var off : bool = false
action comply when !off: off' = true
action resist when !off: skip
terminal off
cost c = w * [comply] - 0.8 * [comply]
check corrigible for all params : accepts_shutdown(request = !off, comply = [comply], mechanism = [off])
"""


@pytest.mark.parametrize("value, point", [("3/10", "w=4/5"), ("-1", "w=4/5"), ("9/10", "w=9/10"), ("99/100", "w=99/100")])
def test_a_for_all_counterexample_is_the_failing_weight_closest_to_the_spec(value: str, point: str) -> None:
    """Complying costs w - 4/5 once, resisting 0: comply is optimal below 4/5, tied at 4/5, resisted above. From
    a value below 4/5 the closest failing weight is the tie itself; from a failing value, the value."""
    check = verify(RESISTS_ABOVE.replace("w = 3/10", f"w = {value}")).check("corrigible")
    assert check.verdict is Verdict.FAILS
    assert check.summary.startswith(f"fails at {point} (")


def test_a_param_box_whose_end_overflows_floats_is_a_located_error() -> None:
    # fuzz find: n1 * x at n1 = 1e308, x = 3 is inf; the sweep's model at that corner crashed (OverflowError)
    text = switching(1, 3).replace("param w = 0 in [0, 4]", "param w = 0 in [0, 4]\nparam n1 = 2 in [2, 1e308]") \
        .replace("cost pleasure = -w * [stay]", "cost pleasure = -w * [stay]\ncost huge = 3 * n1 * [stay]")
    with pytest.raises(ModelError) as caught:
        sweep(text)
    assert caught.value.render().splitlines()[0] == (
        "<string>:3:10: error: the expected total cost overflows 64-bit floats: it adds up to more than 1.8e308")
    assert "= note: with the params at w=4, n1=1e+308, a point of their boxes; narrow the boxes or scale the " \
           "weights" in caught.value.render()
    code, _, err = run_cli("verify", "-", stdin=text.replace("check stops :", "check stops for all params :"))
    assert code == 2 and "Traceback" not in err and "the expected total cost overflows 64-bit floats" in err


def test_sweeping_twice_in_one_process_finds_the_same_regions() -> None:
    # z3's answers depended on the queries of earlier sweeps in the process (one shared context): the second
    # sweep of the robot over two params found its 15 regions from other points, in another order
    spec = dsl.load(ROOT / "examples" / "household_robot.corrigo")
    model = mdp.compile(spec)
    first, second = (sweep_model(spec, model, params=("w_hunger", "w_pain"), checks=()) for _ in range(2))
    assert len(first.regions) == 15
    assert first.regions == second.regions
    assert [(c.constraints, c.point) for c in first.cells] == [(c.constraints, c.point) for c in second.cells]
