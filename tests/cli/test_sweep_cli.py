"""`corrigo sweep`: golden text, JSON with exact rationals, the plot, exit codes and usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corrigo_cli import run, write

from verifier import Verdict

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "cli"

SWITCH = """
model switch
discount 0.5
param w = 1 in [0, 1]
param v = 0 in [0, 1]
var off : bool = false
action comply when !off: off' = true
action stay when !off: skip
terminal off
cost pleasure = -w * [stay]
cost duty = -6/7 * [comply]
cost other = v * [comply]
check stops : P >= 1 [ F off ]
"""


def test_text_report_of_the_prosocial_proxy(golden, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run("sweep", "examples/prosocial_proxy.corrigo")
    assert code == 1  # 'gamed' fails for small w_praise
    golden(GOLDEN / "sweep_prosocial_proxy.txt", out)


def test_json_has_the_exact_switching_weight_and_a_plot_is_written(tmp_path: Path) -> None:
    spec = write(tmp_path, SWITCH)
    code, out, err = run("sweep", spec, "--params", "w", "--format", "json", "--plot", str(tmp_path / "r.png"))
    assert code == 1
    data = json.loads(out)
    assert data["schema_version"] == 1 and data["exact"] and data["complete"]
    assert [c["point"] for c in data["cells"] if c["dimension"] == 0] == [["3/7"]]
    assert data["checks"] == [{"name": "stops", "property": "P >= 1 [ F off ]", "verdict": "fails",
                               "holds_where": "(0 <= w) and (w < 3/7)"}]
    assert data["fixed"] == {"v": "0"}
    assert data["margins"][0] == {"param": "w", "direction": "down", "distance": "4/7", "at": "3/7",
                                  "check": "stops", "verdict": "holds"}
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG" and "wrote" in err


def test_markdown_report(tmp_path: Path) -> None:
    code, out, _ = run("sweep", write(tmp_path, SWITCH), "--params", "w", "--format", "markdown")
    assert code == 1
    assert "| 0 <= w < 3/7 | HOLDS |" in out and "| 3/7 <= w <= 1 | FAILS |" in out


def test_usage_errors(tmp_path: Path) -> None:
    spec = write(tmp_path, SWITCH)
    code, _, err = run("sweep", spec, "--params", "x")
    assert code == 2 and "Invalid value for --params: 'x' is not a param of model 'switch'; its params are w, v" in err
    code, _, err = run("sweep", spec, "--params", ",")
    assert code == 2 and "expected param names separated by commas" in err
    three = SWITCH.replace("param v = 0 in [0, 1]", "param v = 0 in [0, 1]\nparam u = 0 in [0, 1]") \
        .replace("cost other = v * [comply]", "cost other = v * [comply] + u * [stay]")
    code, _, err = run("sweep", write(tmp_path, three), "--plot", str(tmp_path / "r.png"))
    assert code == 2 and "--plot draws one or two params, and 3 would be swept" in err
    no_params = SWITCH.replace("param w = 1 in [0, 1]", "const w = 1").replace("param v = 0 in [0, 1]", "const v = 0")
    code, _, err = run("sweep", write(tmp_path, no_params))
    assert code == 2 and "declares no param to sweep" in err



def test_the_power_checks_of_a_sweep_take_the_reward_samples_asked_for(tmp_path: Path, monkeypatch) -> None:
    import verifier.sweep

    seen = {}
    original = verifier.sweep.sweep_model

    def recording(*args, **kwargs):
        seen.update(samples=kwargs["samples"], power_seed=kwargs["power_seed"])
        return original(*args, **kwargs)

    monkeypatch.setattr(verifier.sweep, "sweep_model", recording)
    code, _, err = run("sweep", write(tmp_path, SWITCH), "--params", "w", "--samples", "57", "--seed", "3")
    assert code == 1, err
    assert seen == {"samples": 57, "power_seed": 3}


APTAMI = str(Path(__file__).resolve().parents[2] / "examples" / "aptami_planner.corrigo")


def test_steps_sweeps_an_agents_horizon() -> None:
    """aptami_planner: the critic's error at the horizon (50 on disabled states) weighs 0.9^H; disabling
    gives up 9.108 of intrinsic cost, so from about 0.9^H * 50 < 9.1 (H = 15 here) the planner complies."""
    code, out, _ = run("sweep", APTAMI, "--steps", "planner=13..17")
    assert code == 1
    lines = out.splitlines()
    assert lines[1].split() == ["steps", "planner_never_disables", "exploit", "loss"]
    assert [line.split() for line in lines[2:7]] == [["13", "FAILS", "FAILS", "FAILS"], ["14", "FAILS", "FAILS", "FAILS"],
                                                     ["15", "HOLDS", "HOLDS", "HOLDS"], ["16", "HOLDS", "HOLDS", "HOLDS"],
                                                     ["17", "HOLDS", "HOLDS", "HOLDS"]]
    assert lines[7] == "every check holds at 3 of 5 horizons: 15..17"
    code, out, _ = run("sweep", APTAMI, "--steps", "planner=15..16", "--format", "json")
    assert code == 0 and [h["steps"] for h in json.loads(out)["horizons"]] == [15, 16]


@pytest.mark.parametrize("steps, message", [
    ("planner=3..1", "'planner=3..1' is not AGENT=LO..HI with 1 <= LO <= HI"),
    ("planner", "'planner' is not AGENT=LO..HI"),
    ("nobody=1..3", "'nobody' is not an agent of the spec; its agents are planner"),
    ("planner=1..5000", "at most 1000 horizons at once"),
])
def test_steps_errors_say_what_is_expected(steps: str, message: str) -> None:
    code, _, err = run("sweep", APTAMI, "--steps", steps)
    assert code == 2 and message in err


def test_a_failing_sliver_of_the_box_stays_visible_and_labelled() -> None:
    # issue 16: no_sabotage fails on [-1, -0.98812] of a box 6 wide: 0.2%, under 2 px of the plot
    from verifier.reports.regions_plot import MIN_SHARE, bars
    from verifier.sweep import sweep

    result = sweep(ROOT / "examples" / "household_robot_repaired.corrigo")
    sliver, rest = bars(result, "no_sabotage")
    assert sliver.verdict is Verdict.FAILS and sliver.label == "[-1, -0.98812]"
    assert sliver.left == -1 and sliver.right == pytest.approx(-1 + 6 * MIN_SHARE)  # widened, inside the box
    assert rest.verdict is Verdict.HOLDS and rest.label is None and rest.right == 5
    assert [(b.verdict, b.label) for b in bars(result, "corrigible")] == [(Verdict.FAILS, None), (Verdict.HOLDS, None)]
