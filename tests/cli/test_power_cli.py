"""`corrigo power`: POWER per state against closed forms, top/bottom and --all, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corrigo_cli import run, write
from tests.worlds import FAN

# FAN: x=0 can move to any of the absorbing states 1..3: POWER E[max of 3 uniforms] = 3/4; x=1..3 are
# terminal, POWER exactly 1/2


def test_json_gives_power_with_standard_errors(tmp_path: Path) -> None:
    code, out, _ = run("power", "--format", "json", "--samples", "2000", write(tmp_path, FAN))
    assert code == 0
    result = json.loads(out)
    assert result["samples"] == 2000 and result["seed"] == 0 and result["all"] is True
    first, *rest = result["states"]
    assert first["state"] == "x=0" and first["initial"] and first["rank"] == 1
    assert abs(first["power"] - 3 / 4) <= 3 * first["stderr"]  # E[max of 3 uniforms]
    assert all(r["power"] == 0.5 and r["stderr"] == 0 and r["terminal"] for r in rest)
    # options: the reachable bottom strongly connected components (here the terminal states)
    assert first["options"] == 3 and all(r["options"] == 1 for r in rest)


def test_text_shows_top_and_bottom_states(tmp_path: Path) -> None:
    spec = write(tmp_path, "model line\ndiscount 0.9\nvar x : 0..9 = 0\n"
                           "action right when x < 9: x' = x + 1\naction left when x > 0: x' = x - 1\n"
                           "action stop when x == 5: x' = 5\n")
    code, out, _ = run("power", "--top", "2", "--samples", "200", spec)
    assert code == 0
    assert "10 states, discount 0.9" in out and "200 reward functions" in out
    assert "(6 states not shown; --all shows every state)" in out
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [line.split()[0] for line in lines] == ["1", "2", "9", "10"]
    code, out_all, _ = run("power", "--all", "--samples", "200", spec)
    assert code == 0 and "not shown" not in out_all and " x=9 " in out_all


def test_seed_reproduces_and_changes_the_estimate(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN)
    first = run("power", "--format", "json", "--samples", "100", "--seed", "4", spec)[1]
    assert first == run("power", "--format", "json", "--samples", "100", "--seed", "4", spec)[1]
    assert first != run("power", "--format", "json", "--samples", "100", "--seed", "5", spec)[1]


def test_discount_one_is_a_spec_error_at_the_discount_without_traceback(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN.replace("discount 0.9", "discount 1"))
    code, out, err = run("power", spec)
    assert code == 2 and out == ""
    assert err == f"""\
{spec}:2:10: error: POWER needs a discount below 1, the model 'fan' has discount 1
   |
 2 | discount 1
   |          ^
   = hint: Turner et al.'s normalisation (1 - gamma) / gamma vanishes at 1; declare e.g. `discount 0.9`, or ask for the limit (`corrigo power --discount 1`, `power(at = ..., discount = 1)`)
