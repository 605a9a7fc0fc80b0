"""mdp.dot: which states, choices and probabilities a picture shows, and DOT text that Graphviz reads."""

from __future__ import annotations

import numpy as np
import pytest

from mdp.dot import MORE, _quote, legend, model_graph, to_dot, varying_variables
from mdp.model import from_arrays

# state 0 chooses between 'safe' (to 1) and 'risky' (to 1 or 2, 0.3/0.7); 1 and 2 are terminal
FORK = from_arrays(
    [[[0, 1, 0], [0, 1, 0], [0, 0, 1]], [[0, 0.3, 0.7], [0, 1, 0], [0, 0, 1]]],
    [[1, 0, 0], [0, 0, 0]], discount=0.9, action_names=["safe", "risky"], terminal=[False, True, True],
)


def test_single_outcomes_are_labelled_edges_and_several_go_through_a_choice_node() -> None:
    graph = model_graph(FORK)
    assert sorted(graph.edges(data="label")) == [("r1", "s1", "0.3"), ("r1", "s2", "0.7"), ("s0", "r1", ""),
                                                  ("s0", "s1", "safe")]
    assert graph.nodes["r1"]["label"] == "risky" and graph.nodes["r1"]["kind"] == "choice"
    assert graph.nodes["s0"]["initial"] and not graph.nodes["s0"]["terminal"]
    assert graph.nodes["s2"]["terminal"] and graph.graph["n_hidden"] == 0 and MORE not in graph


def test_optimal_and_path_marks_follow_the_rows() -> None:
    optimal = np.array([False, True, True, True])  # rows: s0 safe, s0 risky, s1 loop, s2 loop
    graph = model_graph(FORK, optimal=optimal, path=[(0, 1, 2)])
    marks = {(u, v): (d["optimal"], d["path"]) for u, v, d in graph.edges(data=True)}
    assert marks == {("s0", "s1"): (False, False), ("s0", "r1"): (True, True), ("r1", "s1"): (True, False),
                     ("r1", "s2"): (True, True)}
    assert graph.nodes["s2"]["path"] and not graph.nodes["s1"]["path"]


def test_rows_restrict_the_choices_drawn() -> None:
    graph = model_graph(FORK, rows=np.array([True, False, True, True]))
    assert sorted(graph.edges(data="label")) == [("s0", "s1", "safe")]


def test_states_left_out_become_one_more_node_with_their_total_probability() -> None:
    graph = model_graph(FORK, [0, 1])
    assert graph.graph["n_hidden"] == 1
    assert graph.nodes[MORE]["label"] == "1 more states"
    assert sorted(graph.edges(data="label")) == [("r1", "more", "0.7"), ("r1", "s1", "0.3"), ("s0", "r1", ""),
                                                  ("s0", "s1", "safe")]
    assert "dashed: to the 1 states not shown" in legend(graph)


def test_labels_show_only_the_variables_that_vary() -> None:
    import dsl
    import mdp

    model = mdp.compile(dsl.load("model m\ndiscount 0.5\nvar x : 0..2 = 0\nvar y : bool = true\n"
                                 "action a when x < 2: x' = x + 1\nterminal x == 2\n"))
    assert varying_variables(model, range(model.n_states)) == [0]
    assert varying_variables(model, [0]) == [0, 1]  # nothing varies: show everything
    assert model_graph(model).nodes["s1"]["label"] == "x=1"


@pytest.mark.parametrize(("text", "quoted"), [
    ('say "hi"', r'"say \"hi\""'),
    ("a\\b", r'"a\\b"'),
    ("two\nlines", r'"two\nlines"'),
    ("move(to)=lab, ok", '"move(to)=lab, ok"'),
])
def test_quote_escapes_quotes_backslashes_and_line_breaks(text: str, quoted: str) -> None:
    assert _quote(text) == quoted


def test_dot_text_parses_in_graphviz_when_installed() -> None:
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz's dot program is not installed")
    text = to_dot(model_graph(FORK, optimal=np.array([False, True, True, True]), path=[(0, 1, 2)]), 'a "quoted" name',
                  title='title with "quotes" and \\ backslash')
    result = subprocess.run([dot, "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert b"<svg" in result.stdout and b"risky" in result.stdout
