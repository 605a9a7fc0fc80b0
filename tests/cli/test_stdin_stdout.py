"""`-` as a spec argument reads standard input; `-o -` writes to standard output (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corrigo_cli import run

from tests.report_schema import REPORT_SCHEMA
from tests.worlds import FINE

TRUNCATED = "model x\nvar a : bool\ncheck c : never a &&\n"


def test_lint_reads_a_spec_from_stdin() -> None:
    assert run("lint", "-", stdin=FINE) == (0, "1 spec(s) checked, no errors\n", "")
    code, _, err = run("lint", "-", stdin=TRUNCATED)
    assert code == 2 and err.startswith("<stdin>:3:21: error: unexpected end of file, expected an expression\n")


def test_verify_and_explain_read_stdin_once_and_name_it() -> None:
    code, out, err = run("verify", "-", stdin=FINE)
    assert code == 0 and out.startswith("<stdin>: model 'fine'\n") and err == ""
    code, out, _ = run("verify", "--format", "json", "-", "-", stdin=FINE)  # named twice: read once
    documents = json.loads(out)
    REPORT_SCHEMA.validate(documents)
    assert code == 0 and [(d["file"], d["verdict"]) for d in documents] == [("<stdin>", "holds")] * 2
    code, out, _ = run("explain", "-", "stops", stdin=FINE)
    assert code == 0 and out.startswith("check stops (<stdin>:")
    code, out, err = run("verify", "--format", "json", "-", stdin=TRUNCATED)
    assert code == 2 and json.loads(out)["error"]["diagnostics"][0]["file"] == "<stdin>"


def test_an_unknown_check_names_stdin() -> None:
    code, _, err = run("explain", "-", "nope", stdin=FINE)
    assert code == 2 and "'<stdin>' has no check 'nope'; its checks are: " in err


def test_export_writes_json_and_dot_to_stdout_and_refuses_prism_there() -> None:
    code, out, err = run("export", "--to", "json", "-o", "-", "-", stdin=FINE)
    assert code == 0 and json.loads(out)["n_states"] > 0 and err.startswith("wrote the model to stdout (")
    code, out, err = run("export", "--to", "dot", "-o", "-", "-", stdin=FINE)
    assert code == 0 and out.startswith("digraph") and "wrote the model to stdout" in err
    code, out, err = run("export", "-o", "-", "-", stdin=FINE)
    assert code == 2 and out == ""
    assert "--to prism writes two files, the model and its .props; name the model's file, or use --to json or " \
           "--to dot for stdout" in " ".join(err.split())


def test_render_writes_to_stdout_with_dash() -> None:
    code, out, err = run("render", "-", "-o", "-", "--to", "dot", stdin=FINE)
    assert code == 0 and out.startswith("digraph")
    code, out, err = run("render", "-", "-o", "-", "--to", "svg", "--engine", "matplotlib", stdin=FINE)
    assert code == 0 and "<svg" in out[:400] and "wrote the picture to stdout (" in err
    code, _, err = run("render", "-", "-o", "-", stdin=FINE)
    assert code == 2 and "say where to draw" in err


def test_nothing_named_dash_is_ever_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run("export", "--to", "json", "-o", "-", "-", stdin=FINE)
    run("render", "-", "-o", "-", "--to", "dot", stdin=FINE)
    run("verify", "-", "-o", "-", stdin=FINE)
    assert list(tmp_path.iterdir()) == []