"""


@pytest.mark.parametrize("args", [["--samples", "1"], ["--top", "0"]])
def test_bad_options(tmp_path: Path, args: list[str]) -> None:
    code, _, _ = run("power", *args, write(tmp_path, FAN))
    assert code == 2


def test_plot_draws_a_heatmap_for_two_integer_coordinates_else_bars(tmp_path: Path) -> None:
    grid = write(tmp_path, "model grid\ndiscount 0.9\nvar x : 0..2 = 0\nvar y : 0..1 = 0\n"
                           "action right when x < 2: x' = x + 1\naction up when y < 1: y' = y + 1\n"
                           "terminal x == 2 && y == 1\n")
    out_png = tmp_path / "grid.png"
    code, out, _ = run("power", "--samples", "50", "--plot", str(out_png), grid)
    assert code == 0 and f"wrote {out_png} (heatmap)" in out
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bars = tmp_path / "fan.png"
    code, out, _ = run("power", "--samples", "50", "--plot", str(bars), write(tmp_path, FAN))
    assert code == 0 and "(bar chart)" in out and bars.stat().st_size > 0


def test_at_shows_the_optimality_probability_of_every_action(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN)
    code, out, _ = run("power", "--format", "json", "--samples", "3000", "--at", "x=0", spec)
    assert code == 0
    (entry,) = json.loads(out)["optimality"]
    assert entry["state"] == "x=0" and list(entry["actions"]) == ["a", "b", "c"]
    stderr = (2 / 9 / 3000) ** 0.5
    assert all(abs(p - 1 / 3) <= 3 * stderr for p in entry["actions"].values())  # symmetric options
    code, out, _ = run("power", "--samples", "50", "--at", "x=0", spec)
    assert code == 0 and "optimal for the share of rewards at (x=0): a " in out


@pytest.mark.parametrize("pattern", ["x", "z=1", "x=7"])
def test_at_rejects_what_matches_nothing(tmp_path: Path, pattern: str) -> None:
    code, _, err = run("power", "--samples", "10", "--at", pattern, write(tmp_path, FAN))
    assert code == 2 and "--at" in err



def test_distribution_bernoulli_against_its_closed_form(tmp_path: Path) -> None:
    code, out, _ = run("power", "--format", "json", "--samples", "2000", "--distribution", "bernoulli(0.5)",
                       write(tmp_path, FAN))
    assert code == 0
    result = json.loads(out)
    assert result["distribution"] == "bernoulli(0.5)"
    first, *rest = result["states"]
    assert abs(first["power"] - (1 - 0.5 ** 3)) <= 3 * first["stderr"]  # E[max of 3 Bernoulli(1/2)]
    assert all(r["power"] == 0.5 and r["stderr"] == 0 for r in rest)  # absorbing: E[R] = p exactly
    code, out, _ = run("power", "--samples", "20", "--distribution", "beta(2, 5)", write(tmp_path, FAN))
    assert code == 0 and "R(s) IID beta(2, 5), seed 0" in out


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_rewards_file_gives_the_reward_functions(tmp_path: Path, suffix: str) -> None:
    import numpy as np

    spec = write(tmp_path, FAN)
    states = json.loads(run("power", "--format", "json", "--all", "--samples", "2", spec)[1])["states"]
    order = {r["state"]: r["index"] for r in states}  # the model order of the columns
    rewards = np.random.default_rng(3).random((30, 4))
    path = tmp_path / f"rewards{suffix}"
    if suffix == ".npy":
        np.save(path, rewards)
    else:
        np.savetxt(path, rewards, delimiter=",")
    code, out, _ = run("power", "--format", "json", "--rewards", str(path), "--at", "x=0", spec)
    assert code == 0
    result = json.loads(out)
    assert result["samples"] == 30 and result["distribution"] == "given"
    power_0 = next(r for r in result["states"] if r["state"] == "x=0")
    terminals = [order[f"x={i}"] for i in (1, 2, 3)]
    assert power_0["power"] == pytest.approx(rewards[:, terminals].max(axis=1).mean(), abs=1e-6)
    shares = result["optimality"][0]["actions"]
    assert shares["a"] == pytest.approx(np.mean(rewards[:, order["x=1"]] == rewards[:, terminals].max(axis=1)))


def test_one_row_of_rewards_is_one_reward_function(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN)
    states = json.loads(run("power", "--format", "json", "--all", "--samples", "2", spec)[1])["states"]
    row = [0.0] * 4
    for i, value in ((1, 0.25), (2, 0.75), (3, 0.5)):
        row[next(r["index"] for r in states if r["state"] == f"x={i}")] = value
    (tmp_path / "one.csv").write_text(",".join(map(str, row)) + "\n")
    code, out, _ = run("power", "--format", "json", "--rewards", str(tmp_path / "one.csv"), spec)
    assert code == 0
    start = next(r for r in json.loads(out)["states"] if r["state"] == "x=0")
    assert (start["power"], start["stderr"]) == (pytest.approx(0.75, abs=1e-6), 0.0)  # the best absorbing reward
    assert "from 1 reward function, given in" in run("power", "--rewards", str(tmp_path / "one.csv"), spec)[1]


@pytest.mark.parametrize("args, message", [
    (["--distribution", "normal"], "unknown reward distribution 'normal', expected one of uniform"),
    (["--distribution", "bernoulli(2)"], "bernoulli(p) needs p in [0, 1]"),
    (["--rewards", "{bad_shape}"], "one column per state (4 for the model 'fan'"),
    (["--rewards", "{text}"], "is neither .npy nor .csv"),
    (["--rewards", "{not_numbers}"], "could not convert"),
    (["--rewards", "{bad_shape}", "--samples", "5"], "--rewards gives the reward functions; it excludes --samples"),
    (["--rewards", "{bad_shape}", "--distribution", "uniform"], "it excludes --distribution"),
])
def test_bad_rewards_and_distributions_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    import numpy as np

    np.save(tmp_path / "bad_shape.npy", np.zeros((5, 3)))
    (tmp_path / "text.txt").write_text("1,2,3,4\n")
    (tmp_path / "not_numbers.csv").write_text("a,b,c,d\n1,2,3,4\n")
    files = {"bad_shape": tmp_path / "bad_shape.npy", "text": tmp_path / "text.txt",
             "not_numbers": tmp_path / "not_numbers.csv"}
    args = [a.format(**files) for a in args]
    code, _, err = run("power", *args, write(tmp_path, FAN))
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err


def test_the_heatmap_names_the_places_that_labels_mark() -> None:
    import dsl
    import mdp
    from verifier.reports.power_plot import _place_labels

    model = mdp.compile(dsl.load(Path(__file__).resolve().parents[2] / "examples" / "gridworld_robot.corrigo"))
    codes = model.state_codes
    placed = _place_labels(model.labels, codes[:, 1], codes[:, 0], (4, 5))  # rows y, columns x
    assert placed[(3, 2)] == ["at_box"] and placed[(0, 0)] == ["at_charger"]
    assert placed[(3, 4)] == ["in_room", "delivered"]
    assert sorted(cell for cell, names in placed.items() if "in_room" in names) == [(2, 3), (2, 4), (3, 3), (3, 4)]
    assert len(placed) == 6  # the four places and nothing else


def test_power_over_a_finite_horizon_is_a_located_spec_error(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN.replace("discount 0.9", "discount 0.9\nhorizon 5"))
    code, out, err = run("power", spec)
    assert code == 2 and out == ""
    assert ":3:9: error: POWER is defined for the discounted infinite horizon (Turner et al.); the model 'fan' has " \
           "episodes of 5 steps" in err


def test_discount_gives_power_at_another_discount_or_in_its_limits(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN.replace("discount 0.9", "discount 1"))  # POWER undefined at the spec's own
    code, out, _ = run("power", "--discount", "1", "--samples", "2000", spec)
    assert code == 0 and "discount 1 (the limit gamma -> 1)" in out
    code, out, _ = run("power", "--discount", "0", "--format", "json", "--samples", "2000", spec)
    result = json.loads(out)
    assert code == 0 and result["discount"] == 0.0
    first = result["states"][0]
    assert abs(first["power"] - 3 / 4) <= 3 * first["stderr"]  # the best of 3 next rewards: E[max of 3]
    code, out, _ = run("power", "--discount", "1", "--at", "x=0", "--format", "json", spec)
    far = json.loads(out)["optimality"][0]["actions"]  # each of 3 moves is best for a third of the rewards
    assert code == 0 and abs(sum(far.values()) - 1) < 1e-12 and all(abs(s - 1 / 3) < 0.045 for s in far.values())
    code, _, err = run("power", "--discount", "1", "--at", "x=0", "--distribution", "bernoulli(0.5)", spec)
    assert code == 2 and "--at with --discount 1 needs a continuous reward law (uniform or beta)" in err
    code, _, err = run("power", "--discount", "1.5", spec)
    assert code == 2 and "1.5 is not in the range 0<=x<=1" in err
