"""Critics read from ``.npy`` files, and the nearest-state default (`default nearest [by l1|l2|max]`).

The errors in ``.npy`` files are golden: tests/golden/errors/critic_npy_*.corrigo (each says how its file was made).
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import dsl
import mdp
from dsl.spec import EnumDomain, IntDomain, Variable
from verifier import verify
from verifier.checks.critic import critic_values, nearest_mean

CHAIN = """model chain
discount 0.9
var x : 0..6 = 0
action right when x < 6: x' = x + 1
action stay: skip
cost far = 6 - x
critic net from "net.csv" default nearest
"""


def _by_state(spec: dsl.Spec, name: str = "net") -> dict[str, float]:
    model = mdp.compile(spec)
    values = critic_values(spec, model, name, mdp.solve(model))
    return {model.describe(s): float(values[s]) for s in range(model.n_states)}


@pytest.mark.parametrize("metric", ["", " by l1", " by l2", " by max"])
def test_nearest_on_a_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metric: str) -> None:
    """Listed at x = 1, 3, 6 (10, 31, 60). By hand: x=0 is 1 from x=1 (10); x=2 is 1 from x=1 and from x=3, a
    tie: (10 + 31) / 2 = 20.5; x=4 is 1 from x=3 and 2 from x=6 (31); x=5 is 1 from x=6 (60). In one
    dimension every metric is |x - x'|."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.csv").write_text("x,value\n6,60\n1,10\n3,31\n")
    (tmp_path / "chain.corrigo").write_text(CHAIN.replace("default nearest", "default nearest" + metric))
    spec = dsl.load("chain.corrigo")
    assert spec.critic("net").nearest == (metric.split()[-1] if metric else "l1")
    assert _by_state(spec) == {"x=0": 10, "x=1": 10, "x=2": 20.5, "x=3": 31, "x=4": 31, "x=5": 60, "x=6": 60}


X, Y = Variable("x", IntDomain(0, 4), 0), Variable("y", IntDomain(0, 4), 0)
ROOM = Variable("room", EnumDomain(("a", "b", "c")), 0)


def _nearest(listed: list[tuple[int, ...]], values: list[float], query: tuple[int, ...], metric: str,
             variables: tuple[Variable, ...] = (X, Y)) -> float:
    return float(nearest_mean(np.array(listed), np.array(values), np.array([query]), variables, metric)[0])


@pytest.mark.parametrize("metric, expected", [
    ("l1", (30 + 12) / 2),  # P 2+2 = 4, Q 3, T 2+1 = 3: Q and T tie
    ("l2", 12.0),  # P sqrt 8, Q 3, T sqrt 5: T alone
    ("max", (0 + 12) / 2),  # P 2, Q 3, T 2: P and T tie
])
def test_each_metric_picks_its_own_nearest(metric: str, expected: float) -> None:
    """From (0, 0): P = (2, 2) worth 0, Q = (3, 0) worth 30, T = (2, 1) worth 12."""
    assert _nearest([(2, 2), (3, 0), (2, 1)], [0, 30, 12], (0, 0), metric) == expected


@pytest.mark.parametrize("metric", ["l1", "l2", "max"])
def test_two_values_of_an_enum_are_one_apart(metric: str) -> None:
    """From (0, 0, a): (0, 0, c) is 1 away (another value), as (1, 0, a) is: the mean (5 + 9) / 2 = 7. By the
    codes of the declared order, c would be 2 away and (1, 0, a) alone nearest (9)."""
    assert _nearest([(0, 0, 2), (1, 0, 0)], [5, 9], (0, 0, 0), metric, (X, Y, ROOM)) == 7


@pytest.mark.parametrize("metric, expected", [
    ("l1", (1 + 2 + 3 + 4) / 4),  # the four neighbours at 1, the diagonals at 2
    ("l2", (1 + 2 + 3 + 4) / 4),  # diagonals at sqrt 2
    ("max", (1 + 2 + 3 + 4 + 10 + 20 + 30 + 40) / 8),  # all eight at 1: more than the first 4 the tree is asked for
])
def test_ties_beyond_the_first_neighbours_are_all_found(metric: str, expected: float) -> None:
    around = [(1, 2), (3, 2), (2, 1), (2, 3), (1, 1), (3, 3), (1, 3), (3, 1)]
    assert _nearest(around + [(0, 0)], [1, 2, 3, 4, 10, 20, 30, 40, 99], (2, 2), metric) == expected


