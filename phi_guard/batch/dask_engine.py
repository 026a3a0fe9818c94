"""Run the per-file task on a Dask distributed cluster (optional extra: phi-guard[dask]).

Workers import phi_guard and build their engines once (a module-level Screener in
each worker process). Start a cluster with ``dask scheduler`` on one host and
``dask worker tcp://HOST:8786 --nworkers N --nthreads 1`` on each machine; the input
and output folders must be reachable at the same paths from every worker."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from .plan import Task
from .worker import screen_file


def _screen_file_single_threaded(src: str, rel: str, out_dir: str, table: dict[str, Any]) -> dict[str, Any]:
    from ..workers import single_threaded_env

    single_threaded_env()
    return screen_file(src, rel, out_dir, table)


def run_dask(todo: list[Task], out_dir: str, table: dict[str, Any], scheduler: str | None, workers: int | None,
             on_result: Callable[[dict[str, Any]], None]) -> None:
    """Screen ``todo`` on a Dask cluster (``scheduler``, or a local one of ``workers``),
    calling ``on_result`` with each file's record. Raises UsageError without the dask extra."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("the Dask engine needs the optional extra: pip install 'phi-guard[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        # pure=False: a rerun must really run (the manifest decides what is skipped).
        futures = [client.submit(_screen_file_single_threaded, t.src, t.rel, out_dir, table, pure=False, key=f"phi_guard-{i}-{t.rel}")
                   for i, t in enumerate(todo)]
        for fut in as_completed(futures):
            on_result(fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
