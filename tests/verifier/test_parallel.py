"""``verifier.parallel``: POWER, the weight sweep and several specs on a local Dask cluster give exactly the
serial results; and the errors of asking for one without Dask, or of an unreachable scheduler."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dsl
import mdp
from mdp.power import power
from verifier.cli import main
from verifier.parallel import ParallelError, executor
from verifier.sweep import sweep_model

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]

SWITCH = """
model switch
discount 0.5
param w = 1 in [0, 4]
param v = 1 in [0, 2]
var off : bool = false
var x : 0..3 = 0
action comply when !off: off' = true
action stay when !off: skip
action walk when !off && x < 3: x' = x + 1
terminal off
cost pleasure = -w * [stay] - v * [walk]
cost duty = -6/7 * [comply] + 1/10 * x
check stops : P >= 1 [ F off ]
check calm : power_seeking <= 0.2
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Executor]:
    with executor(workers=2) as pool:
        assert pool is not None
        yield pool


def test_power_on_workers_is_bit_identical(cluster: Executor) -> None:
    model = mdp.compile(dsl.load(ROOT / "examples" / "gridworld_robot.corrigo"))
    serial = power(model, samples=60, seed=5, keep_samples=True)
    chunked = power(model, samples=60, seed=5, keep_samples=True, chunk=7)  # another chunking, same numbers
    parallel = power(model, samples=60, seed=5, keep_samples=True, executor=cluster)
    for other in (chunked, parallel):
        assert np.array_equal(other.power, serial.power) and np.array_equal(other.stderr, serial.stderr)
        assert other.sample_values is not None and serial.sample_values is not None
        assert np.array_equal(other.sample_values, serial.sample_values)
        assert other.sweeps == serial.sweeps


def test_a_sweep_on_workers_finds_the_same_cells(cluster: Executor) -> None:
    spec = dsl.load(SWITCH)
    model = mdp.compile(spec)
    serial = sweep_model(spec, model, samples=40)
    parallel = sweep_model(spec, model, samples=40, executor=cluster)
    assert len(serial.regions) > 1 and len(serial.faces()) > 0
    assert parallel.regions == serial.regions  # the same regions, from the same points, in the same order
    assert parallel.cells == serial.cells and parallel.margins == serial.margins
    assert [(c.point, c.verdicts) for c in parallel.cells] == [(c.point, c.verdicts) for c in serial.cells]
    assert [r.summary for c in parallel.cells for r in c.results] == [r.summary for c in serial.cells for r in c.results]
    assert parallel.descriptions == serial.descriptions


def test_verify_several_specs_on_workers_reports_the_same(tmp_path: Path) -> None:
    specs = [str(ROOT / "examples" / name) for name in ("gridworld_robot.corrigo", "off_switch_game.corrigo")]
    bad = tmp_path / "bad.corrigo"
    bad.write_text("model m\nfoo\n")
    runner = CliRunner()
    args = ["verify", "--format", "json", "--samples", "50", *specs, str(bad)]
    serial = runner.invoke(main, args)
    parallel = runner.invoke(main, [*args, "--workers", "2"])
    assert parallel.exit_code == serial.exit_code == 2  # the bad spec is reported, the others verified
    assert json.loads(parallel.stdout) == json.loads(serial.stdout)
    assert [d["verdict"] for d in json.loads(serial.stdout)][2] == "error"  # in the order given
    assert "bad.corrigo:2:1: error: unexpected 'foo'" in parallel.stderr


def test_workers_and_scheduler_exclude_each_other() -> None:
    with pytest.raises(ParallelError, match="either --workers .* or --scheduler"):
        with executor(workers=2, scheduler="tcp://127.0.0.1:1"):
            pass


def test_an_unreachable_scheduler_is_a_clean_error() -> None:
    result = CliRunner().invoke(main, ["power", str(ROOT / "examples" / "gridworld_robot.corrigo"), "--samples",
                                       "10", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 3
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.output


def test_without_dask_the_flags_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_dask(name: str, *args: object, **kwargs: object) -> object:
        if name.split(".")[0] == "distributed":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_dask)
    result = CliRunner().invoke(main, ["power", str(ROOT / "examples" / "gridworld_robot.corrigo"), "--samples",
                                       "10", "--workers", "2"])
    assert result.exit_code == 3
    assert "pip install 'corrigo[dask]'" in result.stderr