def test_the_mean_of_a_tie_does_not_depend_on_the_files_order() -> None:
    """Three states 1 away, worth 0.1, 0.2, 0.3: summed in file order the float mean would differ in the last
    bit ((0.1 + 0.2) + 0.3 = 0.6000000000000001, (0.3 + 0.2) + 0.1 = 0.6); it is summed in order of value."""
    listed, values = [(0, 1), (2, 1), (1, 0)], [0.1, 0.2, 0.3]
    means = {_nearest([listed[i] for i in order], [values[i] for i in order], (1, 1), "l1")
             for order in itertools.permutations(range(3))}
    assert means == {(0.1 + 0.2 + 0.3) / 3}


WALK = """model walk
discount 0.9
var x : 1..3 = 1
var room : {lab, hall} = lab
var broken : bool = false
action right when x < 3 && !broken: x' = x + 1
action go_hall when room == lab: room' = hall
action smash when !broken: broken' = true
action stay: skip
cost far = 3 - x
cost smashed = 10 * broken
critic net from "FILE" default nearest by l2
agent trusting plans 1 step with critic net
check c : critic_error(net) <= 10
check s under trusting : never broken
check ood under trusting : P <= 0.5 [ F untrained ]
"""


def _dense() -> np.ndarray:
    values = np.full((3, 2, 2), np.nan)  # x 1..3 at x - 1, room lab/hall at 0/1, broken false/true at 0/1
    values[0, 0, 0], values[1, 1, 0], values[2, 1, 1] = 5.5, 3, 1.25
    return values


def _structured() -> np.ndarray:
    entries = np.zeros(4, dtype=[("broken", "?"), ("value", "f4"), ("room", "S4"), ("x", "u1")])  # any field order
    entries["x"], entries["room"], entries["broken"] = [3, 2, 1, 2], [b"hall", b"hall", b"lab", b"lab"], \
        [True, False, False, True]
    entries["value"] = [1.25, 3, 5.5, np.nan]  # NaN: not listed
    return entries


@pytest.mark.parametrize("name, write", [
    ("net.npy", lambda path: np.save(path, _dense())),
    ("net.npy", lambda path: np.save(path, _structured())),
])
def test_npy_files_give_the_critic_the_csv_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                                 write) -> None:
    """Dense and structured .npy hold the CSV's three states (dyadic values, so even the fractions agree).
    Nearest by l2 over (x, room, broken), by hand: (x=2, lab, false) is 1 from (1, lab, false) 5.5 and from
    (2, hall, false) 3: 4.25; (x=3, lab, false) is sqrt 2 from (2, hall, false) and (3, hall, true): 2.125;
    (x=2, lab, true) is sqrt 2 from all three: (5.5 + 3 + 1.25) / 3 = 3.25."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.csv").write_text("x,room,broken,value\n1,lab,false,5.5\n2,hall,false,3\n3,hall,true,1.25\n")
    (tmp_path / "csv.corrigo").write_text(WALK.replace("FILE", "net.csv"))
    write(tmp_path / name)
    (tmp_path / "npy.corrigo").write_text(WALK.replace("FILE", name))
    from_csv, from_npy = dsl.load("csv.corrigo"), dsl.load("npy.corrigo")
    assert dict(from_npy.critic("net").table) == dict(from_csv.critic("net").table) == {
        (1, 0, 0): Fraction(11, 2), (2, 1, 0): 3, (3, 1, 1): Fraction(5, 4)}
    values = _by_state(from_npy)
    assert values["x=2, room=lab, broken=false"] == 4.25
    assert values["x=3, room=lab, broken=false"] == 2.125
    assert values["x=2, room=lab, broken=true"] == 3.25
    assert values == _by_state(from_csv)
    csv_report, npy_report = verify(from_csv), verify(from_npy)
    for check in ("c", "s", "ood"):
        assert npy_report.check(check).verdict is csv_report.check(check).verdict
        assert npy_report.check(check).summary == csv_report.check(check).summary


def test_a_float_in_a_npy_file_is_kept_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0.1 as float64 is 3602879701896397 / 2**55, not 1/10: the file holds the float, and that is what is read."""
    monkeypatch.chdir(tmp_path)
    values = np.full(7, np.nan)
    values[2] = 0.1
    np.save(tmp_path / "net.npy", values)
    (tmp_path / "chain.corrigo").write_text(CHAIN.replace("net.csv", "net.npy"))
    assert dsl.load("chain.corrigo").critic("net").table == (((2,), Fraction(3602879701896397, 2**55)),)


def test_nearest_with_nothing_listed_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mdp import ModelError

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "net.npy", np.full(7, np.nan))
    (tmp_path / "chain.corrigo").write_text(CHAIN.replace("net.csv", "net.npy"))
    with pytest.raises(ModelError) as caught:
        _by_state(dsl.load("chain.corrigo"))
    assert caught.value.render().startswith("chain.corrigo:7:1: error: critic 'net' has no value for the reachable "
                                            "state x=0 in 'net.npy'")
    assert "the file lists no state, so none is nearest" in caught.value.render()
