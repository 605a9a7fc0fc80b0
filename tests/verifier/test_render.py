"""verifier.render as a library: which engine draws, and the errors of write_picture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dsl
import mdp
from verifier.render import GraphvizNotFoundError, Picture, RenderError, find_graphviz, picture, write_picture

TINY = Path(__file__).resolve().parent.parent / "golden" / "export" / "tiny_robot.corrigo"


@pytest.fixture(scope="module")
def tiny() -> Picture:
    spec = dsl.load(TINY)
    model = mdp.compile(spec)
    return picture(spec, model, mdp.solve(model))


@pytest.fixture
def no_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shutil.which("dot") is None


@pytest.mark.usefixtures("no_graphviz")
def test_graphviz_asked_for_but_missing_is_a_named_file_not_found_error(tiny: Picture, tmp_path: Path) -> None:
    with pytest.raises(GraphvizNotFoundError) as caught:
        find_graphviz()
    assert isinstance(caught.value, RenderError) and isinstance(caught.value, FileNotFoundError)
    assert str(caught.value) == ("Graphviz's 'dot' program is not on PATH; install Graphviz (apt install graphviz, "
                                 "brew install graphviz, or conda install -c conda-forge graphviz), or use --engine "
                                 "matplotlib")
    with pytest.raises(GraphvizNotFoundError):
        write_picture(tiny, tmp_path / "x.svg", "svg", engine="graphviz")
    assert not (tmp_path / "x.svg").exists()
    assert write_picture(tiny, tmp_path / "x.svg", "svg") == "matplotlib"  # auto falls back


def test_write_picture_rejects_an_unknown_engine_and_a_picture_without_a_file(tiny: Picture, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown engine 'pillow'; expected one of auto, graphviz, matplotlib"):
        write_picture(tiny, tmp_path / "x.png", "png", engine="pillow")
    with pytest.raises(ValueError, match="png needs a file to write to; only DOT text can be returned"):
        write_picture(tiny, None, "png")
    assert write_picture(tiny, None, "dot").startswith('digraph "tiny_robot" {')
