"""`corrigo render` and `corrigo export --to dot|json`: goldens of a tiny spec, both drawing engines, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from corrigo_cli import run

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "export"
EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
TINY = str(GOLDEN / "tiny_robot.corrigo")
PNG = b"\x89PNG\r\n\x1a\n"
needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


@pytest.mark.parametrize("target", ["dot", "json"])
def test_export_matches_the_golden_file(tmp_path: Path, golden, target: str) -> None:
    out = tmp_path / f"tiny_robot.{target}"
    code, stdout, _ = run("export", TINY, "--to", target, "-o", str(out))
    assert code == 0 and stdout == f"wrote {out} (4 states)\n"
    golden(GOLDEN / f"tiny_robot.{target}", out.read_text())


def test_export_json_is_the_model_by_hand(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    run("export", TINY, "--to", "json", "-o", str(out))
    document = json.loads(out.read_text())
    values = [state["values"] for state in document["states"]]
    assert values == [{"room": "dock", "asked": False, "off": False}, {"room": "lab", "asked": True, "off": False},
                      {"room": "lab", "asked": False, "off": False}, {"room": "lab", "asked": True, "off": True}]
    go, = document["states"][0]["choices"]
    assert go["costs"] == {"fun": 0.0, "effort": 0.5}
    assert go["transitions"] == [{"to": 1, "probability": 0.5}, {"to": 2, "probability": 0.5}]
    assert [c["action"] for c in document["states"][1]["choices"]] == ["work", "comply"]
    assert document["states"][3] | {"values": None} == {"index": 3, "values": None, "terminal": True, "labels": [],
                                                         "choices": []}


def test_render_dot_draws_the_counterexample_in_red(golden) -> None:
    code, out, err = run("render", TINY, "--to", "dot", "--check", "stops")
    assert code == 0 and err == ""
    golden(GOLDEN / "tiny_robot_stops.dot", out)
    red = '"#d62728"'
    assert f'"s0" -> "r0" [label="", color={red}' in out  # go, then the human asks (0.5)
    assert f'"r0" -> "s1" [label="0.5", color={red}' in out
    assert f'"s1" -> "s1" [label="work", color={red}' in out  # the violation: asked, it keeps working
    assert '"s2" -> "r3" [label="", color="#1f4e9c"' in out  # optimal, off the path
    assert '"s1" -> "s3" [label="comply", color="#9a9a9a"' in out  # not optimal


def test_render_a_holding_check_says_so_and_draws_no_path() -> None:
    code, out, err = run("render", TINY, "--to", "dot", "--check", "cheap")
    assert code == 0 and "note: check 'cheap' holds: no counterexample to draw" in err
    assert "#d62728" not in out and "check 'cheap' holds" in out


def test_render_optimal_keeps_only_what_optimal_policies_do() -> None:
    code, out, _ = run("render", TINY, "--to", "dot", "--optimal")
    assert code == 0 and "3 states" in out
    assert "comply" not in out and '"s3"' not in out


def test_max_nodes_cuts_breadth_first_and_says_how_to_shrink(tmp_path: Path) -> None:
    code, out, err = run("render", TINY, "--to", "dot", "--max-nodes", "2")
    assert code == 0
    assert ("note: 4 states are more than --max-nodes 2: showing the 2 nearest to the initial state; shrink the "
            "model with --optimal or -D, or raise --max-nodes") in err
    assert '"more" [label="2 more states"' in out and '"s0"' in out and '"s1"' in out and '"s3"' not in out


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_matplotlib_draws_png_and_svg(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"robot.{suffix}"
    code, stdout, _ = run("render", TINY, "-o", str(out), "--check", "stops", "--engine", "matplotlib")
    assert code == 0 and stdout == f"wrote {out} (4 states, matplotlib)\n"
    data = out.read_bytes()
    assert data.startswith(PNG) if suffix == "png" else b"<svg" in data and b"room=lab" in data


def without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of one empty directory (returned): no 'dot' on it, whatever this machine has installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("dot") is None
    return bin_dir


def test_auto_uses_matplotlib_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_graphviz(tmp_path, monkeypatch)
    out = tmp_path / "robot.png"
    code, stdout, _ = run("render", TINY, "-o", str(out))
    assert code == 0 and stdout == f"wrote {out} (4 states, matplotlib)\n" and out.read_bytes().startswith(PNG)


def test_engine_graphviz_without_graphviz_is_a_usage_error_saying_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_graphviz(tmp_path, monkeypatch)
    out = tmp_path / "robot.svg"
    code, stdout, err = run("render", TINY, "-o", str(out), "--engine", "graphviz")
    assert (code, stdout) == (2, "")
    assert ("Error: Invalid value for --engine: Graphviz's 'dot' program is not on PATH; install Graphviz (apt "
            "install graphviz, brew install graphviz, or conda install -c conda-forge graphviz), or use --engine "
            "matplotlib") in err
    assert re.search(r"Try '\S+ render (--help|-h)' for help\.", err)  # click up to 8.3 names -h, the first of the two
    assert "internal error" not in err and "Traceback" not in err and not out.exists()


def test_engine_graphviz_is_not_needed_for_dot_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_graphviz(tmp_path, monkeypatch)
    code, out, _ = run("render", TINY, "--to", "dot", "--engine", "graphviz")
    assert code == 0 and out.startswith('digraph "tiny_robot" {')


def test_a_dot_on_path_that_cannot_run_says_to_reinstall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = without_graphviz(tmp_path, monkeypatch) / "dot"
    program.write_bytes(b"\x00\x01 not a program")  # executable, but the system cannot start it
    program.chmod(0o755)
    code, _, err = run("render", TINY, "-o", str(tmp_path / "robot.svg"))
    assert code == 3 and "internal error" not in err and "Traceback" not in err
    assert (f"error: cannot run Graphviz's 'dot' program ({program}): Exec format error; reinstall Graphviz (apt "
            "install graphviz, brew install graphviz, or conda install -c conda-forge graphviz), or use --engine "
            "matplotlib") in err


@needs_graphviz
@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_graphviz_draws_png_and_svg(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"robot.{suffix}"
    code, stdout, _ = run("render", TINY, "-o", str(out), "--check", "stops")
    assert code == 0 and stdout == f"wrote {out} (4 states, graphviz)\n"
    data = out.read_bytes()
    assert data.startswith(PNG) if suffix == "png" else b"<svg" in data and b"room=lab" in data


def test_graphviz_failure_and_timeout_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")

    def slow(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired("dot", 60)

    monkeypatch.setattr(subprocess, "run", slow)
    code, _, err = run("render", TINY, "-o", str(tmp_path / "x.png"))
    assert code == 3 and "Graphviz took longer than 60 s to lay out 4 states" in err and "--max-nodes" in err

    def broken(*args: object, **kwargs: object) -> None:
        raise subprocess.CalledProcessError(1, "dot", stderr=b"Error: syntax error in line 1")

    monkeypatch.setattr(subprocess, "run", broken)
    code, _, err = run("render", TINY, "-o", str(tmp_path / "x.png"))
    assert code == 3 and "Graphviz failed (exit 1): Error: syntax error in line 1" in err


@pytest.mark.parametrize(("args", "message"), [
    ([], "say where to draw: -o OUT.svg|png|dot, or --to dot (or -o - --to svg|png) for stdout"),
    (["-o", "robot.pdf"], "cannot tell the format from 'robot.pdf'; use a suffix .svg, .png or .dot, or --to"),
    (["--to", "png"], "--to png needs a file: -o OUT.png"),
    (["--to", "dot", "--check", "nope"], "has no check 'nope'; its checks are: stops, cheap"),
    (["--to", "dot", "--max-nodes", "0"], "--max-nodes"),
])
def test_usage_errors_say_what_was_expected(args: list[str], message: str) -> None:
    code, _, err = run("render", TINY, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_spec_error_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.corrigo"
    bad.write_text("model m\ndiscount 0.5\nvar x : bool\naction a when y: skip\n")
    code, _, err = run("render", str(bad), "--to", "dot")
    assert code == 2 and "bad.corrigo:4:15: error: unknown name 'y'" in err


def test_graphviz_lays_out_large_pictures_with_sfdp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.render

    calls: list[list[str]] = []
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(args))
    run("render", TINY, "-o", str(tmp_path / "small.png"))
    monkeypatch.setattr(verifier.render, "DOT_EDGES", 7)  # the tiny robot's picture has 8 edges
    code, out, _ = run("render", TINY, "-o", str(tmp_path / "large.png"))
    assert [args[1] for args in calls] == ["-Kdot", "-Ksfdp"]
    assert "-Goverlap=prism" not in calls[0] and calls[1][2:4] == ["-Goverlap=prism", "-Goutputorder=edgesfirst"]
    assert code == 0 and "graphviz sfdp" in out


@needs_graphviz
def test_sfdp_with_its_options_does_not_overlap_boxes_on_128_states(tmp_path: Path) -> None:
    from verifier.render import SFDP_OPTIONS

    code, text, _ = run("render", str(EXAMPLES / "gridworld_robot.corrigo"), "--to", "dot")
    assert code == 0 and "128 states" in text
    dot = shutil.which("dot")
    assert dot is not None
    plain = subprocess.run([dot, "-Ksfdp", *SFDP_OPTIONS, "-Tplain"], input=text, capture_output=True, text=True,
                           check=True).stdout
    boxes = []
    for line in plain.splitlines():
        if line.startswith("node "):
            x, y, width, height = map(float, line.split()[2:6])
            boxes.append((x - width / 2, y - height / 2, x + width / 2, y + height / 2))
    assert len(boxes) == 215  # 128 states and 87 choices with several outcomes
    overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                   if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
    assert overlapping == []
