"""Orchestration of a folder scan: plan, resume, run on a local pool or Dask, report."""
from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .. import __version__
from ..names import name_key, source_key
from ..policy import Policy
from ..workers import single_threaded_env, worker_pool
from .manifest import Manifest
from .plan import Task, check_folders, plan
from .reports import write_reports
from .summary import ScanSummary
from .worker import screen_file

ProgressCallback = Callable[[dict[str, Any]], None]


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _clean_partials(out_dir: Path) -> None:
    """Temporary files left by a killed worker are never outputs: remove them."""
    if out_dir.exists():
        for p in out_dir.rglob(".phi_guard-*.part"):
            p.unlink(missing_ok=True)


def scan_folder(
    in_dir: str | Path,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    policy: Policy | None = None,
    report_dir: str | Path | None = None,
    resume: bool = False,
    engine: str = "local",
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
    strict: bool = False,
) -> ScanSummary:
    """Screen every file under ``in_dir`` into a mirror tree under ``out_dir``.

    ``engine`` is ``local`` (a process pool of ``workers``, default: CPU count) or
    ``dask`` (``scheduler`` = ``tcp://host:8786``, or a LocalCluster when None).
    ``progress`` receives a dict after each file (done, total, rate, eta_s, rel, verdict).
    ``strict``: files that are not screened (not images, special files, links out of
    the folder) make the exit code 2, like failed images.
    """
    t0 = time.perf_counter()
    src, dst = check_folders(Path(in_dir), Path(out_dir))
    dst.mkdir(parents=True, exist_ok=True)
    _clean_partials(dst)
    reports = Path(report_dir).resolve() if report_dir else dst
    policy = policy or Policy.default()
    table = policy.table or Policy.default().table
    manifest = Manifest(dst)
    if not resume:
        manifest.reset()
    tasks, not_screened = plan(src)
    summary = ScanSummary(total=len(tasks), report_dir=str(reports), strict=strict)
    todo: list[Task] = []
    records: list[dict[str, Any]] = _skipped_rows(not_screened, policy)
    key = name_key(policy)
    for task in tasks:
        done_key = source_key(key, task.rel)
        if resume and done_key in manifest.entries and manifest.is_done(done_key, task.size, _sha256(task.src),
                                                                        policy.digest, __version__):
            summary.skipped_resume += 1
            records.append(manifest.entries[done_key])
            continue
        todo.append(task)

    started = time.perf_counter()

    def on_result(rec: dict[str, Any]) -> None:
        rec.update(policy_digest=policy.digest, tool_version=__version__)
        manifest.record(rec)  # with its report, so a resumed scan's reports are complete
        records.append(rec)
        summary.done += 1
        verdict = rec.get("verdict", "ERROR")
        if progress:
            elapsed = time.perf_counter() - started
            rate = summary.done / elapsed if elapsed > 0 else 0.0
            remaining = len(todo) - summary.done
            progress({"done": summary.done + summary.skipped_resume, "total": summary.total, "rate": rate,
                      "eta_s": remaining / rate if rate else None, "rel": rec["rel"], "verdict": verdict})

    try:
        if engine == "dask":
            from .dask_engine import run_dask

            run_dask(todo, str(dst), table, scheduler, workers, on_result)
        else:
            _run_local(todo, str(dst), table, workers, on_result)
    except KeyboardInterrupt:
        summary.interrupted = True
    except _WorkerDied as exc:
        summary.interrupted = True
        summary.errors.append({"path": "-", "error": str(exc)})
    summary.counts = {}
    summary.errors = [e for e in summary.errors if e["path"] == "-"]
    for rec in records:  # files screened now and files done in an earlier run
        verdict = rec.get("verdict", "ERROR")
        summary.counts[verdict] = summary.counts.get(verdict, 0) + 1
        if verdict == "ERROR":
            summary.errors.append({"path": rec["rel"], "error": rec.get("error", "")})
        if verdict == "SKIPPED":
            summary.skipped.append(f"{rec['rel']}: {rec.get('reason', '')}")
    summary.seconds = time.perf_counter() - t0
    write_reports(reports, dst, records, summary)
    if policy.include_phi_in_report:
        write_name_map(reports, records)
    return summary


def _skipped_rows(not_screened: list[tuple[str, str]], policy: Policy) -> list[dict[str, Any]]:
    """Rows for the entries the plan did not screen, their names screened like any other."""
    if not not_screened:
        return []
    from ..names import NameScreen
    from ..pipeline import load_detector

    # Presidio is loaded only for a name that is not plainly generic (notes.txt, meta.json).
    names = NameScreen(policy, functools.partial(load_detector, policy))
    rows = []
    for rel, why in not_screened:
        shown = names.rel(rel)
        row = {"rel": shown, "verdict": "SKIPPED", "reason": why}
        if policy.include_phi_in_report and shown != rel:
            row["original"] = rel
        rows.append(row)
    return rows


def write_name_map(report_dir: Path, records: list[dict[str, Any]]) -> None:
    """Only with --include-phi: shown name -> real path, readable by the owner only."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["shown_path", "original_path"])
    for r in sorted(records, key=lambda r: r["rel"]):
        if r.get("original"):
            w.writerow([r["rel"], r["original"]])
    path = report_dir / "name_map.csv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
    os.chmod(path, 0o600)


class _WorkerDied(RuntimeError):
    pass


def _run_local(todo: list[Task], out_dir: str, table: dict[str, Any], workers: int | None,
               on_result: Callable[[dict[str, Any]], None]) -> None:
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    if not todo:
        return
    n = max(1, workers or os.cpu_count() or 1)
    if n == 1:
        single_threaded_env()
        for task in todo:
            on_result(screen_file(task.src, task.rel, out_dir, table))
        return
    pool = worker_pool(n)
    futures = {pool.submit(screen_file, t.src, t.rel, out_dir, table): t for t in todo}
    try:
        for fut in cf.as_completed(futures):
            try:
                on_result(fut.result())
            except BrokenProcessPool:
                raise _WorkerDied("a worker process died; finished files are recorded, rerun with --resume") from None
    except BaseException:
        _end_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """A stopped scan stops now, not after the files already handed to workers (without
    this, Ctrl-C printed the summary and then waited for every queued file). A worker
    ended mid-file leaves at most a ``.part`` file, which the next scan removes: outputs
    are only ever renamed into place when complete. (``_processes`` is CPython's
    private map of worker processes; Python 3.14 adds ``terminate_workers()``.)"""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:  # pragma: no cover - Python 3.14+
        terminate()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
