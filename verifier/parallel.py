"""Where independent work runs: in this process (the default), on a local Dask cluster (``--workers N``), or
on a running Dask scheduler (``--scheduler tcp://host:8786``).

The work that parallelises is embarrassingly parallel and already cut into pieces whose results do not
depend on how they are grouped: POWER's chunks of reward samples (:func:`mdp.power.power`), the cells of a
weight sweep (:mod:`verifier.sweep`) and the specs of one ``corrigo verify`` run. Each takes a
:class:`concurrent.futures.Executor` (``None``: run here); this module makes one from Dask's
``Client.get_executor()``, so ``mdp`` never imports Dask, and the results are bit-identical to a serial
run with the same seed. Dask is optional: ``pip install 'corrigo[dask]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, cast

import numpy as np

from dsl.errors import CorrigoError, ResourceLimitError
from dsl.spec import Spec
from mdp.model import TabularMDP
from mdp.parametric import ParametricModel

__all__ = ["ParallelError", "executor"]

_CONNECT_TIMEOUT = "10s"
_INLINE_BYTES = 2**20  # larger arrays travel by scatter


class ParallelError(CorrigoError):
    """Dask is missing, or the scheduler cannot be reached."""


@contextmanager
def executor(workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor | None]:
    """An executor for the duration of the ``with`` block: ``None`` (run in this process) unless ``workers``
    (start a local cluster of that many single-threaded worker processes, closed at the end) or
    ``scheduler`` (the address of a running Dask scheduler, whose workers must have corrigo installed)."""
    if workers is None and scheduler is None:
        yield None
        return
    if workers is not None and scheduler is not None:
        raise ParallelError("give either --workers (a local cluster) or --scheduler (a running one), not both")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParallelError("--workers and --scheduler run on Dask, which is not installed: "
                            "pip install 'corrigo[dask]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise ResourceLimitError(f"cannot reach the Dask scheduler at {scheduler} ({error}); start one with "
                                     "'dask scheduler' and workers with 'dask worker ADDRESS'") from None
        with client:
            yield _DaskExecutor(client)
        return
    import dask

    # Dask's workers set MALLOC_TRIM_THRESHOLD_, which also turns off glibc's adaptive mmap threshold: every
    # large array of a sweep is then mapped and faulted in afresh, and a POWER chunk ran 40% slower there
    environment = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environment}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield _DaskExecutor(client)


class _DaskExecutor(Executor):
    """A Dask client as an :class:`~concurrent.futures.Executor` that sends each model and spec (and a sweep's
    parametric model) to the workers once (``scatter``), however many tasks take it: POWER's chunks all need
    the model, which would otherwise travel with every task (16 MB each for a 4e4-state grid). Large arrays
    (a chunk of reward samples) are scattered too, each to one worker."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._sent: dict[int, tuple[object, Any]] = {}  # id -> (the object, kept alive; its future on the workers)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        args = tuple(self._once(a) for a in args)
        kwargs = {k: self._once(v) for k, v in kwargs.items()}
        return cast("Future[Any]", self._client.submit(fn, *args, pure=False, **kwargs))

    def _once(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.nbytes > _INLINE_BYTES:  # a chunk of rewards: sent on its own,
            return self._client.scatter(value, hash=False)  # not in the task graph (which Dask warns about)
        if not isinstance(value, (TabularMDP, Spec, ParametricModel)):
            return value
        sent = self._sent.get(id(value))
        if sent is None:
            sent = self._sent[id(value)] = (value, self._client.scatter(value, broadcast=True, hash=False))
        return sent[1]
