"""`corrigo export --to drn|jani`: goldens of a tiny spec, the properties next to the model, no stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dsl
import mdp
from corrigo_cli import run
from mdp.jani import jani_text, to_jani
from mdp.prism import to_prism

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "export"
TINY = str(GOLDEN / "tiny_robot.corrigo")


@pytest.mark.parametrize("target", ["drn", "jani"])
def test_export_matches_the_golden_file(tmp_path: Path, golden, target: str) -> None:
    out = tmp_path / f"tiny_robot.{target}"
    code, stdout, _ = run("export", TINY, "--to", target, "-o", str(out))
    props = tmp_path / "tiny_robot.props"
    assert code == 0 and stdout == f"wrote {out} (4 states) and {props}\n"
    golden(GOLDEN / f"tiny_robot.{target}", out.read_text())
    # the properties are the PRISM export's, the spec's checks among them: the same reward models and labels
    spec = dsl.load(TINY)
    assert props.read_text() == to_prism(mdp.compile(spec), spec)[1]
    assert '"cheap": R{"cost"}min=? [ Cdiscount=9/10 ];' in props.read_text()


def test_export_jani_is_the_document_of_the_api(tmp_path: Path) -> None:
    out = tmp_path / "m.jani"
    run("export", TINY, "--to", "jani", "-o", str(out))
    spec = dsl.load(TINY)
    document, _ = to_jani(mdp.compile(spec), spec)
    assert out.read_text() == jani_text(document) and json.loads(out.read_text()) == document
    assert [v["name"] for v in document["variables"] if not v.get("transient")] == ["room", "asked", "off"]


@pytest.mark.parametrize("target", ["drn", "jani"])
def test_export_refuses_stdout_for_two_files(target: str) -> None:
    code, out, err = run("export", TINY, "--to", target, "-o", "-")
    assert code == 2 and out == ""
    assert f"--to {target} writes two files, the model and its .props; name the model's file, or use --to json " \
           "or --to dot for stdout" in " ".join(err.split())


def test_a_start_distribution_is_a_model_error_of_the_spec(tmp_path: Path) -> None:
    spec = tmp_path / "starts.corrigo"
    spec.write_text(Path(TINY).read_text().replace("var off   : bool = false", "var off   : bool = false\n"
                                                   "init:\n    0.5 -> room' = dock\n    0.5 -> room' = lab"))
    code, out, err = run("export", str(spec), "--to", "drn", "-o", str(tmp_path / "m.drn"))
    assert code == 2 and out == ""
    assert "a DRN model has one initial state (or a set, not a distribution)" in " ".join(err.split())
    assert not (tmp_path / "m.drn").exists()
