"""Batch folder scan: a whole export, in parallel, resumable, with summary reports.

    from phi_guard import scan_folder
    summary = scan_folder("export/", "safe/", workers=2, progress=print)

Each file is screened by a worker process that builds its engines once. The
per-file work is a pure function of (input bytes, policy), so the same task runs
on a local process pool or on a Dask distributed cluster.
"""
from .scan import scan_folder
from .summary import ScanSummary

__all__ = ["ScanSummary", "scan_folder"]
